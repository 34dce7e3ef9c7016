"""Running Graphviz: SVG for one diagram or many, and what happens when `dot` is missing or refuses."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest

from modeldoc import diagrams, progress
from modeldoc.diagrams import svg
from modeldoc.diagrams.dot import write_dot
from modeldoc.diagrams.model import Box, Diagram
from modeldoc.errors import GraphvizNotFound, ModeldocError
from modeldoc.examples.fashion import Network
from tests.helpers.diagrams import SVG, XLINK, href, svg_tree
from tests.helpers.traces import fashion_trace, hostile_spec, stack_spec, static


def test_svg_has_classes_ids_and_links_to_sections() -> None:
    spec = replace(static(Network()), trace=fashion_trace())
    svg = svg_tree(diagrams.flow_dot(spec, "", 2, lambda p: f"../page/#layer-{p}", id_prefix="m1-"))
    groups = {g.get("id"): g for g in svg.iter(f"{SVG}g")}
    assert svg.find(f"{SVG}g").get("class") == "graph modeldoc-flow"  # type: ignore[union-attr]
    conv1 = groups["m1-flow-layer-conv1"]
    assert conv1.get("class") == "node modeldoc-layer"
    assert conv1.find(f".//{SVG}a").get(f"{XLINK}href") == "../page/#layer-conv1"  # type: ignore[union-attr]
    classes = {g.get("class") for g in groups.values()}
    assert {"node modeldoc-op", "node modeldoc-io modeldoc-input", "edge modeldoc-edge"} <= classes
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert "N × 6 × 24 × 24" in labels
    tree = svg_tree(diagrams.tree_dot(spec, "", 2, href, id_prefix="m1-"))
    assert {g.get("id") for g in tree.iter(f"{SVG}g")}.isdisjoint(groups)  # two diagrams on one page


def test_render_svg_without_dot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotFound, match="install Graphviz"):
        diagrams.render_svg("digraph { a }")


def test_render_svg_reports_what_dot_rejected() -> None:
    with pytest.raises(ModeldocError, match="Graphviz failed on a diagram"):
        diagrams.render_svg("digraph { a -> }")


TRICKY = ('<?xml version="1.0"?></svg><svg>', "<!-- not a comment --> ]]>")
"""Text that looks like the SVG around it: the diagrams must still come back whole, one each."""


def some_dots() -> list[str]:
    """Real diagrams of several kinds, and one whose labels look like the SVG around them."""
    spec = replace(static(Network()), trace=fashion_trace())
    tricky = Box(key="a", kind="layer", title=TRICKY[0], lines=(TRICKY[1],), element="a", tooltip=TRICKY[1])
    return [
        diagrams.tree_dot(spec, "", 2, href),
        diagrams.flow_dot(spec, "", 2, href, id_prefix="m1-"),
        write_dot(Diagram(kind="tree", rankdir="LR", ranksep=0.4, statements=(tricky,)), href),
        diagrams.flow_dot(stack_spec(), "", 2, href),
        diagrams.flow_dot(hostile_spec(), "", 2, href),
        diagrams.tree_dot(hostile_spec(), "", 2, href),
    ]


def test_many_diagrams_come_back_in_order_each_as_one_drawn_alone() -> None:
    dots = some_dots()
    assert diagrams.render_svgs(dots) == [diagrams.render_svg(dot) for dot in dots]
    assert diagrams.render_svgs(dots, workers=1) == diagrams.render_svgs(list(reversed(dots)))[::-1]
    tricky = diagrams.render_svgs(dots)[2]
    assert tricky.startswith("<svg") and tricky.endswith("</svg>")
    assert [t.text for t in ET.fromstring(tricky).iter(f"{SVG}text")] == list(TRICKY)


def test_the_same_diagram_twice_is_drawn_once_and_counted_twice() -> None:
    class Ticks(progress.Reporter):
        def __init__(self) -> None:
            self.ticks = 0

        def tick(self, what: str) -> None:
            self.ticks += what == "diagrams"

    dots = some_dots()[:2]
    counted = Ticks()
    with progress.reporting(counted):
        svgs = diagrams.render_svgs([dots[0], dots[1], dots[0]])
    assert svgs[0] == svgs[2] != svgs[1]
    assert counted.ticks == 3
    assert diagrams.render_svgs([]) == []


def test_render_svgs_reports_what_dot_rejected_and_without_dot_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    good = some_dots()[0]
    with pytest.raises(ModeldocError, match=r"^Graphviz failed on a diagram: .*syntax error"):
        diagrams.render_svgs([good, "digraph { a -> }", good + " "])
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotFound, match="install Graphviz"):
        diagrams.render_svgs([good])


def test_an_svg_is_only_the_svg_element() -> None:
    svg = diagrams.render_svg(some_dots()[0])
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "<!--" not in svg and "<!DOCTYPE" not in svg
    assert not re.search(r"<!--|-->", svg)


def test_a_diagram_dot_does_not_finish_in_time_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(svg, "_TIMEOUT", 1e-6)
    with pytest.raises(ModeldocError, match=r"did not finish a diagram in 1e-06 s; draw fewer levels \(--depth 1\)"):
        diagrams.render_svgs(some_dots()[:1])
