"""Fixture models for the meta pass's indexing and splitting by values (`modeldoc.probe.values`).

Each line that asks for values carries a ``# asks: <marker>`` comment the tests find by text.
Built on the meta device: no values anywhere but the example inputs'.
"""

from __future__ import annotations

import torch
from torch import nn


class ExpertTable(nn.Module):
    """Picks an expert's weight by a one-element tensor, as mixture-of-experts layers loop over the experts hit."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Linear(8, 4)
        self.experts = nn.Parameter(torch.zeros(4, 8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hit = torch.greater(self.gate(x).sum(0), 0).nonzero()
        out = torch.zeros_like(x)
        for expert in hit:
            out = out + x @ self.experts[expert[0]]  # asks: expert
        return out


class TokenTypes(nn.Module):
    """Normalises the tokens of one type apart from the others, by a mask the token ids fix (Higgs Audio)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(16, 8)
        self.audio = nn.LayerNorm(8)
        self.text = nn.LayerNorm(8)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(input_ids)
        mask = input_ids == 3
        audio = self.audio(hidden[mask])
        hidden[~mask] += self.text(hidden[~mask])
        return hidden.sum() + audio.sum()


class CountSplit(nn.Module):
    """Splits the routed rows by how many each expert takes, counted from the router's choice (JetMoE)."""

    def __init__(self) -> None:
        super().__init__()
        self.router = nn.Linear(8, 4)
        self.experts = nn.ModuleList(nn.Linear(8, 8) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chosen = self.router(x).argmax(-1)
        counts = nn.functional.one_hot(chosen, 4).sum(0).tolist()  # asks: counts
        parts = x.split(counts, dim=0)  # asks: split
        return torch.cat([expert(part) for expert, part in zip(self.experts, parts, strict=True)])


class TopTwo(nn.Module):
    """Routes each token to its 2 best of 8 experts, and runs only the experts hit (Mixtral-like)."""

    def __init__(self) -> None:
        super().__init__()
        self.router = nn.Linear(8, 8)
        self.experts = nn.ModuleList(nn.Linear(8, 8) for _ in range(8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        chosen = torch.topk(self.router(x), k=2, dim=-1).indices  # asks: topk
        mask = nn.functional.one_hot(chosen, 8).permute(2, 1, 0)
        out = torch.zeros_like(x)
        for expert in torch.greater(mask.sum(dim=(-1, -2)), 0).nonzero():
            _, token = torch.where(mask[expert[0]])
            out = out.index_add(0, token, self.experts[expert[0]](x[token]))
        return out


def meta_top_two() -> nn.Module:
    with torch.device("meta"):
        return TopTwo()


def meta_expert_table() -> nn.Module:
    with torch.device("meta"):
        return ExpertTable()


def meta_token_types() -> nn.Module:
    with torch.device("meta"):
        return TokenTypes()


def meta_count_split() -> nn.Module:
    with torch.device("meta"):
        return CountSplit()


class GridRepeat(nn.Module):
    """A vision embedding's position table repeated once per frame of each grid row (HunYuan-style)."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grid = torch.arange(6, device=x.device).reshape(2, 3)  # rows (t, h, w): (0, 1, 2), (3, 4, 5)
        parts = [self.proj(x).repeat(t, 1) for t, _, _ in grid]  # a one-element tensor as the count
        return torch.cat(parts)


def meta_grid_repeat() -> nn.Module:
    with torch.device("meta"):
        return GridRepeat()


def meta_hf(model_type: str) -> nn.Module:
    """A transformers model of `model_type` from its default config with one layer, on the meta device."""
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.for_model(model_type, num_hidden_layers=1)
    with torch.device("meta"):
        return AutoModel.from_config(config)


def meta_jetmoe() -> nn.Module:
    return meta_hf("jetmoe")


def meta_higgs_audio() -> nn.Module:
    return meta_hf("higgs_audio_v2")


def meta_privacy_filter() -> nn.Module:
    return meta_hf("openai_privacy_filter")


def meta_bamba_mamba_only() -> nn.Module:
    """A tiny Bamba of Mamba layers only (its default config has no attention layer): no cache can be built for it."""
    from transformers import BambaConfig, BambaModel

    config = BambaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        mamba_n_heads=4,
        mamba_d_head=16,
        mamba_d_state=8,
        mamba_n_groups=1,
        mamba_chunk_size=8,
    )
    with torch.device("meta"):
        return BambaModel(config)
