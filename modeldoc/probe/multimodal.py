"""Image tokens in the text of a vision-language model whose image inputs modeldoc made up.

A Qwen-VL-like model (GLM-4V, Qwen-Omni, ...) reads an image as flattened patches with their grid
(``pixel_values`` and ``image_grid_thw``) and scatters the image features into the text at the
positions that hold its image token (``config.image_token_id``): the text must hold exactly one
image token per feature, or the model stops ("Image features and image tokens do not match").
When modeldoc makes the image up (`modeldoc.probe.extra_inputs`), it also makes the text fit:

- the image is small enough that its features fit in a short text: `FEATURE_SIDE` × `FEATURE_SIDE`
  merged patches (a grid of ``FEATURE_SIDE · merge`` patches a side), so that the sizes of the text
  axis and of the image never depend on each other;
- the token ids are the given ones with the first ``t · h · w / merge²`` set to the image token,
  where ``t · h · w`` is the number of patches (as the model counts its features);
- ``mm_token_type_ids`` (when the forward takes it) marks those positions as image (1), the rest as
  text (0), for the model's multimodal rotary positions.

Each is a `MadeUp` entry, so the page says what the text holds.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import torch

FEATURE_SIDE = 2
"""Merged patches a side of a made-up image whose features go into the text: 2 × 2 = 4 image tokens."""
IMAGE_TOKEN_KEYS = ("image_token_id", "image_token_index")
"""Config keys that name the image token, in the order they are looked up."""
_PATCHES = ("pixel_values", "hidden_states")
_TYPES = "mm_token_type_ids"

Made = tuple[str, str, Callable[[Mapping[str, torch.Tensor]], torch.Tensor]]
"""A made-up input as (forward parameter, what it holds, how to build it from the inputs made so far)."""


def image_token(find: Callable[..., Any], params: Collection[str]) -> int | None:
    """The image token id (read with the config finder `find`) when the forward also takes token ids, else None."""
    if "input_ids" not in params:
        return None
    token = find(*IMAGE_TOKEN_KEYS)
    return token if isinstance(token, int) and not isinstance(token, bool) and token >= 0 else None


def patch_side(token: int | None, side: int, merge: int) -> tuple[int, str]:
    """Patches a side of a made-up flattened image, and why.

    `side` (from the config's image size), unless the model has an image token whose features must
    fit in the text: then `FEATURE_SIDE` merged patches.
    """
    if token is None:
        return side, "the config's image size"
    return (
        FEATURE_SIDE * merge,
        f"{FEATURE_SIDE} × {FEATURE_SIDE} image features, so that their image tokens fit in the text",
    )


def text_inputs(token: int | None, merge: int, made: Collection[str], params: Collection[str]) -> list[Made]:
    """The token ids (and token types) that hold one image token per feature of the made-up image.

    Empty unless flattened patches and their grid are among the `made` inputs of a model with an image token.
    """
    if token is None or not set(made) & set(_PATCHES) or not any("grid" in name for name in made):
        return []
    out = [_token_ids(token, merge)]
    if _TYPES in params:
        out.append(_token_types(token))
    return out


def _features(made: Mapping[str, torch.Tensor], merge: int) -> int:
    """Features of the made-up image: its patches (t · h · w rows) over merge², as the model merges them."""
    patches = next((made[n] for n in _PATCHES if n in made), None)
    return 0 if patches is None else int(patches.shape[0]) // (merge * merge)


def _token_ids(token: int, merge: int) -> Made:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        ids = made.get("input_ids")
        if ids is None or ids.dim() != 2:
            raise ValueError("no input_ids to place the image tokens in")
        count = _features(made, merge)
        if count > ids.shape[1]:
            raise ValueError(f"the text of {ids.shape[1]} tokens is shorter than the image's {count} features")
        out = ids.clone()
        out[:, :count] = token
        return out

    return (
        "input_ids",
        f"the token ids with the first t·h·w / {merge}² (one per image feature: the made-up image's patches over "
        f"the merge size squared) set to the image token {token} (the config's image_token_id), the rest as given",
        build,
    )


def _token_types(token: int) -> Made:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return (made["input_ids"] == token).to(torch.int)

    return (_TYPES, "token types: 1 (image) where input_ids holds the image token, 0 (text) elsewhere", build)
