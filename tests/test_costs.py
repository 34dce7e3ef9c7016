"""Costs: multiply-adds, FLOPs and activation memory, per op, per layer and in total."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from modeldoc import costs
from modeldoc.costs import Shape, op_cost
from modeldoc.probe import loader
from tests.helpers.specs import spec_of


def test_matmul_like_ops_count_multiply_adds_from_shapes() -> None:
    linear = op_cost("linear", {"input": Shape((2, 3)), "weight": Shape((4, 3)), "bias": Shape((4,))}, [(2, 4)])
    assert (linear.macs, linear.flops) == (2 * 4 * 3, 2 * 2 * 4 * 3 + 2 * 4)
    no_bias = op_cost("linear", {"input": Shape((2, 3)), "weight": Shape((4, 3)), "bias": None}, [(2, 4)])
    assert (no_bias.macs, no_bias.flops) == (24, 48)
    conv = op_cost(
        "conv2d", {"input": Shape((1, 1, 28, 28)), "weight": Shape((6, 1, 5, 5)), "bias": None}, [(1, 6, 24, 24)]
    )
    assert conv.macs == 6 * 24 * 24 * 1 * 5 * 5
    grouped = op_cost(
        "conv2d", {"input": Shape((1, 8, 9, 9)), "weight": Shape((8, 2, 3, 3)), "bias": None}, [(1, 8, 7, 7)]
    )
    assert grouped.macs == 8 * 7 * 7 * 2 * 3 * 3
    transposed = op_cost(
        "conv_transpose2d",
        {"input": Shape((1, 4, 5, 5)), "weight": Shape((4, 3, 2, 2)), "bias": None},
        [(1, 3, 10, 10)],
    )
    assert transposed.macs == 4 * 5 * 5 * 3 * 2 * 2
    batched = op_cost("matmul", {"input": Shape((2, 3, 4)), "other": Shape((2, 4, 5))}, [(2, 3, 5)])
    assert batched.macs == 2 * 3 * 5 * 4
    addmm = op_cost("addmm", {"bias": Shape((5,)), "mat1": Shape((3, 4)), "mat2": Shape((4, 5))}, [(3, 5)])
    assert (addmm.macs, addmm.flops) == (60, 120 + 15)
    einsum = op_cost(
        "einsum", {"equation": "bij,bjk->bik", "operands": [Shape((2, 3, 4)), Shape((2, 4, 5))]}, [(2, 3, 5)]
    )
    assert einsum.macs == 2 * 3 * 4 * 5


def test_attention_counts_scores_and_weighted_sum() -> None:
    q, k, v = Shape((1, 2, 5, 8)), Shape((1, 2, 7, 8)), Shape((1, 2, 7, 6))
    cost = op_cost("scaled_dot_product_attention", {"query": q, "key": k, "value": v}, [(1, 2, 5, 6)])
    scores = 1 * 2 * 5 * 7
    assert cost.macs == scores * 8 + scores * 6
    assert cost.flops == 2 * cost.macs + 4 * scores


def test_other_ops_follow_the_documented_conventions() -> None:
    out = [(2, 3, 4)]
    assert op_cost("add", {"input": Shape((2, 3, 4)), "other": Shape((2, 3, 4))}, out).flops == 24
    assert op_cost("add_", {"input": Shape((2, 3, 4)), "other": 1}, out).flops == 24
    assert op_cost("softmax", {"input": Shape((2, 3, 4)), "dim": -1}, out).flops == 3 * 24
    assert op_cost("layer_norm", {"input": Shape((2, 3, 4))}, out).flops == 5 * 24
    assert op_cost("batch_norm", {"input": Shape((2, 3, 4)), "training": False}, out).flops == 2 * 24
    assert op_cost("max_pool2d", {"input": Shape((1, 2, 8, 8)), "kernel_size": 2}, [(1, 2, 4, 4)]).flops == 32 * 4
    assert op_cost("mean", {"input": Shape((2, 3, 4)), "dim": 1}, [(2, 4)]).flops == 24
    for free in ("reshape", "getitem", "cat", "embedding", "dropout", "transpose"):
        assert op_cost(free, {"input": Shape((2, 3, 4))}, out) == costs.ZERO
    assert op_cost("some_unknown_op", {"input": Shape((2, 3))}, [(2, 3)]) == costs.ZERO


def test_fashion_cnn_costs_match_hand_arithmetic() -> None:
    spec = spec_of("modeldoc.examples.fashion:Network", "1,1,28,28")
    conv1 = 6 * 24 * 24 * (1 * 5 * 5)
    conv2 = 12 * 8 * 8 * (6 * 5 * 5)
    fc1, fc2, out = 192 * 120, 120 * 60, 60 * 10
    assert spec.layer("conv1").macs == conv1
    assert spec.layer("conv2").macs == conv2
    assert spec.layer("fc1").macs == fc1
    assert spec.macs == spec.root.macs == conv1 + conv2 + fc1 + fc2 + out
    # FLOPs: 2 per multiply-add, plus bias adds, relus and pooling windows.
    biases = 6 * 24 * 24 + 12 * 8 * 8 + 120 + 60 + 10
    relus = 6 * 24 * 24 + 12 * 8 * 8 + 120 + 60
    pools = 6 * 12 * 12 * 4 + 12 * 4 * 4 * 4
    assert spec.flops == 2 * spec.macs + biases + relus + pools
    # Activations: every op output in float32 except the reshape, a view of the pooled map.
    outputs = [6 * 24 * 24] * 2 + [6 * 12 * 12] + [12 * 8 * 8] * 2 + [12 * 4 * 4] + [120] * 2 + [60] * 2 + [10]
    assert spec.activation_bytes == 4 * sum(outputs)
    assert spec.param_bytes == 4 * spec.total_params


def test_layers_sum_their_subtree_and_shared_calls_count_twice() -> None:
    spec = spec_of("tests.models:Branches", "1,6")
    left, right, merge = (spec.layer(p) for p in ("branches.left", "branches.right", "merge"))
    assert (left.macs, right.macs, merge.macs) == (6 * 4, 6 * 5, 9 * 2)
    assert spec.layer("branches").macs == left.macs + right.macs
    assert spec.macs == left.macs + right.macs + merge.macs
    assert spec.layer("branches").activation_bytes == left.activation_bytes + right.activation_bytes
    shared = spec_of("tests.models:SharedBlock", "1,8")
    assert shared.layer("block").calls == 2
    assert shared.layer("block").macs == 2 * 8 * 8
    assert shared.macs == 2 * 8 * 8 + 8 * 2


def test_recurrent_cost_applies_every_weight_matrix_per_token() -> None:
    spec = spec_of("tests.models:TextLSTM", "N=2,L=7", input_dtype="long")
    lstm = spec.layer("lstm")
    matrices = sum(math.prod(p.shape) for p in lstm.parameters if len(p.shape) == 2)
    assert lstm.macs == 2 * 7 * matrices
    assert spec.layer("embed").macs == 0


def _flop_counter_total(target: str, *args: torch.Tensor, **kwargs: torch.Tensor) -> int:
    model = loader.load_model(target).module.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(*args, **kwargs)
    return counter.get_total_flops()


@pytest.mark.parametrize(
    ("target", "shape", "dtype", "example"),
    [
        ("modeldoc.examples.fashion:Network", "1,1,28,28", "float32", lambda: ((torch.randn(1, 1, 28, 28),), {})),
        ("tests.models:Heads", "1,L=5,12", "float32", lambda: ((torch.randn(1, 5, 12),), {})),
        (
            "tests.models:tiny_gpt2",
            "input_ids:1,L=8",
            "long",
            lambda: ((), {"input_ids": torch.ones(1, 8, dtype=torch.long)}),
        ),
        (
            "tests.models:tiny_llama",
            "input_ids:1,L=8",
            "long",
            lambda: ((), {"input_ids": torch.ones(1, 8, dtype=torch.long)}),
        ),
    ],
)
def test_totals_agree_with_flop_counter_mode_where_both_see_the_op(target, shape, dtype, example) -> None:
    """FlopCounterMode counts 2 FLOPs per multiply-add of matmuls and convolutions: it agrees with 2 × MACs here.

    The one difference: on CPU, attention runs as ``_scaled_dot_product_flash_attention_for_cpu``,
    which FlopCounterMode has no formula for, so it leaves attention's MACs out.
    """
    spec = spec_of(target, shape, input_dtype=dtype)
    args, kwargs = example()
    counted = _flop_counter_total(target, *args, **kwargs)
    attention = sum(op.macs for op in spec.trace.ops if op.name == "scaled_dot_product_attention")
    assert counted == 2 * (spec.macs - attention)
    if "gpt2" in target or "llama" in target or "Heads" in target:
        assert attention > 0


def test_flop_counter_mode_misses_fused_cpu_kernels_that_the_trace_counts() -> None:
    """On CPU an LSTM and MultiheadAttention's fast path run as fused kernels that FlopCounterMode does not see."""
    lstm = spec_of("tests.models:TextLSTM", "N=2,L=7", input_dtype="long")
    counted = _flop_counter_total("tests.models:TextLSTM", torch.ones(2, 7, dtype=torch.long))
    assert counted == 2 * lstm.layer("fc").macs
    assert lstm.layer("lstm").macs > 0
    attention = spec_of("tests.models:Attention", "1,L=5,16")
    counted = _flop_counter_total("tests.models:Attention", torch.randn(1, 5, 16))
    assert counted == 2 * attention.layer("proj").macs
    embed, length = 16, 5
    projections = 4 * length * embed * embed
    assert attention.layer("attn").macs == projections + 2 * length * length * embed


def test_summarize_attributes_ops_to_their_layer_and_every_ancestor() -> None:
    assert costs.ancestors("encoder.layer.0") == ["encoder.layer.0", "encoder.layer", "encoder", ""]
    spec = spec_of("tests.models:tiny_bert", "input_ids:1,L=8", input_dtype="long")
    totals = costs.summarize(spec.trace)
    layer0 = totals["encoder.layer.0"]
    inside = [
        op
        for op in spec.trace.ops
        if (costs.owner(op) or "-").startswith("encoder.layer.0.") or costs.owner(op) == "encoder.layer.0"
    ]
    assert layer0.macs == sum(op.macs for op in inside) > 0
    assert totals[""].macs == spec.macs
    assert spec.layer("encoder").macs == totals["encoder.layer.0"].macs + totals["encoder.layer.1"].macs
