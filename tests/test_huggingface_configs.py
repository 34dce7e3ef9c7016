"""Hugging Face models built from their configs, and the config key that set each number.

Real transformers and diffusers configs at small sizes (built on the meta device, nothing is
downloaded). Each test states what the page must say, in full: ``q_proj.out_features = 64 =
config.num_attention_heads × config.head_dim``, measured by rebuilding the model with one key
changed at a time. The configs choose equal values for different keys on purpose (hidden_size =
intermediate_size, three dropouts of 0.1, encoder and decoder widths) so that a guess from the
numbers alone would have to pick one by luck.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.pages.render import do_value
from modeldoc.spec import Hyperparam, ModelSpec
from tests.helpers.run import run
from tests.helpers.sites import section_text
from tests.helpers.specs import spec_of

transformers = pytest.importorskip("transformers")


def hyper(spec: ModelSpec, path: str, name: str) -> Hyperparam:
    return next(h for h in spec.layer(path).hyperparameters if h.name == name)


def said(spec: ModelSpec, path: str, name: str) -> str:
    """What the page says of an argument: ``layers.0.q_proj.out_features = 64 = config.a × config.b``."""
    hp = hyper(spec, path, name)
    source = hp.set_by
    assert source is not None, f"{path}.{name} = {hp.value} names no config key"
    assert source.checked, f"{path}.{name}: {source.formula} was not checked by rebuilding"
    also = f" (also {', '.join(source.also)})" if source.also else ""
    return f"{path}.{name} = {do_value(hp.value)} = {source.formula or ' and '.join(source.keys)}{also}"


def axes_said(spec: ModelSpec, path: str, name: str) -> list[str]:
    """The formula that set each axis of a tensor (``"-"`` for an axis no key sets)."""
    param = next(p for p in spec.layer(path).parameters if p.name == f"{path}.{name}")
    assert param.axis_set_by, f"{param.name} names no config key"
    assert all(source is None or source.checked for source in param.axis_set_by)
    return [source.formula if source else "-" for source in param.axis_set_by]


def config_spec(target: str, *shapes: str, **kwargs: Any) -> ModelSpec:
    entry: dict[str, Any] = {"kwargs": kwargs}
    if shapes:
        entry["input_dtype"] = "long"
    return spec_of(target, *shapes, **entry)


@pytest.fixture(scope="module")
def llama() -> ModelSpec:
    # hidden_size = intermediate_size = num_attention_heads × head_dim = 64: only the measurement tells them apart
    return config_spec(
        "transformers:LlamaConfig",
        "input_ids:1,L=8",
        hidden_size=64,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=16,
        vocab_size=100,
    )


def test_a_config_class_builds_the_base_model_with_automodel_on_the_meta_device(llama: ModelSpec) -> None:
    assert (llama.name, llama.title, llama.target) == (
        "LlamaModel",
        "LlamaModel from LlamaConfig",
        "transformers:LlamaConfig",
    )
    config = llama.config
    assert config is not None
    assert (config.type, config.built_by, config.dtype) == (
        "transformers.LlamaConfig",
        "AutoModel.from_config",
        "float32",
    )
    assert config.built_from == (
        "LlamaConfig(hidden_size=64, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, "
        "num_key_value_heads=2, head_dim=16, vocab_size=100)"
    )
    assert config.values["hidden_size"] == 64 and config.values["model_type"] == "llama"
    assert llama.trace is not None and (llama.trace.device, llama.trace.complete) == ("meta", True)
    assert [(o.name, o.dims) for o in llama.outputs] == [("last_hidden_state", ("N", "L", 64))]


def test_llama_grouped_query_attention_names_the_heads_and_head_dim(llama: ModelSpec) -> None:
    attention = "layers.0.self_attn"
    assert said(llama, f"{attention}.q_proj", "out_features") == (
        "layers.0.self_attn.q_proj.out_features = 64 = config.num_attention_heads × config.head_dim"
    )
    assert said(llama, f"{attention}.k_proj", "out_features") == (
        "layers.0.self_attn.k_proj.out_features = 32 = config.num_key_value_heads × config.head_dim"
    )
    assert said(llama, f"{attention}.v_proj", "out_features") == (
        "layers.0.self_attn.v_proj.out_features = 32 = config.num_key_value_heads × config.head_dim"
    )
    assert said(llama, f"{attention}.o_proj", "in_features") == (
        "layers.0.self_attn.o_proj.in_features = 64 = config.num_attention_heads × config.head_dim"
    )
    assert hyper(llama, f"{attention}.k_proj", "out_features").set_by.arithmetic == "2 × 16 = 32"  # type: ignore[union-attr]


def test_llama_equal_widths_are_told_apart_by_the_key_that_sets_them(llama: ModelSpec) -> None:
    assert said(llama, "layers.1.self_attn.q_proj", "in_features") == (
        "layers.1.self_attn.q_proj.in_features = 64 = config.hidden_size"
    )
    assert said(llama, "layers.1.mlp.gate_proj", "out_features") == (
        "layers.1.mlp.gate_proj.out_features = 64 = config.intermediate_size"
    )
    assert said(llama, "layers.1.mlp.down_proj", "in_features") == (
        "layers.1.mlp.down_proj.in_features = 64 = config.intermediate_size"
    )
    assert said(llama, "layers.1.mlp.down_proj", "out_features") == (
        "layers.1.mlp.down_proj.out_features = 64 = config.hidden_size"
    )
    assert said(llama, "embed_tokens", "num_embeddings") == "embed_tokens.num_embeddings = 100 = config.vocab_size"


def test_a_number_no_key_sets_names_none(llama: ModelSpec) -> None:
    # layer_idx 1 equals no key here, and changing every key leaves it 1: no claim either way
    assert hyper(llama, "layers.1.self_attn", "layer_idx").set_by is None
    assert llama.config is not None
    assert "num_hidden_layers" in llama.config.measured
    assert not any("num_hidden_layers" in keys for keys in llama.config.reads.values())


def test_a_saved_config_json_builds_in_its_dtype_and_its_class_after_a_colon_picks_the_head(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = transformers.LlamaConfig(
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=1,
        num_attention_heads=2,
        vocab_size=50,
        dtype="bfloat16",
    )
    config.save_pretrained("tiny")
    base = config_spec("tiny/config.json")
    assert (base.name, base.title) == ("LlamaModel", "LlamaModel from LlamaConfig")
    assert base.config is not None and (base.config.built_from, base.config.dtype) == ("tiny/config.json", "bfloat16")
    assert set(base.bytes_by_dtype) == {"bfloat16", "float32"}  # the rotary inv_freq buffer stays float32
    head = config_spec("tiny/config.json:AutoModelForCausalLM", num_hidden_layers=2)
    assert (head.name, head.title) == ("LlamaForCausalLM", "LlamaForCausalLM from LlamaConfig")
    assert head.config is not None and head.config.built_by == "AutoModelForCausalLM.from_config"
    paths = {layer.path for layer in head.layers}
    assert "model.layers.1" in paths and "model.layers.2" not in paths  # --kwargs overrides the file's keys
    assert said(head, "lm_head", "out_features") == "lm_head.out_features = 50 = config.vocab_size"


def test_a_model_class_target_builds_that_head_from_its_config_class() -> None:
    spec = config_spec("transformers:BertForSequenceClassification", **BERT, num_labels=3)
    assert spec.config is not None and spec.config.built_by == "BertForSequenceClassification._from_config"
    assert said(spec, "classifier", "out_features") == "classifier.out_features = 3 = config.num_labels"


def test_gpt2_names_n_embd_multiples_and_tells_three_equal_dropouts_apart() -> None:
    spec = config_spec("transformers:GPT2Config", n_embd=32, n_head=4, n_layer=1, vocab_size=100, n_positions=16)
    assert said(spec, "h.0.attn.c_attn", "nf") == "h.0.attn.c_attn.nf = 96 = 3 × config.n_embd"
    assert said(spec, "h.0.mlp.c_fc", "nf") == "h.0.mlp.c_fc.nf = 128 = 4 × config.n_embd"  # n_inner is None
    assert said(spec, "wpe", "num_embeddings") == "wpe.num_embeddings = 16 = config.n_positions"
    assert said(spec, "drop", "p") == "drop.p = 0.1 = config.embd_pdrop"
    assert said(spec, "h.0.attn.attn_dropout", "p") == "h.0.attn.attn_dropout.p = 0.1 = config.attn_pdrop"
    assert said(spec, "h.0.attn.resid_dropout", "p") == "h.0.attn.resid_dropout.p = 0.1 = config.resid_pdrop"
    assert said(spec, "h.0.ln_1", "eps") == "h.0.ln_1.eps = 1e-05 = config.layer_norm_epsilon"
    inner = config_spec("transformers:GPT2Config", n_embd=32, n_head=4, n_layer=1, vocab_size=100, n_inner=80)
    assert said(inner, "h.0.mlp.c_fc", "nf") == "h.0.mlp.c_fc.nf = 80 = config.n_inner"


BERT = {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 1, "intermediate_size": 64, "vocab_size": 100}


def test_bert_names_its_widths_and_the_token_types() -> None:
    spec = config_spec("transformers:BertConfig", **BERT, max_position_embeddings=40)
    attention = "encoder.layer.0.attention"
    assert said(spec, f"{attention}.self.query", "out_features") == (
        "encoder.layer.0.attention.self.query.out_features = 32 = config.hidden_size"
    )
    assert said(spec, "encoder.layer.0.intermediate.dense", "out_features") == (
        "encoder.layer.0.intermediate.dense.out_features = 64 = config.intermediate_size"
    )
    assert said(spec, "embeddings.token_type_embeddings", "num_embeddings") == (
        "embeddings.token_type_embeddings.num_embeddings = 2 = config.type_vocab_size"
    )
    assert said(spec, "embeddings.position_embeddings", "num_embeddings") == (
        "embeddings.position_embeddings.num_embeddings = 40 = config.max_position_embeddings"
    )
    assert said(spec, "embeddings.LayerNorm", "eps") == "embeddings.LayerNorm.eps = 1e-12 = config.layer_norm_eps"
    # a zero is measured too (changed to 1): the padding row is the config's pad token
    assert spec.config is not None and spec.config.values["pad_token_id"] == 0
    assert said(spec, "embeddings.word_embeddings", "padding_idx") == (
        "embeddings.word_embeddings.padding_idx = 0 = config.pad_token_id"
    )
    # and a zero no key changes names none: layer_idx counts the layers
    assert hyper(spec, f"{attention}.self", "layer_idx").set_by is None


def test_mistral_heads_and_head_dim() -> None:
    spec = config_spec(
        "transformers:MistralConfig",
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=1,
        vocab_size=100,
    )
    assert said(spec, "layers.0.self_attn.k_proj", "out_features") == (
        "layers.0.self_attn.k_proj.out_features = 16 = config.num_key_value_heads × config.head_dim"
    )
    assert said(spec, "layers.0.mlp.up_proj", "out_features") == (
        "layers.0.mlp.up_proj.out_features = 96 = config.intermediate_size"
    )


@pytest.fixture(scope="module")
def mixtral() -> ModelSpec:
    return config_spec(
        "transformers:MixtralConfig",
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=1,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
        vocab_size=100,
    )


def test_mixtral_without_a_head_dim_names_what_sets_the_head_size(mixtral: ModelSpec) -> None:
    # MixtralConfig keeps head_dim None: the model takes hidden_size // num_attention_heads, so
    # changing num_attention_heads alone leaves q_proj as it is, and the key to turn is hidden_size
    spec = mixtral
    assert spec.config is not None and spec.config.values["head_dim"] is None
    assert said(spec, "layers.0.self_attn.q_proj", "out_features") == (
        "layers.0.self_attn.q_proj.out_features = 64 = config.hidden_size"
    )
    assert said(spec, "layers.0.self_attn.k_proj", "out_features") == (
        "layers.0.self_attn.k_proj.out_features = 32 = "
        "config.hidden_size × config.num_key_value_heads / config.num_attention_heads"
    )


def test_mixtral_fused_experts_and_router_name_the_expert_count_and_widths_on_their_axes(
    mixtral: ModelSpec,
) -> None:
    # the experts and the router take only the config: their numbers live on their tensors' axes
    assert axes_said(mixtral, "layers.0.mlp.experts", "gate_up_proj") == [
        "config.num_local_experts",
        "2 × config.intermediate_size",
        "config.hidden_size",
    ]
    assert axes_said(mixtral, "layers.0.mlp.experts", "down_proj") == [
        "config.num_local_experts",
        "config.hidden_size",
        "config.intermediate_size",
    ]
    assert axes_said(mixtral, "layers.0.mlp.gate", "weight") == ["config.num_local_experts", "config.hidden_size"]
    assert axes_said(mixtral, "rotary_emb", "inv_freq") == ["config.hidden_size / config.num_attention_heads / 2"]


def test_llama_rotary_frequencies_are_half_a_head(llama: ModelSpec) -> None:
    assert axes_said(llama, "rotary_emb", "inv_freq") == ["config.head_dim / 2"]
    assert axes_said(llama, "layers.0.self_attn.k_proj", "weight") == [
        "config.num_key_value_heads × config.head_dim",
        "config.hidden_size",
    ]


def test_t5_names_heads_times_d_kv_and_the_relative_buckets() -> None:
    spec = config_spec("transformers:T5Config", d_model=64, d_kv=8, num_heads=4, d_ff=96, num_layers=1, vocab_size=100)
    attention = "encoder.block.0.layer.0.SelfAttention"
    assert said(spec, f"{attention}.q", "out_features") == (
        "encoder.block.0.layer.0.SelfAttention.q.out_features = 32 = config.d_kv × config.num_heads"
    )
    assert said(spec, f"{attention}.o", "out_features") == (
        "encoder.block.0.layer.0.SelfAttention.o.out_features = 64 = config.d_model"
    )
    assert said(spec, f"{attention}.relative_attention_bias", "num_embeddings") == (
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.num_embeddings = 32 = "
        "config.relative_attention_num_buckets"
    )
    assert said(spec, f"{attention}.relative_attention_bias", "embedding_dim") == (
        "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.embedding_dim = 4 = config.num_heads"
    )
    assert said(spec, "encoder.block.0.layer.1.DenseReluDense.wi", "out_features") == (
        "encoder.block.0.layer.1.DenseReluDense.wi.out_features = 96 = config.d_ff"
    )


def test_clip_reads_each_tower_from_its_own_sub_config_and_projects_both_to_projection_dim() -> None:
    spec = config_spec(
        "transformers:CLIPConfig",
        projection_dim=32,
        text_config={
            "hidden_size": 48,
            "intermediate_size": 64,
            "num_attention_heads": 4,
            "num_hidden_layers": 1,
            "vocab_size": 100,
            "max_position_embeddings": 16,
        },
        vision_config={
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_attention_heads": 4,
            "num_hidden_layers": 1,
            "image_size": 32,
            "patch_size": 8,
        },
    )
    assert spec.config is not None
    assert spec.config.scopes == {"text_model": "text_config", "vision_model": "vision_config"}
    assert (
        said(spec, "visual_projection", "out_features") == "visual_projection.out_features = 32 = config.projection_dim"
    )
    assert said(spec, "text_projection", "out_features") == "text_projection.out_features = 32 = config.projection_dim"
    assert said(spec, "visual_projection", "in_features") == (
        "visual_projection.in_features = 64 = config.vision_config.hidden_size"
    )
    assert said(spec, "text_model.encoder.layers.0.mlp.fc1", "out_features") == (
        "text_model.encoder.layers.0.mlp.fc1.out_features = 64 = config.text_config.intermediate_size"
    )
    assert said(spec, "vision_model.embeddings.position_embedding", "num_embeddings") == (
        "vision_model.embeddings.position_embedding.num_embeddings = 17 = "
        "(config.vision_config.image_size / config.vision_config.patch_size)² + 1"
    )
    arithmetic = hyper(spec, "vision_model.embeddings.position_embedding", "num_embeddings").set_by
    assert arithmetic is not None and arithmetic.arithmetic == "(32 / 8)² + 1 = 17"


def test_vit_patch_size_sets_the_patch_convs_kernel_and_stride() -> None:
    spec = config_spec(
        "transformers:ViTConfig",
        hidden_size=64,
        num_attention_heads=4,
        num_hidden_layers=1,
        intermediate_size=96,
        image_size=32,
        patch_size=8,
        encoder_stride=8,  # equal to patch_size, and set nothing in the base model
    )
    patches = "embeddings.patch_embeddings.projection"
    assert said(spec, patches, "kernel_size") == (
        "embeddings.patch_embeddings.projection.kernel_size = (8, 8) = (config.patch_size, config.patch_size)"
    )
    assert said(spec, patches, "stride") == (
        "embeddings.patch_embeddings.projection.stride = (8, 8) = (config.patch_size, config.patch_size)"
    )
    assert (
        said(spec, patches, "in_channels")
        == "embeddings.patch_embeddings.projection.in_channels = 3 = config.num_channels"
    )
    assert said(spec, "pooler.dense", "out_features") == "pooler.dense.out_features = 64 = config.pooler_output_size"
    assert hyper(spec, patches, "padding").set_by is None


def test_whisper_tells_the_encoder_and_decoder_keys_apart_and_names_no_key_for_a_fixed_stride() -> None:
    spec = config_spec(
        "transformers:WhisperConfig",
        d_model=32,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_layers=1,
        decoder_layers=1,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        vocab_size=100,
        num_mel_bins=16,
        max_source_positions=24,
        max_target_positions=12,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=1,
    )
    assert said(spec, "encoder.conv1", "in_channels") == "encoder.conv1.in_channels = 16 = config.num_mel_bins"
    assert said(spec, "encoder.layers.0.fc1", "out_features") == (
        "encoder.layers.0.fc1.out_features = 64 = config.encoder_ffn_dim"
    )
    assert said(spec, "decoder.layers.0.fc1", "out_features") == (
        "decoder.layers.0.fc1.out_features = 64 = config.decoder_ffn_dim"
    )
    assert said(spec, "encoder.layers.0.self_attn", "num_heads") == (
        "encoder.layers.0.self_attn.num_heads = 4 = config.encoder_attention_heads"
    )
    assert said(spec, "encoder.embed_positions", "num_embeddings") == (
        "encoder.embed_positions.num_embeddings = 24 = config.max_source_positions"
    )
    assert hyper(spec, "encoder.conv2", "stride").set_by is None  # Whisper halves the frames with a fixed 2


def test_deepseek_v3_names_its_low_rank_and_split_head_keys() -> None:
    spec = config_spec(
        "transformers:DeepseekV3Config",
        hidden_size=64,
        intermediate_size=96,
        moe_intermediate_size=24,
        num_hidden_layers=2,
        first_k_dense_replace=1,
        num_attention_heads=4,
        num_key_value_heads=4,
        n_routed_experts=4,
        num_experts_per_tok=2,
        n_group=2,
        topk_group=1,
        kv_lora_rank=16,
        q_lora_rank=40,
        qk_rope_head_dim=8,
        qk_nope_head_dim=12,
        v_head_dim=20,
        vocab_size=100,
    )
    attention = "layers.0.self_attn"
    assert said(spec, f"{attention}.q_a_proj", "out_features") == (
        "layers.0.self_attn.q_a_proj.out_features = 40 = config.q_lora_rank"
    )
    assert said(spec, f"{attention}.q_b_proj", "out_features") == (
        "layers.0.self_attn.q_b_proj.out_features = 80 = "
        "(config.qk_rope_head_dim + config.qk_nope_head_dim) × config.num_attention_heads"
    )
    assert said(spec, f"{attention}.kv_a_proj_with_mqa", "out_features") == (
        "layers.0.self_attn.kv_a_proj_with_mqa.out_features = 24 = config.kv_lora_rank + config.qk_rope_head_dim"
    )
    assert said(spec, f"{attention}.kv_b_proj", "out_features") == (
        "layers.0.self_attn.kv_b_proj.out_features = 128 = "
        "(config.v_head_dim + config.qk_nope_head_dim) × config.num_attention_heads"
    )
    assert said(spec, f"{attention}.o_proj", "in_features") == (
        "layers.0.self_attn.o_proj.in_features = 80 = config.num_attention_heads × config.v_head_dim"
    )
    assert said(spec, "layers.0.mlp.gate_proj", "out_features") == (
        "layers.0.mlp.gate_proj.out_features = 96 = config.intermediate_size"
    )
    assert said(spec, "layers.1.mlp.shared_experts.gate_proj", "out_features") == (
        "layers.1.mlp.shared_experts.gate_proj.out_features = 24 = "
        "config.moe_intermediate_size × config.n_shared_experts"
    )


def test_a_diffusers_config_json_names_list_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    diffusers = pytest.importorskip("diffusers")
    monkeypatch.chdir(tmp_path)
    diffusers.UNet2DModel(
        sample_size=16,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        layers_per_block=1,
        norm_num_groups=8,
        attention_head_dim=8,
    ).save_config("unet")
    spec = config_spec("unet/config.json")
    assert (spec.name, spec.title) == ("UNet2DModel", "UNet2DModel from config.json")
    assert spec.config is not None and spec.config.built_by == "UNet2DModel.from_config"
    assert said(spec, "conv_in", "out_channels") == "conv_in.out_channels = 16 = config.block_out_channels[0]"
    assert said(spec, "time_embedding.linear_1", "out_features") == (
        "time_embedding.linear_1.out_features = 64 = 4 × config.block_out_channels[0]"
    )
    assert said(spec, "down_blocks.1.attentions.0", "heads") == (
        "down_blocks.1.attentions.0.heads = 4 = config.block_out_channels[1] / config.attention_head_dim"
    )
    assert said(spec, "down_blocks.0.resnets.0.norm1", "num_groups") == (
        "down_blocks.0.resnets.0.norm1.num_groups = 8 = config.norm_num_groups"
    )


# --------------------------------------------------------------------------- models handed over


class HoldsAConfig(nn.Module):
    """A user's own class that keeps a transformers config: modeldoc does not run it again."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.config = config
        self.q_proj = nn.Linear(config.hidden_size, config.num_attention_heads * config.head_dim)
        self.up_proj = nn.Linear(config.hidden_size, config.intermediate_size)


