"""Repeated blocks replayed from the record (`modeldoc.probe.replay`): the same description, fewer runs.

Each model is described twice, with replaying off and on, and the two JSON descriptions must be
equal byte for byte; where blocks repeat, the test also checks that replaying happened (else the
comparison would prove nothing). Models whose blocks differ in ways the structure cannot see (a
behaviour that follows the layer index) must come out right too.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.probe import replay
from tests.helpers.specs import describe_live, spec_of

transformers = pytest.importorskip("transformers")


@pytest.fixture
def replays(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of blocks replayed in each pass (the real Replayer, counted after each pass)."""
    counts: list[int] = []
    real = replay.Replayer

    class Counted(real):  # type: ignore[misc, valid-type]
        def install(self, recorder: Any) -> None:
            counts.append(0)
            self.slot = len(counts) - 1
            super().install(recorder)

        def _replay(self, *args: Any, **kwargs: Any) -> Any:
            counts[self.slot] += 1
            return super()._replay(*args, **kwargs)

    monkeypatch.setattr(replay, "Replayer", Counted)
    yield counts


def both(describe: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The JSON description with replaying off, then on."""
    texts = []
    for enabled in (False, True):
        monkeypatch.setattr(replay, "ENABLED", enabled)
        texts.append(json.dumps(describe().to_json(), sort_keys=True))
    return texts[0], texts[1]


def assert_same(plain: str, replayed: str) -> None:
    if plain != replayed:
        at = next(i for i, (a, b) in enumerate(zip(plain, replayed, strict=False)) if a != b)
        raise AssertionError(
            f"the descriptions differ at {at}:\n{plain[at - 200 : at + 200]}\n---\n{replayed[at - 200 : at + 200]}"
        )


HF_CONFIGS = [
    pytest.param(
        "transformers:LlamaConfig",
        {
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_hidden_layers": 6,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 64,
        },
        [0, 5],
        id="llama",
    ),
    pytest.param(
        "transformers:GPT2Config",
        {"n_embd": 32, "n_layer": 6, "n_head": 4, "vocab_size": 64, "n_positions": 64},
        [0, 5],
        id="gpt2",
    ),
    pytest.param(
        "transformers:BertConfig",
        {
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_hidden_layers": 5,
            "num_attention_heads": 4,
            "vocab_size": 64,
            "max_position_embeddings": 64,
        },
        [0, 4],
        id="bert",
    ),
    pytest.param(
        "transformers:T5Config",
        {
            "d_model": 32,
            "d_ff": 48,
            "d_kv": 8,
            "num_layers": 4,
            "num_decoder_layers": 4,
            "num_heads": 4,
            "vocab_size": 64,
        },
        [0, 0, 3],  # the first pass stops for want of decoder inputs; the next has made-up ones
        id="t5",
    ),
    pytest.param(
        "transformers:Gemma2Config",
        {
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_hidden_layers": 6,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "head_dim": 8,
            "vocab_size": 64,
        },
        [0, 2],  # the full-attention blocks; a sliding one reads a tensor made outside it
        id="gemma2-sliding-and-full-layers",
    ),
    pytest.param(
        "transformers:MixtralConfig",
        {
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "num_local_experts": 4,
            "num_experts_per_tok": 2,
            "vocab_size": 64,
        },
        [0],  # the meta pass assumed the router's top-k, so the CPU pass with weights describes: no replay there
        id="mixtral",
    ),
]


@pytest.mark.parametrize(("target", "config", "replayed"), HF_CONFIGS)
def test_a_transformers_model_is_described_the_same_with_and_without_replaying(
    target: str, config: dict[str, Any], replayed: list[int], monkeypatch: pytest.MonkeyPatch, replays: list[int]
) -> None:
    plain, replaying = both(lambda: spec_of(target, "input_ids:1,L=8", input_dtype="long", kwargs=config), monkeypatch)
    assert_same(plain, replaying)
    assert replays == replayed  # blocks replayed per pass: where blocks were, the comparison is not of two plain runs


def test_mixture_of_experts_blocks_on_meta_are_replayed_with_the_values_they_assumed(
    monkeypatch: pytest.MonkeyPatch, replays: list[int]
) -> None:
    config = next(p for p in HF_CONFIGS if p.id == "mixtral").values[1]

    def describe() -> Any:
        # probe_memory 0: no copy with real weights, so the pass stays on meta and assumes the router's top-k
        return spec_of(
            "transformers:MixtralConfig", "input_ids:1,L=8", input_dtype="long", kwargs=config, probe_memory=0
        )

    plain, replaying = both(describe, monkeypatch)
    assert_same(plain, replaying)
    assert replays == [0, 3]  # 4 blocks, each of which assumed the top-k: the first runs, 3 are replayed
    spec = json.loads(replaying)
    assert [a["count"] for a in spec["trace"]["assumptions"]] == [4]  # asked once in each of the 4 blocks


def test_llama_replays_every_block_but_the_first_in_the_pass_at_other_sizes(
    monkeypatch: pytest.MonkeyPatch, replays: list[int]
) -> None:
    config = HF_CONFIGS[0].values[1]
    monkeypatch.setattr(replay, "ENABLED", True)
    spec = spec_of("transformers:LlamaConfig", "input_ids:1,L=8", input_dtype="long", kwargs=config)
    assert spec.trace is not None and spec.trace.complete
    # the base pass runs the 6 blocks and finds they took one another's steps; the pass at other sizes
    # runs the first and replays the other 5
    assert replays == [0, 5]
    assert [op.name for op in spec.trace.module_calls].count("layers.3.self_attn.q_proj") == 1
    assert spec.layer("layers.5.mlp.down_proj").input_dims == (("N", "L", 48),)


class Block(nn.Module):
    def __init__(self, width: int, index: int, scale: float = 1.0) -> None:
        super().__init__()
        self.index = index
        self.scale = scale
        self.norm = nn.LayerNorm(width)
        self.fc = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.scale * torch.relu(self.fc(self.norm(x)))


class Stack(nn.Module):
    def __init__(self, block: type[nn.Module] = Block, count: int = 7, width: int = 8, **kwargs: Any) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(block(width, i, **kwargs) for i in range(count))
        self.head = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class EveryThird(Block):
    """Follows its index: every third block also doubles its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return x * 2 if self.index % 3 == 2 else x


class LastDiffers(Block):
    """Follows its index: only the last of seven blocks adds a softmax."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return torch.softmax(x, dim=-1) if self.index == 6 else x


class GrowsBlock(Block):
    """Widens its output by one column per block before cutting it back (other sizes inside)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wide = torch.cat([x, x[..., : self.index % 2 + 1]], dim=-1)
        return super().forward(wide[..., : x.shape[-1]])


class RepeatsBlock(Block):
    """``repeat_interleave`` returns a view of a tensor it makes inside, which no recorded op returns."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        doubled = torch.repeat_interleave(x.unsqueeze(1), 2, dim=1)
        return super().forward(doubled.sum(dim=1))


class MaskedBlock(Block):
    """Reads a non-persistent buffer, takes a keyword dict and returns a tuple with a None and a dict."""

    def __init__(self, width: int, index: int) -> None:
        super().__init__(width, index)
        self.register_buffer("mask", torch.ones(width), persistent=False)

    def forward(self, x: torch.Tensor, *, extra: dict[str, torch.Tensor] | None = None) -> Any:
        y = super().forward(x) * self.mask + (extra or {})["shift"]
        return y, None, {"half": y[..., : y.shape[-1] // 2]}


class MaskedStack(Stack):
    def __init__(self) -> None:
        super().__init__(MaskedBlock)
        self.shift = nn.Parameter(torch.zeros(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shared = {"shift": self.shift}
        for block in self.blocks:
            x, _, parts = block(x, extra=shared)
            x = x + parts["half"].sum()
        return self.head(x)


def shared_block() -> nn.Module:
    model = Stack()
    model.blocks[4] = model.blocks[2]  # one module registered twice: called twice, never replayed
    return model


def hooked() -> nn.Module:
    model = Stack()
    model.blocks[3].register_forward_pre_hook(lambda module, args: (args[0] * 3,))
    model.blocks[5].register_forward_hook(lambda module, args, out: torch.tanh(out))
    return model


def lazy() -> nn.Module:
    model = Stack()
    for block in model.blocks:
        block.fc = nn.LazyLinear(8)
    return model


def frozen_third() -> nn.Module:
    model = Stack()
    for p in model.blocks[3].parameters():
        p.requires_grad_(False)
    return model


def other_scale() -> nn.Module:
    model = Stack()
    model.blocks[4].scale = 0.5
    return model


def tied() -> nn.Module:
    model = Stack()
    model.blocks[5].fc.weight = model.blocks[1].fc.weight
    return model


@pytest.mark.parametrize(
    ("make", "replayed"),
    [
        # the first block reads the example input, whose values are known: it runs on its own
        pytest.param(Stack, [0, 5], id="plain-stack"),
        pytest.param(frozen_third, [0, 4], id="one-frozen-block"),
        pytest.param(other_scale, [0, 4], id="one-block-with-another-scale"),
        pytest.param(tied, [0, 5], id="a-weight-tied-across-blocks"),
        pytest.param(lambda: Stack(EveryThird), [0, 4], id="behaviour-every-third-block"),
        pytest.param(lambda: Stack(LastDiffers), [0, 4], id="behaviour-in-the-last-block-only"),
        pytest.param(lambda: Stack(GrowsBlock), [0, 4], id="other-sizes-inside-by-index"),
        pytest.param(MaskedStack, [0, 5], id="buffer-tuple-output-shared-kwargs"),
        pytest.param(lambda: Stack(RepeatsBlock), [0, 5], id="a-view-of-a-tensor-made-inside-an-op"),
        pytest.param(shared_block, [0, 3], id="a-block-registered-twice"),
        pytest.param(hooked, [0, 5], id="hooks-on-two-blocks"),
        pytest.param(lazy, [], id="lazy-blocks-run-through-a-copy-never-replayed"),
    ],
)
def test_hand_written_blocks_are_described_the_same_with_and_without_replaying(
    make: Any, replayed: list[int], monkeypatch: pytest.MonkeyPatch, replays: list[int]
) -> None:
    model = make()
    before = {name: (t, t.requires_grad) for name, t in model.state_dict(keep_vars=True).items()}
    plain, replaying = both(lambda: describe_live(model, "N=2,8"), monkeypatch)
    assert_same(plain, replaying)
    assert replays == replayed
    assert {name: (t, t.requires_grad) for name, t in model.state_dict(keep_vars=True).items()} == before
    assert not any("forward" in vars(sub) for sub in model.modules())  # the replaying forward is gone


def test_blocks_are_replayed_only_from_a_block_that_took_the_same_steps(
    monkeypatch: pytest.MonkeyPatch, replays: list[int]
) -> None:
    monkeypatch.setattr(replay, "ENABLED", True)
    describe_live(Stack(), "N=2,8")
    # 7 blocks of one kind: the first reads the example input, whose values are known, so it runs
    # on its own; the second leads and the other 5 are replayed
    assert replays == [0, 5]
    replays.clear()
    spec = describe_live(Stack(LastDiffers), "N=2,8")
    assert replays == [0, 4]  # the last block took another step: it runs whole
    assert [op.scope for op in spec.trace.ops if op.name == "softmax"] == ["blocks.6"]
    replays.clear()
    spec = describe_live(Stack(EveryThird), "N=2,8")
    assert replays == [0, 4]  # two kinds: 1, 3, 4, 6 (after 0) and 2, 5; each kind's first runs
    muls = Counter(op.scope for op in spec.trace.ops if op.name == "mul" and op.scope.startswith("blocks."))
    # every block scales its branch; the third and the sixth also double their output
    assert muls == {f"blocks.{i}": 2 if i in (2, 5) else 1 for i in range(7)}


def test_an_error_of_replayings_own_bookkeeping_lets_the_blocks_run_whole_and_says_so(
    monkeypatch: pytest.MonkeyPatch, replays: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    config = HF_CONFIGS[0].values[1]

    def describe() -> str:
        spec = spec_of("transformers:LlamaConfig", "input_ids:1,L=8", input_dtype="long", kwargs=config)
        return json.dumps(spec.to_json(), sort_keys=True)

    monkeypatch.setattr(replay, "ENABLED", False)
    plain = describe()

    def fails(*args: Any) -> Any:
        raise RuntimeError("a made-up failure")

    monkeypatch.setattr(replay, "ENABLED", True)
    monkeypatch.setattr(replay, "_signed", fails)  # read by the pass at other sizes before each replay
    with caplog.at_level(logging.DEBUG, logger="modeldoc.probe.replay"):
        replaying = describe()
    assert_same(plain, replaying)
    assert replays == [0, 0]  # the first block's failure stopped replaying: every block ran whole
    said = [r.getMessage() for r in caplog.records if r.name == "modeldoc.probe.replay"]
    assert len(said) == 1 and "stopped at layers.0" in said[0] and "a made-up failure" in said[0], said
