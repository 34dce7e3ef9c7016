"""The data-flow diagram: the ops of the traced forward pass below a root, as steps and edges.

Three steps, each from plain data to plain data: `trace_flow` reads the trace into a
`FlowGraph`, `fold.fold_repeats` folds repeated blocks, `draw_flow` lays the graph out as a
`Diagram` (clusters for containers, boxes for steps) for `dot.write_dot`. `flow_graph` picks
the depth at which the graph stays small enough to read.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from modeldoc.diagrams.dot import Href, write_dot
from modeldoc.diagrams.fold import Shapes, fold_repeats
from modeldoc.diagrams.labels import call_text, collapsed_line, op_text, shape_text, type_line
from modeldoc.diagrams.model import (
    CLASSES,
    Box,
    Cluster,
    Diagram,
    Edge,
    FlowCluster,
    FlowEdge,
    FlowGraph,
    FlowItem,
    FlowStep,
    Rank,
    Statement,
    parent,
    relative,
    within,
)
from modeldoc.pages.layout import anchor
from modeldoc.spec import LayerSpec, ModelSpec, OpSpec, TraceSpec

MAX_FLOW_NODES = 90
"""A data-flow diagram with more nodes is drawn again one level shallower."""
_PASS_THROUGH = frozenset({"contiguous", "clone", "detach", "to", "type_as", "float", "requires_grad_"})
"""Ops that only copy or re-type a tensor; the flow diagram draws straight through them."""
_DRAWN = frozenset({"layer", "block", "op"})
"""Kinds of step that stand for work done inside the diagram's root."""


def flow_dot(spec: ModelSpec, root: str, depth: int, href: Href, *, id_prefix: str = "") -> str:
    """The data flow of the traced forward pass below `root`, or ``""`` without a trace.

    Leaf modules at most `depth` levels below `root` are boxes (one per call), functional
    ops are small ellipses, containers above that depth are clusters, and a deeper
    submodule collapses into one box that links to its section. Runs of identical chained
    blocks fold into first, ``… N more``, last; a diagram that still has more than
    MAX_FLOW_NODES boxes is drawn a level shallower. A partial trace is drawn up to the
    failure, which is marked.
    """
    spec.layer(root)  # an unknown root is a caller's bug: KeyError
    graph = flow_graph(spec, root, depth)
    return write_dot(draw_flow(graph), href, id_prefix=id_prefix) if graph is not None else ""


def flow_blocks(spec: ModelSpec, root: str, depth: int) -> tuple[str, ...]:
    """Paths of the submodules `flow_dot` draws collapsed (or folded) for these arguments.

    A page can give each of them a diagram of its own, in its section, so that every part
    of the forward pass is drawn somewhere.
    """
    graph = flow_graph(spec, root, depth)
    return graph.blocks if graph is not None else ()


def flow_graph(spec: ModelSpec, root: str, depth: int) -> FlowGraph | None:
    """The folded flow graph at `depth`, or shallower until it has at most MAX_FLOW_NODES boxes.

    None when the spec has no trace, or an empty one.
    """
    trace = spec.trace
    if trace is None or not trace.ops:
        return None
    level = max(depth, 1)
    graph = fold_repeats(trace_flow(spec, trace, root, level))
    while len(graph.steps) > MAX_FLOW_NODES and level > 1:
        level -= 1
        graph = fold_repeats(trace_flow(spec, trace, root, level))
    return graph


def trace_flow(spec: ModelSpec, trace: TraceSpec, root: str, depth: int) -> FlowGraph:
    """The steps of `trace` below `root`, `depth` levels deep, and the tensors between them (unfolded)."""
    return _FlowReader(spec, trace, root, depth).read()


# --- reading the trace ----------------------------------------------------------------


