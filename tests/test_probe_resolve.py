"""modeldoc.probe.resolve: a pass's live tensors become ids, ops, named inputs and outputs, and one failure sentence."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from modeldoc.options import model_options
from modeldoc.probe import resolve, trace
from modeldoc.spec import OpSpec, TensorInfo, TraceSpec
from tests.helpers.specs import spec_of


class Tokens(nn.Module):
    """A class token prepended to the sequence, and a dict of outputs with a tuple inside."""

    def __init__(self) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, 4))
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> dict[str, object]:
        h = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1)
        return {"logits": self.fc(h), "pooled": (h.mean(1), h[:, 0])}


def _trace(device: str) -> trace.ProbeResult:
    options = model_options({"target": "x:Tokens", "input_shape": "N=2,L=3,4", "probe_device": device})
    return trace.probe(Tokens(), options)


def test_ops_name_the_ids_they_read_and_write_in_call_order() -> None:
    result = _trace("cpu")
    assert result.trace is not None
    ops = [(op.kind, op.name, op.target, op.inputs, op.outputs, op.args) for op in result.trace.ops]
    assert ops == [
        ("input", "x", "input", (), (0,), ""),
        ("function", "expand", "Tensor.expand", (1,), (2,), "size=(2, -1, -1)"),
        ("function", "cat", "torch.cat", (2, 0), (3,), "tensors=({'tensor': [2, 1, 4]}, {'tensor': [2, 3, 4]}), dim=1"),
        ("module", "fc", "torch.nn.Linear", (3,), (4,), ""),
        ("function", "mean", "Tensor.mean", (3,), (5,), "dim=1"),
        ("function", "getitem", "Tensor.__getitem__", (3,), (6,), "[:, 0]"),
        ("output", "output", "output", (4, 5, 6), (), ""),
    ]
    tensors = result.trace.tensors
    assert [t.producer for t in tensors] == [None, None, 1, 2, 3, 4, 5]
    assert (tensors[1].name, tensors[0].name) == ("cls", "x")  # a parameter used outside its module's call
    assert [t.alias for t in tensors] == [False, False, True, False, False, False, True]  # views share storage
    assert [(t.shape, t.nbytes) for t in tensors[2:4]] == [((2, 1, 4), 32), ((2, 4, 4), 128)]
    assert result.trace.ops[4].arguments == {"dim": 1}  # the tensor itself is not an argument here
    calls = [(c.name, c.inputs, c.outputs) for c in result.trace.module_calls]
    assert calls == [("", (0,), (4, 5, 6)), ("fc", (3,), (4,))]


def test_outputs_are_named_by_where_they_sit_in_what_forward_returned() -> None:
    result = _trace("meta")
    assert [(o.name, o.dims) for o in result.outputs] == [
        ("logits", ("N", "L + 1", 2)),
        ("output['pooled'][0]", ("N", 4)),
        ("output['pooled'][1]", ("N", 4)),
    ]
    assert [(i.name, i.dtype, i.dims) for i in result.inputs] == [("x", "float32", ("N", "L", 4))]


def _built(
    failure: resolve.Failure, ops: tuple[OpSpec, ...] = (), tensors: tuple[TensorInfo, ...] = ()
) -> resolve.Built:
    spec = TraceSpec(device="meta", ops=ops, tensors=tensors, complete=False)
    return resolve.Built(trace=spec, calls={}, inputs=(), outputs=(), failure=failure)


def test_a_failure_is_one_sentence_with_what_the_failing_op_received_and_the_fix() -> None:
    received = TensorInfo(id=0, shape=(2, 7), dims=("N", 7), dtype="float32", producer=None)
    failing = OpSpec(index=0, kind="module", name="fc", target="torch.nn.Linear", scope="", inputs=(0,), outputs=())
    failed = resolve.Failure(place="in fc (Linear)", message="RuntimeError: mat1 and mat2.", fix="change the input")
    assert _built(failed, (failing,), (received,)).sentence() == (
        "the forward pass failed in fc (Linear), which received N × 7, with RuntimeError: mat1 and mat2; "
        "change the input"
    )
    stopped = replace(failed, message="the probe timeout of 2 s", fix="raise --probe-timeout", timed_out=True)
    assert _built(stopped).sentence() == (
        "the forward pass was stopped in fc (Linear) by the probe timeout of 2 s; raise --probe-timeout"
    )
    not_run = resolve.Failure(place="", message="no memory for it", fix="give a smaller --input-shape", ran=False)
    assert _built(not_run).sentence() == "the forward pass was not run: no memory for it; give a smaller --input-shape"
    assert failed.brief() == "in fc (Linear): RuntimeError: mat1 and mat2."


# --------------------------------------------------------------------------- learned tensors' names, outputs


def _inputs_named(spec_trace: TraceSpec, op_name: str) -> list[list[str]]:
    """For each call of the function `op_name`: the names its inputs carry, or those of what they view."""
    tensors = {t.id: t for t in spec_trace.tensors}
    ops = {op.index: op for op in spec_trace.ops}

    def name(tensor_id: int) -> str:
        tensor = tensors[tensor_id]
        while not tensor.name and tensor.producer is not None and ops[tensor.producer].name in _VIEWS:
            tensor = tensors[ops[tensor.producer].inputs[0]]
        return tensor.name

    return [[name(i) for i in op.inputs] for op in spec_trace.ops if op.kind == "function" and op.name == op_name]


_VIEWS = {"squeeze", "unsqueeze", "expand", "view", "reshape", "transpose", "to"}


def test_learned_tensors_used_outside_their_layers_call_carry_their_qualified_names() -> None:
    pytest.importorskip("transformers")
    vit = spec_of("tests.probe_models:meta_vit", "1,3,32,32").trace
    assert vit is not None
    assert ["embeddings.cls_token"] in _inputs_named(vit, "expand")  # the class token, expanded to the batch
    assert any("embeddings.position_embeddings" in names for names in _inputs_named(vit, "add"))
    clip = spec_of("tests.probe_models:meta_clip", "1,L=8", input_dtype="long").trace
    assert clip is not None
    assert "vision_model.embeddings.class_embedding" in {t.name for t in clip.tensors}
    mamba = spec_of("tests.probe_models:meta_mamba", "1,L=8", input_dtype="long")
    assert mamba.trace is not None
    # F.conv1d(x, self.conv1d.weight.squeeze(1).unsqueeze(1), self.conv1d.bias): the weight is the layer's
    assert _inputs_named(mamba.trace, "conv1d")[0][1:] == ["layers.0.mixer.conv1d.weight", "layers.0.mixer.conv1d.bias"]
    assert mamba.output_dims == (("N", "L", 32),)  # the scan over the length keeps L symbolic


def test_outputs_of_any_type_are_named_by_their_fields() -> None:
    def outputs(kind: str) -> list[tuple[str, tuple[object, ...]]]:
        spec = spec_of("tests.probe_models:Outputs", "2,4", kwargs={"kind": kind})
        assert spec.trace is not None and spec.trace.complete and not spec.warnings
        return [(o.name, o.dims) for o in spec.outputs]

    assert outputs("dataclass") == [("sample", ("N", 2)), ("output.extra[0]", ("N",)), ("output.extra[1]", ("N",))]
    assert outputs("namedtuple") == [("left", ("N", 2)), ("right", (2, "N"))]
    assert outputs("dict") == [("logits", ("N", 2)), ("output['nested']['sum']", ())]
    assert outputs("plain") == [("scores", ("N", 2))]  # a class of the user's own: its public attributes


def test_a_vae_returning_a_dataclass_traces_to_the_end() -> None:
    pytest.importorskip("diffusers")
    spec = spec_of("tests.probe_models:meta_vae", "1,3,16,16")
    assert spec.trace is not None and spec.trace.complete and spec.probe_error == ""
    assert [(o.name, o.dims) for o in spec.outputs] == [("sample", ("N", 3, 16, 16))]
