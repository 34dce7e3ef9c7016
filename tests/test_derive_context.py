"""derive.context: the trace lookups every rule shares (TraceIndex) and the one context a rule receives."""

from __future__ import annotations

import pytest

from modeldoc.arithmetic import Formula
from modeldoc.derive.context import Outcome, Step, TraceIndex, find_argument, qualified
from modeldoc.spec import ModelSpec
from tests.helpers.specs import hp, layer, linear
from tests.helpers.traces import TraceBuilder, rule_context

pytestmark = pytest.mark.notorch


@pytest.fixture
def conv_net() -> tuple[ModelSpec, dict[str, int]]:
    """x → c (Conv1d 3→4, kernel 3) → flatten (in enc) → fc (Linear 32→5), with a parameter and a constant."""
    t = TraceBuilder()
    ids = {"x": t.input("x", (2, 3, 10)), "w": t.parameter("c.weight", (4, 3, 3)), "k": t.constant((5,))}
    ids["c"] = t.module("c", ids["x"], out=(2, 4, 8))
    ids["flat"] = t.function("flatten", ids["c"], out=(2, 32), scope="enc", start_dim=1)
    t.output(t.module("fc", ids["flat"], out=(2, 5)))
    conv = layer(
        "c",
        "Conv1d",
        [hp("in_channels", 3, "in0:-2", "data-dependent"), hp("out_channels", 4, "out0:-2"), hp("kernel_size", [3])],
        params=40,
        size_rule="conv",
    )
    return t.spec(conv, linear("fc", 32, 5)), ids


def test_an_argument_is_matched_against_the_axis_of_the_layers_first_input(conv_net) -> None:
    spec, ids = conv_net
    index = TraceIndex(spec)
    conv = spec.layer("c")
    tensor, axis = index.consumed(conv, conv.hyperparameters[0])  # type: ignore[misc]
    assert (tensor.id, axis) == (ids["x"], 1)  # in0:-2 of a rank-3 input is axis 1
    assert index.consumed(conv, conv.hyperparameters[1]) is None  # out0: not an incoming size
    assert index.consumed(conv, conv.hyperparameters[2]) is None  # no dim at all


def test_data_comes_before_parameters_and_constants_and_earlier_before_later(conv_net) -> None:
    spec, ids = conv_net
    index = TraceIndex(spec)
    assert index.inputs == {ids["x"]: "x"}
    ages = {name: index.age(tid) for name, tid in ids.items()}
    assert sorted(ages, key=ages.__getitem__) == ["x", "c", "flat", "w", "k"]


def test_how_steps_name_ops_and_where_they_happened(conv_net) -> None:
    spec, _ = conv_net
    index = TraceIndex(spec)
    conv_call, flatten = index.ops[1], index.ops[2]
    assert index.op_label(conv_call) == "c (Conv1d)" and index.op_label(conv_call, "3") == "c (Conv1d 3)"
    assert index.op_label(flatten) == "flatten in enc"
    assert (index.op_where(conv_call), index.op_where(flatten)) == ("c", "enc: flatten")
    assert index.has_parameters("c") and not index.has_parameters("nowhere")
    t = TraceBuilder()
    t.module("mystery", t.input("a", (1, 2)), out=(1, 2), target="pkg.Mystery")
    unknown = TraceIndex(t.spec())
    assert unknown.op_label(unknown.ops[1]) == "mystery (Mystery)"  # not in the spec: the recorded type


def test_a_window_layer_slides_over_as_many_axes_as_its_knowledge_entry_says(conv_net) -> None:
    spec, _ = conv_net
    index = TraceIndex(spec)
    assert index.spatial_axes(spec.layer("c")) == 1  # Conv1d
    assert index.spatial_axes(spec.layer("fc")) is None


def test_the_context_of_a_layers_output_axis(conv_net) -> None:
    spec, ids = conv_net
    ctx = rule_context(spec, ids["c"], 1)
    assert (ctx.value, ctx.j, ctx.rank, ctx.out, ctx.incoming) == (4, 0, 3, (2, 4, 8), (2, 3, 10))
    assert dict(ctx.hp) == {"in_channels": 3, "out_channels": 4, "kernel_size": [3]}
    assert ctx.spatial_axes == 1 and ctx.name == "c"
    assert not ctx.same(0, 1) and ctx.keep_if_same(0, 1) is None and ctx.same(0, 0) is False
    assert ctx.chosen("kernel_size") is None  # 3 is not this size
    assert ctx.chosen("out_channels") == Outcome.born(
        Step("c (Conv1d) has out_channels = 4, chosen by the designer", 4, "c", Formula.named("c.out_channels", 4)),
        "chosen",
        ("c", "out_channels"),
    )


def test_the_context_of_a_function_op(conv_net) -> None:
    spec, ids = conv_net
    ctx = rule_context(spec, ids["flat"], 0)
    assert ctx.layer is None and dict(ctx.hp) == {} and dict(ctx.args) == {"start_dim": 1}
    assert ctx.keep_if_same(0, 0) == Outcome.keeps(ids["c"], 0)  # the batch passes through
    assert ctx.step("merged", None, [(ids["c"], 1)]) == Outcome.computed(
        Step("merged", 2, "enc: flatten"), [(ids["c"], 1)]
    )
    assert ctx.born("fixed") == Outcome.born(Step("fixed", 2, "enc: flatten"))


def test_an_in_place_op_is_named_as_its_out_of_place_op() -> None:
    t = TraceBuilder()
    y = t.function("unsqueeze_", t.input("x", (3, 4)), out=(3, 1, 4), dim=1)
    assert rule_context(t.spec(), y, 1).name == "unsqueeze"


def test_arguments_by_name_and_their_qualified_names() -> None:
    fc = linear("fc", 8, 3)
    assert find_argument(fc, "out_features") is fc.hyperparameters[1]
    assert find_argument(fc, "bias") is None
    assert qualified("fc", "in_features") == "fc.in_features" and qualified("", "width") == "width"
