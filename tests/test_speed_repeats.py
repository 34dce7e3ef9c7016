"""The quicker ways of `modeldoc.probe.repeats` find the same cut and change nothing a description says.

`repeats.QUICK` turns them off: each block's kind found with fewer steps for each argument,
the lists of blocks found without asking a module with fewer children than a list needs, and the
layers past the cut told by a test of their own. Each model here is described with it on and
off, and the two ``modeldoc/1`` JSON texts, written as the CLI writes them, must be equal to the
byte; the cut itself (`repeats.plan`) and the check of the cut model (`repeats.matches`) must be
the same both ways.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from torch import nn

from modeldoc import knowledge
from modeldoc.probe import configs, guard, repeats
from modeldoc.spec import ModelSpec
from tests.helpers.compare import CONFIGS, GEMMA2, LLAMA, as_written, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot


@contextmanager
def quick(on: bool) -> Iterator[None]:
    """`repeats.QUICK` on or off for the block."""
    before = repeats.QUICK
    repeats.QUICK = on
    try:
        yield
    finally:
        repeats.QUICK = before


def described_both_ways(describe: Any) -> str:
    with quick(True):
        fast = as_written(describe())
    with quick(False):
        slow = as_written(describe())
    assert fast == slow
    return fast


def cut_both_ways(model: nn.Module) -> repeats.Cut | None:
    """`repeats.plan` of a transformers model, the same both ways."""
    tree = guard.walk(model)
    with knowledge.using(knowledge.load(())):
        arguments = configs._arguments(model, tree)
    values = model.config.to_dict()
    with quick(True):
        fast = repeats.plan(model, arguments, values, tree)
    with quick(False):
        slow = repeats.plan(model, arguments, values, tree)
    assert fast == slow
    return fast


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=[pytest.mark.slow] if name == "deepseek_v3" else []) for name in CONFIGS]
)
def test_a_model_built_from_a_config_is_described_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    spec = ModelSpec.from_json(json.loads(described_both_ways(from_config(target, "1,8", **kwargs))))
    assert spec.config is not None and spec.config.measured and spec.config.reads


def test_a_gemma2_with_two_kinds_of_blocks_is_described_the_same() -> None:
    described_both_ways(from_config("transformers:Gemma2ForCausalLM", "1,8", **GEMMA2))


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_cut_and_described_the_same(name: str) -> None:
    model = bench_model(name)
    cut = cut_both_ways(model)
    assert cut is not None and cut.stand_in  # the blocks are cut: the quick ways are the ones used
    snapshot = Snapshot.take(model)
    described_both_ways(live(model, "1,64"))
    assert snapshot.problems(model) == []


def llama(**changes: Any) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    return LlamaForCausalLM(LlamaConfig(**{**LLAMA, **changes})).eval()


def test_a_llama_with_a_frozen_block_is_cut_and_described_the_same() -> None:
    model = llama(num_hidden_layers=6)
    model.model.layers[4].requires_grad_(False)
    cut = cut_both_ways(model)
    assert cut is not None and cut.keys == {"num_hidden_layers": 2}
    tree = guard.walk(model)
    with knowledge.using(knowledge.load(())):
        arguments = configs._arguments(model, tree)
        built = llama(num_hidden_layers=2)
        measured = configs._arguments(built)
    for on in (True, False):
        with quick(on):  # the model built from the cut config is the model's first two blocks
            assert repeats.matches(cut, model, arguments, built, measured, trees=(tree, guard.walk(built)))
    paths = [*tree.paths, *arguments, "model.layers.5x.a", "model.layers", "model.layersx.5.a", "", "5.a"]
    with quick(True):
        past = cut.past_test()
    assert [past(path) for path in paths] == [cut.past(path) for path in paths]
    assert past("model.layers.5.mlp") and not past("model.layers.1.mlp")
    spec = ModelSpec.from_json(json.loads(described_both_ways(live(model, "1,8"))))
    assert spec.config is not None and "model.layers.5.self_attn.q_proj.out_features" in spec.config.reads


def test_a_llama_with_one_block_unlike_the_others_is_measured_whole_the_same() -> None:
    model = llama(num_hidden_layers=6)
    model.model.layers[3].self_attn.head_dim = 8  # read back as an argument: block 3 is of a kind of its own
    cut = cut_both_ways(model)
    assert cut is not None and cut.lists == {"model.layers": 4}  # two of the common kind, and block 3
    tree = guard.walk(model)
    with knowledge.using(knowledge.load(())):
        arguments = configs._arguments(model, tree)
        built = llama(num_hidden_layers=4)
        measured = configs._arguments(built)
    for on in (True, False):
        with quick(on):
            # the model built from the cut config has an ordinary block 3: it is not the model's first blocks
            assert not repeats.matches(cut, model, arguments, built, measured, trees=(tree, guard.walk(built)))
    spec = ModelSpec.from_json(json.loads(described_both_ways(live(model, "1,8"))))
    assert spec.config is not None and spec.config.reads


def test_the_blocks_are_sorted_the_same_whatever_their_arguments_are_named() -> None:
    live_arguments = {
        "blocks.0.width": ("Block", 4),
        "blocks.0.index": ("Block", 0),
        "blocks.1.width": ("Block", 4),
        "blocks.1.index": ("Block", 1),
        "blocks.07.width": ("Block", 9),  # names isdigit takes that are no block's own: past the count,
        "blocks.2.width": ("Block", 5),
        "blocks.2.index": ("Block", 2),
        "blocks.3.width": ("Block", 4),
        "blocks.3.index": ("Block", 3),
        "blocks.03.width": ("Block", 7),  # and block 3's (written after its own width)
        "blocks.9.width": ("Block", 4),  # past the count
        "blocks.size": ("List", 4),
        "blocksize.0.width": ("Other", 1),
        "head.0.width": ("Other", 1),
    }
    got = {}
    for on in (True, False):
        with quick(on):
            got[on] = repeats._kinds("blocks", 4, live_arguments, [frozenset()] * 4)
    assert got[True] == got[False]
    kinds, differ = got[True]
    assert differ == {"index"} and kinds == [0, 0, 1, 2]


def test_the_lists_of_blocks_are_found_the_same() -> None:
    class Holder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.few = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
            self.many = nn.ModuleList([nn.Linear(2, 2) for _ in range(5)])
            self.named = nn.ModuleDict({str(i): nn.ReLU() for i in (0, 1, 3, 2)})
            self.with_none = nn.Sequential(*(nn.ReLU() for _ in range(4)))
            self.with_none._modules["4"] = None
            shared = nn.ReLU()
            self.repeated = nn.Sequential(shared, shared, shared, shared, nn.Tanh())

    tree = guard.walk(Holder())
    got = {}
    for on in (True, False):
        with quick(on):
            got[on] = repeats._block_lists(tree)
    assert got[True] == got[False] == {"many": 5, "with_none": 4}
