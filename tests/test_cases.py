"""The cases a page must get right, checked on the JSON (`spec.to_json()`) against real tensors.

Layers the knowledge table does not know (inferred from their shapes) are in test_explain_infer.py.
"""

from __future__ import annotations

import torch

from modeldoc.probe.loader import load_model
from tests.helpers.specs import hyper_json, layer_json, param_json, spec_of


def test_tied_weights_counted_once_shown_on_both_with_the_transpose() -> None:
    model = load_model("tests.models:TiedLM", {}).module
    doc = spec_of("tests.models:TiedLM", [2, 7], input_dtype="long").to_json()
    embed, head = param_json(doc, "embed.weight"), param_json(doc, "head.weight")
    assert model.embed.weight is model.head.weight
    assert embed["tied_with"] == ["head.weight"] and head["tied_with"] == ["embed.weight"]
    assert embed["counted"] and not head["counted"]
    unique = sum(p.numel() for p in model.parameters())  # torch counts a shared tensor once
    assert doc["model"]["total_params"] == unique
    assert sum(p["numel"] for layer in doc["layers"] for p in layer["parameters"] if p["counted"]) == unique
    # the same matrix, read differently: rows are ids for embed, outputs for head, which computes x·Wᵀ
    assert embed["axes"] == ["num_embeddings", "embedding_dim"] and head["axes"] == ["out_features", "in_features"]
    assert "head uses it transposed" in embed["relation"] and "head uses it transposed" in head["relation"]
    assert "num_embeddings ↔ out_features" in embed["relation"]


def test_module_registered_twice_and_called_twice() -> None:
    doc = spec_of("tests.models:SharedBlock", [3, 8]).to_json()
    paths = [layer["path"] for layer in doc["layers"]]
    assert "block" in paths and "alias" not in paths  # one module, documented once
    block = layer_json(doc, "block")
    assert block["aliases"] == ["alias"]
    assert block["calls"] == 2
    weight = param_json(doc, "block.weight")
    assert weight["counted"] and weight["axes"] == ["out_features", "in_features"]
    assert doc["model"]["total_params"] == 8 * 8 + 8 + 8 * 2 + 2


def test_frozen_parameters_and_buffers() -> None:
    model = load_model("tests.models:FrozenBN", {}).module
    doc = spec_of("tests.models:FrozenBN", [2, 3, 8, 8]).to_json()
    conv_weight = param_json(doc, "conv.weight")
    assert conv_weight["trainable"] is False and model.conv.weight.requires_grad is False
    assert conv_weight["axes"] == ["filters", "depth", "height", "width"]
    running_mean = param_json(doc, "bn.running_mean")
    assert running_mean["buffer"] and running_mean["persistent"] and not running_mean["trainable"]
    assert running_mean["axes"] == ["channels"] and running_mean["shape"] == list(model.bn.running_mean.shape)
    assert "eval mode" in running_mean["meaning"]
    tracked = param_json(doc, "bn.num_batches_tracked")
    assert tracked["shape"] == [] and tracked["axes"] == [] and tracked["dtype"] == "int64"
    scale = next(p for p in doc["model"]["parameters"] if p["name"] == "scale")
    assert scale["buffer"] and scale["persistent"] is False and "scale" not in model.state_dict()
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    assert doc["model"]["frozen_params"] == frozen == 3 * 8 * 9 + 8
    bn = layer_json(doc, "bn")
    assert (
        hyper_json(bn, "num_features")["dim"] == "in0:-3" and hyper_json(bn, "num_features")["kind"] == "data-dependent"
    )


