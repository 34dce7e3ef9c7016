"""Random architectures, described and checked against the model itself and a real CPU forward.

Each model comes from a seeded generator: layers (Linear, Conv1d, BatchNorm, LayerNorm,
activations, Embedding, LSTM) placed in random nests of Sequential, ModuleList and ModuleDict,
with modules registered under two names, tied weights, frozen parameters, buffers, mixed
train/eval flags, the user's own forward hooks, and steps that only run with real values (so
the probe falls back to a real pass). After `modeldoc` describes a model, every parameter and
buffer must be the same object with the same device, dtype, requires_grad and values, and every
module's training flag, hooks and attributes must be as they were; the counts must equal torch's
and the shapes those of a real forward pass on the CPU.
"""

from __future__ import annotations

import pytest
from torch import nn

from tests.helpers.snapshot import Snapshot
from tests.random_models import describe_random, example_tensor, random_model, real_forward

FAST = 60
SLOW = 400


def check_one(seed: int) -> None:
    """Describe the model of `seed` and check everything the module docstring promises."""
    model, option = random_model(seed)
    snapshot = Snapshot.take(model)
    spec = describe_random(model, option)
    problems = snapshot.problems(model)
    assert not problems, f"seed {seed}: the model was changed: {problems[:5]}"
    unique = list(model.parameters())
    assert spec.total_params == sum(p.numel() for p in unique), seed
    assert spec.trainable_params == sum(p.numel() for p in unique if p.requires_grad), seed
    counted = sum(p.numel for layer in spec.all_layers for p in layer.parameters if p.counted and not p.is_buffer)
    assert counted == spec.total_params, seed
    reference = real_forward(model, example_tensor(option))
    assert reference is not None, f"seed {seed}: the generator made a model that does not run"
    shapes, output = reference
    assert spec.trace is not None and spec.trace.complete, (seed, spec.probe_error)
    assert spec.outputs[0].shape == output, seed
    assert {layer.path for layer in spec.all_layers if layer.calls} == set(shapes), seed
    for layer in spec.all_layers:
        if layer.calls:
            assert layer.output_shapes[0] == shapes[layer.path], (seed, layer.path)


def _fast_seeds() -> list[int]:
    return list(range(FAST))


@pytest.mark.parametrize("seed", _fast_seeds())
def test_random_model_is_untouched_and_matches_a_real_forward(seed: int) -> None:
    check_one(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(FAST, SLOW))
def test_many_random_models_are_untouched_and_match_a_real_forward(seed: int) -> None:
    check_one(seed)


def test_the_generator_makes_every_hostile_feature() -> None:
    """The fast seeds cover shared modules, ties, frozen parameters, buffers, hooks, flags and fallbacks."""
    seen: dict[str, int] = {}
    for seed in _fast_seeds():
        model, option = random_model(seed)
        modules = list(model.modules())
        weights = [m.weight for m in modules if isinstance(m, nn.Linear)]
        found = {
            "registered twice": len(list(model.named_modules(remove_duplicate=False))) > len(modules),
            "tied": len({id(w) for w in weights}) < len(weights),
            "frozen": any(not p.requires_grad for p in model.parameters()),
            "buffers": any(True for _ in model.buffers()),
            "hooks": any(m._forward_hooks or m._forward_pre_hooks for m in modules),
            "train and eval": len({m.training for m in modules}) == 2,
            "needs real values": any(step.kind == "real" for step in model.program),
            "token ids": option.dtype == "long",
            "lstm": any(isinstance(m, nn.LSTM) for m in modules),
        }
        for name, present in found.items():
            seen[name] = seen.get(name, 0) + int(present)
    assert all(n >= 3 for n in seen.values()), seen
