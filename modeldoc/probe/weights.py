"""The weights' values read: each tensor's statistics, and the small arrays its pictures are drawn from.

Streaming, tensor by tensor: a tensor is read (from the live model, or from a checkpoint file one
tensor at a time), its statistics are computed in chunks, the arrays its pictures need are
shrunk to thumbnails (a big matrix averaged in blocks, row band by row band), and the tensor is
let go before the next one is read. Only the statistics and the finished PNG files are kept, so
memory stays bounded by the largest tensor's chunk, not by the model. A tensor on the meta device
has no values: it gets neither. The model is only read, never changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from modeldoc import pictures, progress
from modeldoc.pictures import Job, Matrix
from modeldoc.probe.checkpoint import Checkpoint, reading
from modeldoc.spec import ModelSpec, Picture, TensorStats

BINS = 24
"""Bins of each histogram."""
CHUNK = 1 << 22
"""Values converted to float64 at a time while computing statistics (32 MiB)."""
BAND = 1 << 23
"""Values read at a time while averaging a big matrix into a thumbnail."""

Source = Callable[[str], "torch.Tensor | None"]
"""A tensor's values by qualified name; None when there are none to read (the meta device)."""


def weigh_module(spec: ModelSpec, module: nn.Module) -> ModelSpec:
    """`spec` with the statistics and pictures of `module`'s parameters and buffers (read, never changed)."""
    tensors: dict[str, torch.Tensor] = {}
    for path, sub in module.named_modules(remove_duplicate=False):
        for store in ("_parameters", "_buffers"):
            for local, tensor in getattr(sub, store, {}).items():
                if isinstance(tensor, torch.Tensor):
                    tensors.setdefault(f"{path}.{local}" if path else local, tensor)

    def source(name: str) -> torch.Tensor | None:
        tensor = tensors.get(name)
        if tensor is None or tensor.is_meta or isinstance(tensor, nn.UninitializedParameter | nn.UninitializedBuffer):
            return None
        return tensor.detach()

    return weigh(spec, source)


def weigh_checkpoint(spec: ModelSpec, checkpoint: Checkpoint) -> ModelSpec:
    """`spec` (a weights-only description) with the statistics and pictures of the checkpoint's tensors."""
    with reading(checkpoint) as reader:
        return weigh(spec, reader.tensor)


def weigh(spec: ModelSpec, source: Source) -> ModelSpec:
    """`spec` with each tensor's statistics and the pictures `pictures.plan` asks for, reading one tensor at a time."""
    jobs = pictures.plan(spec)
    wanted: dict[str, list[tuple[Job, int]]] = {}
    for job in jobs:
        for index, name in enumerate(job.tensors):
            wanted.setdefault(name, []).append((job, index))
    pending: dict[str, dict[int, list[Matrix]]] = {}
    drawn: list[Picture] = []
    stats: dict[str, TensorStats] = {}
    names = [p.name for layer in spec.all_layers for p in layer.parameters if not p.computed and p.counted]
    for done, name in enumerate(names, 1):
        progress.count("weights", done, len(names))
        tensor = source(name)
        if tensor is None:
            continue
        found = tensor_stats(tensor)
        if found is not None:
            stats[name] = found
        for job, index in wanted.get(name, []):
            parts = pending.setdefault(job.file, {})
            parts[index] = shrink(job, index, tensor)
            if len(parts) == len(job.tensors):
                drawn.append(pictures.draw(job, [parts[i] for i in range(len(job.tensors))]))
                del pending[job.file]
        del tensor
    layers = tuple(
        replace(layer, parameters=tuple(replace(p, stats=stats.get(p.name)) for p in layer.parameters))
        for layer in spec.all_layers
    )
    return replace(spec.with_layers(layers), pictures=tuple(drawn))


