"""A LLaMA-shaped decoder-only transformer, written in plain PyTorch.

`make_llama_70b()` builds the 80-block, 8192-wide shape on the meta device: it has every
module and parameter shape of the real thing (about 69 billion parameters) but holds no
memory, so its documentation builds on any laptop.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class RotaryEmbedding(nn.Module):
    """Rotary position embedding: rotates pairs of query/key features by position-dependent angles."""

    def __init__(self, head_dim: int, base: float = 10000.0) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.base = base
        inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
        self.inv_freq: torch.Tensor
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate `x` (N × heads × L × head_dim) by its positions."""
        positions = torch.arange(x.shape[-2], device=x.device, dtype=self.inv_freq.dtype)
        angles = torch.outer(positions, self.inv_freq)
        cos, sin = angles.cos(), angles.sin()
        even, odd = x[..., 0::2], x[..., 1::2]
        rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)
        return rotated.flatten(-2)


class Attention(nn.Module):
    """Grouped-query self-attention: n_heads query heads share n_kv_heads key/value heads."""

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.head_dim = dim // n_heads
        self.q_proj = nn.Linear(dim, n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(dim, n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(n_heads * self.head_dim, dim, bias=False)
        self.rotary = RotaryEmbedding(self.head_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Causal self-attention over a sequence (N × L × dim)."""
        n, length, _ = x.shape
        q = self.q_proj(x).view(n, length, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(n, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(n, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q, k = self.rotary(q), self.rotary(k)
        repeat = self.n_heads // self.n_kv_heads
        k = k.repeat_interleave(repeat, dim=1)
        v = v.repeat_interleave(repeat, dim=1)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(out.transpose(1, 2).reshape(n, length, self.n_heads * self.head_dim))


class FeedForward(nn.Module):
    """SwiGLU feed-forward: down(silu(gate(x)) * up(x))."""

    def __init__(self, dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.up_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=False)
        self.act = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the gated feed-forward to each position."""
        return self.down_proj(self.act(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    """One decoder block: pre-norm attention and pre-norm feed-forward, each with a residual."""

    def __init__(self, dim: int, n_heads: int, n_kv_heads: int, hidden_dim: int, eps: float) -> None:
        super().__init__()
        self.attn_norm = nn.RMSNorm(dim, eps=eps)
        self.attn = Attention(dim, n_heads, n_kv_heads)
        self.mlp_norm = nn.RMSNorm(dim, eps=eps)
        self.mlp = FeedForward(dim, hidden_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Update the residual stream (N × L × dim)."""
        x = x + self.attn(self.attn_norm(x))
        return x + self.mlp(self.mlp_norm(x))


class Llama(nn.Module):
    """A decoder-only language model shaped like LLaMA: token ids in, next-token scores out."""

    def __init__(
        self,
        vocab_size: int = 32000,
        dim: int = 512,
        n_layers: int = 4,
        n_heads: int = 8,
        n_kv_heads: int = 2,
        hidden_dim: int = 1376,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(vocab_size, dim)
        self.layers = nn.ModuleList(Block(dim, n_heads, n_kv_heads, hidden_dim, eps) for _ in range(n_layers))
        self.norm = nn.RMSNorm(dim, eps=eps)
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Map token ids (N × L) to next-token scores (N × L × vocab_size)."""
        x = self.embed_tokens(token_ids)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(self.norm(x))


def make_llama_70b() -> Llama:
    """The 80-block LLaMA-2-70B shape (8192 wide, 64 query heads, 8 key/value heads), on the meta device."""
    with torch.device("meta"):
        return Llama(vocab_size=32000, dim=8192, n_layers=80, n_heads=64, n_kv_heads=8, hidden_dim=28672)
