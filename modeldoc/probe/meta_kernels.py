"""What the meta device answers wrongly or slowly, answered here from shapes.

On the meta device a kernel computes shapes without values. Three kinds of kernel need help:
some run a slow decomposition into primitives (``torch.lstm`` and its kin, ``F.linear``), so
their output shapes are answered from their input shapes (`meta_rnn`, `meta_linear`); some meta
kernels demand more than the CPU kernel does (``torch._grouped_mm``, the mixture-of-experts
matmul, wants bfloat16 on meta and takes float32 on the CPU), so they are answered from shapes
too (`meta_grouped_mm`); and the meta kernels accept dtypes the real CPU kernels reject, so
those are checked before the call (`check_dtypes`, raising `DtypeRejected`). A new kernel
answered from shapes goes in `answer_from_shapes`, which the recorder
(`modeldoc.probe.record`) asks before running the op.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from modeldoc.probe.names import dtype_name
from modeldoc.probe.ops import bind, op_name, tensor_leaves

_RNN_FUNCTIONS = (torch.lstm, torch.gru, torch.rnn_tanh, torch.rnn_relu)
_GROUPED_MM = tuple(f for f in (getattr(torch, "_grouped_mm", None), getattr(F, "grouped_mm", None)) if f is not None)


def answer_from_shapes(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The outputs of `func` on meta tensors when a kernel here answers it from shapes; None otherwise."""
    for kernel in (meta_elementwise, meta_linear, meta_attention, meta_rnn, meta_grouped_mm):
        out = kernel(func, args, kwargs)
        if out is not None:
            return out
    return None


