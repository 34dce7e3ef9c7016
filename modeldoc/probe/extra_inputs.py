"""The inputs a model needs beside the ones given, made up from its forward's signature and its config.

A user names one input (``--input-shape input_ids:1,L=16``); many models need more: an encoder-decoder
needs ``decoder_input_ids``, CLIP-like models need both ``input_ids`` and ``pixel_values``, a
Qwen-VL vision tower needs flattened patches with their ``grid_thw``. `missing` lists the forward
parameters that must be made up: every required one (no default) that was not given, and, when a
pass without them failed (``optional=True``), the optional ones a model of that kind is called with.
`made_up` builds each from what was given (its batch size and length) and the model's config
(``image_size``, ``num_channels``, ``decoder_start_token_id``, ...), with a sentence that says what it
holds. Each `MadeUp` input is rebuilt at every size of the named axes, so that the symbolic passes see
the same inputs. The page lists every made-up input (``TraceSpec.made_up``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from modeldoc.probe import guard, multimodal

TEXT_LENGTH = 16
"""Tokens in a made-up text input when no given input fixes the length."""
AUDIO_SAMPLES = 16000
"""Samples of made-up raw audio: one second at 16 kHz."""
AUDIO_FRAMES = 128
"""Frames of made-up audio features."""
IMAGE_SIZE = 224
"""Height and width of a made-up image when the config names none."""


@dataclass(frozen=True)
class MadeUp:
    """One made-up input: its forward parameter, what it holds, and how to build it from the other inputs."""

    name: str
    what: str
    build: Callable[[Mapping[str, torch.Tensor]], torch.Tensor]
    """The tensor, from the inputs made so far (by forward parameter name), on their device."""


class _Context:
    """What the makers read: the model, its config, the forward's parameters and the inputs made so far."""

    def __init__(self, module: nn.Module) -> None:
        self.module = module
        config = guard.attempt(lambda: getattr(module, "config", None), "reading the model's config")
        self.config = None if isinstance(config, guard.Failed) else config

    def find(self, *names: str, default: Any = None) -> Any:
        """The first of `names` set on the config or one of its sub-configs (``vision_config``, ...)."""
        for holder in _configs(self.config):
            for name in names:
                value = _read(holder, name)
                if value is not None and not callable(value):
                    return value
        return default

    def image_size(self) -> tuple[int, int]:
        size = self.find("image_size", "img_size", "input_size", default=IMAGE_SIZE)
        if isinstance(size, Mapping):
            size = size.get("height", size.get("shortest_edge", IMAGE_SIZE))
        if isinstance(size, list | tuple):
            sizes = [s for s in size if isinstance(s, int)][-2:] or [IMAGE_SIZE]
            return sizes[0], sizes[-1]
        return (size, size) if isinstance(size, int) and size > 0 else (IMAGE_SIZE, IMAGE_SIZE)


def _configs(config: Any) -> list[Any]:
    """`config` and the configs it holds (``text_config``, ``vision_config``, ``encoder``, ...), nearest first."""
    if config is None:
        return []
    found = [config]
    attrs = getattr(config, "__dict__", {})
    for name in sorted(attrs) if isinstance(attrs, dict) else []:
        value = attrs[name]
        if hasattr(value, "to_dict") and hasattr(value, "model_type"):
            found.append(value)
    return found


def _read(holder: Any, name: str) -> Any:
    got = guard.attempt(lambda: getattr(holder, name, None), f"reading config.{name}")
    return None if isinstance(got, guard.Failed) else got


# --------------------------------------------------------------------------- what given inputs tell


def _batch(made: Mapping[str, torch.Tensor]) -> int:
    """The batch size: axis 0 of the first input made so far (1 when there is none)."""
    first = next((t for t in made.values() if t.dim() >= 1), None)
    return int(first.shape[0]) if first is not None else 1


def _device(made: Mapping[str, torch.Tensor]) -> torch.device:
    first = next(iter(made.values()), None)
    return first.device if first is not None else torch.device("cpu")


