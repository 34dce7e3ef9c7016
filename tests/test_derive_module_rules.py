"""Module rules: one per size rule a knowledge entry can name, each checked on a hand-built trace.

Each test calls the rule registered for the layer's `size_rule` on one axis and compares its
whole answer (the step's sentence, value, place and formula, and the sizes it rests on).
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.arithmetic import Formula
from modeldoc.derive import attach
from modeldoc.derive.context import Outcome, Step
from modeldoc.derive.module_rules import MODULE_RULES, apply_module_rule, module_rule
from modeldoc.options import model_options
from modeldoc.pipeline import describe_module
from tests.helpers.specs import hp, hyper, layer, linear, lstm
from tests.helpers.traces import TraceBuilder, rule_context, rule_outcome


def chosen(path: str, type_name: str, name: str, value: int) -> Outcome:
    step = Step(
        f"{path} ({type_name}) has {name} = {value}, chosen by the designer",
        value,
        path,
        Formula.named(f"{path}.{name}", value),
    )
    return Outcome.born(step, "chosen", (path, name))


def test_every_size_rule_has_exactly_one_module_rule() -> None:
    assert set(MODULE_RULES) == set(knowledge.SIZE_RULES)
    with pytest.raises(ValueError, match="size rule 'conv' has two module rules: conv and <lambda>"):
        module_rule("conv")(lambda ctx: None)
    assert MODULE_RULES["conv"].__name__ == "conv"


def test_every_size_rule_the_knowledge_names_is_one_the_registry_serves() -> None:
    named = {entry.size_rule for entry in knowledge.table().values() if entry.size_rule}
    assert named == set(MODULE_RULES)


# --------------------------------------------------------------------------- windows


def test_conv_channels_are_out_channels_and_lengths_follow_the_window() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 3, 10))
    c = t.module("c", x, out=(1, 4, 5))
    conv = layer(
        "c",
        "Conv1d",
        [hp("out_channels", 4, "out0:-2"), hp("kernel_size", [3]), hp("stride", [2]), hp("padding", [1])],
        size_rule="conv",
    )
    spec = t.spec(conv)
    assert rule_outcome(spec, c, 2) == Outcome.computed(
        Step(
            "c (Conv1d 3, stride 2, padding 1) turns 10 into 5",
            5,
            "c",
            Formula("⌊(10 + 2·1 − 1·(3 − 1) − 1) / 2⌋ + 1", 5, "rounded"),
        ),
        [(x, 2)],
    )
    assert rule_outcome(spec, c, 1) == chosen("c", "Conv1d", "out_channels", 4)
    assert rule_outcome(spec, c, 0) is None  # the batch axis is not the layer's to explain


def test_conv_transpose_grows_by_the_transposed_formula() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8, 4, 4))
    up = t.module("up", x, out=(1, 4, 8, 8))
    layer_ = layer(
        "up",
        "ConvTranspose2d",
        [
            hp("out_channels", 4, "out0:-3"),
            hp("kernel_size", [3, 3]),
            hp("stride", [2, 2]),
            hp("padding", [1, 1]),
            hp("output_padding", [1, 1]),
        ],
        size_rule="conv_transpose",
    )
    spec = t.spec(layer_)
    assert rule_outcome(spec, up, 3) == Outcome.computed(
        Step(
            "up (ConvTranspose2d 3×3, stride 2, padding 1) turns 4 into 8",
            8,
            "up",
            Formula("(4 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1", 8),
        ),
        [(x, 3)],
    )
    assert rule_outcome(spec, up, 1) == chosen("up", "ConvTranspose2d", "out_channels", 4)


def test_max_pool_windows_only_the_spatial_axes() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8, 8, 8))
    p = t.module("pool", x, out=(1, 8, 8, 8))
    pool = layer(
        "pool",
        "MaxPool2d",
        [hp("kernel_size", 3), hp("stride", 1), hp("padding", 1), hp("dilation", 1), hp("ceil_mode", False)],
        params=0,
        size_rule="max_pool",
    )
    spec = t.spec(pool)
    assert rule_outcome(spec, p, 3) == Outcome.computed(
        Step(
            "pool (MaxPool2d kernel 3, stride 1, padding 1) turns 8 into 8",
            8,
            "pool",
            Formula("⌊(8 + 2·1 − 1·(3 − 1) − 1) / 1⌋ + 1", 8, "rounded"),
        ),
        [(x, 3)],
    )
    # The channel axis keeps its size too, but a 3-wide window with padding 1 is not why: it is not spatial.
    assert rule_outcome(spec, p, 1) is None


def test_avg_pool_rounds_up_with_ceil_mode_and_ignores_dilation() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8, 5, 5))
    p = t.module("avg", x, out=(1, 8, 3, 3))
    pool = layer(
        "avg", "AvgPool2d", [hp("kernel_size", 2), hp("stride", 2), hp("ceil_mode", True)], size_rule="avg_pool"
    )
    assert rule_outcome(t.spec(pool), p, 2) == Outcome.computed(
        Step(
            "avg (AvgPool2d kernel 2, stride 2, ceil_mode) turns 5 into 3",
            3,
            "avg",
            Formula("⌈(5 + 2·0 − 1·(2 − 1) − 1) / 2⌉ + 1", 3, "rounded"),
        ),
        [(x, 2)],
    )
    assert torch.nn.functional.avg_pool2d(torch.empty(1, 8, 5, 5, device="meta"), 2, ceil_mode=True).shape[-1] == 3


def test_adaptive_pool_fixes_a_size_or_keeps_the_input_one() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 4, 8, 8))
    p = t.module("adapt", x, out=(1, 4, 3, 8))
    pool = layer("adapt", "AdaptiveMaxPool2d", [hp("output_size", [3, None])], params=0, size_rule="adaptive_pool")
    spec = t.spec(pool)
    assert rule_outcome(spec, p, 2) == Outcome.born(
        Step(
            "adapt (AdaptiveMaxPool2d) pools to a fixed size of 3, whatever its input size",
            3,
            "adapt",
            Formula.named("output_size", 3),
        )
    )
    assert rule_outcome(spec, p, 3) == Outcome.keeps(x, 3)


# --------------------------------------------------------------------------- features


def test_linear_and_embedding_give_their_last_axis() -> None:
    t = TraceBuilder()
    ids = t.input("ids", (2, 5))
    e = t.module("emb", ids, out=(2, 5, 16))
    y = t.module("fc", e, out=(2, 5, 3))
    emb = layer("emb", "Embedding", [hp("num_embeddings", 50), hp("embedding_dim", 16)], size_rule="embedding")
    spec = t.spec(emb, linear("fc", 16, 3))
    assert rule_outcome(spec, e, 2) == chosen("emb", "Embedding", "embedding_dim", 16)
    assert rule_outcome(spec, e, 1) is None
    assert rule_outcome(spec, y, 2) == chosen("fc", "Linear", "out_features", 3)
    assert rule_outcome(spec, y, 1) is None
    assert [s.text for s in hyper(attach(spec), "fc", "in_features").derivation] == [
        "emb (Embedding) has embedding_dim = 16, chosen by the designer"
    ]


def test_recurrent_outputs_directions_times_hidden_and_one_state_per_layer_and_direction() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 5, 6))
    out, h, _ = t.module("rnn", x, out=[(2, 5, 20), (4, 2, 10), (4, 2, 10)])
    rnn = lstm("rnn", 6, 10, 2, bidirectional=True)
    spec = t.spec(rnn)
    assert rule_outcome(spec, out, 2) == Outcome.born(
        Step(
            "rnn (LSTM) is bidirectional: its 2 directions each give hidden_size = 10",
            20,
            "rnn",
            Formula("2 × 10", 20),
        )
    )
    assert rule_outcome(spec, out, 1) == Outcome.keeps(x, 1)
    assert rule_outcome(spec, h, 0) == Outcome.born(
        Step("rnn (LSTM) keeps one final state per layer and direction", 4, "rnn", Formula("2 × 2", 4))
    )
    assert rule_outcome(spec, h, 2) == chosen("rnn", "LSTM", "hidden_size", 10)


def test_a_one_way_recurrence_with_a_projection_gives_proj_size() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 5, 6))
    out = t.module("rnn", x, out=(2, 5, 4))
    rnn = layer("rnn", "LSTM", [hp("hidden_size", 10), hp("proj_size", 4)], size_rule="recurrent")
    assert rule_outcome(t.spec(rnn), out, 2) == chosen("rnn", "LSTM", "proj_size", 4)


# --------------------------------------------------------------------------- shapes


def test_flatten_merges_and_unflatten_splits() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 4, 3, 8))
    flat = t.module("flat", x, out=(1, 4, 24))
    back = t.module("unflat", flat, out=(1, 4, 6, 4))
    spec = t.spec(
        layer("flat", "Flatten", [hp("start_dim", 2), hp("end_dim", -1)], params=0, size_rule="reshape"),
        layer("unflat", "Unflatten", [hp("dim", 2), hp("unflattened_size", [6, 4])], params=0, size_rule="reshape"),
    )
    assert rule_outcome(spec, flat, 2) == Outcome.computed(
        Step("flat (Flatten) merges 3 × 8 into 24", 24, "flat", Formula("3 × 8", 24)), [(x, 2), (x, 3)]
    )
    assert rule_outcome(spec, flat, 1) == Outcome.keeps(x, 1)
    assert rule_outcome(spec, back, 2) == Outcome.computed(
        Step("unflat (Unflatten) splits 24 into 6 × 4", 6, "unflat", Formula("24 / 4", 6)), [(flat, 2)]
    )


def test_attention_keeps_the_querys_sizes() -> None:
    t = TraceBuilder()
    q = t.input("q", (1, 5, 16))
    out, weights = t.module("mha", q, q, q, out=[(1, 5, 16), (1, 5, 5)])
    mha = layer("mha", "MultiheadAttention", [hp("embed_dim", 16, "in0:-1", "data-dependent")], size_rule="attention")
    spec = t.spec(mha)
    assert rule_outcome(spec, out, 2) == Outcome.keeps(q, 2)
    assert rule_outcome(spec, out, 1) == Outcome.keeps(q, 1)
    assert rule_outcome(spec, weights, 2) is None  # the attention weights are not the output


# --------------------------------------------------------------------------- dispatch


def test_a_chosen_argument_naming_the_output_axis_gives_it_for_any_layer() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 4))
    y = t.module("block", x, out=(1, 6))
    block = layer("block", "Block", [hp("width", 6, "out0:-1")])  # no size rule: a layer the table does not know
    spec = t.spec(block)
    assert apply_module_rule(rule_context(spec, y, 1)) == chosen("block", "Block", "width", 6)
    assert apply_module_rule(rule_context(spec, y, 0)) is None


def test_dispatch_follows_the_size_rule_not_the_class_name() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 3, 10))
    c = t.module("c", x, out=(1, 4, 8))
    flat = t.function("flatten", c, out=(1, 32), start_dim=1)
    t.output(t.module("fc", flat, out=(1, 2)))
    args = [hp("out_channels", 4), hp("kernel_size", [3])]
    # Named like a convolution, but its entry names no size rule: the length is said to be made by the layer.
    lookalike = layer("c", "Conv1d", args, size_rule="")
    texts = [s.text for s in hyper(attach(t.spec(lookalike, linear("fc", 32, 2))), "fc", "in_features").derivation]
    assert "c (Conv1d) produces 8 at axis 2" in texts
    # Any name, with the conv size rule (and an entry, found through its base, that says it is 1-D).
    blob = replace(layer("c", "Blob", args, size_rule="conv"), type="my.pkg.Blob", bases=("torch.nn.Conv1d",))
    texts = [s.text for s in hyper(attach(t.spec(blob, linear("fc", 32, 2))), "fc", "in_features").derivation]
    assert "c (Blob 3) turns 10 into 8" in texts


class _MyConv(nn.Conv2d):
    """A user's convolution: explain finds Conv2d's entry through its base."""


class _MyPool(nn.MaxPool2d):
    pass


class SubclassedLayers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = _MyConv(3, 8, 3, stride=2, padding=1)
        self.pool = _MyPool(2)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(x)).flatten(1))


def test_subclasses_of_torch_layers_get_their_bases_size_rule() -> None:
    spec = describe_module(
        SubclassedLayers(),
        model_options({"target": "tests.test_derive_module_rules:SubclassedLayers", "input_shape": "1,3,16,16"}),
    )
    assert (spec.layer("conv").size_rule, spec.layer("pool").size_rule) == ("conv", "max_pool")
    fc = hyper(spec, "fc", "in_features")
    assert fc.formula == "8 × 4 × 4 = 128"
    assert [(s.text, s.formula) for s in fc.derivation] == [
        ("the input `x` is N × 3 × 16 × 16", "x.shape[2] = 16"),
        ("conv (_MyConv) has out_channels = 8, chosen by the designer", "conv.out_channels = 8"),
        ("conv (_MyConv 3×3, stride 2, padding 1) turns 16 into 8", "⌊(16 + 2·1 − 1·(3 − 1) − 1) / 2⌋ + 1 = 8"),
        ("pool (_MyPool kernel 2, stride 2) turns 8 into 4", "⌊(8 + 2·0 − 1·(2 − 1) − 1) / 2⌋ + 1 = 4"),
        ("flatten merges 8 × 4 × 4 into 128", "8 × 4 × 4 = 128"),
    ]
