"""Following sizes back: births, pass-throughs, shared steps, cut listings, loops and the work budget."""

from __future__ import annotations

import pytest

from modeldoc.derive import attach, provenance
from modeldoc.derive.provenance import MAX_SHOWN, Provenance
from modeldoc.errors import DerivationTooLarge
from modeldoc.spec import LayerSpec, ModelSpec, OpSpec, TensorInfo, TraceSpec
from tests.helpers.specs import hp, hyper, layer, linear
from tests.helpers.traces import TraceBuilder

# --------------------------------------------------------------------------- births and pass-throughs


def test_an_input_a_parameter_and_a_constant_are_where_sizes_are_born() -> None:
    t = TraceBuilder()
    x = t.input("x", (2, 5))
    w = t.parameter("proj.weight", (5, 3))
    c = t.constant((3, 4))
    xw = t.function("mm", x, w, out=(2, 3))
    xwc = t.function("mm", xw, c, out=(2, 4))
    flow = Provenance(t.spec())
    origin = flow.origin(xwc, 1)
    assert (origin.birth, origin.value, origin.formula) == ("constant", 4, None)
    assert [(s.text, s.where, s.formula) for s in origin.ordered()] == [
        ("a constant tensor has 4 at axis 1", "constant", "")
    ]
    origin = flow.origin(xw, 1)
    assert (origin.birth, origin.formula.text if origin.formula else "") == ("parameter", "proj.weight.shape[1] = 3")
    assert origin.ordered()[0].text == "the tensor `proj.weight` has 3 at axis 1"
    origin = flow.origin(xwc, 0)
    assert (origin.birth, origin.plain_input, origin.through_parameters) == ("input", True, False)
    assert origin.ordered()[0].text == "the input `x` is 2 × 5"


def test_an_op_that_keeps_a_size_passes_it_on_from_the_oldest_data() -> None:
    """A residual add has the size on both inputs: the walk follows the residual stream, not the branch."""
    t = TraceBuilder()
    x = t.input("x", (1, 8))
    branch = t.module("mlp", x, out=(1, 8))
    added = t.function("add", branch, x, out=(1, 8))
    scaled = t.function("mul", added, t.constant((1,)), out=(1, 8))
    t.output(t.module("head", scaled, out=(1, 3)))
    spec = t.spec(linear("mlp", 8, 8), linear("head", 8, 3))
    origin = Provenance(spec).origin(scaled, 1)
    assert (origin.birth, origin.plain_input) == ("input", True)
    assert hyper(attach(spec), "head", "in_features").source == "input"


def test_a_layer_with_parameters_on_the_way_is_remembered() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8))
    a = t.module("a", x, out=(1, 6))
    n = t.module("norm", a, out=(1, 6))
    spec = t.spec(linear("a", 8, 6), layer("norm", "LayerNorm", [hp("normalized_shape", [6], "in0:-1")], params=12))
    flow = Provenance(spec)
    before, after = flow.origin(a, 1), flow.origin(n, 1)
    assert (before.birth, before.chosen, before.through_parameters) == ("chosen", ("a", "out_features"), False)
    assert (after.birth, after.chosen, after.through_parameters) == ("chosen", ("a", "out_features"), True)
    assert after.node is before.node  # passing through adds no step


def test_a_rule_that_cannot_reproduce_the_traced_size_only_says_where_it_came_from() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 2, 10))
    c = t.module("c", x, out=(1, 2, 7))  # a kernel of 3 would give 8: the layer says one thing, the trace another
    flat = t.function("flatten", c, out=(1, 14), start_dim=1)
    t.output(t.module("fc", flat, out=(1, 3)))
    conv = layer(
        "c", "Conv1d", [hp("out_channels", 2, "out0:-2"), hp("kernel_size", [3]), hp("stride", [1])], size_rule="conv"
    )
    spec = attach(t.spec(conv, linear("fc", 14, 3)))
    steps = [s.text for s in hyper(spec, "fc", "in_features").derivation]
    assert "c (Conv1d) produces 7 at axis 2" in steps
    assert not any("turns" in s for s in steps)


def test_an_unknown_op_is_where_the_number_was_born() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 4))
    w = t.function("weird_op", x, out=(1, 9))
    t.output(t.module("fc", w, out=(1, 2)))
    spec = attach(t.spec(linear("fc", 9, 2)))
    fc = hyper(spec, "fc", "in_features")
    assert [s.text for s in fc.derivation] == ["weird_op produces 9 at axis 1"]
    assert fc.source == "previous-layer"


