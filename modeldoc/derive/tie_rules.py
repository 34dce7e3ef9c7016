"""Which sizes an op forces to be equal: one rule per family of ops, keyed by op name.

``x + f(x)`` only runs when ``f(x)`` has ``x``'s size on every axis where neither is a 1 (a 1
is broadcast); ``torch.cat`` needs its parts equal on every axis but the joined one; ``a @ b``
needs ``a``'s last axis equal to ``b``'s rows. Each rule names the pairs of (tensor, axis) the
op ties, and how the op meets them (for the sentence a derivation shows)::

    @tie_rule("add", "sub", "mul", ...)
    def elementwise(op: OpSpec, index: TraceIndex) -> list[Tie]: ...

Only sizes larger than 1 and equal are tied: a 1 that broadcasts ties nothing, and two sizes
that merely happen to be equal without an op between them are never tied (ties are made per op,
between the very tensors it received). An in-place variant (``add_``) follows its op's rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from modeldoc.derive.context import AxisKey, TraceIndex
from modeldoc.spec import OpSpec


@dataclass(frozen=True)
class Tie:
    """Two sizes an op forces equal, and how the op meets them."""

    a: AxisKey
    b: AxisKey
    how: str
    """The verb for a sentence ``"<one> is added to <other>"``: ``"is added to"``, ``"is joined along axis 1 with"``."""
    contraction: bool = False
    """True when the op sums over this axis (a matrix product): the two operands must agree on a size
    that disappears, so neither is what the model outputs there."""

    @classmethod
    def made(cls, a: AxisKey, b: AxisKey, how: str, contraction: bool) -> Tie:
        """A tie, its fields set as `__init__` sets them at a fraction of a frozen dataclass's cost (one per op)."""
        new = object.__new__(cls)
        new.__dict__.update(a=a, b=b, how=how, contraction=contraction)
        return new


TieRule = Callable[[OpSpec, TraceIndex], "list[Tie]"]

TIE_RULES: dict[str, TieRule] = {}
"""The rule for each op name."""


def tie_rule(*names: str) -> Callable[[TieRule], TieRule]:
    """Register the decorated function as the tie rule of the ops called `names`."""

    def register(rule: TieRule) -> TieRule:
        for name in names:
            if name in TIE_RULES:
                raise ValueError(f"op {name!r} has two tie rules: {TIE_RULES[name].__name__} and {rule.__name__}")
            TIE_RULES[name] = rule
        return rule

    return register


def ties_of(op: OpSpec, index: TraceIndex) -> list[Tie]:
    """The sizes function op `op` forces equal (none for module calls, inputs, outputs and other ops)."""
    if op.kind != "function" or len(op.inputs) < 2 or not op.outputs:
        return []
    name = op.name[:-1] if op.name.endswith("_") and not op.name.endswith("__") else op.name
    rule = TIE_RULES.get(name)
    return rule(op, index) if rule is not None else []


def _pairs(keys: Sequence[AxisKey], index: TraceIndex, how: str, *, contraction: bool = False) -> list[Tie]:
    """Ties between the first of `keys` and each other, when all have one size larger than 1."""
    distinct = list(dict.fromkeys(keys))
    sizes = {index.tensors[tid].shape[axis] for tid, axis in distinct}
    if len(distinct) < 2 or len(sizes) != 1 or min(sizes) <= 1:
        return []
    return [Tie(distinct[0], other, how, contraction) for other in distinct[1:]]


def _broadcast(tensors: Sequence[int], index: TraceIndex, how: str, *, drop_last: int = 0) -> list[Tie]:
    """The axes broadcasting ties among `tensors`: aligned from the end, every size larger than 1 on an axis.

    `drop_last` leaves out that many trailing axes of every tensor (the matrix axes of a batched product).
    """
    shapes = [(tid, index.tensors[tid].shape[: len(index.tensors[tid].shape) - drop_last]) for tid in tensors]
    rank = max((len(shape) for _, shape in shapes), default=0)
    ties: list[Tie] = []
    for back in range(1, rank + 1):
        holders = [(tid, len(shape) - back) for tid, shape in shapes if len(shape) >= back and shape[-back] > 1]
        ties += _pairs(holders, index, how)
    return ties


_VERBS = {
    "add": "is added to",
    "mul": "is multiplied elementwise by",
    "sub": "meets, in a subtraction,",
    "rsub": "meets, in a subtraction,",
    "div": "meets, in a division,",
    "where": "meets, in where (an elementwise choice),",
}


@tie_rule(
    "add", "sub", "rsub", "mul", "div", "true_divide", "floor_divide", "remainder", "fmod", "where",
    "maximum", "minimum", "fmax", "fmin", "pow", "atan2", "hypot", "copysign", "lerp", "addcmul", "addcdiv",
    "masked_fill", "eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor",
    "bitwise_and", "bitwise_or", "bitwise_xor",
)  # fmt: skip
def elementwise(op: OpSpec, index: TraceIndex) -> list[Tie]:
    """Broadcasting ops: every axis where two operands have a size larger than 1 must hold the same size."""
    name = op.name.rstrip("_")
    how = _VERBS.get(name, f"meets, in {name} (elementwise),")
    return _broadcast(op.inputs, index, how)


