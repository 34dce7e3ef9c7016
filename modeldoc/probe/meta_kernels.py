"""What the meta device answers wrongly or slowly, answered here from shapes.

On the meta device a kernel computes shapes without values. Four kinds of kernel need help:

- some run a slow decomposition into primitives (``torch.lstm`` and its kin, ``F.linear``,
  attention), so their output shapes are answered from their input shapes (`meta_rnn`,
  `meta_linear`, `meta_attention`);
- common ops whose meta path is one of torch's Python references (``relu``, ``layer_norm``,
  ``addmm``, ``cat``, ``mean``, ``batch_norm``, ``adaptive_avg_pool2d``, elementwise ops) are
  answered too: those references import ``torch._dynamo`` on their first call (about a second),
  and the checks of the convolutions', ``max_pool2d``'s and ``embedding``'s meta kernels import
  torch's symbolic shapes and ``sympy`` (a third of a second), which a model made of these ops
  no longer pays. Each answers only the calls whose output layout it knows to be the meta
  path's (a new contiguous tensor, mostly) and leaves the rest, and every call torch refuses,
  to torch;
- some meta kernels demand more than the CPU kernel does (``torch._grouped_mm``, the
  mixture-of-experts matmul, wants bfloat16 on meta and takes float32 on the CPU), so they are
  answered from shapes too (`meta_grouped_mm`);
- the meta kernels accept dtypes the real CPU kernels reject, so those are checked before the
  call (`check_dtypes`, raising `DtypeRejected`).

A new kernel answered from shapes goes in `answer_from_shapes` (or `_BY_FUNCTION`), which the
recorder (`modeldoc.probe.record`) asks before running the op.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from modeldoc.probe.names import dtype_name
from modeldoc.probe.ops import bind, op_name, tensor_leaves

_RNN_FUNCTIONS = (torch.lstm, torch.gru, torch.rnn_tanh, torch.rnn_relu)
_GROUPED_MM = tuple(f for f in (getattr(torch, "_grouped_mm", None), getattr(F, "grouped_mm", None)) if f is not None)


def answer_from_shapes(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The outputs of `func` on meta tensors when a kernel here answers it from shapes; None otherwise."""
    kernel = _BY_FUNCTION.get(func)
    if kernel is not None:
        return kernel(args, kwargs)
    general = _GENERAL.get(func)
    return None if general is None else general(func, args, kwargs)


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
    output = _empty((batch, length, width) if batch_first else (length, batch, width), data.dtype)
    return (output, *(_empty(state.shape, state.dtype) for state in states))


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
    return _empty((*data.shape[:-1], weight.shape[0]), data.dtype)


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
    return _broadcast(tuple(mask.shape), scores) == scores


_BINARY = frozenset(
    f
    for name in ("add", "mul", "sub", "__add__", "__radd__", "__mul__", "__rmul__", "__sub__")
    for f in (getattr(torch.Tensor, name, None), getattr(torch, name, None))
    if f is not None
)
_POWER = frozenset(f for f in (torch.Tensor.pow, torch.Tensor.__pow__, torch.pow) if f is not None)
_UNARY = frozenset(
    f
    for name in ("neg", "__neg__", "rsqrt", "sqrt", "exp", "tanh", "sigmoid", "cos", "sin")
    for f in (getattr(torch.Tensor, name, None), getattr(torch, name, None))
    if f is not None
)
"""Elementwise ops whose output on contiguous meta tensors is a contiguous tensor of the broadcast shape,
and on a dense meta tensor (a permuted one too) a tensor laid out as it (`_like`)."""


