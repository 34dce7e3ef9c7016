"""Graphviz diagrams: pure DOT builders, and one small function that runs `dot`."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable

from modeldoc.errors import GraphvizNotFound, ModeldocError
from modeldoc.spec import LayerSpec, ModelSpec

Href = Callable[[str], str]
"""Maps a layer path to the link its diagram node points at."""


def tree_dot(spec: ModelSpec, root: str, depth: int, href: Href) -> str:
    """The module tree below `root`, `depth` levels deep, each node linking to its section."""
    top = spec.layer(root)
    lines = [
        "digraph modules {",
        '  graph [rankdir=TB, bgcolor="transparent", fontname="Helvetica", nodesep=0.25, ranksep=0.35];',
        '  node [shape=box, style="rounded,filled", fillcolor="#eef3ff", color="#3f51b5", '
        'fontname="Helvetica", fontsize=11];',
        '  edge [color="#7986cb", arrowsize=0.6];',
    ]
    ids: dict[str, str] = {}

    def visit(layer: LayerSpec, level: int) -> None:
        node = f"n{len(ids)}"
        ids[layer.path] = node
        label = f"{layer.name or spec.name}\\n{layer.type_name}"
        lines.append(
            f'  {node} [label="{_escape(label)}", URL="{_escape(href(layer.path))}", '
            f'target="_top", tooltip="{_escape(layer.path or spec.name)}", id="node-{node}"];'
        )
        if level >= depth:
            return
        for child in layer.children:
            visit(spec.layer(child), level + 1)
            lines.append(f"  {node} -> {ids[child]};")

    visit(top, 0)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    r"""Escape a string for a double-quoted DOT attribute (keeps ``\\n`` line breaks)."""
    return text.replace("\\", "\\\\").replace("\\\\n", "\\n").replace('"', '\\"')


_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def render_svg(dot: str) -> str:
    """Run Graphviz `dot` on `dot` and return the SVG element, ready to inline in HTML."""
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizNotFound()
    result = subprocess.run([binary, "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, check=False, timeout=300)
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ModeldocError(f"Graphviz failed on a diagram: {message[0] if message else 'no message'}")
    svg = result.stdout.decode("utf-8")
    return _COMMENT.sub("", _XML_PROLOGUE.sub("", svg, count=1)).strip()
