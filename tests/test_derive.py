"""Derivations: each data-dependent number followed back through the trace with the real formulas."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from modeldoc.derive import flow as derive
from modeldoc.spec import Hyperparam, LayerSpec, ModelSpec, OpSpec, TensorInfo, TraceSpec
from tests.conftest import spec_of

# --------------------------------------------------------------------------- hand-built specs (no torch in derive)


def hp(name: str, value: Any, dim: str = "", kind: str = "hyperparameter") -> Hyperparam:
    source = "chosen" if kind == "hyperparameter" else "previous-layer"
    return Hyperparam(name=name, value=value, kind=kind, source=source, dim=dim)  # type: ignore[arg-type]


def linear(path: str, n_in: int, n_out: int) -> LayerSpec:
    return layer(
        path,
        "Linear",
        [hp("in_features", n_in, "in0:-1", "data-dependent"), hp("out_features", n_out, "out0:-1")],
        params=n_in * n_out,
    )


def layer(path: str, type_name: str, hps: list[Hyperparam], *, params: int = 1) -> LayerSpec:
    return LayerSpec(
        path=path,
        type=f"torch.nn.{type_name}",
        type_name=type_name,
        repr="",
        depth=path.count(".") + 1,
        parent="",
        hyperparameters=tuple(hps),
        total_params=params,
        own_params=params,
    )


class Trace:
    """Builds a TraceSpec op by op, as the tracer would record it."""

    def __init__(self) -> None:
        self.ops: list[OpSpec] = []
        self.tensors: list[TensorInfo] = []

    def _tensor(self, shape: tuple[int, ...], producer: int | None, name: str = "") -> int:
        self.tensors.append(
            TensorInfo(id=len(self.tensors), shape=shape, dims=shape, dtype="float32", producer=producer, name=name)
        )
        return len(self.tensors) - 1

    def _op(self, kind: str, name: str, ins: list[int], outs: list[tuple[int, ...]], **arguments: Any) -> list[int]:
        index = len(self.ops)
        ids = [self._tensor(shape, index if kind in ("module", "function") else None) for shape in outs]
        self.ops.append(
            OpSpec(
                index=index,
                kind=kind,  # type: ignore[arg-type]
                name=name,
                target=name,
                scope="",
                inputs=tuple(ins),
                outputs=tuple(ids),
                arguments=arguments,
            )
        )
        return ids

    def input(self, name: str, shape: tuple[int, ...]) -> int:
        index = len(self.ops)
        tid = self._tensor(shape, None, name)
        self.ops.append(OpSpec(index=index, kind="input", name=name, target="input", scope="", outputs=(tid,)))
        return tid

    def module(self, path: str, ins: list[int], *outs: tuple[int, ...]) -> list[int]:
        return self._op("module", path, ins, list(outs))

    def function(self, name: str, ins: list[int], *outs: tuple[int, ...], **arguments: Any) -> list[int]:
        return self._op("function", name, ins, list(outs), **arguments)

    def parameter(self, name: str, shape: tuple[int, ...]) -> int:
        return self._tensor(shape, None, name)

    def output(self, *ids: int) -> None:
        self.ops.append(
            OpSpec(index=len(self.ops), kind="output", name="output", target="output", scope="", inputs=ids)
        )

    def spec(self, *layers: LayerSpec) -> ModelSpec:
        root = LayerSpec(path="", type="M", type_name="M", repr="", depth=0, parent=None)
        trace = TraceSpec(device="meta", ops=tuple(self.ops), tensors=tuple(self.tensors))
        return ModelSpec(name="M", type="M", root=root, layers=layers, trace=trace)


def hyper(spec: ModelSpec, path: str, name: str) -> Hyperparam:
    return next(h for h in spec.layer(path).hyperparameters if h.name == name)


def conv1d_model(fc_in: int) -> ModelSpec:
    t = Trace()
    x = t.input("x", (1, 3, 10))
    (c,) = t.module("c", [x], (1, 4, 5))
    (flat,) = t.function("flatten", [c], (1, 20), start_dim=1, end_dim=-1)
    (y,) = t.module("fc", [flat], (1, 7))
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
    )
    return derive.attach(t.spec(conv, linear("fc", fc_in, 7)))


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


def test_a_rule_that_cannot_reproduce_the_traced_size_only_says_where_it_came_from() -> None:
    t = Trace()
    x = t.input("x", (1, 2, 10))
    (c,) = t.module("c", [x], (1, 2, 7))  # a kernel of 3 would give 8: the layer says one thing, the trace another
    (flat,) = t.function("flatten", [c], (1, 14), start_dim=1)
    t.output(*t.module("fc", [flat], (1, 3)))
    conv = layer("c", "Conv1d", [hp("out_channels", 2, "out0:-2"), hp("kernel_size", [3]), hp("stride", [1])])
    spec = derive.attach(t.spec(conv, linear("fc", 14, 3)))
    steps = [s.text for s in hyper(spec, "fc", "in_features").derivation]
    assert "c (Conv1d) produces 7 at axis 2" in steps
    assert not any("turns" in s for s in steps)


def test_transpose_slice_and_concatenation() -> None:
    t = Trace()
    x = t.input("x", (2, 6, 8))
    y = t.input("y", (2, 8, 3))
    (xt,) = t.function("transpose", [x], (2, 8, 6), dim0=1, dim1=2)
    (part,) = t.function("getitem", [xt], (2, 8, 4), key=["...", {"slice": [1, 5, None]}])
    (joined,) = t.function("cat", [part, y], (2, 8, 7), dim=-1)
    t.output(*t.module("fc", [joined], (2, 8, 2)))
    spec = derive.attach(t.spec(linear("fc", 7, 2)))
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
    t = Trace()
    x = t.input("x", (2, 5, 6))
    out, _, _ = t.module("rnn", [x], (2, 5, 20), (4, 2, 10), (4, 2, 10))
    (last,) = t.function("getitem", [out], (2, 20), key=[{"slice": [None, None, None]}, -1])
    t.output(*t.module("fc", [last], (2, 3)))
    rnn = layer(
        "rnn",
        "LSTM",
        [
            hp("input_size", 6, "in0:-1", "data-dependent"),
            hp("hidden_size", 10),
            hp("num_layers", 2),
            hp("bidirectional", True),
        ],
    )
    spec = derive.attach(t.spec(rnn, linear("fc", 20, 3)))
    fc = hyper(spec, "fc", "in_features")
    assert fc.formula == "2 × 10 = 20"
    assert fc.derivation[-1].where == "rnn"
    assert hyper(spec, "rnn", "input_size").source == "input"


def test_heads_are_split_and_merged_back() -> None:
    t = Trace()
    x = t.input("x", (1, 5, 8))
    (proj,) = t.module("qkv", [x], (1, 5, 24))
    (heads,) = t.function("view", [proj], (1, 5, 4, 6), shape=[1, 5, 4, 6])
    (moved,) = t.function("permute", [heads], (1, 4, 5, 6), dims=[0, 2, 1, 3])
    (back,) = t.function("transpose", [moved], (1, 5, 4, 6), dim0=1, dim1=2)
    (merged,) = t.function("reshape", [back], (1, 5, 24), shape=[1, 5, -1])
    t.output(*t.module("o", [merged], (1, 5, 2)))
    spec = derive.attach(t.spec(linear("qkv", 8, 24), linear("o", 24, 2)))
    o = hyper(spec, "o", "in_features")
    assert o.formula == "4 × 6 = 24"
    texts = [s.text for s in o.derivation]
    assert texts[0] == "qkv (Linear) has out_features = 24, chosen by the designer"
    assert "view splits 24 into 4 × 6" in texts
    assert texts[-1] == "reshape merges 4 × 6 into 24"


def test_adaptive_pooling_fixes_a_size_whatever_the_input() -> None:
    t = Trace()
    x = t.input("x", (1, 8, 13, 17))
    (p,) = t.module("pool", [x], (1, 8, 2, 2))
    (flat,) = t.function("flatten", [p], (1, 32), start_dim=1)
    t.output(*t.module("fc", [flat], (1, 3)))
    pool = layer("pool", "AdaptiveAvgPool2d", [hp("output_size", [2, 2])], params=0)
    spec = derive.attach(t.spec(pool, linear("fc", 32, 3)))
    fc = hyper(spec, "fc", "in_features")
    assert fc.formula == "8 × 2 × 2 = 32"
    assert "pool (AdaptiveAvgPool2d) pools to a fixed size of 2, whatever its input size" in [
        s.text for s in fc.derivation
    ]


def test_target_only_for_a_final_layer_reached_without_other_parameters() -> None:
    t = Trace()
    x = t.input("x", (1, 8))
    (a,) = t.module("a", [x], (1, 8))
    (b,) = t.module("b", [a], (1, 3))
    (n,) = t.module("norm", [b], (1, 3))
    t.output(n)
    norm = layer("norm", "LayerNorm", [hp("normalized_shape", [3], "in0:-1", "data-dependent")], params=6)
    spec = derive.attach(t.spec(linear("a", 8, 8), linear("b", 8, 3), norm))
    assert hyper(spec, "b", "out_features").source == "chosen"  # a LayerNorm with weights comes after it
    t2 = Trace()
    x = t2.input("x", (1, 8))
    (a,) = t2.module("a", [x], (1, 8))
    (r,) = t2.function("relu", [a], (1, 8))
    t2.output(r)
    spec2 = derive.attach(t2.spec(linear("a", 8, 8)))
    # a final projection that keeps its width (a pooler) chose it; the target does not fix it
    assert hyper(spec2, "a", "out_features").source == "chosen"
    t3 = Trace()
    x = t3.input("x", (1, 8))
    (a,) = t3.module("a", [x], (1, 3))
    (r,) = t3.function("softmax", [a], (1, 3), dim=-1)
    t3.output(r)
    spec3 = derive.attach(t3.spec(linear("a", 8, 3)))
    target = hyper(spec3, "a", "out_features")
    assert (target.kind, target.source) == ("data-dependent", "target")
    assert "model output" in target.derivation[0].text


def test_an_unknown_op_is_where_the_number_was_born() -> None:
    t = Trace()
    x = t.input("x", (1, 4))
    (w,) = t.function("weird_op", [x], (1, 9))
    t.output(*t.module("fc", [w], (1, 2)))
    spec = derive.attach(t.spec(linear("fc", 9, 2)))
    fc = hyper(spec, "fc", "in_features")
    assert [s.text for s in fc.derivation] == ["weird_op produces 9 at axis 1"]
    assert fc.source == "previous-layer"


def test_multi_axis_arguments_are_checked() -> None:
    t = Trace()
    x = t.input("x", (2, 3, 4))
    t.output(*t.module("norm", [x], (2, 3, 4)))
    good = layer("norm", "LayerNorm", [hp("normalized_shape", [3, 4], "in0:-1", "data-dependent")])
    assert hyper(derive.attach(t.spec(good)), "norm", "normalized_shape").error == ""
    bad = layer("norm", "LayerNorm", [hp("normalized_shape", [3, 5], "in0:-1", "data-dependent")])
    error = hyper(derive.attach(t.spec(bad)), "norm", "normalized_shape").error
    assert (
        error == "norm.normalized_shape is [3, 5] but the incoming tensor ends in (3, 4); set normalized_shape=[3, 4]"
    )


def test_no_trace_means_no_change() -> None:
    root = LayerSpec(path="", type="M", type_name="M", repr="", depth=0, parent=None)
    spec = ModelSpec(name="M", type="M", root=root, layers=(linear("fc", 3, 2),))
    assert derive.attach(spec) is spec


# --------------------------------------------------------------------------- the arithmetic, against torch itself


def test_window_sizes_match_torch_pooling_and_convolution() -> None:
    checked = 0
    for size, kernel, stride, dilation, ceil_mode in itertools.product(
        (5, 7, 8, 12), (1, 2, 3), (1, 2, 3), (1, 2), (False, True)
    ):
        for padding in range(kernel // 2 + 1):
            if size + 2 * padding < dilation * (kernel - 1) + 1:
                continue
            x = torch.empty(1, 1, size, device="meta")
            pooled = F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode).shape[-1]
            ours = derive.window_size(
                size, kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode
            )
            assert ours is not None and ours[0] == pooled, (size, kernel, stride, padding, dilation, ceil_mode)
            conv = F.conv1d(x, torch.empty(1, 1, kernel, device="meta"), None, stride, padding, dilation).shape[-1]
            assert derive.window_size(size, kernel, stride=stride, padding=padding, dilation=dilation)[0] == conv  # type: ignore[index]
            for output_padding in range(min(stride, dilation)):
                weight = torch.empty(1, 1, kernel, device="meta")
                up = F.conv_transpose1d(x, weight, None, stride, padding, output_padding, 1, dilation).shape[-1]
                got = derive.window_size(
                    size,
                    kernel,
                    stride=stride,
                    padding=padding,
                    dilation=dilation,
                    output_padding=output_padding,
                    transposed=True,
                )
                assert got is not None and got[0] == up
            checked += 1
    assert checked > 100
    assert derive.window_size(12, 5)[1] == "⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 8"  # type: ignore[index]
    assert derive.window_size(9, 3, padding="same") == (9, "padding='same' keeps 9")


def test_reshape_groups_index_maps_and_slices() -> None:
    assert derive.reshape_groups((1, 12, 4, 4), (1, 192)) == [([1, 2, 3], [1])]
    assert derive.reshape_groups((2, 5, 24), (2, 5, 4, 6)) == [([0], [0]), ([1], [1]), ([2], [2, 3])]
    assert derive.reshape_groups((6, 4), (4, 6)) == [([0, 1], [0, 1])]
    assert derive.reshape_groups((3, 4), (5,)) is None
    full = {"slice": [None, None, None]}
    assert derive.index_map([full, -1], 3) == [(0, full), (2, None)]
    assert derive.index_map(["...", None, 0], 3) == [(0, None), (1, None), None]
    assert derive.index_map([{"tensor": [2]}], 2) is None
    assert derive.slice_length({"slice": [None, -1, None]}, 10) == (9, "9 − 0 = 9")
    assert derive.slice_length({"slice": [1, None, 2]}, 10) == (5, "⌈(10 − 1) / 2⌉ = 5")
    assert derive.parse_dim("in1:-1") == ("in", 1, -1)
    assert derive.parse_dim("out0:-3") == ("out", 0, -3)
    assert derive.parse_dim("") is None
    assert derive.parse_dim("bogus") is None


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
    data = next(layer for layer in spec.to_json()["layers"] if layer["path"] == "fc1")
    entry = next(h for h in data["hyperparameters"] if h["name"] == "in_features")
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


# --------------------------------------------------------------------------- shared steps, cut listings


def test_a_size_split_and_merged_again_block_after_block_is_followed_once() -> None:
    """Each level's merge has three sources that all rest on the level before: 3^40 paths, 81 steps."""
    t = Trace()
    x = t.input("x", (1, 8))
    for _ in range(40):
        (parts,) = t.function("view", [x], (1, 2, 2, 2), shape=[1, 2, 2, 2])
        (x,) = t.function("reshape", [parts], (1, 8), shape=[1, 8])
    t.output(*t.module("fc", [x], (1, 3)))
    raw = t.spec(linear("fc", 8, 3))
    size = len(t.ops) + sum(len(tensor.shape) for tensor in t.tensors)
    spec = derive.attach(raw, budget=10 * size)
    fc = hyper(spec, "fc", "in_features")
    full = derive.Flow(raw).origin(x, 1).ordered()
    assert len(full) == 1 + 40 * 2
    assert len(fc.derivation) == derive.MAX_SHOWN
    assert fc.derivation[0].text == "70 earlier steps, not listed here, end in: view splits 8 into 2 × 2 × 2"
    assert (fc.derivation[0].value, fc.derivation[0].formula) == (2, "8 / (2 × 2) = 2")
    assert [s.text for s in fc.derivation[1:3]] == ["reshape merges 2 × 2 × 2 into 8", "view splits 8 into 2 × 2 × 2"]
    assert fc.derivation[-1].text == "reshape merges 2 × 2 × 2 into 8"
    assert (fc.derivation_omitted, fc.derivation_continues) == (70, "")


