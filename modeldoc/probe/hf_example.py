"""The example input of a Hugging Face model, chosen from its config when the user gives none.

A user who names a transformers model without ``--input-shape`` still gets a probed page: the
model's main input (``main_input_name``, or the forward's first parameter when that is not one of
it) is given the shape a user would most likely type, read from the config and from the model's
first layers. `choose` returns the input and what it was read from (``Chosen.reads``), so the
page can say that modeldoc chose it, and from which keys. An input the user gives always wins.

The rules, by the main input's name:

- ``input_ids``: ``1 × L=16`` token ids;
- ``pixel_values``: an image ``1 × C × H × W`` (``num_channels``, ``image_size``; 224 when the
  config has none), its side a multiple of the patch size times ``num_windows`` when the config
  windows its patches, or ``patch_size / min(scaled_images_ratios)`` for a model that tiles the
  image into patches of its ``patch_size`` at several scales; a pair of images ``1 × 2 × C × H × W``
  for keypoint matchers (`IMAGE_PAIRS`); flattened patches ``rows × values`` when the forward takes a
  patch grid (``grid_thw``), the values being the patch embedding's ``in_features`` (or its
  convolution's input channels times its kernel), the rows a square of patches whose side is a
  multiple of the merge size; patch rows ``1 × patches × C·P²`` when the forward places patches
  (`PATCH_PLACES`); half the config's height when the forward stacks a prompt image above it
  (`PROMPT_IMAGE`); a video ``1 × T × C × H × W`` when the config has ``num_frames`` (or
  4 frames for a video model type whose config names none);
- ``pixel_values_videos``: ``1 × T × C × H × W``, at most `MAX_FRAMES` frames, a multiple of the
  tubelet;
- ``input_values``: a spectrogram ``1 × max_length × mels`` (AST-like), or one second of 16 kHz
  audio ``1 × samples`` (``1 × channels × samples`` for codecs), the samples rounded up to a
  multiple of the config's hop (``hop_length``, ``frame_size``, the product of ``patch_sizes`` or
  ``upsampling_ratios``), with a channel axis where the forward's docstring gives one;
- ``input_features`` (or an input named after mels, ``audio_mel``): Whisper-like
  ``1 × mels × 2·max_source_positions``; ``1 × mels × frames`` in whole chunks of ``2·n_window``
  (Qwen audio); Speech2Text's ``1 × 128 × (features per channel · channels)``; ``1 × 128 × mels`` when a 2-d convolution
  subsamples time and mels (conformers) or the mel count is what the first layer reads;
  ``1 × C × 128`` when a Conv1d of C channels reads the mels first;
- ``past_values``: ``1 × (context + max lag) [× channels]`` (time series);
- anything else: ``1 × C × 16`` when a Conv1d or ConvTranspose1d reads first (channels first),
  else ``1 × 16 × width`` (the config's ``<name>_dim``, else its hidden size).
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from torch import nn

from modeldoc.options import InputOption, ModelOptions, make_input
from modeldoc.probe import guard

SEQUENCE = 16
"""Length of the token example (``input_ids: 1 × L=16``) and of other sequences."""
AUDIO_SAMPLES = 16000
"""One second of raw 16 kHz audio for ``input_values``."""
FRAMES = 128
"""Spectrogram frames for ``input_features`` that are not Whisper-like (a multiple of the usual subsampling factors)."""
IMAGE_SIZE = 224
"""The image side when the config names none."""
PATCH_SIDE = 16
"""Patches per side of flattened patches when the config names no image size."""
VIDEO_FRAMES = 4
"""Frames of a video example when the config names no frame count (the four frames InstructBLIP-Video samples)."""
MAX_FRAMES = 16
"""Frames of a video example at most: a page documents shapes, and a long clip only costs memory."""
IMAGE_PAIRS = ("efficientloftr", "lightglue", "superglue")
"""Model types (``config.model_type``) whose ``pixel_values`` are pairs of images to match: ``1 × 2 × C × H × W``."""
CHANNEL_AXIS_AUDIO = ("omniasr_audio", "omniasr_ctc")
"""Model types whose raw audio ``input_values`` keep a channel axis (``1 × 1 × samples``) no config key names."""
PATCHES_AS_IMAGES = ("kimi_k25_vision",)
"""Model types whose patch grid ``pixel_values`` are patches as small images, ``rows × C × P × P``, not flattened."""
PATCH_PLACES = ("spatial_shapes", "pixel_position_ids")
"""Forward parameters that place patches: a model that takes one reads its image as rows of patches (SigLIP 2)."""
PROMPT_IMAGE = "prompt_pixel_values"
"""A forward parameter of an image shown beside the main one and stacked with it along the height (SegGPT)."""
GRIDS = ("grid_thw", "image_grid_thw")
"""Forward parameters that mark a vision model reading an image as flattened patches with a grid (Qwen-VL)."""
_HOPS = ("hop_length", "frame_size", "patch_sizes", "upsampling_ratios")
"""Config keys whose value (or product) raw audio must be a multiple of."""


@dataclass(frozen=True)
class Chosen:
    """The example input modeldoc chose for a model, and what it read to choose it."""

    input: InputOption
    reads: tuple[str, ...]
    """What the shape came from: ``"image_size=224"``, ``"vision_config.patch_size=16"``,
    ``"the first Conv1d's in_channels (80)"``."""

    def shape_text(self) -> str:
        """``pixel_values: 1 × 3 × 224 × 224 float32``."""
        return f"{self.input.keyword}: {' × '.join(str(a) for a in self.input.axes())} {self.input.dtype}"

    def sentence(self) -> str:
        """What the page says: the example was modeldoc's choice, read from the config, not the user's."""
        return (
            f"no example input was given, so modeldoc chose {self.shape_text()} from the model's config and "
            f"first layers (read from {', '.join(self.reads)}); pass --input-shape to probe another"
        )


@dataclass
class _Reader:
    """Reads config keys and first layers, recording each value it used."""

    model: nn.Module
    config: Any
    reads: list[str] = field(default_factory=list)
    unbatched: bool = False
    """Set by a rule whose shape has no batch axis (flattened patches): no axis is named N and probed at two sizes."""

    def find(self, *names: str, default: Any = None) -> Any:
        """The first of `names` set on the config or one of its sub-configs (``vision_config``, ...), recorded."""
        for prefix, holder in _configs(self.config):
            for name in names:
                value = read_config(holder, name)
                if value is not None and not callable(value):
                    self.note(f"{prefix}{name}={_short(value)}")
                    return value
        return default

    def has(self, *names: str) -> bool:
        """True when one of `names` is set on the config or a sub-config (nothing recorded)."""
        return any(read_config(h, n) is not None for _, h in _configs(self.config) for n in names)

    def note(self, text: str) -> None:
        if text not in self.reads:
            self.reads.append(text)

    def first(self, *types: type[nn.Module]) -> nn.Module | None:
        """The first module of `types` registered in the model."""
        return next((m for m in _modules(self.model) if isinstance(m, types)), None)

    def image_size(self) -> tuple[int, int]:
        size = self.find("image_size", "img_size", "input_size", "crop_size", default=IMAGE_SIZE)
        if isinstance(size, dict):
            side = size.get("shortest_edge", IMAGE_SIZE)
            size = size.get("height", side), size.get("width", side)
        if isinstance(size, list | tuple):
            sides = [s for s in size if isinstance(s, int)][-2:] or [IMAGE_SIZE]
            return sides[0], sides[-1]
        return (size, size) if isinstance(size, int) and size > 0 else (IMAGE_SIZE, IMAGE_SIZE)


def _configs(config: Any) -> list[tuple[str, Any]]:
    """`config` and its sub-configs two levels deep (``audio_config.dac_config``), nearest first, with prefixes."""
    found = [("", config)]
    for depth in range(2):
        level = [(p, c) for p, c in found if p.count(".") == depth]
        for prefix, holder in level:
            attrs = getattr(holder, "__dict__", {})
            for name in sorted(attrs) if isinstance(attrs, dict) else []:
                value = attrs[name]
                if hasattr(value, "to_dict") and hasattr(value, "model_type"):
                    found.append((f"{prefix}{name}.", value))
    return found


def read_config(config: Any, name: str) -> Any:
    """``config.name``, or None when it is unset or the config refuses to answer (a per-layer value)."""
    got = guard.attempt(lambda: getattr(config, name, None), f"reading config.{name}")
    return None if isinstance(got, guard.Failed) else got


def _modules(model: nn.Module) -> list[nn.Module]:
    got = guard.attempt(lambda: list(model.modules()), "listing the model's modules")
    return [] if isinstance(got, guard.Failed) else got


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= 40 else text[:37] + "..."


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# --------------------------------------------------------------------------- the rules, by input name

Shape = list[int | str]


def _tokens(r: _Reader) -> Shape:
    r.note(f"a text of {SEQUENCE} tokens")
    if r.has("codebook_vocab_size") and r.has("num_codebooks"):  # a text stream and audio codebook streams (Kyutai)
        r.find("codebook_vocab_size")
        return [1, f"L={SEQUENCE}", 1 + r.find("num_codebooks")]
    return [1, f"L={SEQUENCE}"]


def _pixels(r: _Reader) -> Shape:
    if _grid_parameter(r.model):
        patches = _flat_patches(r)
        if patches is not None:
            return patches
    channels = r.find("num_channels", "in_channels", "in_chans", "image_channels", default=3)
    rows = _patch_rows(r, channels)
    if rows is not None:
        return rows
    height, width = _image_sides(r)
    if PROMPT_IMAGE in _parameters(r.model) and height % 2 == 0:  # the prompt image is stacked above it (SegGPT)
        height //= 2
        r.note(f"the forward takes {PROMPT_IMAGE}: the config's image height holds the prompt and the image, each half")
    image: Shape = [1, channels, height, width]
    if getattr(r.config, "model_type", None) in IMAGE_PAIRS:
        r.note(f"model_type={r.config.model_type} (matches a pair of images)")
        return [1, 2, channels, height, width]
    model_type = str(getattr(r.config, "model_type", ""))
    if r.has("num_frames"):  # a video model (TimeSformer, VideoMAE, ViViT): its position embeddings fix the frames
        return [1, r.find("num_frames"), *image[1:]]
    if "video" in model_type:  # a video model whose config names no frame count (InstructBLIP-Video)
        r.note(f"model_type={model_type} (a video of {VIDEO_FRAMES} frames)")
        return [1, VIDEO_FRAMES, *image[1:]]
    return image


def _patch_rows(r: _Reader, channels: Any) -> Shape | None:
    """``1 × patches × values``: an image as rows of patches, for a forward that places them (SigLIP 2, Gemma 4)."""
    placing = next((name for name in PATCH_PLACES if name in _parameters(r.model)), "")
    if not placing or not _positive(channels) or not r.has("patch_size"):
        return None
    patch = r.find("patch_size")
    if not _positive(patch):
        return None
    r.note(f"the forward takes {placing}: the image as rows of flattened patches")
    count = r.find("num_patches") if r.has("num_patches") else 0
    if _positive(count) and math.isqrt(int(count)) ** 2 == count:
        side = math.isqrt(int(count))
    else:
        kernel = r.find("pooling_kernel_size") if r.has("pooling_kernel_size") else 1
        kernel = kernel if _positive(kernel) else 1
        side = max(kernel, r.image_size()[0] // patch // kernel * kernel)
    return [1, side * side, channels * patch * patch]


def _image_sides(r: _Reader) -> tuple[int, int]:
    if r.has("scaled_images_ratios") and r.has("patch_size"):
        ratios, patch = r.find("scaled_images_ratios"), r.find("patch_size")
        if isinstance(ratios, list | tuple) and ratios and _positive(patch) and min(ratios) > 0:
            side = math.ceil(patch / min(ratios))  # the smallest scale must still hold one patch (DepthPro)
            return side, side
    height, width = r.image_size()
    if not (r.has("num_windows") and r.has("patch_size")):
        return height, width
    windows, patch = r.find("num_windows"), r.find("patch_size")
    if _positive(patch) and _positive(windows):  # windowed attention: whole windows of whole patches (RF-DETR)
        multiple = patch * windows
        return max(multiple, height // multiple * multiple), max(multiple, width // multiple * multiple)
    return height, width


def _grid_parameter(model: nn.Module) -> str:
    return next((name for name in GRIDS if name in _parameters(model)), "")


def _flat_patches(r: _Reader) -> Shape | None:
    """``rows × values``: flattened patches, as a Qwen-VL-like vision tower reads them with a patch grid."""
    embed = r.first(nn.Linear, nn.Conv2d, nn.Conv3d)
    if isinstance(embed, nn.Linear):
        values = embed.in_features
        r.note(f"the patch embedding's in_features ({values})")
    elif isinstance(embed, nn.Conv2d | nn.Conv3d):
        values = embed.in_channels * math.prod(embed.kernel_size)
        r.note(f"the patch embedding's in_channels × kernel ({values})")
    else:
        return None
    r.unbatched = True
    merge = r.find("spatial_merge_size", "merge_size", default=1)
    merge = merge if _positive(merge) else 1
    patch = r.find("patch_size", "spatial_patch_size")
    side = PATCH_SIDE
    if _positive(patch) and r.has("image_size"):
        side = r.image_size()[0] // patch
    side = max(merge, side // merge * merge)
    if getattr(r.config, "model_type", None) in PATCHES_AS_IMAGES and isinstance(embed, nn.Conv2d):
        r.note(f"model_type={r.config.model_type} (each patch an image of its own)")
        return [side * side, embed.in_channels, *embed.kernel_size]
    return [side * side, values]


def _video(r: _Reader) -> Shape:
    frames = r.find("num_frames", "frames_per_clip", default=8)
    tubelet = r.find("tubelet_size") if r.has("tubelet_size") else 1
    tubelet = tubelet if _positive(tubelet) else 1
    if _positive(frames) and frames > MAX_FRAMES:
        frames = max(tubelet, MAX_FRAMES // tubelet * tubelet)
    channels = r.find("num_channels", "in_channels", "in_chans", default=3)
    return [1, frames, channels, *_image_sides(r)]


def _audio_values(r: _Reader) -> Shape:
    if r.has("num_mel_bins") and r.has("max_length"):
        return [1, r.find("max_length"), r.find("num_mel_bins")]  # a spectrogram (Audio Spectrogram Transformer)
    if not _reads_raw_audio(r):  # an encoder without a feature extractor reads feature vectors (SpeechT5Model)
        r.note("no convolution of one input channel and no hop in the config: a sequence of feature vectors")
        return [1, SEQUENCE, _width(r)]
    samples = _samples(r)
    channels = r.find("audio_channels", "channels")
    documented = _documented_shape(r.model, "input_values")
    if not _positive(channels) and len(documented) == 3 and documented[1] == "1":
        r.note(f"the forward's docstring: input_values of shape ({', '.join(documented)})")
        channels = 1
    codec = r.has("codebook_size", "n_codebooks", "num_codebooks")
    if getattr(r.config, "model_type", None) in CHANNEL_AXIS_AUDIO:
        r.note(f"model_type={r.config.model_type} (a waveform with a channel axis)")
        channels = 1
    if codec or _positive(channels):
        if codec and not _positive(channels):
            r.find("codebook_size", "n_codebooks", "num_codebooks")
        return [1, channels if _positive(channels) else 1, samples]
    return [1, samples]


def _documented_shape(model: nn.Module, name: str) -> list[str]:
    """The axes the forward's docstring gives input `name` (``(batch_size, 1, sequence_length)``), else []."""
    doc = guard.attempt(lambda: type(model).forward.__doc__ or "", "reading the forward's docstring")
    if isinstance(doc, guard.Failed):
        return []
    found = re.search(rf"\b{re.escape(name)} \(`[^`]*` of shape `\(([^`)]*)\)`", doc)
    return [axis.strip() for axis in found.group(1).split(",")] if found else []


