"""The benchmark's models: factories, and one cached instance of each.

``bench_models:gpt2`` names the cached instance (built on first use), so modeldoc, torchinfo
and torchview all document the very same module object and no timing includes building it.
The CLI gets the factories (``bench_models.py:make_gpt2``) and builds its own model, as a
user's command would.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from modeldoc.examples.fashion import Network
from modeldoc.examples.text import TextClassifier


class Encoder(nn.Module):
    """Token embedding, a six-layer nn.TransformerEncoder and a classifier on the first token."""

    def __init__(self, vocab: int = 10_000, dim: int = 256, heads: int = 8, layers: int = 6, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.embed(ids))[:, 0])


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm and a residual connection."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18(nn.Module):
    """The ResNet-18 layout (basic blocks 2-2-2-2), written here."""

    def __init__(self, classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        widths = (64, 128, 256, 512)
        stages = []
        cin = 64
        for i, width in enumerate(widths):
            stride = 1 if i == 0 else 2
            stages.append(nn.Sequential(BasicBlock(cin, width, stride), BasicBlock(width, width, 1)))
            cin = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def make_fashion() -> nn.Module:
    """The tutorial CNN."""
    return Network()


def make_lstm() -> nn.Module:
    """The shipped LSTM text classifier at a realistic size (10k-token vocabulary, 256 hidden units)."""
    return TextClassifier(vocab_size=10_000, embed_dim=128, hidden_size=256)


def make_encoder() -> nn.Module:
    """The transformer encoder."""
    return Encoder()


def make_resnet() -> nn.Module:
    """The ResNet-18-shaped convolutional network."""
    return ResNet18()


def make_gpt2() -> nn.Module:
    """GPT-2 small (12 layers, 768 wide) from a config, random weights, nothing downloaded."""
    from transformers import GPT2Config, GPT2LMHeadModel

    return GPT2LMHeadModel(GPT2Config(n_layer=12, n_embd=768, n_head=12)).eval()


def make_llama(layers: int = 80) -> nn.Module:
    """A LLaMA-shaped model of `layers` decoder blocks (80: about 1,000 modules), narrow to stay quick."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=32_000,
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=layers,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=512,
    )
    return LlamaForCausalLM(config).eval()


FACTORIES: dict[str, Callable[[], nn.Module]] = {
    "fashion": make_fashion,
    "lstm": make_lstm,
    "encoder": make_encoder,
    "resnet": make_resnet,
    "gpt2": make_gpt2,
    "llama": make_llama,
}
_BUILT: dict[str, nn.Module] = {}


def __getattr__(name: str) -> Any:
    """``bench_models.gpt2`` is the cached instance of ``make_gpt2()``."""
    if name not in FACTORIES:
        raise AttributeError(name)
    if name not in _BUILT:
        _BUILT[name] = FACTORIES[name]()
    return _BUILT[name]
