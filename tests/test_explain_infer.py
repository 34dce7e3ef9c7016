"""explain.infer: layers the knowledge table does not know, described from their probed shapes and marked inferred."""

from __future__ import annotations

from modeldoc.probe.loader import load_model
from tests.helpers.specs import hyper_json, layer_json, param_json, spec_of


def test_third_party_layers_are_inferred_and_marked() -> None:
    model = load_model("tests.models:ThirdParty", {}).module
    doc = spec_of("tests.models:ThirdParty", [2, 5, 8]).to_json()
    proj = layer_json(doc, "proj")
    assert proj["inferred"] and "nx" in proj["evidence"] and "2×5×8" in proj["evidence"]
    assert hyper_json(proj, "nx")["kind"] == "data-dependent" and hyper_json(proj, "nx")["dim"] == "in0:-1"
    assert hyper_json(proj, "nf")["kind"] == "hyperparameter" and hyper_json(proj, "nf")["dim"] == "out0:-1"
    assert hyper_json(proj, "nx")["inferred"] and hyper_json(proj, "nx")["evidence"]
    weight = param_json(doc, "proj.weight")
    assert weight["shape"] == list(model.proj.weight.shape) == [8, 24]  # stored in × out
    assert weight["axes"] == ["nx", "nf"] and weight["inferred"]
    assert "input features × output features" in weight["meaning"]
    # a custom attention block: the packed projection is three blocks of width
    qkv = param_json(doc, "attn.qkv")
    assert qkv["axes"] == ["width", "3 × width"]
    # its width meets proj's output in `x @ self.qkv`: tied to proj.nf, derived through the matmul
    width = hyper_json(layer_json(doc, "attn"), "width")
    assert (width["kind"], width["source"], width["formula"]) == ("data-dependent", "previous-layer", "proj.nf = 24")
    assert "inferred" not in width and "evidence" not in width
    assert [step["where"] for step in width["derivation"]] == ["proj", "attn: matmul"]
    # a raw parameter, one per feature
    gamma = param_json(doc, "scale.gamma")
    assert gamma["axes"] == ["dim"] and gamma["inferred"]
    # known layers inside are still described from the table, not inferred
    assert "inferred" not in layer_json(doc, "attn.out")


def test_nothing_inferable_is_said_plainly() -> None:
    doc = spec_of("tests.models:ThirdParty").to_json()  # no example input
    proj = layer_json(doc, "proj")
    assert "no example input was given" in proj["evidence"]
    assert "cannot tell whether the data fixes it" in hyper_json(proj, "nx")["evidence"]
    assert hyper_json(proj, "nx")["kind"] == "hyperparameter" and "dim" not in hyper_json(proj, "nx")
    qkv = param_json(doc, "attn.qkv")
    assert qkv["axes"][0] == "width"
