"""DOT text from a `Diagram`: the one place that writes Graphviz syntax.

Every user-controlled string (module names, ModuleDict keys, op arguments, symbolic
dimensions) passes through one escaper per DOT context, so it reaches the SVG as text:
``_html`` for HTML-like labels, ``_text`` for escString attributes such as tooltips,
``_url`` for links and ``_safe_id`` for element ids.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

from modeldoc.diagrams.model import CLASSES, Box, Cluster, Diagram, Edge, Rank, Statement

Href = Callable[[str], str]
"""Maps a layer path to the link its diagram node points at."""

# Fills are light and text is dark inside every box, so boxes read on any page background;
# lines and the text outside boxes (edge and cluster labels) are a mid grey that reads on
# both white and dark pages. The site's CSS restyles all of them by class.
_INK = "#1f2430"
_GREY = "#8a8f98"
_STYLE = {
    "layer": ('style="rounded,filled"', "#e8eaf6", "#3f51b5"),
    "container": ('style="rounded,filled"', "#f3f4f8", "#5c6bc0"),
    "block": ('style="rounded,filled", peripheries=2', "#fff3e0", "#ef6c00"),
    "fold": ('style="rounded,filled,dashed"', "#fff8e1", "#ef6c00"),
    "more": ('style="rounded,filled,dashed"', "#f5f5f5", _GREY),
    "op": ('shape=ellipse, style=filled, fontsize=9, height=0.2, margin="0.04,0.02"', "#f1f3f4", "#757575"),
    "input": ('shape=box, style="filled"', "#e0f2f1", "#00897b"),
    "output": ('shape=box, style="filled"', "#e0f2f1", "#00897b"),
    "failure": ('shape=octagon, style="filled"', "#ffebee", "#c62828"),
}


# --- escaping -------------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _visible(text: object) -> str:
    r"""`text` with the characters XML cannot carry (controls, lone surrogates) written as ``\xNN`` escapes.

    Graphviz rejects them in labels ("not well-formed") or cuts the input at a NUL byte.
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), str(text))


def _html(text: object) -> str:
    r"""`text` for an HTML-like label, shown as written.

    Entities are escaped, and backslashes doubled: Graphviz expands ``\N`` and its
    friends even inside HTML-like labels. Square brackets become character references:
    Graphviz's HTML lexer fails on a label whose text is only ``]``.
    """
    escaped = html.escape(_visible(text.replace("\t", " ") if isinstance(text, str) else text), quote=True)
    escaped = escaped.replace("\\", "\\\\").replace("[", "&#91;").replace("]", "&#93;")
    return re.sub(r"[\r\n]+", " ", escaped)


def _text(text: object) -> str:
    """`text` for a double-quoted escString attribute (tooltip) that reaches the SVG as text.

    Graphviz copies ``&...;`` entities into the SVG unescaped and applies two rounds of
    backslash processing to tooltips, hence the ``&amp;`` and the four backslashes.
    """
    escaped = html.escape(_visible(text), quote=False).replace("\\", "\\\\\\\\").replace('"', '\\"')
    return re.sub(r"[\r\n]+", " ", escaped)


def _url(url: str) -> str:
    """A link for a ``URL`` attribute.

    Graphviz writes URLs into the SVG unescaped, so every character that could end the
    attribute or start an entity is percent-encoded.
    """
    return quote(url, safe="/#:?=%@!$()*+,;~.-_", errors="backslashreplace")


def _safe_id(text: str) -> str:
    r"""An element id made only of letters, digits, ``-`` and ``_``.

    Graphviz applies backslash processing to ids and copies ``&...;`` entities through, and
    the page's links and styles find elements by id: only these characters pass unchanged.
    """
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)


def _html_label(title: str, lines: Sequence[str]) -> str:
    """An HTML-like label: a bold title, then small lines (empty ones left out).

    A title with no visible character (an empty ModuleDict key) is shown quoted, ``''``:
    Graphviz rejects an empty ``<B></B>``.
    """
    shown = title if title.strip() else repr(title)
    rows = [f"<B>{_html(shown)}</B>"] + [f'<FONT POINT-SIZE="9">{_html(s)}</FONT>' for s in lines if s]
    return "<BR/>".join(rows)


# --- the DOT text ---------------------------------------------------------------------


