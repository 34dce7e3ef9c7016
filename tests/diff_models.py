"""The models of the diff goldens: Hugging Face models built from their real configurations, on the meta device.

GPT-2 small and medium (transformers' GPT2Config defaults, and 1024 wide, 24 layers, 16 heads);
LLaMA-2-70B and LLaMA-3-70B from LlamaConfig with their published hyperparameters (vocabulary
32000 and 128256, rope theta 10000 and 500000, 64 query heads sharing 8 key/value heads, 80
layers 8192 wide). No weights, no download: shapes only.
"""

from __future__ import annotations

import torch
from transformers import GPT2Config, GPT2Model, LlamaConfig, LlamaForCausalLM

LLAMA_70B = {
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-5,
}


def gpt2_small() -> GPT2Model:
    with torch.device("meta"):
        return GPT2Model(GPT2Config())


def gpt2_medium() -> GPT2Model:
    with torch.device("meta"):
        return GPT2Model(GPT2Config(n_embd=1024, n_layer=24, n_head=16))


def llama2_70b() -> LlamaForCausalLM:
    with torch.device("meta"):
        return LlamaForCausalLM(LlamaConfig(vocab_size=32000, rope_theta=10000.0, **LLAMA_70B))


def llama3_70b() -> LlamaForCausalLM:
    config = {**LLAMA_70B, "max_position_embeddings": 8192}
    with torch.device("meta"):
        return LlamaForCausalLM(LlamaConfig(vocab_size=128256, rope_theta=500000.0, **config))
