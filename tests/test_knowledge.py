"""The knowledge table covers torch.nn, and every entry renders against a real layer of its type.

Each layer is built and called from its entry's ``example`` (so adding a layer is one YAML entry).
"""

from __future__ import annotations

import re
import warnings

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.explain import layers as explain
from modeldoc.options import model_options
from modeldoc.probe import arguments as hyperparams
from modeldoc.probe import examples
from modeldoc.probe.collect import collect
from modeldoc.spec import LayerSpec

SHIPPED = knowledge.shipped()
WITH_EXAMPLES = sorted(key for key, entry in SHIPPED.entries.items() if entry.example is not None)
GENERATED = "modeldoc/knowledge/transformers_norms.yaml"
"""Entries written by tests/hf_norms.py: their coverage runs with the slow tests (test_hf_norms.py checks them too)."""


def torch_nn_modules() -> list[str]:
    """Every nn.Module subclass that torch.nn exports, by name."""
    return sorted(
        name for name in dir(nn) if isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.Module)
    )


def test_every_torch_nn_module_has_an_entry() -> None:
    missing = [name for name in torch_nn_modules() if knowledge.lookup(name) is None]
    assert not missing, f"{len(missing)} torch.nn classes have no knowledge entry: {', '.join(missing)}"


def test_every_torch_nn_module_has_an_example_here() -> None:
    missing = [name for name in torch_nn_modules() if name not in WITH_EXAMPLES and not SHIPPED.entries[name].abstract]
    assert not missing, f"add an example to the entries of: {', '.join(missing)}"


def build(name: str) -> tuple[nn.Module, LayerSpec]:
    """A real layer of type `name`, built from its entry's example and described by the probe (CPU)."""
    entry = SHIPPED.entries[name]
    module = examples.build(entry)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN", UserWarning)
        spec = collect(module, examples.options(entry))
    assert entry.example is not None
    assert not entry.example.inputs or not spec.probe_error, spec.probe_error
    return module, spec.root


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(key, marks=pytest.mark.slow) if SHIPPED.entries[key].origin == GENERATED else key
        for key in WITH_EXAMPLES
    ],
)
def test_entry_renders_and_matches_the_real_layer(name: str) -> None:
    module, raw = build(name)
    layer = explain.annotate_layer(raw, strict=True)
    entry = explain.entry_of(layer)
    assert entry is not None and entry.key == name
    assert layer.summary, f"{name} has no summary"
    # every argument the page shows has a kind, a source and a reason from the table
    unexplained = [h.name for h in raw.hyperparameters if h.name not in entry.args]
    assert not unexplained, f"{name}: no knowledge for arguments {unexplained}"
    assert all(h.reason for h in layer.hyperparameters), [h.name for h in layer.hyperparameters if not h.reason]
    values = {h.name: h.value for h in layer.hyperparameters}
    tensors = dict(module.named_parameters(recurse=False)) | dict(module.named_buffers(recurse=False))
    for p in layer.parameters:
        assert p.lazy or tuple(tensors[p.local_name].shape) == p.shape
        found = entry.tensor_rule(p.local_name)
        assert found is not None, f"{name}.{p.local_name} has no rule"
        if found[0].axes is not None and not p.lazy:
            assert len(p.axes) == len(p.shape), (p.name, p.axes, p.shape)
            assert p.meaning and (p.axis_notes or not p.shape)
        # an axis named after an argument has exactly that argument's size
        for axis, size in zip(p.axes, p.shape, strict=False):
            if isinstance(values.get(axis), int) and not isinstance(values.get(axis), bool):
                assert size == values[axis], f"{p.name}: axis {axis} is {size}, but {axis} = {values[axis]}"
    # each dim names an axis of the probed tensors whose size is the argument's value
    for h in layer.hyperparameters:
        if h.axis_ref is not None and layer.input_shapes:
            sizes = h.axis_ref.sizes(layer)
            assert sizes is not None and list(sizes) == (h.value if isinstance(h.value, list) else [h.value]), (
                h.name,
                h.dim,
                sizes,
            )


def test_read_back_arguments_whose_attribute_differs() -> None:
    read = {h.name: h.value for h in hyperparams.collect(nn.MultiheadAttention(8, 2, bias=False, add_bias_kv=True))}
    assert read["bias"] is False and read["add_bias_kv"] is True
    read = {h.name: h.value for h in hyperparams.collect(nn.LayerNorm(8, elementwise_affine=True, bias=False))}
    assert read["bias"] is False and read["elementwise_affine"] is True
    layer = nn.TransformerEncoderLayer(12, 3, 20, dropout=0.2, activation="gelu", bias=False, layer_norm_eps=1e-3)
    read = {h.name: h.value for h in hyperparams.collect(layer)}
    assert read == {
        "d_model": 12,
        "nhead": 3,
        "dim_feedforward": 20,
        "dropout": 0.2,
        "activation": "gelu",
        "layer_norm_eps": 1e-3,
        "batch_first": False,
        "norm_first": False,
        "bias": False,
    }
    read = {h.name: h.value for h in hyperparams.collect(nn.EmbeddingBag(10, 3, mode="max"))}
    assert read["mode"] == "max"
    gru = {h.name: (h.value, h.default) for h in hyperparams.collect(nn.GRU(4, 3, bias=False, num_layers=2))}
    assert gru["bias"] == (False, False) and gru["num_layers"] == (2, False) and gru["dropout"] == (0.0, True)
    assert "proj_size" not in gru


def test_conv_and_pool_formulas_give_the_real_output_size() -> None:
    for name in (
        "Conv1d",
        "Conv2d",
        "Conv3d",
        "ConvTranspose1d",
        "ConvTranspose2d",
        "ConvTranspose3d",
        "MaxPool1d",
        "MaxPool2d",
        "MaxPool3d",
        "AvgPool1d",
        "AvgPool2d",
        "AvgPool3d",
    ):
        module, raw = build(name)
        layer = explain.annotate_layer(raw, strict=True)
        example = SHIPPED.entries[name].example
        assert example is not None and example.inputs
        real = module(torch.zeros(example.inputs[0])).shape
        results = [int(part.rsplit("=", 1)[1]) for part in layer.formula.split(";")]
        assert results == list(real[-len(results) :]), (name, layer.formula, real)


def test_padding_formula_counts_both_sides() -> None:
    module, raw = build("ZeroPad2d")
    layer = explain.annotate_layer(raw, strict=True)
    real = module(torch.zeros(1, 2, 5, 4)).shape
    computed = [int(m) for m in re.findall(r"= (\d+)(?:;|$)", layer.formula)]
    assert computed == [real[-1], real[-2]]


def test_pool_formula_drops_a_last_window_that_would_start_in_the_padding() -> None:
    # The arithmetic comes from the derivations' window rule; the formula the entry wrote before
    # showed ⌈(9 + 2 − 1 − 1) / 2⌉ + 1 = 5, whose arithmetic gives 6.
    module = nn.MaxPool1d(2, stride=2, padding=1, ceil_mode=True)
    options = model_options({"target": "torch.nn:MaxPool1d", "input_shape": [1, 2, 9], "probe_device": "cpu"})
    spec = collect(module, options)
    layer = explain.annotate_layer(spec.root, strict=True)
    assert module(torch.zeros(1, 2, 9)).shape[-1] == 5
    assert layer.formula == (
        "L_out = ⌈(L_in + 2·1 − 1·(2 − 1) − 1) / 2⌉ + 1 "
        "= ⌈(9 + 2·1 − 1·(2 − 1) − 1) / 2⌉ + 1 − 1 = 5 (the last window would start in the padding)"
    )
