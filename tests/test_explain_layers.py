"""explain.layers: pure, table-driven; the axis meanings it states are checked against what real layers compute."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.explain import layers as explain
from modeldoc.options import ModelOptions, make_input
from modeldoc.probe.collect import collect
from modeldoc.spec import AxisRef, Hyperparam, LayerSpec, ModelSpec, ParamSpec
from tests.helpers.run import run_python
from tests.helpers.specs import layer, param_json, spec_of


def test_explain_imports_no_torch() -> None:
    code = "import sys, modeldoc.explain, modeldoc.explain.infer, modeldoc.knowledge; print('torch' in sys.modules)"
    assert run_python(code).stdout.strip() == "False"


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
    probed = layer("a", "t", type="t", params=0, input_shapes=((2, 3, 28, 28), (2, 5)), output_shapes=((2, 6, 24, 24),))
    assert explain.size_at(probed, "in0:-3") == 3
    assert explain.size_at(probed, "in1:-1") == 5
    assert explain.size_at(probed, "out0:1") == 6
    assert explain.size_at(probed, "in2:-1") is None
    assert explain.size_at(probed, "") is None


def test_size_at_reads_several_axes_and_the_typed_reference() -> None:
    probed = layer("a", "t", type="t", params=0, input_shapes=((2, 3, 4, 8),), output_shapes=())
    assert explain.size_at(probed, "in0:-2,-1") == [4, 8]
    assert explain.size_at(probed, AxisRef("in", 0, (-2, -1))) == [4, 8]
    assert explain.size_at(probed, "in0:-5") is None  # the input has 4 axes
    assert explain.size_at(probed, "out0:-1") is None  # no output was probed
    assert explain.size_at(probed, "in0:last") is None  # not an axis reference


def _rows(note: str) -> dict[str, range]:
    """``input gate i (rows 0–9)`` → {"input gate i": range(0, 10)}."""
    found = re.finditer(r"(\w[\w ]*?) \(rows (\d+)–(\d+)\)", note.split("stacked as ", 1)[1])
    return {m[1]: range(int(m[2]), int(m[3]) + 1) for m in found}


def test_lstm_gate_rows_are_the_gates_torch_uses() -> None:
    doc = spec_of("tests.models:TextLSTM", [2, 6], input_dtype="long").to_json()
    bias = param_json(doc, "lstm.bias_ih_l0")
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
    weight = param_json(doc, "grouped.weight")
    assert weight["axes"][:2] == ["filters", "depth"]
    conv = nn.Conv2d(6, 12, 3, groups=3, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[5, 1, 1, 1] = 1.0  # filter 5 (group 5 // 4 = 1), depth 1 of its group: input channel 2 + 1 = 3
        x = torch.randn(1, 6, 8, 8)
        y = conv(x)
    assert torch.equal(y[0, 5], x[0, 3]) and y[0, [c for c in range(12) if c != 5]].abs().sum() == 0


# --- LayerNorm over several axes, from the real knowledge entry --------------------------------


class _NormOverTwoAxes(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.proj = nn.Linear(features, features)
        self.norm = nn.LayerNorm([4, 8])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


def _normalized_shape(features: int) -> Hyperparam:
    from modeldoc.pipeline import describe_module

    options = ModelOptions(target="tests:NormOverTwoAxes", inputs=(make_input([2, 3, 4, features]),))
    spec = describe_module(_NormOverTwoAxes(features), options)
    return next(h for h in spec.layer("norm").hyperparameters if h.name == "normalized_shape")


def test_layer_norm_over_two_axes_is_checked_against_the_incoming_tensor() -> None:
    good = _normalized_shape(8)
    assert good.dim == "in0:-2,-1" and good.axis_ref == AxisRef("in", 0, (-2, -1))
    assert (good.kind, good.source, good.formula, good.error) == ("data-dependent", "previous-layer", "4 × 8", "")
    bad = _normalized_shape(9)  # the projection makes the last axis 9: the forward pass fails in norm
    assert bad.formula == ""
    assert bad.error == (
        "norm.normalized_shape is [4, 8] but the incoming tensor ends in (4, 9); set normalized_shape=[4, 9]"
    )


# --- the brief label (the diagrams' short text) --------------------------------------------------


def _described(module: nn.Module) -> LayerSpec:
    return explain.annotate_layer(collect(module, ModelOptions(target="x:y")).root)


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (nn.Conv2d(1, 6, 5), "1→6, 5×5"),
        (nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1), "3→8, 3×3, stride 2, pad 1"),
        (nn.Conv1d(8, 8, 3, padding="same", groups=8), "8→8, 3, pad same, groups 8"),
        (nn.Conv2d(3, 8, (1, 3), padding=(0, 1)), "3→8, 1×3, pad 0×1"),
        (
            nn.Conv2d(6, 12, (3, 5), groups=3, dilation=(2, 1), padding=(1, 2)),
            "6→12, 3×5, pad 1×2, dilation 2×1, groups 3",
        ),
        (nn.Linear(192, 120), "192→120"),
        (nn.Bilinear(5, 7, 3), "5, 7→3"),
        (nn.Embedding(50257, 768), "50257 ids → 768"),
        (nn.LSTM(12, 10, num_layers=2, bidirectional=True), "12→10, 2 layers, bidirectional"),
        (nn.GRUCell(6, 5), "6→5"),
        (nn.MultiheadAttention(16, 4), "16, 4 heads"),
        (nn.TransformerEncoderLayer(16, 4, 32), "16, 4 heads, ff 32"),
        (nn.MaxPool2d(2), "2"),
        (nn.MaxPool2d(3, stride=1), "3, stride 1"),
        (nn.AvgPool1d(3, stride=2, padding=1), "3, stride 2, pad 1"),
        (nn.LayerNorm(768), "768"),
        (nn.LayerNorm([4, 6]), "4×6"),
        (nn.BatchNorm2d(8), "8"),
        (nn.GroupNorm(4, 32), "32 in 4 groups"),
        (nn.AdaptiveAvgPool2d(1), "→ 1"),
        (nn.AdaptiveAvgPool2d((None, 3)), "→ None×3"),
        (nn.Dropout(0.1), "p=0.1"),
        (nn.ReLU(), ""),
        # defects of the diagram's old label, fixed by the entries: Unfold's and Fold's stride defaults
        # to 1 (not to the window), and LinearCrossEntropyLoss maps in_features to num_classes
        (nn.Unfold(2, stride=2), "2, stride 2"),
        (nn.Fold((4, 5), 2), "2"),
        (nn.LinearCrossEntropyLoss(8, 5), "8→5"),
    ],
)
def test_brief_names_the_key_hyperparameters(module: nn.Module, expected: str) -> None:
    assert _described(module).brief == expected


def test_brief_of_a_lazy_layer_shows_an_unknown_size_as_a_question_mark() -> None:
    assert _described(nn.LazyLinear(4)).brief == "?→4"  # the diagram's old label said "None→4"
    assert _described(nn.LazyConv2d(8, 3)).brief == "?→8, 3×3"


def test_brief_of_a_layer_the_table_does_not_know_comes_from_its_argument_names() -> None:
    from tests.models import InByOut, Scale

    assert _described(InByOut(24, 8)).brief == "8→24"
    assert _described(Scale(5)).brief == ""
    assert knowledge.message("inferred_brief", in_features=3, out_features=4) == "3→4"
    assert knowledge.message("inferred_brief", kernel_size=[2, 2], stride=[2, 2], padding=0, dilation=1) == "2×2"


def test_brief_is_in_the_json() -> None:
    layer = _described(nn.Conv2d(1, 6, 5))
    assert layer.to_json()["brief"] == "1→6, 5×5"
    assert "brief" not in _described(nn.ReLU()).to_json()


_DIAGRAM_TARGETS = [
    ("modeldoc.examples.fashion:Network", {"input_shapes": [[1, 1, 28, 28]]}),
    ("modeldoc.examples.text:TextClassifier", {"input_shapes": [[1, "L=32"]], "input_dtype": "long"}),
    ("modeldoc.examples.transformer:EncoderClassifier", {"input_shapes": [[1, "L=16"]], "input_dtype": "long"}),
    pytest.param(
        "modeldoc.examples.llama:make_llama_70b",
        {"input_shapes": [[1, "L=16"]], "input_dtype": "long"},
        marks=pytest.mark.slow,
    ),
    *[
        (f"tests.models:{name}", {})
        for name in [
            *("Tiny", "TiedLM", "SharedBlock", "Branches", "FrozenBN", "TextLSTM", "Attention", "Lazy", "Hostile"),
            *("Broken", "NeedsValues", "PoolGeometry", "Heads", "Grouped", "Parametrized", "ThirdParty"),
            *("SequenceDims", "StridedConv", "FixedLength", "UsesConvBlock"),
        ]
    ],
    ("tests.models:Lazy", {"input_shapes": [[2, 3, 4]]}),
    ("tests.models:TwoInputs", {"example": "tests.models:two_inputs_example"}),
    ("tests.models:DictInput", {"example": "tests.models:dict_example"}),
    pytest.param(
        "tests.models:tiny_gpt2", {"input_shapes": [[1, "L=8"]], "input_dtype": "long"}, marks=pytest.mark.slow
    ),
    pytest.param("tests.models:tiny_bert", {}, marks=pytest.mark.slow),
    pytest.param("tests.models:tiny_llama", {}, marks=pytest.mark.slow),
    pytest.param("tests.deep_models:SpaceTime", {}, marks=pytest.mark.slow),
    pytest.param("tests.deep_models:GatedStack", {}, marks=pytest.mark.slow),
    pytest.param("tests.deep_models:timesformer", {}, marks=pytest.mark.slow),
]


def test_the_tutorial_cnns_boxes_say_their_brief_labels() -> None:
    from modeldoc import diagrams

    spec = spec_of("modeldoc.examples.fashion:Network", [1, 1, 28, 28])
    dot = diagrams.tree_dot(spec, "", 2, lambda path: "")
    for text in ("Conv2d 1→6, 5×5", "Conv2d 6→12, 5×5", "Linear 192→120", "Linear 60→10"):
        assert f">{text}</FONT>" in dot


@pytest.mark.parametrize(("target", "extra"), _DIAGRAM_TARGETS)
def test_the_module_tree_draws_each_layers_brief_label(target: str, extra: dict[str, object]) -> None:
    # The knowledge entry's brief label (layer.brief) is what a layer's box says in the diagrams.
    import html

    from modeldoc import diagrams

    spec = spec_of(target, **extra)
    dot = diagrams.tree_dot(spec, "", 50, lambda path: f"#drawn-{path}")
    # runs of identical siblings fold and long child lists are cut: check the leaf boxes drawn
    # (a container drawn with its children shows its type only)
    labelled = [layer for layer in spec.layers if layer.is_leaf and layer.brief and f'"#drawn-{layer.path}"' in dot]
    missing = [
        (layer.path, layer.brief)
        for layer in labelled
        if html.escape(diagrams.brief(layer), quote=True).replace("\\", "\\\\") not in dot
    ]
    assert not missing