def test_a_transformers_model_handed_over_is_measured_from_a_copy_and_left_as_it_came() -> None:
    from modeldoc import describe

    config = transformers.LlamaConfig(
        hidden_size=32, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2, vocab_size=50
    )
    model = transformers.LlamaModel(config)
    before = config.to_dict()
    tensors = {name: (t, t.detach().clone()) for name, t in model.state_dict(keep_vars=True).items()}
    spec = describe(model).spec
    assert model.config is config and config.to_dict() == before
    assert all(model.state_dict(keep_vars=True)[n] is t and torch.equal(t, copy) for n, (t, copy) in tensors.items())
    assert spec.config is not None and spec.config.built_by == ""  # modeldoc did not build it
    assert (
        said(spec, "layers.0.mlp.up_proj", "out_features")
        == "layers.0.mlp.up_proj.out_features = 32 = config.intermediate_size"
    )
    assert (
        said(spec, "layers.0.self_attn.q_proj", "in_features")
        == "layers.0.self_attn.q_proj.in_features = 32 = config.hidden_size"
    )


def test_a_layer_changed_after_building_names_no_key() -> None:
    from modeldoc import describe

    config = transformers.LlamaConfig(
        hidden_size=32, intermediate_size=48, num_hidden_layers=1, num_attention_heads=2, vocab_size=50
    )
    model = transformers.LlamaModel(config)
    model.layers[0].mlp.up_proj = nn.Linear(32, 96, bias=False)  # the config no longer says 96
    spec = describe(model).spec
    assert hyper(spec, "layers.0.mlp.up_proj", "out_features").set_by is None
    assert said(spec, "layers.0.mlp.gate_proj", "out_features") == (
        "layers.0.mlp.gate_proj.out_features = 48 = config.intermediate_size"
    )