def _reads_raw_audio(r: _Reader) -> bool:
    """True when the model reads a waveform: a convolution of one channel, a hop in the config, or a codec."""
    if r.has(*_HOPS, "codebook_size", "n_codebooks", "num_codebooks", "audio_channels"):
        return True
    convs = [m for m in _modules(r.model) if isinstance(m, nn.Conv1d | nn.Conv2d)]
    return any(m.in_channels == 1 for m in convs) or r.first(nn.Linear, nn.LayerNorm) is None


def _samples(r: _Reader) -> int:
    """One second of audio, rounded up to a multiple of the config's hop."""
    multiple = 1
    for name in _HOPS:
        if not r.has(name):
            continue
        value = r.find(name)
        if isinstance(value, list | tuple) and value and all(_positive(v) for v in value):
            value = math.prod(value)
        if _positive(value):
            multiple = math.lcm(multiple, value)
    if multiple > AUDIO_SAMPLES:
        return multiple
    return math.ceil(AUDIO_SAMPLES / multiple) * multiple


def _audio_features(r: _Reader) -> Shape:  # noqa: PLR0911 - one return per layout
    whisper = r.has("max_source_positions") and r.has("num_mel_bins")
    positions = r.find("max_source_positions") if whisper else None
    if isinstance(positions, int) and positions > 0:
        return [1, r.find("num_mel_bins"), 2 * positions]  # Whisper-like: mels × frames, two frames per position
    if r.has("n_window") and r.has("num_mel_bins"):  # Qwen's audio encoders cut the mel frames into chunks
        chunk = 2 * r.find("n_window")
        r.note(f"mel frames in whole chunks of 2·n_window = {chunk}")
        return [1, r.find("num_mel_bins"), math.ceil(FRAMES / chunk) * chunk]
    if r.has("input_feat_per_channel"):  # Speech2Text: frames × (features per channel · channels)
        return [1, FRAMES, r.find("input_feat_per_channel") * r.find("input_channels", default=1)]
    mel_keys = ("num_mel_bins", "n_mels", "feature_size", "input_feat_size")
    first = r.first(nn.Conv1d, nn.Conv2d, nn.Linear, nn.LayerNorm)
    if isinstance(first, nn.Conv1d):
        if r.has(*mel_keys) and r.find(*mel_keys) != first.in_channels:
            return [1, FRAMES, r.find(*mel_keys)]  # the first Conv1d reads something else (UnivNet's noise)
        r.note(f"the first Conv1d's in_channels ({first.in_channels})")
        return [1, first.in_channels, FRAMES]  # channels first: the conv reads the features as its channels
    subsampling = any(isinstance(m, nn.Conv2d) and m.in_channels == 1 for m in _modules(r.model))
    if isinstance(first, nn.Conv2d) or subsampling:  # a conformer: 2-d convolutions subsample frames × mels
        if r.has(*mel_keys):
            return [1, FRAMES, r.find(*mel_keys)]
        features = _subsampled_features(r)
        if features is not None:
            return [1, FRAMES, features]
    if isinstance(first, nn.Linear):
        stacked = _stacked_mels(r, first, mel_keys)
        if stacked is not None:
            return [1, FRAMES, stacked]
        r.note(f"the first Linear's in_features ({first.in_features})")
        return [1, FRAMES, first.in_features]
    if isinstance(first, nn.LayerNorm):
        r.note(f"the first LayerNorm's width ({first.normalized_shape[-1]})")
        return [1, FRAMES, first.normalized_shape[-1]]
    return [1, FRAMES, 80]


