"""modeldoc.probe.run: one pass over the user's model, which leaves exactly as it came."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.options import model_options
from modeldoc.probe import guard, inputs, loader, run, trace
from modeldoc.probe.deadline import Budget
from tests import models
from tests.helpers.specs import spec_of


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


class Counts(nn.Module):
    """Updates a buffer in place and caches an attribute on every call."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.add_(1)
        self.last = x.shape  # a cache the pass leaves behind unless it is undone
        return self.fc(x)


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_pass_runs_on_stand_ins_so_in_place_updates_do_not_reach_the_model(device: str) -> None:
    model = Counts()
    buffer, weight = model.calls, model.fc.weight
    result = trace.probe(model, model_options({"target": "x:Counts", "input_shape": "2,4", "probe_device": device}))
    assert result.trace is not None and (result.trace.device, result.trace.complete) == (device, True)
    assert model.calls is buffer and model.fc.weight is weight
    assert torch.equal(model.calls, torch.zeros(1))
    assert "last" not in vars(model)
    model(torch.ones(2, 4))  # the model itself still updates as it should
    assert torch.equal(model.calls, torch.ones(1))


def test_the_real_pass_is_not_run_for_inputs_over_the_cap() -> None:
    model = models.Tiny()
    options = model_options({"target": "x:Y", "input_shape": "N=1,4"})
    runner = run.Runner(model, guard.walk(model), device="cpu", lazy=False, budget=Budget(0))
    built = runner.build(inputs.example_for(options), {"N": run.CPU_INPUT_BYTES // 16 + 1})
    assert built.failure is not None and not built.failure.ran
    assert built.sentence().startswith("the forward pass was not run: the example inputs need 2.0 GiB on cpu, more")
