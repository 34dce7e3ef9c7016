"""The curated zoo: 36 architectures nobody on the project wrote, each with its example inputs.

Three families:

- **transformers**: Hugging Face models built from their config classes (``size="tiny"``: a few
  layers, a few dozen wide, real random weights on the CPU; ``size="full"``: the config class's
  defaults, built under ``torch.device("meta")`` as one builds a big checkpoint);
- **diffusers**: UNet2DModel, UNet2DConditionModel, AutoencoderKL and a DiT
  (DiTTransformer2DModel), from their constructors (tiny) or defaults (full, on meta);
- **papers**: classic networks written here in plain torch from their papers: a ResNet-50-style
  bottleneck network, MobileNetV2, U-Net, LeNet-5, VGG-11 and a GRU encoder-decoder (tiny: narrow;
  full: the papers' widths, on meta).

Nothing is downloaded: every model is built from a config or a constructor. Each entry's inputs
are modeldoc ``inputs`` entries (shape, dtype, keyword name), all the model's forward needs, with
the sizes read from the built model's config so they fit both sizes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

Inputs = list[dict[str, Any]]
SIZES = ("tiny", "full")


@dataclass(frozen=True)
class Curated:
    """One curated model: how to build it at a size, and the example inputs its forward takes."""

    name: str
    family: str
    """``"transformers"``, ``"diffusers"`` or ``"papers"``."""
    what: str
    build: Callable[[str], nn.Module]
    inputs: Callable[[nn.Module], Inputs]


def tokens(name: str = "input_ids", axis: str = "L", length: int = 16) -> dict[str, Any]:
    """Token ids ``1 × axis=length``."""
    return {"name": name, "shape": [1, f"{axis}={length}"], "dtype": "long"}


def tensor(name: str, *shape: int | str, dtype: str = "float32") -> dict[str, Any]:
    """One keyword input of the given shape."""
    return {"name": name, "shape": list(shape), "dtype": dtype}


@contextlib.contextmanager
def _device(size: str) -> Iterator[None]:
    """Full sizes are built on the meta device (no memory for weights); tiny ones on the CPU, seeded."""
    if size == "full":
        with torch.device("meta"):
            yield
    else:
        torch.manual_seed(0)
        yield


def _config(model: nn.Module) -> Any:
    """A Hugging Face or diffusers model's config."""
    return model.config


def _size(value: Any) -> int:
    return int(value[0] if isinstance(value, list | tuple) else value)


# --------------------------------------------------------------------------- transformers


def _hf(class_name: str, config_name: str, tiny: dict[str, Any], **full: Any) -> Callable[[str], nn.Module]:
    """A builder: ``transformers.<class_name>(<config_name>(**tiny or **full))``."""

    def build(size: str) -> nn.Module:
        import transformers

        config = getattr(transformers, config_name)(**(tiny if size == "tiny" else full))
        with _device(size):
            return getattr(transformers, class_name)(config)

    return build


_DECODER = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "intermediate_size": 64}
_TEXT = {**_DECODER, "vocab_size": 100, "max_position_embeddings": 64}
_IDS = {"bos_token_id": 0, "eos_token_id": 0, "pad_token_id": 0}


def _text_inputs(model: nn.Module) -> Inputs:
    return [tokens()]


def _seq2seq_inputs(model: nn.Module) -> Inputs:
    return [tokens(), tokens("decoder_input_ids", "T", 8)]


def _image_inputs(model: nn.Module) -> Inputs:
    config = _config(model)
    vision = getattr(config, "vision_config", None) or config
    side = _size(getattr(vision, "image_size", 224))
    return [tensor("pixel_values", 1, getattr(vision, "num_channels", 3), side, side)]


def _clip_inputs(model: nn.Module) -> Inputs:
    length = min(16, _config(model).text_config.max_position_embeddings)
    return [tokens(length=length), *_image_inputs(model)]