class _FlowReader:
    """Reads the ops of one trace, in order, into the steps and edges of a `FlowGraph`.

    The working state (what produced each tensor, the steps so far) lives only while `read` runs.
    """

    def __init__(self, spec: ModelSpec, trace: TraceSpec, root: str, depth: int) -> None:
        self.spec = spec
        self.trace = trace
        self.root = root
        self.depth = depth
        self.layers = {layer.path: layer for layer in spec.all_layers}
        self.shapes = Shapes(self.layers)
        self.tensors = {t.id: t for t in trace.tensors}
        self.input_names = {i.name for i in spec.inputs}
        self.steps: dict[str, FlowStep] = {}
        self.edges: dict[tuple[str, str, str], FlowEdge] = {}
        self.calls: dict[str, int] = {}
        self.io: dict[str, FlowStep] = {}

    def read(self) -> FlowGraph:
        """The graph of the whole trace."""
        # Tensor id to what produced it as of the op being read: a step key, or the op
        # itself when it is a model input or lies outside root (its box is made on first use).
        producer: dict[int, str | OpSpec] = {}
        alias: dict[int, int] = {}
        consumed: set[int] = set()
        block: tuple[str, FlowStep] | None = None
        last: tuple[OpSpec, FlowStep] | None = None
        for op in self.trace.ops:
            inputs = [alias.get(t, t) for t in op.inputs]
            consumed.update(inputs)
            if op.kind == "input":
                producer.update((t, op) for t in op.outputs)
                block = None
                continue
            if op.kind == "output":
                for t in inputs:
                    source = producer.get(t)
                    if isinstance(source, OpSpec) and source.kind != "input":
                        continue  # made outside root: not this diagram's output
                    self._edge_from(t, producer, partial(self._io, "output", op.name or "output", op.index))
                block = None
                continue
            owner = op.name if op.kind == "module" else op.scope
            if not within(owner, self.root):
                block = None
                for t in inputs:
                    source = producer.get(t)
                    if isinstance(source, str) and self.steps[source].kind in _DRAWN:
                        self._edge_from(t, producer, partial(self._outside, op, "to"))
                producer.update((t, op) for t in op.outputs)
                continue
            if self._passes_through(op):
                alias[op.outputs[0]] = inputs[0]
                continue
            step, block = self._step_for(op, owner, block)
            last = (op, step)
            for t in inputs:
                self._edge_from(t, producer, partial(self._known, step.key))
            producer.update((t, step.key) for t in op.outputs)
        if not self.trace.complete:
            self._failure(last, producer, consumed)
        return self._graph()

    def _graph(self) -> FlowGraph:
        steps = tuple(
            replace(s, calls=self.calls[s.path]) if s.kind in ("layer", "block") else s for s in self.steps.values()
        )
        clusters: dict[str, FlowCluster] = {}
        for step in steps:
            c = step.cluster
            while c is not None and c not in clusters:
                layer = self.layers.get(c)
                clusters[c] = FlowCluster(
                    path=c,
                    parent=self._cluster_of(parent(c)),
                    layer_type=layer.type_name if layer else None,
                    layer_repr=layer.repr if layer else None,
                    signature=self.shapes.signature(c) if layer else c,
                )
                c = clusters[c].parent
        return FlowGraph(
            model_name=self.spec.name,
            root=self.root,
            depth=self.depth,
            steps=steps,
            edges=tuple(self.edges.values()),
            clusters=tuple(clusters.values()),
        )

    def _level(self, path: str) -> int:
        rel = relative(path, self.root) if path != self.root else ""
        return rel.count(".") + 1 if rel else 0

    def _ancestor(self, path: str, level: int) -> str:
        """The ancestor of `path` (below root) `level` levels under root."""
        rel = relative(path, self.root).split(".")[:level]
        return ".".join([self.root, *rel]) if self.root else ".".join(rel)

    def _name(self, path: str) -> str:
        """How a box names a layer: its attribute path from the diagram's root."""
        return (relative(path, self.root) if path != self.root else path) or self.spec.name

    def _cluster_of(self, container: str) -> str | None:
        return None if container == self.root or not within(container, self.root) else container

    def _type_of(self, path: str) -> str | None:
        layer = self.layers.get(path)
        return layer.type_name if layer else None

    def _new(self, kind: Any, path: str, cluster: str | None, order: int, **more: Any) -> FlowStep:
        key = f"n{len(self.steps)}"
        step = FlowStep(
            key=key, kind=kind, path=path, layer_type=self._type_of(path), cluster=cluster, order=order, **more
        )
        self.steps[key] = step
        return step

    def _known(self, key: str) -> FlowStep:
        return self.steps[key]

    def _step_for(
        self, op: OpSpec, owner: str, block: tuple[str, FlowStep] | None
    ) -> tuple[FlowStep, tuple[str, FlowStep] | None]:
        level = self._level(owner)
        if op.kind == "module" and level <= self.depth:
            return self._layer_step(op, owner), None
        if op.kind == "function" and level < self.depth:
            step = self._new(
                "op",
                owner,
                self._cluster_of(owner),
                op.index,
                title=op.name,
                small=(op_text(op, [self.tensors[t] for t in op.inputs if t in self.tensors]),),
                tooltip=f"{call_text(op)} in {owner or self.spec.name}",
                signature=("op", op.name, op.args),
            )
            return step, None
        top = self._ancestor(owner, self.depth)
        if block is not None and block[0] == top:
            return block[1], block
        step = self._layer_step(op, top, kind="block")
        return step, (top, step)

    def _layer_step(self, op: OpSpec, path: str, kind: str = "layer") -> FlowStep:
        self.calls[path] = self.calls.get(path, 0) + 1
        layer: LayerSpec | None = self.layers.get(path)
        type_name = layer.type_name if layer else op.target.rsplit(".", 1)[-1]
        if layer is None:
            small = type_name
        elif kind == "block":
            small = collapsed_line(layer, self.layers, self.shapes.inside(path))
        else:
            small = type_line(layer)
        return self._new(
            kind,
            path,
            self._cluster_of(parent(path)) if path != self.root else None,
            op.index,
            title=self._name(path),
            small=(small,),
            tooltip=f"{path or self.spec.name}: {layer.repr if layer else op.target}",
            link=path if layer else None,
            call=self.calls[path],
            signature=(kind, self.shapes.signature(path) if layer else type_name),
        )

    def _io(self, kind: str, name: str, order: int) -> FlowStep:
        key = f"{kind}:{name}"
        if key not in self.io:
            what = "model input" if kind == "input" else "model output"
            tip = what if name in ("input", "output") else f"{what} {name}"
            self.io[key] = self._new(kind, "", None, order, title=name, small=(what,), tooltip=tip)
        return self.io[key]

    def _outside(self, op: OpSpec, direction: str) -> FlowStep:
        """The box standing for an op outside the diagram's root: ``from embed``, ``to lm_head``."""
        owner = op.name if op.kind == "module" else op.scope
        parts = owner.split(".") if owner else []
        name, link = f"{op.name} in {owner or self.spec.name}", None
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if not within(self.root, prefix):
                name, link = prefix, prefix if prefix in self.layers else None
                break
        key = f"{direction}:{name}"
        if key not in self.io:
            self.io[key] = self._new(
                "input" if direction == "from" else "output",
                "",
                None,
                op.index,
                title=f"{direction} {name}",
                small=(f"outside {self.root}",),
                tooltip=f"data {direction} {name}, outside {self.root}",
                link=link,
            )
        return self.io[key]

    def _passes_through(self, op: OpSpec) -> bool:
        if op.kind != "function" or op.name not in _PASS_THROUGH or len(op.inputs) != 1 or len(op.outputs) != 1:
            return False
        a, b = self.tensors.get(op.inputs[0]), self.tensors.get(op.outputs[0])
        return a is not None and b is not None and a.shape == b.shape

    def _edge_from(self, tensor: int, producer: dict[int, str | OpSpec], head: Callable[[], FlowStep]) -> None:
        """An edge for `tensor` into the step `head` makes, from the step that produced it."""
        source = producer.get(tensor)
        info = self.tensors.get(tensor)
        if source is None and info is not None and info.producer is None and info.name in self.input_names:
            source = self._io("input", info.name, -1).key  # a model input the trace recorded without an op
        if source is None:
            return  # a parameter or a constant
        if isinstance(source, OpSpec):
            made = self._io("input", source.name or "input", source.index) if source.kind == "input" else None
            source = (made or self._outside(source, "from")).key
            producer[tensor] = source
        target = head().key
        if source != target:
            self._add_edge(source, target, shape_text(info) if info else "", tensor)

    def _add_edge(self, tail: str, head: str, label: str, tensor: int) -> None:
        """One edge per pair of steps and size; it counts the distinct tensors it stands for."""
        found = self.edges.get((tail, head, label))
        tensors = frozenset({tensor}) if found is None else found.tensors | {tensor}
        self.edges[tail, head, label] = FlowEdge(tail=tail, head=head, label=label, tensors=tensors)

    def _failure(
        self, last: tuple[OpSpec, FlowStep] | None, producer: dict[int, str | OpSpec], consumed: set[int]
    ) -> None:
        """Mark where a partial trace stopped: the call that failed, or a box after the last op."""
        failed_in = self.trace.failed_in
        error = self.trace.error or "the forward pass stopped here"
        in_region = failed_in in self.layers and within(failed_in, self.root)
        if last is None and not in_region:
            return
        if last is not None and not last[0].outputs and failed_in in ("", last[0].name, last[1].path):
            step = self.steps[last[1].key]
            tooltip = f"{step.tooltip}; the forward pass failed here: {error}"
            self.steps[step.key] = replace(step, failed=True, tooltip=tooltip)
            return
        where = failed_in or (last[0].name if last else "")
        failure = self._new(
            "failure",
            failed_in if in_region else "",
            self._cluster_of(parent(failed_in)) if in_region and failed_in != self.root else None,
            len(self.trace.ops),
            title=f"✗ failed in {where}" if where else "✗ failed",
            small=tuple(textwrap.wrap(error, 44)[:3]),
            tooltip=f"The forward pass failed{' in ' + where if where else ''}: {error}",
            link=failed_in if failed_in in self.layers else None,
        )
        if last is not None:
            for t in last[0].outputs:
                if t not in consumed:
                    self._edge_from(t, producer, partial(self._known, failure.key))