def meta_rnn(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The outputs of a recurrent kernel on meta tensors, from its shapes alone; None for anything else.

    On the meta device ``torch.lstm`` and its kin run their step-by-step Python decomposition,
    about ten times slower than the real kernel on the CPU; their output shapes need none of it.
    Only the padded form (``input, hx, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first``) is answered; packed sequences run as usual.
    """
    if func not in _RNN_FUNCTIONS or kwargs or len(args) != 9 or not isinstance(args[2], list | tuple):
        return None
    data, hx, batch_first = args[0], args[1], args[8]
    states = tuple(hx) if isinstance(hx, list | tuple) else (hx,)
    tensors = (data, *states)
    if not all(isinstance(t, torch.Tensor) and t.is_meta for t in tensors) or data.dim() != 3:
        return None
    directions = 2 if args[7] else 1
    length, batch = (data.shape[1], data.shape[0]) if batch_first else (data.shape[0], data.shape[1])
    width = directions * states[0].shape[-1]
    output = data.new_empty((batch, length, width) if batch_first else (length, batch, width))
    return (output, *(state.new_empty(state.shape) for state in states))


def meta_linear(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """The output of ``F.linear`` on meta tensors, from its shapes alone; None for anything else.

    On the meta device ``F.linear`` runs its decomposition into primitives, about a hundred
    times slower than this (10,000 Linear layers took 20 s per pass). The shape check is the
    one the CPU kernel makes, with its message; anything unusual takes the normal path.
    """
    if func is not F.linear:
        return None
    bound = bind(func, "linear", args, kwargs)
    data, weight, bias = bound.get("input"), bound.get("weight"), bound.get("bias")
    if not (isinstance(data, torch.Tensor) and isinstance(weight, torch.Tensor)):
        return None
    tensors = [data, weight] + ([bias] if bias is not None else [])
    if set(bound) - {"input", "weight", "bias"} or not all(isinstance(t, torch.Tensor) and t.is_meta for t in tensors):
        return None
    if data.dim() < 1 or weight.dim() != 2 or (bias is not None and tuple(bias.shape) not in ((weight.shape[0],), ())):
        return None
    if data.shape[-1] != weight.shape[1]:
        mat1 = f"{math.prod(data.shape[:-1])}x{data.shape[-1]}"
        mat2 = f"{weight.shape[1]}x{weight.shape[0]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1} and {mat2})")
    return data.new_empty((*data.shape[:-1], weight.shape[0]))


def meta_grouped_mm(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """The output of ``torch._grouped_mm`` (``F.grouped_mm``) on meta tensors, from shapes; None for anything else.

    Its meta kernel checks what the CUDA kernel needs (bfloat16, 16-byte aligned strides) and so
    stops a float32 mixture-of-experts model that the CPU kernel runs. Only the forward layouts
    are answered: tokens × in (grouped by ``offs``) times experts × in × out, and a batch of
    groups times a batch of groups; the operand widths are checked as the CPU kernel checks them.
    """
    if func not in _GROUPED_MM:
        return None
    names = ("mat_a", "mat_b", "offs", "bias", "out_dtype")
    bound = dict(zip(names, args, strict=False)) | dict(kwargs)
    a, b, offs = bound.get("mat_a"), bound.get("mat_b"), bound.get("offs")
    if not (isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and a.is_meta and b.is_meta):
        return None
    if bound.get("bias") is not None or set(bound) - set(names) or b.dim() != 3 or a.dim() not in (2, 3):
        return None
    if (a.dim() == 2) != (offs is not None):
        return None
    if a.shape[-1] != b.shape[-2]:
        raise RuntimeError(f"contraction dimension of mat_a and mat_b must match, got {a.shape[-1]} and {b.shape[-2]}")
    dtype = bound.get("out_dtype") or a.dtype
    shape = (a.shape[0], b.shape[-1]) if a.dim() == 2 else (a.shape[0], a.shape[1], b.shape[-1])
    return torch.empty(shape, dtype=dtype, device="meta")


_ATTENTION = getattr(F, "scaled_dot_product_attention", None)


def meta_attention(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """The output of ``F.scaled_dot_product_attention`` on meta tensors, from shapes; None for anything else.

    Its meta path runs the attention's decomposition (softmax of the scores, then times the
    values), a few milliseconds a call. Only well-formed calls are answered (query, key and value
    of one dtype and one batch shape, or fewer key heads under ``enable_gqa``, a mask that
    broadcasts to the scores); anything else takes the normal path, which raises as it does.
    The output is laid out as the meta path lays it out: contiguous.
    """
    if func is not _ATTENTION or _ATTENTION is None:
        return None
    bound = dict(zip(_ATTENTION_ARGS, args, strict=False)) | dict(kwargs)
    if not _well_formed_attention(bound):
        return None
    q, v = bound["query"], bound["value"]
    return torch.empty((*q.shape[:-1], v.shape[-1]), dtype=q.dtype, device="meta")


_ATTENTION_ARGS = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale", "enable_gqa")


def _well_formed_attention(bound: Mapping[str, Any]) -> bool:
    """True for an attention call on meta tensors whose output the CPU kernel gives without complaint."""
    q, k, v, mask = bound.get("query"), bound.get("key"), bound.get("value"), bound.get("attn_mask")
    tensors = (q, k, v) if mask is None else (q, k, v, mask)
    if set(bound) - set(_ATTENTION_ARGS) or not all(isinstance(t, torch.Tensor) and t.is_meta for t in tensors):
        return False
    assert isinstance(q, torch.Tensor) and isinstance(k, torch.Tensor) and isinstance(v, torch.Tensor)
    heads_q, heads_k = (q.shape[-3], k.shape[-3]) if q.dim() >= 3 else (0, 0)
    grouped = bool(bound.get("enable_gqa")) and heads_k > 0 and heads_q % heads_k == 0
    shaped = (
        q.dim() == k.dim() == v.dim() >= 3
        and q.dtype == k.dtype == v.dtype
        and q.is_floating_point()
        and q.shape[-1] == k.shape[-1]
        and k.shape[-2] == v.shape[-2]
        and k.shape[:-2] == v.shape[:-2]
        and q.shape[:-3] == k.shape[:-3]
        and (heads_q == heads_k or grouped)
    )
    if not shaped or mask is None:
        return shaped
    scores = (*q.shape[:-1], k.shape[-2])
    if bound.get("is_causal") or mask.dtype not in (torch.bool, q.dtype):
        return False
    try:
        return tuple(torch.broadcast_shapes(mask.shape, scores)) == scores
    except RuntimeError:
        return False


_BINARY = frozenset(
    f
    for name in ("add", "mul", "sub", "__add__", "__radd__", "__mul__", "__rmul__", "__sub__")
    for f in (getattr(torch.Tensor, name, None), getattr(torch, name, None))
    if f is not None
)
_POWER = frozenset(f for f in (torch.Tensor.pow, torch.Tensor.__pow__, torch.pow) if f is not None)
_UNARY = frozenset(
    f
    for name in ("neg", "__neg__", "rsqrt", "sqrt", "exp", "tanh", "sigmoid")
    for f in (getattr(torch.Tensor, name, None), getattr(torch, name, None))
    if f is not None
)
"""Elementwise ops whose output on contiguous meta tensors is a contiguous tensor of the broadcast shape."""


def meta_elementwise(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """The output of an elementwise op (``a + b``, ``x * y``, ``x.pow(2)``, ``torch.rsqrt(x)``) on meta tensors.

    On the meta device these run torch's Python reference implementations, a fraction of a
    millisecond each, thousands of times in a large model. The answer here is the one those
    give when every tensor is contiguous and on the meta device: a contiguous tensor of the
    broadcast shape, in the promoted dtype. Anything else (keywords such as ``alpha`` or
    ``out``, a strided or non-meta operand, shapes that do not broadcast, integers where the
    op wants floats) takes the normal path.
    """
    tensors = _elementwise_operands(func, args) if not kwargs else None
    if not tensors or not all(t.is_meta and t.is_contiguous() and t.dtype != torch.bool for t in tensors):
        return None
    try:
        shape = torch.broadcast_shapes(*(t.shape for t in tensors))
        dtype = torch.result_type(*args) if len(args) == 2 else tensors[0].dtype
    except RuntimeError:
        return None
    return torch.empty(shape, dtype=dtype, device="meta")


def _elementwise_operands(func: Any, args: tuple[Any, ...]) -> list[torch.Tensor] | None:
    """The tensors of a call to an op of `_BINARY`, `_POWER` or `_UNARY` that `meta_elementwise` may answer."""
    if func in _UNARY:
        x = args[0] if len(args) == 1 else None
        return [x] if isinstance(x, torch.Tensor) and x.is_floating_point() else None
    if (func not in _BINARY and func not in _POWER) or len(args) != 2:
        return None
    if any(isinstance(a, bool) or not isinstance(a, torch.Tensor | int | float) for a in args):
        return None
    if func in _POWER and not (isinstance(args[0], torch.Tensor) and args[0].is_floating_point()):
        return None
    return [a for a in args if isinstance(a, torch.Tensor)]


class DtypeRejected(RuntimeError):
    """A dtype the real kernel rejects, caught on the meta device (which does not check dtypes)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


