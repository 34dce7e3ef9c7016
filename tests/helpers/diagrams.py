"""Reading the diagrams back in tests: DOT statements by node title, SVG as an element tree."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from modeldoc import diagrams

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def href(path: str) -> str:
    """The link a diagram node gets in these tests: ``#path``."""
    return f"#{path}"


def nodes(dot: str) -> dict[str, str]:
    """DOT node name to its statement."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^\s*(n\d+) \[.*$", dot, re.MULTILINE)}


def edges(dot: str) -> list[tuple[str, str, str]]:
    """(tail title, head title, label) of every edge, by the bold titles of its nodes."""
    titles = {name: re.search(r"<B>(.*?)</B>", stmt).group(1) for name, stmt in nodes(dot).items()}  # type: ignore[union-attr]
    found = re.findall(r"^\s*(n\d+) -> (n\d+) \[.*?label=<(.*?)>", dot, re.MULTILINE)
    return [(titles[a], titles[b], label) for a, b, label in found]


def titled(dot: str, title: str) -> str:
    """The statement of the node whose bold title is `title`."""
    [stmt] = [s for s in nodes(dot).values() if f"<B>{title}</B>" in s]
    return stmt


def label_of(stmt: str) -> str:
    """The HTML-like label of a node statement."""
    return re.search(r"label=<(.*?)>, ", stmt).group(1)  # type: ignore[union-attr]


def svg_tree(dot: str) -> ET.Element:
    """The SVG the real `dot` draws for `dot`, parsed (so it must be well-formed)."""
    return ET.fromstring(diagrams.render_svg(dot))
