"""probe.examples: a layer built from its knowledge entry's example."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.errors import ModelLoadError
from modeldoc.examples.gated import GatedMLP
from modeldoc.knowledge import Entry, Example
from modeldoc.probe import examples


def entry(key: str, **example: object) -> Entry:
    return Entry(key=key, example=Example(**example))  # type: ignore[arg-type]


def test_a_key_names_a_torch_nn_class_or_a_dotted_class() -> None:
    assert examples.layer_class("Conv2d") is nn.Conv2d
    assert examples.layer_class("modeldoc.examples.gated.GatedMLP") is GatedMLP
    assert examples.layer_class("torch.nn.modules.linear.NonDynamicallyQuantizableLinear").__name__ == (
        "NonDynamicallyQuantizableLinear"
    )
    assert examples.target_of("Conv2d") == "torch.nn:Conv2d"
    assert examples.target_of("mypkg.layers.Gate") == "mypkg.layers:Gate"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("Conv9d", "cannot load 'torch.nn:Conv9d': torch.nn has no layer of that name; key a class outside torch.nn"),
        (
            "modeldoc.examples.gated.GatedMLPs",
            "cannot load 'modeldoc.examples.gated:GatedMLPs': modeldoc.examples.gated has no "
            "attribute 'GatedMLPs'; did you mean 'GatedMLP'?",
        ),
        (
            "modeldoc.examples.gated.F",
            "cannot load 'modeldoc.examples.gated:F': it is of type module, not an nn.Module subclass; "
            "key the entry by the layer's class",
        ),
        (
            "modeldoc.examples.gated.annotations",
            "cannot load 'modeldoc.examples.gated:annotations': it is of type _Feature, not an nn.Module subclass",
        ),
    ],
)
def test_a_key_that_names_no_layer_class_says_so(key: str, message: str) -> None:
    with pytest.raises(ModelLoadError) as raised:
        examples.layer_class(key)
    assert str(raised.value).startswith(message)


def test_example_values_become_tensors_parameters_and_layers() -> None:
    encoder = examples.build(
        entry(
            "TransformerEncoder",
            args=({"layer": "TransformerEncoderLayer", "args": [16, 4, 32], "kwargs": {"batch_first": True}}, 2),
            kwargs={"norm": {"layer": "LayerNorm", "args": [16]}, "enable_nested_tensor": False},
        )
    )
    assert isinstance(encoder, nn.TransformerEncoder) and len(encoder.layers) == 2
    assert isinstance(encoder.norm, nn.LayerNorm) and encoder.layers[0].linear1.out_features == 32
    loss = examples.build(entry("BCELoss", kwargs={"weight": {"tensor": [4]}}))
    assert isinstance(loss, nn.BCELoss) and torch.equal(loss.weight, torch.ones(4))
    params = examples.build(entry("ParameterDict", args=({"scale": {"parameter": [3]}},)))
    assert isinstance(params, nn.ParameterDict) and params["scale"].shape == (3,)
    assert isinstance(params["scale"], nn.Parameter)


def test_options_carry_the_example_inputs() -> None:
    mha = knowledge.shipped().lookup("MultiheadAttention")
    assert mha is not None
    options = examples.options(mha)
    assert [i.shape for i in options.inputs] == [(2, 3, 16), (2, 4, 6), (2, 4, 5)]
    assert (options.target, options.probe_device) == ("torch.nn:MultiheadAttention", "cpu")
    embedding = knowledge.shipped().lookup("Embedding")
    assert embedding is not None and [i.dtype for i in examples.options(embedding).inputs] == ["long"]


def test_a_failing_constructor_is_the_examples_problem() -> None:
    with pytest.raises(
        ModelLoadError,
        match=r"^cannot load 'torch.nn:Linear': building it from the example raised "
        r"TypeError: .*; fix the example's args$",
    ):
        examples.build(entry("Linear", args=(3,)))
    with pytest.raises(Exception, match="knowledge entry Linear has no example; add example: with its args and input"):
        examples.build(Entry(key="Linear"))
