"""modeldoc.probe.repeats: config keys measured on a copy with the repeated blocks cut give the full measurement."""

from __future__ import annotations

from typing import Any

import pytest
import transformers as tf
from torch import nn

from modeldoc import knowledge
from modeldoc.probe import configs, repeats
from modeldoc.probe.loader import Recipe, build_on_meta
from modeldoc.spec import ModelConfig

TINY: dict[str, tuple[Any, Any, dict[str, Any], dict[str, int]]] = {
    # name: (config class, model class, config keys, the count keys the cut sets and to what)
    "llama": (
        tf.LlamaConfig,
        tf.LlamaForCausalLM,
        {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 6, "num_attention_heads": 4,
         "num_key_value_heads": 2, "vocab_size": 100},
        {"num_hidden_layers": 2},
    ),
    "deepseek_v3": (
        tf.DeepseekV3Config,
        tf.DeepseekV3ForCausalLM,
        {"hidden_size": 64, "intermediate_size": 128, "moe_intermediate_size": 32, "num_hidden_layers": 6,
         "first_k_dense_replace": 2, "num_attention_heads": 4, "num_key_value_heads": 4, "n_routed_experts": 8,
         "num_experts_per_tok": 2, "n_group": 2, "topk_group": 1, "kv_lora_rank": 16, "q_lora_rank": 24,
         "qk_rope_head_dim": 8, "qk_nope_head_dim": 8, "v_head_dim": 8, "vocab_size": 100},
        {"num_hidden_layers": 4},  # two dense blocks, then two mixture-of-experts blocks
    ),
    "gpt2": (
        tf.GPT2Config,
        tf.GPT2LMHeadModel,
        {"n_layer": 6, "n_embd": 64, "n_head": 4, "vocab_size": 100, "n_positions": 64, "bos_token_id": 0,
         "eos_token_id": 0},
        {"n_layer": 2},
    ),
    "bart": (
        tf.BartConfig,
        tf.BartForConditionalGeneration,
        {"encoder_layers": 5, "decoder_layers": 5, "d_model": 64, "encoder_ffn_dim": 128, "decoder_ffn_dim": 96,
         "encoder_attention_heads": 4, "decoder_attention_heads": 4, "vocab_size": 100, "max_position_embeddings": 64},
        {"encoder_layers": 2, "decoder_layers": 2},  # two keys of one count: each list is cut, whichever key it reads
    ),
    "t5": (
        tf.T5Config,
        tf.T5ForConditionalGeneration,
        {"num_layers": 5, "num_decoder_layers": 4, "d_model": 64, "d_kv": 16, "d_ff": 128, "num_heads": 4,
         "vocab_size": 100},
        {"num_layers": 3, "num_decoder_layers": 3},  # block 0 holds the relative position bias: a kind of its own
    ),
}  # fmt: skip


def both(module: nn.Module, recipe: Recipe | None, monkeypatch: pytest.MonkeyPatch) -> tuple[ModelConfig, ModelConfig]:
    """The measurement as modeldoc runs it, and the full one (nothing cut)."""
    with knowledge.using(knowledge.load()):
        cut = configs.describe(module, recipe)
        with monkeypatch.context() as patched:
            patched.setattr(repeats, "plan", lambda *args: None)
            full = configs.describe(module, recipe)
    assert cut is not None and full is not None
    return cut, full


