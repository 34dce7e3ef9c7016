"""What the pages show of the weights' values: statistics, histograms, and links to the pictures.

Pure. The statistics come from the spec (`ParamSpec.stats`); the pictures are PNG files that the
site writes beside the model's pages, in its ``weights/`` folder (`PICTURES`), and a page links
them by a URL relative to itself. A histogram is small enough to sit in the page as inline SVG,
drawn in ``currentColor`` so that it takes the palette's text colour.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from markupsafe import Markup, escape

from modeldoc.spec import ModelSpec, Picture, TensorStats

PICTURES = "weights"
"""The folder, inside a model's folder of pages, that holds its pictures."""
HISTOGRAM_WIDTH = 96
HISTOGRAM_HEIGHT = 24


def do_number(value: float) -> str:
    """A statistic in four significant digits: ``0.0123``, ``-1.5e-05``."""
    return f"{value:.4g}"


def do_fraction(value: float) -> str:
    """A fraction as a percentage: ``0.25`` becomes ``"25%"``; a tiny non-zero one is not rounded to 0."""
    if value == 0:
        return "0%"
    if value < 0.001:
        return "<0.1%"
    return f"{100 * value:.3g}%"


def do_histogram(stats: TensorStats) -> Markup:
    """The histogram of `stats` as a small inline SVG with its own description for screen readers."""
    counts = stats.histogram
    label = (
        f"Histogram of the values from {do_number(stats.min)} to {do_number(stats.max)} in {len(counts)} bins; "
        f"the fullest bin holds {max(counts, default=0):,} values"
    )
    if not counts:
        return Markup("–")
    top = max(counts) or 1
    width = HISTOGRAM_WIDTH / len(counts)
    bars = []
    for i, count in enumerate(counts):
        height = HISTOGRAM_HEIGHT * count / top
        if count and height < 1:
            height = 1.0  # a bin that holds anything shows
        bars.append(
            f'<rect x="{i * width:.2f}" y="{HISTOGRAM_HEIGHT - height:.2f}" width="{max(width - 0.5, 0.5):.2f}" '
            f'height="{height:.2f}"/>'
        )
    return Markup(
        f'<svg class="modeldoc-histogram" role="img" width="{HISTOGRAM_WIDTH}" height="{HISTOGRAM_HEIGHT}" '
        f'viewBox="0 0 {HISTOGRAM_WIDTH} {HISTOGRAM_HEIGHT}" fill="currentColor" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{''.join(bars)}</svg>"
    )


def picture_href(page_file: str, picture: Picture, *, directory_urls: bool = True) -> str:
    """The URL of `picture` relative to the built page of `page_file` (both in the model's folder).

    Raw HTML is not rewritten by MkDocs, so the link is the final one: with directory URLs,
    ``blocks/3.md`` is served as ``blocks/3/``.
    """
    stem = page_file.removesuffix(".md")
    if directory_urls:
        folder = posixpath.dirname(stem) if posixpath.basename(stem) == "index" else stem
    else:
        folder = posixpath.dirname(stem)
    return posixpath.relpath(f"{PICTURES}/{picture.file}", folder or ".")


def context(spec: ModelSpec, page_file: str, *, directory_urls: bool, single_page: bool) -> dict[str, Any]:
    """What the templates need to show the pictures of one page: ``pictures(path)`` and ``picture_src(picture)``.

    A page rendered into another (a ``:::`` block) has no folder of its own: it shows no pictures.
    """
    by_layer: dict[str, list[Picture]] = {}
    if not single_page:
        for picture in spec.pictures:
            by_layer.setdefault(picture.layer, []).append(picture)

    def pictures(path: str) -> list[Picture]:
        return by_layer.get(path, [])

    src: Callable[[Picture], str] = lambda picture: picture_href(page_file, picture, directory_urls=directory_urls)  # noqa: E731
    return {"pictures": pictures, "picture_src": src}
