"""LLaMA-3-70B's shape, beside LLaMA-2-70B's (`modeldoc.examples.llama.make_llama_70b`), for ``modeldoc diff``.

Both have 80 blocks 8192 wide, 64 query heads sharing 8 key/value heads (grouped-query
attention) and a 28672-wide feed-forward. LLaMA-3 changed two things: a vocabulary of 128,256
tokens instead of 32,000, and rotary position embeddings with base (rope theta) 500,000 instead
of 10,000. Built on the meta device, it holds no memory.
"""

from __future__ import annotations

import torch

from modeldoc.examples.llama import Llama, RotaryEmbedding

VOCABULARY = 128256
ROPE_THETA = 500000.0


def make_llama3_70b() -> Llama:
    """The 80-block LLaMA-3-70B shape on the meta device: LLaMA-2-70B's with its vocabulary and rope theta."""
    with torch.device("meta"):
        model = Llama(vocab_size=VOCABULARY, dim=8192, n_layers=80, n_heads=64, n_kv_heads=8, hidden_dim=28672)
        for block in model.layers:
            attention = block.get_submodule("attn")
            head_dim = attention.head_dim
            assert isinstance(head_dim, int)
            attention.rotary = RotaryEmbedding(head_dim, base=ROPE_THETA)
    return model