def meta_elementwise(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """The output of an elementwise op (``a + b``, ``x * y``, ``x.pow(2)``, ``torch.rsqrt(x)``) on meta tensors.

    On the meta device these run torch's Python reference implementations, a fraction of a
    millisecond each, thousands of times in a large model. The answer here is the one those
    give: a tensor of the broadcast shape, in the operands' dtype, laid out in the order of
    axes torch's reference chooses from the operands' strides (`_output_order`), so a rotary
    embedding's product of a transposed query and a broadcast table keeps the query's layout.
    Anything else (keywords such as ``alpha`` or ``out``, a non-meta operand, shapes that do not
    broadcast, operands of another dtype than the result's, integers where the op wants floats)
    takes the normal path.
    """
    tensors = _elementwise_operands(func, args) if not kwargs else None
    if not tensors or not all(t.is_meta and t.dtype != torch.bool for t in tensors):
        return None
    if not REMEMBER_LAYOUTS:
        return _elementwise(func, args, tensors)
    key = (func, *[(a.shape, a.stride(), a.dtype) if isinstance(a, torch.Tensor) else (type(a), a) for a in args])
    if key in _LAYOUTS:
        layout = _LAYOUTS[key]
        return None if layout is None else torch.empty_strided(layout[0], layout[1], dtype=layout[2], device="meta")
    out = _elementwise(func, args, tensors)
    if len(_LAYOUTS) >= _MOST_LAYOUTS:
        _LAYOUTS.clear()
    _LAYOUTS[key] = None if out is None else (out.shape, out.stride(), out.dtype)
    return out


REMEMBER_LAYOUTS = True
"""Answer an elementwise op seen before on operands of the same sizes, strides and dtypes from what it gave then."""
_LAYOUTS: dict[Any, tuple[torch.Size, tuple[int, ...], torch.dtype] | None] = {}
"""`meta_elementwise`'s answers (None: it gave none) by the op and its operands' sizes, strides and dtypes
(and the other operand's type and value): its answer depends on nothing else."""
_MOST_LAYOUTS = 4096


def _elementwise(func: Any, args: tuple[Any, ...], tensors: list[torch.Tensor]) -> torch.Tensor | None:
    """`meta_elementwise`'s answer worked out: the operands are meta tensors, none of them flags."""
    if func in _UNARY:
        like = _like(tensors[0])
        if like is not None:
            return like
    shape = _broadcast(*(tuple(t.shape) for t in tensors))
    if shape is None:
        return None
    try:
        dtype = torch.result_type(*args) if len(args) == 2 else tensors[0].dtype
    except RuntimeError:
        return None
    if any(t.dtype != dtype for t in tensors) and not all(t.is_contiguous() for t in tensors):
        return None  # the reference converts such an operand first, which may change its layout
    spread = [t if tuple(t.shape) == shape else t.expand(shape) for t in tensors]
    return torch.empty_permuted(shape, _output_order(shape, spread), dtype=dtype, device="meta")


def _broadcast(*shapes: tuple[int, ...]) -> tuple[int, ...] | None:
    """The shape `shapes` broadcast to, None when they do not (``torch.broadcast_shapes`` is Python, and slower)."""
    out = [1] * max(len(shape) for shape in shapes)
    for shape in shapes:
        for axis, size in enumerate(shape, len(out) - len(shape)):
            if size == 1:
                continue
            if out[axis] == 1:
                out[axis] = size
            elif out[axis] != size:
                return None
    return tuple(out)


def _empty(shape: Any, dtype: torch.dtype) -> torch.Tensor:
    """A new contiguous meta tensor (``Tensor.new_empty`` on meta is a Python reference, and slower)."""
    return torch.empty(shape, dtype=dtype, device="meta")


def _output_order(shape: tuple[int, ...], tensors: list[torch.Tensor]) -> list[int]:
    """The axes of an elementwise op's output from outermost to innermost in memory, as torch's reference orders them.

    `tensors` are the operands broadcast to `shape`. This is
    ``torch._prims_common.compute_elementwise_output_logical_to_physical_perm`` on concrete sizes:
    all contiguous gives the plain order, all channels-last the channels-last order, else the
    axes are sorted by the operands' strides (broadcast axes, of stride 0, do not count).
    """
    rank = len(shape)
    if rank < 2:
        return list(range(rank))
    strides = [t.stride() for t in tensors]
    contiguous = math.prod(shape) < 2 or all(_packed(shape, s, range(rank - 1, -1, -1)) for s in strides)
    channels_last = rank == 4 and all(_packed(shape, s, (1, 3, 2, 0)) for s in strides)
    if contiguous and not channels_last:
        return list(range(rank))
    if channels_last and not contiguous:
        return [0, *range(2, rank), 1]

    def swap(a: int, b: int) -> int:
        for stride in strides:
            sa, sb = stride[a], stride[b]
            if sa == 0 or sb == 0:
                continue
            if sa == sb:
                if shape[b] >= shape[a]:
                    continue
                return 1
            return -1 if sb >= sa else 1
        return 0

    order = list(reversed(range(rank)))  # sorted innermost first, then reversed
    for i in range(1, rank):
        right = i
        for left in reversed(range(i)):
            comparison = swap(order[left], order[right])
            if comparison > 0:
                order[left], order[right] = order[right], order[left]
                right = left
            elif comparison < 0:
                break
    return list(reversed(order))


def _packed(shape: tuple[int, ...], strides: tuple[int, ...], axes: Any) -> bool:
    """True when the axes, innermost first, are packed one after another (axes of size 1 skipped)."""
    expected = 1
    for axis in axes:
        if shape[axis] == 1:
            continue
        if strides[axis] != expected:
            return False
        expected *= shape[axis]
    return True


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


def _dense(tensor: torch.Tensor) -> bool:
    """True when `tensor`'s elements fill its storage without gaps or overlaps, in any order of its axes."""
    expected = 1
    for stride, size in sorted((s, n) for s, n in zip(tensor.stride(), tensor.shape, strict=True) if n != 1):
        if stride != expected:
            return False
        expected *= size
    return True


def _contiguous_strides(shape: torch.Size) -> tuple[int, ...]:
    """The strides of a new contiguous tensor of `shape` (an axis of size 1 gets the stride of the next)."""
    strides = []
    step = 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))