# --- drawing --------------------------------------------------------------------------


def draw_flow(graph: FlowGraph) -> Diagram:
    """`graph` laid out for drawing: containers as clusters, inputs first, outputs last."""
    items = graph.items()
    clusters = {c.path: c for c in graph.clusters}
    statements: list[Statement] = list(_draw_items(graph, items, clusters, None))
    ins = tuple(s.key for s in graph.steps if s.kind == "input")
    outs = tuple(s.key for s in graph.steps if s.kind == "output")
    if ins:
        statements.append(Rank(side="min", keys=ins))
    if outs:
        statements.append(Rank(side="max", keys=outs))
    steps = {s.key: s for s in graph.steps}
    for e in graph.edges:
        label = e.label if len(e.tensors) == 1 else f"{e.label} (×{len(e.tensors)})"
        tooltip = f"{steps[e.tail].title} → {steps[e.head].title}: {label}"
        statements.append(Edge(tail=e.tail, head=e.head, label=label, tooltip=tooltip))
    return Diagram(kind="flow", rankdir="TB", ranksep=0.3, statements=tuple(statements))


def _draw_items(
    graph: FlowGraph, items: dict[str | None, list[FlowItem]], clusters: dict[str, FlowCluster], cluster: str | None
) -> list[Statement]:
    out: list[Statement] = []
    for item in items.get(cluster, []):
        if isinstance(item, FlowStep):
            out.append(_box(item))
            continue
        info = clusters[item]
        out.append(
            Cluster(
                title=graph.name(item),
                lines=(info.layer_type,) if info.layer_type is not None else (),
                element="cluster-" + anchor(item),
                tooltip=item + (": " + info.layer_repr if info.layer_repr is not None else ""),
                link=item if info.layer_type is not None else None,
                statements=tuple(_draw_items(graph, items, clusters, item)),
            )
        )
    return out


def _box(step: FlowStep) -> Box:
    small = list(step.small)
    if step.kind in ("layer", "block") and step.calls > 1:
        small.append(f"call {step.call} of {step.calls}")
    element = {
        "layer": anchor(step.path),
        "block": anchor(step.path),
        "fold": anchor(step.path) + "-fold",
        "failure": "failure",
        "op": f"op-{step.order}",
    }.get(step.kind, f"{step.kind}-{step.title}")
    return Box(
        key=step.key,
        kind="failure" if step.failed else step.kind,
        title=step.title,
        lines=tuple(small),
        element=element,
        tooltip=step.tooltip,
        link=step.link,
        classes=(CLASSES[step.kind],) if step.failed else (),
    )
