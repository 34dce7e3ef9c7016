"""derive.shared_rules: the rule bodies a layer and its function share (windows, adaptive pooling, reshapes).

The registries that call them are tested in test_derive_module_rules.py and
test_derive_function_rules.py; these call the bodies directly.
"""

from __future__ import annotations

import torch

from modeldoc.arithmetic import Formula
from modeldoc.derive import shared_rules
from modeldoc.derive.context import Outcome, Step
from tests.helpers.traces import TraceBuilder, rule_context

META = {"device": "meta"}
WINDOW = {"stride": 1, "padding": 0, "dilation": 1}


def test_a_window_turns_the_incoming_size_into_the_outgoing_one_by_the_real_rule() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 3, 10))
    y = t.function("conv1d", x, out=(2, 4, 8))
    assert tuple(torch.nn.functional.conv1d(torch.empty(2, 3, 10, **META), torch.empty(4, 3, 3, **META)).shape) == (
        2,
        4,
        8,
    )
    ctx = rule_context(t.spec(), y, 2)
    assert shared_rules.window(ctx, "conv1d (3)", 3, WINDOW) == Outcome.computed(
        Step("conv1d (3) turns 10 into 8", 8, "conv1d", Formula("⌊(10 + 2·0 − 1·(3 − 1) − 1) / 1⌋ + 1", 8, "rounded")),
        [(x, 2)],
    )
    assert shared_rules.window(ctx, "conv1d (5)", 5, WINDOW) is None  # a kernel of 5 would give 6, not 8


def test_pooling_strides_by_its_kernel_unless_told_otherwise() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8, 13, 17))
    y = t.function("max_pool2d", x, out=(1, 8, 6, 8))
    assert tuple(torch.nn.functional.max_pool2d(torch.empty(1, 8, 13, 17, **META), 2).shape) == (1, 8, 6, 8)
    spec = t.spec()
    height = shared_rules.pool_window(rule_context(spec, y, 2), "pool", 2, {"kernel_size": 2}, kind="max")
    assert height is not None and height.step is not None and height.step.text == "pool turns 13 into 6"
    width = shared_rules.pool_window(rule_context(spec, y, 3), "pool", 2, {"kernel_size": [2, 2]}, kind="max")
    assert width is not None and width.sources == ((x, 3),)
    assert shared_rules.pool_window(rule_context(spec, y, 1), "pool", 2, {"kernel_size": 2}, kind="max") is None


def test_adaptive_pooling_is_where_its_size_is_born_or_passes_a_none_size_on() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8, 7, 5))
    y = t.function("adaptive_avg_pool2d", x, out=(1, 8, 3, 5))
    spec = t.spec()
    born = shared_rules.adaptive_pool(rule_context(spec, y, 2), "pool", 2, [3, None])
    assert born == Outcome.born(
        Step(
            "pool pools to a fixed size of 3, whatever its input size",
            3,
            "adaptive_avg_pool2d",
            Formula.named("output_size", 3),
        )
    )
    assert shared_rules.adaptive_pool(rule_context(spec, y, 3), "pool", 2, [3, None]) == Outcome.keeps(x, 3)
    assert shared_rules.adaptive_pool(rule_context(spec, y, 1), "pool", 2, [3, None]) is None  # channels: not pooled


def test_a_reshape_keeps_merges_or_splits_sizes() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 4, 8))
    flat = t.function("reshape", x, out=(2, 32))
    heads = t.function("view", flat, out=(2, 2, 16))
    spec = t.spec()
    merged = shared_rules.reshape(rule_context(spec, flat, 1), (2, 4, 8), (2, 32))
    assert merged == Outcome.computed(
        Step("reshape merges 4 × 8 into 32", 32, "reshape", Formula("4 × 8", 32)), [(x, 1), (x, 2)]
    )
    split = shared_rules.reshape(rule_context(spec, heads, 2), (2, 32), (2, 2, 16))
    assert split == Outcome.computed(Step("view splits 32 into 2 × 16", 16, "view", Formula("32 / 2", 16)), [(flat, 1)])
    assert shared_rules.reshape(rule_context(spec, flat, 0), (2, 4, 8), (2, 32)) == Outcome.keeps(x, 0)