def _stacked_mels(r: _Reader, linear: nn.Linear, mel_keys: tuple[str, ...]) -> int | None:
    """The mel count when the first Linear reads ``subsampling_factor`` stacked frames of them (Nemotron), else None."""
    if not (r.has(*mel_keys) and r.has("subsampling_factor")):
        return None
    mels, factor = r.find(*mel_keys), r.find("subsampling_factor")
    if _positive(mels) and _positive(factor) and mels * factor == linear.in_features:
        r.note(f"the first Linear's in_features ({linear.in_features}): {factor} stacked frames")
        return int(mels)
    return None


def _subsampled_features(r: _Reader) -> int | None:
    """The feature count a 2-d subsampling (Conv2d of one channel, then a Linear over channels × features) reads.

    The Linear's ``in_features`` is the last convolution's channels times the features left after
    the convolutions' strides along the feature axis.
    """
    convs: list[nn.Conv2d] = []
    for module in _modules(r.model):
        if isinstance(module, nn.Linear) and convs:
            channels = convs[-1].out_channels
            stride = math.prod(c.stride[-1] for c in convs)
            if module.in_features % channels:
                return None
            features = module.in_features // channels * stride
            r.note(
                f"{len(convs)} Conv2d subsampling the features by {stride} into {channels} channels, then a Linear "
                f"of in_features {module.in_features}: {features} features"
            )
            return features
        if isinstance(module, nn.Conv2d):
            if not convs and module.in_channels != 1:
                return None
            convs.append(module)
    return None


