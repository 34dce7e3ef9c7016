"""The forward-pass trace: ops, module calls, inputs, symbolic dims, fallbacks and partial failures."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modeldoc.options import model_options
from modeldoc.probe import loader, trace
from modeldoc.spec import ModelSpec, TraceSpec
from tests import models
from tests.conftest import spec_of


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


def test_recurrent_model_has_symbolic_batch_and_sequence() -> None:
    spec = spec_of("tests.models:TextLSTM", "N=2,L=7", input_dtype="long")
    assert spec.trace is not None and spec.trace.complete
    assert spec.inputs[0].dims == ("N", "L")
    assert spec.inputs[0].dtype == "int64"
    lstm = spec.layer("lstm")
    assert lstm.input_dims == (("N", "L", 12),)
    assert lstm.output_dims == (("N", "L", 20), (4, "N", 10), (4, "N", 10))
    assert spec.layer("fc").input_dims == (("N", 20),)
    assert spec.output_dims == (("N", 3),)
    getitem = next(op for op in spec.trace.ops if op.name == "getitem")
    assert getitem.arguments["key"] == [{"slice": [None, None, None]}, -1]


def test_labels_products_multiples_and_offsets_of_named_axes() -> None:
    spec = spec_of("tests.models:SequenceDims", "N=2,L=5,4")
    assert [o.dims for o in spec.outputs] == [("N·L", 3), ("N", "2·L", 4), ("N", "L + 1", 4)]
    assert [o.name for o in spec.outputs] == ["output[0]", "output[1]", "output[2]"]
    assert spec.layer("fc").input_dims == (("N·L", 4),)


def test_a_size_that_only_roughly_follows_an_axis_keeps_its_number() -> None:
    """A stride-2 convolution halves H with a floor: no linear label fits every size, so none is given."""
    spec = spec_of("tests.models:StridedConv", "1,1,H=8,W=8")
    assert spec.inputs[0].dims == ("N", 1, "H", "W")
    assert spec.output_dims == (("N", 2, 4, 4),)


def test_several_positional_and_keyword_inputs() -> None:
    spec = spec_of("tests.models:TwoInputs", "2,3,9,9", "2,5", "meta:2,7")
    assert [(i.name, i.dims) for i in spec.inputs] == [
        ("image", ("N", 3, 9, 9)),
        ("side", ("N", 5)),
        ("meta", ("N", 7)),
    ]
    assert spec.trace is not None and spec.trace.complete
    assert [op.name for op in spec.trace.ops if op.kind == "input"] == ["image", "side", "meta"]
    assert spec.output_dims == (("N", 2),)


def test_example_factory_returning_args_and_kwargs() -> None:
    spec = spec_of("tests.models:TwoInputs", example="tests.models:two_inputs_example")
    assert [(i.name, i.shape) for i in spec.inputs] == [("image", (2, 3, 9, 9)), ("side", (2, 5)), ("meta", (2, 7))]
    assert spec.inputs[0].dims == ("N", 3, 9, 9)
    assert spec.output_dims == (("N", 2),)


def test_example_factory_with_a_dict_of_token_ids() -> None:
    spec = spec_of("tests.models:DictInput", example="tests.models:dict_example")
    assert [(i.name, i.dtype, i.dims) for i in spec.inputs] == [
        ("batch['ids']", "int64", ("N", 5)),
        ("batch['extra']", "float32", ("N", 3)),
    ]
    assert spec.trace is not None and spec.trace.complete
    assert spec.layer("embed").input_dims == (("N", 5),)


def test_a_failing_factory_is_a_probe_error_with_the_fix() -> None:
    from modeldoc.errors import ProbeError

    with pytest.raises(
        ProbeError, match=r"example-input factory tests\.models:raises raised ValueError: width must be even"
    ):
        spec_of("tests.models:Tiny", example="tests.models:raises")


def test_meta_failure_falls_back_to_a_real_pass() -> None:
    spec = spec_of("tests.models:NeedsValues", "2,4")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete) == ("cpu", True)
    assert "meta-device pass failed" in spec.trace.note
    assert "item" in spec.trace.note
    assert spec.output_dims == (("N", 3),)
    assert not spec.probe_error


def test_probe_device_cpu_gives_the_same_trace_as_meta() -> None:
    meta = spec_of("modeldoc.examples.fashion:Network", "1,1,28,28")
    cpu = spec_of("modeldoc.examples.fashion:Network", "1,1,28,28", probe_device="cpu")
    assert cpu.trace is not None and meta.trace is not None
    assert (cpu.trace.device, meta.trace.device) == ("cpu", "meta")
    assert _kinds_and_names(cpu) == _kinds_and_names(meta)
    assert [t.dims for t in cpu.trace.tensors] == [t.dims for t in meta.trace.tensors]
    assert (cpu.macs, cpu.flops, cpu.activation_bytes) == (meta.macs, meta.flops, meta.activation_bytes)


def test_weights_on_meta_cannot_fall_back_and_say_so() -> None:
    spec = spec_of("tests.models:meta_needs_values", "2,4")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.failed_in) == ("meta", False, "item")
    assert "weights are on the meta device" in spec.trace.error
    assert "cannot be rerun" in spec.probe_error
    assert spec.warnings == (spec.probe_error,)


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


def test_partial_failure_still_builds_the_static_pages(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = cli("build", "tests.models:Broken", "--input-shape", "1,1,12,12", "--out", str(out), "--no-diagrams")
    assert result.exit_code == 0, result.output
    assert "warning: tests.models:Broken: the forward pass failed in fc1 (Linear)" in result.stderr
    pages = html.unescape("".join(p.read_text(encoding="utf-8") for p in out.rglob("*.html")))
    assert "fc1.weight" in pages
    assert "set in_features=192" in pages


def test_lazy_module_is_probed_through_a_copy_and_stays_lazy() -> None:
    model = models.Lazy()
    options = model_options({"target": "tests.models:Lazy", "input_shape": "1,3,4"})
    result = trace.probe(model, options)
    assert model.fc.has_uninitialized_params()
    assert isinstance(model.fc, nn.LazyLinear)
    assert result.trace is not None and result.trace.complete
    spec = spec_of("tests.models:Lazy", "1,3,4")
    fc = spec.layer("fc")
    assert [(p.local_name, p.shape, p.numel) for p in fc.parameters] == [("weight", (4, 12), 48), ("bias", (4,), 4)]
    assert any("probe's first call" in note for note in fc.notes)
    assert spec.total_params == 52
    assert fc.input_dims == (("N", 12),)


def _state(model: nn.Module) -> dict[str, Any]:
    return {
        "params": [
            (name, id(p), p.device, p.requires_grad) for name, p in model.named_parameters(remove_duplicate=False)
        ],
        "buffers": [(name, id(b), b.device) for name, b in model.named_buffers(remove_duplicate=False)],
        "training": [(name, m.training) for name, m in model.named_modules()],
        "hooks": [(name, dict(m._forward_hooks), dict(m._forward_pre_hooks)) for name, m in model.named_modules()],
        "state_dict": list(model.state_dict().keys()),
        "attributes": [(name, sorted(vars(m))) for name, m in model.named_modules()],
    }


@pytest.mark.parametrize(
    ("target", "entry"),
    [
        ("modeldoc.examples.fashion:Network", {"input_shape": "1,1,28,28"}),
        ("modeldoc.examples.fashion:Network", {"input_shape": "1,1,28,28", "probe_device": "cpu"}),
        ("tests.models:Broken", {"input_shape": "1,1,12,12"}),
        ("tests.models:NeedsValues", {"input_shape": "2,4"}),
        ("tests.models:FrozenBN", {"input_shape": "1,3,8,8"}),
        ("tests.models:TiedLM", {"input_shape": "1,L=6", "input_dtype": "long"}),
        ("tests.models:Lazy", {"input_shape": "1,3,4"}),
    ],
)
def test_probe_leaves_the_model_exactly_as_it_was(target: str, entry: dict[str, Any]) -> None:
    model = loader.load_model(target).module
    model.train()
    first = next(iter(model.children()))
    first.eval()  # a mixed train/eval state must come back as it was, module by module
    kept = model.register_forward_hook(lambda *_: None)
    before = _state(model)
    trace.probe(model, model_options({"target": target, **entry}))
    assert _state(model) == before
    kept.remove()


def test_op_names_and_targets() -> None:
    assert (trace.op_name(F.relu), trace.op_target(F.relu, "relu")) == ("relu", "torch.nn.functional.relu")
    assert (trace.op_name(torch.flatten), trace.op_target(torch.flatten, "flatten")) == ("flatten", "torch.flatten")
    assert (trace.op_name(torch.Tensor.view), trace.op_target(torch.Tensor.view, "view")) == ("view", "Tensor.view")
    assert trace.op_name(torch.Tensor.__getitem__) == "getitem"
    assert trace.op_name(torch.Tensor.__iadd__) == "add_"
    assert trace.op_name(torch.Tensor.__truediv__) == "div"
    assert trace.bind(None, "transpose", (0, 1, 2), {}) == {"input": 0, "dim0": 1, "dim1": 2}
    assert trace.bind(None, "view", ("x", 2, 3), {}) == {"input": "x", "shape": (2, 3)}
    assert trace.bind(None, "view", ("x", (2, 3)), {}) == {"input": "x", "shape": (2, 3)}
    pooled = trace.bind(F.max_pool2d, "max_pool2d", ("x", 2), {})
    assert (pooled["kernel_size"], pooled["stride"], pooled["padding"], pooled["ceil_mode"]) == (2, None, 0, False)


def test_a_named_axis_the_model_rejects_at_other_sizes_is_reported() -> None:
    spec = spec_of("tests.models:FixedLength", "N=2,L=6,2")
    assert spec.inputs[0].dims == ("N", 6, 2)
    assert spec.output_dims == (("N", 3),)
    assert spec.trace is not None and spec.trace.complete
    assert len(spec.warnings) == 1
    assert spec.warnings[0].startswith("the forward pass fails or takes other steps when L is not 6")
    assert not spec.probe_error


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True, proj_size=3, batch_first=True),
        lambda: nn.LSTM(4, 5),
        lambda: nn.GRU(4, 6, num_layers=3, bidirectional=True),
        lambda: nn.RNN(4, 6, nonlinearity="relu", batch_first=True),
        lambda: nn.RNN(4, 6),
    ],
)
@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN:UserWarning")
def test_recurrent_kernels_on_meta_give_the_shapes_the_real_kernel_gives(make):
    from modeldoc.probe.trace import _meta_rnn

    module = make()
    x = torch.zeros(2, 7, 4)
    real = module(x)
    with torch.device("meta"):
        meta_module = make()
    seen = []

    class Spy(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            answer = _meta_rnn(func, args, kwargs or {})
            if answer is not None:
                seen.append(answer)
            return func(*args, **(kwargs or {}))

    with Spy():
        expected = meta_module(x.to("meta"))
    (answer,) = seen
    flat_real = [real[0], *(real[1] if isinstance(real[1], tuple) else (real[1],))]
    flat_expected = [expected[0], *(expected[1] if isinstance(expected[1], tuple) else (expected[1],))]
    assert [t.shape for t in answer] == [t.shape for t in flat_expected] == [t.shape for t in flat_real]
    assert all(t.is_meta for t in answer)


@pytest.mark.parametrize(
    ("data", "weight", "bias"),
    [((8,), (4, 8), (4,)), ((2, 8), (4, 8), None), ((3, 2, 8), (4, 8), (4,)), ((2, 8), (4, 8), ())],
)
def test_linear_on_meta_is_answered_from_shapes_as_the_cpu_kernel_would(data, weight, bias) -> None:
    def make(device: str) -> tuple[torch.Tensor, ...]:
        tensors = [torch.ones(data, device=device), torch.ones(weight, device=device)]
        return (*tensors, torch.ones(bias, device=device)) if bias is not None else tuple(tensors)

    fast = trace._meta_linear(F.linear, make("meta"), {})
    assert fast is not None and fast.is_meta
    assert fast.shape == F.linear(*make("cpu")).shape


def test_linear_on_meta_with_mismatched_widths_fails_with_the_cpu_message() -> None:
    x, w = torch.empty(3, 2, 8, device="meta"), torch.empty(4, 7, device="meta")
    with pytest.raises(RuntimeError) as fast:
        trace._meta_linear(F.linear, (x, w), {})
    with pytest.raises(RuntimeError) as real:
        F.linear(torch.ones(3, 2, 8), torch.ones(4, 7))
    assert str(fast.value) == str(real.value) == "mat1 and mat2 shapes cannot be multiplied (6x8 and 7x4)"


def test_linear_with_anything_unusual_takes_the_normal_path() -> None:
    meta = torch.empty(2, 8, device="meta")
    assert trace._meta_linear(F.linear, (meta, torch.empty(8, device="meta")), {}) is None  # 1-D weight
    assert trace._meta_linear(F.linear, (torch.ones(2, 8), torch.ones(4, 8)), {}) is None  # not meta
    assert trace._meta_linear(torch.matmul, (meta, meta.T), {}) is None