def tensor_stats(tensor: torch.Tensor, bins: int = BINS) -> TensorStats | None:
    """Mean, standard deviation, extremes, fraction of zeros, L2 norm and a histogram, computed in chunks."""
    if tensor.is_meta or tensor.is_complex() or tensor.numel() == 0:
        return None
    flat = tensor.reshape(-1)
    count = nonfinite = zeros = 0
    mean = m2 = squares = 0.0
    low, high = math.inf, -math.inf
    for raw in _chunks(flat):
        finite = torch.isfinite(raw)
        chunk = raw
        if not bool(finite.all()):
            nonfinite += int((~finite).sum())
            chunk = raw[finite]
        n = chunk.numel()
        if n == 0:
            continue
        chunk_mean = float(chunk.mean())
        chunk_m2 = float(((chunk - chunk_mean) ** 2).sum())
        # Chan et al.'s parallel update: exact for any number of chunks, and stable
        delta = chunk_mean - mean
        total = count + n
        mean += delta * n / total
        m2 += chunk_m2 + delta * delta * count * n / total
        count = total
        squares += float((chunk * chunk).sum())
        zeros += int((chunk == 0).sum())
        low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
    if count == 0:
        return TensorStats(mean=0.0, std=0.0, min=0.0, max=0.0, zeros=0.0, norm=0.0, histogram=(), nonfinite=nonfinite)
    return TensorStats(
        mean=mean,
        std=math.sqrt(max(m2 / count, 0.0)),
        min=low,
        max=high,
        zeros=zeros / count,
        norm=math.sqrt(squares),
        histogram=_histogram(flat, low, high, bins) if high > low else (count,),
        nonfinite=nonfinite,
    )


def _chunks(flat: torch.Tensor) -> Iterator[torch.Tensor]:
    for start in range(0, flat.numel(), CHUNK):
        yield flat[start : start + CHUNK].to(torch.float64)


def _histogram(flat: torch.Tensor, low: float, high: float, bins: int) -> tuple[int, ...]:
    counts = torch.zeros(bins, dtype=torch.float64)
    for raw in _chunks(flat):
        counts += torch.histc(raw[torch.isfinite(raw)], bins=bins, min=low, max=high)
    return tuple(int(c) for c in counts.tolist())


# ----------------------------------------------------------------------------- thumbnails


def shrink(job: Job, index: int, tensor: torch.Tensor) -> list[Matrix]:
    """The small arrays `job` needs from its `index`-th tensor, as plain lists of floats."""
    if job.kind == "filters":
        return filters(tensor)
    if job.kind == "matrix":
        return [thumbnail(tensor, pictures.MAX_MATRIX)]
    heads = job.heads[index] if job.heads else 0
    return head_blocks(tensor, heads)


def filters(weight: torch.Tensor) -> list[Any]:
    """The first filters' first depth slices (a 3-D kernel's middle slice), each a small matrix."""
    shown = weight[: pictures.MAX_FILTERS, : pictures.MAX_DEPTH]
    if shown.dim() == 5:  # filters × depth × kernel depth × height × width: the middle kernel-depth slice
        shown = shown[:, :, shown.shape[2] // 2]
    if shown.dim() == 3:  # a 1-D convolution: each slice is one row of taps
        shown = shown.unsqueeze(2)
    return [[thumbnail(shown[f, d], 16) for d in range(shown.shape[1])] for f in range(shown.shape[0])]


def head_blocks(weight: torch.Tensor, heads: int) -> list[Matrix]:
    """One block per head (its rows of the projection), or the whole matrix when the heads are not known."""
    if heads <= 0:
        return [thumbnail(weight, 48)]
    rows = weight.shape[0] // heads
    shown = min(heads, pictures.MAX_HEADS)
    return [thumbnail(weight[h * rows : (h + 1) * rows], pictures.MAX_HEAD_BLOCK) for h in range(shown)]


def thumbnail(matrix: torch.Tensor, longest: int) -> list[list[float]]:
    """`matrix` (2-D) averaged in blocks so that neither side exceeds `longest`, as lists of floats.

    Rows are averaged band by band, so only a band of the matrix is converted to float at a time.
    """
    height, width = matrix.shape
    out_h, out_w = min(height, longest), min(width, longest)
    if (out_h, out_w) == (height, width):
        return matrix.to(torch.float32).tolist()  # type: ignore[no-any-return]
    rows: list[Any] = []
    per_band = max(1, BAND // max(width, 1))
    i = 0
    while i < out_h:
        # the output rows whose input rows fit in one band; each output row averages its own bin of input rows
        j = i + 1
        while j < out_h and math.ceil((j + 1) * height / out_h) - (i * height // out_h) <= per_band:
            j += 1
        start, end = i * height // out_h, math.ceil(j * height / out_h)
        band = matrix[start:end].to(torch.float32)
        for k in range(i, j):
            lo, hi = k * height // out_h - start, math.ceil((k + 1) * height / out_h) - start
            row = band[lo:hi].mean(dim=0, keepdim=True).unsqueeze(0)
            rows.append(F.adaptive_avg_pool1d(row, out_w)[0, 0].tolist())
        i = j
    return rows
