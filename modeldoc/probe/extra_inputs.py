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

from modeldoc.probe import guard, hf_example, multimodal
from modeldoc.probe.hf_example import GRIDS, forward_parameters, read_config

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
                value = read_config(holder, name)
                if value is not None and not callable(value):
                    return value
        return default

    def image_size(self) -> tuple[int, int]:
        size = self.find("image_size", "img_size", "input_size", "max_img_size", default=IMAGE_SIZE)
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


def _random(shape: tuple[int, ...], device: torch.device, *, uniform: bool = False) -> torch.Tensor:
    """Random values of `shape` on `device` (seeded, normal or in [0, 1)); on the meta device, none are drawn."""
    if device.type == "meta":
        return torch.empty(shape, device=device)
    generator = torch.Generator().manual_seed(0)
    values = torch.rand(shape, generator=generator) if uniform else torch.randn(shape, generator=generator)
    return values.to(device)


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
    places = _image_places(ctx)
    fallback = TEXT_LENGTH + places

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens = _tokens(made)
        length = int(tokens.shape[1]) if tokens is not None else fallback
        return torch.ones((_batch(made), length), dtype=torch.long, device=_device(made))

    if places:
        return MadeUp(
            param.name,
            f"token ids, all 1: {fallback} tokens, {TEXT_LENGTH} of text and {places} places for the image's "
            "embeddings (the config's latent_query_num)",
            build,
        )
    return MadeUp(param.name, "token ids, all 1 (a text as long as the other token input, or 16 tokens)", build)


def _image_places(ctx: _Context) -> int:
    """Token places a model writes its image embeddings into (Kosmos-2's latent_query_num), 0 for none."""
    if "image_embeds_position_mask" not in forward_parameters(ctx.module):
        return 0
    count = ctx.find("latent_query_num")
    return count if isinstance(count, int) and count > 0 else 0


@_maker("image_embeds_position_mask")
def _image_embeds_position_mask(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    places = _image_places(ctx)
    if not places:
        return None

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens = _tokens(made)
        if tokens is None or tokens.shape[1] < places + 1:
            raise ValueError(
                f"input_ids must be at least {places + 1} tokens long to hold the image's {places} embeddings"
            )
        mask = torch.zeros(tuple(tokens.shape[:2]), dtype=torch.long, device=tokens.device)
        mask[:, 1 : places + 1] = 1
        return mask

    return MadeUp(
        param.name,
        f"1 at token places 1 to {places}, where the image's {places} embeddings go (the config's latent_query_num), "
        "0 elsewhere",
        build,
    )


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
    if any(name in forward_parameters(ctx.module) for name in _PATCH_PLACES):
        return _patch_rows_image(ctx, param, channels)

    frames = ctx.find("num_frames")
    frames = frames if isinstance(frames, int) and frames > 0 else 0
    shape = (channels, height, width) if not frames else (frames, channels, height, width)
    if IMAGES_PER_TEXT in forward_parameters(ctx.module):  # a text's images, each attended by its tokens (IDEFICS)
        return _images_of_text(param, (channels, height, width))

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), *shape), _device(made))

    image = f"{channels} channels × {height} × {width} pixels (the config's image size)"
    what = (
        f"a random image of {image}"
        if not frames
        else f"a random video of {frames} frames (the config's num_frames) of {image}"
    )
    return MadeUp(param.name, what, build)


IMAGES_PER_TEXT = "image_attention_mask"
"""A forward parameter that says which of a text's images each token sees: its pixel_values hold images per text."""


def _images_of_text(param: inspect.Parameter, image: tuple[int, int, int]) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), 1, *image), _device(made))

    channels, height, width = image
    return MadeUp(
        param.name,
        f"one random image per text (the forward takes {IMAGES_PER_TEXT}: images × {channels} channels × {height} × "
        f"{width} pixels, the config's image size)",
        build,
    )