# --------------------------------------------------------------------------- shared steps, cut listings


def test_a_size_split_and_merged_again_block_after_block_is_followed_once() -> None:
    """Each level's merge has three sources that all rest on the level before: 3^40 paths, 81 steps."""
    t = TraceBuilder()
    x = t.input("x", (1, 8))
    for _ in range(40):
        parts = t.function("view", x, out=(1, 2, 2, 2), shape=[1, 2, 2, 2])
        x = t.function("reshape", parts, out=(1, 8), shape=[1, 8])
    t.output(t.module("fc", x, out=(1, 3)))
    raw = t.spec(linear("fc", 8, 3))
    size = len(t.ops) + sum(len(tensor.shape) for tensor in t.tensors)
    spec = attach(raw, budget=10 * size)
    fc = hyper(spec, "fc", "in_features")
    full = Provenance(raw).origin(x, 1).ordered()
    assert len(full) == 1 + 40 * 2
    assert len(fc.derivation) == MAX_SHOWN
    assert fc.derivation[0].text == "70 earlier steps, not listed here, end in: view splits 8 into 2 × 2 × 2"
    assert (fc.derivation[0].value, fc.derivation[0].formula) == (2, "8 / (2 × 2) = 2")
    assert [s.text for s in fc.derivation[1:3]] == ["reshape merges 2 × 2 × 2 into 8", "view splits 8 into 2 × 2 × 2"]
    assert fc.derivation[-1].text == "reshape merges 2 × 2 × 2 into 8"
    assert (fc.derivation_omitted, fc.derivation_continues) == (70, "")


def test_a_join_of_more_sizes_than_fit_lists_the_join_and_one_entry_per_size() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 30))
    parts = [
        t.function("getitem", x, out=(1, 2), key=[{"slice": [None, None, None]}, {"slice": [2 * i, 2 * i + 2, None]}])
        for i in range(15)
    ]
    joined = t.function("cat", *parts, out=(1, 30), dim=1)
    t.output(t.module("fc", joined, out=(1, 2)))
    spec = attach(t.spec(linear("fc", 30, 2)))
    fc = hyper(spec, "fc", "in_features")
    texts = [s.text for s in fc.derivation]
    assert len(texts) == 1 + 15
    assert texts[0] == "2 earlier steps, not listed here, end in: getitem keeps 0:2 of 30"
    assert texts[14] == "2 earlier steps, not listed here, end in: getitem keeps 28:30 of 30"
    assert texts[-1] == f"cat joins {' + '.join(['2'] * 15)} = 30"
    assert fc.derivation_omitted == 1 + 15 + 1 - 1  # the input and the 15 slices


def test_the_axes_a_split_makes_alike_share_one_step() -> None:
    """Height and width of one convolution are one sentence: a listing shows it once."""
    t = TraceBuilder()
    x = t.input("x", (1, 8, 6))
    halves = t.function("view", x, out=(1, 2, 4, 6), shape=[1, 2, 4, 6])
    back = t.function("reshape", halves, out=(1, 48), shape=[1, 48])
    flow = Provenance(t.spec())
    origin = flow.origin(back, 1)
    texts = [s.text for s in origin.ordered()]
    assert texts == ["the input `x` is 1 × 8 × 6", "view splits 8 into 2 × 4", "reshape merges 2 × 4 × 6 into 48"]
    assert origin.node is not None and flow.total(origin.node) == 3


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
    fc = hyper(attach(spec), "fc", "in_features")
    assert [s.text for s in fc.derivation] == ["add produces 5 at axis 1"]


# --------------------------------------------------------------------------- the budget


def test_the_budget_is_proportional_to_the_trace_with_a_floor() -> None:
    t = TraceBuilder()
    x = t.input("x", (1, 8))
    y = t.function("relu", x, out=(1, 8))
    spec = t.spec()
    assert spec.trace is not None
    assert provenance.work_budget(spec.trace) == provenance.MIN_WORK
    # two ops and two tensors of two axes each, a thousand times over
    big = TraceSpec(device="meta", ops=spec.trace.ops * 1000, tensors=spec.trace.tensors * 1000)
    assert provenance.work_budget(big) == provenance.WORK_PER_ITEM * 6000
    with pytest.raises(DerivationTooLarge, match=r"^deriving the model's sizes needs more than 1 units of work"):
        Provenance(spec, budget=1).origin(y, 1)