def _whisper_inputs(model: nn.Module) -> Inputs:
    config = _config(model)
    frames = 2 * config.max_source_positions
    return [tensor("input_features", 1, config.num_mel_bins, frames), tokens("decoder_input_ids", "T", 8)]


def _wav2vec2_inputs(model: nn.Module) -> Inputs:
    samples = 1600 if _config(model).hidden_size <= 64 else 16000
    return [tensor("input_values", 1, samples)]


def _detr_inputs(model: nn.Module) -> Inputs:
    side = 64 if _config(model).d_model <= 64 else 800
    return [tensor("pixel_values", 1, 3, side, side)]


def _segformer_inputs(model: nn.Module) -> Inputs:
    side = 64 if _config(model).hidden_sizes[0] <= 16 else 512
    return [tensor("pixel_values", 1, _config(model).num_channels, side, side)]


def _detr(size: str) -> nn.Module:
    from transformers import DetrConfig, DetrForObjectDetection, ResNetConfig

    if size == "tiny":
        stages: dict[str, Any] = {"hidden_sizes": [16, 32], "depths": [1, 1], "out_features": ["stage2"]}
        backbone = ResNetConfig(embedding_size=16, layer_type="basic", **stages)
        sizes: dict[str, Any] = {
            "d_model": 32,
            "encoder_layers": 1,
            "decoder_layers": 1,
            "encoder_attention_heads": 4,
            "decoder_attention_heads": 4,
            "encoder_ffn_dim": 64,
            "decoder_ffn_dim": 64,
            "num_queries": 10,
            "num_labels": 5,
        }
    else:
        backbone, sizes = ResNetConfig(), {}
    # the backbone is built from its config, in transformers: no timm, no download
    local: dict[str, Any] = {"use_timm_backbone": False, "use_pretrained_backbone": False}
    config = DetrConfig(backbone_config=backbone, **local, **sizes)
    with _device(size):
        return DetrForObjectDetection(config)


def _clip(size: str) -> nn.Module:
    from transformers import CLIPConfig, CLIPModel

    if size == "tiny":
        config = CLIPConfig(
            text_config={**_DECODER, "vocab_size": 100, "max_position_embeddings": 16},
            vision_config={**_DECODER, "image_size": 32, "patch_size": 8},
            projection_dim=16,
        )
    else:
        config = CLIPConfig()
    with _device(size):
        return CLIPModel(config)


