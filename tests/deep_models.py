"""Deep fixture models for the derivation scale tests and ``benchmarks/bench_depth.py``.

`SpaceTime` is a video transformer shaped like TimeSformer (divided space-time attention), in
plain torch. Every block attends over time, then over space, reshaping the tokens between the two layouts
((N·P) × T × D for time, (N·T) × (1 + P) × D for space, with the class token repeated per
frame) and joining the class token back on with ``cat``. Sizes that pass through such a block
are merged and split again, so each block doubles the number of paths from an output axis back
to the input: the model the derivations must describe in time and memory linear in depth.

`GatedStack` is a stack of length-shrinking convolutions, each output gated by a Linear over
its length axis: every gate's ``in_features`` has a derivation one step longer than the one
before, so the deep gates' derivations are cut and point back to an earlier gate's.
"""

from __future__ import annotations

import torch
from torch import nn


class DividedBlock(nn.Module):
    """Time attention, space attention and an MLP, each with a residual add."""

    def __init__(self, width: int, heads: int, frames: int, side: int) -> None:
        super().__init__()
        self.frames = frames
        self.side = side
        self.time_norm = nn.LayerNorm(width)
        self.time_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.time_out = nn.Linear(width, width)
        self.space_norm = nn.LayerNorm(width)
        self.space_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N × (1 + P·T) × D in, the same out; the class token first, then the patches of each frame.

        Written as TimeSformer's divided attention is: the patch grid split into its rows and
        columns and merged back in each reshape, the residual added to a fresh slice of the input.
        """
        n, _, d = x.shape
        rows = cols = self.side
        t = self.frames
        # time: every patch position attends over the frames, (N·P) × T × D
        h = x[:, 1:].reshape(n, rows, cols, t, d).reshape(n * rows * cols, t, d)
        h, _ = self.time_attn(*[self.time_norm(h)] * 3, need_weights=False)
        h = self.time_out(h.reshape(n, rows, cols, t, d).reshape(n, rows * cols * t, d))
        tokens = x[:, 1:] + h
        # space: every frame attends over its patches and the class token, (N·T) × (1 + P) × D
        cls = x[:, 0].unsqueeze(1)
        c = cls.repeat(1, t, 1).reshape(n * t, 1, d)
        s = tokens.reshape(n, rows, cols, t, d).permute(0, 3, 1, 2, 4).reshape(n * t, rows * cols, d)
        s = self.space_norm(torch.cat((c, s), 1))
        s, _ = self.space_attn(s, s, s, need_weights=False)
        c = s[:, 0].reshape(n, t, d).mean(1, True)
        s = s[:, 1:].reshape(n, t, rows, cols, d).permute(0, 2, 3, 1, 4).reshape(n, rows * cols * t, d)
        x = torch.cat((cls, tokens), 1) + torch.cat((c, s), 1)
        return x + self.mlp(self.mlp_norm(x))


class SpaceTime(nn.Module):
    """Patch embedding per frame, a class token, `depth` divided blocks, a classifier on the class token."""

    def __init__(
        self,
        depth: int = 12,
        width: int = 32,
        heads: int = 2,
        frames: int = 4,
        image: int = 32,
        patch: int = 8,
        channels: int = 3,
        classes: int = 10,
    ) -> None:
        super().__init__()
        side = image // patch
        self.patch = nn.Conv2d(channels, width, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.positions = nn.Parameter(torch.zeros(1, 1 + side * side * frames, width))
        self.blocks = nn.ModuleList(DividedBlock(width, heads, frames, side) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, classes)

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """N × T × C × H × W frames in; N × classes scores and the N × (1 + P·T) × D tokens out."""
        n, t, c, h, w = video.shape
        x = self.patch(video.reshape(n * t, c, h, w)).flatten(2).transpose(1, 2)  # (N·T) × P × D
        p, d = x.shape[1], x.shape[2]
        x = x.reshape(n, t, p, d).permute(0, 2, 1, 3).reshape(n, p * t, d)
        x = torch.cat([self.cls_token.expand(n, -1, -1), x], dim=1) + self.positions
        for block in self.blocks:
            x = block(x)
        x = self.norm(x)
        return self.head(x[:, 0]), x


def make_space_time(depth: int = 12) -> nn.Module:
    """The model at `depth` blocks, built on the meta device (no weights in memory)."""
    with torch.device("meta"):
        return SpaceTime(depth)


class GatedStack(nn.Module):
    """`depth` valid 1-d convolutions (each shortens the sequence by 2), each gated along its length."""

    def __init__(self, depth: int = 20, length: int = 64, channels: int = 4) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, 3) for _ in range(depth))
        self.gates = nn.ModuleList(nn.Linear(length - 2 * (i + 1), length - 2 * (i + 1)) for i in range(depth))
        self.head = nn.Linear(channels * (length - 2 * depth), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """N × C × L in, N × 2 out."""
        for conv, gate in zip(self.convs, self.gates, strict=True):
            x = conv(x)
            x = x * torch.sigmoid(gate(x))
        return self.head(x.flatten(1))


def timesformer(layers: int = 12) -> nn.Module:
    """Hugging Face's TimesformerModel, default config (768 wide, 8 frames of 224²) but `layers` layers, on meta."""
    from transformers import TimesformerConfig, TimesformerModel

    with torch.device("meta"):
        return TimesformerModel(TimesformerConfig(num_hidden_layers=layers))
