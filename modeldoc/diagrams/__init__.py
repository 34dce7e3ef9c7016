"""Graphviz diagrams of a model: the module tree and the data flow of the traced forward pass.

Each diagram is built in steps that pass plain, frozen data (`model`) along:

- `tree`: the module tree of a `ModelSpec` ▶ a `Diagram` (boxes and edges);
- `flow`: the trace ▶ a `FlowGraph` (steps and the tensors between them) ▶ folded
  (`fold`) ▶ a `Diagram` (clusters, boxes, edges);
- `labels`: what a box says (a layer's key hyperparameters, a tensor's size);
- `dot`: a `Diagram` ▶ DOT text, through one escaper per Graphviz context;
- `svg`: DOT text ▶ SVG, the one place that runs `dot` (`render_svgs` for many at once).

Everything but `svg` is pure: the same spec gives the same DOT text.

SVG classes (for the site's CSS): ``modeldoc-layer`` (a leaf module, or one call of it),
``modeldoc-container`` (a module drawn with its children), ``modeldoc-block`` (a submodule
drawn collapsed), ``modeldoc-fold`` (a run of repeated modules folded into one box),
``modeldoc-more`` (children left out), ``modeldoc-op`` (a functional op), ``modeldoc-io``
with ``modeldoc-input`` / ``modeldoc-output`` (data entering or leaving the diagram),
``modeldoc-failure`` (where a partial trace stopped), ``modeldoc-cluster`` and
``modeldoc-edge``; the graph itself is ``modeldoc-tree`` or ``modeldoc-flow``.
"""

from __future__ import annotations

from modeldoc.diagrams.dot import Href, write_dot
from modeldoc.diagrams.flow import MAX_FLOW_NODES, draw_flow, flow_blocks, flow_dot, flow_graph
from modeldoc.diagrams.fold import FOLD_MIN
from modeldoc.diagrams.labels import brief
from modeldoc.diagrams.svg import render_svg, render_svgs, require_dot
from modeldoc.diagrams.tree import MAX_CHILDREN, draw_tree, tree_dot

__all__ = [
    "FOLD_MIN",
    "MAX_CHILDREN",
    "MAX_FLOW_NODES",
    "Href",
    "brief",
    "draw_flow",
    "draw_tree",
    "flow_blocks",
    "flow_dot",
    "flow_graph",
    "render_svg",
    "render_svgs",
    "require_dot",
    "tree_dot",
    "write_dot",
]
