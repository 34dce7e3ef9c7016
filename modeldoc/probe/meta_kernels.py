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
    for kernel in (meta_linear, meta_rnn, meta_grouped_mm):
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
