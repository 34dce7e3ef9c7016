"""A small LSTM text classifier: token ids in, class scores out."""

from __future__ import annotations

import torch
from torch import nn


class TextClassifier(nn.Module):
    """Classifies a sequence of token ids (for example news headlines into 4 topics).

    An embedding turns each token id into a vector, a bidirectional LSTM reads the
    sequence both ways, and a linear layer maps the two final hidden states to classes.
    """

    def __init__(
        self, vocab_size: int = 5000, embed_dim: int = 64, hidden_size: int = 96, num_classes: int = 4
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden_size, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(0.2)
        self.fc = nn.Linear(2 * hidden_size, num_classes)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Map token ids (N × L) to class scores (N × num_classes)."""
        embedded = self.embedding(token_ids)
        _, (hidden, _) = self.lstm(embedded)
        # hidden is (2 directions × N × hidden_size): join the forward and backward summaries.
        summary = torch.cat([hidden[-2], hidden[-1]], dim=1)
        return self.fc(self.dropout(summary))
