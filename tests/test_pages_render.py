"""pages.render: the filters every template uses, the Jinja environment, and the pages of the bundled examples.

The Markdown of the bundled examples is pinned by goldens: tests/golden/<name>/*.md holds the
pages of each example as pyproject.toml's [tool.modeldoc] models configures it, its SVG
diagrams replaced by a placeholder that names them (Graphviz's drawing is its own; the diagram
tests check it). Regenerate them after a reviewed change with:

    .venv/bin/python -m pytest tests/test_pages_render.py --update-goldens
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from modeldoc.options import model_options
from modeldoc.pages import render
from modeldoc.pipeline import describe
from tests.helpers.golden import Golden
from tests.helpers.sites import markdown_pages
from tests.helpers.specs import EXAMPLES, check_round_trip, configured, layer_json, spec_of

HOSTILE_KEY = "<img src=x onerror=alert(1)>"

# --------------------------------------------------------------------------- the pages of the bundled examples

_SVG = re.compile(r"<svg\b.*?</svg>", re.DOTALL)


def _placeholder(drawn: re.Match[str]) -> str:
    """A drawn diagram as the goldens show it: which graph it is and the sections it links to, in order."""
    svg = drawn.group(0)
    graph = re.search(r'<g id="([^"]+)" class="graph', svg)
    assert graph, "every diagram is one Graphviz graph"
    links = " ".join(dict.fromkeys(re.findall(r'href="(#[^"]+)"', svg))) or "nothing"
    return f"<svg><!-- {unescape(graph.group(1))}, drawn by Graphviz's dot; links to {links} --></svg>"


def without_drawings(markdown: str) -> str:
    """`markdown` with each inline SVG replaced by a placeholder that says what it was."""
    return _SVG.sub(_placeholder, markdown)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_pages_of_each_bundled_example_are_their_goldens(name: str, golden: Golden) -> None:
    options = configured(EXAMPLES[name])
    pages = markdown_pages(check_round_trip(describe(options)), options, diagrams=True)
    assert all(page.count("<svg") == page.count("</svg>") for page in pages.values())
    golden.check_folder(name, {file: without_drawings(page) for file, page in pages.items()})


def test_the_goldens_show_where_each_diagram_stands_and_what_it_links_to(golden: Golden) -> None:
    page = (golden.folder / "fashion" / "index.md").read_text(encoding="utf-8")
    drawn = re.findall(r"<svg><!-- (\S+), drawn by Graphviz's dot; links to (.*?) --></svg>", page)
    assert [graph for graph, _ in drawn] == ["fashion-tree", "fashion-flow"]
    sections = set(re.findall(r"\{ #(layer-[^ }]+) \}", page))
    for _, links in drawn:
        assert {link.removeprefix("#") for link in links.split()} <= sections, "every diagram link lands on a section"


def test_the_page_shows_the_sections_and_the_unknown_arguments() -> None:
    options = model_options({"target": "tests.models:UsesConvBlock", "input_shape": [1, 3, 8, 8]})
    spec = spec_of("tests.models:UsesConvBlock", [1, 3, 8, 8])
    page = markdown_pages(spec, options)["index.md"]
    section = page[page.index("{ #layer-block }") : page.index("{ #layer-block-conv }")]
    assert '<p class="modeldoc-doc-section"><strong>Arguments</strong></p>' in section
    assert "<li><code>cin</code> (int): channels of the input.</li>" in section
    assert "<li><em>Tensor</em>: the activated feature map.</li>" in section
    assert "<pre><code>&gt;&gt;&gt; block = ConvBlock(3, 8, 3)" in section
    assert "The block keeps the spatial size when <code>kernel</code> is odd." in section
    assert (
        "| <code>cin</code> | not known | – | – | value not stored on the module (it keeps no attribute of this name) |"
    ) in section
    assert "| <code>kernel</code> | not known (its default is <code>3</code>) | – | – |" in section
    act = "| <code>act</code> | not known (its default is <code>None</code>) | – | – | stored as a ReLU module"
    assert act in section
    spare = page[page.index("{ #layer-spare }") : page.index("{ #layer-head }")]
    assert "Not called in the recorded forward pass: its input and output shapes are not known" in spare
    assert "Not called" not in section
    json_block = spec.to_json()
    block = layer_json(json_block, "block")
    assert block["unknown_arguments"][2] == {
        "name": "kernel",
        "reason": "value not stored on the module (it keeps no attribute of this name)",
        "default": 3,
    }


def test_md_cell_neutralises_html_and_markdown():
    cell = render.do_md_cell("a|b`c*d*_e_ <b>x</b> {#id}\nnext")
    assert "|" not in cell and "`" not in cell and "<b>" not in cell and "*" not in cell and "{" not in cell
    assert "&lt;b&gt;" in cell
    assert "<br>" in cell


def test_hostile_names_are_text_in_the_markdown():
    spec = spec_of("tests.models:Hostile", [2, 4])
    text = markdown_pages(spec, model_options({"target": "tests.models:Hostile"}), diagrams=True)["index.md"]
    assert HOSTILE_KEY not in text
    assert "<script>" not in text
    assert "&lt;img src&#61;x onerror&#61;alert(1)&gt;" in text


# --------------------------------------------------------------------------- the filters


def test_shape_count_bytes_and_value_read_as_the_pages_write_them() -> None:
    assert render.do_shape((1, 6, "N", 24)) == "1 × 6 × N × 24"
    assert render.do_shape(()) == "scalar"
    assert render.do_count(1234567) == "1,234,567"
    assert [render.do_nbytes(n) for n in (0, 1000, 1536, 3 * 1024**3)] == ["0 B", "1000 B", "1.5 KiB", "3.0 GiB"]
    assert [render.do_value(v) for v in ([5, 5], [5], True, None, "same")] == [
        "(5, 5)",
        "(5,)",
        "True",
        "None",
        "'same'",
    ]


def test_snake_names_the_variable_a_class_is_kept_in() -> None:
    assert render.do_snake("GPT2LMHeadModel") == "gpt2_lm_head_model"
    assert render.do_snake("TransformerEncoderLayer") == "transformer_encoder_layer"
    assert render.do_snake("") == "model"


def test_prose_keeps_code_spans_and_escapes_the_rest() -> None:
    assert render.do_prose("uses `x_1` and <b>") == "uses <code>x&#95;1</code> and &lt;b&gt;"
    assert render.do_doc_prose("see :attr:`weight` and ``bias``") == "see <code>weight</code> and <code>bias</code>"
    assert render.do_code("a|b") == "<code>a&#124;b</code>"


def test_a_text_block_keeps_paragraphs_and_line_breaks_as_escaped_text() -> None:
    assert render.do_text_block("one\ntwo\n\n\nthree <i>") == (
        '<p class="modeldoc-text">one<br>two</p>\n\n<p class="modeldoc-text">three &lt;i&gt;</p>'
    )


# --------------------------------------------------------------------------- the environment


def test_a_users_template_comes_first_and_can_extend_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "layer.md.jinja").write_text(
        '{% extends "base/layer.md.jinja" %}{% block summary %}Ours. {{ super() }}{% endblock %}', encoding="utf-8"
    )
    spec = spec_of("tests.models:Tiny", [2, 4])
    options = model_options({"target": "tests.models:Tiny", "input_shape": [2, 4]})
    settings = render.RenderSettings(options=options, diagrams=False)
    ours = render.render_pages(spec, settings, render.make_env(tmp_path))["index.md"]
    shipped = render.render_pages(spec, settings, render.make_env())["index.md"]
    assert (
        ours.count("Ours. ") == 1 + len(spec.layers) and "Ours." not in shipped
    )  # the model's section and each layer's
    assert ours.replace("Ours. ", "") == shipped


def test_every_template_is_autoescaped_and_an_undefined_name_fails(tmp_path: Path) -> None:
    env = render.make_env(tmp_path)
    (tmp_path / "probe.md.jinja").write_text("{{ text }}", encoding="utf-8")
    assert env.get_template("probe.md.jinja").render(text="<script>") == "&lt;script&gt;"
    (tmp_path / "broken.md.jinja").write_text("{{ missing }}", encoding="utf-8")
    with pytest.raises(UndefinedError, match="'missing' is undefined"):
        env.get_template("broken.md.jinja").render()
