"""pages.notebook: a model as one self-contained HTML fragment for Jupyter (``Description._repr_html_``)."""

from __future__ import annotations

import re

import modeldoc
from modeldoc.pages import notebook
from tests.helpers import FASHION
from tests.helpers.sites import text_of
from tests.helpers.specs import spec_of


def test_the_jupyter_display_has_the_overview_kinds_and_diagrams():
    doc = modeldoc.describe(FASHION, input_shape=(1, 1, 28, 28))
    html = doc._repr_html_()
    assert html.startswith('<div class="modeldoc-repr" id="modeldoc-')
    assert "<script" not in html
    text = text_of(html)
    assert "Parameters 32,998 (32,998 trainable, 0 frozen)" in text
    assert "Input t N × 1 × 28 × 28 (float32)" in text
    assert "Output output N × 10 (float32)" in text
    assert "in_features = 192 data-dependent · the previous layer 12 × 4 × 4 = 192" in text
    assert "out_channels = 6 hyperparameter" in text
    assert "out_features = 10 data-dependent · the target" in text
    assert html.count("<svg") == 2  # the module tree and the data flow, inline
    assert "Module tree" in text and "Data flow" in text
    ids = re.findall(r'id="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_two_displays_on_one_notebook_page_share_no_ids():
    doc = modeldoc.describe(FASHION, input_shape=(1, 1, 28, 28))
    first, second = doc._repr_html_(), doc._repr_html_()
    assert not set(re.findall(r'id="([^"]+)"', first)) & set(re.findall(r'id="([^"]+)"', second))


def test_without_dot_the_display_says_so(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    html = modeldoc.describe(FASHION, input_shape=(1, 1, 28, 28))._repr_html_()
    assert "<svg" not in html
    assert "The diagrams need Graphviz's <code>dot</code> program, which is not on PATH" in html
    assert "in_features = 192" in text_of(html)


HOSTILE = """
from torch import nn


class Net(nn.Module):
    \"\"\"<script>alert('doc')</script>\"\"\"

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleDict({"<img src=x onerror=alert(1)>": nn.Linear(4, 4)})

    def forward(self, x):
        return self.blocks["<img src=x onerror=alert(1)>"](x)
"""


def test_the_display_escapes_every_name(tmp_path, monkeypatch):
    (tmp_path / "hostile_api.py").write_text(HOSTILE)
    monkeypatch.chdir(tmp_path)
    doc = modeldoc.describe("hostile_api.py:Net", input_shape=(2, 4), title="<b onmouseover=alert(2)>T</b>")
    html = doc._repr_html_()
    assert "<img" not in html
    assert "<script" not in html
    assert "<b " not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;b onmouseover=alert(2)&gt;T&lt;/b&gt;" in html
    assert doc.spec.type == "hostile_api.Net"


def test_arguments_left_at_their_defaults_show_only_when_asked() -> None:
    spec = spec_of("tests.models:Tiny", "2,4")
    short, full = text_of(notebook.model_html(spec)), text_of(notebook.model_html(spec, all_arguments=True))
    assert "bias = True" not in short
    assert full.count("bias = True hyperparameter") == 2  # fc1's and fc2's


def test_the_diagrams_are_drawn_to_the_depth_asked() -> None:
    spec = spec_of("tests.models:Branches", "1,6")
    deep, shallow = notebook.model_html(spec, depth=2), notebook.model_html(spec, depth=1)
    assert "left" in text_of(deep[deep.index("<svg") : deep.rindex("</svg>")])
    assert "left" not in text_of(shallow[shallow.index("<svg") : shallow.rindex("</svg>")])