def _like(tensor: torch.Tensor) -> torch.Tensor | None:
    """A new meta tensor laid out as a unary op's meta path lays out its output; None when that is unsure.

    A new contiguous tensor, or a dense one with no axis of size 1 (a permuted one), keeps its
    strides; an axis of size 1 may carry any stride, and then the meta path's rules decide.
    (``torch.empty_like`` would say it, but on meta it is a Python reference that imports
    ``sympy``.)
    """
    if _new_layout(tensor) or (1 not in tensor.shape and _dense(tensor)):
        return torch.empty_strided(tensor.shape, tensor.stride(), dtype=tensor.dtype, device="meta")
    return None


def meta_like(tensor: torch.Tensor) -> torch.Tensor:
    """``torch.empty_like(tensor, device="meta")``, quicker for the usual layouts (a weight's stand-in)."""
    plain = tensor.layout == torch.strided and not tensor.is_quantized and type(tensor) in (torch.Tensor, nn.Parameter)
    like = _like(tensor) if plain else None
    return like if like is not None else torch.empty_like(tensor, device="meta")


def _new_layout(tensor: torch.Tensor) -> bool:
    """True when `tensor` is laid out exactly as a new contiguous tensor of its shape (size-1 axes too)."""
    return tensor.stride() == _contiguous_strides(tensor.shape)


def _arg(bound: Mapping[str, Any], key: str, default: Any = None) -> Any:
    return bound.get(key, default)


def _meta_floats(*tensors: Any) -> bool:
    return all(isinstance(t, torch.Tensor) and t.is_meta and t.is_floating_point() for t in tensors)


