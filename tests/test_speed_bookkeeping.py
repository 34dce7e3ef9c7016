"""The shortcuts in the per-module bookkeeping of a description change nothing it says.

Three switches turn them off: `run.QUICK_RESTORE` (the snapshot put back after each pass checks
the containers that were empty with one truth test each and the others in one sweep),
`guard.QUICK_TENSORS` (a module's own tensors read from torch's plain dict stores without a copy,
their cleaned names kept) and `costs.QUICK_SUMMARY` (each layer's costs added to its parent's
once, deepest first). Each model here is described with all of them on and all off,
and the two ``modeldoc/1`` JSON texts, written as the CLI writes them, must be equal to the byte;
the model handed over must leave as it came.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
import torch
from torch import nn

from modeldoc import costs, knowledge
from modeldoc.probe import guard, run, static
from modeldoc.spec import ModelSpec
from tests import hostile
from tests.helpers import compare
from tests.helpers.compare import CONFIGS, LLAMA, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot
from tests.test_speed_static import Stack

SWITCHES = [(run, "QUICK_RESTORE"), (guard, "QUICK_TENSORS"), (costs, "QUICK_SUMMARY")]
CLEAR = [guard._LOCAL_NAMES.clear]


def shortcuts(on: bool) -> AbstractContextManager[None]:
    """This file's shortcuts on or off for the block (the kept names emptied first and after)."""
    return compare.switched(SWITCHES, on, clear=CLEAR)


def both_ways(describe: Callable[[], ModelSpec]) -> tuple[str, str]:
    """The JSON of `describe()` with this file's shortcuts on, then off."""
    return compare.both_ways(describe, SWITCHES, clear=CLEAR)


def same_and_untouched(model: nn.Module, shape: str | None, dtype: str = "long") -> ModelSpec:
    """The description of `model`, the same both ways, the model left as it came."""
    snapshot = Snapshot.take(model)
    fast, slow = both_ways(live(model, shape, dtype))
    assert fast == slow
    assert snapshot.problems(model) == []
    return ModelSpec.from_json(json.loads(fast))


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_described_the_same(name: str) -> None:
    spec = same_and_untouched(bench_model(name), "1,64")
    assert spec.trace is not None and spec.trace.complete and spec.macs > 0
    assert spec.config is not None and spec.config.reads  # the measured config section is compared too


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert", "t5", "mixtral"])
def test_a_model_built_from_a_config_is_described_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    fast, slow = both_ways(from_config(target, "1,8", **kwargs))
    assert fast == slow
    spec = ModelSpec.from_json(json.loads(fast))
    assert spec.config is not None and spec.config.measured and spec.layers


def test_a_live_llama_with_a_frozen_block_is_described_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    model.model.layers[2].requires_grad_(False)
    spec = same_and_untouched(model, "1,8")
    assert spec.frozen_params == sum(p.numel() for p in model.model.layers[2].parameters())
    assert spec.layer("model.layers.2").macs == spec.layer("model.layers.3").macs > 0


def test_a_gpt2_with_tied_weights_is_described_the_same() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_head=4, n_layer=3, vocab_size=100)).eval()
    spec = same_and_untouched(model, "1,8")
    assert spec.layer("lm_head").parameters[0].tied_with == ("transformer.wte.weight",)
    assert not spec.layer("lm_head").parameters[0].counted


def test_a_hand_written_stack_with_one_block_unlike_the_others_is_described_the_same() -> None:
    spec = same_and_untouched(Stack(), "2,5")
    eps = {layer.path: h.value for layer in spec.layers for h in layer.hyperparameters if h.name == "eps"}
    assert eps["blocks.3.norm"] == 1e-3 and eps["blocks.2.norm"] == 1e-5
    assert spec.layer("shared").aliases == ("again",)
    # the costs of a layer sum those of everything below it
    assert spec.layer("blocks").macs == sum(spec.layer(f"blocks.{i}").macs for i in range(6)) > 0


