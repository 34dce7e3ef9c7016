"""The module-tree diagram: a model's modules below a root, as boxes linked parent to child."""

from __future__ import annotations

from itertools import count

from modeldoc.diagrams.dot import Href, write_dot
from modeldoc.diagrams.fold import Shapes, fold_runs
from modeldoc.diagrams.labels import collapsed_line, type_line
from modeldoc.diagrams.model import Box, Diagram, Edge, Statement
from modeldoc.pages.layout import anchor
from modeldoc.spec import ModelSpec

MAX_CHILDREN = 16
"""At most this many children of one module are drawn; the rest become "+N more"."""


def tree_dot(spec: ModelSpec, root: str, depth: int, href: Href, *, id_prefix: str = "") -> str:
    """The module tree below `root`, `depth` levels deep, each node linking to its section.

    Deeper modules are summarised in their ancestor's box (``+N more``); runs of identical
    sibling blocks fold into first, ``… N more``, last; a module with very many children
    shows the first ones and a ``+N more`` box.
    """
    return write_dot(draw_tree(spec, root, depth), href, id_prefix=id_prefix)


def draw_tree(spec: ModelSpec, root: str, depth: int) -> Diagram:
    """The boxes and edges of the module tree below `root`, parents before their children."""
    layers = {layer.path: layer for layer in spec.all_layers}
    shapes = Shapes(layers)
    statements: list[Statement] = []
    keys = (f"n{i}" for i in count())

    def visit(path: str, level: int) -> str:
        layer = layers[path]
        key = next(keys)
        children = [c for c in layer.children if c in layers]
        if not children:
            kind, small = "layer", type_line(layer)
        elif level >= depth:
            kind, small = "block", collapsed_line(layer, layers, shapes.inside(path))
        else:
            kind, small = "container", layer.type_name if path else f"{spec.total_params:,} parameters"
        statements.append(
            Box(
                key=key,
                kind=kind,
                title=(path or spec.name) if level == 0 else layer.name,
                lines=(small,),
                element=anchor(path),
                tooltip=f"{path or spec.name}: {layer.repr}",
                link=path,
                classes=("modeldoc-root",) if level == 0 else (),
            )
        )
        if kind != "container":
            return key
        runs = fold_runs(children, lambda a, b: shapes.signature(a) == shapes.signature(b))
        shown = runs if len(runs) <= MAX_CHILDREN else runs[: MAX_CHILDREN - 2]
        for run in shown:
            child = visit(run.items[0], level + 1) if not run.folded else fold(run.items)
            statements.append(Edge(tail=key, head=child))
        if len(shown) < len(runs):
            left = sum(len(run.items) for run in runs[len(shown) :])
            more = next(keys)
            statements.append(
                Box(
                    key=more,
                    kind="more",
                    title=f"+{left} more",
                    lines=("children of " + (path or spec.name),),
                    element=anchor(path) + "-more",
                    tooltip=f"{left} more children of {path or spec.name}; see its section",
                    link=path,
                )
            )
            statements.append(Edge(tail=key, head=more))
        return key

    def fold(paths: tuple[str, ...]) -> str:
        key = next(keys)
        first, last = layers[paths[0]], layers[paths[-1]]
        statements.append(
            Box(
                key=key,
                kind="fold",
                title=f"{first.name} … {last.name}",
                lines=(f"{len(paths)} more × {first.type_name}",),
                element=anchor(first.path) + "-fold",
                tooltip=f"{first.path} to {last.path}: {len(paths)} more modules like the ones around them",
                link=first.path,
            )
        )
        return key

    visit(root, 0)
    return Diagram(kind="tree", rankdir="LR", ranksep=0.4, statements=tuple(statements))
