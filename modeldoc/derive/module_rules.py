"""How a layer's output sizes follow from its input and its arguments: one rule per size rule.

A layer's knowledge entry names its size rule (``size_rule: conv``), which explain copies onto
`LayerSpec.size_rule`; a subclass of ``nn.Conv2d`` gets the conv rule because explain finds
the Conv2d entry through its bases. Each rule is a small function registered under the names
it serves::

    @module_rule("linear")
    def linear(ctx: RuleContext) -> Outcome | None: ...

and returns None where it does not apply (the size then passes through, or the op made it).
Before any size rule, a hyperparameter whose ``dim`` names the output axis being explained
(``out_channels`` of a layer the table does not know) gives that size (`chosen_axis`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from modeldoc.arithmetic import Formula, expected_size, kernel_text, per_axis, pool_text
from modeldoc.derive.context import Outcome, RuleContext
from modeldoc.derive.dims import axis_ref
from modeldoc.derive.shared_rules import adaptive_pool, pool_window, reshape, window

ModuleRule = Callable[[RuleContext], "Outcome | None"]

MODULE_RULES: dict[str, ModuleRule] = {}
"""The rule for each `LayerSpec.size_rule` (`modeldoc.knowledge.SIZE_RULES`)."""


def module_rule(*size_rules: str) -> Callable[[ModuleRule], ModuleRule]:
    """Register the decorated function as the rule of layers whose size rule is one of `size_rules`."""

    def register(rule: ModuleRule) -> ModuleRule:
        for name in size_rules:
            if name in MODULE_RULES:
                raise ValueError(
                    f"size rule {name!r} has two module rules: {MODULE_RULES[name].__name__} and {rule.__name__}"
                )
            MODULE_RULES[name] = rule
        return rule

    return register


def apply_module_rule(ctx: RuleContext) -> Outcome | None:
    """The outcome for a module op: a chosen hyperparameter naming this axis, else its layer's size rule."""
    layer = ctx.layer
    if layer is None:
        return None
    name = chosen_axis(ctx)
    if name is not None:
        return ctx.chosen(name)
    rule = MODULE_RULES.get(layer.size_rule)
    return rule(ctx) if rule is not None else None


def chosen_axis(ctx: RuleContext) -> str | None:
    """The chosen hyperparameter whose ``dim`` names this output axis and whose value is its size, if any.

    This serves layers without a size rule too: any entry (or inference) that says an
    argument sets an output axis (``dim: "out0:-1"``) makes that argument the size's origin.
    """
    assert ctx.layer is not None
    for h in ctx.layer.hyperparameters:
        ref = axis_ref(h)
        if ref is None or ref.side != "out" or ref.slot != ctx.j or h.kind != "hyperparameter":
            continue
        if -ctx.rank <= ref.axis < ctx.rank and ref.axis % ctx.rank == ctx.axis and expected_size(h.value) == ctx.value:
            return h.name
    return None


# --------------------------------------------------------------------------- windows


def _conv(ctx: RuleContext, *, transposed: bool) -> Outcome | None:
    n = ctx.spatial_axes
    if ctx.incoming is None or n is None:
        return None
    hp, rank, axis = ctx.hp, ctx.rank, ctx.axis
    if axis == rank - n - 1:
        return ctx.chosen("out_channels")
    if axis < rank - n:
        return None
    i = axis - (rank - n)
    kernel = per_axis(hp.get("kernel_size"), i, n)
    padding = hp.get("padding", 0)
    params = {
        "stride": per_axis(hp.get("stride", 1), i, n),
        "padding": padding if isinstance(padding, str) else per_axis(padding, i, n),
        "dilation": per_axis(hp.get("dilation", 1), i, n),
        "output_padding": per_axis(hp.get("output_padding", 0), i, n),
    }
    if kernel is None:
        return None
    return window(ctx, ctx.label(kernel_text(hp.get("kernel_size"), n, hp)), kernel, params, transposed=transposed)


@module_rule("conv")
def conv(ctx: RuleContext) -> Outcome | None:
    """``nn.Conv{1,2,3}d``: channels are out_channels; each spatial size follows the window formula."""
    return _conv(ctx, transposed=False)


@module_rule("conv_transpose")
def conv_transpose(ctx: RuleContext) -> Outcome | None:
    """``nn.ConvTranspose{1,2,3}d``: channels are out_channels; each spatial size follows the transposed formula."""
    return _conv(ctx, transposed=True)


