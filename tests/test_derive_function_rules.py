"""Function rules: one per family of torch ops, each checked on a hand-built trace.

Each test calls the rule registered for the op's name on one axis and compares its whole
answer (the step's sentence, value, place and formula, and the sizes it rests on). The shapes
in the traces are the ones torch gives for the same call, checked here on the meta device.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from modeldoc.arithmetic import Formula
from modeldoc.derive import attach
from modeldoc.derive.context import Outcome, Step
from modeldoc.derive.function_rules import FUNCTION_RULES, apply_function_rule, function_rule
from tests.helpers.specs import hyper, linear
from tests.helpers.traces import TraceBuilder, rule_context, rule_outcome

META = {"device": "meta"}


def test_every_function_rule_is_registered_under_a_real_torch_op_name() -> None:
    def exists(name: str) -> bool:
        return (
            hasattr(F, name)
            or hasattr(torch, name)
            or hasattr(torch.Tensor, name)
            or hasattr(torch.Tensor, f"__{name}__")  # getitem is x[...]
        )

    assert len(FUNCTION_RULES) > 50
    assert [name for name in FUNCTION_RULES if not exists(name)] == []
    assert not exists("avg_pool2d_with_indices")  # the old pattern allowed it; torch has no such op
    with pytest.raises(ValueError, match="op 'cat' has two function rules: concatenation and <lambda>"):
        function_rule("cat")(lambda ctx: None)


def test_the_window_families_are_registered_by_name_for_every_dimension() -> None:
    for n in (1, 2, 3):
        assert FUNCTION_RULES[f"conv{n}d"].__name__ == f"conv{n}d"
        assert FUNCTION_RULES[f"conv_transpose{n}d"].__name__ == f"conv_transpose{n}d"
        assert FUNCTION_RULES[f"max_pool{n}d"] is FUNCTION_RULES[f"max_pool{n}d_with_indices"]
        assert FUNCTION_RULES[f"avg_pool{n}d"].__name__ == f"avg_pool{n}d"
        assert FUNCTION_RULES[f"adaptive_avg_pool{n}d"] is FUNCTION_RULES[f"adaptive_max_pool{n}d"]


# --------------------------------------------------------------------------- shapes


def test_reshape_view_flatten_merge_and_split() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 5, 24))
    heads = t.function("view", x, out=(2, 5, 4, 6), shape=[2, 5, 4, 6])
    flat = t.function("flatten", heads, out=(2, 120), start_dim=1)
    spec = t.spec()
    assert tuple(torch.empty(2, 5, 24, **META).view(2, 5, 4, 6).flatten(1).shape) == (2, 120)
    assert rule_outcome(spec, heads, 2) == Outcome.computed(
        Step("view splits 24 into 4 × 6", 4, "view", Formula("24 / 6", 4)), [(x, 2)]
    )
    assert rule_outcome(spec, heads, 1) == Outcome.keeps(x, 1)
    assert rule_outcome(spec, flat, 1) == Outcome.computed(
        Step("flatten merges 5 × 4 × 6 into 120", 120, "flatten", Formula("5 × 4 × 6", 120)),
        [(heads, 1), (heads, 2), (heads, 3)],
    )


def test_an_in_place_op_follows_its_ops_rule_and_a_scoped_op_says_where_it_ran() -> None:
    t = TraceBuilder()
    x = t.input("x", (3, 4))
    y = t.function("unsqueeze_", x, out=(3, 1, 4), scope="encoder.attn", dim=1)
    z = t.function("reshape", y, out=(12,), scope="encoder.attn", shape=[-1])
    spec = t.spec()
    assert apply_function_rule(rule_context(spec, y, 2)) == Outcome.keeps(x, 1)
    assert rule_outcome(spec, z, 0) == Outcome.computed(
        Step("reshape in encoder.attn merges 3 × 4 into 12", 12, "encoder.attn: reshape", Formula("3 × 4", 12)),
        [(y, 0), (y, 2)],
    )


def test_cat_adds_the_joined_axis_and_keeps_the_others() -> None:
    t = TraceBuilder()
    a = t.input("a", (2, 4))
    b = t.input("b", (2, 3))
    joined = t.function("cat", a, b, out=(2, 7), dim=-1)
    spec = t.spec()
    assert rule_outcome(spec, joined, 1) == Outcome.computed(
        Step("cat joins 4 + 3 = 7", 7, "cat", Formula("4 + 3", 7)), [(a, 1), (b, 1)]
    )
    assert rule_outcome(spec, joined, 0) == Outcome.keeps(a, 0)


def test_stack_counts_its_tensors() -> None:
    t = TraceBuilder()
    parts = [t.input(f"x{i}", (2, 5)) for i in range(3)]
    stacked = t.function("stack", *parts, out=(2, 3, 5), dim=1)
    spec = t.spec()
    assert tuple(torch.stack([torch.empty(2, 5, **META)] * 3, dim=1).shape) == (2, 3, 5)
    assert rule_outcome(spec, stacked, 1) == Outcome.born(
        Step("stack stacks 3 tensors", 3, "stack", Formula.sentence("3 tensors", 3))
    )
    assert rule_outcome(spec, stacked, 2) == Outcome.keeps(parts[0], 1)


def test_transposes_and_permutes_move_sizes_between_axes() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 6, 8))
    xt = t.function("transpose", x, out=(2, 8, 6), dim0=1, dim1=2)
    p = t.function("permute", xt, out=(6, 2, 8), dims=[2, 0, 1])
    m = t.function("mT", p, out=(6, 8, 2))
    spec = t.spec()
    assert tuple(torch.empty(2, 6, 8, **META).transpose(1, 2).permute(2, 0, 1).mT.shape) == (6, 8, 2)
    assert rule_outcome(spec, xt, 1) == Outcome.keeps(x, 2)
    assert rule_outcome(spec, p, 0) == Outcome.keeps(xt, 2)
    assert rule_outcome(spec, m, 2) == Outcome.keeps(p, 1)


def test_getitem_slices_keep_stop_minus_start() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 6, 10))
    part = t.function("getitem", x, out=(2, 4, 5), key=["...", {"slice": [1, 5, None]}, {"slice": [1, None, 2]}])
    last = t.function("getitem", x, out=(2, 10), key=[{"slice": [None, None, None]}, -1])
    spec = t.spec()
    assert tuple(torch.empty(2, 6, 10, **META)[..., 1:5, 1::2].shape) == (2, 4, 5)
    assert rule_outcome(spec, part, 1) == Outcome.computed(
        Step("getitem keeps 1:5 of 6", 4, "getitem", Formula("5 − 1", 4)), [(x, 1)]
    )
    assert rule_outcome(spec, part, 2) == Outcome.computed(
        Step("getitem keeps 1::2 of 10", 5, "getitem", Formula("⌈(10 − 1) / 2⌉", 5, "rounded")), [(x, 2)]
    )
    assert rule_outcome(spec, last, 1) == Outcome.keeps(x, 2)


def test_split_and_chunk_cut_one_axis_into_pieces() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 36))
    q, _, _ = t.function("chunk", x, out=[(1, 12), (1, 12), (1, 12)], chunks=3, dim=-1)
    y = t.input("y", (1, 10))
    a, _, _ = t.function("chunk", y, out=[(1, 4), (1, 4), (1, 2)], chunks=3, dim=1)
    s, _ = t.function("split", y, out=[(1, 5), (1, 5)], split_size_or_sections=5, dim=1)
    n, _ = t.function("tensor_split", y, out=[(1, 5), (1, 5)], dim=1)
    spec = t.spec()
    assert [c.shape[1] for c in torch.empty(1, 10, **META).chunk(3, dim=1)] == [4, 4, 2]
    assert rule_outcome(spec, q, 1) == Outcome.computed(
        Step("chunk cuts 36 into 3 pieces", 12, "chunk", Formula("36 / 3", 12)), [(x, 1)]
    )
    assert rule_outcome(spec, a, 1) == Outcome.computed(
        Step("chunk cuts 10 into 3 pieces", 4, "chunk", Formula("⌈10 / 3⌉", 4, "rounded")), [(y, 1)]
    )
    assert rule_outcome(spec, s, 1) == Outcome.computed(
        Step("split cuts 10 into 2 pieces", 5, "split", Formula("10 / 2", 5)), [(y, 1)]
    )
    assert rule_outcome(spec, n, 1) == Outcome.computed(
        Step("tensor_split cuts 10 into 2 pieces", 5, "tensor_split"), [(y, 1)]
    )
    assert rule_outcome(spec, q, 0) == Outcome.keeps(x, 0)


def test_a_reduction_drops_its_axes_and_keepdim_is_left_alone() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 7, 5))
    mean = t.function("mean", x, out=(2, 5), dim=1)
    kept = t.function("sum", x, out=(2, 1, 5), dim=1, keepdim=True)
    t.output(t.module("fc", kept, out=(2, 1, 3)))
    spec = t.spec(linear("fc", 5, 3))
    assert rule_outcome(spec, mean, 1) == Outcome.keeps(x, 2)
    assert rule_outcome(spec, kept, 2) is None  # left to the generic rule, which passes the 5 on
    assert [s.text for s in hyper(attach(spec), "fc", "in_features").derivation] == ["the input `x` is 2 × 7 × 5"]


def test_expand_broadcasts_and_repeat_multiplies() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 4))
    e = t.function("expand", x, out=(3, 4), size=[3, 4])
    r = t.function("repeat", x, out=(1, 12), repeats=[1, 3])
    spec = t.spec()
    assert rule_outcome(spec, e, 1) == Outcome.keeps(x, 1)
    assert rule_outcome(spec, e, 0) == Outcome.born(Step("expand broadcasts to 3", 3, "expand"))
    assert rule_outcome(spec, r, 1) == Outcome.computed(
        Step("repeat repeats 4 3 times", 12, "repeat", Formula("4 × 3", 12)), [(x, 1)]
    )


# --------------------------------------------------------------------------- products


def test_matmul_takes_rows_from_the_first_operand_and_columns_from_the_second() -> None:
    t = TraceBuilder()
    a = t.input("a", (8, 3, 5))
    b = t.input("b", (5, 7))
    bias = t.parameter("bias", (3, 7))
    ab = t.function("matmul", a, b, out=(8, 3, 7))
    m1 = t.input("m1", (3, 5))
    added = t.function("addmm", bias, m1, b, out=(3, 7))
    spec = t.spec()
    assert rule_outcome(spec, ab, 2) == Outcome.keeps(b, 1)
    assert rule_outcome(spec, ab, 1) == Outcome.keeps(a, 1)
    assert rule_outcome(spec, ab, 0) == Outcome.keeps(a, 0)
    assert rule_outcome(spec, added, 0) == Outcome.keeps(m1, 0)
    assert rule_outcome(spec, added, 1) == Outcome.keeps(b, 1)


def test_functional_linear_and_embedding_take_the_weights_width() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 8))
    w = t.parameter("fc.weight", (3, 8))
    y = t.function("linear", x, w, out=(2, 3))
    ids = t.input("ids", (2, 5))
    table = t.parameter("emb.weight", (50, 16))
    e = t.function("embedding", ids, table, out=(2, 5, 16))
    spec = t.spec()
    assert rule_outcome(spec, y, 1) == Outcome.keeps(w, 0)
    assert rule_outcome(spec, e, 2) == Outcome.keeps(table, 1)
    t.output(t.module("head", e, out=(2, 5, 4)))
    head = hyper(attach(t.spec(linear("head", 16, 4))), "head", "in_features")
    assert [(s.text, s.formula) for s in head.derivation] == [
        ("the tensor `emb.weight` has 16 at axis 1", "emb.weight.shape[1] = 16")
    ]


def test_scaled_dot_product_attention_has_the_values_width_and_the_querys_length() -> None:
    t = TraceBuilder()
    q = t.input("q", (1, 4, 5, 8))
    k = t.input("k", (1, 4, 9, 8))
    v = t.input("v", (1, 4, 9, 6))
    out = t.function("scaled_dot_product_attention", q, k, v, out=(1, 4, 5, 6))
    spec = t.spec()
    assert tuple(
        F.scaled_dot_product_attention(
            *(torch.empty(*s, **META) for s in ((1, 4, 5, 8), (1, 4, 9, 8), (1, 4, 9, 6)))
        ).shape
    ) == (1, 4, 5, 6)
    assert rule_outcome(spec, out, 3) == Outcome.keeps(v, 3)
    assert rule_outcome(spec, out, 2) == Outcome.keeps(q, 2)


# --------------------------------------------------------------------------- windows


def test_functional_convolutions_take_channels_from_the_weight_and_lengths_from_the_window() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 3, 9, 9))
    w = t.parameter("w", (6, 3, 3, 3))
    y = t.function("conv2d", x, w, out=(1, 6, 4, 4), stride=2, padding=0, dilation=1, groups=1)
    wt = t.parameter("wt", (6, 2, 3, 3))
    up = t.function(
        "conv_transpose2d", y, wt, out=(1, 2, 9, 9), stride=2, padding=0, output_padding=0, groups=1, dilation=1
    )
    spec = t.spec()
    assert tuple(F.conv2d(torch.empty(1, 3, 9, 9, **META), torch.empty(6, 3, 3, 3, **META), stride=2).shape) == (
        1,
        6,
        4,
        4,
    )
    assert rule_outcome(spec, y, 1) == Outcome.keeps(w, 0)
    assert rule_outcome(spec, y, 3) == Outcome.computed(
        Step(
            "conv2d (3×3 kernel) turns 9 into 4",
            4,
            "conv2d",
            Formula("⌊(9 + 2·0 − 1·(3 − 1) − 1) / 2⌋ + 1", 4, "rounded"),
        ),
        [(x, 3)],
    )
    assert rule_outcome(spec, up, 1) == Outcome.keeps(wt, 1)
    assert rule_outcome(spec, up, 2) == Outcome.computed(
        Step(
            "conv_transpose2d (3×3 kernel) turns 4 into 9",
            9,
            "conv_transpose2d",
            Formula("(4 − 1)·2 − 2·0 + 1·(3 − 1) + 0 + 1", 9),
        ),
        [(y, 2)],
    )


def test_functional_pooling_windows_and_adaptive_sizes() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 4, 8, 8))
    mp = t.function(
        "max_pool2d", x, out=(1, 4, 4, 4), kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=False
    )
    ap = t.function("avg_pool1d", mp, out=(1, 4, 4, 2), kernel_size=[2], stride=[2], padding=0, ceil_mode=False)
    ad = t.function("adaptive_avg_pool2d", ap, out=(1, 4, 1, 1), output_size=1)
    spec = t.spec()
    assert rule_outcome(spec, mp, 2) == Outcome.computed(
        Step(
            "max_pool2d (kernel 2, stride 2) turns 8 into 4",
            4,
            "max_pool2d",
            Formula("⌊(8 + 2·0 − 1·(2 − 1) − 1) / 2⌋ + 1", 4, "rounded"),
        ),
        [(x, 2)],
    )
    assert rule_outcome(spec, mp, 1) is None
    assert rule_outcome(spec, ap, 3) == Outcome.computed(
        Step(
            "avg_pool1d (kernel 2, stride 2) turns 4 into 2",
            2,
            "avg_pool1d",
            Formula("⌊(4 + 2·0 − 1·(2 − 1) − 1) / 2⌋ + 1", 2, "rounded"),
        ),
        [(mp, 3)],
    )
    assert rule_outcome(spec, ap, 2) is None  # a 1-D pool leaves the height alone
    assert rule_outcome(spec, ad, 3) == Outcome.born(
        Step(
            "adaptive_avg_pool2d pools to a fixed size of 1, whatever its input size",
            1,
            "adaptive_avg_pool2d",
            Formula.named("output_size", 1),
        )
    )
