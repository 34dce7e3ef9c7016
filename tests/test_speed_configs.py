"""The shortcuts around the probe (config measurement, static reading, filling layers) change nothing said.

Each switch below turns one shortcut off: `collect.FAST_FILL` (each layer made with what the probe
saw of it, not made and then copied with it), `arguments.SHARE_RECORDS` (one record for every
argument read back with the same plain scalar value), `configs.FAST_READS` (the keys that set each
argument of a model measured cut found from each key's changes), `static.TENSORS_ONCE` (each
module's parameters and buffers listed once per reading, for the tensor names, the totals and its
layer), `configs.SHARED_WALK` (the config read from the walk the probe and the layers were read
from, not from a walk of its own), `loader.ONE_MODE` (a rebuild on the meta device that skips its
random fills run under one torch function mode, not two), `configs.GENERATION_MEMO` (a rebuild's
generation config made once per distinct reading of the config) and `configs.META_RESULTS` (the
rebuilds' plain arithmetic on meta tensors shared). Each model here is described with all of them on
and all off,
and the two ``modeldoc/1`` JSON texts, written as the CLI writes them, must be equal to the byte;
the model handed over must leave as it came.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.probe import arguments, collect, configs, loader, static
from modeldoc.spec import ModelSpec
from tests import hostile
from tests.helpers import compare
from tests.helpers.compare import CONFIGS, GEMMA2, LLAMA, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot
from tests.test_speed_static import Stack

transformers = pytest.importorskip("transformers")

SWITCHES = [
    (collect, "FAST_FILL"),
    (arguments, "SHARE_RECORDS"),
    (configs, "FAST_READS"),
    (static, "TENSORS_ONCE"),
    (configs, "SHARED_WALK"),
    (loader, "ONE_MODE"),
    (configs, "GENERATION_MEMO"),
    (configs, "META_RESULTS"),
]
CLEAR = [arguments._shared_chosen.cache_clear]


def shortcuts(on: bool) -> AbstractContextManager[None]:
    """This file's shortcuts on or off for the block (the kept names emptied first and after)."""
    return compare.switched(SWITCHES, on, clear=CLEAR)


def both_ways(describe: Callable[[], ModelSpec]) -> tuple[str, str]:
    """The JSON of `describe()` with this file's shortcuts on, then off."""
    return compare.both_ways(describe, SWITCHES, clear=CLEAR)


TINY = ["gpt2", "llama", "bert", "t5", "mixtral"]


@pytest.mark.parametrize("name", [*TINY, pytest.param("deepseek_v3", marks=pytest.mark.slow)])
def test_a_model_built_from_a_config_is_described_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    fast, slow = both_ways(from_config(target, "1,8", **kwargs))
    assert fast == slow
    spec = ModelSpec.from_json(json.loads(fast))
    assert spec.config is not None and spec.config.measured and spec.config.reads
    assert any(layer.calls for layer in spec.layers)  # the probe ran: its shapes were filled in


def test_a_gemma2_built_from_a_config_is_described_the_same() -> None:
    fast, slow = both_ways(from_config("transformers:Gemma2ForCausalLM", "1,8", **GEMMA2))
    assert fast == slow
    spec = ModelSpec.from_json(json.loads(fast))
    assert spec.config is not None and "model.layers.3.self_attn.q_proj.out_features" in spec.config.reads


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_described_the_same(name: str) -> None:
    model = bench_model(name)
    snapshot = Snapshot.take(model)
    fast, slow = both_ways(live(model, "1,64"))
    assert fast == slow
    assert snapshot.problems(model) == []
    spec = ModelSpec.from_json(json.loads(fast))
    assert spec.config is not None and spec.config.reads and spec.inputs


def test_a_llama_with_one_frozen_block_and_one_other_argument_is_described_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    model.model.layers[2].requires_grad_(False)  # a frozen block among the repeated ones
    model.model.layers[3].input_layernorm.variance_epsilon = -0.0  # one block with another argument
    snapshot = Snapshot.take(model)
    fast, slow = both_ways(live(model, "1,8"))
    assert fast == slow
    assert snapshot.problems(model) == []
    spec = ModelSpec.from_json(json.loads(fast))
    eps = {layer.path: h.value for layer in spec.layers for h in layer.hyperparameters if h.name == "eps"}
    assert str(eps["model.layers.3.input_layernorm"]) == "-0.0" and eps["model.layers.2.input_layernorm"] == 1e-6
    assert spec.frozen_params > 0
    assert spec.config is not None and "model.layers.4.self_attn.q_proj.out_features" in spec.config.reads


def test_a_hand_written_model_with_ties_and_one_block_unlike_the_others_is_described_the_same() -> None:
    model = Stack()
    snapshot = Snapshot.take(model)
    fast, slow = both_ways(live(model, "2,5"))
    assert fast == slow
    assert snapshot.problems(model) == []
    spec = ModelSpec.from_json(json.loads(fast))
    eps = {layer.path: h.value for layer in spec.layers for h in layer.hyperparameters if h.name == "eps"}
    assert eps["blocks.3.norm"] == 1e-3 and eps["blocks.2.norm"] == 1e-5
    assert spec.layer("head").parameters[0].tied_with == ("embed.weight",)