def _tokens(made: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    """The token ids made so far (an integer tensor of two axes), to take the length from."""
    for name in ("input_ids", "decoder_input_ids", "qformer_input_ids"):
        tensor = made.get(name)
        if tensor is not None and tensor.dim() == 2 and not tensor.dtype.is_floating_point:
            return tensor
    return None


# --------------------------------------------------------------------------- the makers


Maker = Callable[[_Context, inspect.Parameter], "MadeUp | None"]
_MAKERS: dict[str, Maker] = {}


def _maker(*names: str) -> Callable[[Maker], Maker]:
    def register(make: Maker) -> Maker:
        for name in names:
            _MAKERS[name] = make
        return make

    return register


@_maker("input_ids", "qformer_input_ids")
def _input_ids(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens = _tokens(made)
        length = int(tokens.shape[1]) if tokens is not None else TEXT_LENGTH
        return torch.ones((_batch(made), length), dtype=torch.long, device=_device(made))

    return MadeUp(param.name, "token ids, all 1 (a text as long as the other token input, or 16 tokens)", build)


@_maker("decoder_input_ids")
def _decoder_input_ids(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    start = ctx.find("decoder_start_token_id", "pad_token_id", default=0)
    start = start if isinstance(start, int) and start >= 0 else 0

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens = _tokens(made)
        length = int(tokens.shape[1]) if tokens is not None else TEXT_LENGTH
        return torch.full((_batch(made), length), start, dtype=torch.long, device=_device(made))

    return MadeUp(
        param.name,
        f"decoder token ids, all {start} (the decoder start token), as long as the input text (or 16 tokens)",
        build,
    )


def _mask_of(source: str, dtype: torch.dtype = torch.long) -> Maker:
    def make(ctx: _Context, param: inspect.Parameter) -> MadeUp:
        def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
            tokens = made.get(source)
            if tokens is None:
                tokens = _tokens(made)
            if tokens is None:
                raise ValueError(f"no {source} to shape {param.name} after")
            return torch.ones(tuple(tokens.shape[:2]), dtype=dtype, device=tokens.device)

        return MadeUp(param.name, f"ones shaped like {source}: every position is attended (no padding)", build)

    return make


_MAKERS["attention_mask"] = _mask_of("input_ids")
_MAKERS["decoder_attention_mask"] = _mask_of("decoder_input_ids")
_MAKERS["qformer_attention_mask"] = _mask_of("qformer_input_ids")


@_maker("token_type_ids")
def _token_type_ids(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens = _tokens(made)
        if tokens is None:
            raise ValueError("no token ids to shape token_type_ids after")
        return torch.zeros_like(tokens)

    return MadeUp(param.name, "zeros shaped like input_ids: every token is in the first segment", build)


@_maker("bbox")
def _bbox(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens = _tokens(made)
        length = int(tokens.shape[1]) if tokens is not None else TEXT_LENGTH
        return torch.zeros((_batch(made), length, 4), dtype=torch.long, device=_device(made))

    return MadeUp(param.name, "a bounding box of zeros (0, 0, 0, 0) for every token", build)


@_maker("pixel_values")
def _pixel_values(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    if _patch_grid_parameter(ctx):
        return _flat_patches(ctx, param)
    channels = ctx.find("num_channels", "in_channels", "in_chans", "image_channels", default=3)
    height, width = ctx.image_size()
    if not isinstance(channels, int):
        return None

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        image = torch.randn((_batch(made), channels, height, width), generator=generator)
        return image.to(_device(made))

    return MadeUp(
        param.name,
        f"a random image of {channels} channels × {height} × {width} pixels (the config's image size)",
        build,
    )


@_maker("hidden_states")
def _hidden_states(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    return _flat_patches(ctx, param) if _patch_grid_parameter(ctx) else None


_GRIDS = ("grid_thw", "image_grid_thw")


def _patch_grid_parameter(ctx: _Context) -> str:
    """The forward's grid parameter when the model reads an image as flattened patches with a grid (Qwen-VL)."""
    names = _parameters(ctx.module)
    return next((name for name in _GRIDS if name in names), "")


def _patch_layout(ctx: _Context) -> tuple[int, int, int, str] | None:
    """(values per patch, patches per side, merge, why that side) of a flattened-patch vision model, from its config."""
    patch = ctx.find("patch_size", "spatial_patch_size")
    temporal = ctx.find("temporal_patch_size", default=1)
    channels = ctx.find("in_channels", "in_chans", "num_channels", default=3)
    merge = ctx.find("spatial_merge_size", "merge_size", default=1)
    if not all(isinstance(v, int) and v > 0 for v in (patch, temporal, channels, merge)):
        return None
    height, _ = ctx.image_size()
    token = multimodal.image_token(ctx.find, _parameters(ctx.module))
    side, why = multimodal.patch_side(token, max(merge, (height // patch) // merge * merge), merge)
    return channels * temporal * patch * patch, side, merge, why


def _flat_patches(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    layout = _patch_layout(ctx)
    if layout is None:
        return None
    values, side, _, why = layout

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        return torch.randn((side * side, values), generator=generator).to(_device(made))

    return MadeUp(
        param.name,
        f"one image as {side} × {side} flattened patches of {values} values each (random; {why})",
        build,
    )


def _grid(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    layout = _patch_layout(ctx)
    if layout is None:
        return None
    _, side, merge, why = layout

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.tensor([[1, *_square_grid(made, side, merge)]], dtype=torch.long, device=_device(made))

    return MadeUp(
        param.name,
        f"the patch grid of one image: 1 frame, its patch rows as a square (√rows × √rows; {side} × {side}: {why})",
        build,
    )


def _square_grid(made: Mapping[str, torch.Tensor], side: int, merge: int) -> tuple[int, int]:
    """The grid of the flattened patches in `made`: a square of their rows, when they make one, else side × side."""
    patches = next((made[n] for n in ("hidden_states", "pixel_values") if n in made), None)
    if patches is not None and patches.dim() == 2:
        root = math.isqrt(int(patches.shape[0]))
        if root > 0 and root * root == patches.shape[0] and root % merge == 0:
            return root, root
    return side, side


for _name in _GRIDS:
    _MAKERS[_name] = _grid


@_maker("input_values")
def _input_values(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    channels = ctx.find("audio_channels", default=None)

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        shape = (
            (_batch(made), AUDIO_SAMPLES) if not isinstance(channels, int) else (_batch(made), channels, AUDIO_SAMPLES)
        )
        return torch.randn(shape, generator=generator).to(_device(made))

    return MadeUp(param.name, "one second of random 16 kHz audio", build)


@_maker("input_features")
def _input_features(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    mels = ctx.find("num_mel_bins", "feature_size", "n_mels")
    positions = ctx.find("max_source_positions")
    if not isinstance(mels, int):
        return None
    frames = 2 * positions if isinstance(positions, int) and ctx.find("num_mel_bins") is not None else AUDIO_FRAMES

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        generator = torch.Generator().manual_seed(0)
        return torch.randn((_batch(made), mels, frames), generator=generator).to(_device(made))

    return MadeUp(param.name, f"random audio features: {mels} mel bins × {frames} frames", build)


@_maker("timestep", "timesteps")
def _timestep(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.ones(_batch(made), dtype=torch.long, device=_device(made))

    return MadeUp(param.name, "the diffusion step 1 for every sample", build)


# --------------------------------------------------------------------------- which to make


_COMPANIONS = (
    "input_ids",
    "pixel_values",
    "decoder_input_ids",
    "attention_mask",
    "token_type_ids",
    "bbox",
    "qformer_input_ids",
)
"""Optional inputs made up when a pass without them failed, in the order they are built."""


def _parameters(module: nn.Module) -> dict[str, inspect.Parameter]:
    """The forward's named parameters (``self``, ``*args`` and ``**kwargs`` left out)."""
    forward = guard.attempt(lambda: inspect.signature(module.forward), "reading the forward's signature")
    if isinstance(forward, guard.Failed):
        return {}
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {name: p for name, p in forward.parameters.items() if p.kind in kinds}


def given_names(module: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[str]:
    """The forward parameters the given inputs bind to (positional ones in order, then the keywords)."""
    params = [p.name for p in _parameters(module).values() if p.kind != inspect.Parameter.KEYWORD_ONLY]
    return params[: len(args)] + list(kwargs)


def made_up(module: nn.Module, given: list[str], *, optional: bool) -> tuple[MadeUp, ...]:
    """The inputs to make up for `module`'s forward when `given` are the parameters it receives.

    Every required parameter that was not given, when a maker knows it; with `optional`, also the
    optional companions (`_COMPANIONS`) the forward takes. Parameters a maker cannot build are
    left out: the pass then says what was missing.
    """
    params = _parameters(module)
    if not params:
        return ()
    ctx = _Context(module)
    wanted = [name for name, p in params.items() if p.default is inspect.Parameter.empty and name not in given]
    if optional:
        wanted += [name for name in _COMPANIONS if name in params and name not in given and name not in wanted]
    if any(name in _GRIDS for name in wanted) or (
        _patch_grid_parameter(ctx) and any(name in ("pixel_values", "hidden_states") for name in wanted)
    ):
        grid = _patch_grid_parameter(ctx)
        wanted += [grid] if grid and grid not in given and grid not in wanted else []
    order = {name: i for i, name in enumerate(_COMPANIONS)}
    wanted.sort(key=lambda name: order.get(name, -1))
    out = []
    for name in wanted:
        make = _MAKERS.get(name)
        made = make(ctx, params[name]) if make is not None else None
        if made is not None:
            out.append(made)
    layout = _patch_layout(ctx)
    token = multimodal.image_token(ctx.find, params) if layout is not None else None
    texts = multimodal.text_inputs(token, layout[2] if layout else 1, [m.name for m in out], params)
    return (*out, *(MadeUp(*made) for made in texts))


def nbytes(made: tuple[MadeUp, ...], given: Mapping[str, torch.Tensor]) -> int:
    """The bytes the made-up inputs take next to `given` (built on the meta device to count)."""
    return sum(math.prod(t.shape) * t.element_size() for t in build_all(made, given).values())


def build_all(made: tuple[MadeUp, ...], given: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Each made-up input, built in order next to `given` (each may read the ones before it)."""
    inputs = dict(given)
    out = {}
    for item in made:
        tensor = item.build(inputs)
        inputs[item.name] = tensor
        out[item.name] = tensor
    return out
