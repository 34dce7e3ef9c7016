"""The knowledge table covers torch.nn, and every entry renders against a real layer of its type."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.explain import layers as explain
from modeldoc.options import model_options
from modeldoc.probe import arguments as hyperparams
from modeldoc.probe.collect import collect
from modeldoc.spec import LayerSpec

F32 = "float32"
LONG = "long"

# name: (constructor args, constructor kwargs, example inputs as (shape, dtype) or None to skip the probe)
EXAMPLES: dict[str, tuple[tuple[Any, ...], dict[str, Any], list[tuple[list[int], str]] | None]] = {
    "AdaptiveAvgPool1d": ((3,), {}, [([2, 4, 10], F32)]),
    "AdaptiveAvgPool2d": (((None, 3),), {}, [([2, 4, 10, 9], F32)]),
    "AdaptiveAvgPool3d": ((2,), {}, [([1, 2, 4, 6, 8], F32)]),
    "AdaptiveLogSoftmaxWithLoss": ((16, 10, [4, 8]), {}, None),
    "AdaptiveMaxPool1d": ((3,), {}, [([2, 4, 10], F32)]),
    "AdaptiveMaxPool2d": ((1,), {"return_indices": True}, [([2, 4, 10, 9], F32)]),
    "AdaptiveMaxPool3d": ((2,), {}, [([1, 2, 4, 6, 8], F32)]),
    "AlphaDropout": ((0.2,), {}, [([2, 6], F32)]),
    "AvgPool1d": ((3,), {"stride": 2, "padding": 1}, [([2, 4, 11], F32)]),
    "AvgPool2d": ((3,), {"stride": 2, "ceil_mode": True}, [([2, 4, 10, 9], F32)]),
    "AvgPool3d": ((2,), {}, [([1, 2, 4, 6, 8], F32)]),
    "BCELoss": ((), {"weight": torch.ones(4)}, None),
    "BCEWithLogitsLoss": ((), {"pos_weight": torch.ones(3)}, None),
    "BatchNorm1d": ((6,), {}, [([4, 6, 5], F32)]),
    "BatchNorm2d": ((6,), {"momentum": None}, [([2, 6, 5, 5], F32)]),
    "BatchNorm3d": ((6,), {"affine": False}, [([2, 6, 3, 4, 5], F32)]),
    "Bilinear": ((5, 7, 3), {}, [([2, 5], F32), ([2, 7], F32)]),
    "CELU": ((), {}, [([2, 3], F32)]),
    "CTCLoss": ((), {}, None),
    "ChannelShuffle": ((2,), {}, [([1, 4, 3, 3], F32)]),
    "CircularPad1d": ((2,), {}, [([1, 2, 5], F32)]),
    "CircularPad2d": (((1, 2, 0, 1),), {}, [([1, 2, 5, 4], F32)]),
    "CircularPad3d": ((1,), {}, [([1, 2, 3, 4, 5], F32)]),
    "ConstantPad1d": ((2, 3.5), {}, [([1, 2, 5], F32)]),
    "ConstantPad2d": (((1, 2, 0, 1), 0.0), {}, [([1, 2, 5, 4], F32)]),
    "ConstantPad3d": ((1, 0.0), {}, [([1, 2, 3, 4, 5], F32)]),
    "Container": ((), {}, None),
    "Conv1d": ((4, 8, 3), {"stride": 2, "padding": 1}, [([2, 4, 17], F32)]),
    "Conv2d": ((6, 12, (3, 5)), {"groups": 3, "dilation": (2, 1), "padding": (1, 2)}, [([2, 6, 20, 21], F32)]),
    "Conv3d": ((2, 4, 3), {"stride": (1, 2, 2), "bias": False}, [([1, 2, 7, 9, 11], F32)]),
    "ConvTranspose1d": ((4, 6, 3), {"stride": 2, "output_padding": 1}, [([2, 4, 9], F32)]),
    "ConvTranspose2d": ((6, 4, 3), {"stride": 2, "padding": 1, "groups": 2}, [([2, 6, 7, 8], F32)]),
    "ConvTranspose3d": ((2, 3, (2, 3, 3)), {"dilation": 2}, [([1, 2, 4, 5, 6], F32)]),
    "CosineEmbeddingLoss": ((), {}, None),
    "CosineSimilarity": ((), {"dim": 1}, [([3, 8], F32), ([3, 8], F32)]),
    "CrossEntropyLoss": ((), {"weight": torch.ones(5), "label_smoothing": 0.1}, None),
    "CrossMapLRN2d": ((3,), {}, [([1, 6, 4, 4], F32)]),
    "DataParallel": ((nn.Linear(3, 2),), {}, None),
    "Dropout": ((0.25,), {}, [([2, 6], F32)]),
    "Dropout1d": ((), {}, [([2, 6, 5], F32)]),
    "Dropout2d": ((), {}, [([2, 6, 5, 5], F32)]),
    "Dropout3d": ((), {}, [([2, 6, 2, 5, 5], F32)]),
    "ELU": ((), {}, [([2, 3], F32)]),
    "Embedding": ((30, 8), {"padding_idx": 0}, [([2, 7], LONG)]),
    "EmbeddingBag": ((30, 8), {"mode": "sum"}, [([2, 7], LONG)]),
    "FeatureAlphaDropout": ((), {}, [([2, 6, 5], F32)]),
    "Flatten": ((), {}, [([2, 3, 4, 5], F32)]),
    "Fold": (((4, 5), 2), {}, [([1, 12, 12], F32)]),
    "FractionalMaxPool2d": ((2,), {"output_size": (4, 5)}, [([1, 3, 9, 10], F32)]),
    "FractionalMaxPool3d": ((2,), {"output_ratio": 0.5}, [([1, 2, 8, 8, 8], F32)]),
    "GELU": ((), {"approximate": "tanh"}, [([2, 3], F32)]),
    "GLU": ((), {}, [([2, 6], F32)]),
    "GRU": ((6, 5), {"num_layers": 2, "batch_first": True}, [([2, 4, 6], F32)]),
    "GRUCell": ((6, 5), {}, [([3, 6], F32)]),
    "GaussianNLLLoss": ((), {}, None),
    "GroupNorm": ((2, 6), {}, [([2, 6, 4, 4], F32)]),
    "Hardshrink": ((), {}, [([2, 3], F32)]),
    "Hardsigmoid": ((), {}, [([2, 3], F32)]),
    "Hardswish": ((), {}, [([2, 3], F32)]),
    "Hardtanh": ((-2.0, 2.0), {}, [([2, 3], F32)]),
    "HingeEmbeddingLoss": ((), {}, None),
    "HuberLoss": ((), {}, None),
    "Identity": ((), {}, [([2, 3], F32)]),
    "InstanceNorm1d": ((6,), {"affine": True}, [([2, 6, 5], F32)]),
    "InstanceNorm2d": ((6,), {"track_running_stats": True}, [([2, 6, 5, 5], F32)]),
    "InstanceNorm3d": ((6,), {}, [([2, 6, 3, 4, 5], F32)]),
    "KLDivLoss": ((), {}, None),
    "L1Loss": ((), {}, None),
    "LPPool1d": ((2, 3), {}, [([2, 4, 10], F32)]),
    "LPPool2d": ((1.5, 2), {"stride": 1}, [([2, 4, 6, 6], F32)]),
    "LPPool3d": ((2, 2), {}, [([1, 2, 4, 4, 4], F32)]),
    "LSTM": ((6, 5), {"num_layers": 2, "bidirectional": True, "proj_size": 3}, [([4, 2, 6], F32)]),
    "LSTMCell": ((6, 5), {}, [([3, 6], F32)]),
    "LayerNorm": (((4, 6),), {"bias": False}, [([2, 3, 4, 6], F32)]),
    "LazyBatchNorm1d": ((), {}, None),
    "LazyBatchNorm2d": ((), {}, None),
    "LazyBatchNorm3d": ((), {}, None),
    "LazyConv1d": ((8, 3), {}, None),
    "LazyConv2d": ((8, 3), {}, None),
    "LazyConv3d": ((8, 3), {}, None),
    "LazyConvTranspose1d": ((8, 3), {}, None),
    "LazyConvTranspose2d": ((8, 3), {}, None),
    "LazyConvTranspose3d": ((8, 3), {}, None),
    "LazyInstanceNorm1d": ((), {}, None),
    "LazyInstanceNorm2d": ((), {}, None),
    "LazyInstanceNorm3d": ((), {}, None),
    "LazyLinear": ((4,), {}, None),
    "LeakyReLU": ((0.2,), {}, [([2, 3], F32)]),
    "Linear": ((7, 3), {}, [([2, 5, 7], F32)]),
    "LinearCrossEntropyLoss": ((8, 5), {"bias": True}, None),
    "LocalResponseNorm": ((3,), {}, [([1, 6, 4, 4], F32)]),
    "LogSigmoid": ((), {}, [([2, 3], F32)]),
    "LogSoftmax": ((1,), {}, [([2, 3], F32)]),
    "MSELoss": ((), {}, None),
    "MarginRankingLoss": ((), {}, None),
    "MaxPool1d": ((3,), {"stride": 2, "padding": 1, "dilation": 2}, [([2, 4, 17], F32)]),
    "MaxPool2d": ((2,), {}, [([2, 4, 11, 9], F32)]),
    "MaxPool3d": ((3,), {"stride": 2, "ceil_mode": True}, [([1, 2, 8, 9, 10], F32)]),
    "MaxUnpool1d": ((2,), {}, None),
    "MaxUnpool2d": ((2,), {}, None),
    "MaxUnpool3d": ((2,), {}, None),
    "Mish": ((), {}, [([2, 3], F32)]),
    "Module": ((), {}, None),
    "ModuleDict": (({"a": nn.ReLU()},), {}, None),
    "ModuleList": (([nn.ReLU()],), {}, None),
    "MultiLabelMarginLoss": ((), {}, None),
    "MultiLabelSoftMarginLoss": ((), {}, None),
    "MultiMarginLoss": ((), {}, None),
    "MultiheadAttention": (
        (16, 4),
        {"kdim": 6, "vdim": 5, "add_bias_kv": True, "batch_first": True},
        [([2, 3, 16], F32), ([2, 4, 6], F32), ([2, 4, 5], F32)],
    ),
    "NLLLoss": ((), {}, None),
    "NLLLoss2d": ((), {}, None),
    "PReLU": ((6,), {}, [([2, 6, 3], F32)]),
    "PairwiseDistance": ((), {"p": 1.0}, [([3, 8], F32), ([3, 8], F32)]),
    "ParameterDict": (({"scale": nn.Parameter(torch.ones(3))},), {}, None),
    "ParameterList": (([nn.Parameter(torch.ones(3, 2))],), {}, None),
    "PixelShuffle": ((2,), {}, [([1, 8, 3, 3], F32)]),
    "PixelUnshuffle": ((2,), {}, [([1, 2, 4, 6], F32)]),
    "PoissonNLLLoss": ((), {}, None),
    "RMSNorm": ((6,), {}, [([2, 3, 6], F32)]),
    "RNN": ((6, 5), {"nonlinearity": "relu", "bidirectional": True}, [([4, 2, 6], F32)]),
    "RNNBase": (("GRU", 6, 5), {}, None),
    "RNNCell": ((6, 5), {}, [([3, 6], F32)]),
    "RNNCellBase": ((6, 5, True, 4), {}, None),
    "RReLU": ((), {}, [([2, 3], F32)]),
    "ReLU": ((), {}, [([2, 3], F32)]),
    "ReLU6": ((), {}, [([2, 3], F32)]),
    "ReflectionPad1d": ((2,), {}, [([1, 2, 5], F32)]),
    "ReflectionPad2d": ((1,), {}, [([1, 2, 5, 4], F32)]),
    "ReflectionPad3d": ((1,), {}, [([1, 2, 3, 4, 5], F32)]),
    "ReplicationPad1d": ((2,), {}, [([1, 2, 5], F32)]),
    "ReplicationPad2d": (((1, 0, 2, 3),), {}, [([1, 2, 5, 4], F32)]),
    "ReplicationPad3d": ((1,), {}, [([1, 2, 3, 4, 5], F32)]),
    "SELU": ((), {}, [([2, 3], F32)]),
    "Sequential": ((nn.Linear(3, 4), nn.ReLU()), {}, [([2, 3], F32)]),
    "SiLU": ((), {}, [([2, 3], F32)]),
    "Sigmoid": ((), {}, [([2, 3], F32)]),
    "SmoothL1Loss": ((), {}, None),
    "SoftMarginLoss": ((), {}, None),
    "Softmax": ((-1,), {}, [([2, 3], F32)]),
    "Softmax2d": ((), {}, [([1, 3, 2, 2], F32)]),
    "Softmin": ((1,), {}, [([2, 3], F32)]),
    "Softplus": ((), {}, [([2, 3], F32)]),
    "Softshrink": ((), {}, [([2, 3], F32)]),
    "Softsign": ((), {}, [([2, 3], F32)]),
    "SyncBatchNorm": ((6,), {}, None),
    "Tanh": ((), {}, [([2, 3], F32)]),
    "Tanhshrink": ((), {}, [([2, 3], F32)]),
    "Threshold": ((0.1, 20.0), {}, [([2, 3], F32)]),
    "Transformer": (
        (),
        {
            "d_model": 16,
            "nhead": 4,
            "num_encoder_layers": 2,
            "num_decoder_layers": 1,
            "dim_feedforward": 32,
            "batch_first": True,
        },
        [([2, 5, 16], F32), ([2, 3, 16], F32)],
    ),
    "TransformerDecoder": (
        (nn.TransformerDecoderLayer(16, 4, 32, batch_first=True), 2),
        {},
        [([2, 3, 16], F32), ([2, 5, 16], F32)],
    ),
    "TransformerDecoderLayer": (
        (16, 4, 32),
        {"batch_first": True, "activation": "gelu"},
        [([2, 3, 16], F32), ([2, 5, 16], F32)],
    ),
    "TransformerEncoder": (
        (nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 2),
        {"norm": nn.LayerNorm(16), "enable_nested_tensor": False},
        [([2, 5, 16], F32)],
    ),
    "TransformerEncoderLayer": ((16, 4, 32), {"batch_first": True, "norm_first": True}, [([2, 5, 16], F32)]),
    "TripletMarginLoss": ((), {}, None),
    "TripletMarginWithDistanceLoss": ((), {}, None),
    "Unflatten": ((1, (3, 4)), {}, [([2, 12], F32)]),
    "Unfold": ((2,), {"stride": 2}, [([1, 3, 6, 8], F32)]),
    "Upsample": ((), {"scale_factor": 2, "mode": "bilinear", "align_corners": False}, [([1, 2, 3, 4], F32)]),
    "UpsamplingBilinear2d": ((), {"scale_factor": 2}, [([1, 2, 3, 4], F32)]),
    "UpsamplingNearest2d": ((), {"size": (5, 7)}, [([1, 2, 3, 4], F32)]),
    "ZeroPad1d": ((2,), {}, [([1, 2, 5], F32)]),
    "ZeroPad2d": (((1, 2, 3, 4),), {}, [([1, 2, 5, 4], F32)]),
    "ZeroPad3d": ((1,), {}, [([1, 2, 3, 4, 5], F32)]),
}


def torch_nn_modules() -> list[str]:
    """Every nn.Module subclass that torch.nn exports, by name."""
    return sorted(
        name for name in dir(nn) if isinstance(getattr(nn, name), type) and issubclass(getattr(nn, name), nn.Module)
    )


def test_every_torch_nn_module_has_an_entry() -> None:
    missing = [name for name in torch_nn_modules() if knowledge.lookup(name) is None]
    assert not missing, f"{len(missing)} torch.nn classes have no knowledge entry: {', '.join(missing)}"


def test_every_torch_nn_module_has_an_example_here() -> None:
    missing = [name for name in torch_nn_modules() if name not in EXAMPLES]
    assert not missing, f"add an example for: {', '.join(missing)}"


def build(name: str) -> tuple[nn.Module, LayerSpec]:
    """A real layer of type `name`, described by the probe (with a CPU probe when it has example inputs)."""
    args, kwargs, inputs = EXAMPLES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # Container and NLLLoss2d are deprecated, still exported
        module = getattr(nn, name)(*args, **kwargs)
    entry: dict[str, Any] = {"target": f"torch.nn:{name}", "probe_device": "cpu"}
    if inputs:
        entry["inputs"] = [{"shape": shape, "dtype": dtype} for shape, dtype in inputs]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "LSTM with projections is not supported with oneDNN", UserWarning)
        spec = collect(module, model_options(entry))
    assert not inputs or not spec.probe_error, spec.probe_error
    return module, spec.root


@pytest.mark.parametrize("name", sorted(EXAMPLES))
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
        if h.dim and layer.input_shapes:
            sizes = [explain.size_at(layer, f"{h.dim.split(':')[0]}:{axis}") for axis in h.dim.split(":")[1].split(",")]
            assert sizes == (h.value if isinstance(h.value, list) else [h.value]), (h.name, h.dim, sizes)


def test_knowledge_keys_are_known_fields() -> None:
    # the loader rejects unknown fields; loading the whole table proves every file is well formed
    assert len(knowledge.table()) >= len(torch_nn_modules())


def test_malformed_entry_is_reported_with_its_name() -> None:
    from modeldoc.knowledge import _entry

    with pytest.raises(knowledge.KnowledgeError, match=r"Bad\.args\.x: .*kind must be one of"):
        _entry("Bad", {"args": {"x": {"kind": "chosen"}}})


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
        inputs = EXAMPLES[name][2]
        assert inputs is not None
        real = module(torch.zeros(inputs[0][0])).shape
        results = [int(part.rsplit("=", 1)[1]) for part in layer.formula.split(";")]
        assert results == list(real[-len(results) :]), (name, layer.formula, real)


def test_padding_formula_counts_both_sides() -> None:
    module, raw = build("ZeroPad2d")
    layer = explain.annotate_layer(raw, strict=True)
    real = module(torch.zeros(1, 2, 5, 4)).shape
    computed = [int(m) for m in re.findall(r"= (\d+)(?:;|$)", layer.formula)]
    assert computed == [real[-1], real[-2]]
