"""Rule bodies that a layer and a function share: sliding windows, adaptive pooling, reshapes.

``nn.Conv2d`` and ``F.conv2d`` follow the same window arithmetic, ``nn.Flatten`` and
``torch.flatten`` the same reshape; the registries in `module_rules` and `function_rules`
gather their arguments (from the layer's hyperparameters or the op's) and call these.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from modeldoc.arithmetic import Formula, per_axis, reshape_groups, window_size
from modeldoc.derive.context import Outcome, RuleContext


def window(
    ctx: RuleContext, label: str, kernel: int, params: Mapping[str, Any], *, transposed: bool = False
) -> Outcome | None:
    """A convolution or pooling window turned the input's size at this axis into this one."""
    op = ctx.op
    incoming = ctx.shape(op.inputs[0])
    offset = len(incoming) - len(ctx.shape(op.outputs[0])) if op.outputs else 0
    source = ctx.axis + offset
    if not 0 <= source < len(incoming):
        return None
    size = incoming[source]
    computed = window_size(size, kernel, transposed=transposed, **params)
    if computed is None or computed[0] != ctx.value:
        return None
    return ctx.step(f"{label} turns {size} into {ctx.value}", computed[1], [(op.inputs[0], source)])


def pool_window(
    ctx: RuleContext, label: str, n: int, args: Mapping[str, Any], *, kind: Literal["max", "avg"]
) -> Outcome | None:
    """Max or average pooling over the last `n` axes, with `args` as ``F.max_pool2d`` takes them."""
    if ctx.axis < ctx.rank - n:
        return None
    i = ctx.axis - (ctx.rank - n)
    kernel = per_axis(args.get("kernel_size"), i, n)
    if kernel is None:
        return None
    stride = args.get("stride")
    params = {
        "stride": kernel if stride in (None, [], ()) else per_axis(stride, i, n),
        "padding": per_axis(args.get("padding", 0), i, n),
        "dilation": per_axis(args.get("dilation", 1), i, n) if kind == "max" else 1,
        "ceil_mode": bool(args.get("ceil_mode", False)),
    }
    return window(ctx, label, kernel, params)


def adaptive_pool(ctx: RuleContext, label: str, n: int, output_size: Any) -> Outcome | None:
    """Adaptive pooling fixes the last `n` sizes (an ``output_size`` of None keeps the input's)."""
    if ctx.axis < ctx.rank - n:
        return None
    target = per_axis(output_size, ctx.axis - (ctx.rank - n), n)
    if target is None:
        return ctx.keep_if_same(0, ctx.axis)
    if target != ctx.value:
        return None
    return ctx.born(
        f"{label} pools to a fixed size of {ctx.value}, whatever its input size",
        Formula.named("output_size", ctx.value),
    )


def reshape(ctx: RuleContext, incoming: tuple[int, ...], out: tuple[int, ...]) -> Outcome | None:  # noqa: PLR0911 - one return per case
    """A reshape keeps a size, merges several into one (a product) or splits one into several (a quotient)."""
    axis, value = ctx.axis, ctx.value
    source_tensor = ctx.op.inputs[0]
    if value == 1:
        if len(incoming) == len(out) and incoming[axis] == 1:
            return Outcome.keeps(source_tensor, axis)
        return ctx.unit_axis("adds an axis of 1 to" if ctx.name == "unsqueeze" else "puts an axis of 1 here in")
    groups = reshape_groups(incoming, out)
    if groups is None:
        return None
    for sources, targets in groups:
        if axis not in targets:
            continue
        if len(sources) == 1 and len(targets) == 1:
            return Outcome.keeps(source_tensor, sources[0])
        parts = [incoming[k] for k in sources]
        merged = [(source_tensor, k) for k in sources]
        if len(targets) == 1:
            product = " × ".join(str(p) for p in parts)
            return ctx.step(f"{ctx.label()} merges {product} into {value}", Formula(product, value), merged)
        total = math.prod(parts)
        pieces = " × ".join(str(out[k]) for k in targets)
        others = [str(out[k]) for k in targets if k != axis]
        divisor = others[0] if len(others) == 1 else "(" + " × ".join(others) + ")"
        return ctx.step(f"{ctx.label()} splits {total} into {pieces}", Formula(f"{total} / {divisor}", value), merged)
    return None


__all__ = ["adaptive_pool", "pool_window", "reshape", "window"]
