"""The arithmetic of shapes, shared by the knowledge table's formulas and the derivations.

Nothing here knows about the trace. Each function takes plain numbers and op arguments and
returns the result with a `Formula` that keeps its parts (the expression, the value, what kind
of formula it is); the text a page shows is rendered from those parts at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

FormulaKind = Literal["arithmetic", "rounded", "named", "sentence"]


@dataclass(frozen=True)
class Formula:
    """How a number was computed, kept in parts: rendered to text only where a page or message needs it.

    ``expression`` is the left-hand side with the model's numbers (``"4 × 5"``,
    ``"⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1"``, ``"conv1.out_channels"``), or the whole
    sentence when the formula is not an equation (``"padding='same' keeps 9"``).
    """

    expression: str
    value: int
    kind: FormulaKind = "arithmetic"
    """``"arithmetic"``: sums, products, quotients worth repeating in a mismatch message;
    ``"rounded"``: a ⌊⌋ or ⌈⌉ window formula, too long to repeat; ``"named"``: the size is read
    from a named argument or shape (``conv1.out_channels``); ``"sentence"``: no equation at all."""
    note: str = ""
    """Said after the equation, in parentheses (``"the last window would start in the padding"``)."""

    @classmethod
    def named(cls, name: str, value: int) -> Formula:
        """A size read from a named argument or shape: ``conv1.out_channels = 6``."""
        return cls(name, value, "named")

    @classmethod
    def sentence(cls, text: str, value: int) -> Formula:
        """A formula that is a phrase, not an equation: ``"3 tensors"``."""
        return cls(text, value, "sentence")

    @property
    def text(self) -> str:
        """The formula as pages show it: ``"4 × 5 = 20"``."""
        if self.kind == "sentence":
            return self.expression
        note = f" ({self.note})" if self.note else ""
        return f"{self.expression} = {self.value}{note}"

    def size_text(self) -> str:
        """The size with its arithmetic, for a mismatch message: ``"20 = 4 × 5"``, or just ``"20"``.

        Only plain arithmetic is repeated; a window formula is too long for one line, and a
        named size (``conv1.out_channels``) says nothing the derivation does not.
        """
        if self.kind == "arithmetic" and self.expression != str(self.value):
            return f"{self.value} = {self.expression}"
        return str(self.value)


def window_size(  # noqa: PLR0911 - one return per case
    size: int,
    kernel: int,
    *,
    stride: int | None = 1,
    padding: int | str = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
    output_padding: int = 0,
    transposed: bool = False,
) -> tuple[int, Formula] | None:
    """Output size of a convolution or pooling window along one axis, and the formula with the numbers."""
    stride = stride or kernel
    if isinstance(padding, str):
        if padding == "same":
            return size, Formula.sentence(f"padding='same' keeps {size}", size)
        if padding != "valid":
            return None
        padding = 0
    if transposed:
        out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
        return out, Formula(
            f"({size} − 1)·{stride} − 2·{padding} + {dilation}·({kernel} − 1) + {output_padding} + 1", out
        )
    inner = f"({size} + 2·{padding} − {dilation}·({kernel} − 1) − 1) / {stride}"
    numerator = size + 2 * padding - dilation * (kernel - 1) - 1
    if numerator < 0:
        return None
    if not ceil_mode:
        out = numerator // stride + 1
        return out, Formula(f"⌊{inner}⌋ + 1", out, "rounded")
    out = -(-numerator // stride) + 1
    # PyTorch drops a last window that would start inside the right padding.
    if (out - 1) * stride >= size + padding:
        return out - 1, Formula(
            f"⌈{inner}⌉ + 1 − 1", out - 1, "rounded", note="the last window would start in the padding"
        )
    return out, Formula(f"⌈{inner}⌉ + 1", out, "rounded")


def reshape_groups(incoming: Sequence[int], out: Sequence[int]) -> list[tuple[list[int], list[int]]] | None:
    """Which input axes make up which output axes in a reshape (size-1 axes left out); None if unclear."""
    if 0 in incoming or 0 in out:
        return None
    ins = [k for k, s in enumerate(incoming) if s != 1]
    outs = [k for k, s in enumerate(out) if s != 1]
    groups = []
    i = j = 0
    while i < len(ins) and j < len(outs):
        gi, gj = [ins[i]], [outs[j]]
        pi, pj = incoming[ins[i]], out[outs[j]]
        i += 1
        j += 1
        while pi != pj:
            if pi < pj:
                if i >= len(ins):
                    return None
                pi *= incoming[ins[i]]
                gi.append(ins[i])
                i += 1
            else:
                if j >= len(outs):
                    return None
                pj *= out[outs[j]]
                gj.append(outs[j])
                j += 1
        groups.append((gi, gj))
    if i < len(ins) or j < len(outs):
        return None
    return groups


def index_map(index: Any, rank: int) -> list[tuple[int, Any] | None] | None:
    """For each output axis of ``x[index]``: (input axis, slice item or None), or None for a new axis.

    Slices are the ``{"slice": [start, stop, step]}`` form of the trace; None when the index
    uses tensors or lists (advanced indexing).
    """
    items = list(index) if isinstance(index, list | tuple) else [index]
    if any((isinstance(i, dict) and "tensor" in i) or isinstance(i, list) for i in items):
        return None
    consuming = sum(1 for i in items if i not in (None, "...") and not isinstance(i, bool))
    out: list[tuple[int, Any] | None] = []
    axis = 0
    for item in items:
        if item == "...":
            for _ in range(rank - consuming):
                out.append((axis, None))
                axis += 1
        elif item is None or isinstance(item, bool):
            out.append(None)
        elif isinstance(item, int):
            axis += 1
        elif isinstance(item, dict) and "slice" in item:
            if not all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in item["slice"]):
                return None  # a bound that is a tensor: its value is not recorded, so no arithmetic to show
            out.append((axis, item))
            axis += 1
        else:
            return None
    while axis < rank:
        out.append((axis, None))
        axis += 1
    return out


def slice_length(item: Mapping[str, Any], size: int) -> tuple[int, Formula]:
    """Length of ``start:stop:step`` over `size` elements, and the formula with the numbers.

    The formula is the arithmetic PyTorch does: a bound counted from the end is the size minus
    it (``x[..., :-2]`` of 73 keeps ``73 − 2 = 71``), a missing stop is the size, a bound past
    either end is clamped to it.
    """
    start, stop, step = item["slice"]
    step = step or 1
    first, first_text = _bound(start, size, 0)
    last, last_text = _bound(stop, size, size)
    if last - first <= 0:
        return 0, Formula.sentence(f"{slice_text(item)} of {size} keeps nothing", 0)
    if first_text == "0":
        span = last_text if "−" in last_text else f"{last_text} − 0"
    else:
        span = f"{last_text} − {first_text}"
    if step == 1:
        return last - first, Formula(span, last - first)
    length = -(-(last - first) // step)
    return length, Formula(f"⌈({span}) / {step}⌉", length, "rounded")


def _bound(bound: int | None, size: int, missing: int) -> tuple[int, str]:
    """One end of a slice as an index into `size` elements, and how it is written (``"73 − 2"`` for ``-2``)."""
    if bound is None:
        return missing, str(missing)
    if bound < 0:
        if bound + size <= 0:
            return 0, "0"
        return bound + size, f"{size} − {-bound}" if missing == size else f"({size} − {-bound})"
    return min(bound, size), str(min(bound, size))


def slice_text(item: Mapping[str, Any]) -> str:
    """A slice as Python writes it: ``1:5``, ``::2``."""
    start, stop, step = item["slice"]
    text = f"{'' if start is None else start}:{'' if stop is None else stop}"
    return text + (f":{step}" if step not in (None, 1) else "")


def permuted_axis(name: str, args: Mapping[str, Any], axis: int, rank: int) -> int | None:  # noqa: PLR0911 - one return per op
    """The input axis that output `axis` of a transpose or permute came from."""
    if name == "permute":
        dims = args.get("dims")
        if not isinstance(dims, list | tuple) or len(dims) != rank:
            return None
        return int(dims[axis]) % rank
    if name == "T":
        return rank - 1 - axis
    if name in ("t", "mT", "mH"):
        first, second = (0, 1) if name == "t" and rank == 2 else (rank - 2, rank - 1)
        if rank < 2:
            return axis
    else:
        d0, d1 = args.get("dim0"), args.get("dim1")
        if not isinstance(d0, int) or not isinstance(d1, int):
            return None
        first, second = d0 % rank, d1 % rank
    if axis == first:
        return second
    if axis == second:
        return first
    return axis


def expected_size(value: Any) -> int | tuple[int, ...] | None:
    """The size an argument's value claims: one int, several (LayerNorm's normalized_shape), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, list | tuple) and value and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return int(value[0]) if len(value) == 1 else tuple(int(v) for v in value)
    return None


