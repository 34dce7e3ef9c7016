"""What a diagram's boxes and edges say: key hyperparameters, tensor sizes, op arguments."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest
from torch import nn

from modeldoc import diagrams
from modeldoc.diagrams import labels
from modeldoc.explain import layers as explain
from modeldoc.spec import OpSpec, TensorInfo
from tests.helpers.traces import static


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (nn.Conv2d(1, 6, 5), "1→6, 5×5"),
        (nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1), "3→8, 3×3, stride 2, pad 1"),
        (nn.Conv1d(8, 8, 3, padding="same", groups=8), "8→8, 3, pad same, groups 8"),
        (nn.Conv2d(3, 8, (1, 3), padding=(0, 1)), "3→8, 1×3, pad 0×1"),
        (nn.Linear(192, 120), "192→120"),
        (nn.Embedding(50257, 768), "50257 ids → 768"),
        (nn.LSTM(12, 10, num_layers=2, bidirectional=True), "12→10, 2 layers, bidirectional"),
        (nn.MultiheadAttention(16, 4), "16, 4 heads"),
        (nn.MaxPool2d(2), "2"),
        (nn.MaxPool2d(3, stride=1), "3, stride 1"),
        (nn.LayerNorm(768), "768"),
        (nn.BatchNorm2d(8), "8"),
        (nn.GroupNorm(4, 32), "32 in 4 groups"),
        (nn.AdaptiveAvgPool2d(1), "→ 1"),
        (nn.Dropout(0.1), "p=0.1"),
        (nn.ReLU(), ""),
    ],
)
def test_brief_names_the_key_hyperparameters(module: nn.Module, expected: str) -> None:
    # the knowledge entry's brief label, as explain fills it in
    assert diagrams.brief(explain.annotate_layer(static(module).root)) == expected


def test_a_long_brief_is_clipped_to_fit_its_box() -> None:
    layer = replace(static(nn.Linear(2, 3)).root, brief="x" * 60)
    assert diagrams.brief(layer) == "x" * 39 + "…"


@pytest.mark.parametrize(
    ("dims", "dtype", "expected"),
    [
        (("N", 6, 24, 24), "float32", "N × 6 × 24 × 24"),
        (("N", "L"), "int64", "N × L · int64"),
        (("N",), "bool", "N · bool"),
        ((), "float32", "scalar"),
    ],
)
def test_an_edge_names_the_size_and_a_dtype_that_is_not_a_float(dims: tuple, dtype: str, expected: str) -> None:
    tensor = TensorInfo(
        id=0, shape=tuple(2 if isinstance(d, str) else d for d in dims), dims=dims, dtype=dtype, producer=None
    )
    assert labels.shape_text(tensor) == expected


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("kernel_size=2, stride=2", "kernel_size=2, stride=2"),
        ("x, inplace=False", "x"),
        ("-1, 192, out=None", "-1, 192"),
        ("8, device=meta", "8"),
        ("(1, 2), dim=-1", "(1, 2), dim=-1"),  # a comma inside brackets does not split
        ("a_long_argument=1, another_long_one=2", "a_long_argument=1, another_…"),
    ],
)
def test_an_op_box_leaves_out_switched_off_flags_and_the_device(args: str, expected: str) -> None:
    assert labels.short_args(args) == expected


def test_a_collapsed_box_counts_children_of_one_kind_or_what_is_inside() -> None:
    spec = static(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2), nn.Linear(2, 2)))
    layers = {layer.path: layer for layer in spec.all_layers}
    assert labels.collapsed_line(spec.root, layers, 3) == "Sequential · 3 × Linear"
    mixed = static(nn.Sequential(nn.Linear(2, 2), nn.ReLU()))
    assert labels.collapsed_line(mixed.root, {layer.path: layer for layer in mixed.all_layers}, 2) == (
        "Sequential · +2 more"
    )
    assert labels.type_line(explain.annotate_layer(layers["0"])) == "Linear 2→2"
    assert labels.type_line(static(nn.ReLU()).root) == "ReLU"


def op(name: str, arguments: dict, args: str = "", inputs: int = 1) -> tuple[OpSpec, list[TensorInfo]]:
    """An op as the probe records it, with `inputs` input tensors of dims N × L × 6."""
    tensors = [
        TensorInfo(id=i, shape=(1, 5, 6), dims=("N", "L", 6), dtype="float32", producer=None) for i in range(inputs)
    ]
    spec = OpSpec(
        index=0,
        kind="function",
        name=name,
        target=f"Tensor.{name}",
        scope="",
        inputs=tuple(t.id for t in tensors),
        args=args or ", ".join(f"{k}={v}" for k, v in arguments.items()),
        arguments=arguments,
    )
    return spec, tensors


@pytest.mark.parametrize(
    ("name", "arguments", "inputs", "expected"),
    [
        ("pow", {"1": 2}, 1, "x²"),
        ("pow", {"1": 0.5}, 1, "√x"),
        ("pow", {"1": 3.5}, 1, "x^3.5"),
        ("add", {"1": 1}, 1, "+ 1"),
        ("add_", {"1": 1e-06}, 1, "+ 1e-06"),
        ("add", {}, 2, "x + y"),
        ("sub", {"1": 8}, 1, "− 8"),
        ("mul", {"1": 0.3535533905932738}, 1, "× 0.354"),
        ("mul", {}, 2, "x ⊙ y"),
        ("div", {"1": 16}, 1, "÷ 16"),
        ("floor_divide", {"other": 2}, 1, "// 2"),
        ("lt", {"1": 16}, 1, "< 16"),
        ("getitem", {"key": ["...", {"slice": [None, 2, None]}]}, 1, "[..., :2]"),
        ("getitem", {"key": [{"slice": [None, None, None]}, {"slice": [0, None, 2]}]}, 1, "[:, 0::2]"),
        ("getitem", {"key": [{"slice": [None, None, None]}, None]}, 1, "[:, None]"),
        ("getitem", {"key": [{"tensor": [1]}, {"tensor": [1]}]}, 3, "[idx, idx]"),
        ("getitem", {}, 2, "[idx]"),
        ("mean", {"dim": -1, "keepdim": True}, 1, "over last axis"),
        ("mean", {"dim": 1}, 1, "over L"),
        ("sum", {"dim": [-2, -1]}, 1, "over L, last axis"),
        ("softmax", {"dim": -1}, 1, "over last axis"),
        ("cat", {"tensors": [{"tensor": [1, 5, 2]}, {"tensor": [1, 5, 4]}], "dim": -1}, 2, "2 along last axis"),
        ("chunk", {"chunks": 2, "dim": -1}, 1, "2 pieces along last axis"),
        ("split", {"split_size_or_sections": [16, 8], "dim": -1}, 1, "16 + 8 along last axis"),
        ("view", {"shape": [1, 8, -1, 8]}, 1, "to 1 × 8 × ? × 8"),
        ("transpose", {"dim0": 1, "dim1": 2}, 1, "swap L, last axis"),
        ("unsqueeze", {"dim": 0}, 1, "new axis at 0"),
        ("flatten", {"start_dim": 1, "end_dim": -1}, 1, "merge axes 1 to last"),
        ("to", {"1": "bool"}, 1, "to bool"),
        ("contiguous", {}, 1, ""),
        ("dropout", {"p": 0.1, "training": False, "inplace": False}, 1, "p = 0.1"),
        (
            "scaled_dot_product_attention",
            {"attn_mask": None, "scale": 0.25, "is_causal": True},
            3,
            "causal, scale 0.25",
        ),
        ("where", {"2": -3.4028234663852886e38}, 2, "else −3.4e+38"),
        ("pad", {"pad": [0, 1, 0, 1], "mode": "constant", "value": 0.0}, 1, "pad 0, 1, 0, 1"),
        ("arange", {"input": 16, "device": "meta"}, 0, "0 … 15"),
        ("arange", {"input": 1}, 0, "0"),
        ("gather", {"dim": 1, "index": {"tensor": [1, 5, 6]}}, 2, "pick along L"),
        ("max_pool2d", {"kernel_size": 2, "stride": 2}, 1, "window 2, stride 2"),
        ("max_pool2d", {"kernel_size": 2, "stride": []}, 1, "window 2"),
        ("max_pool2d", {"kernel_size": [3, 3], "stride": [2, 2], "padding": 1}, 1, "window 3, stride 2, pad 1"),
        ("avg_pool1d", {"kernel_size": [3], "stride": [1]}, 1, "window 3, stride 1"),
        ("adaptive_avg_pool2d", {"output_size": [1, 1]}, 1, "to 1 × 1"),
    ],
)
def test_an_op_box_says_the_op_in_words(name: str, arguments: dict, inputs: int, expected: str) -> None:
    assert labels.op_text(*op(name, arguments, inputs=inputs)) == expected


def test_an_op_without_a_rule_or_without_recorded_arguments_shows_its_arguments() -> None:
    assert labels.op_text(*op("histc", {"bins": 4, "min": 0, "max": 3})) == "bins=4, min=0, max=3"
    # a trace that kept the text of the arguments only: shown as recorded
    assert labels.op_text(*op("flatten", {}, args="1")) == "1"


def test_the_data_flow_of_a_real_model_reads_in_words() -> None:
    from modeldoc.options import model_options
    from modeldoc.pipeline import describe

    spec = describe(model_options({"target": "tests.models:OpWords", "input_shape": [1, "L=5", 6]}))
    dot = html.unescape(diagrams.flow_dot(spec, "", 2, lambda path: ""))  # the DOT writes [ and ] as references
    for words in (
        "x²",
        "over last axis",
        "+ 1e-06",
        "[..., :2]",
        "[..., 2:]",
        "× 2",
        "2 along last axis",
        "swap L, last axis",
        "over L",
        "+ 1",
    ):
        assert f">{words}<" in dot, words
    small_lines = re.findall(r'<FONT POINT-SIZE="9">([^<]*)</FONT>', dot)
    for raw in ("1=2", "{'tensor'", "dim=", "key="):
        assert not [line for line in small_lines if raw in line], raw
    # the tooltip shows the call as Python writes it: positional arguments without their position
    assert 'tooltip="Tensor.pow(2) in OpWords"' in dot