class Flags(nn.Module):
    """Arguments that compare equal across types: a flag, a count, a size and a scale."""

    def __init__(self, on: Any, count: Any, scale: Any) -> None:
        super().__init__()
        self.on, self.count, self.scale = on, count, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def test_arguments_that_compare_equal_but_read_differently_keep_their_own_values() -> None:
    model = nn.Sequential(Flags(True, 1, 0.0), Flags(1, True, -0.0), Flags(1.0, 1, 0.0), Flags(True, 1, 0.0))
    fast, slow = both_ways(live(model, "2,3", "float32"))
    assert fast == slow
    spec = ModelSpec.from_json(json.loads(fast))
    read = {layer.path: [repr(h.value) for h in layer.hyperparameters] for layer in spec.layers}
    assert read == {
        "0": ["True", "1", "0.0"],
        "1": ["1", "True", "-0.0"],
        "2": ["1.0", "1", "0.0"],
        "3": ["True", "1", "0.0"],
    }


class Lazy(nn.Module):
    """A lazy layer between two plain ones: the probe gives its parameters their shapes."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(3, 4)
        self.lazy = nn.LazyLinear(5)
        self.last = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.lazy(self.first(x)))


@pytest.mark.parametrize(
    "make",
    [Lazy, hostile.PropertyRaises, hostile.GetattrRaises, hostile.SharedTwice, hostile.DocRaises],
    ids=lambda make: make.__name__,
)
def test_a_lazy_model_or_one_whose_own_code_raises_is_described_the_same(make: Callable[[], nn.Module]) -> None:
    model = make()
    fast, slow = both_ways(live(model, "2,3", "float32") if make is Lazy else live(model))
    assert fast == slow
    if make is Lazy:
        assert ModelSpec.from_json(json.loads(fast)).layer("lazy").parameters[0].shape == (5, 4)


@pytest.mark.parametrize("root_list", [False, True], ids=["named_lists", "root_list"])
def test_the_keys_each_argument_takes_from_a_cut_measurement_are_found_the_same_both_ways(root_list: bool) -> None:
    from modeldoc.probe.repeats import Cut

    lists = {"": 6} if root_list else {"enc.layers": 6, "enc.layers_norm": 5, "dec": 6}
    kept = 2
    cut = Cut(keys={"n": kept}, lists=dict.fromkeys(lists, kept))
    live: dict[str, tuple[str, Any]] = {"top.width": ("Top", 8)}
    for container, count in lists.items():
        for index in range(count):
            block = f"{container}.{index}" if container else str(index)
            if index >= kept:
                cut.stand_in[block] = f"{container}.{index % kept}" if container else str(index % kept)
            for rest in (".fc.in_features", ".fc.weight[0]", ".norm.eps"):
                if not (index == 4 and rest == ".norm.eps"):  # one block without one of the arguments
                    live[f"{block}{rest}"] = ("Layer", index)
    blocks = [f"{c}.{i}" if c else str(i) for c in lists for i in range(kept)]
    changed = {
        "width": {"top.width", *(f"{b}.fc.in_features" for b in blocks)},
        "eps": {f"{b}.norm.eps" for b in blocks},
        "odd": {f"{blocks[-1]}.fc.weight[0]", "top.width"},
        "none": set(),
    }
    measured = ["eps", "none", "odd", "width"]
    got = {}
    for on in (True, False):
        with shortcuts(on):
            got[on] = configs._carried_over(cut, live, measured, changed)
    assert got[True] == got[False]
    assert list(got[True]) == list(got[False])  # the same order: JSON keeps it
    past = "5" if root_list else "dec.5"
    assert got[True][f"{past}.norm.eps"] == ("eps",) and got[True]["top.width"] == ("odd", "width")


def built_on_meta(make: Callable[[], nn.Module], one_mode: bool) -> nn.Module:
    before = loader.ONE_MODE
    loader.ONE_MODE = one_mode
    try:
        return loader.build_on_meta(lambda _: make(), None, skip_fills=True)
    finally:
        loader.ONE_MODE = before


def tensors(model: nn.Module) -> list[tuple[str, Any, Any, Any, bool, int]]:
    ids = {id(t): i for i, t in enumerate(model.state_dict(keep_vars=True).values())}
    return [
        (n, tuple(t.shape), t.dtype, t.device, t.requires_grad, ids[id(t)])
        for n, t in model.state_dict(keep_vars=True).items()
    ]


def test_one_mode_builds_the_same_meta_model_with_its_ties_and_leaves_no_mode_behind() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    for make in (
        lambda: GPT2LMHeadModel(GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=100)),
        lambda: LlamaForCausalLM(LlamaConfig(**LLAMA)),
        lambda: nn.TransformerEncoderLayer(16, 4, dim_feedforward=32),
    ):
        fast, slow = built_on_meta(make, True), built_on_meta(make, False)
        assert tensors(fast) == tensors(slow)
        assert {t.device.type for t in fast.state_dict().values()} == {"meta"}
    assert torch.get_default_device().type == "cpu" and torch.empty(1).device.type == "cpu"


def test_one_mode_puts_new_tensors_on_meta_and_still_raises_what_a_fill_refuses() -> None:
    def make() -> nn.Module:
        assert torch.get_default_device().type == "meta"
        weight = torch.empty(4, 3)
        assert nn.init.normal_(weight, std=0.5) is weight  # skipped, and returns what the fill returns
        with pytest.raises(RuntimeError, match="std"):
            nn.init.normal_(weight, std=-1.0)
        with pytest.raises(ValueError, match="Mode"):
            nn.init.kaiming_uniform_(weight, mode="sideways")  # type: ignore[arg-type]
        return nn.Linear(3, 4)

    built = built_on_meta(make, True)
    assert built.weight.device.type == "meta"

    def refuse() -> nn.Module:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        built_on_meta(refuse, True)
    assert torch.empty(1).device.type == "cpu"  # the mode left after an error too
