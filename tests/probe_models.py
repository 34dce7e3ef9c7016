"""Fixture models for the probe's tests of values, made-up inputs, materialised weights and outputs.

Hand-written modules with control flow on values (each branch line carries a ``# branch:`` marker
the tests find by text), and Hugging Face transformers and diffusers models from tiny configs,
built under ``torch.device("meta")`` as big checkpoints are (no download, no weights).
"""

from __future__ import annotations

import collections
import dataclasses

import torch
from torch import nn


class WeightGate(nn.Module):
    """Branches on its weights' values: a meta pass must assume the answer, a real pass knows it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        if self.fc.weight.sum() > -1e9:  # branch: weights
            h = torch.relu(h)
        return self.out(h)


def meta_weight_gate() -> nn.Module:
    """WeightGate built on the meta device: no values anywhere."""
    with torch.device("meta"):
        return WeightGate()


class BufferCount(nn.Module):
    """Keeps as many features as its index buffer's values add up to: a meta pass computes that from the buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.register_buffer("keep", torch.tensor([1, 0, 2]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        count = int(self.keep.sum().item())  # branch: buffer
        return self.fc(x)[:, :count]


class PaddingCheck(nn.Module):
    """Branches on the input's values only (is there padding?): a meta pass computes the answer."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if (ids == 0).sum() > 0:  # branch: padding
            raise ValueError("padding is not supported")
        positions = torch.arange(ids.shape[1], device=ids.device)
        if positions.max().item() != ids.shape[1] - 1:  # branch: positions
            raise ValueError("positions are wrong")
        return self.embed(ids)


def meta_padding_check() -> nn.Module:
    with torch.device("meta"):
        return PaddingCheck()


class EveryQuestion(nn.Module):
    """Asks every kind of value question about its weights (3 × 4 of them), and returns what it got."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        w = self.fc.weight
        found = (w > 0).nonzero()  # branch: nonzero
        picked = w[w > 0]  # branch: mask
        distinct = torch.unique(w)  # branch: unique
        y = self.fc(x)
        if torch.isinf(y).any():  # branch: isinf
            y = y.clamp(-1e4, 1e4)
        steps = int(w.argmax().item())  # branch: item
        widths = (w[0] > 0).long().tolist()  # branch: tolist
        if 3 in w.long():  # branch: contains
            y = y * 1
        if f"{w.argmax()}" != "1":  # branch: format
            y = y * 2
        return y, found, picked, distinct, y.new_zeros(steps + len(widths))


def meta_every_question() -> nn.Module:
    with torch.device("meta"):
        return EveryQuestion()


# --------------------------------------------------------------------------- outputs of every kind

Pair = collections.namedtuple("Pair", ["left", "right"])


@dataclasses.dataclass
class Result:
    """A dataclass output that torch.utils._pytree does not know."""

    sample: torch.Tensor
    extra: list[torch.Tensor]


class Plain:
    """An output class of the user's own: neither dataclass nor container."""

    def __init__(self, scores: torch.Tensor) -> None:
        self.scores = scores
        self._private = scores


class Outputs(nn.Module):
    """Returns a different output type for each `kind`."""

    def __init__(self, kind: str = "dataclass") -> None:
        super().__init__()
        self.kind = kind
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> object:
        y = self.fc(x)
        if self.kind == "dataclass":
            return Result(sample=y, extra=[y.sum(-1), y.mean(-1)])
        if self.kind == "namedtuple":
            return Pair(left=y, right=y.T)
        if self.kind == "dict":
            return {"logits": y, "nested": {"sum": y.sum()}}
        return Plain(y)


# --------------------------------------------------------------------------- Hugging Face and diffusers, tiny


def meta_t5() -> nn.Module:
    """T5 (T5Model, encoder-decoder): needs decoder_input_ids besides input_ids."""
    from transformers import T5Config, T5Model

    config = T5Config(d_model=32, d_ff=64, d_kv=8, num_layers=2, num_heads=4, vocab_size=100, decoder_start_token_id=0)
    with torch.device("meta"):
        return T5Model(config)


def meta_clip() -> nn.Module:
    """CLIP (CLIPModel): two towers, needs pixel_values besides input_ids."""
    from transformers import CLIPConfig, CLIPModel

    text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
    vision = {**text, "image_size": 32, "patch_size": 8}
    config = CLIPConfig(
        text_config={**text, "vocab_size": 100, "max_position_embeddings": 32}, vision_config=vision, projection_dim=16
    )
    with torch.device("meta"):
        return CLIPModel(config)