@_maker(IMAGES_PER_TEXT)
def _image_attention_mask(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens, pixels = _tokens(made), made.get("pixel_values")
        if tokens is None or pixels is None or pixels.dim() != 5:
            raise ValueError(f"{param.name} needs token ids and images per text (5-axis pixel_values)")
        shape = (int(tokens.shape[0]), int(tokens.shape[1]), int(pixels.shape[1]))
        return torch.ones(shape, dtype=torch.long, device=tokens.device)

    return MadeUp(param.name, "ones (batch × tokens × images): every token sees every image of its text", build)


_PATCH_PLACES = ("pixel_position_ids", "spatial_shapes")
"""Parameters that place patches: a forward that takes one reads its image as rows of patches (Gemma 4, SigLIP 2)."""


def _patch_rows_image(ctx: _Context, param: inspect.Parameter, channels: int) -> MadeUp | None:
    """One random image as (batch, patches, values per patch): a square of patches, a multiple of the pooling kernel."""
    patch = ctx.find("patch_size")
    if not isinstance(patch, int) or patch < 1:
        return None
    patches = ctx.find("num_patches")
    kernel = ctx.find("pooling_kernel_size", default=1)
    kernel = kernel if isinstance(kernel, int) and kernel > 0 else 1
    if isinstance(patches, int) and patches > 0 and math.isqrt(patches) ** 2 == patches:
        side, said = math.isqrt(patches), "the config's num_patches"
    else:
        side = max(kernel, ctx.image_size()[0] // patch // kernel * kernel)
        said = "the config's image size" + (
            f", rounded to a multiple of pooling_kernel_size {kernel}" if kernel > 1 else ""
        )
    values = channels * patch * patch

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), side * side, values), _device(made))

    return MadeUp(
        param.name,
        f"a random image as {side} × {side} patches ({said}) of {channels} × {patch} × {patch} = {values} values",
        build,
    )


@_maker("hidden_states")
def _hidden_states(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    if _patch_grid_parameter(ctx):
        return _flat_patches(ctx, param)
    reader = _first_reader(ctx.module)
    if not isinstance(reader, nn.Conv1d):
        return None
    channels = int(reader.in_channels)
    audio = channels <= 2
    steps = AUDIO_SAMPLES if audio else TEXT_LENGTH

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), channels, steps), _device(made))

    held = f"{steps} samples, one second of 16 kHz audio" if audio else f"{steps} steps"
    return MadeUp(
        param.name,
        f"random signals: {channels} channel{'s' if channels != 1 else ''} (what the first Conv1d reads) × {held}",
        build,
    )


def _patch_grid_parameter(ctx: _Context) -> str:
    """The forward's grid parameter when the model reads an image as flattened patches with a grid (Qwen-VL)."""
    names = forward_parameters(ctx.module)
    return next((name for name in GRIDS if name in names), "")


