"""The module-tree diagram: boxes per module, folded repeats, collapsed depth, wide modules."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from modeldoc import diagrams
from modeldoc.diagrams.model import Box, Edge
from modeldoc.examples.fashion import Network
from tests.helpers.diagrams import href, nodes, svg_tree, titled
from tests.helpers.traces import static
from tests.models import Llama, Stack


def test_tree_names_path_type_and_hyperparameters(golden: Any) -> None:
    dot = diagrams.tree_dot(static(Network()), "", 2, href)
    golden.check("fashion_tree.dot", dot)
    assert '<B>conv1</B><BR/><FONT POINT-SIZE="9">Conv2d 1→6, 5×5</FONT>' in dot
    assert 'URL="#conv1"' in titled(dot, "conv1")
    assert "32,998 parameters" in titled(dot, "Network")


def test_tree_collapses_modules_below_depth_with_a_more_hint() -> None:
    spec = static(Stack(2))
    deep = diagrams.tree_dot(spec, "", 3, href)
    shallow = diagrams.tree_dot(spec, "", 1, href)
    assert "<B>norm</B>" in deep
    assert "<B>norm</B>" not in shallow
    blocks = titled(shallow, "blocks")
    assert "ModuleList · 2 × Block" in blocks
    assert 'class="modeldoc-block"' in blocks
    assert 'URL="#blocks"' in blocks
    assert "Attn · 2 × Linear" in titled(diagrams.tree_dot(spec, "blocks.0", 1, href), "attn")
    assert "Sequential · +3 more" in titled(diagrams.tree_dot(spec, "blocks.0", 1, href), "mlp")


def test_tree_of_a_1000_module_model_stays_small_and_narrow() -> None:
    with torch.device("meta"):
        spec = static(Llama())
    assert len(spec.layers) >= 1000
    for root, depth in (("", 2), ("", 4), ("layers", 2)):
        dot = diagrams.tree_dot(spec, root, depth, href)
        assert len(nodes(dot)) <= 30, (root, depth)
        svg = svg_tree(dot)
        assert float(svg.get("width", "0pt").removesuffix("pt")) < 900
    dot = diagrams.tree_dot(spec, "layers", 2, href)
    fold = titled(dot, "1 … 78")
    assert "78 more × LlamaBlock" in fold
    assert 'class="modeldoc-fold"' in fold
    assert "<B>0</B>" in dot
    assert "<B>79</B>" in dot


def test_tree_shows_the_first_children_of_a_very_wide_module() -> None:
    wide = nn.Sequential(*[nn.Linear(2, 2) if i % 2 else nn.ReLU() for i in range(40)])
    dot = diagrams.tree_dot(static(wide), "", 2, href)
    assert len(nodes(dot)) == diagrams.MAX_CHILDREN
    more = titled(dot, f"+{40 - diagrams.MAX_CHILDREN + 2} more")
    assert 'class="modeldoc-more"' in more


def test_tree_drawing_is_plain_data_parents_before_children() -> None:
    drawing = diagrams.draw_tree(static(Network()), "", 2)
    assert (drawing.kind, drawing.rankdir) == ("tree", "LR")
    boxes = [s for s in drawing.statements if isinstance(s, Box)]
    assert [b.title for b in boxes] == ["Network", "conv1", "conv2", "fc1", "fc2", "out"]
    assert boxes[0].classes == ("modeldoc-root",)
    assert boxes[1].lines == ("Conv2d 1→6, 5×5",)
    assert boxes[1].link == "conv1"
    root = boxes[0].key
    assert [(e.tail, e.head) for e in drawing.statements if isinstance(e, Edge)] == [(root, b.key) for b in boxes[1:]]
