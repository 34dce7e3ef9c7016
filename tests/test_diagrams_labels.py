"""What a diagram's boxes and edges say: key hyperparameters, tensor sizes, op arguments."""

from __future__ import annotations

from dataclasses import replace

import pytest
from torch import nn

from modeldoc import diagrams
from modeldoc.diagrams import labels
from modeldoc.explain import layers as explain
from modeldoc.spec import TensorInfo
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