def _patch_layout(ctx: _Context) -> tuple[int, int, int, str] | None:
    """(values per patch, patches per side, merge, why that side) of a flattened-patch vision model, from its config."""
    patch = ctx.find("patch_size", "spatial_patch_size")
    temporal = ctx.find("temporal_patch_size", default=1)
    channels = ctx.find("in_channels", "in_chans", "num_channels", default=3)
    merge = ctx.find("spatial_merge_size", "merge_size", default=1)
    if not all(isinstance(v, int) and v > 0 for v in (patch, temporal, channels, merge)):
        return None
    height, _ = ctx.image_size()
    token = multimodal.image_token(ctx.find, forward_parameters(ctx.module))
    side, why = multimodal.patch_side(token, max(merge, (height // patch) // merge * merge), merge)
    return channels * temporal * patch * patch, side, merge, why


def _flat_patches(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    layout = _patch_layout(ctx)
    if layout is None:
        return None
    values, side, _, why = layout

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((side * side, values), _device(made))

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


for _name in GRIDS:
    _MAKERS[_name] = _grid


@_maker("input_values")
def _input_values(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    chosen = _chosen_shape(ctx, "input_values")
    if chosen is not None:
        shape, reads = chosen

        def build_chosen(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
            return _random((_batch(made), *shape[1:]), _device(made))

        axes = " × ".join(str(a) for a in shape[1:])
        return MadeUp(
            param.name,
            f"random audio of {axes} per sample, the shape modeldoc chooses for input_values"
            + (f" (read from {', '.join(reads)})" if reads else " (one second at 16 kHz)"),
            build_chosen,
        )
    channels = ctx.find("audio_channels", default=None)

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        shape = (
            (_batch(made), AUDIO_SAMPLES) if not isinstance(channels, int) else (_batch(made), channels, AUDIO_SAMPLES)
        )
        return _random(shape, _device(made))

    return MadeUp(param.name, "one second of random 16 kHz audio", build)


def _chosen_shape(ctx: _Context, name: str) -> tuple[list[int], tuple[str, ...]] | None:
    """The batched shape (all sizes numbers) `hf_example` gives input `name` of a transformers model, else None."""
    config = hf_example.config_of(ctx.module, ctx.config)
    if config is None:
        return None
    got = guard.attempt(lambda: hf_example.shape_of(ctx.module, config, name), f"choosing the shape of {name}")
    if isinstance(got, guard.Failed) or got is None:
        return None
    shape, reads = got
    if len(shape) < 2 or not all(isinstance(a, int) and a > 0 for a in shape):
        return None
    return [int(a) for a in shape], reads


@_maker("input_features")
def _input_features(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    stacked = ctx.find("feature_projection_input_dim")
    if "input_values" in forward_parameters(ctx.module) and isinstance(stacked, int):
        return _codec_features(ctx, param, stacked)
    mels = ctx.find("num_mel_bins", "feature_size", "n_mels")
    spec = ctx.find("spec_size")
    if isinstance(spec, int) and isinstance(mels, int) and 0 < mels <= spec:
        return _spectrogram_image(ctx, param, spec, mels)
    positions = ctx.find("max_source_positions")
    if not isinstance(mels, int):
        return None
    frames = 2 * positions if isinstance(positions, int) and ctx.find("num_mel_bins") is not None else AUDIO_FRAMES

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), mels, frames), _device(made))

    return MadeUp(param.name, f"random audio features: {mels} mel bins × {frames} frames", build)


def _spectrogram_image(ctx: _Context, param: inspect.Parameter, spec: int, mels: int) -> MadeUp:
    """A spectrogram read as a square image of ``spec_size`` (CLAP): (batch, crops, frames, mels)."""
    crops = 4 if ctx.find("enable_fusion") is True else 1
    frames = spec * (spec // mels)

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), crops, frames, mels), _device(made))

    return MadeUp(
        param.name,
        f"a random spectrogram of {crops} crop{'s' if crops != 1 else ''} × {frames} frames × {mels} mel bins: the "
        f"frames the config's spec_size {spec} holds ({spec} × {spec} // {mels})",
        build,
    )


def _codec_features(ctx: _Context, param: inspect.Parameter, width: int) -> MadeUp:
    """The features a codec's semantic encoder reads beside its raw audio: one frame per code frame of the audio."""
    ratios = ctx.find("downsampling_ratios")
    hop = math.prod(ratios) if isinstance(ratios, list | tuple) and all(isinstance(r, int) for r in ratios) else 0

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        audio = made.get("input_values")
        samples = int(audio.shape[-1]) if audio is not None else AUDIO_SAMPLES
        frames = max(1, samples // hop) if hop else AUDIO_FRAMES
        return _random((_batch(made), frames, width), _device(made))

    per = f"one per {hop} samples of input_values (the product of the config's downsampling_ratios)"
    return MadeUp(
        param.name,
        f"random audio features of {width} values (the config's feature_projection_input_dim), "
        f"{per if hop else f'{AUDIO_FRAMES} frames'}",
        build,
    )


TRAJECTORY = ("actions", "rewards", "returns_to_go", "timesteps")
"""The inputs beside ``states`` of a model of trajectories (Decision Transformer), each one per step of the states."""


def _trajectory(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    """One input of a trajectory beside its ``states``: the actions, rewards, returns to go or the step numbers."""
    if "states" not in forward_parameters(ctx.module) or not isinstance(ctx.find("act_dim"), int):
        return None
    width = ctx.find("act_dim") if param.name == "actions" else 1

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        states = made.get("states")
        if states is None or states.dim() != 3:
            raise ValueError(f"no states (batch × steps × state_dim) to shape {param.name} after")
        steps = (int(states.shape[0]), int(states.shape[1]))
        if param.name == "timesteps":
            return torch.arange(steps[1], device=states.device).expand(steps[0], -1)
        return torch.zeros((*steps, width), device=states.device)

    if param.name == "timesteps":
        return MadeUp(param.name, "0, 1, 2, … along the steps of states: each state's step number", build)
    what = {
        "actions": f"zeros: no action taken yet at each step of states, {width} values each (the config's act_dim)",
        "rewards": "zeros: no reward at each step of states",
        "returns_to_go": "zeros: a return to go of 0 at each step of states",
    }[param.name]
    return MadeUp(param.name, what, build)


@_maker("timestep", "timesteps")
def _timestep(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    if param.name == "timesteps" and "states" in forward_parameters(ctx.module):
        return _trajectory(ctx, param)

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.ones(_batch(made), dtype=torch.long, device=_device(made))

    return MadeUp(param.name, "the diffusion step 1 for every sample", build)


# --------------------------------------------------------------------------- masks and positions by name


_MASK_SUFFIXES = ("_attention_mask", "_masks", "_mask")
_SOURCE_ENDINGS = ("", "_values", "_feats", "_features", "_input_ids", "_ids")
"""What follows a mask's prefix in the name of the input it masks: ``pixel`` → ``pixel_values``."""

PADDING_IS_TRUE = frozenset({"audio_mel_mask"})
"""Masks that mark padding (not the positions kept) with True: Gemma 3n's audio encoder."""


def _mask_source(name: str, params: Mapping[str, inspect.Parameter]) -> str:
    """The forward parameter a mask named `name` masks (``input_features_mask`` → ``input_features``), or ""."""
    for suffix in _MASK_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            prefix = name[: -len(suffix)]
            return next((prefix + end for end in _SOURCE_ENDINGS if prefix + end in params), "")
    return ""


def _source_mask(ctx: _Context, param: inspect.Parameter, source: str) -> MadeUp:
    """Ones over the positions of `source` (its batch and sequence axes; height and width for an image)."""
    padding_true = param.name in PADDING_IS_TRUE
    boolean = padding_true or "bool" in str(param.annotation).lower()
    dtype = torch.bool if boolean else torch.long

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tensor = made.get(source)
        if tensor is None:
            raise ValueError(f"no {source} to shape {param.name} after")
        shape = _positions(ctx, source, tensor)
        fill = torch.zeros if padding_true else torch.ones
        return fill(shape, dtype=dtype, device=tensor.device)

    if padding_true:
        what = f"False at every position of {source}: no position is padding (this mask marks padding with True)"
    else:
        what = f"ones over the positions of {source}: every position is kept (no padding)"
    return MadeUp(param.name, what, build)


def _positions(ctx: _Context, source: str, tensor: torch.Tensor) -> tuple[int, ...]:
    """The axes a mask over `tensor` covers: batch and sequence, or batch, height and width of an image."""
    shape = tuple(int(s) for s in tensor.shape)
    if len(shape) <= 2:
        return shape
    if len(shape) == 4 and source.startswith("pixel"):
        return (shape[0], shape[2], shape[3])
    return (shape[0], shape[_sequence_axis(ctx, shape)])


_FEATURE_COUNTS = ("num_mel_bins", "n_mels", "feature_size", "input_feat_size", "feature_projection_input_dim")


def _sequence_axis(ctx: _Context, shape: tuple[int, ...]) -> int:
    """The sequence axis of a (batch, ·, ·) input: not the features the config or the first layer names (else 1)."""
    for name in _FEATURE_COUNTS:
        count = ctx.find(name)
        if isinstance(count, int) and count in shape[1:3] and shape[1] != shape[2]:
            return 2 if shape[1] == count else 1
    reader = _first_reader(ctx.module)
    if isinstance(reader, nn.Conv1d) and reader.in_channels == shape[1]:
        return 2
    return 1


def _first_reader(module: nn.Module) -> nn.Module | None:
    """The first Conv1d, Conv2d, Linear or LayerNorm registered in `module` (the likeliest reader of its input)."""
    readers = (nn.Conv1d, nn.Conv2d, nn.Linear, nn.LayerNorm)
    found = guard.attempt(
        lambda: next((m for m in module.modules() if isinstance(m, readers)), None), "finding the first layer"
    )
    return None if isinstance(found, guard.Failed) else found


def _named_maker(name: str, params: Mapping[str, inspect.Parameter]) -> Maker | None:
    """The maker for parameter `name`: by its exact name, else a mask over the input its name points to."""
    make = _MAKERS.get(name)
    if make is not None:
        return make
    source = _mask_source(name, params)
    if source:
        return lambda ctx, param: _source_mask(ctx, param, source)
    return None


def _square(count: int) -> tuple[int, int]:
    """The most nearly square grid of `count` cells: rows × columns."""
    rows = math.isqrt(count)
    while rows > 1 and count % rows:
        rows -= 1
    return max(rows, 1), count // max(rows, 1)


def _patch_rows(made: Mapping[str, torch.Tensor], ctx: _Context) -> int:
    """Patches per image in ``pixel_values``: axis 1 of (batch, patches, values), else the image's patch count."""
    pixels = made.get("pixel_values")
    if pixels is not None and pixels.dim() == 3:
        return int(pixels.shape[1])
    patch = ctx.find("patch_size", default=16)
    height, width = (int(pixels.shape[-2]), int(pixels.shape[-1])) if pixels is not None else ctx.image_size()
    patch = patch if isinstance(patch, int) and patch > 0 else 16
    return max(1, (height // patch) * (width // patch))


@_maker("spatial_shapes")
def _spatial_shapes(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        rows, cols = _square(_patch_rows(made, ctx))
        return torch.tensor([[rows, cols]] * _batch(made), dtype=torch.long, device=_device(made))

    return MadeUp(
        param.name, "the patch grid of each image: its patches as the most nearly square rows × columns", build
    )


@_maker("target_sizes")
def _target_sizes(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        rows, cols = _image_grid(made, ctx)
        return torch.tensor([[rows, cols]] * _batch(made), dtype=torch.int32, device=_device(made))

    return MadeUp(param.name, "the patch grid of each image: its height and width in patches", build)


def _image_grid(made: Mapping[str, torch.Tensor], ctx: _Context) -> tuple[int, int]:
    pixels = made.get("pixel_values")
    patch = ctx.find("patch_size", default=16)
    patch = patch if isinstance(patch, int) and patch > 0 else 16
    if pixels is not None and pixels.dim() == 4:
        return max(1, int(pixels.shape[-2]) // patch), max(1, int(pixels.shape[-1]) // patch)
    return _square(_patch_rows(made, ctx))


@_maker("pixel_position_ids")
def _pixel_position_ids(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        rows, cols = _square(_patch_rows(made, ctx))
        ys, xs = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
        grid = torch.stack([xs.flatten(), ys.flatten()], dim=-1)
        return grid.expand(_batch(made), -1, -1).to(_device(made))

    return MadeUp(
        param.name,
        "the (x, y) place of each patch, row by row on the most nearly square grid of the patches (none is padding)",
        build,
    )


@_maker("merge_sizes")
def _merge_sizes(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    merge = ctx.find("spatial_merge_size", "merge_size")
    named = isinstance(merge, int) and merge >= 1
    size = merge if named else 1
    said = "the config's spatial_merge_size" if named else "no merging; the config names no merge size"

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        images = next((int(made[n].shape[0]) for n in GRIDS if n in made), 1)
        return torch.full((images,), size, dtype=torch.long, device=_device(made))

    return MadeUp(param.name, f"the merge size of each image: {size} ({said})", build)


@_maker("position_ids", "decoder_position_ids")
def _position_ids(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    source = "decoder_input_ids" if param.name.startswith("decoder") else "input_ids"

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        tokens = made.get(source)
        length = int(tokens.shape[1]) if tokens is not None and tokens.dim() == 2 else TEXT_LENGTH
        return torch.arange(length, device=_device(made)).expand(_batch(made), -1)

    return MadeUp(param.name, f"0, 1, 2, … along {source}: each token at its place", build)


# --------------------------------------------------------------------------- inputs of model families, by name


@_maker("query_embeds")
def _query_embeds(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    hidden = ctx.find("hidden_size")
    queries = ctx.find("num_query_tokens")
    if not isinstance(hidden, int):
        return None
    count = queries if isinstance(queries, int) and queries > 0 else QUERY_TOKENS
    said = "the config's num_query_tokens" if count == queries else "BLIP-2's default; the config names no count"

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), count, hidden), _device(made))

    return MadeUp(param.name, f"{count} random query embeddings ({said}) of {hidden} values", build)


@_maker("encoder_hidden_states")
def _encoder_hidden_states(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    width = ctx.find("encoder_hidden_size")
    if not isinstance(width, int):
        return None

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), TEXT_LENGTH, width), _device(made))

    return MadeUp(
        param.name,
        f"{TEXT_LENGTH} random states of the encoder it attends to, {width} values each (the config's "
        "encoder_hidden_size; the length is a choice, the config names none)",
        build,
    )


for _name in TRAJECTORY[:3]:
    _MAKERS[_name] = _trajectory


@_maker("decoder_input_values")
def _decoder_input_values(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    hidden = ctx.find("hidden_size", "d_model")
    if not isinstance(hidden, int):
        return None

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        values = made.get("input_values")
        if values is None or values.dim() != 3 or int(values.shape[-1]) != hidden:
            raise ValueError(f"decoder_input_values are made only beside input_values of {hidden}-wide vectors")
        return _random(tuple(values.shape), values.device)

    return MadeUp(
        param.name,
        f"random decoder inputs shaped like input_values: vectors of {hidden} values (the config's hidden size), as "
        "the encoder reads them (a model with no prenet)",
        build,
    )


@_maker("context_hidden_states")
def _context_hidden_states(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    hidden = ctx.find("hidden_size")
    layers = ctx.find("target_layer_ids")
    if not isinstance(hidden, int) or not isinstance(layers, list | tuple) or not layers:
        return None
    width = hidden * len(layers)

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), TEXT_LENGTH, width), _device(made))

    return MadeUp(
        param.name,
        f"{TEXT_LENGTH} random context states of the target model: its {len(layers)} layers named by the config's "
        f"target_layer_ids, {hidden} values each (hidden_size), side by side: {width} values (the length is a choice)",
        build,
    )


QUERY_TOKENS = 32
"""Learned queries of a Q-Former whose config names no count (BLIP-2's default)."""
VISUAL_REGIONS = 36
"""Image regions of made-up region features (LXMERT's usual count of detected boxes per image)."""


@_maker("task_inputs")
def _task_inputs(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    length = ctx.find("task_seq_len", default=TEXT_LENGTH)

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.ones((_batch(made), length), dtype=torch.long, device=_device(made))

    return MadeUp(param.name, f"the task prompt's token ids, all 1, {length} long (the config's task_seq_len)", build)


def _like(source: str, what: str, fill: Callable[..., torch.Tensor]) -> Maker:
    """A maker of a tensor shaped like the input `source` (made or given before it)."""

    def make(ctx: _Context, param: inspect.Parameter) -> MadeUp:
        def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
            tensor = made.get(source)
            if tensor is None:
                raise ValueError(f"no {source} to shape {param.name} after")
            return fill(tensor)

        return MadeUp(param.name, what, build)

    return make


_MAKERS["prompt_masks"] = _like(
    "pixel_values", "ones shaped like pixel_values: the prompt's mask covers the whole prompt image", torch.ones_like
)
_MAKERS["past_values_padding"] = _like(
    "past_values", "zeros shaped like past_values: no value is padding", lambda t: torch.zeros_like(t, dtype=torch.long)
)


def _random_like(tensor: torch.Tensor) -> torch.Tensor:
    return _random(tuple(tensor.shape), tensor.device)


_MAKERS["prompt_pixel_values"] = _like(
    "pixel_values", "a random prompt image shaped like pixel_values (the image it is shown beside)", _random_like
)


@_maker("freq")
def _freq(ctx: _Context, param: inspect.Parameter) -> MadeUp:
    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.zeros((_batch(made), 1), dtype=torch.long, device=_device(made))

    return MadeUp(param.name, "the frequency class 0 (high frequency) for every series", build)


@_maker("visual_feats", "visual_pos")
def _visual_regions(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    key = "visual_feat_dim" if param.name == "visual_feats" else "visual_pos_dim"
    width = ctx.find(key)
    if not isinstance(width, int):
        return None

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), VISUAL_REGIONS, width), _device(made), uniform=True)

    kind = "features" if param.name == "visual_feats" else "box positions"
    return MadeUp(
        param.name,
        f"random region {kind} in [0, 1): {VISUAL_REGIONS} regions (a usual count of detected boxes) × {width} "
        f"(the config's {key})",
        build,
    )


@_maker("lang_ids")
def _lang_ids(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    languages = ctx.find("languages")
    if not isinstance(languages, list | tuple) or not languages:
        return None

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return torch.zeros(_batch(made), dtype=torch.long, device=_device(made))

    return MadeUp(param.name, f"language 0 for every sample: the adapter of {languages[0]}, the config's first", build)


@_maker("action_embeds")
def _action_embeds(ctx: _Context, param: inspect.Parameter) -> MadeUp | None:
    chunk = ctx.find("chunk_size")
    dit = read_config(ctx.config, "dit_config") if ctx.config is not None else None
    hidden = read_config(dit, "hidden_size") if dit is not None else None
    if not isinstance(chunk, int) or not isinstance(hidden, int):
        return None

    def build(made: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return _random((_batch(made), chunk + 1, hidden), _device(made))

    return MadeUp(
        param.name,
        f"random embeddings of the robot state and {chunk} actions (the config's chunk_size), {hidden} values each "
        "(the action expert's hidden size)",
        build,
    )


# --------------------------------------------------------------------------- which to make


_COMPANIONS = (
    "input_ids",
    "pixel_values",
    "input_features",
    "visual_feats",
    "visual_pos",
    "encoder_hidden_states",
    "decoder_input_ids",
    "decoder_input_values",
    "attention_mask",
    "input_features_mask",
    "token_type_ids",
    "bbox",
    "qformer_input_ids",
    "lang_ids",
    "target_sizes",
    "image_embeds_position_mask",
)
"""Optional inputs made up when a pass without them failed, in the order they are built."""


def given_names(module: nn.Module, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[str]:
    """The forward parameters the given inputs bind to (positional ones in order, then the keywords)."""
    params = [p.name for p in forward_parameters(module).values() if p.kind != inspect.Parameter.KEYWORD_ONLY]
    return params[: len(args)] + list(kwargs)


def made_up(module: nn.Module, given: list[str], *, optional: bool) -> tuple[MadeUp, ...]:
    """The inputs to make up for `module`'s forward when `given` are the parameters it receives.

    Every required parameter that was not given, when a maker knows it; with `optional`, also the
    optional companions (`_COMPANIONS`) the forward takes. Parameters a maker cannot build are
    left out: the pass then says what was missing.
    """
    params = forward_parameters(module)
    if not params:
        return ()
    ctx = _Context(module)
    wanted = [name for name, p in params.items() if p.default is inspect.Parameter.empty and name not in given]
    if optional:
        wanted += [name for name in _COMPANIONS if name in params and name not in given and name not in wanted]
    if any(name in GRIDS for name in wanted) or (
        _patch_grid_parameter(ctx) and any(name in ("pixel_values", "hidden_states") for name in wanted)
    ):
        grid = _patch_grid_parameter(ctx)
        wanted += [grid] if grid and grid not in given and grid not in wanted else []
    if "pixel_values" in wanted and IMAGES_PER_TEXT in params and IMAGES_PER_TEXT not in {*given, *wanted}:
        wanted.append(IMAGES_PER_TEXT)
    if optional and "states" in given:  # a trajectory's other inputs, one per step of its states
        wanted += [name for name in TRAJECTORY if name in params and name not in given and name not in wanted]
    if "pixel_values" in wanted and any(name in params for name in _PATCH_PLACES):  # patch rows need their places
        wanted += [
            name
            for name in params
            if (name in _PATCH_PLACES or _mask_source(name, params) == "pixel_values")
            and name not in given
            and name not in wanted
        ]
    if not {"input_ids", "decoder_input_ids", "qformer_input_ids"} & {*given, *wanted}:
        wanted = [  # nothing to shape a text mask after (a mask over another input, pixel_attention_mask, stays)
            name for name in wanted if not name.endswith("attention_mask") or _mask_source(name, params)
        ]
    order = {name: i for i, name in enumerate(_COMPANIONS)}
    wanted.sort(key=lambda name: (_is_derived(name, params), order.get(name, -1)))
    out: list[MadeUp] = []
    for name in wanted:
        source = _mask_source(name, params)
        if source and source not in given and all(m.name != source for m in out):
            continue  # a mask over an input that is neither given nor made up
        make = _named_maker(name, params)
        made = make(ctx, params[name]) if make is not None else None
        if made is not None:
            out.append(made)
    layout = _patch_layout(ctx)
    token = multimodal.image_token(ctx.find, params) if layout is not None else None
    texts = multimodal.text_inputs(token, layout[2] if layout else 1, [m.name for m in out], params)
    return (*out, *(MadeUp(*made) for made in texts))


_DERIVED = frozenset(
    {
        *GRIDS,
        "spatial_shapes",
        "target_sizes",
        "pixel_position_ids",
        "merge_sizes",
        "prompt_masks",
        "prompt_pixel_values",
        "past_values_padding",
        IMAGES_PER_TEXT,
    }
)


def _is_derived(name: str, params: Mapping[str, inspect.Parameter]) -> bool:
    """True for an input shaped after another (a mask, a grid, positions): it is built after the inputs it reads."""
    return name in _DERIVED or name.endswith("position_ids") or bool(_mask_source(name, params))


OTHER_KINDS = frozenset({"pixel_values", "input_features", "visual_feats", "visual_pos", "encoder_hidden_states"})
"""Made-up companions that bring another kind of input (an image, audio, region features, encoder states)."""


def same_modality(made: tuple[MadeUp, ...]) -> tuple[MadeUp, ...]:
    """`made` without the companions of another kind of input and the masks over them (empty when none is left out)."""
    kept = tuple(m for m in made if m.name not in OTHER_KINDS and _mask_source(m.name, _KIND_PARAMS) not in OTHER_KINDS)
    return kept if len(kept) < len(made) else ()


_KIND_PARAMS = {name: inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY) for name in OTHER_KINDS}


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
