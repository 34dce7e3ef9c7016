"""Replayed blocks left unmade in the pass at other sizes (`modeldoc.probe.replay.UNMADE`): the same description.

The probe's pass with the named axes moved (`modeldoc.probe.symbolic`) is read only for its
shapes; with the switch on, a block that repeats its class's leader is not copied op by op there:
the leader's ops stand for its own (`replay.Unmade`). Each model is described with the switch off
and on (replaying on both times), and the ``modeldoc/1`` JSON texts, as ``modeldoc inspect
--json`` writes them, must be equal byte for byte. Each test also counts the blocks left unmade,
so that the comparison is never of two runs that did the same thing, and checks that the sizes
that follow the named axes were labelled (the pass at other sizes was read).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.probe import replay
from modeldoc.spec import ModelSpec
from tests import test_probe_replay as stacks
from tests.helpers.specs import describe_live, spec_of
from tests.test_speed_static import bench_model

transformers = pytest.importorskip("transformers")


@pytest.fixture
def unmade(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of replayed blocks left unmade in each pass that replayed (the real method, counted)."""
    counts: list[int] = []
    real = replay.Replayer._unmade

    def counted(self: replay.Replayer, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_counted_slot", None) is None:
            counts.append(0)
            self._counted_slot = len(counts) - 1  # type: ignore[attr-defined]
        counts[self._counted_slot] += 1  # type: ignore[attr-defined]
        return real(self, *args, **kwargs)

    monkeypatch.setattr(replay.Replayer, "_unmade", counted)
    yield counts


def json_text(spec: ModelSpec) -> str:
    """The description as ``modeldoc inspect --json`` writes it."""
    return json.dumps(spec.to_json(), indent=1, ensure_ascii=False)


def both(describe: Callable[[], ModelSpec], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The JSON text with the replayed blocks made in the pass at other sizes, then left unmade."""
    monkeypatch.setattr(replay, "ENABLED", True)
    texts = []
    for unmade in (False, True):
        monkeypatch.setattr(replay, "UNMADE", unmade)
        texts.append(json_text(describe()))
    return texts[0], texts[1]


def assert_same(made: str, unmade: str) -> None:
    if made != unmade:
        at = next(i for i, (a, b) in enumerate(zip(made, unmade, strict=False)) if a != b)
        around = slice(max(at - 300, 0), at + 300)
        raise AssertionError(f"the descriptions differ at {at}:\n{made[around]}\n---\n{unmade[around]}")


def labelled(text: str, axis: str) -> bool:
    """True when some tensor's dims in the JSON text name `axis` (the pass at other sizes was read)."""
    spec = json.loads(text)
    return any(axis in tensor["dims"] for tensor in spec["trace"]["tensors"])


@pytest.mark.parametrize(("name", "left"), [pytest.param("gpt2", 11), pytest.param("llama6", 5)])
def test_the_benchmark_models_on_meta_are_described_the_same(
    name: str, left: int, monkeypatch: pytest.MonkeyPatch, unmade: list[int]
) -> None:
    if name == "gpt2":
        model = bench_model("gpt2")
    else:
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(  # the benchmark's LLaMA, with 6 blocks instead of 80
            vocab_size=32_000,
            hidden_size=256,
            intermediate_size=688,
            num_hidden_layers=6,
            num_attention_heads=8,
            num_key_value_heads=4,
            max_position_embeddings=512,
        )
        with torch.device("meta"):
            model = LlamaForCausalLM(config).eval()
    made, left_unmade = both(lambda: describe_live(model, "1,L=64", input_dtype="long"), monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [left]  # every block but the leaders (and a first block that reads known values)
    assert labelled(left_unmade, "L")


@pytest.mark.parametrize(("target", "config", "replayed"), stacks.HF_CONFIGS)
def test_tiny_transformers_models_are_described_the_same(
    target: str, config: dict[str, Any], replayed: list[int], monkeypatch: pytest.MonkeyPatch, unmade: list[int]
) -> None:
    made, left_unmade = both(lambda: spec_of(target, "input_ids:1,L=8", input_dtype="long", kwargs=config), monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [count for count in replayed if count]  # each replayed block was left unmade
    assert labelled(left_unmade, "L")


def test_mixture_of_experts_blocks_on_meta_are_described_the_same(
    monkeypatch: pytest.MonkeyPatch, unmade: list[int]
) -> None:
    config = next(p for p in stacks.HF_CONFIGS if p.id == "mixtral").values[1]

    def describe() -> ModelSpec:
        # probe_memory 0: the pass stays on meta and assumes the router's top-k in every block
        return spec_of(
            "transformers:MixtralConfig", "input_ids:1,L=8", input_dtype="long", kwargs=config, probe_memory=0
        )

    made, left_unmade = both(describe, monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [3]
    assert [a["count"] for a in json.loads(left_unmade)["trace"]["assumptions"]] == [4]
    assert labelled(left_unmade, "L")


def shared_input_block() -> nn.Module:
    """Blocks whose steps read an input the block was given twice (the same tensor at two places)."""

    class Twice(stacks.Block):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            return super().forward(x) + x.mean(dim=0, keepdim=True)

    return stacks.Stack(Twice)


@pytest.mark.parametrize(
    ("make", "left"),
    [
        pytest.param(stacks.Stack, 5, id="plain-stack"),
        pytest.param(stacks.frozen_third, 4, id="one-frozen-block"),
        pytest.param(stacks.other_scale, 4, id="one-block-with-another-scale"),
        pytest.param(stacks.tied, 5, id="a-weight-tied-across-blocks"),
        pytest.param(lambda: stacks.Stack(stacks.EveryThird), 4, id="behaviour-every-third-block"),
        pytest.param(lambda: stacks.Stack(stacks.LastDiffers), 4, id="behaviour-in-the-last-block-only"),
        pytest.param(lambda: stacks.Stack(stacks.GrowsBlock), 4, id="other-sizes-inside-by-index"),
        pytest.param(stacks.MaskedStack, 5, id="buffer-tuple-output-shared-kwargs"),
        pytest.param(lambda: stacks.Stack(stacks.RepeatsBlock), 5, id="a-view-of-a-tensor-made-inside-an-op"),
        pytest.param(stacks.shared_block, 3, id="a-block-registered-twice"),
        pytest.param(stacks.hooked, 5, id="hooks-on-two-blocks"),
        pytest.param(shared_input_block, 5, id="an-input-read-twice"),
    ],
)
def test_hand_written_blocks_are_described_the_same(
    make: Callable[[], nn.Module], left: int, monkeypatch: pytest.MonkeyPatch, unmade: list[int]
) -> None:
    model = make()
    before = {name: (t, t.requires_grad) for name, t in model.state_dict(keep_vars=True).items()}
    made, left_unmade = both(lambda: describe_live(model, "N=2,8"), monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [left]
    assert labelled(left_unmade, "N")
    assert {name: (t, t.requires_grad) for name, t in model.state_dict(keep_vars=True).items()} == before


def test_a_replayed_block_left_unmade_keeps_its_own_names_and_shapes(
    monkeypatch: pytest.MonkeyPatch, unmade: list[int]
) -> None:
    monkeypatch.setattr(replay, "ENABLED", True)
    monkeypatch.setattr(replay, "UNMADE", True)
    spec = describe_live(stacks.Stack(stacks.LastDiffers), "N=2,8")
    assert unmade == [4]  # blocks 2 to 5 follow block 1; block 0 reads known values, block 6 takes another step
    assert spec.layer("blocks.4.fc").input_dims == (("N", 8),)
    assert [op.scope for op in spec.trace.ops if op.name == "softmax"] == ["blocks.6"]
