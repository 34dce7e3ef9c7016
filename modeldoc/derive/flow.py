"""Derivations: where each data-dependent number came from, computed from the trace.

A constructor argument whose ``dim`` names a tensor axis (``"in0:-1"``: the last axis of the
layer's first input) must equal that axis's size. That size is followed back through the
trace, op by op, with one dimension-provenance rule per kind of op: convolution and pooling
arithmetic (padding, stride, dilation, ceil_mode), adaptive pooling, reshapes and flattens
(products and splits), concatenation (sums), indexing and slicing, transposes and permutes,
matmuls and attention, recurrent layers (directions × hidden size), and hyperparameters that
earlier layers chose (``out_features``, ``out_channels``, ``embedding_dim``). Ops that keep a
size pass it through. Every rule's result is checked against the traced size; a rule that does
not reproduce it says only that the op produced the number.

The steps form a graph, not a list: a merge or a join has several sources, and the same
source (a split axis merged back, block after block) feeds many later steps. Each (tensor,
axis) is followed once and its step is shared, never copied, so the work is linear in the
trace. An argument lists at most `MAX_SHOWN` steps; a longer derivation keeps the steps
nearest the argument and sums up the rest, one entry per size they start from, each naming
the argument whose derivation continues with it. A budget proportional to the trace's size
stops a model whose derivations would still need more (`DerivationTooLarge`), naming the
argument.

A layer whose output reaches the model output through parameter-free ops has its output-sized
argument (the last Linear's ``out_features``) fixed by the target. A traced size that disagrees
with a layer's argument (a model that fails at run time) becomes `Hyperparam.error`.
"""

from __future__ import annotations

import heapq
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from modeldoc.errors import DerivationTooLarge
from modeldoc.spec import AxisRef, DerivationStep, Hyperparam, LayerSpec, ModelSpec, OpSpec, TensorInfo, TraceSpec

MAX_SHOWN = 12
"""The most entries one argument's derivation lists; longer ones are cut (see `Flow.derivation`)."""

WORK_PER_ITEM = 100
"""Units of derivation work allowed per recorded op and per tensor axis of the trace.

Following every axis once and listing every argument's steps costs under 2 units per item on
the bundled examples, the benchmark models and the Hugging Face models tried (TimeSformer,
LLaMA, Whisper, Swin, ...); the budget stops only a trace whose derivations would grow far
beyond that, long before they exhaust memory.
"""

MIN_WORK = 100_000
"""The budget of a small trace: a few megabytes of steps at most."""


def work_budget(trace: TraceSpec) -> int:
    """The units of derivation work a trace may take: `WORK_PER_ITEM` per op and tensor axis, at least `MIN_WORK`."""
    size = len(trace.ops) + sum(len(t.shape) for t in trace.tensors)
    return max(MIN_WORK, WORK_PER_ITEM * size)


def attach(spec: ModelSpec, *, budget: int | None = None) -> ModelSpec:
    """`spec` with formulas, derivations, sources and errors for its shape-bound arguments.

    Raises:
        DerivationTooLarge: the derivations need more than `budget` units of work (default:
            `work_budget` of the trace).

    """
    if spec.trace is None or not spec.trace.ops:
        return spec
    flow = Flow(spec, budget=budget)
    targets = flow.targets()
    layers = []
    for layer in spec.all_layers:
        hyperparameters = tuple(flow.explain(layer, h, targets) for h in layer.hyperparameters)
        if hyperparameters != layer.hyperparameters:
            layers.append(replace(layer, hyperparameters=hyperparameters))
    return spec.with_layers(tuple(layers)) if layers else spec


def parse_dim(dim: str) -> tuple[str, int, int] | None:
    """``"in0:-1"`` becomes ``("in", 0, -1)``; None when `dim` is empty or malformed.

    Read by `AxisRef.parse`, the one parser of that text. An argument over several trailing axes
    (``"in0:-2,-1"``) gives its last axis; `Flow._multi` checks the others against its value.
    """
    try:
        ref = AxisRef.parse(dim) if dim else None
    except ValueError:
        return None
    return (ref.side, ref.tensor, ref.last) if ref is not None else None


# --------------------------------------------------------------------------- provenance


@dataclass(frozen=True, eq=False)
class Node:
    """One step of a derivation and the nodes of the sizes it was computed from.

    Nodes are shared: a size that feeds many later steps is one node that they all refer to.
    Compared and hashed by identity.
    """

    step: DerivationStep
    order: int
    """Index of the op that made the step (-1 for an input, parameter or constant)."""
    sources: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Origin:
    """Where a size came from: the step nearest the consumer (which leads to the others), and how it was born."""

    value: int
    node: Node | None
    birth: str
    """``"input"``, ``"chosen"`` (an earlier layer's hyperparameter), ``"op"``, ``"parameter"`` or ``"constant"``."""
    formula: str = ""
    """The formula of the step nearest the consumer."""
    chosen: tuple[str, str] | None = None
    """(layer path, argument name) when born as a chosen hyperparameter."""
    plain_input: bool = False
    """True when the size is an input's, reached through no layer and no other step."""
    through_parameters: bool = False
    """True when a layer with parameters lies between the birth and the consumer."""

    def ordered(self) -> tuple[DerivationStep, ...]:
        """Every step from birth to consumer, each once, in the order they happened."""
        return _ordered(self.node)


def _key(node: Node) -> tuple[int, str]:
    """What makes two steps the same line of a listing: the op and the sentence."""
    return (node.order, node.step.text)


def _ordered(node: Node | None) -> tuple[DerivationStep, ...]:
    """The steps `node` rests on, each once, sorted by when they happened.

    Steps of one op keep the order of a depth-first walk from the consumer (its own step,
    then each source's), so sizes that one op made together read in their source order.
    """
    seen: set[Node] = set()
    texts: set[tuple[int, str]] = set()
    items: list[tuple[int, DerivationStep]] = []
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if _key(current) not in texts:
            texts.add(_key(current))
            items.append((current.order, current.step))
        stack.extend(reversed(current.sources))
    return tuple(step for _, step in sorted(items, key=lambda item: item[0]))


@dataclass(frozen=True)
class Derivation:
    """What one argument's page lists: the steps (the first entries may sum up earlier ones) and what was left out."""

    steps: tuple[DerivationStep, ...]
    omitted: int = 0
    continues: str = ""


@dataclass
class _Rule:
    """What one op did to one axis: pass it on, change it (with sources), or give birth to it."""

    kind: str
    sources: list[tuple[int, int]] = field(default_factory=list)
    step: DerivationStep | None = None
    birth: str = "op"
    chosen: tuple[str, str] | None = None


_PASS = "pass"
_STEP = "step"
_BIRTH = "birth"