def test_a_users_class_holding_a_config_gets_every_equal_formula_named_and_unchecked() -> None:
    from modeldoc import describe

    config = transformers.LlamaConfig(
        hidden_size=64, intermediate_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=16
    )
    spec = describe(HoldsAConfig(config)).spec
    assert spec.config is not None and spec.config.measured == ()
    source = hyper(spec, "up_proj", "out_features").set_by
    assert source is not None and not source.checked
    # hidden_size and intermediate_size are both 64: neither is picked alone; the name up_proj puts the
    # feed-forward width first
    assert (source.formula, source.also) == ("config.intermediate_size", ("config.hidden_size",))
    heads = hyper(spec, "q_proj", "out_features").set_by
    assert heads is not None and not heads.checked
    assert (heads.formula, heads.also) == (
        "config.num_attention_heads × config.head_dim",
        ("config.hidden_size", "config.intermediate_size"),
    )


# --------------------------------------------------------------------------- pages, terminal, JSON


def test_the_page_and_the_terminal_say_which_key_sets_each_number(cli: Any, tmp_path: Path) -> None:
    kwargs = json.dumps(
        {"hidden_size": 64, "num_hidden_layers": 1, "num_attention_heads": 4, "head_dim": 8, "vocab_size": 100}
    )
    docs = tmp_path / "docs"
    built = cli("build", "transformers:LlamaConfig", "--kwargs", kwargs, "--markdown-only", "--docs-dir", str(docs))
    assert built.exit_code == 0, built.output
    page = html.unescape((docs / "llamaconfig" / "index.md").read_text(encoding="utf-8"))
    assert page.startswith("# LlamaModel from LlamaConfig\n")
    assert (
        "| Built by modeldoc | <code>AutoModel.from_config(LlamaConfig(hidden_size=64, num_hidden_layers=1, "
        "num_attention_heads=4, head_dim=8, vocab_size=100))</code>, on the meta device in float32: "
        "shapes without weights |"
    ) in page
    assert (
        "| <code>config.head_dim</code> | <code>8</code> | 4 arguments and 6 tensor axes, "
        "the first [layers.0.self_attn.q_proj.out_features](#layer-layers-0-self_attn-q_proj) |"
    ) in page
    assert (
        "- Its sizes come from the config: 32 set by <code>config.num_attention_heads × config.head_dim</code> "
        "(4 × 8 = 32); 64 set by <code>config.hidden_size</code>."
    ) in page
    assert (
        "| <code>out_features</code> | <code>32</code> | hyperparameter | chosen | set by "
        "<code>config.num_attention_heads × config.head_dim</code> (4 × 8 = 32) |"
    ) in page
    shown = cli("inspect", "transformers:LlamaConfig", "--kwargs", kwargs, "--depth", "4")
    assert shown.exit_code == 0, shown.output
    q_proj = shown.stdout.split("q_proj (Linear)")[1].splitlines()
    assert q_proj[2].split() == [
        *("│", "│", "│", "out_features", "=", "32", "hyperparameter;", "set", "by"),
        *("config.num_attention_heads", "×", "config.head_dim", "(4", "×", "8", "=", "32)"),
    ]


