"""Each shape-bound argument explained: formula, derivation listing, source, the target rule and mismatch errors."""

from __future__ import annotations

import re

import pytest

from modeldoc.derive import attach
from modeldoc.spec import LayerSpec, ModelSpec
from tests.helpers.specs import hp, hyper, hyper_json, layer, layer_json, linear, lstm, spec_of
from tests.helpers.traces import TraceBuilder

# --------------------------------------------------------------------------- hand-built traces


def conv1d_model(fc_in: int) -> ModelSpec:
    t = TraceBuilder()
    x = t.input("x", (1, 3, 10))
    c = t.module("c", x, out=(1, 4, 5))
    flat = t.function("flatten", c, out=(1, 20), start_dim=1, end_dim=-1)
    y = t.module("fc", flat, out=(1, 7))
    t.output(y)
    conv = layer(
        "c",
        "Conv1d",
        [
            hp("in_channels", 3, "in0:-2", "data-dependent"),
            hp("out_channels", 4, "out0:-2"),
            hp("kernel_size", [3]),
            hp("stride", [2]),
            hp("padding", [1]),
            hp("dilation", [1]),
        ],
        size_rule="conv",
    )
    return attach(t.spec(conv, linear("fc", fc_in, 7)))


def test_convolution_and_flatten_arithmetic_from_a_hand_built_trace() -> None:
    spec = conv1d_model(20)
    fc = hyper(spec, "fc", "in_features")
    assert fc.formula == "4 × 5 = 20"
    assert fc.source == "previous-layer"
    assert not fc.error
    assert [(s.where, s.text, s.value, s.formula) for s in fc.derivation] == [
        ("input", "the input `x` is 1 × 3 × 10", 10, "x.shape[2] = 10"),
        ("c", "c (Conv1d) has out_channels = 4, chosen by the designer", 4, "c.out_channels = 4"),
        ("c", "c (Conv1d 3, stride 2, padding 1) turns 10 into 5", 5, "⌊(10 + 2·1 − 1·(3 − 1) − 1) / 2⌋ + 1 = 5"),
        ("flatten", "flatten merges 4 × 5 into 20", 20, "4 × 5 = 20"),
    ]
    channels = hyper(spec, "c", "in_channels")
    assert (channels.source, channels.formula) == ("input", "x.shape[1] = 3")
    out = hyper(spec, "fc", "out_features")
    assert (out.kind, out.source, out.formula) == ("data-dependent", "target", "output.shape[1] = 7")


def test_a_value_the_data_contradicts_is_an_error_not_papered_over() -> None:
    fc = hyper(conv1d_model(21), "fc", "in_features")
    assert fc.error == "fc.in_features is 21 but the incoming tensor has 20 = 4 × 5 features; set in_features=20"
    assert fc.formula == "4 × 5 = 20"


def test_transpose_slice_and_concatenation() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 6, 8))
    y = t.input("y", (2, 8, 3))
    xt = t.function("transpose", x, out=(2, 8, 6), dim0=1, dim1=2)
    part = t.function("getitem", xt, out=(2, 8, 4), key=["...", {"slice": [1, 5, None]}])
    joined = t.function("cat", part, y, out=(2, 8, 7), dim=-1)
    t.output(t.module("fc", joined, out=(2, 8, 2)))
    spec = attach(t.spec(linear("fc", 7, 2)))
    fc = hyper(spec, "fc", "in_features")
    assert fc.formula == "4 + 3 = 7"
    assert [s.text for s in fc.derivation] == [
        "the input `x` is 2 × 6 × 8",
        "the input `y` is 2 × 8 × 3",
        "getitem keeps 1:5 of 6",
        "cat joins 4 + 3 = 7",
    ]
    assert fc.derivation[2].formula == "5 − 1 = 4"
    assert fc.source == "previous-layer"


def test_bidirectional_recurrence_doubles_the_hidden_size() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 5, 6))
    out, _, _ = t.module("rnn", x, out=[(2, 5, 20), (4, 2, 10), (4, 2, 10)])
    last = t.function("getitem", out, out=(2, 20), key=[{"slice": [None, None, None]}, -1])
    t.output(t.module("fc", last, out=(2, 3)))
    rnn = lstm("rnn", 6, 10, 2, bidirectional=True)
    spec = attach(t.spec(rnn, linear("fc", 20, 3)))
    fc = hyper(spec, "fc", "in_features")
    assert fc.formula == "2 × 10 = 20"
    assert fc.derivation[-1].where == "rnn"
    assert hyper(spec, "rnn", "input_size").source == "input"