class Flow:
    """Follows sizes back through a trace."""

    def __init__(self, spec: ModelSpec, *, budget: int | None = None) -> None:
        assert spec.trace is not None
        self.spec = spec
        self.trace = spec.trace
        self.tensors: dict[int, TensorInfo] = {t.id: t for t in self.trace.tensors}
        self.ops: dict[int, OpSpec] = {op.index: op for op in self.trace.ops}
        self.layers: dict[str, LayerSpec] = {layer.path: layer for layer in spec.all_layers}
        self.inputs: dict[int, str] = {}
        for op in self.trace.ops:
            if op.kind == "input":
                for t in op.outputs:
                    self.inputs[t] = op.name
        self.first_calls: dict[str, OpSpec] = {}
        for call in self.trace.module_calls:
            self.first_calls.setdefault(call.name, call)
        for op in self.trace.ops:
            if op.kind == "module":
                self.first_calls.setdefault(op.name, op)
        self.memo: dict[tuple[int, int], Origin] = {}
        self.nodes: dict[tuple[int, DerivationStep, tuple[Node, ...]], Node] = {}
        self.totals: dict[Node, int] = {}
        """How many distinct steps each node rests on (itself included), for the nodes counted so far."""
        self._anchors: dict[Node, list[tuple[str, str]]] | None = None
        self.budget = work_budget(self.trace) if budget is None else budget
        self.work = 0
        self.deriving = "the model's sizes"
        """What is being derived, for the message when the budget runs out."""

    def _spend(self, units: int = 1) -> None:
        self.work += units
        if self.work > self.budget:
            raise DerivationTooLarge(self.deriving, self.budget)

    # ---- per argument

    def _consumed(self, layer: LayerSpec, h: Hyperparam) -> tuple[TensorInfo, int] | None:
        """The tensor and axis that argument `h` of `layer` must match, from the layer's first call."""
        parsed = parse_dim(h.dim)
        if parsed is None or parsed[0] != "in":
            return None
        _, index, axis = parsed
        call = self.first_calls.get(layer.path)
        if call is None or index >= len(call.inputs):
            return None
        tensor = self.tensors[call.inputs[index]]
        rank = len(tensor.shape)
        if not -rank <= axis < rank:
            return None
        return tensor, axis % rank

    def explain(self, layer: LayerSpec, h: Hyperparam, targets: Mapping[tuple[str, str], Hyperparam]) -> Hyperparam:
        """`h` with its derivation, source and error filled in from the trace."""
        parsed = parse_dim(h.dim)
        if parsed is None:
            return h
        if parsed[0] == "out":
            return targets.get((layer.path, h.name), h)
        consumed = self._consumed(layer, h)
        if consumed is None:
            return h
        tensor, axis = consumed
        expected = _expected(h.value)
        if isinstance(expected, tuple):
            return self._multi(layer, h, tensor, axis, expected)
        if expected is None:
            return h
        self.deriving = f"{_qualified(layer.path, h.name)} (of layer {layer.path or self.spec.name})"
        origin = self.origin(tensor.id, axis)
        derivation = self.derivation(origin, (layer.path, h.name))
        got = tensor.shape[axis]
        source = h.source
        if h.kind == "data-dependent":
            source = "input" if origin.birth == "input" and origin.plain_input else "previous-layer"
        formula = origin.formula or f"{got}"
        error = ""
        if expected != got:
            lhs = formula.rsplit(" = ", 1)[0] if " = " in formula and not formula.startswith(("⌊", "⌈")) else ""
            has = f"{got} = {lhs}" if lhs and lhs != str(got) and "." not in lhs else f"{got}"
            where = _qualified(layer.path, h.name)
            error = f"{where} is {expected} but the incoming tensor has {has} {_word(h.name, axis)}; set {h.name}={got}"
        return replace(
            h,
            formula=formula,
            derivation=derivation.steps,
            derivation_omitted=derivation.omitted,
            derivation_continues=derivation.continues,
            source=source,
            error=error,
        )

    def _multi(
        self, layer: LayerSpec, h: Hyperparam, tensor: TensorInfo, axis: int, expected: tuple[int, ...]
    ) -> Hyperparam:
        """An argument that covers several trailing axes (LayerNorm's normalized_shape): checked, not derived."""
        start = axis - len(expected) + 1
        if start < 0:
            return h
        got = tensor.shape[start : axis + 1]
        if got == expected:
            return replace(h, formula=f"{' × '.join(str(s) for s in got)}")
        shown = ", ".join(str(s) for s in got)
        return replace(
            h,
            error=(
                f"{_qualified(layer.path, h.name)} is {list(expected)} but the incoming tensor ends in ({shown}); "
                f"set {h.name}={list(got)}"
            ),
        )

    def targets(self) -> dict[tuple[str, str], Hyperparam]:
        """Arguments fixed by the target: chosen sizes that reach a model output through parameter-free ops."""
        out: dict[tuple[str, str], Hyperparam] = {}
        for op in self.trace.ops:
            if op.kind != "output":
                continue
            for tid in op.inputs:
                tensor = self.tensors[tid]
                output = self.inputs.get(tid) or _output_name(self.spec, tid, tensor)
                producer = self.ops.get(tensor.producer) if tensor.producer is not None else None
                made_by = f" (made by {self._label(producer)})" if producer is not None else ""
                for axis, value in enumerate(tensor.shape):
                    self.deriving = f"axis {axis} of the model output {output}{made_by}"
                    origin = self.origin(tid, axis)
                    if origin.birth != "chosen" or origin.chosen is None or origin.through_parameters:
                        continue
                    path, name = origin.chosen
                    layer = self.layers.get(path)
                    h = _find(layer, name) if layer else None
                    if layer is None or h is None or (path, name) in out or self._square(path, value, h):
                        continue
                    shown = " × ".join(str(d) for d in tensor.dims)
                    out[path, name] = replace(
                        h,
                        kind="data-dependent",
                        source="target",
                        reason=(
                            f"{path}'s output is the model's output `{output}` ({shown}) with no layer with parameters "
                            f"after it, so {name} = {value} is fixed by what the model predicts (the number of classes "
                            "or vocabulary entries)"
                        ),
                        formula=f"{output}.shape[{axis}] = {value}",
                        derivation=(
                            DerivationStep(
                                text=f"{path} ({layer.type_name}) produces the model output `{output}` ({shown})",
                                value=value,
                                where=path,
                                formula=f"{output}.shape[{axis}] = {value}",
                            ),
                        ),
                    )
        return out

    def _square(self, path: str, value: int, h: Hyperparam) -> bool:
        """A final projection that keeps its input's width (a pooler) chose that width; it is not a target size."""
        parsed = parse_dim(h.dim)
        call = self.first_calls.get(path)
        if parsed is None or call is None or not call.inputs or not call.outputs:
            return False
        _, index, axis = parsed
        out = self.tensors[call.outputs[min(index, len(call.outputs) - 1)]]
        incoming = self.tensors[call.inputs[0]]
        if len(incoming.shape) != len(out.shape) or not -len(out.shape) <= axis < len(out.shape):
            return False
        return incoming.shape[axis] == value

    # ---- listing one argument's steps

    def derivation(self, origin: Origin, argument: tuple[str, str] | None = None) -> Derivation:
        """The steps an argument's page lists for `origin`: all of them, or at most `MAX_SHOWN` entries.

        A derivation longer than `MAX_SHOWN` keeps the steps nearest the argument and sums up
        the rest: each size those steps start from becomes one entry that counts the steps
        behind it and names an earlier argument (not `argument` itself) whose derivation lists
        them, or, when no argument consumes that size, quotes the step that made it. A step
        whose op joins more sizes than fit is listed with one entry per size it joins.
        """
        node = origin.node
        if node is None:
            return Derivation(steps=())
        total = self.total(node)
        if total <= MAX_SHOWN:
            self._spend(total)
            return Derivation(steps=_ordered(node))
        kept, frontier = self._cut(node, argument)
        listed = {_key(n) for n in kept}
        lines: list[DerivationStep] = []
        continues = ""
        for source in sorted(frontier, key=lambda n: n.order):
            behind = self.total(source)
            anchor = self._anchor(source, argument)
            if behind == 1:
                if _key(source) not in listed:
                    listed.add(_key(source))
                    lines.append(source.step)
            elif anchor is not None:
                path, name = anchor
                continues = _qualified(path, name)  # the nearest explained size wins: sorted by order
                text = f"{behind} earlier steps give {source.step.value}: see the derivation of {continues}"
                lines.append(DerivationStep(text=text, value=source.step.value, where=path))
            else:
                lines.append(
                    DerivationStep(
                        text=f"{behind} earlier steps, not listed here, end in: {source.step.text}",
                        value=source.step.value,
                        where=source.step.where,
                        formula=source.step.formula,
                    )
                )
        lines.extend(n.step for n in kept)
        return Derivation(steps=tuple(lines), omitted=total - len(listed), continues=continues)

    def _cut(self, node: Node, argument: tuple[str, str] | None) -> tuple[list[Node], list[Node]]:
        """Where to cut a long derivation: the steps kept (oldest first) and the sizes they start from.

        Steps are taken nearest-first (by op index, so every kept step comes after all the
        steps it rests on). Of the places where the kept steps plus one entry per remaining
        size fit in `MAX_SHOWN`, the cut prefers one where every remaining size has an earlier
        argument that explains it (or is a single step), then the one that keeps the most steps.
        """
        tie = itertools.count()
        heap = [(-node.order, next(tie), node)]
        seen = {node}
        kept: list[tuple[int, int, Node]] = []
        keys: set[tuple[int, str]] = set()
        best: tuple[tuple[bool, bool, int], int, list[Node]] | None = None
        while heap and len(keys) < MAX_SHOWN:
            minus_order, number, current = heapq.heappop(heap)
            self._spend()
            if _key(current) not in keys:
                keys.add(_key(current))
                kept.append((-minus_order, number, current))
            for source in current.sources:
                if source not in seen:
                    seen.add(source)
                    heapq.heappush(heap, (-source.order, next(tie), source))
            frontier = [item[2] for item in heap]
            fits = len(kept) + len(frontier) <= MAX_SHOWN
            if fits or best is None:  # the first step alone is the fallback when nothing fits
                explained = all(self.total(n) == 1 or self._anchor(n, argument) is not None for n in frontier)
                score = (fits, explained, len(kept))
                if best is None or score >= best[0]:
                    best = (score, len(kept), frontier)
        assert best is not None
        _, count, frontier = best
        # oldest first; steps of one op in the order their sources were met, as in a full listing
        return [item[2] for item in sorted(kept[:count], key=lambda item: item[:2])], frontier

    def total(self, node: Node) -> int:
        """How many steps `node` rests on, itself included, as a full listing would show them.

        A walk from `node`, nearest step first. Whenever a single size is left to walk from,
        everything still to come rests on that size alone, so its own count is the rest of
        the walk: it is remembered, and a walk that reaches a size already counted stops
        there. Each step is walked about once however many arguments rest on it. Steps of one
        op with the same sentence (the height and width a convolution both shrinks) count once.
        """
        known = self.totals.get(node)
        if known is not None:
            return known
        tie = itertools.count()
        heap = [(-node.order, next(tie), node)]
        seen = {node}
        counted: set[tuple[int, str]] = set()
        marks: list[tuple[Node, int]] = []
        while heap:
            if len(heap) == 1 and counted:
                alone = heap[0][2]
                # Only `alone` itself can repeat a sentence already counted: the rest is older.
                repeat = int(_key(alone) in counted)
                known = self.totals.get(alone)
                if known is not None:
                    total = len(counted) + known - repeat
                    break
                marks.append((alone, len(counted) - repeat))
            current = heapq.heappop(heap)[2]
            self._spend()
            counted.add(_key(current))
            for source in current.sources:
                if source not in seen:
                    seen.add(source)
                    heapq.heappush(heap, (-source.order, next(tie), source))
        else:
            total = len(counted)
        for alone, before in marks:
            self.totals[alone] = total - before
        self.totals[node] = total
        return total

    def _anchor(self, node: Node, argument: tuple[str, str] | None) -> tuple[str, str] | None:
        """The first-called argument (other than `argument`) whose derivation starts at `node`."""
        if self._anchors is None:
            self._anchors = {}
            deriving = self.deriving
            arguments = []
            for layer in self.spec.all_layers:
                call = self.first_calls.get(layer.path)
                for h in layer.hyperparameters:
                    consumed = self._consumed(layer, h)
                    if call is not None and consumed is not None and isinstance(_expected(h.value), int):
                        arguments.append((call.index, layer.path, h.name, consumed))
            for _, path, name, (tensor, axis) in sorted(arguments, key=lambda a: a[0]):
                self.deriving = f"{_qualified(path, name)} (of layer {path or self.spec.name})"
                start = self.origin(tensor.id, axis).node
                if start is not None:
                    self._anchors.setdefault(start, []).append((path, name))
            self.deriving = deriving
        for candidate in self._anchors.get(node, ()):
            if candidate != argument:
                return candidate
        return None

    # ---- following a size back

    def origin(self, tid: int, axis: int) -> Origin:
        """Where the size at `axis` of tensor `tid` came from.

        Every (tensor, axis) on the way is followed once and remembered; a step with several
        sources refers to their origins' nodes. The walk keeps its own stack, so a deep model
        does not run into Python's recursion limit.
        """
        key = (tid, axis)
        found = self.memo.get(key)
        if found is not None:
            return found
        rules: dict[tuple[int, int], tuple[_Rule, OpSpec | None]] = {}
        stack = [key]
        while stack:
            current = stack[-1]
            if current in self.memo:
                stack.pop()
                continue
            if current not in rules:
                self._spend()
                rules[current] = self._rule(*current)
            rule, producer = rules[current]
            missing = [s for s in (rule.sources if rule.kind != _BIRTH else ()) if s not in self.memo]
            if any(s in rules for s in missing):  # a source still being followed: a cycle, which a trace cannot hold
                rules[current] = (self._cycle(current, producer), producer)
                continue
            if missing:
                stack.extend(missing)
                continue
            self.memo[current] = self._combine(current, rule, producer)
            stack.pop()
        return self.memo[key]

    def _combine(self, key: tuple[int, int], rule: _Rule, producer: OpSpec | None) -> Origin:
        """The origin of `key` from the rule of its producer and the origins of the rule's sources."""
        value = self.tensors[key[0]].shape[key[1]]
        module = producer is not None and producer.kind == "module"
        through = module and rule.kind != _BIRTH and self._has_parameters(producer.name if producer else "")
        if rule.kind == _PASS:
            source = self.memo[rule.sources[0]]
            return replace(
                source,
                value=value,
                plain_input=source.plain_input and not module,
                through_parameters=through or source.through_parameters,
            )
        assert rule.step is not None
        order = producer.index if producer is not None else -1
        if rule.kind == _BIRTH:
            plain = rule.birth == "input" and not module and rule.step.where == "input"
            return Origin(
                value=value,
                node=self._node(rule.step, order, ()),
                birth=rule.birth,
                formula=rule.step.formula,
                chosen=rule.chosen,
                plain_input=plain,
            )
        sources = [self.memo[s] for s in rule.sources]
        node = self._node(rule.step, order, tuple(s.node for s in sources if s.node is not None))
        if len(sources) == 1:  # one source: the size goes on being derived from it
            (source,) = sources
            return Origin(
                value=value,
                node=node,
                birth=source.birth,
                formula=rule.step.formula or source.formula,
                chosen=source.chosen,
                plain_input=source.plain_input and not module and rule.step.where == "input",
                through_parameters=through or source.through_parameters,
            )
        # several sources: the number is born here, from the numbers that meet
        return Origin(value=value, node=node, birth="op", formula=rule.step.formula, through_parameters=through)

    def _node(self, step: DerivationStep, order: int, sources: tuple[Node, ...]) -> Node:
        """The one node for this step from these sources: the axes a split makes alike share it."""
        key = (order, step, sources)
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(step, order, sources)
        return node

    def _cycle(self, key: tuple[int, int], producer: OpSpec | None) -> _Rule:
        """A size whose sources lead back to itself: said to be made by its op, not followed."""
        tid, axis = key
        value = self.tensors[tid].shape[axis]
        where = self._where(producer) if producer is not None else ""
        label = self._label(producer) if producer is not None else "an op"
        step = DerivationStep(text=f"{label} produces {value} at axis {axis}", value=value, where=where)
        return _Rule(_BIRTH, step=step, birth="op")

    def _has_parameters(self, path: str) -> bool:
        layer = self.layers.get(path)
        return bool(layer and layer.total_params)

    def _rule(self, tid: int, axis: int) -> tuple[_Rule, OpSpec | None]:
        tensor = self.tensors[tid]
        value = tensor.shape[axis]
        producer = self.ops.get(tensor.producer) if tensor.producer is not None else None
        if producer is None:
            return self._leaf(tensor, axis, value), None
        j = producer.outputs.index(tid) if tid in producer.outputs else 0
        rule = self._module_rule(producer, j, axis, value) if producer.kind == "module" else None
        if rule is None and producer.kind == "function":
            rule = self._function_rule(producer, j, axis, value)
        if rule is None:
            rule = self._generic(producer, tensor, axis, value)
        return rule, producer

    def _leaf(self, tensor: TensorInfo, axis: int, value: int) -> _Rule:
        name = self.inputs.get(tensor.id)
        if name is not None:
            shown = " × ".join(str(d) for d in tensor.dims)
            step = DerivationStep(
                text=f"the input `{name}` is {shown}",
                value=value,
                where="input",
                formula=f"{name}.shape[{axis}] = {value}",
            )
            return _Rule(_BIRTH, step=step, birth="input")
        if tensor.name:
            step = DerivationStep(
                text=f"the tensor `{tensor.name}` has {value} at axis {axis}",
                value=value,
                where=tensor.name,
                formula=f"{tensor.name}.shape[{axis}] = {value}",
            )
            return _Rule(_BIRTH, step=step, birth="parameter")
        step = DerivationStep(text=f"a constant tensor has {value} at axis {axis}", value=value, where="constant")
        return _Rule(_BIRTH, step=step, birth="constant")

    # ---- module ops

    def _module_rule(self, op: OpSpec, j: int, axis: int, value: int) -> _Rule | None:  # noqa: PLR0911 - one return per rule
        layer = self.layers.get(op.name)
        if layer is None:
            return None
        out = self.tensors[op.outputs[j]].shape
        rank = len(out)
        for h in layer.hyperparameters:
            parsed = parse_dim(h.dim)
            if parsed is None or parsed[0] != "out" or parsed[1] != j or h.kind != "hyperparameter":
                continue
            if -rank <= parsed[2] < rank and parsed[2] % rank == axis and _expected(h.value) == value:
                return self._chosen(layer, h.name, value)
        kinds = _kinds(layer)
        hp = {h.name: h.value for h in layer.hyperparameters}
        incoming = self.tensors[op.inputs[0]].shape if op.inputs else None
        conv = _family(kinds, r"^(Lazy)?Conv(Transpose)?([123])d$")
        if conv is not None and incoming is not None:
            return self._conv_module(layer, op, conv, hp, axis, value, rank, j)
        pool = _family(kinds, r"^(Max|Avg)Pool([123])d$")
        if pool is not None and incoming is not None and j == 0:
            label = self._label(op, _pool_text(hp))
            return self._pool(label, op, int(pool.group(2)), hp, axis, value, rank, kind=pool.group(1))
        adaptive = _family(kinds, r"^Adaptive(Max|Avg)Pool([123])d$")
        if adaptive is not None and j == 0:
            return self._adaptive(self._label(op), op, int(adaptive.group(2)), hp.get("output_size"), axis, value, rank)
        if _family(kinds, r"^(Lazy)?Linear$|^Bilinear$") and axis == rank - 1 and j == 0:
            return self._chosen(layer, "out_features", value)
        if _family(kinds, r"^Embedding(Bag)?$") and axis == rank - 1 and j == 0:
            return self._chosen(layer, "embedding_dim", value)
        if _family(kinds, r"^(RNN|LSTM|GRU)$") and incoming is not None:
            return self._recurrent(layer, op, hp, j, axis, value, rank)
        if _family(kinds, r"^(Flatten|Unflatten)$") and incoming is not None:
            return self._reshape(op, incoming, out, axis, value)
        if _family(kinds, r"^MultiheadAttention$") and j == 0 and incoming is not None and len(incoming) == rank:
            return _Rule(_PASS, sources=[(op.inputs[0], axis)]) if incoming[axis] == value else None
        return None

    def _chosen(self, layer: LayerSpec, name: str, value: int) -> _Rule | None:
        h = _find(layer, name)
        if h is None or _expected(h.value) != value:
            return None
        step = DerivationStep(
            text=f"{layer.path} ({layer.type_name}) has {name} = {value}, chosen by the designer",
            value=value,
            where=layer.path,
            formula=f"{_qualified(layer.path, name)} = {value}",
        )
        return _Rule(_BIRTH, step=step, birth="chosen", chosen=(layer.path, name))

    def _conv_module(
        self,
        layer: LayerSpec,
        op: OpSpec,
        match: re.Match[str],
        hp: Mapping[str, Any],
        axis: int,
        value: int,
        rank: int,
        j: int,
    ) -> _Rule | None:
        n = int(match.group(3))
        transposed = bool(match.group(2))
        if axis == rank - n - 1:
            return self._chosen(layer, "out_channels", value)
        if axis < rank - n:
            return None
        i = axis - (rank - n)
        kernel = _at(hp.get("kernel_size"), i, n)
        params = {
            "stride": _at(hp.get("stride", 1), i, n),
            "padding": hp.get("padding", 0) if isinstance(hp.get("padding"), str) else _at(hp.get("padding", 0), i, n),
            "dilation": _at(hp.get("dilation", 1), i, n),
            "output_padding": _at(hp.get("output_padding", 0), i, n),
        }
        if kernel is None:
            return None
        return self._window(
            self._label(op, _kernel_text(hp.get("kernel_size"), n, hp)),
            op,
            axis,
            value,
            kernel,
            params,
            transposed=transposed,
        )

    def _pool(
        self, label: str, op: OpSpec, n: int, args: Mapping[str, Any], axis: int, value: int, rank: int, *, kind: str
    ) -> _Rule | None:
        if axis < rank - n:
            return None
        i = axis - (rank - n)
        kernel = _at(args.get("kernel_size"), i, n)
        if kernel is None:
            return None
        stride = args.get("stride")
        params = {
            "stride": kernel if stride in (None, [], ()) else _at(stride, i, n),
            "padding": _at(args.get("padding", 0), i, n),
            "dilation": _at(args.get("dilation", 1), i, n) if kind == "Max" else 1,
            "ceil_mode": bool(args.get("ceil_mode", False)),
        }
        return self._window(label, op, axis, value, kernel, params)

    def _window(
        self,
        label: str,
        op: OpSpec,
        axis: int,
        value: int,
        kernel: int,
        params: Mapping[str, Any],
        *,
        transposed: bool = False,
    ) -> _Rule | None:
        incoming = self.tensors[op.inputs[0]].shape
        offset = len(incoming) - len(self.tensors[op.outputs[0]].shape) if op.outputs else 0
        source = axis + offset
        if not 0 <= source < len(incoming):
            return None
        size = incoming[source]
        computed = window_size(size, kernel, transposed=transposed, **params)
        if computed is None or computed[0] != value:
            return None
        step = DerivationStep(
            text=f"{label} turns {size} into {value}", value=value, where=self._where(op), formula=computed[1]
        )
        return _Rule(_STEP, sources=[(op.inputs[0], source)], step=step)

    def _adaptive(
        self, label: str, op: OpSpec, n: int, output_size: Any, axis: int, value: int, rank: int
    ) -> _Rule | None:
        if axis < rank - n:
            return None
        target = _at(output_size, axis - (rank - n), n)
        if target is None:
            return _Rule(_PASS, sources=[(op.inputs[0], axis)]) if self._same(op, 0, axis, value) else None
        if target != value:
            return None
        step = DerivationStep(
            text=f"{label} pools to a fixed size of {value}, whatever its input size",
            value=value,
            where=self._where(op),
            formula=f"output_size = {value}",
        )
        return _Rule(_BIRTH, step=step, birth="op")

    def _recurrent(  # noqa: PLR0911 - one return per output
        self, layer: LayerSpec, op: OpSpec, hp: Mapping[str, Any], j: int, axis: int, value: int, rank: int
    ) -> _Rule | None:
        directions = 2 if hp.get("bidirectional") else 1
        hidden = hp.get("proj_size") or hp.get("hidden_size")
        name = "proj_size" if hp.get("proj_size") else "hidden_size"
        if not isinstance(hidden, int):
            return None
        if j == 0 and axis == rank - 1:
            if directions == 1:
                return self._chosen(layer, name, value)
            if directions * hidden != value:
                return None
            step = DerivationStep(
                text=f"{layer.path} ({layer.type_name}) is bidirectional: its 2 directions each give {name} = {hidden}",
                value=value,
                where=layer.path,
                formula=f"2 × {hidden} = {value}",
            )
            return _Rule(_BIRTH, step=step, birth="op")
        if j == 0:
            return _Rule(_PASS, sources=[(op.inputs[0], axis)]) if self._same(op, 0, axis, value) else None
        layers = hp.get("num_layers", 1)
        if axis == 0 and isinstance(layers, int) and directions * layers == value:
            step = DerivationStep(
                text=f"{layer.path} ({layer.type_name}) keeps one final state per layer and direction",
                value=value,
                where=layer.path,
                formula=f"{layers} × {directions} = {value}",
            )
            return _Rule(_BIRTH, step=step, birth="op")
        if axis == rank - 1 and hidden == value:
            return self._chosen(layer, name, value)
        return None

    # ---- function ops

    def _function_rule(self, op: OpSpec, j: int, axis: int, value: int) -> _Rule | None:  # noqa: PLR0911, PLR0912 - one return per rule
        name = op.name.rstrip("_") if op.name.endswith("_") else op.name
        args = op.arguments
        ins = [self.tensors[t].shape for t in op.inputs]
        out = self.tensors[op.outputs[j]].shape
        rank = len(out)
        if not ins:
            return None
        if name in ("reshape", "view", "flatten", "unflatten", "view_as", "reshape_as", "squeeze", "unsqueeze"):
            return self._reshape(op, ins[0], out, axis, value)
        if name in ("cat", "concat", "concatenate"):
            return self._cat(op, args, axis, value, rank)
        if name == "stack":
            return self._stack(op, args, axis, value, rank)
        if name in ("transpose", "swapaxes", "swapdims", "t", "T", "mT", "mH", "permute"):
            source = _permuted(name, args, axis, rank)
            return (
                _Rule(_PASS, sources=[(op.inputs[0], source)])
                if source is not None and ins[0][source] == value
                else None
            )
        if name in ("matmul", "mm", "bmm") and len(ins) >= 2:
            return self._matmul(op, ins, axis, value, rank)
        if name in ("linear", "embedding") and len(ins) >= 2 and axis == rank - 1:
            weight_axis = 0 if name == "linear" else 1
            return _Rule(_PASS, sources=[(op.inputs[1], weight_axis)]) if ins[1][weight_axis] == value else None
        if name in ("addmm", "baddbmm") and len(ins) >= 3:
            return self._matmul(op, ins[1:], axis, value, rank, first=1)
        if name == "scaled_dot_product_attention" and len(ins) >= 3:
            which = 2 if axis == rank - 1 else 0  # the value's last axis, the query's others
            tensor = ins[which]
            return (
                _Rule(_PASS, sources=[(op.inputs[which], axis)])
                if len(tensor) == rank and tensor[axis] == value
                else None
            )
        if name == "getitem":
            return self._getitem(op, args.get("key", args.get("index")), ins[0], axis, value, rank)
        if name in ("split", "chunk", "tensor_split", "narrow"):
            return self._split(op, name, args, ins[0], axis, value, rank)
        if re.match(r"^conv(_transpose)?[123]d$", name) and len(ins) >= 2:
            return self._conv_function(op, name, args, ins, axis, value, rank)
        pool = re.match(r"^(max|avg)_pool([123])d(_with_indices)?$", name)
        if pool is not None and j == 0:
            label = f"{op.name} ({_pool_text(args)})"
            return self._pool(label, op, int(pool.group(2)), args, axis, value, rank, kind=pool.group(1).title())
        adaptive = re.match(r"^adaptive_(max|avg)_pool([123])d(_with_indices)?$", name)
        if adaptive is not None and j == 0:
            return self._adaptive(op.name, op, int(adaptive.group(2)), args.get("output_size"), axis, value, rank)
        if name in _REDUCTIONS and not args.get("keepdim") and args.get("dim") is not None:
            return self._reduced(op, args.get("dim"), ins[0], axis, value)
        if name in ("expand", "expand_as", "broadcast_to", "repeat"):
            return self._expand(op, name, args, ins[0], axis, value, rank)
        return None

    def _conv_function(
        self,
        op: OpSpec,
        name: str,
        args: Mapping[str, Any],
        ins: list[tuple[int, ...]],
        axis: int,
        value: int,
        rank: int,
    ) -> _Rule | None:
        n = int(name[-2])
        weight = ins[1]
        transposed = "transpose" in name
        if axis == rank - n - 1:
            weight_axis = 1 if transposed else 0
            if transposed:
                groups = args.get("groups", 1) or 1
                if weight[1] * groups == value:
                    return _Rule(_PASS, sources=[(op.inputs[1], 1)]) if groups == 1 else None
                return None
            return _Rule(_PASS, sources=[(op.inputs[1], weight_axis)]) if weight[0] == value else None
        if axis < rank - n:
            return None
        i = axis - (rank - n)
        kernel = weight[2 + i]
        padding = args.get("padding", 0)
        params = {
            "stride": _at(args.get("stride", 1), i, n),
            "padding": padding if isinstance(padding, str) else _at(padding, i, n),
            "dilation": _at(args.get("dilation", 1), i, n),
            "output_padding": _at(args.get("output_padding", 0), i, n),
        }
        label = f"{op.name} ({'×'.join(str(k) for k in weight[2:])} kernel)"
        return self._window(label, op, axis, value, kernel, params, transposed=transposed)

    def _reshape(self, op: OpSpec, incoming: Sequence[int], out: Sequence[int], axis: int, value: int) -> _Rule | None:
        if value == 1:
            return (
                _Rule(_PASS, sources=[(op.inputs[0], axis)])
                if len(incoming) == len(out) and incoming[axis] == 1
                else None
            )
        groups = reshape_groups(incoming, out)
        if groups is None:
            return None
        for sources, targets in groups:
            if axis not in targets:
                continue
            label = self._label(op)
            if len(sources) == 1 and len(targets) == 1:
                return _Rule(_PASS, sources=[(op.inputs[0], sources[0])])
            parts = [incoming[k] for k in sources]
            if len(targets) == 1:
                text = " × ".join(str(p) for p in parts)
                step = DerivationStep(
                    text=f"{label} merges {text} into {value}",
                    value=value,
                    where=self._where(op),
                    formula=f"{text} = {value}",
                )
                return _Rule(_STEP, sources=[(op.inputs[0], k) for k in sources], step=step)
            total = math.prod(parts)
            pieces = [out[k] for k in targets]
            others = [str(out[k]) for k in targets if k != axis]
            divisor = others[0] if len(others) == 1 else "(" + " × ".join(others) + ")"
            step = DerivationStep(
                text=f"{label} splits {total} into {' × '.join(str(p) for p in pieces)}",
                value=value,
                where=self._where(op),
                formula=f"{total} / {divisor} = {value}",
            )
            return _Rule(_STEP, sources=[(op.inputs[0], k) for k in sources], step=step)
        return None

    def _cat(self, op: OpSpec, args: Mapping[str, Any], axis: int, value: int, rank: int) -> _Rule | None:
        dim = args.get("dim", 0)
        if not isinstance(dim, int):
            return None
        dim %= rank
        parts = [t for t in op.inputs if len(self.tensors[t].shape) == rank and math.prod(self.tensors[t].shape) > 0]
        if not parts:
            return None
        if axis != dim:
            return _Rule(_PASS, sources=[(parts[0], axis)]) if self.tensors[parts[0]].shape[axis] == value else None
        sizes = [self.tensors[t].shape[axis] for t in parts]
        if sum(sizes) != value:
            return None
        if len(parts) == 1:
            return _Rule(_PASS, sources=[(parts[0], axis)])
        text = " + ".join(str(s) for s in sizes)
        step = DerivationStep(
            text=f"{op.name} joins {text} = {value}", value=value, where=self._where(op), formula=f"{text} = {value}"
        )
        return _Rule(_STEP, sources=[(t, axis) for t in parts], step=step)

    def _stack(self, op: OpSpec, args: Mapping[str, Any], axis: int, value: int, rank: int) -> _Rule | None:
        dim = args.get("dim", 0)
        if not isinstance(dim, int):
            return None
        dim %= rank
        if axis == dim:
            if len(op.inputs) != value:
                return None
            step = DerivationStep(
                text=f"{op.name} stacks {value} tensors", value=value, where=self._where(op), formula=f"{value} tensors"
            )
            return _Rule(_BIRTH, step=step, birth="op")
        source = axis if axis < dim else axis - 1
        return (
            _Rule(_PASS, sources=[(op.inputs[0], source)])
            if self.tensors[op.inputs[0]].shape[source] == value
            else None
        )

    def _matmul(
        self, op: OpSpec, ins: list[tuple[int, ...]], axis: int, value: int, rank: int, *, first: int = 0
    ) -> _Rule | None:
        a, b = ins[0], ins[1]
        ta, tb = op.inputs[first], op.inputs[first + 1]
        if axis == rank - 1 and len(b) >= 2 and b[-1] == value:
            return _Rule(_PASS, sources=[(tb, len(b) - 1)])
        if axis == rank - 2 and len(a) >= 2 and a[-2] == value:
            return _Rule(_PASS, sources=[(ta, len(a) - 2)])
        for tensor, shape in ((ta, a), (tb, b)):
            source = axis - (rank - len(shape))
            if 0 <= source < len(shape) - 2 and shape[source] == value:
                return _Rule(_PASS, sources=[(tensor, source)])
        return None

    def _getitem(
        self, op: OpSpec, index: Any, incoming: Sequence[int], axis: int, value: int, rank: int
    ) -> _Rule | None:
        mapping = index_map(index, len(incoming))
        if mapping is None or len(mapping) != rank:
            return None
        entry = mapping[axis]
        if entry is None:
            return None
        source, item = entry
        size = incoming[source]
        if item is None:
            return _Rule(_PASS, sources=[(op.inputs[0], source)]) if size == value else None
        length, formula = slice_length(item, size)
        if length != value:
            return None
        if length == size:
            return _Rule(_PASS, sources=[(op.inputs[0], source)])
        step = DerivationStep(
            text=f"{self._label(op)} keeps {_slice_text(item)} of {size}",
            value=value,
            where=self._where(op),
            formula=formula,
        )
        return _Rule(_STEP, sources=[(op.inputs[0], source)], step=step)

    def _split(
        self, op: OpSpec, name: str, args: Mapping[str, Any], incoming: Sequence[int], axis: int, value: int, rank: int
    ) -> _Rule | None:
        dim = args.get("dim", 0)
        if not isinstance(dim, int) or len(incoming) != rank:
            return None
        dim %= rank
        if axis != dim:
            return _Rule(_PASS, sources=[(op.inputs[0], axis)]) if incoming[axis] == value else None
        size = incoming[dim]
        pieces = len(op.outputs)
        if name == "chunk" and isinstance(args.get("chunks"), int):
            formula = (
                f"⌈{size} / {args['chunks']}⌉ = {value}"
                if size % args["chunks"]
                else f"{size} / {args['chunks']} = {value}"
            )
        elif name == "split" and isinstance(args.get("split_size_or_sections", args.get("split_size")), int):
            formula = f"{size} / {pieces} = {value}" if size == pieces * value else f"pieces of {value}"
        else:
            formula = ""
        step = DerivationStep(
            text=f"{self._label(op)} cuts {size} into {pieces} pieces",
            value=value,
            where=self._where(op),
            formula=formula,
        )
        return _Rule(_STEP, sources=[(op.inputs[0], dim)], step=step)

    def _reduced(self, op: OpSpec, dim: Any, incoming: Sequence[int], axis: int, value: int) -> _Rule | None:
        dims = {d % len(incoming) for d in (dim if isinstance(dim, list | tuple) else [dim]) if isinstance(d, int)}
        kept = [k for k in range(len(incoming)) if k not in dims]
        if axis >= len(kept) or incoming[kept[axis]] != value:
            return None
        return _Rule(_PASS, sources=[(op.inputs[0], kept[axis])])

    def _expand(
        self, op: OpSpec, name: str, args: Mapping[str, Any], incoming: Sequence[int], axis: int, value: int, rank: int
    ) -> _Rule | None:
        source = axis - (rank - len(incoming))
        if 0 <= source < len(incoming) and incoming[source] == value:
            return _Rule(_PASS, sources=[(op.inputs[0], source)])
        if name == "repeat" and 0 <= source < len(incoming) and value % incoming[source] == 0:
            times = value // incoming[source]
            step = DerivationStep(
                text=f"{op.name} repeats {incoming[source]} {times} times",
                value=value,
                where=self._where(op),
                formula=f"{incoming[source]} × {times} = {value}",
            )
            return _Rule(_STEP, sources=[(op.inputs[0], source)], step=step)
        step = DerivationStep(text=f"{op.name} broadcasts to {value}", value=value, where=self._where(op))
        return _Rule(_BIRTH, step=step, birth="op")

    # ---- fallbacks and helpers

    def _generic(self, op: OpSpec, tensor: TensorInfo, axis: int, value: int) -> _Rule:
        """Ops that keep a size pass it on (aligned from the last axis); otherwise the op produced it."""
        rank = len(tensor.shape)
        candidates = []
        for tid in op.inputs:
            shape = self.tensors[tid].shape
            source = axis - (rank - len(shape))
            if 0 <= source < len(shape) and shape[source] == value and (value != 1 or len(shape) == rank):
                candidates.append((self._age(tid), tid, source))
        if candidates:
            # Of several inputs with the size (a residual add), follow the oldest data: the residual stream.
            _, tid, source = min(candidates)
            return _Rule(_PASS, sources=[(tid, source)])
        step = DerivationStep(
            text=f"{self._label(op)} produces {value} at axis {axis}", value=value, where=self._where(op)
        )
        return _Rule(_BIRTH, step=step, birth="op")

    def _age(self, tid: int) -> tuple[int, int]:
        """Sort key: data before parameters and constants, then the earlier producer first."""
        tensor = self.tensors[tid]
        if tensor.producer is not None:
            return (0, tensor.producer)
        return (0, -1) if tid in self.inputs else (1, tid)

    def _same(self, op: OpSpec, index: int, axis: int, value: int) -> bool:
        if index >= len(op.inputs):
            return False
        shape = self.tensors[op.inputs[index]].shape
        return axis < len(shape) and shape[axis] == value

    def _label(self, op: OpSpec, detail: str = "") -> str:
        if op.kind == "module":
            layer = self.layers.get(op.name)
            type_name = layer.type_name if layer else op.target.rsplit(".", 1)[-1]
            inside = f"{type_name} {detail}".strip()
            return f"{op.name or self.spec.name} ({inside})"
        return f"{op.name} in {op.scope}" if op.scope else op.name

    def _where(self, op: OpSpec) -> str:
        return op.name if op.kind == "module" or not op.scope else f"{op.scope}: {op.name}"


