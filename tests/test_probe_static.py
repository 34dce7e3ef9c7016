"""modeldoc.probe.static: the module tree read without running the model."""

from __future__ import annotations

import torch
from torch import nn

from modeldoc.probe import guard, static
from tests import models


class NeverRun(nn.Module):
    """Read, never run."""

    def __init__(self, width: int = 3) -> None:
        super().__init__()
        self.width = width
        self.fc = nn.Linear(width, 2)
        self.register_buffer("steps", torch.zeros(5, dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("the static walk ran forward")


def read(model: nn.Module) -> static.StaticModel:
    return static.read_model(model, guard.walk(model))


def test_layers_come_in_module_order_with_their_place_in_the_tree() -> None:
    model = models.TiedLM()
    got = read(model)
    assert (got.name, got.type) == ("TiedLM", "tests.models.TiedLM")
    assert got.docstring == "A language model whose output head shares the embedding matrix."
    assert got.print_text == repr(model)
    rows = [(lay.path, lay.type, lay.depth, lay.parent, lay.children) for lay in (got.root, *got.layers)]
    assert rows == [
        ("", "tests.models.TiedLM", 0, None, ("embed", "norm", "head")),
        ("embed", "torch.nn.Embedding", 1, "", ()),
        ("norm", "torch.nn.LayerNorm", 1, "", ()),
        ("head", "torch.nn.Linear", 1, "", ()),
    ]
    assert got.layers[0].doc_url == "https://docs.pytorch.org/docs/stable/generated/torch.nn.Embedding.html"
    assert got.root.doc_url == ""


def test_a_tied_weight_is_counted_once_and_named_on_both_layers() -> None:
    got = read(models.TiedLM())
    embed, _, head = got.layers
    (embed_weight,), (head_weight,) = embed.parameters, head.parameters
    assert (embed_weight.counted, embed_weight.tied_with) == (True, ("head.weight",))
    assert (head_weight.counted, head_weight.tied_with) == (False, ("embed.weight",))
    assert (embed.own_params, head.own_params, head.total_params) == (800, 0, 800)
    assert got.root.total_params == 50 * 16 + 2 * 16
    assert dict(got.totals) == {
        "total_params": 832,
        "trainable_params": 832,
        "frozen_params": 0,
        "buffer_elements": 0,
        "bytes_by_dtype": {"float32": 832 * 4},
        "param_bytes": 832 * 4,
    }


def test_nothing_is_run_and_the_tree_is_read_as_it_is() -> None:
    model = NeverRun()
    got = read(model)  # forward raises if it is called
    (fc,) = got.layers
    assert [(p.name, p.shape, p.is_buffer) for p in got.root.parameters] == [("steps", (5,), True)]
    assert [(h.name, h.value, h.default) for h in got.root.hyperparameters] == [("width", 3, True)]
    assert got.docstring == "Read, never run."
    assert (fc.input_shapes, fc.calls, fc.macs) == ((), 0, 0)  # shapes and calls are the probe's
    assert got.totals["buffer_elements"] == 5
    assert got.totals["bytes_by_dtype"] == {"float32": 8 * 4, "int64": 5 * 8}


def test_a_module_inside_itself_and_a_dotted_name_get_notes_and_a_warning() -> None:
    model = NeverRun()
    model.fc.inner = model  # type: ignore[assignment]
    model._modules["a.b"] = nn.ReLU()
    got = read(model)
    notes = {lay.path: lay.notes for lay in got.layers}
    assert notes["fc"] == (
        "Its child 'inner' is the model itself again (a module that contains itself); "
        "it is documented once, where it first appears.",
    )
    assert "registered under the name 'a.b', which contains a dot" in notes["a\u2024b"][0]
    assert got.warnings[0] == (
        "1 module(s) contain one of their own ancestors (first: fc.inner); "
        "each module is documented once, where it first appears"
    )


def test_what_the_model_cannot_print_is_said_and_the_rest_is_read() -> None:
    class BadRepr(NeverRun):
        def extra_repr(self) -> str:
            raise RuntimeError("no repr today")

    got = read(BadRepr())
    assert got.print_text == "(print(model) failed: RuntimeError: no repr today)"
    assert got.root.repr == "(model.extra_repr() failed: RuntimeError: no repr today)"
    assert got.warnings == (
        "the model's own code raised while modeldoc read it (model.extra_repr() raised RuntimeError: no repr "
        "today; print(model) raised RuntimeError: no repr today); the pages show what could not be read and why, "
        "and everything else",
    )
    assert [lay.path for lay in got.layers] == ["fc"]


def test_a_torch_class_has_its_reference_page_and_no_docstring_of_its_own() -> None:
    assert static.doc_url(nn.Conv2d) == "https://docs.pytorch.org/docs/stable/generated/torch.nn.Conv2d.html"
    assert static.doc_url(NeverRun) == ""
    got = read(nn.Sequential(nn.Linear(2, 2)))
    assert got.docstring.startswith("A sequential container")  # the model page shows even a torch class's
    assert got.layers[0].docstring == ""
