"""What the traced forward pass costs: multiply-adds, FLOPs and activation memory, from shapes alone.

Conventions, so the numbers can be compared with other tools:

- **Multiply-adds (MACs)** count only matmul-like work: linear layers, ``matmul``/``mm``/``bmm``
  (and their ``add*`` forms), convolutions, ``einsum``, recurrent cells (every weight matrix
  once per token) and attention (``QKᵀ`` and ``AV``). A bias add is not a multiply-add.
- **FLOPs** are ``2 × MACs`` plus the other arithmetic: one FLOP per output element for
  elementwise work (activations, ``+``, ``*``, bias adds), three per element for softmax (exp,
  sum, divide), five per element for layer/group/instance norms (mean, subtract, variance,
  divide, affine; four for RMS norm, two for batch norm with running statistics), one per
  input element for reductions and adaptive pooling, and one per window element for pooling.
  Views, indexing, concatenation, embedding lookups, dropout and tensor factories cost nothing.
- **Activation memory** is the bytes of the tensors the traced ops produce; views and in-place
  results share memory with their input and are not counted again. Tensors inside a leaf
  layer (an LSTM's gates) are not seen, so this is the memory passed between traced ops.

``torch.utils.flop_counter.FlopCounterMode`` counts matmul-like work only, so its total equals
``2 × MACs`` here where it sees the same ops (it does not see attention on CPU, which runs as
``_scaled_dot_product_flash_attention_for_cpu``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modeldoc.spec import OpSpec, TensorInfo, TraceSpec


class Shape(tuple[int, ...]):
    """A tensor argument, by its shape: tells tensors apart from tuples of numbers in arguments."""

    __slots__ = ()


@dataclass(frozen=True, kw_only=True)
class Cost:
    """The work of one op or of a group of ops."""

    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            macs=self.macs + other.macs,
            flops=self.flops + other.flops,
            activation_bytes=self.activation_bytes + other.activation_bytes,
        )


ZERO = Cost()

_ELEMENTWISE = frozenset(
    {
        "add",
        "sub",
        "rsub",
        "mul",
        "div",
        "true_divide",
        "floor_divide",
        "remainder",
        "fmod",
        "pow",
        "float_power",
        "neg",
        "abs",
        "exp",
        "exp2",
        "expm1",
        "log",
        "log2",
        "log10",
        "log1p",
        "sqrt",
        "rsqrt",
        "reciprocal",
        "square",
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "celu",
        "gelu",
        "silu",
        "mish",
        "sigmoid",
        "logsigmoid",
        "tanh",
        "hardtanh",
        "hardswish",
        "hardsigmoid",
        "softplus",
        "softsign",
        "softshrink",
        "hardshrink",
        "tanhshrink",
        "threshold",
        "prelu",
        "rrelu",
        "clamp",
        "clip",
        "clamp_min",
        "clamp_max",
        "where",
        "masked_fill",
        "maximum",
        "minimum",
        "sin",
        "cos",
        "tan",
        "erf",
        "erfc",
        "sign",
        "lerp",
        "addcmul",
        "addcdiv",
        "glu",
        "logit",
        "nan_to_num",
        "triu",
        "tril",
    }
)
_REDUCTIONS = frozenset(
    {
        "sum",
        "mean",
        "amax",
        "amin",
        "max",
        "min",
        "prod",
        "var",
        "std",
        "var_mean",
        "std_mean",
        "norm",
        "logsumexp",
        "cumsum",
        "cumprod",
        "argmax",
        "argmin",
        "all",
        "any",
    }
)
_NORMS = {"layer_norm": 5, "group_norm": 5, "instance_norm": 5, "rms_norm": 4, "local_response_norm": 5}
_SOFTMAX = frozenset({"softmax", "log_softmax", "softmin"})
_RECURRENT = frozenset({"lstm", "gru", "rnn_tanh", "rnn_relu"})
_POOL = re.compile(r"^(max|avg|lp)_pool[123]d(_with_indices)?$")
_ADAPTIVE_POOL = re.compile(r"^adaptive_(max|avg)_pool[123]d(_with_indices)?$")
_CONV = re.compile(r"^conv[123]d$")
_CONV_T = re.compile(r"^conv_transpose[123]d$")


def numel(shape: Sequence[int]) -> int:
    """Elements of a tensor of this shape (1 for a scalar)."""
    return math.prod(shape)


def op_cost(name: str, arguments: Mapping[str, Any], outputs: Sequence[Sequence[int]]) -> Cost:  # noqa: PLR0911 - one return per rule
    """MACs and FLOPs of one op from its name, its bound arguments (tensors as `Shape`) and its output shapes.

    `name` is the op's short name (``"linear"``, ``"matmul"``, ``"add"``, ``"max_pool2d"``);
    an in-place form (``"add_"``) costs what the plain op costs. Unknown ops cost nothing.
    """
    base = name.rstrip("_") if name.endswith("_") and not name.startswith("_") else name
    out = numel(outputs[0]) if outputs else 0
    shapes = [v for v in arguments.values() if isinstance(v, Shape)]
    first = shapes[0] if shapes else Shape(())
    macs, extra = _macs(base, arguments, shapes, outputs)
    if macs or extra:
        return Cost(macs=macs, flops=2 * macs + extra)
    if base in _ELEMENTWISE:
        return Cost(flops=out)
    if base in _SOFTMAX:
        return Cost(flops=3 * out)
    if base in _NORMS:
        return Cost(flops=_NORMS[base] * numel(first))
    if base == "batch_norm":
        return Cost(flops=(5 if arguments.get("training") else 2) * numel(first))
    if base == "normalize":
        return Cost(flops=3 * numel(first))
    if base in _REDUCTIONS or _ADAPTIVE_POOL.match(base):
        return Cost(flops=numel(first))
    if _POOL.match(base):
        return Cost(flops=out * numel(_tuple(arguments.get("kernel_size", 1), len(first) - 2)))
    if base in ("interpolate", "upsample"):
        return Cost(flops=out)
    return ZERO


def _macs(  # noqa: PLR0911 - one return per rule
    name: str, args: Mapping[str, Any], shapes: list[Shape], outputs: Sequence[Sequence[int]]
) -> tuple[int, int]:
    """Multiply-adds and the extra (non-matmul) FLOPs of matmul-like ops; (0, 0) for other ops."""
    out = numel(outputs[0]) if outputs else 0
    bias = 1 if isinstance(args.get("bias"), Shape) else 0
    if name == "linear" and len(shapes) >= 2:
        return out * shapes[1][-1], bias * out
    if name in ("matmul", "mm", "bmm", "mv", "dot", "vdot", "inner") and len(shapes) >= 2:
        return out * shapes[0][-1], 0
    if name in ("addmm", "baddbmm", "addbmm", "addmv") and len(shapes) >= 3:
        inner = shapes[1][-1]
        batch = shapes[1][0] if name == "addbmm" else 1
        return out * inner * batch, out
    if _CONV.match(name) and len(shapes) >= 2:
        weight = shapes[1]
        return out * numel(weight[1:]), bias * out
    if _CONV_T.match(name) and len(shapes) >= 2:
        weight = shapes[1]
        return numel(shapes[0]) * numel(weight[1:]), bias * out
    if name == "einsum":
        return _einsum_macs(args), 0
    if name == "scaled_dot_product_attention" and len(shapes) >= 3:
        return _attention(shapes[0], shapes[1], shapes[2])
    if name == "multi_head_attention_forward":
        return _multi_head(args)
    if name in _RECURRENT:
        return _recurrent(args)
    return 0, 0


def _attention(query: Shape, key: Shape, value: Shape) -> tuple[int, int]:
    """``softmax(QKᵀ/√d) V``: QKᵀ and AV are matmuls; scale and softmax are 4 FLOPs per score."""
    lq, e, lk, ev = query[-2], query[-1], key[-2], value[-1]
    batch = numel(query[:-2])
    scores = batch * lq * lk
    return scores * (e + ev), 4 * scores


def _multi_head(args: Mapping[str, Any]) -> tuple[int, int]:
    """`F.multi_head_attention_forward`: the q/k/v projections, attention and the output projection."""
    query, key, value = (args.get(k) for k in ("query", "key", "value"))
    if not (isinstance(query, Shape) and isinstance(key, Shape) and isinstance(value, Shape)):
        return 0, 0
    length, embed = query[0], query[-1]
    source = key[0]
    batch = query[1] if len(query) == 3 else 1
    heads = int(args.get("num_heads") or 1)
    if args.get("use_separate_proj_weight"):
        proj = length * embed * embed + source * embed * key[-1] + source * embed * value[-1]
    else:
        proj = (length + 2 * source) * embed * embed
    attend = 2 * length * source * embed
    out_proj = length * embed * embed
    macs = batch * (proj + attend + out_proj)
    extra = batch * ((2 * length + 2 * source) * embed + 4 * heads * length * source)
    return macs, extra


def _recurrent(args: Mapping[str, Any]) -> tuple[int, int]:
    """RNN, LSTM and GRU: every weight matrix is applied once per token (per layer and direction)."""
    data = args.get("input", args.get("data"))
    weights = args.get("params")
    if not isinstance(data, Shape) or not isinstance(weights, list | tuple) or not data:
        return 0, 0
    tokens = numel(data) // data[-1]
    matrices = sum(numel(w) for w in weights if isinstance(w, Shape) and len(w) == 2)
    biases = sum(numel(w) for w in weights if isinstance(w, Shape) and len(w) == 1)
    return tokens * matrices, tokens * biases


def _einsum_macs(args: Mapping[str, Any]) -> int:
    """The naive cost of an einsum: the product of the sizes of every index letter."""
    equation = args.get("equation")
    operands = [v for v in _flatten(args.get("operands", ())) if isinstance(v, Shape)]
    if not isinstance(equation, str) or len(operands) < 2 or "..." in equation:
        return 0
    inputs = equation.replace(" ", "").split("->")[0].split(",")
    sizes: dict[str, int] = {}
    for letters, shape in zip(inputs, operands, strict=False):
        for letter, size in zip(letters, shape, strict=False):
            sizes[letter] = max(size, sizes.get(letter, 1))
    return numel(list(sizes.values()))


def _flatten(value: Any) -> Iterable[Any]:
    if isinstance(value, list | tuple) and not isinstance(value, Shape):
        for item in value:
            yield from _flatten(item)
    else:
        yield value


def _tuple(value: Any, n: int) -> tuple[int, ...]:
    if isinstance(value, list | tuple):
        return tuple(int(v) for v in value)
    return (int(value),) * max(n, 1)


def op_activation_bytes(op: OpSpec, tensors: Sequence[TensorInfo]) -> int:
    """Bytes of the new tensors an op produces (views and in-place results excluded)."""
    return sum(tensors[t].nbytes for t in op.outputs if not tensors[t].alias)


def owner(op: OpSpec) -> str | None:
    """The layer an op's cost belongs to: the module it is, or the module it ran inside."""
    if op.kind == "module":
        return op.name
    if op.kind == "function":
        return op.scope
    return None