def test_heads_are_split_and_merged_back() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 5, 8))
    proj = t.module("qkv", x, out=(1, 5, 24))
    heads = t.function("view", proj, out=(1, 5, 4, 6), shape=[1, 5, 4, 6])
    moved = t.function("permute", heads, out=(1, 4, 5, 6), dims=[0, 2, 1, 3])
    back = t.function("transpose", moved, out=(1, 5, 4, 6), dim0=1, dim1=2)
    merged = t.function("reshape", back, out=(1, 5, 24), shape=[1, 5, -1])
    t.output(t.module("o", merged, out=(1, 5, 2)))
    spec = attach(t.spec(linear("qkv", 8, 24), linear("o", 24, 2)))
    o = hyper(spec, "o", "in_features")
    assert o.formula == "4 × 6 = 24"
    texts = [s.text for s in o.derivation]
    assert texts[0] == "qkv (Linear) has out_features = 24, chosen by the designer"
    assert "view splits 24 into 4 × 6" in texts
    assert texts[-1] == "reshape merges 4 × 6 into 24"


def test_adaptive_pooling_fixes_a_size_whatever_the_input() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8, 13, 17))
    p = t.module("pool", x, out=(1, 8, 2, 2))
    flat = t.function("flatten", p, out=(1, 32), start_dim=1)
    t.output(t.module("fc", flat, out=(1, 3)))
    pool = layer("pool", "AdaptiveAvgPool2d", [hp("output_size", [2, 2])], params=0, size_rule="adaptive_pool")
    spec = attach(t.spec(pool, linear("fc", 32, 3)))
    fc = hyper(spec, "fc", "in_features")
    assert fc.formula == "8 × 2 × 2 = 32"
    assert "pool (AdaptiveAvgPool2d) pools to a fixed size of 2, whatever its input size" in [
        s.text for s in fc.derivation
    ]


def test_target_only_for_a_final_layer_reached_without_other_parameters() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8))
    a = t.module("a", x, out=(1, 8))
    b = t.module("b", a, out=(1, 3))
    n = t.module("norm", b, out=(1, 3))
    t.output(n)
    norm = layer("norm", "LayerNorm", [hp("normalized_shape", [3], "in0:-1", "data-dependent")], params=6)
    spec = attach(t.spec(linear("a", 8, 8), linear("b", 8, 3), norm))
    assert hyper(spec, "b", "out_features").source == "chosen"  # a LayerNorm with weights comes after it
    t2 = TraceBuilder()
    x = t2.input("x", (1, 8))
    a = t2.module("a", x, out=(1, 8))
    r = t2.function("relu", a, out=(1, 8))
    t2.output(r)
    spec2 = attach(t2.spec(linear("a", 8, 8)))
    # a final projection that keeps its width (a pooler) chose it; the target does not fix it
    assert hyper(spec2, "a", "out_features").source == "chosen"
    t3 = TraceBuilder()
    x = t3.input("x", (1, 8))
    a = t3.module("a", x, out=(1, 3))
    r = t3.function("softmax", a, out=(1, 3), dim=-1)
    t3.output(r)
    spec3 = attach(t3.spec(linear("a", 8, 3)))
    target = hyper(spec3, "a", "out_features")
    assert (target.kind, target.source) == ("data-dependent", "target")
    assert "model output" in target.derivation[0].text


def test_multi_axis_arguments_are_checked() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 3, 4))
    t.output(t.module("norm", x, out=(2, 3, 4)))
    good = layer("norm", "LayerNorm", [hp("normalized_shape", [3, 4], "in0:-1", "data-dependent")])
    assert hyper(attach(t.spec(good)), "norm", "normalized_shape").error == ""
    bad = layer("norm", "LayerNorm", [hp("normalized_shape", [3, 5], "in0:-1", "data-dependent")])
    error = hyper(attach(t.spec(bad)), "norm", "normalized_shape").error
    assert (
        error == "norm.normalized_shape is [3, 5] but the incoming tensor ends in (3, 4); set normalized_shape=[3, 4]"
    )


def test_no_trace_means_no_change() -> None:
    root = LayerSpec(path="", type="M", type_name="M", repr="", depth=0, parent=None)
    spec = ModelSpec(name="M", type="M", root=root, layers=(linear("fc", 3, 2),))
    assert attach(spec) is spec


