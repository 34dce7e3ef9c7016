"""What a box says: a layer's key hyperparameters, a tensor's size, an op's arguments in words.

Plain text only; the DOT writer escapes it. An op's small line comes from the rule registered
for its name with `op_words` (``pow`` with exponent 2 reads ``x²``, ``getitem`` reads
``[..., :2]``, ``softmax`` reads ``over last axis``), or its arguments as recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from modeldoc.spec import LayerSpec, OpSpec, TensorInfo

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
_POSITION = re.compile(r"^\d+=")


def _arguments(args: str) -> list[str]:
    """An op's recorded arguments text split at top-level commas, positional ones (``1=2``) as written (``2``)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args + ","):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            parts.append(_POSITION.sub("", args[start:i].strip()))
            start = i + 1
    return [p for p in parts if p]


def short_args(args: str) -> str:
    """An op's arguments for its box: switched-off flags and the device left out, then cut short."""
    text = ", ".join(p for p in _arguments(args) if not _NOISE.match(p))
    return text if len(text) <= _OP_ARGS_MAX else text[: _OP_ARGS_MAX - 1] + "…"


def call_text(op: OpSpec) -> str:
    """An op's call as Python writes it, for its tooltip: ``Tensor.pow(2)``, ``softmax(dim=-1)``."""
    return f"{op.target}({', '.join(_arguments(op.args))})"


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


# --------------------------------------------------------------------------- an op's box in words

OpWords = Callable[[OpSpec, Sequence[TensorInfo]], "str | None"]
"""One op's small line from its recorded arguments and its input tensors; None to fall back to `short_args`."""
_WORDS: dict[str, OpWords] = {}


def op_words(*names: str) -> Callable[[OpWords], OpWords]:
    """Register the rule that says ops `names` in words (``Tensor.add_`` uses ``add``'s rule)."""

    def register(rule: OpWords) -> OpWords:
        for name in names:
            _WORDS[name] = rule
        return rule

    return register


def op_text(op: OpSpec, inputs: Sequence[TensorInfo] = ()) -> str:
    """What an op's box says under its name: ``x²``, ``+ 1``, ``[..., :2]``, ``over L``; cut to fit.

    Each common op has a rule that reads its recorded `OpSpec.arguments` (and, to name an axis,
    its input's symbolic dims); other ops show their arguments as `short_args` does.
    """
    rule = _WORDS.get(op.name) or _WORDS.get(op.name.rstrip("_"))
    # a trace that recorded the arguments' text only (no `arguments`) is shown as recorded
    text = rule(op, inputs) if rule is not None and (op.arguments or not op.args) else None
    if text is None:
        return short_args(op.args)
    return text if len(text) <= _OP_ARGS_MAX else text[: _OP_ARGS_MAX - 1] + "…"


def number(value: object) -> str:
    """A scalar argument shortly: ``2``, ``0.354``, ``−3.4e+38``, ``True``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    text = str(value) if isinstance(value, int) else f"{value:.3g}"
    return text.replace("-", "−") if text.startswith("-") else text


def _scalar(op: OpSpec, *keys: str) -> object:
    """The op's first scalar argument found under `keys` (its position ``"1"``, or a name); None when none."""
    for key in keys:
        value = op.arguments.get(key)
        if isinstance(value, bool | int | float):
            return value
    return None


def _axis(dim: object, inputs: Sequence[TensorInfo]) -> str:
    """An axis in words: ``L`` when the input names it, ``last axis``, ``axis 1``."""
    if not isinstance(dim, int):
        return f"axis {dim}"
    dims = inputs[0].dims if inputs else ()
    rank = len(dims)
    label = dims[dim] if -rank <= dim < rank else None
    if isinstance(label, str):
        return label
    if dim == -1 or (rank and dim == rank - 1):
        return "last axis"
    return f"axis {number(dim)}"


def _axes(dims: object, inputs: Sequence[TensorInfo]) -> str:
    if isinstance(dims, list | tuple):
        return ", ".join(_axis(d, inputs) for d in dims)
    return _axis(dims, inputs)


_POWERS = {2: "x²", 3: "x³", 0.5: "√x", -1: "1 / x", -0.5: "1 / √x", -2: "1 / x²"}


