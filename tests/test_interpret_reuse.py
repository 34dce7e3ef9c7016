"""The interpret stage reuses the work of one layer for its repeats: the description is the same, byte for byte.

`modeldoc.explain.reuse.ENABLED` switches the reuse off: each model's raw description (what the
probe collected) is interpreted both ways and the two ``modeldoc/1`` JSON texts, as the CLI
writes them, must be equal. The models: the benchmark's GPT-2 and LLaMA classes at tiny
sizes, tiny Hugging Face configs built by modeldoc (their config keys measured), and
hand-written stacks whose repeats differ (a frozen block, another constructor argument, tied
weights, a parametrized layer, layers modeldoc's table does not know).
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrizations

from modeldoc import knowledge, pipeline
from modeldoc.explain import layers, reuse
from modeldoc.options import ModelOptions, model_options
from modeldoc.spec import ModelSpec


class Scale(nn.Module):
    """A layer modeldoc's table does not know: explained by inference."""

    def __init__(self, width: int, start: float = 1.0) -> None:
        super().__init__()
        self.width = width
        self.gain = nn.Parameter(torch.full((width,), start))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


class Block(nn.Module):
    def __init__(self, width: int, hidden: int, p: float = 0.0) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.up = nn.Linear(width, hidden)
        self.act = nn.GELU()
        self.down = nn.Linear(hidden, width)
        self.scale = Scale(width)
        self.drop = nn.Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(self.scale(self.down(self.act(self.up(self.norm(x))))))


