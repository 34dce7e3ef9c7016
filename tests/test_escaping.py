"""User-controlled text (module names, ModuleDict keys, docstrings) reaches the built page and its diagrams as text.

The Markdown side (``md_cell`` and the rendered pages) is tested in test_pages_render.py; every entry point
in a browser in test_hostile_site.py.
"""

from __future__ import annotations

import re

import pytest

from modeldoc.options import model_options
from tests.helpers.sites import build_site_of
from tests.helpers.specs import spec_of

HOSTILE_KEY = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    out = tmp_path_factory.mktemp("hostile") / "site"
    options = model_options({"target": "tests.models:Hostile", "input_shape": [2, 4]})
    pages = build_site_of(spec_of("tests.models:Hostile", [2, 4]), options, out)
    return (pages / "index.html").read_text()


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
