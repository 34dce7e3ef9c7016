"""A transformers model whose default generation cache cannot be built is probed with use_cache=False, and says so."""

from __future__ import annotations

import pytest

from tests.helpers.specs import spec_of

pytest.importorskip("transformers")


def test_a_mamba_only_bamba_is_probed_without_a_cache_and_the_note_says_so() -> None:
    spec = spec_of("tests.routing_models:meta_bamba_mamba_only", "1,L=16", input_dtype="long", probe_memory=0)
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.probe_error) == ("meta", True, "")
    assert spec.to_json()["trace"]["note"] == (
        "the forward was called with use_cache=False (no generation cache): called as configured, it stopped sooner"
    )
    assert [(o.name, o.dims) for o in spec.outputs] == [("last_hidden_state", ("N", "L", 32))]


def test_a_model_that_completes_as_configured_keeps_its_cache_and_has_no_such_note() -> None:
    spec = spec_of("tests.probe_models:meta_t5", "1,L=8", input_dtype="long")
    assert spec.trace is not None and spec.trace.complete
    assert "use_cache" not in spec.trace.note