def ancestors(path: str) -> list[str]:
    """`path` and every path above it, up to the root ``""``."""
    out = [path]
    while path:
        path = path.rsplit(".", 1)[0] if "." in path else ""
        out.append(path)
    return out


QUICK_SUMMARY = True
"""Whether `summarize` adds each layer's sums to its parent's once, deepest layers first, rather than to each of
its ancestors (tests turn it off to compare with and without)."""


def summarize(trace: TraceSpec) -> dict[str, Cost]:
    """Cost per layer path, each layer summing the ops of its whole subtree (``""`` = the model)."""
    if not QUICK_SUMMARY:
        return _summarize_up_each_path(trace)
    totals = _own_sums(trace)
    by_depth: dict[int, list[str]] = {}
    for path in totals:
        by_depth.setdefault(_depth(path), []).append(path)
    for depth in range(max(by_depth, default=0), 0, -1):  # a parent has fewer dots: its children are all added first
        for path in by_depth.get(depth, ()):
            macs, flops, activation = totals[path]
            parent = path.rsplit(".", 1)[0] if "." in path else ""
            above = totals.get(parent)
            if above is None:
                totals[parent] = [macs, flops, activation]
                by_depth.setdefault(_depth(parent), []).append(parent)
            else:
                above[0] += macs
                above[1] += flops
                above[2] += activation
    return {path: Cost(macs=m, flops=f, activation_bytes=a) for path, (m, f, a) in totals.items()}