LLAMA_KWARGS = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 1000,
}


@pytest.mark.slow
def test_the_built_html_and_the_json_name_the_keys_behind_q_proj(tmp_path: Path) -> None:
    # the command the README shows: a real modeldoc build (MkDocs included), and inspect --json
    kwargs = json.dumps(LLAMA_KWARGS)
    target = ("transformers:LlamaConfig", "--kwargs", kwargs, "--input-shape", "1,L=16", "--input-dtype", "long")
    built = run("modeldoc", "build", *target, cwd=tmp_path, timeout=600)
    assert built.returncode == 0, built.stderr
    page = (tmp_path / "site" / "llamaconfig" / "index.html").read_text(encoding="utf-8")
    q_proj = section_text(page, "layer-layers-0-self_attn-q_proj")
    # LlamaConfig fills head_dim = hidden_size / num_attention_heads = 16 itself: that key then sets the width
    assert (
        "out_features 64 hyperparameter chosen set by config.num_attention_heads × config.head_dim (4 × 16 = 64)"
        in (q_proj)
    )
    assert (
        "Its sizes come from the config: 64 set by config.num_attention_heads × config.head_dim (4 × 16 = 64); "
        "64 set by config.hidden_size"
    ) in q_proj
    k_proj = section_text(page, "layer-layers-0-self_attn-k_proj")
    assert (
        "out_features 32 hyperparameter chosen set by config.num_key_value_heads × config.head_dim (2 × 16 = 32)"
        in (k_proj)
    )
    shown = run("modeldoc", "inspect", *target, "--json", cwd=tmp_path, timeout=600)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert (data["config"]["type"], data["config"]["built_by"]) == ("transformers.LlamaConfig", "AutoModel.from_config")
    layer = next(entry for entry in data["layers"] if entry["path"] == "layers.0.self_attn.q_proj")
    out_features = next(hp for hp in layer["hyperparameters"] if hp["name"] == "out_features")
    assert out_features["set_by"] == {
        "formula": "config.num_attention_heads × config.head_dim",
        "keys": ["num_attention_heads", "head_dim"],
        "arithmetic": "4 × 16 = 64",
        "checked": True,
    }
    weight = next(param for param in layer["parameters"] if param["local_name"] == "weight")
    assert [source["formula"] for source in weight["axis_set_by"]] == [
        "config.num_attention_heads × config.head_dim",
        "config.hidden_size",
    ]