_SAME_DTYPE: dict[str, tuple[str, ...]] = {
    "linear": ("input", "weight", "bias"),
    "bilinear": ("input1", "input2", "weight", "bias"),
    "matmul": ("input", "other"),
    "mm": ("input", "other"),
    "mv": ("input", "other"),
    "addmm": ("bias", "mat1", "mat2"),
    "baddbmm": ("bias", "batch1", "batch2"),
    "addbmm": ("bias", "batch1", "batch2"),
    **{f"conv{n}d": ("input", "weight", "bias") for n in (1, 2, 3)},
    **{f"conv_transpose{n}d": ("input", "weight", "bias") for n in (1, 2, 3)},
    "multi_head_attention_forward": ("query", "key", "value", "in_proj_weight", "out_proj_weight"),
}
"""Ops whose CPU kernels need these operands in one dtype (the meta kernels accept a mix)."""


_FLOATING_ONLY = frozenset(
    {"softmax", "log_softmax", "gelu", "silu", "mish", "hardswish", "softplus", "glu", "batch_norm"}
)
"""Ops whose CPU kernels are not implemented for integer or boolean inputs (the meta kernels accept them)."""


def check_dtypes(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Raise `DtypeRejected` where the real kernel would reject the dtypes the meta kernel lets through."""
    name = op_name(func)
    operands = _SAME_DTYPE.get(name)
    if operands is None and name not in _FLOATING_ONLY:
        return
    bound = bind(func, name, args, kwargs)
    if operands is None:
        first = next((t for t in tensor_leaves((args, kwargs))), None)
        if first is not None and not (first.dtype.is_floating_point or first.dtype.is_complex):
            raise DtypeRejected(
                f"{name} received a tensor of dtype {dtype_name(first.dtype)}, which its real kernel does not "
                "accept (the meta device does not check dtypes)",
                _dtype_fix(first.dtype),
            )
        return
    tensors = [(key, bound[key]) for key in operands if isinstance(bound.get(key), torch.Tensor)]
    if len(tensors) < 2:
        return
    (first_name, first), *rest = tensors
    other = next(((key, t) for key, t in rest if t.dtype != first.dtype), None)
    if other is None:
        return
    raise DtypeRejected(
        f"{name} received {first_name} as {dtype_name(first.dtype)} and {other[0]} as "
        f"{dtype_name(other[1].dtype)}; its real kernel needs one dtype for both (the meta device does not "
        "check dtypes)",
        _dtype_fix(first.dtype, other[1].dtype),
    )


def _dtype_fix(given: torch.dtype, wanted: torch.dtype | None = None) -> str:
    if not (given.is_floating_point or given.is_complex):
        return (
            "integer inputs such as token ids go to an Embedding first; for other inputs pass "
            f"--input-dtype {dtype_name(wanted) if wanted is not None and wanted.is_floating_point else 'float32'}"
        )
    target = dtype_name(wanted) if wanted is not None else "float32"
    return f"pass --input-dtype {target} to match the model's weights"
