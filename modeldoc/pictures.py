"""Pictures of weights from plain arrays: which tensors get one, the colours, and the PNG files.

Pure: nothing here touches torch. `plan` reads a `ModelSpec` and says which pictures to draw (a
convolution's filters as a grid, a matrix as a heat map, attention's q, k and v weights split by
head); `modeldoc.probe.weights` reads each tensor's values, shrinks them to the small nested lists
of floats these functions take, and throws the tensor away before the next. The images are PNG
(a tiny encoder: zlib and struct, no image library), drawn one pixel per value or per block of
values and shown enlarged with ``image-rendering: pixelated``. Values map to a diverging colour
scale (blue below zero, a light neutral at zero, red above, the same scale for the whole tensor),
and every image has a mid-grey frame and grid lines that stand out on light and dark pages alike.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from modeldoc.spec import LayerSpec, ModelSpec, ParamSpec, Picture

Matrix = Sequence[Sequence[float]]
"""Rows of values."""
RGB = tuple[int, int, int]

DIVERGING: tuple[RGB, ...] = ((33, 102, 172), (146, 197, 222), (247, 247, 247), (244, 165, 130), (178, 24, 43))
"""ColorBrewer's RdBu, five stops from the most negative value to the most positive (colour-blind safe)."""
FRAME: RGB = (128, 128, 128)
"""The frame and grid lines: mid-grey, at least 3:1 against white and against Material's dark slate page."""
PAGE_BACKGROUNDS: dict[str, RGB] = {"light": (255, 255, 255), "dark": (30, 33, 41)}
"""The page colours the pictures sit on: Material's default white, and its slate scheme's background."""
MAX_MATRIX = 96
"""The longest side of a heat map, in pixels: a bigger matrix is averaged in blocks."""
MAX_FILTERS = 64
"""Filters shown in a grid; a convolution with more shows its first ones (the caption says so)."""
MAX_DEPTH = 8
"""Depth slices shown per filter."""
MAX_HEADS = 16
"""Heads shown per projection in an attention picture."""
MAX_HEAD_BLOCK = 32
"""The longest side of one head's block, in pixels."""
TARGET_WIDTH = 320
"""About how wide (in CSS pixels) a picture is shown: small images are enlarged by a whole factor."""
MAX_HEIGHT = 480
"""How tall (in CSS pixels) an enlarged picture may get."""

_QKV = (
    ("q_proj", "k_proj", "v_proj"),
    ("query", "key", "value"),
    ("q", "k", "v"),
    ("wq", "wk", "wv"),
    ("to_q", "to_k", "to_v"),
    ("q_lin", "k_lin", "v_lin"),
)
_HEADS = ("num_heads", "n_heads", "num_attention_heads", "n_head", "heads")
_KV_HEADS = ("num_key_value_heads", "n_kv_heads", "num_kv_heads", "kv_heads")
_CONV_TYPES = ("Conv1d", "Conv2d", "Conv3d")
_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Job:
    """One picture to draw: its kind, the tensors it reads and, for attention, the heads."""

    kind: Literal["filters", "matrix", "heads"]
    layer: str
    """The path of the layer whose section shows it."""
    tensors: tuple[str, ...]
    """Qualified tensor names: one, or q, k and v."""
    shapes: tuple[tuple[int, ...], ...]
    file: str
    """The PNG's file name, unique within the model and safe in a URL."""
    heads: tuple[int, ...] = ()
    """For attention: the number of heads of q, k and v (empty when the model does not say)."""


def plan(spec: ModelSpec) -> list[Job]:
    """Every picture the weights of `spec` get, in the order of the layers."""
    jobs: list[Job] = []
    used: set[str] = set()
    for layer in spec.all_layers:
        heads = _attention_job(layer, spec, used)
        if heads is not None:
            jobs.append(heads)
        for p in layer.parameters:
            if p.is_buffer or p.computed or p.lazy or not p.counted or not _is_float(p.dtype):
                continue
            if _is_conv(layer, p):
                jobs.append(Job("filters", layer.path, (p.name,), (p.shape,), _file(p.name, used)))
            elif len(p.shape) == 2 and min(p.shape) >= 2:
                jobs.append(Job("matrix", layer.path, (p.name,), (p.shape,), _file(p.name, used)))
    return jobs


def _is_float(dtype: str) -> bool:
    return dtype.startswith(("float", "bfloat"))