TRANSFORMERS = [
    Curated(
        "bert",
        "transformers",
        "BertModel: encoder, learned positions, pooler",
        _hf("BertModel", "BertConfig", _TEXT),
        _text_inputs,
    ),
    Curated(
        "albert",
        "transformers",
        "AlbertModel: factorised embedding (128 → hidden), shared layers",
        _hf("AlbertModel", "AlbertConfig", {**_TEXT, "embedding_size": 16}),
        _text_inputs,
    ),
    Curated(
        "gpt2",
        "transformers",
        "GPT2LMHeadModel: Conv1D projections, wpe, tied head",
        _hf(
            "GPT2LMHeadModel",
            "GPT2Config",
            {"n_layer": 2, "n_embd": 32, "n_head": 4, "n_positions": 64, "vocab_size": 100, **_IDS},
        ),
        _text_inputs,
    ),
    Curated(
        "llama",
        "transformers",
        "LlamaForCausalLM: RMSNorm, rotary, grouped-query attention, SwiGLU",
        _hf("LlamaForCausalLM", "LlamaConfig", {**_TEXT, "num_key_value_heads": 2, **_IDS}),
        _text_inputs,
    ),
    Curated(
        "mistral",
        "transformers",
        "MistralForCausalLM: sliding-window grouped-query attention",
        _hf("MistralForCausalLM", "MistralConfig", {**_TEXT, "num_key_value_heads": 2, "sliding_window": 8, **_IDS}),
        _text_inputs,
    ),
    Curated(
        "mixtral",
        "transformers",
        "MixtralForCausalLM: sparse mixture of experts, top-2 router",
        _hf(
            "MixtralForCausalLM",
            "MixtralConfig",
            {**_TEXT, "num_key_value_heads": 2, "num_local_experts": 4, "num_experts_per_tok": 2, **_IDS},
        ),
        _text_inputs,
    ),
    Curated(
        "qwen2",
        "transformers",
        "Qwen2ForCausalLM: biased q/k/v, grouped-query attention",
        _hf("Qwen2ForCausalLM", "Qwen2Config", {**_TEXT, "num_key_value_heads": 2, **_IDS}),
        _text_inputs,
    ),
    Curated(
        "gemma",
        "transformers",
        "GemmaForCausalLM: scaled embedding, GeGLU, head_dim apart from width",
        _hf("GemmaForCausalLM", "GemmaConfig", {**_TEXT, "num_key_value_heads": 1, "head_dim": 8, **_IDS}),
        _text_inputs,
    ),
    Curated(
        "phi",
        "transformers",
        "PhiForCausalLM: parallel attention and MLP, partial rotary",
        _hf("PhiForCausalLM", "PhiConfig", {**_TEXT, **_IDS}),
        _text_inputs,
    ),
    Curated(
        "falcon",
        "transformers",
        "FalconForCausalLM: multi-query fused qkv, parallel residual",
        _hf(
            "FalconForCausalLM",
            "FalconConfig",
            {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 4, "vocab_size": 100, **_IDS},
        ),
        _text_inputs,
    ),
    Curated(
        "gpt_neox",
        "transformers",
        "GPTNeoXForCausalLM: fused qkv, parallel residual, partial rotary",
        _hf("GPTNeoXForCausalLM", "GPTNeoXConfig", {**_TEXT, **_IDS}),
        _text_inputs,
    ),
    Curated(
        "opt",
        "transformers",
        "OPTForCausalLM: learned positions with offset 2",
        _hf(
            "OPTForCausalLM",
            "OPTConfig",
            {
                "num_hidden_layers": 2,
                "hidden_size": 32,
                "num_attention_heads": 4,
                "ffn_dim": 64,
                "word_embed_proj_dim": 32,
                "vocab_size": 100,
                "max_position_embeddings": 64,
                **_IDS,
            },
        ),
        _text_inputs,
    ),
    Curated(
        "mamba",
        "transformers",
        "MambaForCausalLM: selective state space (A_log, D, dt_proj, depthwise conv1d)",
        _hf(
            "MambaForCausalLM",
            "MambaConfig",
            {"hidden_size": 32, "state_size": 8, "num_hidden_layers": 2, "vocab_size": 100, "expand": 2, **_IDS},
        ),
        _text_inputs,
    ),
    Curated(
        "deepseek_v3",
        "transformers",
        "DeepseekV3ForCausalLM: multi-head latent attention, routed experts",
        _hf(
            "DeepseekV3ForCausalLM",
            "DeepseekV3Config",
            {
                **_TEXT,
                "num_key_value_heads": 4,
                "moe_intermediate_size": 32,
                "n_routed_experts": 4,
                "num_experts_per_tok": 2,
                "n_group": 1,
                "topk_group": 1,
                "first_k_dense_replace": 1,
                "q_lora_rank": 32,
                "kv_lora_rank": 16,
                "qk_rope_head_dim": 8,
                "qk_nope_head_dim": 8,
                "v_head_dim": 8,
                **_IDS,
            },
        ),
        _text_inputs,
    ),
    Curated(
        "t5",
        "transformers",
        "T5ForConditionalGeneration: relative attention buckets, T5LayerNorm",
        _hf(
            "T5ForConditionalGeneration",
            "T5Config",
            {
                "d_model": 32,
                "d_kv": 8,
                "d_ff": 64,
                "num_layers": 2,
                "num_heads": 4,
                "vocab_size": 100,
                "decoder_start_token_id": 0,
            },
        ),
        _seq2seq_inputs,
    ),
    Curated(
        "bart",
        "transformers",
        "BartForConditionalGeneration: learned positions (+2), tied head",
        _hf(
            "BartForConditionalGeneration",
            "BartConfig",
            {
                "d_model": 32,
                "encoder_layers": 2,
                "decoder_layers": 2,
                "encoder_attention_heads": 4,
                "decoder_attention_heads": 4,
                "encoder_ffn_dim": 64,
                "decoder_ffn_dim": 64,
                "vocab_size": 100,
                "max_position_embeddings": 64,
                **_IDS,
            },
        ),
        _seq2seq_inputs,
    ),
    Curated(
        "whisper",
        "transformers",
        "WhisperForConditionalGeneration: conv front end, sinusoidal encoder positions",
        _hf(
            "WhisperForConditionalGeneration",
            "WhisperConfig",
            {
                "d_model": 32,
                "encoder_layers": 2,
                "decoder_layers": 2,
                "encoder_attention_heads": 4,
                "decoder_attention_heads": 4,
                "encoder_ffn_dim": 64,
                "decoder_ffn_dim": 64,
                "vocab_size": 100,
                "num_mel_bins": 16,
                "max_source_positions": 50,
                "max_target_positions": 64,
                "decoder_start_token_id": 0,
                **_IDS,
            },
        ),
        _whisper_inputs,
    ),
    Curated("clip", "transformers", "CLIPModel: text and vision towers, shared projection_dim", _clip, _clip_inputs),
    Curated(
        "vit",
        "transformers",
        "ViTForImageClassification: patch embedding, cls token, learned positions",
        _hf(
            "ViTForImageClassification", "ViTConfig", {**_DECODER, "image_size": 32, "patch_size": 8, "num_labels": 10}
        ),
        _image_inputs,
    ),
    Curated(
        "swin",
        "transformers",
        "SwinForImageClassification: windows, relative position table, patch merging",
        _hf(
            "SwinForImageClassification",
            "SwinConfig",
            {
                "image_size": 32,
                "patch_size": 2,
                "embed_dim": 16,
                "depths": [1, 1],
                "num_heads": [2, 4],
                "window_size": 4,
                "num_labels": 10,
            },
        ),
        _image_inputs,
    ),
    Curated(
        "convnext",
        "transformers",
        "ConvNextForImageClassification: channels-first LayerNorm, layer scale",
        _hf(
            "ConvNextForImageClassification",
            "ConvNextConfig",
            # 64 pixels: the feature maps' widths (16, 8) differ from the channels (8, 16), so a rule that
            # reads the wrong axis cannot pass by coincidence, as it would at 32
            {"num_stages": 2, "hidden_sizes": [8, 16], "depths": [1, 1], "image_size": 64, "num_labels": 10},
        ),
        _image_inputs,
    ),
    Curated(
        "resnet",
        "transformers",
        "ResNetForImageClassification: bottleneck stages",
        _hf(
            "ResNetForImageClassification",
            "ResNetConfig",
            {
                "embedding_size": 16,
                "hidden_sizes": [16, 32],
                "depths": [1, 1],
                "layer_type": "bottleneck",
                "num_labels": 10,
            },
        ),
        lambda m: [tensor("pixel_values", 1, 3, _side(m, 64, 224), _side(m, 64, 224))],
    ),
    Curated(
        "mobilenet_v2",
        "transformers",
        "MobileNetV2ForImageClassification: inverted residuals",
        _hf(
            "MobileNetV2ForImageClassification",
            "MobileNetV2Config",
            {"image_size": 32, "depth_multiplier": 0.25, "num_labels": 10},
        ),
        _image_inputs,
    ),
    Curated(
        "segformer",
        "transformers",
        "SegformerForSemanticSegmentation: overlapping patches, reduced attention",
        _hf(
            "SegformerForSemanticSegmentation",
            "SegformerConfig",
            {
                "num_encoder_blocks": 2,
                "depths": [1, 1],
                "sr_ratios": [2, 1],
                "hidden_sizes": [16, 32],
                "patch_sizes": [7, 3],
                "strides": [4, 2],
                "num_attention_heads": [1, 2],
                "mlp_ratios": [2, 2],
                "decoder_hidden_size": 32,
                "num_labels": 5,
            },
        ),
        _segformer_inputs,
    ),
    Curated(
        "wav2vec2",
        "transformers",
        "Wav2Vec2ForCTC: conv feature encoder on raw audio, conv positions",
        _hf(
            "Wav2Vec2ForCTC",
            "Wav2Vec2Config",
            {
                **_DECODER,
                "conv_dim": [16, 16],
                "conv_kernel": [10, 3],
                "conv_stride": [5, 2],
                "num_conv_pos_embeddings": 16,
                "num_conv_pos_embedding_groups": 2,
                "vocab_size": 32,
            },
        ),
        _wav2vec2_inputs,
    ),
    Curated(
        "detr", "transformers", "DetrForObjectDetection: ResNet backbone (HF), object queries", _detr, _detr_inputs
    ),
]


