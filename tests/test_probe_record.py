"""modeldoc.probe.record: what one pass records, module calls and torch calls, up to a failure."""

from __future__ import annotations

import json

from modeldoc.spec import ModelSpec, TraceSpec
from tests.helpers.specs import spec_of


def _kinds_and_names(spec: ModelSpec) -> list[tuple[str, str]]:
    assert spec.trace is not None
    return [(op.kind, op.name) for op in spec.trace.ops]


def _check_consistent(trace_spec: TraceSpec) -> None:
    """Every id an op names exists, producers point back at the op, ops are numbered in order."""
    ids = {t.id for t in trace_spec.tensors}
    for position, op in enumerate(trace_spec.ops):
        assert op.index == position
        assert set(op.inputs) <= ids
        for out in op.outputs:
            assert out in ids
            if op.kind in ("module", "function"):
                assert trace_spec.tensors[out].producer == op.index
    for call in trace_spec.module_calls:
        assert set(call.inputs) <= ids
        assert set(call.outputs) <= ids


def test_fashion_trace_records_modules_and_functional_ops_on_meta() -> None:
    spec = spec_of("modeldoc.examples.fashion:Network", "1,1,28,28")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.error) == ("meta", True, "")
    assert _kinds_and_names(spec) == [
        ("input", "t"),
        ("module", "conv1"),
        ("function", "relu"),
        ("function", "max_pool2d"),
        ("module", "conv2"),
        ("function", "relu"),
        ("function", "max_pool2d"),
        ("function", "reshape"),
        ("module", "fc1"),
        ("function", "relu"),
        ("module", "fc2"),
        ("function", "relu"),
        ("module", "out"),
        ("output", "output"),
    ]
    _check_consistent(spec.trace)
    ops = spec.trace.ops
    assert ops[1].target == "torch.nn.Conv2d"
    assert ops[3].target == "torch.nn.functional.max_pool2d"
    assert ops[3].arguments["kernel_size"] == 2
    assert ops[3].arguments["stride"] == 2
    assert ops[7].target == "Tensor.reshape"
    assert ops[7].arguments["shape"] == [-1, 192]
    assert all(op.scope == "" for op in ops)
    # the leaf module absorbed its F.conv2d: its cost is on the module op
    assert ops[1].macs == 6 * 24 * 24 * 25
    reshape_out = spec.trace.tensors[ops[7].outputs[0]]
    assert (reshape_out.shape, reshape_out.dims, reshape_out.alias) == ((1, 192), ("N", 192), True)
    assert spec.trace.tensors[ops[0].outputs[0]].name == "t"
    json.dumps(spec.to_json())


def test_functional_ops_are_scoped_to_the_innermost_module() -> None:
    spec = spec_of("tests.models:tiny_bert", "input_ids:1,L=8", input_dtype="long")
    assert spec.trace is not None
    attention = [op for op in spec.trace.ops if op.name == "scaled_dot_product_attention"]
    assert [op.scope for op in attention] == ["encoder.layer.0.attention.self", "encoder.layer.1.attention.self"]
    assert {op.kind for op in attention} == {"function"}
    # containers are not ops, but every module call is kept with where its data enters and leaves
    calls = {call.name for call in spec.trace.module_calls}
    assert {"", "encoder", "encoder.layer.0", "encoder.layer.0.attention.self.query"} <= calls
    assert not any(op.kind == "module" and op.name == "encoder" for op in spec.trace.ops)
    _check_consistent(spec.trace)


def test_a_module_called_twice_is_two_ops_and_one_layer() -> None:
    spec = spec_of("tests.models:SharedBlock", "1,8")
    assert _kinds_and_names(spec)[1:-1] == [
        ("module", "block"),
        ("function", "relu"),
        ("module", "block"),
        ("module", "out"),
    ]
    assert spec.trace is not None
    blocks = [op for op in spec.trace.ops if op.name == "block"]
    assert [op.call for op in blocks] == [0, 1]
    assert blocks[1].inputs[0] == spec.trace.ops[2].outputs[0]
    layer = spec.layer("block")
    assert (layer.calls, layer.order, layer.aliases) == (2, 1, ("alias",))


def test_partial_failure_keeps_the_trace_up_to_the_failing_layer() -> None:
    spec = spec_of("tests.models:Broken", "1,1,12,12")
    assert spec.trace is not None
    assert (spec.trace.complete, spec.trace.failed_in, spec.trace.device) == (False, "fc1", "meta")
    assert _kinds_and_names(spec) == [
        ("input", "x"),
        ("module", "conv"),
        ("function", "max_pool2d"),
        ("function", "flatten"),
        ("module", "fc1"),
    ]
    failing = spec.trace.ops[-1]
    assert failing.outputs == ()
    assert spec.trace.tensors[failing.inputs[0]].dims == ("N", 192)
    assert spec.layer("fc1").input_shapes == ((1, 192),)
    assert spec.layer("fc1").output_shapes == ()
    assert spec.layer("conv").output_dims == (("N", 12, 8, 8),)
    error = spec.trace.error
    assert error.startswith("the forward pass failed in fc1 (Linear), which received N × 192, with RuntimeError")
    assert "change the example input" in error
    assert "\n" not in error
    assert spec.probe_error == error
    assert spec.warnings == (error,)
    _check_consistent(spec.trace)