def meta_activation(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``relu`` or ``silu`` of a dense meta tensor, laid out as its meta path lays it out.

    ``F.silu`` (LLaMA's and most gated MLPs' activation) is Python that calls torch's kernel
    through the default device's handler: answered here, about five times quicker.

    An axis of size 1 may have any stride, and there the meta path's layout follows rules of its
    own; so such a tensor is answered only when its strides are exactly those of a new one.
    """
    x: Any = args[0] if len(args) == 1 else kwargs.get("input") if not args else None
    if set(kwargs) - {"input", "inplace"} or kwargs.get("inplace") or not _meta_floats(x):
        return None
    return _like(x)


def meta_layer_norm(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``F.layer_norm`` of a contiguous meta tensor over its last axes, with matching weight and bias."""
    bound = dict(zip(("input", "normalized_shape", "weight", "bias", "eps"), args, strict=False)) | dict(kwargs)
    x, shape, weight, bias = (_arg(bound, k) for k in ("input", "normalized_shape", "weight", "bias"))
    if set(bound) - {"input", "normalized_shape", "weight", "bias", "eps"} or not _meta_floats(x):
        return None
    if not isinstance(shape, list | tuple | torch.Size) or not all(type(n) is int for n in shape):
        return None
    shape = tuple(shape)
    if not shape or not _new_layout(x) or tuple(x.shape[-len(shape) :]) != shape or x.dim() < len(shape):
        return None
    for tensor in (weight, bias):
        if tensor is not None and not (_meta_floats(tensor) and tuple(tensor.shape) == shape):
            return None
    return torch.empty(x.shape, dtype=x.dtype, device="meta")


def meta_addmm(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``torch.addmm(bias, mat1, mat2)`` on meta tensors of one dtype: a contiguous rows × columns result."""
    bound = dict(zip(("input", "mat1", "mat2"), args, strict=False)) | dict(kwargs)
    bias, a, b = (_arg(bound, k) for k in ("input", "mat1", "mat2"))
    if set(bound) - {"input", "mat1", "mat2", "beta", "alpha"} or not _meta_floats(bias, a, b):
        return None
    if a.dim() != 2 or b.dim() != 2 or a.shape[1] != b.shape[0] or not (a.dtype == b.dtype == bias.dtype):
        return None
    out = (a.shape[0], b.shape[1])
    if _broadcast(tuple(bias.shape), out) != out:
        return None
    return torch.empty(out, dtype=a.dtype, device="meta")


def meta_cat(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``torch.cat`` of meta tensors of one dtype that match but along `dim`: contiguous.

    torch's reference lays the result out contiguous as soon as one part is not laid out
    channels-last (`_like_channels_last`), whatever the others' strides (the halves of a rotary
    embedding are slices of a transposed tensor); all parts channels-last is left to it. An empty
    1-D part beside parts of more axes is skipped, as torch skips it (a generation cache's first
    keys are the new keys after an empty tensor).
    """
    bound = dict(zip(("tensors", "dim"), args, strict=False)) | dict(kwargs)
    given, dim = _arg(bound, "tensors"), _arg(bound, "dim", 0)
    if set(bound) - {"tensors", "dim"} or not isinstance(given, list | tuple) or not given or type(dim) is not int:
        return None
    tensors = _cat_parts(given)
    if not tensors:
        return None
    first = tensors[0]
    rank = first.dim()
    if rank == 0 or not -rank <= dim < rank or any(t.dim() != rank for t in tensors):
        return None
    dim %= rank
    if any(t.shape[:dim] != first.shape[:dim] or t.shape[dim + 1 :] != first.shape[dim + 1 :] for t in tensors):
        return None
    shape = (*first.shape[:dim], sum(t.shape[dim] for t in tensors), *first.shape[dim + 1 :])
    return torch.empty(shape, dtype=first.dtype, device="meta")


def _cat_parts(given: list[Any] | tuple[Any, ...]) -> list[torch.Tensor] | None:
    """The parts of a ``torch.cat`` that `meta_cat` may answer, without empty 1-D ones beside others; None if none."""
    if not all(isinstance(t, torch.Tensor) and t.is_meta and t.dtype == given[0].dtype for t in given):
        return None
    if all(_like_channels_last(tuple(t.shape), t.stride()) for t in given):
        return None
    if all(t.dim() == 1 for t in given):
        return list(given)
    return [t for t in given if t.dim() != 1 or t.shape[0] != 0]


def _like_channels_last(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """True when a 4-D or 5-D tensor's strides look channels-last (``are_strides_like_channels_last_or_false``)."""
    order = {4: (1, 3, 2, 0), 5: (1, 4, 3, 2, 0)}.get(len(shape))
    if order is None or strides[1] == 0:
        return False
    low = 0
    for axis in order:
        if shape[axis] == 0 or strides[axis] < low or (axis == 0 and low == strides[1]):
            return False
        low = strides[axis] * shape[axis]
    return True


def meta_dropout(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``F.dropout`` or ``torch.dropout`` when not training: the input itself, the very tensor torch returns.

    Every model described in evaluation calls its dropouts so; ``F.dropout`` is Python that reaches
    torch's kernel through the default device's handler. Training, in place, or a probability
    torch refuses (it raises) takes the normal path.
    """
    names = ("input", "p", "training", "inplace") if func is F.dropout else ("input", "p", "train")
    if len(args) > len(names) or set(kwargs) - set(names):
        return None
    bound = dict(zip(names, args, strict=False)) | dict(kwargs)
    x, p = bound.get("input"), bound.get("p", 0.5)
    training = bound.get("training", True) if func is F.dropout else bound.get("train")
    if not (isinstance(x, torch.Tensor) and x.is_meta) or training is not False or bound.get("inplace", False):
        return None
    return x if type(p) in (float, int) and 0.0 <= p <= 1.0 else None


def meta_mean(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``mean`` of a contiguous floating meta tensor over some axes: contiguous, in its dtype."""
    bound = dict(zip(("input", "dim", "keepdim"), args, strict=False)) | dict(kwargs)
    x, dims, keep = _arg(bound, "input"), _arg(bound, "dim"), _arg(bound, "keepdim", False)
    dims_: Any = dims
    if set(bound) - {"input", "dim", "keepdim"} or not _meta_floats(x) or not _new_layout(x) or x.dim() == 0:
        return None
    if type(dims_) is int:
        dims_ = (dims_,)
    if not isinstance(dims_, list | tuple) or not dims_ or not all(type(d) is int for d in dims_):
        return None
    if type(keep) is not bool or not all(-x.dim() <= d < x.dim() for d in dims_):
        return None
    axes = {d % x.dim() for d in dims_}
    if len(axes) != len(dims_):
        return None
    shape = tuple(1 if i in axes else n for i, n in enumerate(x.shape) if keep or i not in axes)
    return torch.empty(shape, dtype=x.dtype, device="meta")


def meta_batch_norm(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``F.batch_norm`` in eval mode of a contiguous meta tensor with per-channel statistics: laid out as it."""
    names = ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps")
    bound = dict(zip(names, args, strict=False)) | dict(kwargs)
    x: Any = _arg(bound, "input")
    if set(bound) - set(names) or _arg(bound, "training") or not _meta_floats(x) or x.dim() < 2 or not _new_layout(x):
        return None
    for key in ("running_mean", "running_var", "weight", "bias"):
        t = _arg(bound, key)
        if key in ("running_mean", "running_var") and t is None:
            return None
        if t is not None and not (_meta_floats(t) and tuple(t.shape) == (x.shape[1],)):
            return None
    return torch.empty(x.shape, dtype=x.dtype, device="meta")


def meta_adaptive_avg_pool2d(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``F.adaptive_avg_pool2d`` of a contiguous floating meta tensor (3-D or 4-D): contiguous."""
    bound = dict(zip(("input", "output_size"), args, strict=False)) | dict(kwargs)
    x, size = _arg(bound, "input"), _arg(bound, "output_size")
    if set(bound) - {"input", "output_size"} or not _meta_floats(x) or x.dim() not in (3, 4) or not _new_layout(x):
        return None
    sizes = (size, size) if type(size) is int else tuple(size) if isinstance(size, list | tuple) else ()
    if len(sizes) != 2 or not all(n is None or (type(n) is int and n > 0) for n in sizes) or 0 in x.shape:
        return None
    height, width = (x.shape[-2 + i] if n is None else n for i, n in enumerate(sizes))
    return torch.empty((*x.shape[:-2], height, width), dtype=x.dtype, device="meta")


_CONVOLUTIONS = {F.conv1d: 1, F.conv2d: 2, F.conv3d: 3}


def meta_conv(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``F.conv1d``/``2d``/``3d`` of new contiguous meta tensors, numeric padding: contiguous.

    Its meta path checks the arguments with ``torch._check``, which imports torch's symbolic
    shapes and ``sympy`` (a third of a second) on its first call. Any call the real kernel might
    refuse (channels that do not divide, an empty output, a string padding) takes the normal
    path, which raises as it does.
    """
    spatial = _CONVOLUTIONS.get(func)
    if spatial is None:
        return None
    names = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
    bound = dict(zip(names, args, strict=False)) | dict(kwargs)
    if set(bound) - set(names) or not _conv_operands(bound, spatial):
        return None
    x, weight = bound["input"], bound["weight"]
    steps = [_per_axis(_arg(bound, key, default), spatial) for key, default in _CONV_STEPS]
    sizes = []
    for n, k, (s, p, d) in zip(x.shape[2:], weight.shape[2:], zip(*steps, strict=True), strict=True):
        size = (n + 2 * p - d * (k - 1) - 1) // s + 1 if s >= 1 and d >= 1 and p >= 0 else 0
        if size < 1:
            return None
        sizes.append(size)
    return torch.empty((x.shape[0], weight.shape[0], *sizes), dtype=x.dtype, device="meta")


_CONV_STEPS = (("stride", 1), ("padding", 0), ("dilation", 1))


def _conv_operands(bound: Mapping[str, Any], spatial: int) -> bool:
    """True when a convolution's tensors and numbers are ones the real kernel takes (an answer's premise)."""
    x, weight, bias, groups = (_arg(bound, key) for key in ("input", "weight", "bias", "groups"))
    groups = 1 if groups is None else groups
    if not _meta_floats(x, weight) or type(groups) is not int or groups < 1:
        return False
    if x.dim() != spatial + 2 or weight.dim() != spatial + 2 or x.dtype != weight.dtype:
        return False
    if not (_new_layout(x) and _new_layout(weight)):
        return False  # channels-last and other layouts: the meta path picks the output's
    out_channels = weight.shape[0]
    if x.shape[1] != weight.shape[1] * groups or out_channels % groups or 0 in weight.shape:
        return False
    if bias is not None and not (_meta_floats(bias) and tuple(bias.shape) == (out_channels,) and bias.dtype == x.dtype):
        return False
    return all(_per_axis(_arg(bound, key, default), spatial) is not None for key, default in _CONV_STEPS)


def _per_axis(value: Any, spatial: int) -> Any:
    """An int or a sequence of ints as one per spatial axis; None for anything else (``"same"``)."""
    if type(value) is int:
        return (value,) * spatial
    if isinstance(value, list | tuple) and all(type(v) is int for v in value):
        if len(value) == spatial:
            return tuple(value)
        if len(value) == 1:
            return (value[0],) * spatial
    return None


def meta_max_pool2d(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``F.max_pool2d`` of a new contiguous meta tensor (3-D or 4-D), no ceil mode, no indices: contiguous."""
    names = ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")
    bound = dict(zip(names, args, strict=False)) | dict(kwargs)
    x = _arg(bound, "input")
    if set(bound) - set(names) or _arg(bound, "ceil_mode") or _arg(bound, "return_indices"):
        return None
    if not _meta_floats(x) or x.dim() not in (3, 4) or not _new_layout(x):
        return None
    kernel = _per_axis(_arg(bound, "kernel_size"), 2)
    stride = _arg(bound, "stride")
    stride = kernel if stride is None or (isinstance(stride, list | tuple) and not stride) else _per_axis(stride, 2)
    padding, dilation = _per_axis(_arg(bound, "padding", 0), 2), _per_axis(_arg(bound, "dilation", 1), 2)
    if kernel is None or stride is None or padding is None or dilation is None:
        return None
    sizes = []
    for n, k, s, p, d in zip(x.shape[-2:], kernel, stride, padding, dilation, strict=True):
        if k < 1 or s < 1 or d < 1 or p < 0 or p > k // 2:
            return None
        size = (n + 2 * p - d * (k - 1) - 1) // s + 1
        if size < 1:
            return None
        sizes.append(size)
    return torch.empty((*x.shape[:-2], *sizes), dtype=x.dtype, device="meta")


def meta_embedding(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """``F.embedding`` of integer ids into a 2-D floating meta table, without ``max_norm``: contiguous."""
    names = ("input", "weight", "padding_idx", "max_norm", "norm_type", "scale_grad_by_freq", "sparse")
    bound = dict(zip(names, args, strict=False)) | dict(kwargs)
    ids, weight = _arg(bound, "input"), _arg(bound, "weight")
    if set(bound) - set(names) or _arg(bound, "max_norm") is not None or not _meta_floats(weight):
        return None
    if not isinstance(ids, torch.Tensor) or not ids.is_meta or ids.dtype not in (torch.int64, torch.int32):
        return None
    padding = _arg(bound, "padding_idx")
    if weight.dim() != 2 or not (
        padding is None or (type(padding) is int and -weight.shape[0] <= padding < weight.shape[0])
    ):
        return None  # F.embedding refuses a padding index outside the table
    return torch.empty((*ids.shape, weight.shape[1]), dtype=weight.dtype, device="meta")


_BY_FUNCTION: dict[Any, Any] = {
    **dict.fromkeys((F.relu, torch.relu, torch.Tensor.relu, F.silu, torch._C._nn.silu), meta_activation),
    F.layer_norm: meta_layer_norm,
    **dict.fromkeys((torch.addmm, torch.Tensor.addmm), meta_addmm),
    torch.cat: meta_cat,
    **dict.fromkeys((torch.mean, torch.Tensor.mean), meta_mean),
    F.batch_norm: meta_batch_norm,
    F.adaptive_avg_pool2d: meta_adaptive_avg_pool2d,
    F.max_pool2d: meta_max_pool2d,
    F.embedding: meta_embedding,
}
"""Kernels answered from shapes, by the function the model called; each returns None to take the normal path."""

_GENERAL: dict[Any, Any] = {
    **dict.fromkeys(_UNARY | _BINARY | _POWER, meta_elementwise),
    F.linear: meta_linear,
    **dict.fromkeys(_CONVOLUTIONS, meta_conv),
    **({_ATTENTION: meta_attention} if _ATTENTION is not None else {}),
    **dict.fromkeys(_RNN_FUNCTIONS, meta_rnn),
    **dict.fromkeys(_GROUPED_MM, meta_grouped_mm),
    **dict.fromkeys((F.dropout, torch.dropout), meta_dropout),
}
"""The kernels that take the function as well, by each function they may answer (each answers no other)."""


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


def dtypes_checked(name: str) -> bool:
    """True when `check_dtypes` may reject an op of this name (for any other it returns at once)."""
    return name in _SAME_DTYPE or name in _FLOATING_ONLY


def check_dtypes(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str | None = None) -> None:
    """Raise `DtypeRejected` where the real kernel would reject the dtypes the meta kernel lets through.

    `name` is ``op_name(func)``, when the caller has it.
    """
    name = op_name(func) if name is None else name
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
