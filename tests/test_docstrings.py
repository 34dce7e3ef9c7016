"""Docstrings of the user's modules, parsed into sections and shown as such on the page."""

from __future__ import annotations

import inspect

import torch

from modeldoc.explain.docstrings import DocItem, parse
from modeldoc.options import model_options
from tests.helpers.sites import markdown_pages
from tests.helpers.specs import layer_json, spec_of

GOOGLE = """A convolution followed by batch norm and ReLU.

The block keeps the spatial size when ``kernel`` is odd.

Args:
    cin (int): channels of the input.
    cout (int): channels of the output, a
        choice of the designer.
    kernel: size of the square kernel.

Returns:
    Tensor: the activated feature map.

Raises:
    ValueError: when cin is not positive.

Example:
    >>> block = ConvBlock(3, 8, 3)
    >>> block(torch.zeros(1, 3, 8, 8)).shape
    torch.Size([1, 8, 8, 8])
"""

NUMPY = """Compute things.

Parameters
----------
cin : int
    Input channels.
cout : int, optional
    Output channels,
    wrapped.

Returns
-------
Tensor
    The output.

Examples
--------
>>> f(1)
2
"""

SPHINX = """Summary here.

:param cin: input channels
:type cin: int
:param int cout: output
    channels
:returns: the output
:rtype: Tensor
:raises ValueError: when bad
"""


def test_google_style() -> None:
    doc = parse(GOOGLE)
    assert doc.summary == "A convolution followed by batch norm and ReLU."
    assert doc.paragraphs == ("The block keeps the spatial size when ``kernel`` is odd.",)
    assert [s.title for s in doc.sections] == ["Arguments", "Returns", "Raises", "Examples"]
    assert doc.sections[0].items == (
        DocItem(name="cin", type="int", text="channels of the input."),
        DocItem(name="cout", type="int", text="channels of the output, a choice of the designer."),
        DocItem(name="kernel", type="", text="size of the square kernel."),
    )
    assert doc.sections[1].items == (DocItem(type="Tensor", text="the activated feature map."),)
    assert doc.sections[2].items == (DocItem(name="ValueError", text="when cin is not positive."),)
    assert doc.sections[3].kind == "code"
    assert doc.sections[3].text.splitlines() == [
        ">>> block = ConvBlock(3, 8, 3)",
        ">>> block(torch.zeros(1, 3, 8, 8)).shape",
        "torch.Size([1, 8, 8, 8])",
    ]


def test_numpy_style() -> None:
    doc = parse(NUMPY)
    assert doc.summary == "Compute things."
    arguments, returns, examples = doc.sections
    assert arguments.items == (
        DocItem(name="cin", type="int", text="Input channels."),
        DocItem(name="cout", type="int, optional", text="Output channels, wrapped."),
    )
    assert returns.items == (DocItem(type="Tensor", text="The output."),)
    assert (examples.kind, examples.text) == ("code", ">>> f(1)\n2")


def test_sphinx_style() -> None:
    doc = parse(SPHINX)
    assert doc.summary == "Summary here."
    by_title = {s.title: s.items for s in doc.sections}
    assert by_title["Arguments"] == (
        DocItem(name="cin", type="int", text="input channels"),
        DocItem(name="cout", type="int", text="output channels"),
    )
    assert by_title["Returns"] == (DocItem(type="Tensor", text="the output"),)
    assert by_title["Raises"] == (DocItem(name="ValueError", text="when bad"),)


def test_plain_text_and_doctests_in_the_description() -> None:
    doc = parse("Just text.\n\nMore text\nwrapped.\n\n>>> x = 1\n>>> x\n1\n\nEnd.")
    assert (doc.summary, doc.paragraphs) == ("Just text.", ("More text wrapped.", "End."))
    assert [(s.title, s.kind, s.text) for s in doc.sections] == [("Examples", "code", ">>> x = 1\n>>> x\n1")]


def test_torch_style_sections_keep_their_lists() -> None:
    doc = parse(inspect.cleandoc(torch.nn.Linear.__doc__ or ""))
    shape = next(s for s in doc.sections if s.title == "Shape")
    assert shape.kind == "text"
    assert shape.text.splitlines()[0].startswith("- Input:")
    assert shape.text.splitlines()[1].startswith("- Output:")
    assert [i.name for i in doc.sections[0].items] == ["in_features", "out_features", "bias"]


def test_nothing_is_lost_from_an_unusual_docstring() -> None:
    text = "Title\n\nSome notes:\n  indented line\nNote:\n    a note that\n    wraps."
    doc = parse(text)
    assert doc.summary == "Title"
    assert "Some notes: indented line" in doc.paragraphs[0]
    assert [(s.title, s.text) for s in doc.sections] == [("Note", "a note that wraps.")]


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
