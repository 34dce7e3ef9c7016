"""The tutorial CNN's site, built for real by the command line, read as HTML."""

from __future__ import annotations

import html as html_lib
import re

import pytest

from modeldoc import structures
from modeldoc.examples.llama import make_llama_70b
from modeldoc.options import model_options
from modeldoc.pages import layout
from modeldoc.probe.collect import collect
from tests.conftest import text_of


@pytest.fixture(scope="module")
def fashion_page(tmp_path_factory):
    from click.testing import CliRunner

    from modeldoc.cli import main

    out = tmp_path_factory.mktemp("fashion") / "site"
    result = CliRunner().invoke(
        main,
        ["build", "modeldoc.examples.fashion:Network", "--input-shape", "1,1,28,28", "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    return (out / "network" / "index.html").read_text()


def section(page: str, anchor: str) -> str:
    """The HTML from the heading with `anchor` up to the next heading of any level."""
    match = re.search(rf'<h(\d) id="{anchor}".*?(?=<h\d |</article>)', page, re.DOTALL)
    assert match, f"no section {anchor}"
    return match.group(0)


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


def test_llama_70b_shape_is_split_into_navigable_pages():
    module = make_llama_70b()
    raw = collect(module, model_options({"target": "modeldoc.examples.llama:make_llama_70b"}))
    assert len(raw.layers) >= 1000
    # Without structure groups (a raw spec): a page per block.
    pages = layout.plan_pages(raw, page_size=40)
    assert len(pages) == 1 + 1 + 80  # the model, the block list, one page per block
    assert max(len(page.layers) for page in pages) <= 40
    where = layout.page_of(pages)
    assert set(where) == {layer.path for layer in raw.all_layers}, "every layer is on exactly one page"
    assert where["layers.79.attn.q_proj"].root == "layers.79"
    assert where["lm_head"].root == ""
    # With them: the 80 blocks share one page, and every other block's path has a counterpart there.
    spec = structures.attach(raw)
    pages = layout.plan_pages(spec, page_size=40)
    assert [page.title for page in pages] == ["make_llama_70b", "layers", "Block × 80"]
    where = layout.page_of(pages)
    counterpart = layout.counterparts(spec, pages)
    assert set(where) | set(counterpart) == {layer.path for layer in spec.all_layers}
    assert not set(where) & set(counterpart), "a path is documented in its own section or by its counterpart's"
    assert counterpart["layers.79.attn.q_proj"] == "layers.0.attn.q_proj"
    assert where["layers.0.attn.q_proj"] is pages[2]
    assert pages[2].instances == tuple(f"layers.{i}" for i in range(80))


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Fashion CNN", "Fashion CNN"),
        ("<img src=x onerror=alert(1)>", "&lt;\u2060img src=x onerror=alert(1)&gt;"),
        ("</title><b>", "&lt;\u2060/title&gt;&lt;\u2060b&gt;"),
        ("a \" b ' c & d", "a &quot; b &#x27; c &amp; d"),
        ("x < 3 and <= 4", "x &lt; 3 and &lt;= 4"),
    ],
)
def test_theme_text_is_html_that_shows_the_text_even_after_striptags(text, html):
    from markupsafe import Markup

    from modeldoc.site.build import plain_text, theme_text

    assert theme_text(text) == html
    assert plain_text(theme_text(text)) == text
    # Material's <title>{{ page.title | striptags }} unescapes: what comes out opens no tag.
    assert not re.search(r"<[A-Za-z/!?]", Markup(theme_text(text)).striptags())


def test_every_nav_title_goes_through_theme_text():
    from torch import nn

    from modeldoc.site.build import model_nav

    key = "<i onmouseover=alert(1)>k</i>"
    module = nn.ModuleDict({key: nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))})
    spec = collect(module, model_options({"target": "x:Net"}))
    nav = model_nav(spec, "net", page_size=2)

    def titles(entry):
        if isinstance(entry, dict):
            for title, value in entry.items():
                yield title
                yield from titles(value)
        elif isinstance(entry, list):
            for item in entry:
                yield from titles(item)

    found = list(titles(nav))
    shown = "&lt;\u2060i onmouseover=alert(1)&gt;k&lt;\u2060/i&gt;"
    assert found == ["Overview", f"{shown} · part 2 of 3", f"{shown} · part 3 of 3"]


def test_contained_keeps_the_title_heading_outside_the_modeldoc_div():
    from modeldoc.site.build import contained

    page = contained("# Net\n\nSome text.\n\n| a |\n|---|\n| b |\n")
    assert page.startswith('# Net\n\n<div class="modeldoc" markdown="1">\n\nSome text.')
    assert page.endswith("| b |\n\n</div>\n")
    assert contained("No heading.\n").startswith('<div class="modeldoc" markdown="1">')
