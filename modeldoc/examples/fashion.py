"""The Fashion-MNIST classifier of the classic PyTorch tutorial."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Network(nn.Module):
    """A small CNN that sorts 28×28 grayscale Fashion-MNIST images into 10 classes.

    Two convolution + max-pool stages extract features; three fully connected layers
    turn the 12 × 4 × 4 feature map into class scores.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=5)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=12, kernel_size=5)
        self.fc1 = nn.Linear(in_features=12 * 4 * 4, out_features=120)
        self.fc2 = nn.Linear(in_features=120, out_features=60)
        self.out = nn.Linear(in_features=60, out_features=10)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Map a batch of images (N × 1 × 28 × 28) to class scores (N × 10)."""
        t = F.max_pool2d(F.relu(self.conv1(t)), kernel_size=2, stride=2)
        t = F.max_pool2d(F.relu(self.conv2(t)), kernel_size=2, stride=2)
        t = t.reshape(-1, 12 * 4 * 4)
        t = F.relu(self.fc1(t))
        t = F.relu(self.fc2(t))
        return self.out(t)
