"""SVG from DOT text: the one place that runs Graphviz's `dot`."""

from __future__ import annotations

import re
import shutil
import subprocess

from modeldoc import progress
from modeldoc.errors import GraphvizNotFound, ModeldocError

_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TIMEOUT = 300


def require_dot() -> str:
    """The path of Graphviz's `dot`, or GraphvizNotFound saying how to install it."""
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizNotFound()
    return binary


def render_svg(dot: str) -> str:
    """Run Graphviz `dot` on `dot` and return the SVG element, ready to inline in HTML."""
    svg = _run_dot(require_dot(), dot)
    progress.tick("diagrams")
    return svg


def _run_dot(binary: str, dot: str) -> str:
    """One `dot -Tsvg` process on `dot`: the SVG element, without the XML prologue and comments."""
    result = subprocess.run(
        [binary, "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, check=False, timeout=_TIMEOUT
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ModeldocError(f"Graphviz failed on a diagram: {message[0] if message else 'no message'}")
    svg = result.stdout.decode("utf-8")
    return _COMMENT.sub("", _XML_PROLOGUE.sub("", svg, count=1)).strip()