@tie_rule("cat", "concat", "concatenate", "stack")
def joined(op: OpSpec, index: TraceIndex) -> list[Tie]:
    """``torch.cat`` ties every axis but the joined one across its parts; ``torch.stack`` ties them all."""
    dim = op.arguments.get("dim", 0)
    shapes = [index.tensors[tid].shape for tid in op.inputs]
    rank = len(shapes[0]) if shapes else 0
    if not isinstance(dim, int) or any(len(shape) != rank for shape in shapes) or rank == 0:
        return []
    stacking = op.name == "stack"
    joined_axis = None if stacking else dim % rank
    parts = [tid for tid, shape in zip(op.inputs, shapes, strict=True) if all(shape)]
    how = "is stacked with" if stacking else f"is joined along axis {joined_axis} with"
    ties: list[Tie] = []
    for axis in range(rank):
        if axis != joined_axis:
            ties += _pairs([(tid, axis) for tid in parts], index, how)
    return ties


def _product(a: int, b: int, index: TraceIndex) -> list[Tie]:
    """``a @ b``: ``a``'s last axis is summed against ``b``'s rows (its only axis when 1-d); batch axes broadcast."""
    sa, sb = index.tensors[a].shape, index.tensors[b].shape
    if not sa or not sb:
        return []
    rows = len(sb) - 2 if len(sb) >= 2 else 0
    how = "is multiplied as a matrix, summing over this axis, with"
    ties = _pairs([(a, len(sa) - 1), (b, rows)], index, how, contraction=True)
    if len(sa) > 2 or len(sb) > 2:
        ties += _broadcast([a, b], index, "is multiplied as a batch of matrices with", drop_last=2)
    return ties


@tie_rule("matmul", "mm", "bmm")
def matrix_product(op: OpSpec, index: TraceIndex) -> list[Tie]:
    """``a @ b``."""
    return _product(op.inputs[0], op.inputs[1], index)


@tie_rule("addmm", "baddbmm")
def matrix_product_added(op: OpSpec, index: TraceIndex) -> list[Tie]:
    """``bias + a @ b``: the product's ties (the bias broadcasts onto the result)."""
    return _product(op.inputs[1], op.inputs[2], index) if len(op.inputs) >= 3 else []


@tie_rule("linear")
def linear(op: OpSpec, index: TraceIndex) -> list[Tie]:
    """``F.linear(x, weight)``: ``x``'s last axis is summed against the weight's columns."""
    x, weight = index.tensors[op.inputs[0]].shape, index.tensors[op.inputs[1]].shape
    if not x or len(weight) != 2:
        return []
    how = "is multiplied, summing over this axis, by the weight"
    return _pairs([(op.inputs[0], len(x) - 1), (op.inputs[1], 1)], index, how)


@tie_rule("scaled_dot_product_attention")
def attention(op: OpSpec, index: TraceIndex) -> list[Tie]:
    """Queries and keys share their last axis, keys and values their length; a mask broadcasts onto the scores."""
    if len(op.inputs) < 3:
        return []
    q, k, v = op.inputs[:3]
    sq, sk, sv = (index.tensors[t].shape for t in (q, k, v))
    if min(len(sq), len(sk), len(sv)) < 2:
        return []
    how = "meets, in scaled_dot_product_attention,"
    ties = _pairs([(q, len(sq) - 1), (k, len(sk) - 1)], index, how, contraction=True)
    ties += _pairs([(k, len(sk) - 2), (v, len(sv) - 2)], index, how, contraction=True)
    ties += _broadcast([q, k, v], index, how, drop_last=2)
    if len(op.inputs) >= 4:
        mask = op.inputs[3]
        sm = index.tensors[mask].shape
        how = "is added, as a mask, to the attention scores of"
        if len(sm) >= 2:
            ties += _pairs([(mask, len(sm) - 2), (q, len(sq) - 2)], index, how)
            ties += _pairs([(mask, len(sm) - 1), (k, len(sk) - 2)], index, how)
            for back in range(3, len(sm) + 1):
                if len(sq) >= back and sm[-back] > 1:
                    ties += _pairs([(mask, len(sm) - back), (q, len(sq) - back)], index, how)
    return ties


_EINSUM_TERM = re.compile(r"^[a-zA-Z]*$")


@tie_rule("einsum")
def einsum(op: OpSpec, index: TraceIndex) -> list[Tie]:
    """``torch.einsum``: a letter shared by several operands ties their axes (summed when the output lacks it)."""
    equation = op.arguments.get("equation")
    if not isinstance(equation, str) or "->" not in equation:
        return []
    left, right = equation.replace(" ", "").split("->", 1)
    terms = left.split(",")
    if len(terms) != len(op.inputs) or not all(_EINSUM_TERM.match(t) for t in [*terms, right]):
        return []
    axes: dict[str, list[AxisKey]] = {}
    for tid, term in zip(op.inputs, terms, strict=True):
        if len(term) != len(index.tensors[tid].shape):
            return []
        for axis, letter in enumerate(term):
            axes.setdefault(letter, []).append((tid, axis))
    ties: list[Tie] = []
    for letter, keys in axes.items():
        summed = letter not in right
        how = "is multiplied, summing over this axis, with" if summed else "is multiplied (einsum) with"
        ties += _pairs(keys, index, how, contraction=summed)
    return ties


__all__ = ["TIE_RULES", "Tie", "TieRule", "tie_rule", "ties_of"]
