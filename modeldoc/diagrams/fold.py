"""Folding repeats: runs of identical siblings, or identical chained clusters, become first, "… N more", last.

`fold_runs` is the rule both diagrams share; `Shapes` says which subtrees are identical;
`fold_repeats` applies the rule to the steps and clusters of a data-flow graph.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from modeldoc.diagrams.labels import brief
from modeldoc.diagrams.model import FlowCluster, FlowEdge, FlowGraph, FlowItem, FlowStep, within
from modeldoc.spec import LayerSpec

FOLD_MIN = 4
"""Runs of at least this many identical siblings fold into first, "… N more", last."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class Run(Generic[_T]):
    """Consecutive items: one shown as is (len 1), or a folded run."""

    items: tuple[_T, ...]

    @property
    def folded(self) -> bool:
        """True for the middle of a run of repeats, drawn as one box."""
        return len(self.items) > 1


def fold_runs(items: Sequence[_T], same: Callable[[_T, _T], bool]) -> list[Run[_T]]:
    """Group `items` into runs, folding repeats.

    A run of at least FOLD_MIN items where `same` holds for each pair of neighbours keeps
    its first and last item; the middle becomes one folded run.
    """
    out: list[Run[_T]] = []
    i = 0
    while i < len(items):
        j = i + 1
        while j < len(items) and same(items[j - 1], items[j]):
            j += 1
        if j - i >= FOLD_MIN:
            out += [Run((items[i],)), Run(tuple(items[i + 1 : j - 1])), Run((items[j - 1],))]
        else:
            out += [Run((item,)) for item in items[i:j]]
        i = j
    return out


class Shapes:
    """Structural signatures of subtrees (equal for identical repeated blocks) and sizes."""

    def __init__(self, layers: dict[str, LayerSpec]) -> None:
        self.layers = layers
        self._ids: dict[Hashable, int] = {}
        self._sig: dict[str, int] = {}
        self._size: dict[str, int] = {}

    def signature(self, path: str) -> int:
        """The same small number for subtrees of the same shape, types and hyperparameters."""
        self._compute(path)
        return self._sig[path]

    def inside(self, path: str) -> int:
        """How many modules sit below `path`."""
        self._compute(path)
        return self._size[path]

    def _compute(self, path: str) -> None:
        """Signatures and sizes of `path`'s subtree, children first, without recursion."""
        if path in self._sig:
            return
        order: list[str] = []
        stack = [path]
        while stack:
            current = stack.pop()
            if current in self._sig:
                continue
            order.append(current)
            stack.extend(c for c in self.layers[current].children if c in self.layers)
        for current in reversed(order):
            layer = self.layers[current]
            children = [c for c in layer.children if c in self.layers]
            key = (layer.type_name, brief(layer), tuple((self.layers[c].name, self._sig[c]) for c in children))
            self._sig[current] = self._ids.setdefault(key, len(self._ids))
            self._size[current] = sum(1 + self._size[c] for c in children)


# --- the data-flow graph --------------------------------------------------------------