# --------------------------------------------------------------------------- diffusers


def _unet2d(size: str) -> Any:
    from diffusers import UNet2DModel

    tiny = {
        "sample_size": 32,
        "layers_per_block": 1,
        "block_out_channels": (16, 32),
        "down_block_types": ("DownBlock2D", "AttnDownBlock2D"),
        "up_block_types": ("AttnUpBlock2D", "UpBlock2D"),
        "norm_num_groups": 8,
        "attention_head_dim": 8,
    }
    with _device(size):
        return UNet2DModel(**(tiny if size == "tiny" else {}))


def _unet2d_condition(size: str) -> Any:
    from diffusers import UNet2DConditionModel

    tiny = {
        "sample_size": 16,
        "layers_per_block": 1,
        "block_out_channels": (16, 32),
        "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
        "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
        "cross_attention_dim": 24,
        "attention_head_dim": 4,
        "norm_num_groups": 8,
    }
    with _device(size):
        return UNet2DConditionModel(**(tiny if size == "tiny" else {}))


def _autoencoder_kl(size: str) -> Any:
    from diffusers import AutoencoderKL

    tiny = {
        "down_block_types": ("DownEncoderBlock2D", "DownEncoderBlock2D"),
        "up_block_types": ("UpDecoderBlock2D", "UpDecoderBlock2D"),
        "block_out_channels": (16, 32),
        "latent_channels": 4,
        "norm_num_groups": 8,
        "sample_size": 32,
    }
    with _device(size):
        return AutoencoderKL(**(tiny if size == "tiny" else {}))