class OddSlots(nn.Module):
    """Slot names with dots and without text, a None slot, a tensor under two names, a buffer not saved."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.fc._parameters["a.b"] = nn.Parameter(torch.ones(2))
        self.fc._parameters["gone"] = None
        self.fc._parameters["again"] = self.fc.weight
        self.register_buffer("steps", torch.zeros(4), persistent=False)
        self.inner = nn.Sequential(nn.ReLU(), nn.Linear(4, 4))
        self.inner._modules["x.y"] = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(self.fc(x) + self.steps)


@pytest.mark.parametrize(
    "make",
    [
        OddSlots,
        hostile.StrangeNames,
        hostile.EmptyKey,
        hostile.SharedTwice,
        hostile.ContainsItself,
        hostile.PropertyRaises,
        hostile.Caches,
        hostile.InstallsHooks,
        lambda: nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, batch_first=True),
    ],
    ids=lambda make: getattr(make, "__name__", "model"),
)
def test_an_odd_model_is_described_the_same_and_left_as_it_came(make: Callable[[], nn.Module]) -> None:
    shape = "2,3,8" if make.__name__ == "<lambda>" else "2,4"
    spec = same_and_untouched(make(), shape, "float32")
    assert spec.layers


def test_a_lazy_model_traced_through_its_copy_is_described_the_same_and_stays_lazy() -> None:
    model = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    weights = [model[0].weight, model[2].weight]
    fast, slow = both_ways(live(model, "2,3", "float32"))
    assert fast == slow
    assert [model[0].weight, model[2].weight] == weights and model[0].has_uninitialized_params()
    assert ModelSpec.from_json(json.loads(fast)).layer("0").parameters[0].shape == (4, 3)


def test_a_model_on_the_cpu_run_with_real_values_is_described_the_same() -> None:
    model = hostile.NeedsValues()
    spec = same_and_untouched(model, "2,4", "float32")
    assert spec.trace is not None and spec.trace.device == "cpu"


# --------------------------------------------------------------------------- the parts on their own


def odd_stores() -> list[nn.Module]:
    """Modules whose stores hold odd names and values, and stores that are not plain dicts."""
    plain = nn.Linear(3, 2)
    plain._parameters["with.dot"] = nn.Parameter(torch.ones(1))
    plain._parameters["nul\x00name"] = nn.Parameter(torch.ones(1))
    plain._parameters["lone\ud800"] = nn.Parameter(torch.ones(1))
    plain._parameters[7] = nn.Parameter(torch.ones(1))  # type: ignore[index]
    plain._parameters["none"] = None
    plain._buffers["not_a_tensor"] = 3  # type: ignore[assignment]
    ordered = nn.Linear(2, 2)
    ordered.__dict__["_parameters"] = OrderedDict(ordered._parameters)
    bare = nn.Module()
    bare.__dict__.pop("_buffers")
    return [plain, ordered, bare, nn.ReLU()]


@pytest.mark.parametrize("store", ["_parameters", "_buffers"])
def test_a_modules_own_tensors_are_listed_the_same(store: str) -> None:
    modules = odd_stores() * 2  # twice: the second time with the names kept
    got = {}
    for on in (True, False):
        with shortcuts(on):
            got[on] = [[(name, id(t)) for name, t in guard.own_tensors(m, store)] for m in modules]
    assert got[True] == got[False]
    if store == "_parameters":
        assert [name for name, _ in got[True][0]] == [
            "weight",
            "bias",
            "with\u2024dot",
            "nul\\x00name",
            "lone\\ud800",
            "7",
        ]


def test_the_costs_of_a_trace_are_summed_the_same() -> None:
    for make, shape, dtype in [
        (Stack, "2,5", "long"),
        (hostile.EmptyKey, "2,4", "float32"),
        (OddSlots, "2,4", "float32"),
    ]:
        spec = live(make(), shape, dtype)()
        assert spec.trace is not None
        got = {}
        for on in (True, False):
            with shortcuts(on):
                got[on] = costs.summarize(spec.trace)
        assert got[True] == got[False]
        assert got[True][""].macs == spec.macs > 0


def test_a_static_reading_is_the_same() -> None:
    for make in (Stack, OddSlots, hostile.SharedTwice, hostile.ContainsItself, hostile.EmptyKey):
        model = make()
        got = {}
        for on in (True, False):
            with shortcuts(on), knowledge.using(knowledge.load(())):
                got[on] = static.read_model(model, guard.walk(model))
        assert got[True] == got[False]
        assert got[True].totals["total_params"] == sum({id(p): p.numel() for p in model.parameters()}.values())
