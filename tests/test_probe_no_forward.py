"""A model class with no forward (Bark, a VQ-VAE's encode/decode pair) has no pass to probe, and says so."""

from __future__ import annotations

from tests.helpers.run import inspect_json


def test_a_model_without_forward_is_described_without_a_probe_and_says_why() -> None:
    doc = inspect_json("tests.multimodal_models:Codec", "--input-shape", "1,8")
    assert doc["probe_error"].startswith("Codec defines no forward (its parts are called on their own")
    assert (doc["trace"], doc["input"]) == (None, [])
    # the layers and weights are still described
    assert [layer["path"] for layer in doc["layers"]] == ["encoder", "decoder"]
    assert doc["model"]["total_params"] == 8 * 4 + 4 + 4 * 8 + 8
