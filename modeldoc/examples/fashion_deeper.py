"""The tutorial's Fashion-MNIST CNN with one more convolution: the example of ``modeldoc diff``.

Against `modeldoc.examples.fashion.Network`, it adds ``conv3`` (12 → 24 channels, 3×3, padding 1,
so it keeps the 8×8 size) before the second pooling; ``fc1`` therefore reads 24 × 4 × 4 = 384
features instead of 12 × 4 × 4 = 192.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Network(nn.Module):
    """A small CNN that sorts 28×28 grayscale Fashion-MNIST images into 10 classes, with three convolutions."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=5)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=12, kernel_size=5)
        self.conv3 = nn.Conv2d(in_channels=12, out_channels=24, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(in_features=24 * 4 * 4, out_features=120)
        self.fc2 = nn.Linear(in_features=120, out_features=60)
        self.out = nn.Linear(in_features=60, out_features=10)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Map a batch of images (N × 1 × 28 × 28) to class scores (N × 10)."""
        t = F.max_pool2d(F.relu(self.conv1(t)), kernel_size=2, stride=2)
        t = F.relu(self.conv2(t))
        t = F.max_pool2d(F.relu(self.conv3(t)), kernel_size=2, stride=2)
        t = t.reshape(-1, 24 * 4 * 4)
        t = F.relu(self.fc1(t))
        t = F.relu(self.fc2(t))
        return self.out(t)
