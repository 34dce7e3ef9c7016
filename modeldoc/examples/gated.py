"""A small text classifier with a layer of its own, for the docs page "Teach modeldoc a new layer".

`GatedMLP` is not a torch.nn class, so modeldoc describes it by inference until a knowledge
entry (``modeldoc/examples/knowledge/gated.yaml``) teaches it what the layer is.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class GatedMLP(nn.Module):
    """A gated feed-forward block (SwiGLU): out = W_down · (silu(W_gate · x) ⊙ (W_up · x)).

    The gate and up projections are packed into one matrix, `gate_up`, as fast implementations do.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.dim, self.hidden = dim, hidden
        self.gate_up = nn.Parameter(torch.randn(2 * hidden, dim) * dim**-0.5)
        self.down = nn.Parameter(torch.randn(dim, hidden) * hidden**-0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map tokens of `dim` features through the gated hidden layer and back to `dim` features."""
        gate, up = F.linear(x, self.gate_up).chunk(2, dim=-1)
        return F.linear(F.silu(gate) * up, self.down)


class GatedNet(nn.Module):
    """Classifies a sequence of token ids with one pre-norm gated MLP block over the embeddings."""

    def __init__(self, vocab_size: int = 1000, dim: int = 64, hidden: int = 172, num_classes: int = 4) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, dim)
        self.norm = nn.RMSNorm(dim)
        self.mlp = GatedMLP(dim, hidden)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Map token ids (N × L) to class scores (N × num_classes)."""
        x = self.embedding(token_ids)
        x = x + self.mlp(self.norm(x))
        return self.head(x.mean(dim=1))