_REDUCTIONS = frozenset(
    {
        "mean",
        "sum",
        "amax",
        "amin",
        "max",
        "min",
        "prod",
        "std",
        "var",
        "logsumexp",
        "norm",
        "all",
        "any",
        "argmax",
        "argmin",
    }
)


# --------------------------------------------------------------------------- arithmetic (pure helpers, tested directly)


def window_size(  # noqa: PLR0911 - one return per case
    size: int,
    kernel: int,
    *,
    stride: int | None = 1,
    padding: int | str = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
    output_padding: int = 0,
    transposed: bool = False,
) -> tuple[int, str] | None:
    """Output size of a convolution or pooling window along one axis, and the formula with the numbers."""
    stride = stride or kernel
    if isinstance(padding, str):
        if padding == "same":
            return size, f"padding='same' keeps {size}"
        if padding != "valid":
            return None
        padding = 0
    if transposed:
        out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
        return out, f"({size} − 1)·{stride} − 2·{padding} + {dilation}·({kernel} − 1) + {output_padding} + 1 = {out}"
    inner = f"({size} + 2·{padding} − {dilation}·({kernel} − 1) − 1) / {stride}"
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1
    if numerator < 0:
        return None
    if not ceil_mode:
        out = numerator // stride + 1
        return out, f"⌊{inner}⌋ + 1 = {out}"
    out = -(-numerator // stride) + 1
    # PyTorch drops a last window that would start inside the right padding.
    if (out - 1) * stride >= size + padding:
        return out - 1, f"⌈{inner}⌉ + 1 − 1 = {out - 1} (the last window would start in the padding)"
    return out, f"⌈{inner}⌉ + 1 = {out}"


def reshape_groups(incoming: Sequence[int], out: Sequence[int]) -> list[tuple[list[int], list[int]]] | None:
    """Which input axes make up which output axes in a reshape (size-1 axes left out); None if unclear."""
    if 0 in incoming or 0 in out:
        return None
    ins = [k for k, s in enumerate(incoming) if s != 1]
    outs = [k for k, s in enumerate(out) if s != 1]
    groups = []
    i = j = 0
    while i < len(ins) and j < len(outs):
        gi, gj = [ins[i]], [outs[j]]
        pi, pj = incoming[ins[i]], out[outs[j]]
        i += 1
        j += 1
        while pi != pj:
            if pi < pj:
                if i >= len(ins):
                    return None
                pi *= incoming[ins[i]]
                gi.append(ins[i])
                i += 1
            else:
                if j >= len(outs):
                    return None
                pj *= out[outs[j]]
                gj.append(outs[j])
                j += 1
        groups.append((gi, gj))
    if i < len(ins) or j < len(outs):
        return None
    return groups


def index_map(index: Any, rank: int) -> list[tuple[int, Any] | None] | None:
    """For each output axis of ``x[index]``: (input axis, slice item or None), or None for a new axis.

    Slices are the ``{"slice": [start, stop, step]}`` form of the trace; None when the index
    uses tensors or lists (advanced indexing).
    """
    items = list(index) if isinstance(index, list | tuple) else [index]
    if any((isinstance(i, dict) and "tensor" in i) or isinstance(i, list) for i in items):
        return None
    consuming = sum(1 for i in items if i not in (None, "...") and not isinstance(i, bool))
    out: list[tuple[int, Any] | None] = []
    axis = 0
    for item in items:
        if item == "...":
            for _ in range(rank - consuming):
                out.append((axis, None))
                axis += 1
        elif item is None or isinstance(item, bool):
            out.append(None)
        elif isinstance(item, int):
            axis += 1
        elif isinstance(item, dict) and "slice" in item:
            out.append((axis, item))
            axis += 1
        else:
            return None
    while axis < rank:
        out.append((axis, None))
        axis += 1
    return out


def slice_length(item: Mapping[str, Any], size: int) -> tuple[int, str]:
    """Length of ``start:stop:step`` over `size` elements, and the formula with the numbers."""
    start, stop, step = item["slice"]
    step = step or 1
    start = 0 if start is None else (start + size if start < 0 else start)
    stop = size if stop is None else (stop + size if stop < 0 else stop)
    start, stop = max(0, min(start, size)), max(0, min(stop, size))
    if step == 1:
        length = max(0, stop - start)
        return length, f"{stop} − {start} = {length}"
    length = max(0, -(-(stop - start) // step))
    return length, f"⌈({stop} − {start}) / {step}⌉ = {length}"


def _slice_text(item: Mapping[str, Any]) -> str:
    start, stop, step = item["slice"]
    text = f"{'' if start is None else start}:{'' if stop is None else stop}"
    return text + (f":{step}" if step not in (None, 1) else "")


def _permuted(name: str, args: Mapping[str, Any], axis: int, rank: int) -> int | None:  # noqa: PLR0911 - one return per rule
    """The input axis that output `axis` of a transpose or permute came from."""
    if name == "permute":
        dims = args.get("dims")
        if not isinstance(dims, list | tuple) or len(dims) != rank:
            return None
        return int(dims[axis]) % rank
    if name == "T":
        return rank - 1 - axis
    if name in ("t", "mT", "mH"):
        first, second = (0, 1) if name == "t" and rank == 2 else (rank - 2, rank - 1)
        if rank < 2:
            return axis
    else:
        d0, d1 = args.get("dim0"), args.get("dim1")
        if not isinstance(d0, int) or not isinstance(d1, int):
            return None
        first, second = d0 % rank, d1 % rank
    if axis == first:
        return second
    if axis == second:
        return first
    return axis


def _expected(value: Any) -> int | tuple[int, ...] | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return int(value[0]) if len(value) == 1 else tuple(int(v) for v in value)
    return None


def _at(value: Any, i: int, n: int) -> Any:
    """Entry `i` of a per-axis argument given as one number or one per axis."""
    if isinstance(value, list | tuple):
        return value[i] if len(value) == n else (value[0] if len(value) == 1 else None)
    return value


def _kernel_text(kernel: Any, n: int, hp: Mapping[str, Any]) -> str:
    sizes = kernel if isinstance(kernel, list | tuple) else [kernel] * n
    parts = ["×".join(str(k) for k in sizes)]
    for name, neutral in (("stride", 1), ("padding", 0), ("dilation", 1)):
        value = hp.get(name)
        values = value if isinstance(value, list | tuple) else [value]
        if value is not None and any(v != neutral for v in values):
            shown = (
                value
                if isinstance(value, str)
                else (values[0] if len(set(values)) == 1 else "×".join(str(v) for v in values))
            )
            parts.append(f"{name} {shown}")
    return ", ".join(parts)


def _pool_text(args: Mapping[str, Any]) -> str:
    parts = [f"kernel {_short(args.get('kernel_size'))}"]
    stride = args.get("stride")
    parts.append(f"stride {_short(stride) if stride not in (None, [], ()) else _short(args.get('kernel_size'))}")
    if args.get("padding") not in (None, 0, [0, 0], [0], [0, 0, 0]):
        parts.append(f"padding {_short(args.get('padding'))}")
    if args.get("dilation") not in (None, 1, [1, 1], [1], [1, 1, 1]):
        parts.append(f"dilation {_short(args.get('dilation'))}")
    if args.get("ceil_mode"):
        parts.append("ceil_mode")
    return ", ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    return str(value)


def _family(kinds: Iterable[str], pattern: str) -> re.Match[str] | None:
    for kind in kinds:
        match = re.match(pattern, kind)
        if match:
            return match
    return None


def _kinds(layer: LayerSpec) -> list[str]:
    """The layer's class name and those of its ancestors (a subclass of Linear is a Linear here)."""
    return [layer.type_name, *(base.rsplit(".", 1)[-1] for base in layer.bases)]


def _find(layer: LayerSpec, name: str) -> Hyperparam | None:
    return next((h for h in layer.hyperparameters if h.name == name), None)


def _qualified(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _word(name: str, axis: int) -> str:
    if "channel" in name:
        return "channels"
    if "feature" in name or name in ("input_size", "embed_dim", "d_model", "hidden_size"):
        return "features"
    return f"at axis {axis}"


def _output_name(spec: ModelSpec, tid: int, tensor: TensorInfo) -> str:
    """The name of a model output tensor, by its position among the output op's inputs."""
    for op in spec.trace.ops if spec.trace else ():
        if op.kind == "output" and tid in op.inputs:
            i = op.inputs.index(tid)
            if i < len(spec.outputs):
                return spec.outputs[i].name
    return tensor.name or "output"


__all__ = [
    "MAX_SHOWN",
    "MIN_WORK",
    "WORK_PER_ITEM",
    "Derivation",
    "Flow",
    "Node",
    "Origin",
    "attach",
    "index_map",
    "parse_dim",
    "reshape_groups",
    "slice_length",
    "window_size",
    "work_budget",
]