def fold_repeats(graph: FlowGraph) -> FlowGraph:
    """`graph` with runs of identical, chained items (steps or whole clusters) folded in each cluster.

    Outer clusters go first; a cluster that was folded away is not looked into. The edges of
    the folded items move to their fold step.
    """
    items = graph.items()
    members = _cluster_members(graph)
    order = {step.key: step.order for step in graph.steps}
    heads: dict[str, set[str]] = {}
    for e in graph.edges:
        heads.setdefault(e.tail, set()).add(e.head)
    clusters = {c.path: c for c in graph.clusters}

    def keys(item: FlowItem) -> list[str]:
        return [item.key] if isinstance(item, FlowStep) else list(members.get(item, []))

    def signature(item: FlowItem) -> Hashable:
        """Equal for steps or clusters that draw the same thing."""
        if isinstance(item, FlowStep):
            return item.signature if item.kind in ("layer", "block", "op") else ("unique", item.key)
        return ("cluster", clusters[item].signature, tuple(signature(i) for i in items.get(item, [])))

    def linked(first: list[str], second: list[str]) -> bool:
        """True when an edge runs from a step of `first` to a step of `second`."""
        b = set(second)
        return any(not heads.get(tail, set()).isdisjoint(b) for tail in first)

    taken = {step.key for step in graph.steps}

    def fresh_key() -> str:
        n = len(taken)
        while f"n{n}" in taken:
            n += 1
        taken.add(f"n{n}")
        return f"n{n}"

    merged: dict[str, str] = {}
    folds: list[FlowStep] = []
    folded: list[str] = []
    for cluster in sorted(items, key=lambda c: (c is not None, (c or "").count("."), c or "")):
        if cluster is not None and any(within(cluster, f) for f in folded):
            continue
        inside = items[cluster]
        inside_keys = [keys(item) for item in inside]
        sigs = [signature(item) for item in inside]

        def same(i: int, j: int, inside_keys: list[list[str]] = inside_keys, sigs: list[Hashable] = sigs) -> bool:
            return sigs[i] == sigs[j] and linked(inside_keys[i], inside_keys[j])

        for run in fold_runs(range(len(inside)), same):
            if run.folded:
                run_items = [inside[i] for i in run.items]
                first = min(order[k] for k in inside_keys[run.items[0]])
                fold = _fold_step(graph, clusters, cluster, run_items, fresh_key(), first)
                folds.append(fold)
                merged.update((key, fold.key) for i in run.items for key in inside_keys[i])
                folded += [item for item in run_items if isinstance(item, str)]
    if not merged:
        return graph
    return _merge(graph, folds, merged)


def _cluster_members(graph: FlowGraph) -> dict[str, list[str]]:
    """The keys of the steps inside each cluster, at any depth."""
    parents = {c.path: c.parent for c in graph.clusters}
    inside: dict[str, list[str]] = {}
    for step in graph.steps:
        c = step.cluster
        while c is not None:
            inside.setdefault(c, []).append(step.key)
            c = parents[c]
    return inside


def _fold_step(
    graph: FlowGraph, clusters: dict[str, FlowCluster], cluster: str | None, items: list[FlowItem], key: str, order: int
) -> FlowStep:
    """The box that stands for `items`, a run of repeats inside `cluster`."""
    paths = [item.path if isinstance(item, FlowStep) else item for item in items]
    first = items[0]
    if isinstance(first, FlowStep):
        layer_type = first.layer_type
        kind_name = first.title if first.kind == "op" else layer_type or paths[0]
    else:
        layer_type = clusters[first].layer_type
        kind_name = layer_type or paths[0]
    names = [graph.name(p) for p in (paths[0], paths[-1])]
    return FlowStep(
        key=key,
        kind="fold",
        path=paths[0],
        layer_type=layer_type,
        cluster=cluster,
        order=order,
        title=f"{names[0]} … {names[1]}",
        small=(f"{len(items)} more × {kind_name}",),
        tooltip=f"{paths[0]} to {paths[-1]}: {len(items)} more of the same, one after another",
        link=paths[0] if layer_type is not None else None,
    )


def _merge(graph: FlowGraph, folds: list[FlowStep], merged: dict[str, str]) -> FlowGraph:
    """`graph` with the merged steps replaced by their folds, and their edges moved over."""

    def final(key: str) -> str:
        while key in merged:
            key = merged[key]
        return key

    edges: dict[tuple[str, str, str], FlowEdge] = {}
    for e in graph.edges:
        tail, head = final(e.tail), final(e.head)
        if tail == head:
            continue
        found = edges.get((tail, head, e.label))
        tensors = e.tensors if found is None else found.tensors | e.tensors
        edges[tail, head, e.label] = FlowEdge(tail=tail, head=head, label=e.label, tensors=tensors)
    steps = tuple(s for s in (*graph.steps, *folds) if s.key not in merged)
    return replace(graph, steps=steps, edges=tuple(edges.values()))
