"""DOT writing: one escaper per Graphviz context, unique ids, names in order, deterministic text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from modeldoc import diagrams
from modeldoc.diagrams.dot import write_dot
from modeldoc.diagrams.model import Box, Cluster, Diagram, Edge, Rank
from tests.helpers.diagrams import SVG, XLINK, href, svg_tree
from tests.helpers.traces import HOSTILE, hostile_spec, stack_spec, static
from tests.models import Stack


def test_dot_text_is_deterministic() -> None:
    assert diagrams.flow_dot(stack_spec(), "", 2, href) == diagrams.flow_dot(stack_spec(), "", 2, href)
    spec = static(Stack())
    assert diagrams.tree_dot(spec, "", 3, href) == diagrams.tree_dot(spec, "", 3, href)


@pytest.mark.parametrize("kind", ["tree", "flow"])
def test_hostile_names_reach_the_svg_as_text(kind: str) -> None:
    spec = hostile_spec()
    link = lambda p: f'#"><script>alert(1)</script>{p}'  # noqa: E731 - a hostile href callback
    dot = diagrams.tree_dot(spec, "", 2, link) if kind == "tree" else diagrams.flow_dot(spec, "", 2, link)
    svg = svg_tree(dot)  # parses: nothing broke out of an attribute or a text node
    assert {el.tag.removeprefix(SVG) for el in svg.iter()} <= {
        "svg",
        "g",
        "title",
        "text",
        "a",
        "path",
        "polygon",
        "ellipse",
    }
    texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    tips = [a.get(f"{XLINK}title") or "" for a in svg.iter(f"{SVG}a")]
    links = [a.get(f"{XLINK}href") or "" for a in svg.iter(f"{SVG}a")]
    for key in HOSTILE:
        assert key in texts
        assert any(key in tip for tip in tips)
    assert all("<" not in link and '"' not in link for link in links)
    assert "%3Cscript%3E" in links[0]
    if kind == "flow":
        assert "</B>op\\G" in texts
        assert 'dim="<b>" \\ &amp;' in texts
        assert 'in"put\\N' in texts
        assert "N × <L>" in texts
        assert any("<script>alert(1)</script> \\N" in tip for tip in tips)


def one_box(**box: str) -> Diagram:
    fields = {"key": "a", "kind": "layer", "title": "t", "element": "a", "tooltip": "", **box}
    return Diagram(kind="flow", rankdir="TB", ranksep=0.3, statements=(Box(**fields),))


def drawn(diagram: Diagram, link: diagrams.Href = href) -> ET.Element:
    """The real `dot`'s SVG element of the one box in `diagram`."""
    svg = svg_tree(write_dot(diagram, link))
    [node] = [g for g in svg.iter(f"{SVG}g") if "node" in (g.get("class") or "")]
    return node


@pytest.mark.parametrize(
    "text",
    [
        "]",  # Graphviz's HTML lexer fails on a label that is only a closing bracket
        "[x]",
        "\\N \\G \\L",  # expanded by Graphviz even in HTML-like labels
        "<b>&amp; &lt;</b>",
        "tab\there",
        "nul\x00bell\x07 end",  # XML cannot carry them; Graphviz would stop at the NUL
    ],
)
def test_a_label_reaches_the_svg_as_written(text: str) -> None:
    node = drawn(one_box(title=text, lines=(f"small {text}",)))
    texts = [t.text for t in node.iter(f"{SVG}text")]
    shown = text.replace("\t", " ").replace("\x00", "\\x00").replace("\x07", "\\x07")
    assert texts == [shown, f"small {shown}"]


@pytest.mark.parametrize("text", ['say "hi"', "\\N and \\\\ twice", "&amp; <b>", "line\nbreak"])
def test_a_tooltip_reaches_the_svg_as_written(text: str) -> None:
    node = drawn(one_box(tooltip=text, link="x"))
    [anchor] = node.iter(f"{SVG}a")
    assert anchor.get(f"{XLINK}title") == text.replace("\n", " ")


def test_a_link_cannot_end_its_attribute_or_start_an_entity() -> None:
    node = drawn(one_box(link="x"), link=lambda _: '../p/#"><script>&amp;')
    [anchor] = node.iter(f"{SVG}a")
    assert anchor.get(f"{XLINK}href") == "../p/#%22%3E%3Cscript%3E%26amp;"


def test_ids_are_safe_prefixed_and_unique() -> None:
    diagram = Diagram(
        kind="tree",
        rankdir="LR",
        ranksep=0.4,
        statements=(
            Box(key="x", kind="layer", title="a", element='a b"<c>&', tooltip=""),
            Box(key="y", kind="layer", title="b", element='a b"<c>&', tooltip=""),
        ),
    )
    svg = svg_tree(write_dot(diagram, href, id_prefix="m1-"))
    ids = [g.get("id") for g in svg.iter(f"{SVG}g") if "node" in (g.get("class") or "")]
    assert ids == ["m1-tree-a-b-c-", "m1-tree-a-b-c--2"]


def test_an_empty_title_is_shown_quoted() -> None:
    texts = [t.text for t in drawn(one_box(title="")).iter(f"{SVG}text")]
    assert texts == ["''"]


def test_the_writer_names_boxes_in_the_order_it_writes_them() -> None:
    inner = Box(key="second", kind="op", title="add", element="op-1", tooltip="add")
    diagram = Diagram(
        kind="flow",
        rankdir="TB",
        ranksep=0.3,
        statements=(
            Box(key="first", kind="input", title="x", element="input-x", tooltip="in"),
            Cluster(title="c", lines=("Block",), element="cluster-c", tooltip="c: Block()", statements=(inner,)),
            Rank(side="min", keys=("first",)),
            Edge(tail="first", head="second", label="N × 4", tooltip="x → add"),
            Edge(tail="second", head="first"),
        ),
    )
    lines = write_dot(diagram, href).splitlines()
    assert lines[0] == "digraph flow {"
    assert lines[4].startswith('  n0 [label=<<B>x</B>>, shape=box, style="filled"')
    assert lines[5] == "  subgraph cluster_5 {"
    assert lines[6].startswith('    graph [label=<<B>c</B><BR/><FONT POINT-SIZE="9">Block</FONT>>, id="flow-cluster-c"')
    assert 'URL="' not in lines[6]  # no link asked for
    assert lines[7].startswith("    n1 [label=<<B>add</B>>, shape=ellipse")
    assert 'class="modeldoc-op"' in lines[7]
    assert lines[8:] == [
        "  }",
        "  {rank=min; n0;}",
        '  n0 -> n1 [id="flow-e0", class="modeldoc-edge", label=<N × 4>, tooltip="x → add"];',
        '  n1 -> n0 [id="flow-e1", class="modeldoc-edge"];',
        "}",
    ]
