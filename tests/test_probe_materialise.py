"""modeldoc.probe.materialise: a meta model's weights materialised in a separate CPU copy for a real pass.

The user's model keeps its meta tensors, the same objects, with nothing written into them; the
page says the shapes came from a materialised copy; a model over the memory budget is never
materialised, and the page says why no real pass ran.
"""

from __future__ import annotations

import pytest
import torch

from modeldoc.probe import guard
from modeldoc.probe.deadline import Budget
from modeldoc.probe.materialise import Refused, materialise
from tests import probe_models
from tests.helpers.run import invoke, the_error
from tests.helpers.snapshot import untouched
from tests.helpers.specs import describe_live

MATERIALISED = (
    "so this trace comes from a real pass on a materialised copy of the model's weights (random values on the "
    "CPU, dropped afterwards)"
)


def test_a_meta_model_that_needs_values_runs_for_real_on_a_copy_and_is_untouched() -> None:
    model = probe_models.meta_weight_gate()
    before = {name: (id(t), t.device.type) for name, t in model.named_parameters()}
    spec = untouched(model, lambda: describe_live(model, "2,4", target="tests.probe_models:meta_weight_gate"))
    assert {name: (id(t), t.device.type) for name, t in model.named_parameters()} == before  # still meta, same objects
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.materialised) == ("cpu", True, True)
    assert spec.trace.assumptions == ()  # the real pass knew the branch; nothing assumed on the page
    assert spec.trace.note == f"the meta-device pass had to assume 1 value that depends on the weights, {MATERIALISED}"
    assert spec.to_json()["trace"]["materialised"] is True


def test_the_memory_budget_keeps_the_meta_pass_with_its_assumptions() -> None:
    model = probe_models.meta_weight_gate()
    spec = untouched(model, lambda: describe_live(model, "2,4", probe_memory="100B"))
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.materialised) == ("meta", True, False)
    assert len(spec.trace.assumptions) == 1
    assert spec.trace.note.endswith(
        "no real pass ran: its weights take 120 B, more than the probe's memory budget of 100 B (raise it with "
        "--probe-memory to run a real pass on a materialised copy)"
    )


def test_materialised_weights_are_new_cpu_tensors_with_the_models_own_initialisation() -> None:
    pytest.importorskip("transformers")
    model = probe_models.meta_bert()
    tree = guard.walk(model)
    weights = untouched(model, lambda: materialise(model, tree, limit=1 << 30, extra=0, budget=Budget(0)))
    assert not isinstance(weights, Refused)
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    assert all(t.is_meta for t in (*params.values(), *buffers.values()))
    assert set(weights) == {id(t) for t in (*params.values(), *buffers.values())}
    real = weights[id(buffers["embeddings.position_ids"])]
    assert real.device.type == "cpu" and real.tolist() == [list(range(real.shape[1]))]  # set by initialize_weights
    norm = weights[id(params["embeddings.LayerNorm.weight"])]
    assert torch.equal(norm, torch.ones_like(norm))  # the model's init, not the N(0, 0.02) placeholder


def test_materialise_refuses_over_the_limit_and_allocates_nothing() -> None:
    model = probe_models.meta_weight_gate()
    refused = materialise(model, guard.walk(model), limit=150, extra=64, budget=Budget(0))
    assert refused == Refused(
        "its weights take 120 B, more than the probe's memory budget of 150 B (raise it with --probe-memory "
        "to run a real pass on a materialised copy)"
    )


def test_a_bad_probe_memory_is_one_line_with_the_fix() -> None:
    result = invoke("inspect", "tests.probe_models:meta_weight_gate", "--input-shape", "2,4", "--probe-memory", "lots")
    assert result.exit_code == 2
    assert the_error(result.stderr) == (
        'probe_memory of tests.probe_models:meta_weight_gate is \'lots\'; give a size such as "8GiB" or "512MiB" '
        "(0: never)"
    )
