"""What a box says: a layer's key hyperparameters, a tensor's size, an op's arguments.

Plain text only; the DOT writer escapes it.
"""

from __future__ import annotations

import re
from typing import Any

from modeldoc.spec import LayerSpec, TensorInfo

_BRIEF_MAX = 40
_OP_ARGS_MAX = 28
_INTEGER_DTYPES = frozenset({"int64", "int32", "int16", "int8", "uint8", "bool", "long"})


def brief(layer: LayerSpec) -> str:
    """The key hyperparameters of a layer in a few characters, e.g. ``"1→6, 5×5"``."""
    hp = {h.name: h.value for h in layer.hyperparameters}
    parts = _brief_parts(hp)
    text = ", ".join(p for p in parts if p)
    return text if len(text) <= _BRIEF_MAX else text[: _BRIEF_MAX - 1] + "…"


def _brief_parts(hp: dict[str, Any]) -> list[str]:  # noqa: PLR0911, PLR0912 - one table, one row per branch
    def has(*names: str) -> bool:
        return all(n in hp for n in names)

    if has("in_channels", "out_channels"):
        groups = hp.get("groups", 1)
        return [
            f"{hp['in_channels']}→{hp['out_channels']}",
            *_window(hp, pooling=False),
            f"groups {groups}" if isinstance(groups, int) and groups > 1 else "",
        ]
    if has("in1_features", "in2_features", "out_features"):
        return [f"{hp['in1_features']}, {hp['in2_features']}→{hp['out_features']}"]
    if has("in_features", "out_features"):
        return [f"{hp['in_features']}→{hp['out_features']}"]
    if has("nx", "nf"):
        return [f"{hp['nx']}→{hp['nf']}"]
    if has("num_embeddings", "embedding_dim"):
        return [f"{hp['num_embeddings']} ids → {hp['embedding_dim']}"]
    if has("input_size", "hidden_size"):
        layers = hp.get("num_layers", 1)
        return [
            f"{hp['input_size']}→{hp['hidden_size']}",
            f"{layers} layers" if isinstance(layers, int) and layers > 1 else "",
            "bidirectional" if hp.get("bidirectional") is True else "",
        ]
    if has("embed_dim", "num_heads"):
        return [f"{hp['embed_dim']}", f"{hp['num_heads']} heads"]
    if has("d_model", "nhead"):
        ff = hp.get("dim_feedforward")
        return [f"{hp['d_model']}", f"{hp['nhead']} heads", f"ff {ff}" if ff is not None else ""]
    if has("num_groups", "num_channels"):
        return [f"{hp['num_channels']} in {hp['num_groups']} groups"]
    if "num_features" in hp:
        return [str(hp["num_features"])]
    if "normalized_shape" in hp:
        return [_dims_text(hp["normalized_shape"])]
    if "kernel_size" in hp:
        return _window(hp, pooling=True)
    if "output_size" in hp:
        return [f"→ {_dims_text(hp['output_size'])}"]
    if isinstance(hp.get("p"), float):
        return [f"p={hp['p']}"]
    return []


def _window(hp: dict[str, Any], *, pooling: bool) -> list[str]:
    kernel = hp.get("kernel_size")
    out = [_dims_text(kernel)] if kernel is not None else []
    stride = hp.get("stride")
    # Pooling strides default to the window; convolution strides to 1.
    if stride is not None and (stride != kernel if pooling else not _all_equal(stride, 1)):
        out.append(f"stride {_compact(stride)}")
    padding = hp.get("padding")
    if isinstance(padding, str) and padding not in ("valid", ""):
        out.append(f"pad {padding}")
    elif padding is not None and not isinstance(padding, str) and not _all_equal(padding, 0):
        out.append(f"pad {_compact(padding)}")
    dilation = hp.get("dilation")
    if dilation is not None and not _all_equal(dilation, 1):
        out.append(f"dilation {_compact(dilation)}")
    return out


def _all_equal(value: Any, number: int) -> bool:
    if isinstance(value, list | tuple):
        return all(v == number for v in value)
    return bool(value == number)


def _compact(value: Any) -> str:
    """A stride or padding: ``[2, 2]`` becomes ``"2"``, ``[1, 2]`` stays ``"1×2"``."""
    if isinstance(value, list | tuple) and value and all(v == value[0] for v in value):
        return str(value[0])
    return _dims_text(value)


def _dims_text(value: Any) -> str:
    """``[5, 5]`` becomes ``"5×5"``, ``5`` stays ``"5"``."""
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    return str(value)


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
