"""What a box says: a layer's key hyperparameters, a tensor's size, an op's arguments.

Plain text only; the DOT writer escapes it.
"""

from __future__ import annotations

import re

from modeldoc.spec import LayerSpec, TensorInfo

_BRIEF_MAX = 40
_OP_ARGS_MAX = 28
_INTEGER_DTYPES = frozenset({"int64", "int32", "int16", "int8", "uint8", "bool", "long"})


def brief(layer: LayerSpec) -> str:
    """The layer's key hyperparameters in a few characters (``"1→6, 5×5"``), clipped to fit a box.

    The text is the knowledge entry's ``brief`` label (`LayerSpec.brief`, filled in by explain).
    """
    text = layer.brief
    return text if len(text) <= _BRIEF_MAX else text[: _BRIEF_MAX - 1] + "…"


def shape_text(tensor: TensorInfo) -> str:
    """An edge label: ``"N × 6 × 24 × 24"``, with the dtype when it is not a float."""
    dims = tensor.dims or tensor.shape
    text = " × ".join(str(d) for d in dims) if dims else "scalar"
    return f"{text} · {tensor.dtype}" if tensor.dtype in _INTEGER_DTYPES else text


_NOISE = re.compile(r"^(\w+=(None|False)|device=.*)$")


def short_args(args: str) -> str:
    """An op's arguments for its box: switched-off flags and the device left out, then cut short."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args + ","):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    kept = [p for p in parts if p and not _NOISE.match(p)]
    text = ", ".join(kept)
    return text if len(text) <= _OP_ARGS_MAX else text[: _OP_ARGS_MAX - 1] + "…"


def type_line(layer: LayerSpec) -> str:
    """A layer box's small line: its type and key hyperparameters, ``"Conv2d 1→6, 5×5"``."""
    text = brief(layer)
    return f"{layer.type_name} {text}" if text else layer.type_name


def collapsed_line(layer: LayerSpec, layers: dict[str, LayerSpec], inside: int) -> str:
    """What a collapsed container says: ``"ModuleList · 12 × GPT2Block"`` or ``"Block · +8 more"``.

    `inside` is how many modules sit below it.
    """
    kinds = {layers[c].type_name for c in layer.children if c in layers}
    if len(layer.children) > 1 and len(kinds) == 1:
        return f"{layer.type_name} · {len(layer.children)} × {kinds.pop()}"
    return f"{layer.type_name} · +{inside} more"
