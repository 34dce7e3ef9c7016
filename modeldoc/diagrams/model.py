"""The plain data a diagram is made of, passed from one step to the next.

Two levels, each frozen:

- the **drawing** (`Diagram`): boxes, edges, clusters and rank constraints in the order they
  are written, each with the plain text it shows; `dot.write_dot` turns it into DOT text;
- the **data-flow graph** (`FlowGraph`): the steps of a traced forward pass below a root and
  the tensors handed between them, before folding and drawing.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Literal

CLASSES = {
    "layer": "modeldoc-layer",
    "container": "modeldoc-container",
    "block": "modeldoc-block",
    "fold": "modeldoc-fold",
    "more": "modeldoc-more",
    "op": "modeldoc-op",
    "input": "modeldoc-io modeldoc-input",
    "output": "modeldoc-io modeldoc-output",
    "failure": "modeldoc-failure",
}
"""The SVG class of each kind of box (the site's CSS styles them)."""


# --- the drawing ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Box:
    """A node: a bold title over small lines, in the style of its `kind` (a key of CLASSES)."""

    key: str
    """Names the box for the edges; unique in its diagram."""
    kind: str
    title: str
    lines: tuple[str, ...] = ()
    element: str
    """The element id it asks for; the writer prefixes it and makes it unique."""
    tooltip: str
    link: str | None = None
    """The layer path it links to, if any."""
    classes: tuple[str, ...] = ()
    """SVG classes on top of its kind's."""


@dataclass(frozen=True, kw_only=True)
class Edge:
    """An arrow between two boxes, by key, with an optional size label."""

    tail: str
    head: str
    label: str = ""
    tooltip: str = ""


@dataclass(frozen=True, kw_only=True)
class Cluster:
    """A container drawn as a frame around its statements."""

    title: str
    lines: tuple[str, ...] = ()
    element: str
    tooltip: str
    link: str | None = None
    statements: tuple[Statement, ...]


@dataclass(frozen=True, kw_only=True)
class Rank:
    """Boxes drawn on the first (``min``) or last (``max``) rank."""

    side: Literal["min", "max"]
    keys: tuple[str, ...]


Statement = Box | Edge | Cluster | Rank


@dataclass(frozen=True, kw_only=True)
class Diagram:
    """A whole drawing: its kind (``tree`` or ``flow``), direction and statements in order."""

    kind: Literal["tree", "flow"]
    rankdir: Literal["LR", "TB"]
    ranksep: float
    statements: tuple[Statement, ...]


# --- the data-flow graph --------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class FlowStep:
    """One box of the data-flow graph.

    A call of a layer, an op, a collapsed block, a folded run, data entering or leaving, or
    where a partial trace stopped.
    """

    key: str
    kind: Literal["layer", "block", "op", "fold", "input", "output", "failure"]
    path: str
    """The layer path (layers, blocks, folds, failures), the scope (ops), or "" (inputs and outputs)."""
    layer_type: str | None
    """The type name of the layer at `path`; None when `path` names no layer."""
    cluster: str | None
    """Path of the container cluster it is drawn in; None at the top level."""
    order: int
    """Where it comes in the trace; boxes and clusters are drawn in this order."""
    title: str
    small: tuple[str, ...] = ()
    tooltip: str = ""
    link: str | None = None
    """Layer path to link to, if any."""
    call: int = 0
    """Which call of its layer this box is (layers and blocks)."""
    calls: int = 0
    """How many calls of its layer the graph draws."""
    failed: bool = False
    signature: Hashable = None
    """Equal for steps that draw the same thing (what folding compares)."""


@dataclass(frozen=True, kw_only=True)
class FlowEdge:
    """Tensors of one size handed from one step to another."""

    tail: str
    head: str
    label: str
    tensors: frozenset[int]
    """Ids of the distinct tensors the edge stands for."""


@dataclass(frozen=True, kw_only=True)
class FlowCluster:
    """A container below the root whose steps are drawn inside a frame."""

    path: str
    parent: str | None
    """The cluster it sits in; None at the top level."""
    layer_type: str | None
    layer_repr: str | None
    signature: Hashable
    """Equal for containers of the same structure."""


FlowItem = FlowStep | str
"""What a cluster holds: steps, and the paths of the clusters inside it."""


@dataclass(frozen=True, kw_only=True)
class FlowGraph:
    """The data flow of a trace below `root`, `depth` levels deep."""

    model_name: str
    root: str
    depth: int
    steps: tuple[FlowStep, ...]
    edges: tuple[FlowEdge, ...]
    clusters: tuple[FlowCluster, ...]

    def name(self, path: str) -> str:
        """How a box names a layer: its attribute path from the diagram's root."""
        return (relative(path, self.root) if path != self.root else path) or self.model_name

    def items(self) -> dict[str | None, list[FlowItem]]:
        """For each cluster (None = top level): its steps and child clusters, in trace order.

        A cluster comes where its first step comes.
        """
        parents = {c.path: c.parent for c in self.clusters}
        firsts: dict[str, int] = {}
        for step in self.steps:
            c = step.cluster
            while c is not None:
                firsts[c] = min(firsts.get(c, step.order), step.order)
                c = parents[c]
        items: dict[str | None, list[tuple[int, FlowItem]]] = {}
        for step in self.steps:
            items.setdefault(step.cluster, []).append((step.order, step))
        for c, first in firsts.items():
            items.setdefault(parents[c], []).append((first, c))
        return {
            c: [item for _, item in sorted(v, key=lambda p: (p[0], isinstance(p[1], str)))] for c, v in items.items()
        }

    @property
    def blocks(self) -> tuple[str, ...]:
        """Paths of the layers drawn collapsed or folded, once each (blocks as read, then folds)."""
        found = dict.fromkeys(s.path for s in self.steps if s.kind in ("block", "fold") and s.layer_type is not None)
        return tuple(found)


# --- layer paths ----------------------------------------------------------------------


def within(path: str, root: str) -> bool:
    """True when `path` is `root` or below it."""
    return not root or path == root or path.startswith(root + ".")


def relative(path: str, base: str) -> str:
    """`path` as seen from `base` (``"h.0.attn"`` from ``"transformer"`` is ``"h.0.attn"``)."""
    if not base:
        return path
    return path[len(base) + 1 :] if path != base else path


def parent(path: str) -> str:
    """The path of the module that holds `path` (``""`` for a child of the root)."""
    return path.rsplit(".", 1)[0] if "." in path else ""