def test_parametrizations_show_originals_and_what_the_layer_uses() -> None:
    model = load_model("tests.models:Parametrized", {}).module
    spectral_u = model.sn.parametrizations.weight[0]._u.clone()
    doc = spec_of("tests.models:Parametrized", [2, 8]).to_json()
    # weight_norm: the layer uses weight = g · v / ‖v‖, computed from original0 (g) and original1 (v)
    used = param_json(doc, "wn.weight")
    assert used["computed"] and not used["counted"] and used["shape"] == list(model.wn.weight.shape)
    assert used["axes"] == ["out_features", "in_features"]
    assert "wn.parametrizations.weight.original0" in used["parametrization"]
    assert "_WeightNorm" in used["parametrization"]
    g = param_json(doc, "wn.parametrizations.weight.original0")
    v = param_json(doc, "wn.parametrizations.weight.original1")
    assert g["shape"] == list(model.wn.parametrizations.weight.original0.shape) == [6, 1]
    assert g["axes"][0] == "out_features" and g["meaning"].startswith("g, the length of wn.weight")
    assert v["axes"] == ["out_features", "in_features"] and v["meaning"].startswith("v, the direction")
    # the stored tensors are counted, the computed one is not
    assert doc["model"]["total_params"] == sum(p.numel() for p in model.parameters())
    # spectral_norm: original plus the power-iteration buffers, which describing must not advance
    assert param_json(doc, "sn.weight")["axes"] == ["filters", "depth", "height", "width"]
    original = param_json(doc, "sn.parametrizations.weight.original")
    assert "largest singular value" in original["meaning"]
    u = param_json(doc, "sn.parametrizations.weight.0._u")
    assert u["buffer"] and u["shape"] == [4] and u["axes"] == ["weight rows"]
    assert param_json(doc, "sn.parametrizations.weight.0._v")["shape"] == [3 * 3 * 3]
    described = load_model("tests.models:Parametrized", {}).module
    assert not torch.equal(described.sn.parametrizations.weight[0]._u, spectral_u)  # fresh random init differs
    before = model.sn.parametrizations.weight[0]._u.clone()
    from modeldoc.probe import arguments as hyperparams

    hyperparams.computed_tensors(model.sn, "sn")
    assert torch.equal(model.sn.parametrizations.weight[0]._u, before)
    # a user parametrization: the chain is named; axes come from the tensor the layer uses
    sym = param_json(doc, "sym.weight")
    assert sym["computed"] and "_Symmetric" in sym["parametrization"]
    assert any("Linear with weight parametrized" in n for n in layer_json(doc, "sym").get("notes", []))


def test_lazy_module_before_and_after_the_probe() -> None:
    before = spec_of("tests.models:Lazy").to_json()
    fc = layer_json(before, "fc")
    in_features = hyper_json(fc, "in_features")
    assert in_features["value"] is None and "the first call fixes it" in in_features["reason"]
    assert "give an example input" in in_features["reason"]
    weight = param_json(before, "fc.weight")
    assert weight["lazy"] and weight["shape"] == [] and weight["axes"] == ["out_features", "in_features"]
    after = spec_of("tests.models:Lazy", [2, 3, 4]).to_json()
    fc = layer_json(after, "fc")
    in_features = hyper_json(fc, "in_features")
    assert in_features["value"] == 12 == 3 * 4 and in_features["kind"] == "data-dependent"
    assert in_features["dim"] == "in0:-1" and "(12)" in in_features["reason"]
    model = load_model("tests.models:Lazy", {}).module
    model(torch.zeros(2, 3, 4))  # materialise a real one to compare
    assert param_json(after, "fc.weight")["shape"] == list(model.fc.weight.shape) == [4, 12]
    # describing did not materialise the user's module
    described = load_model("tests.models:Lazy", {}).module
    spec_of("tests.models:Lazy", [2, 3, 4])
    assert isinstance(described.fc, torch.nn.LazyLinear)


def test_grouped_and_depthwise_convolutions() -> None:
    model = load_model("tests.models:Grouped", {}).module
    doc = spec_of("tests.models:Grouped", [1, 6, 8, 8]).to_json()
    grouped = param_json(doc, "grouped.weight")
    assert grouped["shape"] == list(model.grouped.weight.shape) == [12, 2, 3, 3]
    assert grouped["axes"] == ["filters", "depth", "height", "width"]
    assert "depth = in_channels / groups = 6 / 3 = 2: the input channels one filter sees." in grouped["axis_notes"]
    depthwise = layer_json(doc, "depthwise")
    assert "depthwise" in depthwise["summary"] and "depthwise" in hyper_json(depthwise, "groups")["reason"]
    assert param_json(doc, "depthwise.weight")["shape"][1] == 1
    assert "depth = in_channels / groups = 12 / 12 = 1" in param_json(doc, "depthwise.weight")["axis_notes"][1]
    # a transposed convolution stores in_channels first and out_channels / groups second
    up = param_json(doc, "up.weight")
    assert up["shape"] == list(model.up.weight.shape) == [8, 2, 2, 2]
    assert up["axes"][:2] == ["input channels", "output channels per group"]
    assert up["axis_notes"][1].startswith("output channels per group = out_channels / groups = 4 / 2 = 2")