def test_a_join_of_more_sizes_than_fit_lists_the_join_and_one_entry_per_size() -> None:
    t = Trace()
    x = t.input("x", (1, 30))
    parts = [
        t.function("getitem", [x], (1, 2), key=[{"slice": [None, None, None]}, {"slice": [2 * i, 2 * i + 2, None]}])[0]
        for i in range(15)
    ]
    (joined,) = t.function("cat", parts, (1, 30), dim=1)
    t.output(*t.module("fc", [joined], (1, 2)))
    spec = derive.attach(t.spec(linear("fc", 30, 2)))
    fc = hyper(spec, "fc", "in_features")
    texts = [s.text for s in fc.derivation]
    assert len(texts) == 1 + 15
    assert texts[0] == "2 earlier steps, not listed here, end in: getitem keeps 0:2 of 30"
    assert texts[14] == "2 earlier steps, not listed here, end in: getitem keeps 28:30 of 30"
    assert texts[-1] == f"cat joins {' + '.join(['2'] * 15)} = 30"
    assert fc.derivation_omitted == 1 + 15 + 1 - 1  # the input and the 15 slices


def test_a_trace_that_loops_ends_the_walk_instead_of_hanging() -> None:
    """The tracer cannot record an op that reads its own output; a hand-made trace can."""
    tensors = (
        TensorInfo(id=0, shape=(1, 5), dims=(1, 5), dtype="float32", producer=2),
        TensorInfo(id=1, shape=(1, 3), dims=(1, 3), dtype="float32", producer=3),
    )
    ops = (
        OpSpec(index=0, kind="input", name="x", target="input", scope="", outputs=()),
        OpSpec(index=1, kind="output", name="output", target="output", scope="", inputs=(1,)),
        OpSpec(index=2, kind="function", name="add", target="add", scope="", inputs=(0,), outputs=(0,)),
        OpSpec(index=3, kind="module", name="fc", target="fc", scope="", inputs=(0,), outputs=(1,)),
    )
    root = LayerSpec(path="", type="M", type_name="M", repr="", depth=0, parent=None)
    spec = ModelSpec(
        name="M",
        type="M",
        root=root,
        layers=(linear("fc", 5, 3),),
        trace=TraceSpec(device="meta", ops=ops, tensors=tensors),
    )
    fc = hyper(derive.attach(spec), "fc", "in_features")
    assert [s.text for s in fc.derivation] == ["add produces 5 at axis 1"]
