"""Tiny fixture models, one per case the pages must get right."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Tiny(nn.Module):
    """Two linear layers: the smallest model with a data-dependent argument."""

    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, width)
        self.fc2 = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.fc1(x)))


def make_tiny(width: int = 8) -> nn.Module:
    """A factory function target."""
    return Tiny(width)


TINY_INSTANCE = Tiny(5)


class TiedLM(nn.Module):
    """A language model whose output head shares the embedding matrix."""

    def __init__(self, vocab: int = 50, dim: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.embed(ids)))


class SharedBlock(nn.Module):
    """One module registered under two names and called twice."""

    def __init__(self) -> None:
        super().__init__()
        self.block = nn.Linear(8, 8)
        self.alias = self.block
        self.out = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.block(F.relu(self.block(x))))


class Branches(nn.Module):
    """A ModuleDict of branches whose outputs are concatenated."""

    def __init__(self) -> None:
        super().__init__()
        self.branches = nn.ModuleDict({"left": nn.Linear(6, 4), "right": nn.Linear(6, 5)})
        self.merge = nn.Linear(9, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.merge(torch.cat([self.branches["left"](x), self.branches["right"](x)], dim=-1))


class FrozenBN(nn.Module):
    """A conv stack with BatchNorm buffers and a frozen first layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 4)
        self.register_buffer("scale", torch.ones(1), persistent=False)
        for p in self.conv.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(x, 1)) * self.scale


class TextLSTM(nn.Module):
    """Embedding, a bidirectional LSTM and a classifier over the last step."""

    def __init__(self, vocab: int = 100, dim: int = 12, hidden: int = 10, classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.lstm = nn.LSTM(dim, hidden, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(self.embed(ids))
        return self.fc(out[:, -1])


class Attention(nn.Module):
    """Self-attention with nn.MultiheadAttention, then a projection."""

    def __init__(self, dim: int = 16, heads: int = 4) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.attn(x, x, x, need_weights=False)
        return self.proj(y)


class Lazy(nn.Module):
    """A lazy linear layer whose in_features the first call decides."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.LazyLinear(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(x, 1))


class Hostile(nn.Module):
    """<script>alert("docstring")</script> | `tick` *star*"""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleDict({"<img src=x onerror=alert(1)>": nn.Linear(4, 4), "a|b`c": nn.Linear(4, 2)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks["a|b`c"](self.blocks["<img src=x onerror=alert(1)>"](x))


class Broken(nn.Module):
    """fc1 expects 100 features but receives 192: fails at run time."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 12, 5)
        self.fc1 = nn.Linear(100, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(self.conv(x), 2)
        return self.fc1(torch.flatten(x, 1))


NOT_A_MODULE = 42


def raises() -> nn.Module:
    """A factory whose constructor fails."""
    raise ValueError("width must be even")