def per_axis(value: Any, i: int, n: int) -> Any:
    """Entry `i` of a per-axis argument given as one number or one per axis (None when it does not fit)."""
    if isinstance(value, list | tuple):
        return value[i] if len(value) == n else (value[0] if len(value) == 1 else None)
    return value


def kernel_text(kernel: Any, n: int, hp: Mapping[str, Any]) -> str:
    """A convolution's window in a layer label: ``"5×5"``, ``"3, stride 2, padding 1"``."""
    sizes = kernel if isinstance(kernel, list | tuple) else [kernel] * n
    parts = ["×".join(str(k) for k in sizes)]
    for name, neutral in (("stride", 1), ("padding", 0), ("dilation", 1)):
        value = hp.get(name)
        values = value if isinstance(value, list | tuple) else [value]
        if value is not None and any(v != neutral for v in values):
            shown = (
                value
                if isinstance(value, str)
                else (values[0] if len(set(values)) == 1 else "×".join(str(v) for v in values))
            )
            parts.append(f"{name} {shown}")
    return ", ".join(parts)


def pool_text(args: Mapping[str, Any]) -> str:
    """A pooling window in a label: ``"kernel 2, stride 2"``, with padding, dilation and ceil_mode when set."""
    parts = [f"kernel {_short(args.get('kernel_size'))}"]
    stride = args.get("stride")
    parts.append(f"stride {_short(stride) if stride not in (None, [], ()) else _short(args.get('kernel_size'))}")
    if args.get("padding") not in (None, 0, [0, 0], [0], [0, 0, 0]):
        parts.append(f"padding {_short(args.get('padding'))}")
    if args.get("dilation") not in (None, 1, [1, 1], [1], [1, 1, 1]):
        parts.append(f"dilation {_short(args.get('dilation'))}")
    if args.get("ceil_mode"):
        parts.append("ceil_mode")
    return ", ".join(parts)


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    return str(value)


__all__ = [
    "Formula",
    "expected_size",
    "index_map",
    "kernel_text",
    "per_axis",
    "permuted_axis",
    "pool_text",
    "reshape_groups",
    "slice_length",
    "slice_text",
    "window_size",
]