@op_words("pow")
def _pow(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    exponent = _scalar(op, "1", "exponent")
    if exponent is None:
        return "xʸ" if len(inputs) > 1 else None
    return _POWERS.get(exponent) or f"x^{number(exponent)}"  # type: ignore[call-overload]


_ARITHMETIC = {
    "add": "+",
    "sub": "−",
    "rsub": "−",
    "mul": "×",
    "div": "÷",
    "true_divide": "÷",
    "floor_divide": "//",
    "remainder": "mod",
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "le": "≤",
    "gt": ">",
    "ge": "≥",
}


@op_words(*_ARITHMETIC)
def _arithmetic(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    sign = _ARITHMETIC[op.name.rstrip("_")]
    value = _scalar(op, "1", "other")
    if value is not None:
        if op.name.startswith("rsub"):
            return f"{number(value)} − x"
        alpha = _scalar(op, "alpha")
        scaled = f"{number(alpha)}·" if alpha not in (None, 1) else ""
        return f"{sign} {scaled}{number(value)}"
    if len(inputs) >= 2:
        return f"x {'⊙' if sign == '×' else sign} y"
    return ""


def _index(key: object) -> str:
    """One index of a ``getitem`` key as Python writes it: ``...``, ``:2``, ``0::2``, ``None``, ``idx``."""
    if key == "...":
        return "..."
    if key is None:
        return "None"
    if isinstance(key, dict) and "slice" in key:
        start, stop, step = (("" if v is None else str(v)) for v in key["slice"])
        return f"{start}:{stop}" + (f":{step}" if step else "")
    if isinstance(key, dict) and "tensor" in key:
        return "idx"
    if isinstance(key, list):
        return "[" + ", ".join(_index(k) for k in key) + "]"
    return str(key)


@op_words("getitem")
def _getitem(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    key = op.arguments.get("key", op.arguments.get("index", ...))
    if key is ...:
        return "[idx]" if len(inputs) > 1 else None  # indexed by a tensor
    parts = key if isinstance(key, list) else [key]
    return "[" + ", ".join(_index(k) for k in parts) + "]"


@op_words("mean", "sum", "prod", "amax", "amin", "max", "min", "std", "var", "logsumexp", "norm", "argmax", "argmin")
def _reduction(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    dim = op.arguments.get("dim")
    if dim is None:
        return "over all" if len(inputs) == 1 else ""
    return f"over {_axes(dim, inputs)}"


@op_words("softmax", "log_softmax", "cumsum", "cumprod", "layer_norm", "normalize")
def _along_one(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    dim = op.arguments.get("dim", op.arguments.get("1"))
    if op.name == "layer_norm":
        shape = op.arguments.get("normalized_shape")
        count = len(shape) if isinstance(shape, list) else 1
        return f"over {_axes(list(range(-count, 0)), inputs)}"
    return f"over {_axis(dim, inputs)}" if dim is not None else None


@op_words("cat", "concat", "concatenate", "stack", "hstack", "vstack")
def _join(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    dim = op.arguments.get("dim", 0)
    where = _axis(dim, inputs) if op.name != "stack" else f"new axis {number(dim)}"
    return f"{len(inputs)} along {where}" if op.name != "stack" else f"{len(inputs)} on {where}"


@op_words("chunk", "split", "unbind", "tensor_split")
def _cut(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    dim = op.arguments.get("dim", 0)
    where = _axis(dim, inputs)
    if op.name == "chunk":
        return f"{number(op.arguments.get('chunks'))} pieces along {where}"
    sizes = op.arguments.get("split_size_or_sections", op.arguments.get("split_size"))
    if isinstance(sizes, list):
        return f"{' + '.join(number(s) for s in sizes)} along {where}"
    if sizes is not None:
        return f"pieces of {number(sizes)} along {where}"
    return f"along {where}"


def _sizes(shape: object) -> str:
    if isinstance(shape, list | tuple):
        return " × ".join("?" if s == -1 else number(s) for s in shape) if shape else "scalar"
    return number(shape)


@op_words("view", "reshape", "expand", "broadcast_to", "unflatten")
def _reshape(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    shape = op.arguments.get("shape", op.arguments.get("size", op.arguments.get("sizes")))
    return f"to {_sizes(shape)}" if shape is not None else None


@op_words("transpose", "swapaxes", "swapdims")
def _transpose(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    a, b = op.arguments.get("dim0"), op.arguments.get("dim1")
    return f"swap {_axis(a, inputs)}, {_axis(b, inputs)}" if a is not None and b is not None else None


@op_words("permute")
def _permute(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    dims = op.arguments.get("dims")
    return f"axes in order {', '.join(number(d) for d in dims)}" if isinstance(dims, list) else None


@op_words("unsqueeze")
def _unsqueeze(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    dim = op.arguments.get("dim")
    return f"new axis at {number(dim)}" if dim is not None else None


@op_words("squeeze")
def _squeeze(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    dim = op.arguments.get("dim")
    return f"drop {_axes(dim, inputs)}" if dim is not None else "drop axes of size 1"


@op_words("flatten")
def _flatten(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    start, end = op.arguments.get("start_dim", 0), op.arguments.get("end_dim", -1)
    return f"merge axes {number(start)} to {'last' if end == -1 else number(end)}"


@op_words("to", "type")
def _to(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    targets = [v for k, v in op.arguments.items() if k in ("1", "dtype") and isinstance(v, str)]
    return f"to {targets[0]}" if targets else ""


@op_words("float", "double", "half", "bfloat16", "long", "int", "bool", "contiguous", "clone", "detach")
def _plain(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    return ""


@op_words("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout")
def _dropout(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    p = op.arguments.get("p")
    return f"p = {number(p)}" if p is not None else None


@op_words("scaled_dot_product_attention")
def _attention(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    parts = ["causal"] if op.arguments.get("is_causal") else []
    if op.arguments.get("attn_mask") is not None or len(inputs) > 3:
        parts.append("masked")
    scale = op.arguments.get("scale")
    if isinstance(scale, int | float):
        parts.append(f"scale {number(scale)}")
    return ", ".join(parts)


@op_words("where")
def _where(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    other = _scalar(op, "2", "other")
    return f"else {number(other)}" if other is not None else ""


@op_words("pad")
def _pad(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    pad = op.arguments.get("pad")
    if not isinstance(pad, list):
        return None
    mode = op.arguments.get("mode", "constant")
    return f"pad {', '.join(number(p) for p in pad)}" + ("" if mode in (None, "constant") else f", {mode}")


@op_words("interpolate", "upsample")
def _interpolate(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    size, factor = op.arguments.get("size"), op.arguments.get("scale_factor")
    mode = op.arguments.get("mode") or "nearest"
    target = f"to {_sizes(size)}" if size is not None else f"×{number(factor)}" if factor is not None else ""
    return f"{target}, {mode}".strip(", ")


def _window(value: object) -> str:
    """A window size: ``2`` for ``2`` or ``[2, 2]``, ``3×1`` for ``[3, 1]``."""
    if isinstance(value, list | tuple):
        return number(value[0]) if len(set(value)) == 1 else "×".join(number(v) for v in value)
    return number(value)


@op_words(*(f"{kind}_pool{n}d" for kind in ("max", "avg") for n in (1, 2, 3)))
def _pool(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    kernel = op.arguments.get("kernel_size")
    if kernel is None:
        return None
    stride = op.arguments.get("stride")
    parts = [f"window {_window(kernel)}"]
    if stride not in (None, []):
        parts.append(f"stride {_window(stride)}")
    padding = op.arguments.get("padding")
    if padding not in (None, 0, [0, 0], [0], [0, 0, 0]):
        parts.append(f"pad {_window(padding)}")
    return ", ".join(parts)


@op_words(*(f"adaptive_{kind}_pool{n}d" for kind in ("max", "avg") for n in (1, 2, 3)))
def _adaptive_pool(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    size = op.arguments.get("output_size")
    return f"to {_sizes(size)}" if size is not None else None


@op_words("gather", "index_select", "take_along_dim")
def _pick(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    dim = op.arguments.get("dim")
    return f"pick along {_axis(dim, inputs)}" if dim is not None else None


@op_words("arange")
def _arange(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    end = op.arguments.get("end", op.arguments.get("input"))
    start = op.arguments.get("start", 0)
    if isinstance(end, int) and isinstance(start, int):
        return f"{start} … {end - 1}" if end - start > 1 else str(start)
    return None


@op_words("zeros", "ones", "empty", "zeros_like", "ones_like", "empty_like", "full", "full_like", "tensor")
def _filled(op: OpSpec, inputs: Sequence[TensorInfo]) -> str | None:
    if op.name == "full_like":
        value = _scalar(op, "1", "fill_value")
        return f"fill {number(value)}" if value is not None else None
    return ""