def _is_conv(layer: LayerSpec, p: ParamSpec) -> bool:
    return (
        p.local_name == "weight"
        and 3 <= len(p.shape) <= 5
        and (layer.size_rule == "conv" or layer.type_name in _CONV_TYPES)
    )


def _file(name: str, used: set[str]) -> str:
    stem = _SAFE.sub("-", name).strip("-.")[:80] or "tensor"
    file, n = f"{stem}.png", 2
    while file.lower() in used:
        file, n = f"{stem}-{n}.png", n + 1
    used.add(file.lower())
    return file


def _attention_job(layer: LayerSpec, spec: ModelSpec, used: set[str]) -> Job | None:
    """q, k and v side by side, for a layer whose children are named as the projections of attention."""
    children = {child.rsplit(".", 1)[-1]: child for child in layer.children}
    for names in _QKV:
        if not set(names) <= set(children):
            continue
        weights = []
        for name in names:
            sub = spec.layer(children[name])
            weight = next((p for p in sub.parameters if p.local_name == "weight" and len(p.shape) == 2), None)
            if weight is None or not _is_float(weight.dtype):
                return None
            weights.append(weight)
        if len({w.shape[1] for w in weights}) != 1:
            return None
        values = {h.name: h.value for h in layer.hyperparameters}
        q_heads = next((values[n] for n in _HEADS if isinstance(values.get(n), int)), 0)
        kv_heads = next((values[n] for n in _KV_HEADS if isinstance(values.get(n), int)), q_heads)
        heads: tuple[int, ...] = ()
        counts = (q_heads, kv_heads, kv_heads)
        if q_heads > 0 and all(c > 0 and w.shape[0] % c == 0 for c, w in zip(counts, weights, strict=True)):
            heads = counts
        return Job(
            "heads",
            layer.path,
            tuple(w.name for w in weights),
            tuple(w.shape for w in weights),
            _file(f"{layer.path or spec.name}.heads", used),
            heads,
        )
    return None


# ----------------------------------------------------------------------------- colours


def colour(value: float, limit: float) -> RGB:
    """The diverging colour of `value` on a scale from −`limit` (blue) through 0 (neutral) to `limit` (red)."""
    if limit <= 0 or value != value:  # noqa: PLR0124 - NaN is the one value unequal to itself
        return DIVERGING[2]
    t = max(-1.0, min(1.0, value / limit))
    position = (t + 1) / 2 * (len(DIVERGING) - 1)
    i = min(int(position), len(DIVERGING) - 2)
    f = position - i
    a, b = DIVERGING[i], DIVERGING[i + 1]
    return (round(a[0] + (b[0] - a[0]) * f), round(a[1] + (b[1] - a[1]) * f), round(a[2] + (b[2] - a[2]) * f))


def luminance(rgb: RGB) -> float:
    """Relative luminance (WCAG 2)."""

    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: RGB, b: RGB) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# ----------------------------------------------------------------------------- images


class Canvas:
    """An RGB image filled with the frame colour, drawn on pixel by pixel."""

    def __init__(self, width: int, height: int) -> None:
        self.width = width
        self.height = height
        self.rows = [bytearray(bytes(FRAME) * width) for _ in range(height)]

    def put(self, x: int, y: int, rgb: RGB) -> None:
        """Colour one pixel."""
        self.rows[y][3 * x : 3 * x + 3] = bytes(rgb)

    def block(self, x0: int, y0: int, values: Matrix, limit: float) -> None:
        """Draw `values` (one pixel each) with its top-left corner at (x0, y0)."""
        for dy, row in enumerate(values):
            line = self.rows[y0 + dy]
            for dx, value in enumerate(row):
                line[3 * (x0 + dx) : 3 * (x0 + dx) + 3] = bytes(colour(value, limit))

    def png(self) -> bytes:
        """The image as a PNG file (8-bit RGB, no filtering, zlib-compressed)."""
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)
        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        body = _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b"")
        return b"\x89PNG\r\n\x1a\n" + body


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def limit_of(*matrices: Matrix) -> float:
    """The largest absolute value: the colour scale runs from minus it to it."""
    return max((abs(v) for m in matrices for row in m for v in row if v == v), default=0.0)  # noqa: PLR0124