def _series(r: _Reader) -> Shape:
    lags = r.find("lags_sequence", default=[0]) or [0]
    length = r.find("context_length", default=32) + max(lags)
    channels = r.find("num_input_channels", "input_size", default=1)
    return [1, length, channels] if channels > 1 or r.has("num_input_channels") else [1, length]


def _other(r: _Reader, name: str) -> Shape:
    if name == "hidden_states" and _grid_parameter(r.model):  # a Qwen-VL vision tower's flattened patches
        patches = _flat_patches(r)
        if patches is not None:
            return patches
    first = r.first(nn.Conv1d, nn.ConvTranspose1d, nn.Linear, nn.Embedding, nn.LayerNorm, nn.Conv2d)
    sequence = name.endswith("embeds")  # vectors along a sequence, whatever reads them
    if isinstance(first, nn.Conv1d | nn.ConvTranspose1d) and not sequence:
        r.note(f"the first {type(first).__name__}'s in_channels ({first.in_channels})")
        return [1, first.in_channels, SEQUENCE]  # channels first (a codec's latents)
    own = f"{name.rstrip('s')}_dim"
    if r.has(own):
        return [1, SEQUENCE, r.find(own)]
    return [1, SEQUENCE, _width(r)]


def _width(r: _Reader) -> int:
    """The model's hidden width: the config's hidden size, else the first LayerNorm's or Linear's."""
    hidden = r.find("hidden_size", "d_model", "n_embd", "embed_dim", "dim")
    if _positive(hidden):
        return int(hidden)
    first = r.first(nn.LayerNorm, nn.Linear)
    if isinstance(first, nn.LayerNorm):
        r.note(f"the first LayerNorm's width ({first.normalized_shape[-1]})")
        return int(first.normalized_shape[-1])
    if isinstance(first, nn.Linear):
        r.note(f"the first Linear's in_features ({first.in_features})")
        return first.in_features
    return 64


