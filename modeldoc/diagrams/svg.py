"""SVG from DOT text: the one place that runs Graphviz's `dot`.

Each diagram gets a `dot` process of its own, several at a time. One process for many graphs
would start faster, but Graphviz (2.43) then draws a graph differently depending on the
graphs before it: it prefixes the graph's id with ``page0,1_`` and orders clusters, and
sometimes places them, by where their names landed in memory, so the same diagram came out
different from one build to the next.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from modeldoc import progress
from modeldoc.errors import GraphvizNotFound, ModeldocError

MAX_WORKERS = 8
"""At most this many `dot` processes run at once (fewer on a machine with fewer CPUs)."""

_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TIMEOUT = 300
"""Seconds one `dot` process may take."""


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


def render_svgs(dots: Sequence[str], *, workers: int | None = None) -> list[str]:
    """The SVG element of each DOT text in `dots`, in order, as `render_svg` draws it.

    Identical texts are drawn once. Up to `workers` `dot` processes run at once (by default
    one per CPU this process may use, at most MAX_WORKERS). The first diagram Graphviz
    rejects raises ModeldocError; the ones not yet started are not drawn.
    """
    if not dots:
        return []
    binary = require_dot()
    distinct = list(dict.fromkeys(dots))
    size = min(workers or _cpus(), MAX_WORKERS, len(distinct))
    drawn: dict[str, str] = {}
    with ThreadPoolExecutor(max_workers=max(size, 1)) as pool:
        futures = [pool.submit(_run_dot, binary, dot) for dot in distinct]
        try:
            for dot, future in zip(distinct, futures, strict=True):
                drawn[dot] = future.result()
                progress.tick("diagrams")  # here, not in the workers: the reporter is this thread's
        finally:
            for future in futures:
                future.cancel()
    for _ in range(len(dots) - len(distinct)):
        progress.tick("diagrams")  # every diagram on the pages counts, drawn once or not
    return [drawn[dot] for dot in dots]


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _run_dot(binary: str, dot: str) -> str:
    """One `dot -Tsvg` process on `dot`: the SVG element, without the XML prologue and comments."""
    try:
        result = subprocess.run(
            [binary, "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, check=False, timeout=_TIMEOUT
        )
    except subprocess.TimeoutExpired as err:
        raise ModeldocError(
            f"Graphviz did not finish a diagram in {_TIMEOUT} s; draw fewer levels (--depth 1) or pass --no-diagrams"
        ) from err
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ModeldocError(f"Graphviz failed on a diagram: {message[0] if message else 'no message'}")
    svg = result.stdout.decode("utf-8")
    return _COMMENT.sub("", _XML_PROLOGUE.sub("", svg, count=1)).strip()