def write_dot(diagram: Diagram, href: Href, *, id_prefix: str = "") -> str:
    """The DOT text of `diagram`; boxes link to ``href(path)``, element ids start with `id_prefix`.

    Boxes are named ``n0``, ``n1``, ... in the order they are written.
    """
    dot = _Dot(f"{id_prefix}{diagram.kind}", href)
    dot.lines += _header(dot.graph_id, diagram)
    dot.statements(diagram.statements, "  ")
    return "\n".join([*dot.lines, "}"]) + "\n"


def _header(graph_id: str, diagram: Diagram) -> list[str]:
    return [
        f"digraph {diagram.kind} {{",
        f'  graph [id="{graph_id}", class="modeldoc-{diagram.kind}", rankdir={diagram.rankdir}, '
        f'bgcolor="transparent", fontname="Helvetica", fontsize=10, fontcolor="{_GREY}", nodesep=0.25, '
        f"ranksep={diagram.ranksep}];",
        f'  node [shape=box, fontname="Helvetica", fontsize=11, fontcolor="{_INK}", height=0.3, margin="0.1,0.04"];',
        f'  edge [color="{_GREY}", fontname="Helvetica", fontsize=9, fontcolor="{_GREY}", arrowsize=0.6];',
    ]


@dataclass
class _Dot:
    """Accumulates the statements of one graph; every attribute value goes through an escaper."""

    graph_id: str
    href: Href
    lines: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)
    edges: int = 0

    def statements(self, statements: Sequence[Statement], pad: str) -> None:
        """Write `statements` in order, each line indented by `pad`."""
        for statement in statements:
            if isinstance(statement, Box):
                self.box(statement, pad)
            elif isinstance(statement, Edge):
                self.edge(statement, pad)
            elif isinstance(statement, Cluster):
                self.cluster(statement, pad)
            else:
                self.rank(statement, pad)

    def name(self, key: str) -> str:
        """The DOT node name for `key`: ``n0``, ``n1``, ... in the order boxes are written."""
        return self.names.setdefault(key, f"n{len(self.names)}")

    def unique(self, wanted: str) -> str:
        """A unique, safe element id."""
        base = self.graph_id + "-" + _safe_id(wanted)
        found, n = base, 1
        while found in self.ids:
            n += 1
            found = f"{base}-{n}"
        self.ids.add(found)
        return found

    def _link(self, path: str | None) -> list[str]:
        url = self.href(path) if path is not None else ""
        return [f'URL="{_url(url)}"', 'target="_top"'] if url else []

    def box(self, box: Box, pad: str) -> None:
        """A node statement in the style of the box's kind."""
        style, fill, line = _STYLE[box.kind]
        attrs = [
            f"label=<{_html_label(box.title, box.lines)}>",
            style,
            f'fillcolor="{fill}"',
            f'color="{line}"',
            f'class="{" ".join((CLASSES[box.kind], *box.classes))}"',
            f'id="{self.unique(box.element)}"',
            f'tooltip="{_text(box.tooltip)}"',
            *self._link(box.link),
        ]
        self.lines.append(f"{pad}{self.name(box.key)} [{', '.join(attrs)}];")

    def edge(self, edge: Edge, pad: str) -> None:
        """An edge statement, with its size label."""
        attrs = [f'id="{self.unique(f"e{self.edges}")}"', 'class="modeldoc-edge"']
        self.edges += 1
        if edge.label:
            attrs.append(f"label=<{_html(edge.label)}>")
        if edge.tooltip:
            attrs.append(f'tooltip="{_text(edge.tooltip)}"')
        self.lines.append(f"{pad}{self.name(edge.tail)} -> {self.name(edge.head)} [{', '.join(attrs)}];")

    def cluster(self, cluster: Cluster, pad: str) -> None:
        """A framed subgraph and the statements inside it."""
        self.lines.append(f"{pad}subgraph cluster_{len(self.lines)} {{")
        attrs = [
            f"label=<{_html_label(cluster.title, cluster.lines)}>",
            f'id="{self.unique(cluster.element)}"',
            'class="modeldoc-cluster"',
            'style="rounded,filled,dashed"',
            'fillcolor="#8a8f9814"',
            f'color="{_GREY}"',
            "labeljust=l",
            f'tooltip="{_text(cluster.tooltip)}"',
            *self._link(cluster.link),
        ]
        self.lines.append(f"{pad}  graph [{', '.join(attrs)}];")
        self.statements(cluster.statements, pad + "  ")
        self.lines.append(f"{pad}}}")

    def rank(self, rank: Rank, pad: str) -> None:
        """Keep boxes on the first or last rank."""
        self.lines.append(f"{pad}{{rank={rank.side}; {'; '.join(self.name(k) for k in rank.keys)};}}")
