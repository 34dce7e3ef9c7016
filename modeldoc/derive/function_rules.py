"""How a function op's output sizes follow from its inputs: one rule per family of ops, keyed by op name.

The trace names a function op as torch does (``reshape``, ``cat``, ``max_pool2d``,
``getitem`` for ``x[...]``); an in-place variant (``unsqueeze_``) follows its op's rule. Each
rule is a small function registered under the op names it serves::

    @function_rule("cat", "concat", "concatenate")
    def concatenation(ctx: RuleContext) -> Outcome | None: ...

and returns None where it does not apply (the size then passes through, or the op made it).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

from modeldoc.arithmetic import Formula, index_map, per_axis, permuted_axis, pool_text, slice_length, slice_text
from modeldoc.derive.context import Outcome, RuleContext
from modeldoc.derive.shared_rules import adaptive_pool, pool_window, reshape, window

FunctionRule = Callable[[RuleContext], "Outcome | None"]

FUNCTION_RULES: dict[str, FunctionRule] = {}
"""The rule for each op name."""


def function_rule(*names: str) -> Callable[[FunctionRule], FunctionRule]:
    """Register the decorated function as the rule of the ops called `names`."""

    def register(rule: FunctionRule) -> FunctionRule:
        for name in names:
            if name in FUNCTION_RULES:
                raise ValueError(
                    f"op {name!r} has two function rules: {FUNCTION_RULES[name].__name__} and {rule.__name__}"
                )
            FUNCTION_RULES[name] = rule
        return rule

    return register


def apply_function_rule(ctx: RuleContext) -> Outcome | None:
    """The outcome for a function op with tensor inputs, from the rule registered for its name."""
    if not ctx.ins:
        return None
    rule = FUNCTION_RULES.get(ctx.name)
    return rule(ctx) if rule is not None else None


# --------------------------------------------------------------------------- shapes


@function_rule("reshape", "view", "flatten", "unflatten", "view_as", "reshape_as", "squeeze", "unsqueeze")
def reshaping(ctx: RuleContext) -> Outcome | None:
    """Products and splits of sizes (see `shared_rules.reshape`)."""
    return reshape(ctx, ctx.ins[0], ctx.out)


@function_rule("cat", "concat", "concatenate")
def concatenation(ctx: RuleContext) -> Outcome | None:
    """Along the joined axis, the sizes add up; elsewhere the first part's size passes on."""
    dim = ctx.args.get("dim", 0)
    if not isinstance(dim, int):
        return None
    dim %= ctx.rank
    parts = [t for t in ctx.op.inputs if len(ctx.shape(t)) == ctx.rank and math.prod(ctx.shape(t)) > 0]
    if not parts:
        return None
    if ctx.axis != dim:
        return Outcome.keeps(parts[0], ctx.axis) if ctx.shape(parts[0])[ctx.axis] == ctx.value else None
    sizes = [ctx.shape(t)[ctx.axis] for t in parts]
    if sum(sizes) != ctx.value:
        return None
    if len(parts) == 1:
        return Outcome.keeps(parts[0], ctx.axis)
    text = " + ".join(str(s) for s in sizes)
    return ctx.step(
        f"{ctx.op.name} joins {text} = {ctx.value}", Formula(text, ctx.value), [(t, ctx.axis) for t in parts]
    )


@function_rule("stack")
def stacking(ctx: RuleContext) -> Outcome | None:
    """The new axis counts the tensors stacked; the others are the first tensor's."""
    dim = ctx.args.get("dim", 0)
    if not isinstance(dim, int):
        return None
    dim %= ctx.rank
    if ctx.axis == dim:
        if len(ctx.op.inputs) != ctx.value:
            return None
        return ctx.born(
            f"{ctx.op.name} stacks {ctx.value} tensors", Formula.sentence(f"{ctx.value} tensors", ctx.value)
        )
    source = ctx.axis if ctx.axis < dim else ctx.axis - 1
    return ctx.keep(0, source) if ctx.ins[0][source] == ctx.value else None