def _mismatch(make: str) -> str:
    """The error of `fc.in_features = 99` after a small stem that makes its size one way or another."""
    t = TraceBuilder()
    x = t.input("x", (1, 3, 10))
    layers: list[LayerSpec] = []
    if make == "sum":
        y = t.input("y", (1, 3, 4))
        z = t.function("cat", x, y, out=(1, 3, 14), dim=-1)
    elif make == "window":
        z = t.module("c", x, out=(1, 3, 8))
        layers.append(layer("c", "Conv1d", [hp("out_channels", 3), hp("kernel_size", [3])], size_rule="conv"))
    elif make == "same":
        z = t.module("c", x, out=(1, 3, 10))
        conv = [hp("out_channels", 3), hp("kernel_size", [3]), hp("padding", "same")]
        layers.append(layer("c", "Conv1d", conv, size_rule="conv"))
    elif make == "adaptive":
        z = t.module("pool", x, out=(1, 3, 5))
        layers.append(layer("pool", "AdaptiveAvgPool1d", [hp("output_size", 5)], params=0, size_rule="adaptive_pool"))
    elif make == "chosen":
        z = t.module("proj", x, out=(1, 3, 6))
        layers.append(linear("proj", 10, 6))
    else:
        z = x
    t.output(t.module("fc", z, out=(1, 3, 2)))
    error = hyper(attach(t.spec(*layers, linear("fc", 99, 2))), "fc", "in_features").error
    match = re.fullmatch(
        r"fc\.in_features is 99 but the incoming tensor has (.+) features; set in_features=(\d+)", error
    )
    assert match is not None, error
    assert match.group(1).split(" = ")[0] == match.group(2)
    return match.group(1)


@pytest.mark.parametrize(
    ("make", "shown"),
    [
        ("sum", "14 = 10 + 4"),  # plain arithmetic is repeated
        ("window", "8"),  # a ⌊⌋ window formula is too long for the message
        ("same", "10"),  # padding='same' is a sentence, not an equation
        ("adaptive", "5"),  # output_size names an argument, as conv1.out_channels does
        ("chosen", "6"),
        ("input", "10"),
    ],
)
def test_a_mismatch_message_repeats_only_plain_arithmetic(make: str, shown: str) -> None:
    assert _mismatch(make) == shown


def test_a_mismatch_message_names_channels_features_or_the_axis() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 3, 10))
    c = t.module("c", x, out=(1, 3, 10))
    t.output(c)
    conv = [hp("in_channels", 4, "in0:-2", "data-dependent"), hp("width", 11, "in0:2", "data-dependent")]
    spec = attach(t.spec(layer("c", "Block", conv)))
    assert hyper(spec, "c", "in_channels").error == (
        "c.in_channels is 4 but the incoming tensor has 3 channels; set in_channels=3"
    )
    assert hyper(spec, "c", "width").error == "c.width is 11 but the incoming tensor has 10 at axis 2; set width=10"
    assert hyper(spec, "c", "width").formula == "x.shape[2] = 10"


def test_an_argument_of_a_layer_that_never_ran_or_names_no_axis_is_left_alone() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 4))
    t.output(t.module("used", x, out=(1, 2)))
    unused = linear("unused", 7, 2)
    odd = layer("odd", "Odd", [hp("size", 3, "in0:7", "data-dependent"), hp("name", "x", "in0:-1", "data-dependent")])
    spec = attach(t.spec(linear("used", 4, 2), unused, odd))
    assert spec.layer("unused") == unused
    assert spec.layer("odd") == odd
    assert hyper(spec, "used", "in_features").formula == "x.shape[1] = 4"


# --------------------------------------------------------------------------- the whole pipeline on real models