def scale_for(width: int, height: int) -> int:
    """The whole factor a picture is enlarged by on the page: about `TARGET_WIDTH` wide, at most `MAX_HEIGHT` tall."""
    return max(1, min(12, TARGET_WIDTH // max(width, 1), MAX_HEIGHT // max(height, 1)))


def matrix_image(values: Matrix) -> Canvas:
    """A heat map of `values`, in a one-pixel frame."""
    height, width = len(values), len(values[0]) if values else 0
    canvas = Canvas(width + 2, height + 2)
    canvas.block(1, 1, values, limit_of(values))
    return canvas


def filters_image(filters: Sequence[Sequence[Matrix]], per_row: int = 8) -> Canvas:
    """A grid: one row per filter, one cell per depth slice, one pixel per weight, grid lines between cells.

    Filters one slice deep are laid out `per_row` to a row instead, so the grid is not one tall column.
    """
    if all(len(f) == 1 for f in filters) and len(filters) > 1:
        filters = [[f[0] for f in filters[i : i + per_row]] for i in range(0, len(filters), per_row)]
    kh = max(len(m) for f in filters for m in f)
    kw = max(len(m[0]) for f in filters for m in f)
    columns = max(len(f) for f in filters)
    canvas = Canvas(columns * (kw + 1) + 1, len(filters) * (kh + 1) + 1)
    limit = limit_of(*(m for f in filters for m in f))
    for row, slices in enumerate(filters):
        for column, values in enumerate(slices):
            canvas.block(1 + column * (kw + 1), 1 + row * (kh + 1), values, limit)
    return canvas


def rgb_filters_image(filters: Sequence[Sequence[Matrix]], per_row: int = 8) -> Canvas:
    """Filters of depth 3 as colour images (depth slices as red, green and blue), scaled together to 0–255."""
    kh, kw = len(filters[0][0]), len(filters[0][0][0])
    low = min(v for f in filters for m in f for row in m for v in row)
    high = max(v for f in filters for m in f for row in m for v in row)
    span = (high - low) or 1.0
    rows = (len(filters) + per_row - 1) // per_row
    columns = min(per_row, len(filters))
    canvas = Canvas(columns * (kw + 1) + 1, rows * (kh + 1) + 1)
    for index, (red, green, blue) in enumerate(filters):
        x0, y0 = 1 + (index % per_row) * (kw + 1), 1 + (index // per_row) * (kh + 1)
        for y in range(kh):
            for x in range(kw):
                rgb = tuple(round(255 * (channel[y][x] - low) / span) for channel in (red, green, blue))
                canvas.put(x0 + x, y0 + y, rgb)  # type: ignore[arg-type]
    return canvas


def heads_image(rows: Sequence[Sequence[Matrix]]) -> Canvas:
    """Blocks side by side in rows (q's heads, then k's, then v's), grid lines between them, one colour scale."""
    bh = max(len(m) for row in rows for m in row)
    bw = max(len(m[0]) for row in rows for m in row)
    columns = max(len(row) for row in rows)
    canvas = Canvas(columns * (bw + 1) + 1, len(rows) * (bh + 1) + 1)
    limit = limit_of(*(m for row in rows for m in row))
    for r, blocks in enumerate(rows):
        for c, values in enumerate(blocks):
            canvas.block(1 + c * (bw + 1), 1 + r * (bh + 1), values, limit)
    return canvas


# ----------------------------------------------------------------------------- pictures with their words


def draw(job: Job, arrays: Sequence[Sequence[Matrix]]) -> Picture:
    """The `Picture` of `job` from the shrunk values the probe read (see `modeldoc.probe.weights`).

    For filters: one list of depth slices per filter shown. For a matrix: one list holding the
    (averaged) matrix. For heads: one list of blocks per projection (q, k, v). Each comes wrapped
    in a list per tensor, as `modeldoc.probe.weights.shrink` gives it.
    """
    if job.kind == "filters":
        canvas, alt, caption = _filters_words(job, arrays[0])  # type: ignore[arg-type]
    elif job.kind == "matrix":
        canvas, alt, caption = _matrix_words(job, arrays[0][0])
    else:
        canvas, alt, caption = _heads_words(job, arrays)
    return Picture(
        file=job.file,
        layer=job.layer,
        tensors=job.tensors,
        kind=job.kind,
        alt=alt,
        caption=caption,
        width=canvas.width,
        height=canvas.height,
        scale=scale_for(canvas.width, canvas.height),
        data=canvas.png(),
    )


_SCALE_WORDS = "blue is negative, red positive and the light neutral colour zero, on one scale up to ±{limit:.3g}"


def _shape(shape: Sequence[int]) -> str:
    return " × ".join(str(s) for s in shape)


def _first(shown: int, total: int, what: str) -> str:
    """``"all 6 filters"``, ``"the first 64 of 256 filters"``, ``"its one depth slice"``."""
    if total == 1:
        return f"its one {what.removesuffix('s')}"
    return f"all {total} {what}" if shown == total else f"the first {shown} of {total} {what}"


def _filters_words(job: Job, filters: Sequence[Sequence[Matrix]]) -> tuple[Canvas, str, str]:
    name, shape = job.tensors[0], job.shapes[0]
    total_filters, depth = shape[0], shape[1]
    kernel = shape[2:]
    cell = f"{len(filters[0][0])} × {len(filters[0][0][0])}"
    middle = f" (the middle one of its {kernel[0]} kernel-depth slices)" if len(kernel) == 3 else ""
    if depth == 3 and len(filters[0]) == 3:
        canvas = rgb_filters_image(filters)
        alt = (
            f"{_first(len(filters), total_filters, 'filters').capitalize()} of {name} ({_shape(shape)}), each a "
            f"{cell} colour image{middle} whose red, green and blue are its three depth slices, scaled together "
            "from the lowest weight (black) to the highest (white)"
        )
        shown = _first(len(filters), total_filters, "filters")
        caption = f"{name}: {shown} as colour images (depth = 3: red, green, blue)."
        return canvas, alt, caption
    canvas = filters_image(filters)
    limit = limit_of(*(m for f in filters for m in f))
    if len(filters[0]) == 1:
        alt = (
            f"{_first(len(filters), total_filters, 'filters').capitalize()} of {name} ({_shape(shape)}), each "
            f"{cell}{middle}, eight to a row; " + _SCALE_WORDS.format(limit=limit)
        )
        shown = _first(len(filters), total_filters, "filters")
        caption = f"{name}: {shown}, eight to a row. Colour scale ±{limit:.3g}."
        return canvas, alt, caption
    alt = (
        f"{_first(len(filters), total_filters, 'filters').capitalize()} of {name} ({_shape(shape)}): one row per "
        f"filter and one {cell} cell per depth slice{middle} ({_first(len(filters[0]), depth, 'depth slices')}); "
        + _SCALE_WORDS.format(limit=limit)
    )
    caption = (
        f"{name}: {_first(len(filters), total_filters, 'filters')}, one per row; "
        f"{_first(len(filters[0]), depth, 'depth slices')} across. Colour scale ±{limit:.3g}."
    )
    return canvas, alt, caption


def _matrix_words(job: Job, values: Matrix) -> tuple[Canvas, str, str]:
    name, shape = job.tensors[0], job.shapes[0]
    canvas = matrix_image(values)
    rows, columns = len(values), len(values[0])
    if (rows, columns) == tuple(shape):
        how = "one pixel per weight"
    else:
        how = f"each pixel the mean of a block of about {shape[0] / rows:.3g} × {shape[1] / columns:.3g} weights"
    limit = limit_of(values)
    alt = f"Heat map of {name} ({_shape(shape)}), {rows} rows by {columns} columns, {how}; " + _SCALE_WORDS.format(
        limit=limit
    )
    caption = f"{name}: rows × columns as stored ({_shape(shape)}); {how}. Colour scale ±{limit:.3g}."
    return canvas, alt, caption


def _heads_words(job: Job, rows: Sequence[Sequence[Matrix]]) -> tuple[Canvas, str, str]:
    canvas = heads_image(rows)
    limit = limit_of(*(m for row in rows for m in row))
    names = ", ".join(job.tensors)
    if job.heads:
        parts = [
            f"{_first(len(row), heads, 'heads')} of {name}"
            for row, heads, name in zip(rows, job.heads, job.tensors, strict=True)
        ]
        how = "one block per head (its rows of the projection, averaged to at most 32 × 32 pixels)"
        caption = f"Attention heads: {'; '.join(parts)}, side by side in rows q, k, v. Colour scale ±{limit:.3g}."
    else:
        how = "one block per projection: the model's arguments do not say how many heads split them"
        caption = f"The query, key and value projections ({names}), one per row. Colour scale ±{limit:.3g}."
    alt = f"The weights of {names} in three rows (query, key, value), {how}; " + _SCALE_WORDS.format(limit=limit)
    return canvas, alt, caption