def _pool(ctx: RuleContext, kind: Literal["max", "avg"]) -> Outcome | None:
    n = ctx.spatial_axes
    if ctx.incoming is None or ctx.j != 0 or n is None:
        return None
    return pool_window(ctx, ctx.label(pool_text(ctx.hp)), n, ctx.hp, kind=kind)


@module_rule("max_pool")
def max_pool(ctx: RuleContext) -> Outcome | None:
    """``nn.MaxPool{1,2,3}d``: the window formula with dilation and ceil_mode."""
    return _pool(ctx, "max")


@module_rule("avg_pool")
def avg_pool(ctx: RuleContext) -> Outcome | None:
    """``nn.AvgPool{1,2,3}d``: the window formula without dilation."""
    return _pool(ctx, "avg")


@module_rule("adaptive_pool")
def adaptive(ctx: RuleContext) -> Outcome | None:
    """``nn.Adaptive{Avg,Max}Pool{1,2,3}d``: the output size is the argument, whatever the input."""
    n = ctx.spatial_axes
    if ctx.j != 0 or n is None:
        return None
    return adaptive_pool(ctx, ctx.label(), n, ctx.hp.get("output_size"))


# --------------------------------------------------------------------------- features


@module_rule("linear")
def linear(ctx: RuleContext) -> Outcome | None:
    """``nn.Linear``, ``nn.Bilinear``: the last axis is out_features."""
    return ctx.chosen("out_features") if ctx.axis == ctx.rank - 1 and ctx.j == 0 else None


@module_rule("embedding")
def embedding(ctx: RuleContext) -> Outcome | None:
    """``nn.Embedding``, ``nn.EmbeddingBag``: the last axis is embedding_dim; the others are the ids' axes."""
    if ctx.j != 0:
        return None
    if ctx.axis == ctx.rank - 1:
        return ctx.chosen("embedding_dim")
    incoming = ctx.incoming
    same_rank_ids = incoming is not None and len(incoming) == ctx.rank - 1
    return ctx.keep_if_same(0, ctx.axis) if same_rank_ids else None


@module_rule("recurrent")
def recurrent(ctx: RuleContext) -> Outcome | None:  # noqa: PLR0911 - one return per output
    """``nn.RNN``, ``nn.LSTM``, ``nn.GRU``: the output is directions × hidden size; final states are per layer."""
    layer, hp, axis, value, rank = ctx.layer, ctx.hp, ctx.axis, ctx.value, ctx.rank
    if layer is None or ctx.incoming is None:
        return None
    directions = 2 if hp.get("bidirectional") else 1
    hidden = hp.get("proj_size") or hp.get("hidden_size")
    name = "proj_size" if hp.get("proj_size") else "hidden_size"
    if not isinstance(hidden, int):
        return None
    if ctx.j == 0 and axis == rank - 1:
        if directions == 1:
            return ctx.chosen(name)
        if directions * hidden != value:
            return None
        return ctx.born(
            f"{layer.path} ({layer.type_name}) is bidirectional: its 2 directions each give {name} = {hidden}",
            Formula(f"2 × {hidden}", value),
            where=layer.path,
        )
    if ctx.j == 0:
        return ctx.keep_if_same(0, axis)
    layers = hp.get("num_layers", 1)
    if axis == 0 and isinstance(layers, int) and directions * layers == value:
        return ctx.born(
            f"{layer.path} ({layer.type_name}) keeps one final state per layer and direction",
            Formula(f"{layers} × {directions}", value),
            where=layer.path,
        )
    if axis == rank - 1 and hidden == value:
        return ctx.chosen(name)
    return None


# --------------------------------------------------------------------------- shapes


@module_rule("reshape")
def flatten(ctx: RuleContext) -> Outcome | None:
    """``nn.Flatten``, ``nn.Unflatten``: products and splits, as ``torch.reshape``."""
    incoming = ctx.incoming
    return reshape(ctx, incoming, ctx.out) if incoming is not None else None


@module_rule("attention")
def attention(ctx: RuleContext) -> Outcome | None:
    """``nn.MultiheadAttention``: the attention output keeps the query's sizes."""
    incoming = ctx.incoming
    if ctx.j != 0 or incoming is None or len(incoming) != ctx.rank:
        return None
    return ctx.keep(0, ctx.axis) if incoming[ctx.axis] == ctx.value else None


__all__ = ["MODULE_RULES", "ModuleRule", "apply_module_rule", "chosen_axis", "module_rule"]