_SHAPES: dict[str, Callable[[_Reader], Shape]] = {
    "input_ids": _tokens,
    "pixel_values": _pixels,
    "pixel_values_videos": _video,
    "input_values": _audio_values,
    "input_features": _audio_features,
    "past_values": _series,
}


def forward_parameters(module: nn.Module) -> dict[str, inspect.Parameter]:
    """The forward's named parameters (``self``, ``*args`` and ``**kwargs`` left out)."""
    got = guard.attempt(lambda: inspect.signature(module.forward), "reading the forward's signature")
    if isinstance(got, guard.Failed):
        return {}
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {name: p for name, p in got.parameters.items() if p.kind in kinds}


def _parameters(model: nn.Module) -> list[str]:
    return list(forward_parameters(model))


def _reads_declared(r: _Reader, declared: str) -> bool:
    """True when the first layer reads what `declared` names: a waveform (one channel) for ``input_values``."""
    if declared != "input_values":
        return True
    first = r.first(nn.Conv1d, nn.Linear, nn.LayerNorm)
    return isinstance(first, nn.Conv1d) and first.in_channels == 1


def main_input(model: nn.Module) -> str:
    """The model's main input: ``main_input_name`` when the forward takes it, else the forward's first parameter."""
    name = getattr(model, "main_input_name", "") or ""
    name = name[0] if isinstance(name, list | tuple) and name else name
    params = _parameters(model)
    if params and str(name) not in params:
        tensors = [p for p in params if _may_be_tensor(model, p)]
        return tensors[0] if tensors else params[0]
    return str(name) or "input_ids"


