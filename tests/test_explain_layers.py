"""explain: pure, table-driven; the axis meanings it states are checked against what real layers compute."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.explain import layers as explain
from modeldoc.spec import Hyperparam, LayerSpec, ModelSpec, ParamSpec
from tests.conftest import spec_of


def test_explain_imports_no_torch() -> None:
    code = "import sys, modeldoc.explain, modeldoc.explain.infer, modeldoc.knowledge; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _linear(path: str, inp: int, out: int, **extra: object) -> LayerSpec:
    return LayerSpec(
        path=path,
        type="torch.nn.Linear",
        type_name="Linear",
        repr="",
        depth=1,
        parent="",
        hyperparameters=(
            Hyperparam(name="in_features", value=inp, kind="hyperparameter", source="chosen"),
            Hyperparam(name="out_features", value=out, kind="hyperparameter", source="chosen"),
            Hyperparam(name="bias", value=False, kind="hyperparameter", source="chosen"),
        ),
        parameters=(
            ParamSpec(
                name=f"{path}.weight",
                local_name="weight",
                shape=(out, inp),
                dtype="float32",
                numel=out * inp,
                nbytes=4 * out * inp,
                trainable=True,
            ),
        ),
        **extra,  # type: ignore[arg-type]
    )


def test_annotate_works_on_a_hand_built_spec() -> None:
    root = LayerSpec(path="", type="x.Net", type_name="Net", repr="Net()", depth=0, parent=None, children=("fc",))
    spec = ModelSpec(name="Net", type="x.Net", root=root, layers=(_linear("fc", 7, 3, input_shapes=((2, 7),)),))
    fc = explain.annotate(spec).layer("fc")
    assert fc.summary.startswith("A fully connected layer: every one of its 3 outputs is a weighted sum of all 7")
    assert [(h.name, h.kind, h.source, h.dim) for h in fc.hyperparameters[:2]] == [
        ("in_features", "data-dependent", "previous-layer", "in0:-1"),
        ("out_features", "hyperparameter", "chosen", "out0:-1"),
    ]
    assert fc.parameters[0].axes == ("out_features", "in_features")
    assert fc.parameters[0].axis_notes == (
        "out_features = 3: one row per output.",
        "in_features = 7: one column per input feature.",
    )


def test_a_subclass_is_described_as_its_torch_base_and_says_so() -> None:
    layer = _linear("fc", 4, 2, bases=("torch.nn.Linear",))
    layer = LayerSpec(**{**layer.__dict__, "type": "user.MyLinear", "type_name": "MyLinear"})
    fc = explain.annotate_layer(layer)
    assert fc.parameters[0].axes == ("out_features", "in_features")
    assert any("described as its base class Linear" in n for n in fc.notes)


def test_a_tensor_laid_out_unlike_the_table_gets_no_axes_rather_than_wrong_ones() -> None:
    layer = _linear("fc", 4, 2)
    odd = ParamSpec(
        name="fc.weight", local_name="weight", shape=(8,), dtype="float32", numel=8, nbytes=32, trainable=True
    )
    layer = LayerSpec(**{**layer.__dict__, "parameters": (odd,)})
    assert explain.annotate_layer(layer).parameters[0].axes == ()
    with pytest.raises(knowledge.KnowledgeError, match=r"Linear\.params\.weight: 2 axes for a tensor of shape \[8\]"):
        explain.annotate_layer(layer, strict=True)


def test_size_at_reads_the_named_axis() -> None:
    layer = LayerSpec(
        path="a",
        type="t",
        type_name="t",
        repr="",
        depth=1,
        parent="",
        input_shapes=((2, 3, 28, 28), (2, 5)),
        output_shapes=((2, 6, 24, 24),),
    )
    assert explain.size_at(layer, "in0:-3") == 3
    assert explain.size_at(layer, "in1:-1") == 5
    assert explain.size_at(layer, "out0:1") == 6
    assert explain.size_at(layer, "in2:-1") is None
    assert explain.size_at(layer, "") is None


def _rows(note: str) -> dict[str, range]:
    """``input gate i (rows 0–9)`` → {"input gate i": range(0, 10)}."""
    found = re.finditer(r"(\w[\w ]*?) \(rows (\d+)–(\d+)\)", note.split("stacked as ", 1)[1])
    return {m[1]: range(int(m[2]), int(m[3]) + 1) for m in found}


def test_lstm_gate_rows_are_the_gates_torch_uses() -> None:
    doc = spec_of("tests.models:TextLSTM", [2, 6], input_dtype="long").to_json()
    lstm = next(layer for layer in doc["layers"] if layer["path"] == "lstm")
    bias = next(p for p in lstm["parameters"] if p["name"] == "lstm.bias_ih_l0")
    rows = _rows(bias["axis_notes"][0])
    assert list(rows) == ["input gate i", "forget gate f", "cell candidate g", "output gate o"]
    # drive one real LSTM cell through the biases alone, placing each gate's bias where the page says it is
    cell = nn.LSTM(1, 10)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        for gate, value in {
            "input gate i": 20.0,
            "forget gate f": -20.0,
            "cell candidate g": 1.0,
            "output gate o": 20.0,
        }.items():
            cell.bias_ih_l0[rows[gate].start : rows[gate].stop] = value
        _, (h, c) = cell(torch.zeros(1, 1, 1))
    # c = σ(f)·0 + σ(i)·tanh(g) = tanh(1); h = σ(o)·tanh(c): true only if the rows are where the page says
    assert torch.allclose(c, torch.full_like(c, torch.tanh(torch.tensor(1.0)).item()), atol=1e-4)
    assert torch.allclose(h, torch.tanh(c), atol=1e-4)


def test_attention_value_block_is_where_the_page_says() -> None:
    doc = spec_of("tests.models:Attention", [2, 5, 16]).to_json()
    weight = next(p for p in doc["layers"][0]["parameters"] if p["name"] == "attn.in_proj_weight")
    blocks = _rows(weight["axis_notes"][0])
    assert list(blocks) == ["W_q", "W_k", "W_v"]
    attn = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        attn.in_proj_weight.zero_()
        attn.in_proj_bias.zero_()
        attn.in_proj_weight[blocks["W_v"].start : blocks["W_v"].stop] = torch.eye(16)
        attn.out_proj.weight.copy_(torch.eye(16))
        attn.out_proj.bias.zero_()
        x = torch.randn(2, 5, 16)
        y, _ = attn(x, x, x)
    # zero queries and keys: uniform attention, so each output is the mean of the values, which are x itself
    assert torch.allclose(y, x.mean(dim=1, keepdim=True).expand_as(x), atol=1e-5)


def test_conv_filters_and_depth_axes_are_what_the_conv_computes() -> None:
    doc = spec_of("tests.models:Grouped", [1, 6, 8, 8]).to_json()
    grouped = next(layer for layer in doc["layers"] if layer["path"] == "grouped")
    weight = next(p for p in grouped["parameters"] if p["name"] == "grouped.weight")
    assert weight["axes"][:2] == ["filters", "depth"]
    conv = nn.Conv2d(6, 12, 3, groups=3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[5, 1, 1, 1] = 1.0  # filter 5 (group 5 // 4 = 1), depth 1 of its group: input channel 2 + 1 = 3
        x = torch.randn(1, 6, 8, 8)
        y = conv(x)
    assert torch.equal(y[0, 5], x[0, 3]) and y[0, [c for c in range(12) if c != 5]].abs().sum() == 0
