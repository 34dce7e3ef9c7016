"""Running Graphviz: SVG for one diagram or many, and what happens when `dot` is missing or refuses."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from modeldoc import diagrams
from modeldoc.errors import GraphvizNotFound, ModeldocError
from modeldoc.examples.fashion import Network
from tests.diagram_reading import SVG, XLINK, href, svg_tree
from tests.diagram_traces import fashion_trace, static


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


def test_an_svg_is_only_the_svg_element() -> None:
    svg = diagrams.render_svg(diagrams.tree_dot(static(Network()), "", 2, href))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "<!--" not in svg and "<!DOCTYPE" not in svg
    assert not re.search(r"<!--|-->", svg)
