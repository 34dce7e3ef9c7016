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


# --- models for the trace, derivation and cost tests (transformers is imported only when built)


def tiny_gpt2() -> nn.Module:
    """GPT-2 (GPT2LMHeadModel) from a tiny config: no download."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_layer=2, n_embd=32, n_head=4, n_positions=64, vocab_size=100, bos_token_id=0, eos_token_id=0)
    return GPT2LMHeadModel(config)


def tiny_bert() -> nn.Module:
    """BERT (BertModel) from a tiny config: no download."""
    from transformers import BertConfig, BertModel

    config = BertConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=4,
        intermediate_size=64,
        vocab_size=100,
        max_position_embeddings=64,
    )
    return BertModel(config)


def tiny_llama() -> nn.Module:
    """A LLaMA-style decoder (LlamaForCausalLM: RMSNorm, rotary, grouped-query attention, SwiGLU) from a tiny config."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=64,
        vocab_size=100,
        max_position_embeddings=64,
        bos_token_id=0,
        eos_token_id=0,
    )
    return LlamaForCausalLM(config)


def meta_llama() -> nn.Module:
    """The tiny LLaMA built under torch.device("meta"), as big checkpoints are: no real weights."""
    with torch.device("meta"):
        return tiny_llama()


class TwoInputs(nn.Module):
    """Image features and a keyword mask-like vector, joined: several positional and keyword inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d((2, 2))
        self.extra = nn.Linear(5, 6)
        self.head = nn.Linear(4 * 2 * 2 + 6 + 7, 2)

    def forward(self, image: torch.Tensor, side: torch.Tensor, *, meta: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.image(image)).flatten(1)
        return self.head(torch.cat([x, self.extra(side), meta], dim=1))


def two_inputs_example() -> tuple[tuple[torch.Tensor, ...], dict[str, torch.Tensor]]:
    """An example-input factory returning (args, kwargs)."""
    return (torch.randn(2, 3, 9, 9), torch.randn(2, 5)), {"meta": torch.randn(2, 7)}


class DictInput(nn.Module):
    """Takes a dict of tensors, like a batch from a data loader."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 6)
        self.fc = nn.Linear(6 + 3, 2)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.fc(torch.cat([self.embed(batch["ids"]).mean(1), batch["extra"]], dim=-1))


def dict_example() -> tuple[dict[str, torch.Tensor]]:
    """An example-input factory returning args whose one element is a dict with a token tensor."""
    return ({"ids": torch.randint(0, 20, (3, 5)), "extra": torch.randn(3, 3)},)


class NeedsValues(nn.Module):
    """Control flow on tensor values: the meta device cannot run it, a real pass can."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum().item() > float("inf"):
            x = x * 2
        return self.fc(x)


class PoolGeometry(nn.Module):
    """Padding, stride, dilation and ceil_mode on the way to a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 5, kernel_size=3, stride=2, padding=2, dilation=2)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True)
        self.fc = nn.Linear(5 * 4 * 4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.conv(x)).view(x.shape[0], -1))