def _dit(size: str) -> Any:
    from diffusers import DiTTransformer2DModel

    tiny = {
        "num_attention_heads": 2,
        "attention_head_dim": 8,
        "in_channels": 4,
        "num_layers": 2,
        "sample_size": 8,
        "patch_size": 2,
        "num_embeds_ada_norm": 10,
    }
    with _device(size):
        return DiTTransformer2DModel(**(tiny if size == "tiny" else {}))


def _unet_inputs(model: nn.Module) -> Inputs:
    config = _config(model)
    side = _size(config.sample_size or 64)  # the defaults leave it unset; 64 is Stable Diffusion's latent side
    return [tensor("sample", 1, config.in_channels, side, side), tensor("timestep", 1, dtype="long")]


def _unet_condition_inputs(model: nn.Module) -> Inputs:
    return [*_unet_inputs(model), tensor("encoder_hidden_states", 1, 8, _config(model).cross_attention_dim)]


def _vae_inputs(model: nn.Module) -> Inputs:
    config = _config(model)
    side = min(_size(config.sample_size), 256)
    return [tensor("sample", 1, config.in_channels, side, side)]


def _dit_inputs(model: nn.Module) -> Inputs:
    config = _config(model)
    side = _size(config.sample_size)
    return [
        tensor("hidden_states", 1, config.in_channels, side, side),
        tensor("timestep", 1, dtype="long"),
        tensor("class_labels", 1, dtype="long"),
    ]