@function_rule("transpose", "swapaxes", "swapdims", "t", "T", "mT", "mH", "permute")
def transposition(ctx: RuleContext) -> Outcome | None:
    """A transpose or permute moves sizes between axes unchanged."""
    source = permuted_axis(ctx.name, ctx.args, ctx.axis, ctx.rank)
    return ctx.keep(0, source) if source is not None and ctx.ins[0][source] == ctx.value else None


@function_rule("getitem")
def indexing(ctx: RuleContext) -> Outcome | None:
    """``x[...]``: a slice keeps ``stop − start`` (or every step-th), other axes pass on."""
    incoming = ctx.ins[0]
    mapping = index_map(ctx.args.get("key", ctx.args.get("index")), len(incoming))
    if mapping is None or len(mapping) != ctx.rank:
        return None
    entry = mapping[ctx.axis]
    if entry is None:  # a new axis (None in the index)
        return ctx.unit_axis("adds an axis of 1 to")
    source, item = entry
    size = incoming[source]
    if item is None:
        return ctx.keep(0, source) if size == ctx.value else None
    length, formula = slice_length(item, size)
    if length != ctx.value:
        return None
    if length == size:
        return ctx.keep(0, source)
    return ctx.step(f"{ctx.label()} keeps {slice_text(item)} of {size}", formula, [(ctx.op.inputs[0], source)])


@function_rule("split", "chunk", "tensor_split", "narrow")
def splitting(ctx: RuleContext) -> Outcome | None:
    """A split cuts one axis into pieces; the other axes pass on."""
    args, rank, axis, value = ctx.args, ctx.rank, ctx.axis, ctx.value
    incoming = ctx.ins[0]
    dim = args.get("dim", 0)
    if not isinstance(dim, int) or len(incoming) != rank:
        return None
    dim %= rank
    if axis != dim:
        return ctx.keep(0, axis) if incoming[axis] == value else None
    size = incoming[dim]
    pieces = len(ctx.op.outputs)
    formula = _piece(ctx, size, pieces)
    return ctx.step(f"{ctx.label()} cuts {size} into {pieces} pieces", formula, [(ctx.op.inputs[0], dim)])


def _piece(ctx: RuleContext, size: int, pieces: int) -> Formula | None:
    """The size of piece `ctx.j` of a split of `size` into `pieces`, as the op's arguments give it."""
    args, value = ctx.args, ctx.value
    sections = args.get("split_size_or_sections", args.get("split_size"))
    if ctx.name == "chunk":
        return _chunk_piece(ctx, size, pieces)
    if ctx.name == "split" and isinstance(sections, int) and not isinstance(sections, bool):
        return _split_piece(ctx, size, pieces, sections)
    if ctx.name == "split" and isinstance(sections, list | tuple) and ctx.j < len(sections):
        return Formula.named(f"split_size_or_sections[{ctx.j}]", value) if sections[ctx.j] == value else None
    if ctx.name == "narrow" and args.get("length") == value:
        return Formula.named("length", value)
    return None


def _split_piece(ctx: RuleContext, size: int, pieces: int, split_size: int) -> Formula | None:
    """``split`` by a size: pieces of `split_size`, the last one holding what is left."""
    value = ctx.value
    if size == pieces * value:
        return Formula(f"{size} / {pieces}", value)
    if ctx.j == pieces - 1 and value != split_size:
        return Formula(f"{size} − {pieces - 1}·{split_size}", value)
    return Formula.named("split_size_or_sections", value) if value == split_size else None