def test_fashion_seed_case() -> None:
    spec = spec_of("modeldoc.examples.fashion:Network", "1,1,28,28")
    fc1 = hyper(spec, "fc1", "in_features")
    assert (fc1.value, fc1.kind, fc1.source, fc1.formula, fc1.error) == (
        192,
        "data-dependent",
        "previous-layer",
        "12 × 4 × 4 = 192",
        "",
    )
    assert [(s.where, s.value, s.formula) for s in fc1.derivation] == [
        ("input", 28, "t.shape[2] = 28"),
        ("conv1", 24, "⌊(28 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 24"),
        ("max_pool2d", 12, "⌊(24 + 2·0 − 1·(2 − 1) − 1) / 2⌋ + 1 = 12"),
        ("conv2", 12, "conv2.out_channels = 12"),
        ("conv2", 8, "⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 8"),
        ("max_pool2d", 4, "⌊(8 + 2·0 − 1·(2 − 1) − 1) / 2⌋ + 1 = 4"),
        ("reshape", 192, "12 × 4 × 4 = 192"),
    ]
    assert fc1.derivation[1].text == "conv1 (Conv2d 5×5) turns 28 into 24"
    assert fc1.derivation[2].text == "max_pool2d (kernel 2, stride 2) turns 24 into 12"
    out = hyper(spec, "out", "out_features")
    assert (out.value, out.kind, out.source) == (10, "data-dependent", "target")
    conv1 = hyper(spec, "conv1", "in_channels")
    assert (conv1.value, conv1.kind, conv1.source) == (1, "data-dependent", "input")
    conv2 = hyper(spec, "conv2", "in_channels")
    assert (conv2.source, conv2.formula) == ("previous-layer", "conv1.out_channels = 6")
    assert hyper(spec, "fc2", "out_features").source == "chosen"
    entry = hyper_json(layer_json(spec.to_json(), "fc1"), "in_features")
    assert entry["formula"] == "12 × 4 × 4 = 192"
    assert entry["derivation"][-1] == {
        "text": "reshape merges 12 × 4 × 4 into 192",
        "value": 192,
        "where": "reshape",
        "formula": "12 × 4 × 4 = 192",
    }


def test_broken_model_reports_the_mismatch_with_its_arithmetic() -> None:
    spec = spec_of("tests.models:Broken", "1,1,12,12")
    fc1 = hyper(spec, "fc1", "in_features")
    assert (
        fc1.error == "fc1.in_features is 100 but the incoming tensor has 192 = 12 × 4 × 4 features; set in_features=192"
    )
    assert fc1.formula == "12 × 4 × 4 = 192"
    assert [s.where for s in fc1.derivation] == ["input", "conv", "conv", "max_pool2d", "flatten"]
    assert fc1.derivation[3].text == "max_pool2d (kernel 2, stride 2) turns 8 into 4"


def test_padding_stride_dilation_and_ceil_mode_through_a_real_model() -> None:
    spec = spec_of("tests.models:PoolGeometry", "1,2,15,15")
    fc = hyper(spec, "fc", "in_features")
    formulas = [s.formula for s in fc.derivation]
    assert "⌊(15 + 2·2 − 2·(3 − 1) − 1) / 2⌋ + 1 = 8" in formulas
    assert "⌈(8 + 2·0 − 1·(3 − 1) − 1) / 2⌉ + 1 = 4" in formulas
    assert fc.formula == "5 × 4 × 4 = 80"
    assert not fc.error


def test_recurrent_and_concatenated_inputs_through_real_models() -> None:
    lstm = spec_of("tests.models:TextLSTM", "N=2,L=7", input_dtype="long")
    assert hyper(lstm, "fc", "in_features").formula == "2 × 10 = 20"
    assert hyper(lstm, "lstm", "input_size").formula == "embed.embedding_dim = 12"
    assert hyper(lstm, "fc", "out_features").source == "target"
    two = spec_of("tests.models:TwoInputs", "2,3,9,9", "2,5", "meta:2,7")
    head = hyper(two, "head", "in_features")
    assert head.formula == "16 + 6 + 7 = 29"
    texts = [s.text for s in head.derivation]
    assert "flatten merges 4 × 2 × 2 into 16" in texts
    assert "the input `meta` is N × 7" in texts
    assert hyper(two, "extra", "in_features").source == "input"


def test_heads_times_head_dim_through_a_real_model() -> None:
    spec = spec_of("tests.models:Heads", "1,L=5,12")
    out = hyper(spec, "out", "in_features")
    assert out.formula == "3 × 4 = 12"
    texts = [s.text for s in out.derivation]
    assert texts[0] == "qkv (Linear) has out_features = 36, chosen by the designer"
    assert "chunk cuts 36 into 3 pieces" in texts
    assert "view splits 12 into 3 × 4" in texts


@pytest.mark.parametrize("target", ["tests.models:Branches"])
def test_branches_sum_at_the_merge(target: str) -> None:
    spec = spec_of(target, "1,6")
    merge = hyper(spec, "merge", "in_features")
    assert merge.formula == "4 + 5 = 9"
    assert [s.where for s in merge.derivation] == ["branches.left", "branches.right", "cat"]