def used_cut(module: nn.Module, recipe: Recipe) -> bool:
    """True when the measurement ran on the cut copy (False: it fell back to the full model)."""
    values = configs.plain_config(recipe.config)
    with knowledge.using(knowledge.load()), configs._quiet():
        return configs._measure_cut(module, recipe, configs._arguments(module), values) is not None


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_cut_measurement_of_a_transformers_model_is_the_full_one(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    config_class, model_class, keys, cut_to = TINY[name]
    module = build_on_meta(model_class._from_config, config_class(**keys))
    recipe = configs._library_recipe(module, module.config)
    assert recipe is not None
    with knowledge.using(knowledge.load()):
        plan = repeats.plan(module, configs._arguments(module), configs.plain_config(module.config))
    assert plan is not None and plan.keys == cut_to
    assert used_cut(module, recipe)
    cut, full = both(module, None, monkeypatch)
    assert cut.measured == full.measured
    assert list(cut.reads.items()) == list(full.reads.items())  # the same answers, in the same order
    argument, keys_read = PAST_THE_CUT[name]
    assert cut.reads[argument] == keys_read


PAST_THE_CUT = {
    # an argument of the last block, past the cut, and the keys that set it
    "llama": ("model.layers.5.self_attn.q_proj.out_features", ("num_attention_heads", "head_dim")),
    "deepseek_v3": ("model.layers.5.mlp.experts.gate_up_proj[0]", ("n_routed_experts",)),
    "gpt2": ("transformer.h.5.mlp.c_fc.nf", ("n_embd",)),
    "t5": ("encoder.block.4.layer.1.DenseReluDense.wi.out_features", ("d_ff",)),
    "bart": ("model.decoder.layers.4.fc1.out_features", ("decoder_ffn_dim",)),
}


class Block(nn.Module):
    def __init__(self, width: int, p: float) -> None:
        super().__init__()
        self.linear = nn.Linear(width, width)
        self.drop = nn.Dropout(p)


class Stack(nn.Module):
    """Blocks counted by ``config["num_layers"]``; with ``"growing"`` each block's dropout grows with its index."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        n, rate = config["num_layers"], config["rate"]
        rates = config.get("rates") or [rate * i / n if "growing" in config else rate for i in range(n)]
        self.blocks = nn.ModuleList(Block(config["width"], rates[i]) for i in range(n))
        self.head = nn.Linear(config["width"], config["classes"])


def stack(config: dict[str, Any]) -> tuple[Stack, Recipe]:
    return Stack(config), Recipe(config=config, build=Stack, built_by="Stack", built_from="a dict", dtype="float32")


def test_blocks_alike_are_measured_on_the_fewest_and_answered_for_all(monkeypatch: pytest.MonkeyPatch) -> None:
    module, recipe = stack({"num_layers": 8, "width": 16, "classes": 3, "rate": 0.25})
    assert used_cut(module, recipe)
    cut, full = both(module, recipe, monkeypatch)
    assert cut.reads == full.reads
    assert cut.reads["blocks.7.linear.in_features"] == ("width",)
    assert cut.reads["blocks.7.drop.p"] == ("rate",)
    assert "num_layers" in cut.measured


def test_an_argument_that_differs_in_every_block_and_that_a_key_sets_makes_the_whole_model_measured(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # each block's dropout is rate × i / n: block 7's cannot be read off block 1's, so nothing is carried over
    module, recipe = stack({"num_layers": 8, "width": 16, "classes": 3, "rate": 0.5, "growing": 1})
    assert not used_cut(module, recipe)
    cut, full = both(module, recipe, monkeypatch)
    assert cut.reads == full.reads
    assert cut.reads["blocks.7.drop.p"] == ("num_layers", "rate")


def test_a_block_changed_after_building_makes_the_whole_model_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    module, recipe = stack({"num_layers": 8, "width": 16, "classes": 3, "rate": 0.0})
    module.blocks[1].linear = nn.Linear(16, 16, bias=False)  # the model is no longer what its config builds
    assert not used_cut(module, recipe)
    cut, full = both(module, recipe, monkeypatch)
    assert cut.reads == full.reads


def test_a_list_of_one_number_per_block_makes_the_whole_model_measured(monkeypatch: pytest.MonkeyPatch) -> None:
    # rates[7] sets block 7's dropout alone: the cut copy has no rates[7] to change
    module, recipe = stack({"num_layers": 8, "width": 16, "classes": 3, "rate": 0.0, "rates": [0.25] * 8})
    assert not used_cut(module, recipe)
    cut, full = both(module, recipe, monkeypatch)
    assert cut.reads == full.reads
    assert cut.reads["blocks.7.drop.p"] == ("rates[7]",)