class Heads(nn.Module):
    """Splits features into heads and merges them back: heads × head dim, transposes."""

    def __init__(self, dim: int = 12, heads: int = 3) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (t.view(n, length, self.heads, dim // self.heads).transpose(1, 2) for t in (q, k, v))
        y = torch.nn.functional.scaled_dot_product_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(n, length, dim))


class Grouped(nn.Module):
    """A grouped convolution, a depthwise one and a pointwise one (depth = in_channels / groups)."""

    def __init__(self) -> None:
        super().__init__()
        self.grouped = nn.Conv2d(6, 12, 3, groups=3, padding=1)
        self.depthwise = nn.Conv2d(12, 12, 3, groups=12, padding=1, bias=False)
        self.pointwise = nn.Conv2d(12, 8, 1)
        self.up = nn.ConvTranspose2d(8, 4, 2, stride=2, groups=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.pointwise(self.depthwise(self.grouped(x))))


class _Symmetric(nn.Module):
    """A user parametrization: the layer uses a symmetric matrix built from the stored one."""

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight.triu() + weight.triu(1).transpose(0, 1)


class Parametrized(nn.Module):
    """weight_norm, spectral_norm and a custom parametrization, each on its own layer."""

    def __init__(self) -> None:
        super().__init__()
        from torch.nn.utils import parametrizations, parametrize

        self.wn = parametrizations.weight_norm(nn.Linear(8, 6))
        self.sn = parametrizations.spectral_norm(nn.Conv2d(3, 4, 3))
        self.sym = nn.Linear(6, 6)
        parametrize.register_parametrization(self.sym, "weight", _Symmetric())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sym(self.wn(x))


class Scale(nn.Module):
    """A user layer holding a raw nn.Parameter, one per feature."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class SelfAttention(nn.Module):
    """A hand-written attention block: one packed projection, then an output projection."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.width, self.heads = width, heads
        self.qkv = nn.Parameter(torch.randn(width, 3 * width) * 0.02)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = (x @ self.qkv).chunk(3, dim=-1)
        n, t, _ = x.shape
        split = [t.view(n, t.shape[1], self.heads, -1).transpose(1, 2) for t in (q, k, v)]
        y = F.scaled_dot_product_attention(*split).transpose(1, 2).reshape(n, t, self.width)
        return self.out(y)


class InByOut(nn.Module):
    """A user's projection that stores its weight input × output and computes x·W + b (as Hugging Face's Conv1D)."""

    def __init__(self, nf: int, nx: int) -> None:
        super().__init__()
        self.nf, self.nx = nf, nx
        self.weight = nn.Parameter(torch.randn(nx, nf) * 0.02)
        self.bias = nn.Parameter(torch.zeros(nf))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight + self.bias


class ThirdParty(nn.Module):
    """Layers the knowledge table does not know: a projection stored in × out, an attention block, a raw parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = InByOut(24, 8)
        self.attn = SelfAttention(24, 4)
        self.scale = Scale(24)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.attn(self.proj(x)))


class SequenceDims(nn.Module):
    """Sizes that follow the sequence length in several ways: N·L rows, 2·L and L + 1 steps."""

    def __init__(self, dim: int = 4) -> None:
        super().__init__()
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.fc = nn.Linear(dim, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n = x.shape[0]
        rows = self.fc(x.reshape(-1, x.shape[-1]))
        doubled = torch.cat([x, x], dim=1)
        with_cls = torch.cat([self.cls.expand(n, -1, -1), x], dim=1)
        return rows, doubled, with_cls


class StridedConv(nn.Module):
    """A stride-2 convolution: its output height is a floor of the input height, not a linear label."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def meta_needs_values() -> nn.Module:
    """NeedsValues built on the meta device: the meta pass fails and there are no weights to rerun with."""
    with torch.device("meta"):
        return NeedsValues()


class FixedLength(nn.Module):
    """Accepts sequences of exactly 6 steps: a named length axis cannot be probed at other sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6 * 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] != 6:
            raise ValueError(f"expected 6 steps, got {x.shape[1]}")
        return self.fc(x.flatten(1))


class ConvBlock(nn.Module):
    """A convolution followed by batch norm and ReLU.

    The block keeps the spatial size when ``kernel`` is odd.

    Args:
        cin (int): channels of the input.
        cout (int): channels of the output, a
            choice of the designer.
        kernel: size of the square kernel.

    Returns:
        Tensor: the activated feature map.

    Example:
        >>> block = ConvBlock(3, 8, 3)
        >>> block(torch.zeros(1, 3, 8, 8)).shape
        torch.Size([1, 8, 8, 8])
    """

    def __init__(self, cin: int, cout: int, kernel: int = 3, act: nn.Module | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2)
        self.bn = nn.BatchNorm2d(cout)
        self.act = act or nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class UsesConvBlock(nn.Module):
    """A user's block (arguments not kept under their names) and a layer the forward pass never calls."""

    def __init__(self) -> None:
        super().__init__()
        self.block = ConvBlock(3, 8)
        self.spare = nn.Linear(8, 4)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block(x).mean((2, 3)))


# --- models the diagram tests pair with a hand-built trace (tests.helpers.traces); no forward


class Attn(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.attn = Attn(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))


class Stack(nn.Module):
    """A GPT-shaped stack: embedding, identical residual blocks, a head."""

    def __init__(self, n: int = 6, d: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, d)
        self.rotary = nn.Identity()
        self.blocks = nn.ModuleList(Block(d) for _ in range(n))
        self.head = nn.Linear(d, 100)


class Llama(nn.Module):
    """LLaMA-shaped: 80 decoder blocks of attention, gated MLP and two norms."""

    def __init__(self, blocks: int = 80, d: int = 8) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(32, d)
        self.layers = nn.ModuleList(LlamaBlock(d) for _ in range(blocks))
        self.norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, 32, bias=False)


class LlamaAttention(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d, bias=False) for _ in range(4))


class LlamaMLP(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.gate_proj, self.up_proj = nn.Linear(d, 2 * d), nn.Linear(d, 2 * d)
        self.down_proj = nn.Linear(2 * d, d)
        self.act_fn = nn.SiLU()


class LlamaBlock(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(d)
        self.mlp = LlamaMLP(d)
        self.input_layernorm, self.post_attention_layernorm = nn.LayerNorm(d), nn.LayerNorm(d)
