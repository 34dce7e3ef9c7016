"""Frontier-size language models from Hugging Face ``transformers``, built from their published configs on meta.

No weights are downloaded or allocated: each model is built under ``torch.device("meta")`` from
the configuration values its model card publishes, in the dtype that configuration names
(``bfloat16``; DeepSeek-V3's grouped expert matmul has no float32 meta kernel). They are the
examples that show how modeldoc scales: DeepSeek-V3 (671 B parameters) has 3 dense blocks then
58 mixture-of-experts blocks, so its site has two block pages; Mixtral-8x7B has 32 blocks of one
structure, each with 8 experts, so one block page.

    modeldoc build modeldoc.examples.frontier:make_deepseek_v3 --input-shape 1,L=16 --input-dtype long
    modeldoc build modeldoc.examples.frontier:make_mixtral_8x7b --input-shape 1,L=16 --input-dtype long
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

DEEPSEEK_V3: dict[str, Any] = {
    "vocab_size": 129280,
    "hidden_size": 7168,
    "intermediate_size": 18432,
    "moe_intermediate_size": 2048,
    "num_hidden_layers": 61,
    "num_attention_heads": 128,
    "num_key_value_heads": 128,
    "n_shared_experts": 1,
    "n_routed_experts": 256,
    "routed_scaling_factor": 2.5,
    "kv_lora_rank": 512,
    "q_lora_rank": 1536,
    "qk_rope_head_dim": 64,
    "v_head_dim": 128,
    "qk_nope_head_dim": 128,
    "n_group": 8,
    "topk_group": 4,
    "num_experts_per_tok": 8,
    "first_k_dense_replace": 3,
    "norm_topk_prob": True,
    "hidden_act": "silu",
    "max_position_embeddings": 163840,
    "rms_norm_eps": 1e-6,
    "tie_word_embeddings": False,
    "rope_theta": 10000,
    "attention_bias": False,
    "bos_token_id": 0,
    "eos_token_id": 1,
}
"""deepseek-ai/DeepSeek-V3's config.json (the model's own values; the yarn rope scaling left out)."""

MIXTRAL_8X7B: dict[str, Any] = {
    "vocab_size": 32000,
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "num_local_experts": 8,
    "num_experts_per_tok": 2,
    "hidden_act": "silu",
    "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-5,
    "rope_theta": 1e6,
    "sliding_window": None,
    "tie_word_embeddings": False,
    "router_aux_loss_coef": 0.02,
    "bos_token_id": 1,
    "eos_token_id": 2,
}
"""mistralai/Mixtral-8x7B-v0.1's config.json."""


def _on_meta(model_class: str, config_class: str, values: dict[str, Any]) -> nn.Module:
    import transformers

    config = getattr(transformers, config_class)(**values)
    with torch.device("meta"):
        model = getattr(transformers, model_class)(config)
    return model.to(torch.bfloat16).eval()


def make_deepseek_v3() -> nn.Module:
    """DeepSeek-V3 (671 B parameters: 61 blocks, the first 3 dense, then 256 routed experts each), on meta."""
    return _on_meta("DeepseekV3ForCausalLM", "DeepseekV3Config", DEEPSEEK_V3)


def make_mixtral_8x7b() -> nn.Module:
    """Mixtral-8x7B (47 B parameters: 32 blocks of 8 experts, 2 per token), on meta."""
    return _on_meta("MixtralForCausalLM", "MixtralConfig", MIXTRAL_8X7B)