# --------------------------------------------------------------------------- bad input


def one_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


FIX_FILE = "give the config.json saved with the model (save_pretrained), or a modeldoc/1 description"


@pytest.mark.parametrize(
    ("name", "text", "extra", "message", "code"),
    [
        (
            "config.json",
            '{"model_type": "no-such-model", "hidden_size": 64}',
            [],
            "cannot load 'config.json': its model_type 'no-such-model' is not one transformers {version} knows; "
            "correct model_type, or upgrade transformers (pip install -U transformers)",
            1,
        ),
        (
            "config.json",
            '{"model_type": "my-net", "auto_map": {"AutoModel": "modeling_my.MyNet"}}',
            [],
            "cannot load 'config.json': its model_type 'my-net' is not one transformers {version} knows: the config "
            "names its own code (auto_map), which modeldoc never runs from a config; point at the model class in "
            "that code instead (path/to/modeling.py:Name)",
            1,
        ),
        (
            "config.json",
            '{"model_type": "llama",',
            [],
            "cannot load 'config.json': config.json is not a Hugging Face config: it is not valid JSON "
            f"(Expecting property name enclosed in double quotes at line 1, column 24); {FIX_FILE}",
            1,
        ),
        (
            "config.json",
            '{"hidden_size": 64}',
            [],
            'cannot load \'config.json\': config.json is not a Hugging Face config: it has no "model_type" '
            f'(transformers) or "_class_name" (diffusers); {FIX_FILE}',
            1,
        ),
        (
            "other.json",
            '{"hidden_size": 64}',
            [],
            'other.json is not a modeldoc/1 description: it has no "schema" key (modeldoc writes "schema": '
            '"modeldoc/1"); write it with modeldoc inspect TARGET --json (or Description.to_json())',
            2,
        ),
        (
            "config.json:BertModel",
            '{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4}',
            [],
            "cannot load 'config.json:BertModel': BertModel is built from a BertConfig, and the config is a "
            "LlamaConfig; name a model class of that config's family, or an Auto class such as AutoModelForCausalLM",
            1,
        ),
        (
            "config.json:AutoModelForCasualLM",
            '{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4}',
            [],
            "cannot load 'config.json:AutoModelForCasualLM': transformers has no class 'AutoModelForCasualLM'; "
            "did you mean 'AutoModelForCausalLM'?",
            1,
        ),
        (
            "config.json",
            '{"model_type": "llama", "hidden_size": 64, "num_attention_heads": 4}',
            ["--kwargs", '{"num_hiden_layers": 1}'],
            "cannot load 'config.json': LlamaConfig has no key 'num_hiden_layers'; did you mean 'num_hidden_layers'?",
            1,
        ),
    ],
    ids=["unknown model_type", "remote code", "malformed", "no model_type", "other json", "wrong head", "no class",
         "misspelt override"],
)  # fmt: skip
def test_a_bad_config_file_is_one_line_naming_the_fix(
    cli: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    text: str,
    extra: list[str],
    message: str,
    code: int,
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, name.partition(":")[0], text)
    result = cli("build", name, *extra, "--out", "site")
    assert result.exit_code == code
    assert one_line(result) == "Error: " + message.format(version=transformers.__version__)
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize(
    ("target", "kwargs", "message"),
    [
        (
            "transformers:LlamaConfig",
            '{"hiden_size": 64}',
            "cannot load 'transformers:LlamaConfig': LlamaConfig has no key 'hiden_size'; did you mean 'hidden_size'?",
        ),
        (
            "transformers:LlamaConfig",
            '{"hidden_size": 65}',
            "cannot load 'transformers:LlamaConfig': LlamaConfig(...) raised StrictDataclassClassValidationError: "
            "Class validation error for validator 'validate_architecture': ValueError: The hidden size (65) is not "
            "a multiple of the number of attention heads (32).; check the values in --kwargs",
        ),
        (
            "transformers:WhisperConfig",
            '{"vocab_size": 100}',
            "cannot load 'transformers:WhisperConfig': AutoModel.from_config raised AssertionError: Padding_idx must "
            "be within num_embeddings; check the config's values (and --kwargs)",
        ),
        (
            "cfg.py:MyConfig",
            "",
            "cannot load 'cfg.py:MyConfig': MyConfig is a class but not an nn.Module subclass (nor a Hugging Face "
            "config class); point at a torch.nn.Module, or a transformers config class such as "
            "transformers:LlamaConfig",
        ),
    ],
    ids=["misspelt key", "rejected value", "library refuses", "not a config class"],
)
def test_a_bad_config_target_is_one_line_naming_the_fix(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str, kwargs: str, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "cfg.py", "class MyConfig:\n    hidden_size = 64\n")
    result = cli("inspect", target, *(["--kwargs", kwargs] if kwargs else []))
    assert result.exit_code == 1
    assert one_line(result) == "Error: " + message


@pytest.mark.parametrize("target", ["transformers:LlamaConfig", "config.json"])
def test_without_transformers_installed_the_line_says_to_install_it(tmp_path: Path, target: str) -> None:
    _write(tmp_path, "config.json", '{"model_type": "llama"}')
    # transformers made unimportable, as on a machine without it
    code = "import sys; sys.modules['transformers'] = None; from modeldoc.cli import main; main()"
    result = subprocess.run(
        [sys.executable, "-c", code, "inspect", target], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"Error: cannot load '{target}': Hugging Face transformers is not installed; pip install transformers"
    )
