"""The tutorial CNN's site, built for real by the command line, read as HTML."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from tests.helpers import FASHION
from tests.helpers.run import invoke
from tests.helpers.sites import section, text_of


@pytest.fixture(scope="module")
def fashion_page(tmp_path_factory):
    out = tmp_path_factory.mktemp("fashion") / "site"
    result = invoke("build", FASHION, "--input-shape", "1,1,28,28", "--out", str(out))
    assert result.exit_code == 0, result.output
    return (out / "network" / "index.html").read_text()


def test_page_shows_the_print_text_and_totals(fashion_page):
    text = html_lib.unescape(text_of(fashion_page))
    assert "32,998 unique (32,998 trainable, 0 frozen)" in text
    assert "(conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))" in html_lib.unescape(fashion_page)
    assert "(out): Linear(in_features=60, out_features=10, bias=True)" in html_lib.unescape(fashion_page)


def test_each_layer_has_a_section_with_its_repr_and_type_link(fashion_page):
    for path, repr_line in [
        ("conv1", "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))"),
        ("conv2", "Conv2d(6, 12, kernel_size=(5, 5), stride=(1, 1))"),
        ("fc1", "Linear(in_features=192, out_features=120, bias=True)"),
        ("fc2", "Linear(in_features=120, out_features=60, bias=True)"),
        ("out", "Linear(in_features=60, out_features=10, bias=True)"),
    ]:
        body = html_lib.unescape(section(fashion_page, f"layer-{path}"))
        assert repr_line in body
        assert f"network.{path}" in body
        assert "docs.pytorch.org/docs/stable/generated/torch.nn." in body


def test_conv_weight_axes_and_kinds(fashion_page):
    body = html_lib.unescape(text_of(section(fashion_page, "layer-conv1")))
    assert "filters × depth × height × width" in body
    assert "6 × 1 × 5 × 5" in body
    assert re.search(r"in_channels\s+1\s+data-dependent\s+input", body)
    assert re.search(r"out_channels .*?hyperparameter\s+chosen", body)


def test_fc1_in_features_is_derived_from_the_trace(fashion_page):
    body = html_lib.unescape(text_of(section(fashion_page, "layer-fc1")))
    assert "out_features × in_features" in body
    assert re.search(r"in_features .*?data-dependent\s+previous-layer", body)
    assert "12 × 4 × 4 = 192" in body
    for step in ("28", "24", "12", "8", "4"):
        assert step in body
    assert "⌊" in body  # the real size formula is shown


def test_output_layer_is_the_target(fashion_page):
    body = html_lib.unescape(text_of(section(fashion_page, "layer-out")))
    assert re.search(r"out_features .*?data-dependent\s+target", body)


def test_shapes_are_symbolic_in_the_batch(fashion_page):
    body = html_lib.unescape(text_of(section(fashion_page, "layer-conv1")))
    assert "N × 1 × 28 × 28" in body
    assert "N × 6 × 24 × 24" in body


def test_module_tree_diagram_links_to_sections(fashion_page):
    svgs = re.findall(r'<div class="modeldoc-diagram".*?</svg>', fashion_page, re.DOTALL)
    assert svgs
    tree = svgs[0]
    ids = set(re.findall(r'id="(layer-[^"]+)"', fashion_page))
    links = set(re.findall(r'href="#(layer-[^"]+)"', tree))
    assert {"layer-conv1", "layer-conv2", "layer-fc1", "layer-fc2", "layer-out"} <= links
    assert links <= ids, "every diagram link lands on a section"
    assert "Conv2d" in tree and "conv1" in tree