def _own_sums(trace: TraceSpec) -> dict[str, list[int]]:
    """The MACs, FLOPs and activation bytes of each layer's own ops (those `owner` gives it), by path."""
    tensors = trace.tensors
    sums: dict[str, list[int]] = {}
    for op in trace.ops:
        kind = op.kind
        if kind == "module":
            path = op.name
        elif kind == "function":
            path = op.scope
        else:
            continue
        activation = 0
        for t in op.outputs:
            info = tensors[t]
            if not info.alias:
                activation += info.nbytes
        found = sums.get(path)
        if found is None:
            sums[path] = [op.macs, op.flops, activation]
        else:
            found[0] += op.macs
            found[1] += op.flops
            found[2] += activation
    return sums


def _depth(path: str) -> int:
    """How many steps `path` is below the model (``""``): one more than its dots."""
    return path.count(".") + 1 if path else 0


def _summarize_up_each_path(trace: TraceSpec) -> dict[str, Cost]:
    """`summarize`, each layer's sums added to each of its ancestors."""
    own: dict[str, list[int]] = {}  # each layer's own ops first, then each sum is added up its ancestors once
    for op in trace.ops:
        path = owner(op)
        if path is None:
            continue
        sums = own.get(path)
        if sums is None:
            sums = own[path] = [0, 0, 0]
        sums[0] += op.macs
        sums[1] += op.flops
        sums[2] += op_activation_bytes(op, trace.tensors)
    totals: dict[str, list[int]] = {}
    for path, (macs, flops, activation) in own.items():
        for above in ancestors(path):
            found = totals.get(above)
            if found is None:
                totals[above] = [macs, flops, activation]
            else:
                found[0] += macs
                found[1] += flops
                found[2] += activation
    return {path: Cost(macs=m, flops=f, activation_bytes=a) for path, (m, f, a) in totals.items()}