DIFFUSERS = [
    Curated("unet2d", "diffusers", "UNet2DModel: ResnetBlock2D, attention down/up blocks", _unet2d, _unet_inputs),
    Curated(
        "unet2d_condition",
        "diffusers",
        "UNet2DConditionModel: cross-attention on text states",
        _unet2d_condition,
        _unet_condition_inputs,
    ),
    Curated("autoencoder_kl", "diffusers", "AutoencoderKL: VAE encoder and decoder", _autoencoder_kl, _vae_inputs),
    Curated("dit", "diffusers", "DiTTransformer2DModel: patchified transformer, adaLN-Zero", _dit, _dit_inputs),
]


# --------------------------------------------------------------------------- papers


class Bottleneck(nn.Module):
    """ResNet bottleneck (He et al. 2016): 1×1 reduce, 3×3, 1×1 expand ×4, plus the shortcut."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = (
            nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet50(nn.Module):
    """ResNet-50's layout: a 7×7 stem, max-pool, bottleneck stages 3-4-6-3, average pool, classifier."""

    def __init__(self, base: int = 64, blocks: tuple[int, ...] = (3, 4, 6, 3), classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, base, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = []
        cin = base
        for i, count in enumerate(blocks):
            width = base * 2**i
            layers = [Bottleneck(cin, width, stride=1 if i == 0 else 2)]
            cin = width * Bottleneck.expansion
            layers += [Bottleneck(cin, width) for _ in range(count - 1)]
            stages.append(nn.Sequential(*layers))
        self.layers = nn.Sequential(*stages)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layers(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


class InvertedResidual(nn.Module):
    """MobileNetV2 block (Sandler et al. 2018): 1×1 expand, 3×3 depthwise, 1×1 linear projection, identity shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2: the paper's table of (expansion, channels, repeats, stride), scaled by `width`."""

    SETTINGS = (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    )

    def __init__(self, width: float = 1.0, classes: int = 1000) -> None:
        super().__init__()

        def scaled(c: int) -> int:
            return max(8, int(c * width + 4) // 8 * 8)

        cin = scaled(32)
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(3, cin, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cin), nn.ReLU6())
        ]
        for expand, channels, repeats, stride in self.SETTINGS:
            cout = scaled(channels)
            for i in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if i == 0 else 1, expand))
                cin = cout
        last = scaled(1280) if width > 1 else 1280
        layers.append(nn.Sequential(nn.Conv2d(cin, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6()))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.classifier(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class DoubleConv(nn.Sequential):
    """Two 3×3 convolutions with ReLU (U-Net's unit; padded here so sizes halve and double exactly)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1),
            nn.ReLU(inplace=True),
        )


class UNet(nn.Module):
    """U-Net (Ronneberger et al. 2015): a contracting path, an expanding path, skip connections concatenated."""

    def __init__(self, in_channels: int = 1, classes: int = 2, base: int = 64, depth: int = 4) -> None:
        super().__init__()
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([DoubleConv(in_channels, widths[0])])
        self.down.extend(DoubleConv(widths[i], widths[i + 1]) for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth))
        )
        self.merge = nn.ModuleList(DoubleConv(widths[i] * 2, widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()
        for up, merge in zip(self.up, self.merge, strict=True):
            x = merge(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998): two convolution and sub-sampling stages, then 120, 84 and 10 units."""

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 5)
        self.s2 = nn.AvgPool2d(2)
        self.c3 = nn.Conv2d(6, 16, 5)
        self.s4 = nn.AvgPool2d(2)
        self.c5 = nn.Linear(16 * 5 * 5, 120)
        self.f6 = nn.Linear(120, 84)
        self.output = nn.Linear(84, classes)
        self.act = nn.Tanh()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s2(self.act(self.c1(x)))
        x = self.s4(self.act(self.c3(x)))
        x = self.act(self.c5(torch.flatten(x, 1)))
        return self.output(self.act(self.f6(x)))


class VGG11(nn.Module):
    """VGG-11 (configuration A, Simonyan and Zisserman 2015), widths divided by `shrink`."""

    LAYOUT = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")

    def __init__(self, shrink: int = 1, side: int = 224, classes: int = 1000) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for item in self.LAYOUT:
            if item == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                cout = int(item) // shrink
                layers += [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
                cin = cout
        self.features = nn.Sequential(*layers)
        hidden = 4096 // shrink
        final = side // 32
        self.classifier = nn.Sequential(
            nn.Linear(cin * final * final, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(),
            nn.Linear(hidden, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


class Seq2Seq(nn.Module):
    """A GRU encoder-decoder (Cho et al. 2014): the decoder runs step by step over the target, teacher-forced."""

    def __init__(self, source_vocab: int = 8000, target_vocab: int = 8000, embed: int = 256, hidden: int = 512) -> None:
        super().__init__()
        self.source_embed = nn.Embedding(source_vocab, embed)
        self.encoder = nn.GRU(embed, hidden, batch_first=True)
        self.target_embed = nn.Embedding(target_vocab, embed)
        self.decoder = nn.GRUCell(embed, hidden)
        self.out = nn.Linear(hidden, target_vocab)

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        _, state = self.encoder(self.source_embed(source))
        h = state[0]
        steps = []
        for t in range(target.shape[1]):
            h = self.decoder(self.target_embed(target[:, t]), h)
            steps.append(self.out(h))
        return torch.stack(steps, dim=1)


def _paper(tiny: Callable[[], nn.Module], full: Callable[[], nn.Module]) -> Callable[[str], nn.Module]:
    def build(size: str) -> nn.Module:
        with _device(size):
            return tiny() if size == "tiny" else full()

    return build


def _side(model: nn.Module, tiny: int, full: int) -> int:
    return full if next(model.parameters()).is_meta else tiny


PAPERS = [
    Curated(
        "resnet50",
        "papers",
        "ResNet-50 layout: bottleneck blocks, projection shortcuts (plain torch)",
        _paper(lambda: ResNet50(base=8, blocks=(2, 2), classes=10), ResNet50),
        lambda m: [tensor("x", 1, 3, _side(m, 64, 224), _side(m, 64, 224))],
    ),
    Curated(
        "mobilenetv2",
        "papers",
        "MobileNetV2: inverted residuals with identity shortcuts (plain torch)",
        _paper(lambda: MobileNetV2(width=0.25, classes=10), MobileNetV2),
        lambda m: [tensor("x", 1, 3, _side(m, 32, 224), _side(m, 32, 224))],
    ),
    Curated(
        "unet",
        "papers",
        "U-Net: contracting and expanding paths, concatenated skips (plain torch)",
        _paper(lambda: UNet(base=8, depth=3), UNet),
        lambda m: [tensor("x", 1, 1, _side(m, 64, 256), _side(m, 64, 256))],
    ),
    Curated(
        "lenet5",
        "papers",
        "LeNet-5: tanh, average sub-sampling (plain torch)",
        _paper(LeNet5, LeNet5),
        lambda m: [tensor("x", 1, 1, 32, 32)],
    ),
    Curated(
        "vgg11",
        "papers",
        "VGG-11 (configuration A) (plain torch)",
        _paper(lambda: VGG11(shrink=8, side=32, classes=10), VGG11),
        lambda m: [tensor("x", 1, 3, _side(m, 32, 224), _side(m, 32, 224))],
    ),
    Curated(
        "gru_seq2seq",
        "papers",
        "GRU encoder-decoder, decoder looped over the target (plain torch)",
        _paper(lambda: Seq2Seq(source_vocab=50, target_vocab=60, embed=16, hidden=32), Seq2Seq),
        lambda m: [tokens("source", "S", 12), tokens("target", "T", 8)],
    ),
]

MODELS: dict[str, Curated] = {m.name: m for m in [*TRANSFORMERS, *DIFFUSERS, *PAPERS]}
"""Every curated model by name."""
