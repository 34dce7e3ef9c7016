"""The quicker way of finding structure groups changes no byte of the description.

`structures.QUICK_KEYS` writes each block's recorded call graph more compactly (each op's fixed
part as a number, the output of an op inside the block as a number, the ops indexed in one walk)
and compares the facts of a layer's instances as whole lists where every value is plain and equal
to itself. Each model here is described with the switch on and off, and the two ``modeldoc/1``
JSON texts, as the CLI writes them, must be equal to the byte; the quick functions are counted,
so that each test also sees the shortcut taken (and not taken with the switch off).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc import structures
from modeldoc.spec import ModelSpec
from tests.helpers import compare
from tests.helpers.compare import CONFIGS, LLAMA, bench_model, from_config, live
from tests.test_speed_static import Stack

SWITCHES = [(structures, "QUICK_KEYS")]
QUICK = [
    (structures._CallKeys, "_quick_key"),
    (structures._CallKeys, "_index_quickly"),
    (structures._CallKeys, "_places"),
    (structures, "_alike_whole"),
]
"""The functions only the quick way calls."""


def _apart(name: str, got: Any, counts: Counter[str]) -> None:
    if name == "_places" and got is not None and got[1] is not None:
        counts["ops apart"] += 1  # a block whose ops are not one run of the trace


def counted() -> AbstractContextManager[Counter[str]]:
    """How often each of the quick functions ran while the block ran."""
    return compare.counted_calls(QUICK, seen=_apart)


def same(describe: Callable[[], ModelSpec]) -> tuple[ModelSpec, Counter[str]]:
    """The description, equal to the byte with the switch on and off, and the quick functions' calls with it on."""
    with counted() as quick, compare.switched(SWITCHES, True):
        fast = compare.as_written(describe())
    with counted() as slow, compare.switched(SWITCHES, False):
        slower = compare.as_written(describe())
    assert fast == slower
    assert sum(slow.values()) == 0
    return ModelSpec.from_json(json.loads(fast)), quick


def taken(counts: Counter[str], blocks: int) -> None:
    """The quick way keyed each of `blocks` blocks, indexed the trace and compared some facts whole."""
    assert counts["_quick_key"] >= blocks > 0
    assert counts["_places"] >= blocks
    assert counts["_index_quickly"] >= 1
    assert counts["_alike_whole"] > 0


@pytest.mark.parametrize(
    ("name", "blocks"), [pytest.param("gpt2", 12), pytest.param("llama", 80, marks=pytest.mark.slow)]
)
def test_the_benchmark_models_are_described_the_same(name: str, blocks: int) -> None:
    spec, counts = same(live(bench_model(name), "1,64"))
    assert [len(group.instances) for group in spec.structures] == [blocks]
    taken(counts, blocks)


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert", "t5", "mixtral"])
def test_a_model_built_from_a_config_is_described_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    spec, counts = same(from_config(target, "1,8", **kwargs))
    assert spec.structures
    taken(counts, max(len(group.instances) for group in spec.structures))


def test_deepseek_keeps_its_dense_block_apart_from_its_expert_blocks() -> None:
    target, kwargs = CONFIGS["deepseek_v3"]
    spec, counts = same(from_config(target, "1,8", **kwargs))
    assert [group.instances for group in spec.structures] == [
        ("layers.1", "layers.2", "layers.3", "layers.4"),
        tuple(f"layers.{i}.self_attn" for i in range(5)),
    ]
    taken(counts, 4)


def test_a_live_llama_with_a_frozen_block_is_described_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    model.model.layers[2].requires_grad_(False)
    spec, counts = same(live(model, "1,8"))
    frozen = {(d.instance, d.aspect) for d in spec.structures[0].differences}
    assert ("model.layers.2", "trainable") in frozen
    taken(counts, 5)


def test_a_gpt2_with_tied_weights_is_described_the_same() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_head=4, n_layer=3, vocab_size=100)).eval()
    spec, counts = same(live(model, "1,8"))
    assert spec.layer("lm_head").parameters[0].tied_with == ("transformer.wte.weight",)
    taken(counts, 3)


def test_a_stack_with_one_block_unlike_the_others_is_described_the_same() -> None:
    spec, counts = same(live(Stack(), "2,5"))
    found = {(d.instance, d.aspect, d.name) for group in spec.structures for d in group.differences}
    assert ("blocks.3", "argument", "eps") in found and ("blocks.1", "trainable", "weight") in {
        (d.instance, d.aspect, d.name.rsplit(".", 1)[-1]) for group in spec.structures for d in group.differences
    }
    taken(counts, 6)


class Scaled(nn.Module):
    """A block whose output is scaled by a constructor argument (NaN here: a value unequal to itself)."""

    def __init__(self, width: int, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = scale
        self.fc = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.fc(x)) * self.scale


class NanStack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([Scaled(8, scale=math.nan) for _ in range(4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


def test_a_value_unequal_to_itself_is_compared_fact_by_fact() -> None:
    spec, counts = same(live(NanStack(), "2,8", "float32"))
    (group,) = spec.structures
    scales = [d for d in group.differences if d.name == "scale"]
    assert len(scales) == 4 and all(math.isnan(d.value) for d in scales)  # NaN != NaN: listed as before
    taken(counts, 4)  # the block's children, whose values are plain, still compared whole


class Borrowing(nn.Module):
    """A block that calls a layer of the model's outside it, between its own: its ops are not one run of the trace."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.inner = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, shared: nn.Module) -> torch.Tensor:
        return self.out(shared(self.inner(x)).relu())


class BorrowingStack(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(8, 8)
        self.blocks = nn.ModuleList([Borrowing(8) for _ in range(4)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, self.shared)
        return x


def test_blocks_whose_ops_are_not_one_run_are_described_the_same() -> None:
    spec, counts = same(live(BorrowingStack(), "2,8", "float32"))
    assert [group.instances for group in spec.structures] == [tuple(f"blocks.{i}" for i in range(4))]
    assert counts["ops apart"] >= 4
    taken(counts, 4)


def test_a_saved_description_that_lists_a_child_twice_is_grouped_the_same() -> None:
    # each block's ops then fill as many places as the run they span, one of them another layer's
    spec = live(BorrowingStack(), "2,8", "float32")()
    twice = spec.with_layers(
        tuple(
            replace(layer, children=(*layer.children, layer.children[0]))
            for layer in spec.layers
            if layer.parent == "blocks" and layer.children
        )
    )
    with counted() as quick, compare.switched(SWITCHES, True):
        fast = structures.find(twice)
    with compare.switched(SWITCHES, False):
        slow = structures.find(twice)
    assert fast == slow and fast
    assert quick["ops apart"] >= 4  # a path twice: the ops taken as `key` takes them, not as one run
