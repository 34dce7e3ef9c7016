"""A small transformer encoder that classifies token sequences."""

from __future__ import annotations

import torch
from torch import nn


class EncoderClassifier(nn.Module):
    """A BERT-like encoder in miniature.

    Token and position embeddings are added, two transformer encoder layers mix
    information across the sequence with self-attention, and the mean over the sequence
    is classified.
    """

    def __init__(
        self,
        vocab_size: int = 1000,
        max_len: int = 128,
        d_model: int = 64,
        nhead: int = 4,
        dim_feedforward: int = 128,
        num_layers: int = 2,
        num_classes: int = 2,
    ) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.1, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Map token ids (N × L) to class scores (N × num_classes)."""
        positions = torch.arange(token_ids.shape[1], device=token_ids.device)
        x = self.tokens(token_ids) + self.positions(positions)
        x = self.norm(self.encoder(x))
        return self.head(x.mean(dim=1))
