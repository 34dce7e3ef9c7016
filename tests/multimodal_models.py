"""Fixture models for the image tokens modeldoc places in a made-up text (`modeldoc.probe.multimodal`).

Tiny Hugging Face vision-language models built on the meta device (no download, no weights).
"""

from __future__ import annotations

import torch
from torch import nn


def _tiny_glm4v() -> nn.Module:
    from transformers import Glm4vConfig, Glm4vModel

    config = Glm4vConfig(
        text_config={
            "hidden_size": 64,
            "intermediate_size": 128,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "vocab_size": 512,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 10000.0,
                "partial_rotary_factor": 0.5,
                "mrope_section": [2, 1, 1],
            },
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "depth": 1,
            "num_heads": 4,
            "out_hidden_size": 64,
            "image_size": 56,
            "patch_size": 14,
            "spatial_merge_size": 2,
        },
        image_token_id=500,
        video_token_id=501,
        image_start_token_id=502,
        image_end_token_id=503,
    )
    return Glm4vModel(config)


class Captioner(nn.Module):
    """A user's captioner around GLM-4V: its forward requires the image as flattened patches with their grid."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.config = model.config
        self.vlm = model

    def forward(
        self,
        input_ids: torch.Tensor,
        pixel_values: torch.Tensor,
        image_grid_thw: torch.Tensor,
        mm_token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out = self.vlm(
            input_ids=input_ids,
            pixel_values=pixel_values,
            image_grid_thw=image_grid_thw,
            mm_token_type_ids=mm_token_type_ids,
        )
        return out.last_hidden_state


def meta_glm4v_captioner() -> nn.Module:
    """`Captioner` around a tiny GLM-4V, on the meta device."""
    with torch.device("meta"):
        return Captioner(_tiny_glm4v())


class Codec(nn.Module):
    """A model that defines no forward: its encoder and decoder are called on their own (like Bark or a VQ-VAE)."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(8, 4)
        self.decoder = nn.Linear(4, 8)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)
