"""The tutorial's CNN, resized for scikit-learn's 8×8 handwritten digits, with weights trained on them.

`Network` is `modeldoc.examples.fashion.Network` with two changes so that an 8×8 image fits it:

- the convolutions use 3×3 kernels with padding 1 instead of 5×5 without padding. A 5×5 kernel
  would shrink 8 to 4 and, after the pooling, a second one could not fit (4 / 2 = 2 < 5); with
  padding 1 a 3×3 convolution keeps the size, so only the two poolings shrink it: 8 ▶ 4 ▶ 2;
- so ``fc1`` reads 12 × 2 × 2 = 48 features instead of 12 × 4 × 4 = 192.

`digits.safetensors`, beside this file, holds weights trained by `modeldoc.examples.train_digits`
(seeded, a few seconds on a CPU; its metadata records the held-out accuracy). `trained()` builds
the network with them.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS = Path(__file__).with_name("digits.safetensors")
"""The trained weights shipped with modeldoc."""


class Network(nn.Module):
    """A small CNN that sorts 8×8 grayscale images of handwritten digits into 10 classes.

    Two convolution + max-pool stages extract features (3×3 kernels, padded, so the 8×8 image
    survives two poolings: 8 ▶ 4 ▶ 2); three fully connected layers turn the 12 × 2 × 2 feature
    map into class scores.
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels=1, out_channels=6, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(in_channels=6, out_channels=12, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(in_features=12 * 2 * 2, out_features=120)
        self.fc2 = nn.Linear(in_features=120, out_features=60)
        self.out = nn.Linear(in_features=60, out_features=10)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """Map a batch of images (N × 1 × 8 × 8) to class scores (N × 10)."""
        t = F.max_pool2d(F.relu(self.conv1(t)), kernel_size=2, stride=2)
        t = F.max_pool2d(F.relu(self.conv2(t)), kernel_size=2, stride=2)
        t = t.reshape(-1, 12 * 2 * 2)
        t = F.relu(self.fc1(t))
        t = F.relu(self.fc2(t))
        return self.out(t)


def trained() -> Network:
    """The network with the weights trained on the digits (read from `WEIGHTS` with safetensors)."""
    from safetensors.torch import load_file

    network = Network()
    network.load_state_dict(load_file(str(WEIGHTS)))
    return network
