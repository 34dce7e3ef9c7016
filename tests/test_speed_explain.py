"""Explaining the repeats of a layer with less work per repeat changes no byte of the description.

`explain.layers.FIT_ONCE` checks a layer's rules against its recorded call (`fit_to_calls`) once
for the layers of one type that share their tuple of arguments and had calls of the same shapes
(the repeats of a block's layers); `explain.layers.ARGUMENTS_ONCE` works out the arguments' part
of a layer's key in `_Repeats` once per entry and tuple of arguments. Each model here is described
with both switches on and off, and the two ``modeldoc/1`` JSON texts, as the CLI writes them, must
be equal to the byte; the checks and the readings of arguments are counted, so that each test also
sees fewer of them made with the switches on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager

import pytest
import torch
from torch import nn

from modeldoc.explain import layers
from modeldoc.spec import ModelSpec
from tests.helpers import compare
from tests.helpers.compare import CONFIGS, LLAMA, bench_model, from_config, live
from tests.models import ChannelsFirstNorm, LastAxisNorm
from tests.test_speed_static import Stack

SWITCHES = [(layers, "FIT_ONCE"), (layers, "ARGUMENTS_ONCE")]
COUNTED = [(layers, "_check"), (layers._Repeats, "arguments_read")]
"""The work each switch does less of: a layer's check against its call, a reading of a layer's arguments."""


def counted() -> AbstractContextManager[Counter[str]]:
    """How often each of `COUNTED` ran while the block ran."""
    return compare.counted_calls(COUNTED)


def same(describe: Callable[[], ModelSpec], fewer: Collection[str] = ("_check", "arguments_read")) -> ModelSpec:
    """The description, equal to the byte with the switches on and off, with less of the work `fewer` names done with
    them on (a layer's arguments are read once per tuple, and LayerNorm's, a list, give each layer a tuple of its own).
    """
    with counted() as quick, compare.switched(SWITCHES, True):
        fast = compare.as_written(describe())
    with counted() as every, compare.switched(SWITCHES, False):
        slow = compare.as_written(describe())
    assert fast == slow
    for _, name in COUNTED:
        assert 0 < quick[name] < every[name] if name in fewer else 0 < quick[name] <= every[name]
    return ModelSpec.from_json(json.loads(fast))


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_described_the_same(name: str) -> None:
    spec = same(live(bench_model(name), "1,64"))
    assert spec.structures and spec.macs > 0


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert", "t5"])
def test_a_model_built_from_a_config_is_described_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    spec = same(from_config(target, "1,8", **kwargs))
    assert spec.layers and any(h.dim for layer in spec.layers for h in layer.hyperparameters)


def test_a_live_llama_with_a_frozen_block_and_a_stack_with_an_odd_block_are_described_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    model.model.layers[2].requires_grad_(False)
    spec = same(live(model, "1,8"))
    assert not spec.layer("model.layers.2.mlp.up_proj").parameters[0].trainable
    spec = same(live(Stack(), "2,5"))
    assert spec.layer("blocks.3.norm").hyperparameters != spec.layer("blocks.2.norm").hyperparameters


def test_a_gpt2_with_tied_weights_is_described_the_same() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_head=4, n_layer=3, vocab_size=100)).eval()
    spec = same(live(model, "1,8"))
    assert spec.layer("lm_head").parameters[0].tied_with == ("transformer.wte.weight",)


class NormBlock(nn.Module):
    """A convolution, a channels-first norm (whose base's rule does not hold) and a last-axis norm."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.channels = ChannelsFirstNorm(channels)
        self.last = LastAxisNorm(10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.channels(self.conv(x)))


class NormStack(nn.Module):
    """Four blocks of subclassed norms, the last on more channels (its calls have other shapes)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 1)
        self.blocks = nn.ModuleList([NormBlock(8) for _ in range(3)])
        self.widen = nn.Conv2d(8, 6, 1)
        self.wide = NormBlock(6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for block in self.blocks:
            x = block(x)
        return self.wide(self.widen(x))


def test_repeated_subclasses_whose_base_rules_do_not_hold_are_described_the_same() -> None:
    spec = same(live(NormStack(), "2,3,10,10", "float32"))
    for path in ("blocks.0.channels", "blocks.2.channels", "wide.channels"):
        shape = {h.name: h for h in spec.layer(path).hyperparameters}["normalized_shape"]
        assert "does not hold" in shape.reason
        assert any("its forward is its own" in note for note in spec.layer(path).notes)
    assert any("rules hold" in note for note in spec.layer("blocks.1.last").notes)


class PassThroughNorm(nn.LayerNorm):
    """A LayerNorm subclass whose own forward hands its input back: its size is not its input's."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0


class PassThroughs(nn.Module):
    """Norms of one type and calls of one shape, whose rule holds for one size and not for the other."""

    def __init__(self) -> None:
        super().__init__()
        self.norms = nn.ModuleList([PassThroughNorm(8), PassThroughNorm(5), PassThroughNorm(8), PassThroughNorm(5)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for norm in self.norms:
            x = norm(x)
        return x


def test_layers_of_one_type_and_shape_with_other_arguments_are_checked_apart() -> None:
    spec = same(live(PassThroughs(), "2,8", "float32"), fewer=("_check",))
    reasons = [{h.name: h for h in spec.layer(f"norms.{i}").hyperparameters}["normalized_shape"] for i in range(4)]
    assert [h.dim for h in reasons] == ["in0:-1", "", "in0:-1", ""]
    assert "does not hold" in reasons[1].reason and "does not hold" not in reasons[0].reason