def _may_be_tensor(model: nn.Module, name: str) -> bool:
    """False for a forward parameter annotated with a type that is not a tensor (an inference session)."""
    got = guard.attempt(lambda: inspect.signature(model.forward).parameters[name].annotation, "reading an annotation")
    if isinstance(got, guard.Failed) or got is inspect.Parameter.empty:
        return True
    return "Tensor" in (got if isinstance(got, str) else repr(got))


def choose(model: nn.Module, config: Any) -> Chosen:
    """The example input of `model` (built from `config`), and what the shape was read from."""
    name = main_input(model)
    reader = _Reader(model, config)
    declared = getattr(model, "main_input_name", None)
    if name != declared:
        reader.note(f"the forward's first parameter {name} (it takes no main_input_name {declared})")
    else:
        reader.note(f"main_input_name={name}")
    rule = _SHAPES.get(name)
    if rule is None and "mel" in name.split("_"):  # mel frames by another name (Gemma 3n's audio_mel)
        rule = _audio_features
        reader.note(f"read as input_features ({name} names mel frames)")
    if rule is None and declared in _SHAPES and declared != "input_ids" and _reads_declared(reader, str(declared)):
        rule = _SHAPES[str(declared)]  # the forward's own name for it (VibeVoice reads input_values as hidden_states)
        reader.note(f"read as {declared}")
    shape = rule(reader) if rule is not None else _other(reader, name)
    dtype = "long" if name == "input_ids" else "float32"
    option = make_input(shape, dtype=dtype, keyword=name, where=f"the example modeldoc chose for {name}")
    if reader.unbatched:
        option = replace(option, axis_names=("",) * len(option.shape))
    return Chosen(option, tuple(reader.reads))


