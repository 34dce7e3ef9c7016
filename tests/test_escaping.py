"""User-controlled text (module names, ModuleDict keys, docstrings) reaches the page as text."""

from __future__ import annotations

import re

import pytest

from modeldoc.options import model_options
from modeldoc.pages import render
from tests.helpers.sites import build_site_of, markdown_pages
from tests.helpers.specs import spec_of

HOSTILE_KEY = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "site"
    options = model_options({"target": "tests.models:Hostile", "input_shape": [2, 4]})
    pages = build_site_of(spec_of("tests.models:Hostile", [2, 4]), options, out)
    return (pages / "index.html").read_text()


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


def test_hostile_names_are_text_in_the_built_html(hostile_site):
    html = hostile_site
    # No element was created from user text: no <img> with that onerror, no <script> from the docstring.
    assert not re.search(r"<img[^>]*onerror", html)
    assert '<script>alert("docstring")' not in html
    # ... and the text is there for the reader, escaped.
    assert "&lt;img src=x onerror=alert(1)&gt;" in html or "&lt;img src&#61;x onerror&#61;alert(1)&gt;" in html
    assert "&lt;script&gt;" in html
    # The key with a pipe and a backtick did not break the layer table.
    assert "a|b`c" in html.replace("&#124;", "|").replace("&#96;", "`")


def test_hostile_names_are_text_in_the_svg(hostile_site):
    svgs = re.findall(r"<svg.*?</svg>", hostile_site, re.DOTALL)
    diagrams = [s for s in svgs if "node" in s]
    assert diagrams
    for svg in diagrams:
        assert "<img" not in svg
        assert "onerror=alert" not in svg.replace("&lt;img src=x onerror=alert(1)&gt;", "")