def _chunk_piece(ctx: RuleContext, size: int, pieces: int) -> Formula | None:
    """``chunk``: pieces of ⌈size / chunks⌉, the last one holding what is left."""
    chunks, value = ctx.args.get("chunks"), ctx.value
    if not isinstance(chunks, int) or chunks <= 0:
        return None
    if size % chunks == 0 and size // chunks == value:
        return Formula(f"{size} / {chunks}", value)
    width = -(-size // chunks)
    if ctx.j == pieces - 1 and value != width:
        return Formula(f"{size} − {pieces - 1}·⌈{size} / {chunks}⌉", value, "rounded")
    return Formula(f"⌈{size} / {chunks}⌉", value, "rounded") if value == width else None


_REDUCTIONS = (
    "mean", "sum", "amax", "amin", "max", "min", "prod", "std", "var",
    "logsumexp", "norm", "all", "any", "argmax", "argmin",
)  # fmt: skip


@function_rule(*_REDUCTIONS)
def reduction(ctx: RuleContext) -> Outcome | None:
    """A reduction over some axes (without keepdim) drops them; the kept axes pass on in order."""
    dim = ctx.args.get("dim")
    if ctx.args.get("keepdim") or dim is None:
        return None
    incoming = ctx.ins[0]
    dims = {d % len(incoming) for d in (dim if isinstance(dim, list | tuple) else [dim]) if isinstance(d, int)}
    kept = [k for k in range(len(incoming)) if k not in dims]
    if ctx.axis >= len(kept) or incoming[kept[ctx.axis]] != ctx.value:
        return None
    return ctx.keep(0, kept[ctx.axis])


@function_rule("expand", "expand_as", "broadcast_to", "repeat")
def expansion(ctx: RuleContext) -> Outcome | None:
    """An expand keeps a size or broadcasts a 1; a repeat multiplies a size."""
    incoming, axis, value = ctx.ins[0], ctx.axis, ctx.value
    source = axis - (ctx.rank - len(incoming))
    if 0 <= source < len(incoming) and incoming[source] == value:
        return ctx.keep(0, source)
    if ctx.name == "repeat" and 0 <= source < len(incoming) and value % incoming[source] == 0:
        times = value // incoming[source]
        return ctx.step(
            f"{ctx.op.name} repeats {incoming[source]} {times} times",
            Formula(f"{incoming[source]} × {times}", value),
            [(ctx.op.inputs[0], source)],
        )
    return ctx.born(f"{ctx.op.name} broadcasts to {value}")


# --------------------------------------------------------------------------- products


def _matmul(ctx: RuleContext, first: int) -> Outcome | None:
    """A matrix product's rows come from its first operand, its columns from the second, batch axes from either."""
    a, b = ctx.ins[first], ctx.ins[first + 1]
    ta, tb = ctx.op.inputs[first], ctx.op.inputs[first + 1]
    axis, value, rank = ctx.axis, ctx.value, ctx.rank
    if axis == rank - 1 and len(b) >= 2 and b[-1] == value:
        return Outcome.keeps(tb, len(b) - 1)
    if axis == rank - 2 and len(a) >= 2 and a[-2] == value:
        return Outcome.keeps(ta, len(a) - 2)
    for tensor, shape in ((ta, a), (tb, b)):
        source = axis - (rank - len(shape))
        if 0 <= source < len(shape) - 2 and shape[source] == value:
            return Outcome.keeps(tensor, source)
    return None


@function_rule("matmul", "mm", "bmm")
def matrix_product(ctx: RuleContext) -> Outcome | None:
    """``a @ b``."""
    return _matmul(ctx, 0) if len(ctx.ins) >= 2 else None


@function_rule("addmm", "baddbmm")
def matrix_product_added(ctx: RuleContext) -> Outcome | None:
    """``bias + a @ b``: the product's sizes."""
    return _matmul(ctx, 1) if len(ctx.ins) >= 3 else None


@function_rule("linear", "embedding")
def weight_width(ctx: RuleContext) -> Outcome | None:
    """``F.linear`` and ``F.embedding``: the last axis is the weight's (its rows, or its columns for an embedding).

    An embedding's other axes are its ids' axes.
    """
    if len(ctx.ins) < 2:
        return None
    if ctx.axis != ctx.rank - 1:
        ids = ctx.ins[0]
        return ctx.keep_if_same(0, ctx.axis) if ctx.name == "embedding" and len(ids) == ctx.rank - 1 else None
    weight_axis = 0 if ctx.name == "linear" else 1
    return ctx.keep(1, weight_axis) if ctx.ins[1][weight_axis] == ctx.value else None


@function_rule("scaled_dot_product_attention")
def attention(ctx: RuleContext) -> Outcome | None:
    """The value's last axis, the query's others."""
    if len(ctx.ins) < 3:
        return None
    which = 2 if ctx.axis == ctx.rank - 1 else 0
    tensor = ctx.ins[which]
    return ctx.keep(which, ctx.axis) if len(tensor) == ctx.rank and tensor[ctx.axis] == ctx.value else None


# --------------------------------------------------------------------------- windows


def _convolution(n: int, *, transposed: bool) -> FunctionRule:
    def rule(ctx: RuleContext) -> Outcome | None:
        """``F.conv{n}d`` / ``F.conv_transpose{n}d``: channels from the weight, spatial sizes by the window formula."""
        if len(ctx.ins) < 2:
            return None
        weight, args, axis, value, rank = ctx.ins[1], ctx.args, ctx.axis, ctx.value, ctx.rank
        if axis == rank - n - 1:
            if transposed:
                groups = args.get("groups", 1) or 1
                if weight[1] * groups == value:
                    return ctx.keep(1, 1) if groups == 1 else None
                return None
            return ctx.keep(1, 0) if weight[0] == value else None
        if axis < rank - n:
            return None
        i = axis - (rank - n)
        padding = args.get("padding", 0)
        params = {
            "stride": per_axis(args.get("stride", 1), i, n),
            "padding": padding if isinstance(padding, str) else per_axis(padding, i, n),
            "dilation": per_axis(args.get("dilation", 1), i, n),
            "output_padding": per_axis(args.get("output_padding", 0), i, n),
        }
        label = f"{ctx.op.name} ({'×'.join(str(k) for k in weight[2:])} kernel)"
        return window(ctx, label, weight[2 + i], params, transposed=transposed)

    rule.__name__ = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    return rule


def _pooling(n: int, kind: Literal["max", "avg"]) -> FunctionRule:
    def rule(ctx: RuleContext) -> Outcome | None:
        """``F.max_pool{n}d`` / ``F.avg_pool{n}d``: the window formula over the last n axes."""
        if ctx.j != 0:
            return None
        return pool_window(ctx, f"{ctx.op.name} ({pool_text(ctx.args)})", n, ctx.args, kind=kind)

    rule.__name__ = f"{kind}_pool{n}d"
    return rule


def _adaptive_pooling(n: int) -> FunctionRule:
    def rule(ctx: RuleContext) -> Outcome | None:
        """``F.adaptive_{avg,max}_pool{n}d``: the output size is the argument."""
        return adaptive_pool(ctx, ctx.op.name, n, ctx.args.get("output_size")) if ctx.j == 0 else None

    rule.__name__ = f"adaptive_pool{n}d"
    return rule


for _n in (1, 2, 3):
    function_rule(f"conv{_n}d")(_convolution(_n, transposed=False))
    function_rule(f"conv_transpose{_n}d")(_convolution(_n, transposed=True))
    function_rule(f"max_pool{_n}d", f"max_pool{_n}d_with_indices")(_pooling(_n, "max"))
    function_rule(f"avg_pool{_n}d")(_pooling(_n, "avg"))
    function_rule(f"adaptive_avg_pool{_n}d", f"adaptive_max_pool{_n}d", f"adaptive_max_pool{_n}d_with_indices")(
        _adaptive_pooling(_n)
    )


__all__ = ["FUNCTION_RULES", "FunctionRule", "apply_function_rule", "function_rule"]