class Varied(nn.Module):
    """Six blocks of one structure that differ: one frozen, one with another dropout, one sharing a weight."""

    def __init__(self, width: int = 16, vocab: int = 40) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.blocks = nn.ModuleList([Block(width, 2 * width) for _ in range(4)] + [Block(width, 2 * width, p=0.1)])
        self.blocks.append(Block(width, 3 * width))  # another hidden width: another structure
        for p in self.blocks[2].parameters():
            p.requires_grad_(False)
        self.blocks[3].up.weight = self.blocks[1].up.weight
        self.head = nn.Linear(width, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class ConvBlock(nn.Module):
    def __init__(self, channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.conv = parametrizations.weight_norm(nn.Conv2d(channels, channels, kernel, padding=kernel // 2))
        self.bn = nn.BatchNorm2d(channels)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.bn(self.conv(x)))


class Convolutional(nn.Module):
    """Repeated convolution blocks with a parametrized weight; one block's kernel differs."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.blocks = nn.Sequential(ConvBlock(8), ConvBlock(8), ConvBlock(8, kernel=5), ConvBlock(8))
        self.blocks[3].bn.momentum = 0.3
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))


class Gain(nn.Module):
    """A layer a project's own knowledge entry explains, naming its path (`GAIN_ENTRIES`)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.width = width
        self.gain = nn.Parameter(torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gain


class Offset(nn.Module):
    """A layer whose `index` only its own reason reads (`GAIN_ENTRIES`), as a block's ``layer_idx``."""

    def __init__(self, width: int, index: int) -> None:
        super().__init__()
        self.width = width
        self.index = index
        self.offset = nn.Parameter(torch.zeros(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.offset


class Gains(nn.Module):
    def __init__(self, width: int = 6) -> None:
        super().__init__()
        self.gains = nn.ModuleList([Gain(width) for _ in range(3)])
        self.offsets = nn.ModuleList([Offset(width, index) for index in range(3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for gain, offset in zip(self.gains, self.offsets, strict=True):
            x = offset(gain(x))
        return x


GAIN_ENTRIES = """
tests.test_interpret_reuse.Gain:
  summary: "Scales the {{ width }} features of its input; it sits at {{ path }}."
  args:
    width:
      dim: "in0:-1"
      reason: "the number of features ({{ width }})"
  params:
    gain:
      axes: ["width"]
      meaning: "one factor per feature"
tests.test_interpret_reuse.Offset:
  summary: "Adds one learned number to each of the {{ width }} features of its input."
  args:
    width:
      dim: "in0:-1"
      reason: "the number of features ({{ width }})"
    index:
      reason: "this offset's position in the stack ({{ index }})"
  params:
    offset:
      axes: ["width"]
      meaning: "one number per feature"
"""


def _gpt2() -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(
        GPT2Config(n_layer=3, n_embd=32, n_head=4, vocab_size=100, n_positions=64, bos_token_id=0, eos_token_id=0)
    ).eval()


def _llama() -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=100,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config).eval()


Live = tuple[Callable[[], nn.Module], dict[str, Any]]
LIVE: dict[str, Live] = {
    "bench-gpt2": (_gpt2, {"input_shape": "1,16", "input_dtype": "long"}),
    "bench-llama": (_llama, {"input_shape": "1,16", "input_dtype": "long"}),
    "varied": (Varied, {"input_shape": "2,7", "input_dtype": "long"}),
    "convolutional": (Convolutional, {"input_shape": "1,3,12,12"}),
}
GAINS: Live = (Gains, {"input_shape": "2,6"})
CONFIGS: dict[str, dict[str, Any]] = {
    "llama": {
        "target": "transformers:LlamaConfig",
        "kwargs": {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "vocab_size": 100},
    },
    "gpt2": {
        "target": "transformers:GPT2Config",
        "kwargs": {"n_layer": 3, "n_embd": 32, "n_head": 4, "vocab_size": 100, "n_positions": 64, "bos_token_id": 0,
                   "eos_token_id": 0},
    },
    "bert": {
        "target": "transformers:BertConfig",
        "kwargs": {"hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4, "intermediate_size": 64,
                   "vocab_size": 100, "max_position_embeddings": 64},
    },
    "t5": {
        "target": "transformers:T5Config",
        "kwargs": {"num_layers": 3, "num_decoder_layers": 3, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_heads": 4,
                   "vocab_size": 100},
    },
    "deepseek-v3": {
        "target": "transformers:DeepseekV3Config",
        "kwargs": {"hidden_size": 32, "intermediate_size": 64, "moe_intermediate_size": 16, "num_hidden_layers": 4,
                   "first_k_dense_replace": 2, "num_attention_heads": 4, "num_key_value_heads": 4,
                   "n_routed_experts": 4, "num_experts_per_tok": 2, "n_group": 2, "topk_group": 1,
                   "kv_lora_rank": 16, "q_lora_rank": 24, "qk_rope_head_dim": 8, "qk_nope_head_dim": 8,
                   "v_head_dim": 8, "vocab_size": 100},
    },
}  # fmt: skip


def raw_description(name: str, folder: Path | None = None) -> tuple[ModelSpec, knowledge.Knowledge]:
    """The description of model `name` as the probe collected it, before `pipeline.interpret`, and its table.

    `folder` holds a project's own knowledge entries, read after the shipped ones.
    """
    captured: list[tuple[ModelSpec, knowledge.Knowledge | None]] = []
    interpret = pipeline.interpret

    def capture(spec: ModelSpec, table: knowledge.Knowledge | None = None) -> ModelSpec:
        captured.append((spec, table))
        return interpret(spec, table)

    pipeline.interpret = capture
    try:
        if name in LIVE or name == "gains":
            build, shapes = LIVE.get(name, GAINS)
            options = model_options({"target": f"tests.test_interpret_reuse:{name}", **shapes})
            pipeline.describe_module(build(), replace(options, knowledge=(folder,) if folder else ()))
        else:
            pipeline.describe(_config_options(name))
    finally:
        pipeline.interpret = interpret
    spec, table = captured[-1]
    return spec, table or knowledge.current()


def _config_options(name: str) -> ModelOptions:
    return model_options({**CONFIGS[name], "input_shapes": ["input_ids:1,L=8"], "input_dtype": "long"})


def json_text(spec: ModelSpec) -> str:
    """The description as ``modeldoc inspect --json`` writes it."""
    return json.dumps(spec.to_json(), indent=1, ensure_ascii=False)


def interpreted(
    raw: ModelSpec, table: knowledge.Knowledge, *, reusing: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, list[str]]:
    """The description `pipeline.interpret` makes of `raw`, as JSON text, and the layers it explained afresh."""
    explained: list[str] = []
    annotate_in_context = layers.annotate_in_context

    def counted(layer: Any, **kwargs: Any) -> Any:
        explained.append(layer.path)
        return annotate_in_context(layer, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(reuse, "ENABLED", reusing)
        patched.setattr(layers, "annotate_in_context", counted)
        return json_text(pipeline.interpret(raw, table)), explained


@pytest.mark.parametrize("name", [*LIVE, *(f"config-{name}" for name in CONFIGS)])
def test_reusing_repeated_layers_changes_no_byte_of_the_description(name: str, monkeypatch: pytest.MonkeyPatch):
    raw, table = raw_description(name.removeprefix("config-"))
    assert raw.probe_error == ""
    with_reuse, fresh = interpreted(raw, table, reusing=True, monkeypatch=monkeypatch)
    without, every = interpreted(raw, table, reusing=False, monkeypatch=monkeypatch)
    assert with_reuse == without
    # the comparison means something: without reuse every layer is explained, with it the repeats are not
    assert len(every) == len(raw.all_layers)
    assert len(fresh) < len(every)
    assert json.loads(with_reuse)["structures"]


def test_repeats_keep_their_own_ties_trainable_flags_and_arguments(monkeypatch: pytest.MonkeyPatch):
    raw, table = raw_description("varied")
    spec = ModelSpec.from_json(json.loads(interpreted(raw, table, reusing=True, monkeypatch=monkeypatch)[0]))

    def tensor(name: str) -> Any:
        path, local = name.rsplit(".", 1)
        return next(p for p in spec.layer(path).parameters if p.local_name == local)

    # blocks.1.up and blocks.3.up share one weight: each says how the other uses it, by its own path
    assert "blocks.3.up" in tensor("blocks.1.up.weight").relation
    assert "blocks.1.up" in tensor("blocks.3.up.weight").relation
    assert tensor("blocks.0.up.weight").relation == ""
    # the frozen block's tensors say so; their meaning is the one the repeats share
    assert not tensor("blocks.2.up.weight").trainable and tensor("blocks.0.up.weight").trainable
    assert tensor("blocks.2.up.weight").meaning == tensor("blocks.0.up.weight").meaning != ""
    # the block built with another dropout keeps its own argument
    assert [h.value for h in spec.layer("blocks.4.drop").hyperparameters if h.name == "p"] == [0.1]
    assert [h.value for h in spec.layer("blocks.0.drop").hyperparameters if h.name == "p"] == [0.0]


def test_an_entry_that_reads_the_path_or_an_own_index_gives_each_repeat_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    (tmp_path / "entries.yaml").write_text(textwrap.dedent(GAIN_ENTRIES), encoding="utf-8")
    raw, table = raw_description("gains", tmp_path)
    with_reuse, fresh = interpreted(raw, table, reusing=True, monkeypatch=monkeypatch)
    without, _ = interpreted(raw, table, reusing=False, monkeypatch=monkeypatch)
    assert with_reuse == without
    # a summary that names the path is rendered for each gain; the offsets differ only in an index
    # that their own reason reads: one is explained, the others render that reason again
    assert [path for path in fresh if path.startswith(("gains.", "offsets."))] == [
        "gains.0",
        "gains.1",
        "gains.2",
        "offsets.0",
    ]
    spec = ModelSpec.from_json(json.loads(with_reuse))
    for index in range(3):
        gain, offset = spec.layer(f"gains.{index}"), spec.layer(f"offsets.{index}")
        assert gain.summary == f"Scales the 6 features of its input; it sits at gains.{index}."
        assert offset.summary == "Adds one learned number to each of the 6 features of its input."
        reasons = {h.name: h.reason for h in offset.hyperparameters}
        assert reasons == {
            "width": "the number of features (6)",
            "index": f"this offset's position in the stack ({index})",
        }
        assert [h.value for h in offset.hyperparameters if h.name == "index"] == [index]
        assert offset.parameters[0].name == f"offsets.{index}.offset"
        assert offset.parameters[0].meaning == "one number per feature"