def shape_of(model: nn.Module, config: Any, name: str) -> tuple[Shape, tuple[str, ...]] | None:
    """The shape the rule for input `name` gives `model` (as if it were the main input) and what it read, else None."""
    rule = _SHAPES.get(name)
    if rule is None:
        return None
    reader = _Reader(model, config)
    return rule(reader), tuple(reader.reads)


def config_of(module: nn.Module, config: Any = None) -> Any:
    """The transformers config `module` was built from (`config` when given), or None for another model."""
    if config is None:
        config = guard.attempt(lambda: getattr(module, "config", None), "reading the model's config")
        config = None if isinstance(config, guard.Failed) else config
    is_transformers = type(config).__module__.startswith("transformers.") and hasattr(config, "model_type")
    return config if is_transformers else None


def with_default_example(module: nn.Module, options: ModelOptions, config: Any = None) -> ModelOptions:
    """`options` with the example modeldoc chooses for a Hugging Face `module`, when they give none.

    An example the options give (``--input-shape``, ``--example``) always wins; a model that is not
    a transformers model, or whose example cannot be read, keeps options without one (the page then
    says no example was given).
    """
    if options.has_input:
        return options
    config = config_of(module, config)
    if config is None:
        return options
    chosen = guard.attempt(lambda: choose(module, config), "choosing an example input from the config")
    if isinstance(chosen, guard.Failed):
        return options
    return replace(options, inputs=(chosen.input,), example_chosen=chosen.sentence())
