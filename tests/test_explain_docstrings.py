"""explain.docstrings: the docstrings of the user's modules (Google, NumPy, Sphinx, torch's), parsed into sections.

The page that shows them is tested in test_pages_render.py.
"""

from __future__ import annotations

import inspect

import torch

from modeldoc.explain.docstrings import DocItem, parse

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