def meta_qwen_vision() -> nn.Module:
    """The Qwen2.5-VL vision tower: reads flattened patches with their grid (``grid_thw``)."""
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLVisionConfig
    from transformers.models.qwen2_5_vl.modeling_qwen2_5_vl import Qwen2_5_VisionTransformerPretrainedModel

    config = Qwen2_5_VLVisionConfig(
        depth=2, hidden_size=32, intermediate_size=64, num_heads=4, out_hidden_size=32, fullatt_block_indexes=[1]
    )
    with torch.device("meta"):
        return Qwen2_5_VisionTransformerPretrainedModel(config)


def meta_vit() -> nn.Module:
    """ViT (ViTModel): cls_token and position_embeddings are parameters used outside any layer's call."""
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, image_size=32, patch_size=8
    )
    with torch.device("meta"):
        return ViTModel(config)


def meta_mamba() -> nn.Module:
    """Mamba (MambaModel): its conv1d.weight goes to F.conv1d; the slow path loops over the length."""
    from transformers import MambaConfig, MambaModel

    config = MambaConfig(hidden_size=32, state_size=4, num_hidden_layers=2, vocab_size=100, expand=2, conv_kernel=4)
    with torch.device("meta"):
        return MambaModel(config)


def meta_mixtral() -> nn.Module:
    """Mixtral (MixtralModel): mixture-of-experts routing decides which experts run, from the weights."""
    from transformers import MixtralConfig, MixtralModel

    config = MixtralConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
        num_experts_per_tok=2,
        vocab_size=100,
        max_position_embeddings=64,
    )
    with torch.device("meta"):
        return MixtralModel(config)


def meta_bert() -> nn.Module:
    """The tiny BERT of tests.models built on the meta device."""
    from tests.models import tiny_bert

    with torch.device("meta"):
        return tiny_bert()


def meta_unet() -> nn.Module:
    """diffusers' UNet2DModel: returns a UNet2DOutput dataclass and needs a timestep."""
    from diffusers import UNet2DModel

    with torch.device("meta"):
        return UNet2DModel(
            sample_size=16,
            in_channels=3,
            out_channels=3,
            block_out_channels=(8, 16),
            layers_per_block=1,
            norm_num_groups=4,
            down_block_types=("DownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "UpBlock2D"),
        )


def meta_vae() -> nn.Module:
    """diffusers' AutoencoderKL: returns a DecoderOutput dataclass."""
    from diffusers import AutoencoderKL

    with torch.device("meta"):
        return AutoencoderKL(
            in_channels=3,
            out_channels=3,
            block_out_channels=(8,),
            latent_channels=4,
            norm_num_groups=4,
            sample_size=16,
            down_block_types=("DownEncoderBlock2D",),
            up_block_types=("UpDecoderBlock2D",),
        )


class BFloat16Conv(nn.Module):
    """A convolution whose weights are bfloat16: float32 inputs would not match them."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3).to(torch.bfloat16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class NoMetaKernel(nn.Module):
    """Counts its rounded weights with torch.bincount, which has no meta kernel: only a real pass runs it."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        counts = torch.bincount(self.fc.weight.abs().mul(0).long().flatten(), minlength=3)
        return self.fc(x) + counts[:3]


def meta_no_meta_kernel() -> nn.Module:
    with torch.device("meta"):
        return NoMetaKernel()


def meta_bart() -> nn.Module:
    """BART (BartModel): shifts input_ids right into decoder inputs and checks them for padding on values."""
    from transformers import BartConfig, BartModel

    config = BartConfig(
        d_model=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        vocab_size=100,
        max_position_embeddings=64,
    )
    with torch.device("meta"):
        return BartModel(config)


def meta_switch() -> nn.Module:
    """Switch Transformers (encoder-decoder, mixture of experts): the router picks experts from the weights."""
    from transformers import SwitchTransformersConfig, SwitchTransformersModel

    config = SwitchTransformersConfig(
        d_model=32,
        d_ff=64,
        d_kv=8,
        num_layers=2,
        num_decoder_layers=2,
        num_heads=4,
        num_experts=4,
        encoder_sparse_step=1,
        decoder_sparse_step=1,
        vocab_size=100,
        decoder_start_token_id=0,
    )
    with torch.device("meta"):
        return SwitchTransformersModel(config)
