"""Table-driven knowledge about layers: kinds of arguments, axis meanings, teaching text.

Pure: works on the spec only. The facts live in ``modeldoc/knowledge/*.yaml``; this module
fills their templates with each layer's own numbers. Layers the table does not know are
handed to :mod:`modeldoc.explain.infer`.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from jinja2 import TemplateError

from modeldoc import knowledge
from modeldoc.explain import infer
from modeldoc.spec import Hyperparam, LayerSpec, ModelSpec, ParamSpec

logger = logging.getLogger(__name__)

_RENDER_ERRORS = (TemplateError, TypeError, ValueError, ZeroDivisionError, IndexError, KeyError, AttributeError)


def annotate(spec: ModelSpec) -> ModelSpec:
    """`spec` with every layer explained from the knowledge table (or by inference)."""
    layers = tuple(annotate_layer(layer) for layer in spec.all_layers)
    return relate_parametrizations(relate_ties(spec.with_layers(layers)))


def _parametrized(layer: LayerSpec) -> bool:
    return any(p.computed for p in layer.parameters)


def relate_parametrizations(spec: ModelSpec) -> ModelSpec:
    """Explain each computed tensor of a parametrized layer and the originals it is computed from."""
    changed: list[LayerSpec] = []
    for layer in spec.all_layers:
        computed = [p for p in layer.parameters if p.computed]
        if not computed:
            continue
        params = list(layer.parameters)
        for p in computed:
            holder_path = (
                f"{layer.path}.parametrizations.{p.local_name}" if layer.path else f"parametrizations.{p.local_name}"
            )
            try:
                holder = spec.layer(holder_path)
            except KeyError:
                continue
            chain = [spec.layer(c).type_name for c in holder.children]
            steps = [spec.layer(c) for c in holder.children]
            dim = next((h.value for s in steps for h in s.hyperparameters if h.name == "dim"), 0)
            originals = [o for o in holder.parameters if not o.is_buffer]
            text = knowledge.message("parametrized_tensor", originals=[o.name for o in originals], chain=chain)
            params[params.index(p)] = replace(p, parametrization=text)
            explained = []
            for index, o in enumerate(originals):
                meaning = knowledge.message(
                    "parametrized_original",
                    kind=chain[0] if chain else "",
                    index=index,
                    count=len(originals),
                    owner=p.name,
                    chain=chain,
                    dim=dim,
                    axis0=p.axes[0] if p.axes else "entry",
                )
                explained.append(replace(o, axes=_axes_like(o.shape, p.shape, p.axes) or o.axes, meaning=meaning))
            by_name = {o.name: o for o in explained}
            changed.append(
                replace(
                    holder,
                    parameters=tuple(by_name.get(o.name, o) for o in holder.parameters),
                    summary=knowledge.render(explain_holder(), {"originals": len(originals)}) or holder.summary,
                )
            )
        note = knowledge.message(
            "parametrized_layer",
            layer=layer.type_name,
            base=layer.bases[0].rsplit(".", 1)[-1] if layer.bases else "",
            names=[p.local_name for p in computed],
        )
        changed.append(replace(layer, parameters=tuple(params), notes=(*layer.notes, note)))
    return spec.with_layers(tuple(changed))


def explain_holder() -> str:
    """The summary template of a ParametrizationList."""
    entry = knowledge.lookup("torch.nn.utils.parametrize.ParametrizationList")
    return entry.summary if entry else ""


def _axes_like(shape: tuple[int, ...], used: tuple[int, ...], axes: tuple[str, ...]) -> tuple[str, ...]:
    """The axes of an original tensor from those of the tensor computed from it, where the layouts agree."""
    if len(shape) != len(used) or len(axes) != len(used):
        return ()
    return tuple(
        a if s == u else f"1 (one value across {a})" if s == 1 else ""
        for s, u, a in zip(shape, used, axes, strict=True)
    )


def entry_of(layer: LayerSpec) -> knowledge.Entry | None:
    """The knowledge entry for `layer`'s type, or for its nearest torch.nn ancestor."""
    entry = knowledge.lookup(knowledge.key_of(layer.type, layer.type_name))
    if entry is not None:
        return entry
    for base in layer.bases:
        entry = knowledge.lookup(knowledge.key_of(base, base.rsplit(".", 1)[-1]))
        if entry is not None:
            return entry
    return None


def annotate_layer(layer: LayerSpec, *, strict: bool = False) -> LayerSpec:
    """`layer` with kinds, axes and teaching text; `strict` raises when a template fails."""
    entry = entry_of(layer)
    if entry is None:
        return infer.infer_layer(layer)
    filler = _Filler(strict=strict, where=entry.key)
    context = _context(layer, entry, filler)
    hyperparameters = [_hyperparam(h, entry.args.get(h.name), context, filler) for h in layer.hyperparameters]
    hyperparameters += _lazy_arguments(layer, entry, context, filler)
    parameters = tuple(_tensor(p, entry, context, filler) for p in layer.parameters)
    notes = tuple(n for n in (filler.text(note, context, "notes") for note in entry.notes) if n)
    if entry.key != knowledge.key_of(layer.type, layer.type_name) and not _parametrized(layer):
        notes += (knowledge.message("described_as_base", layer=layer.type_name, base=entry.key),)
    return replace(
        layer,
        summary=filler.text(entry.summary, context, "summary"),
        formula=filler.text(entry.formula, context, "formula"),
        size_rule=entry.size_rule,
        hyperparameters=tuple(hyperparameters),
        parameters=parameters,
        notes=layer.notes + notes,
    )


class _Filler:
    """Renders one entry's templates; a template that fails leaves its field empty (or raises when strict)."""

    def __init__(self, *, strict: bool, where: str) -> None:
        self.strict = strict
        self.where = where

    def value(self, template: Any, context: dict[str, Any], field: str) -> Any:
        try:
            return knowledge.render(template, context)
        except _RENDER_ERRORS as err:
            if self.strict:
                raise knowledge.KnowledgeError(f"{self.where}.{field}", f"{type(err).__name__}: {err}") from err
            logger.debug("knowledge %s.%s failed: %s", self.where, field, err)
            return None

    def text(self, template: Any, context: dict[str, Any], field: str) -> str:
        value = self.value(template, context, field) if template else ""
        return str(value) if value is not None else ""


def _context(layer: LayerSpec, entry: knowledge.Entry, filler: _Filler) -> dict[str, Any]:
    """The names the entry's templates can use: vars, argument values, shapes and `let` values."""
    context: dict[str, Any] = {
        "path": layer.path,
        "type_name": layer.type_name,
        "in_shapes": [list(s) for s in layer.input_shapes],
        "out_shapes": [list(s) for s in layer.output_shapes],
        "in_shape": list(layer.input_shapes[0]) if layer.input_shapes else None,
        "out_shape": list(layer.output_shapes[0]) if layer.output_shapes else None,
    }
    context.update(entry.vars)
    context.update({h.name: h.value for h in layer.hyperparameters})
    _lets(entry, context)
    for rule in entry.args.values():
        if rule.lazy and rule.name not in context:
            dim = filler.value(rule.dim, context, f"args.{rule.name}.dim")
            size = size_at(layer, dim) if isinstance(dim, str) else None
            context[rule.name] = knowledge.UNKNOWN if size is None else size
    _lets(entry, context)
    return context


def _lets(entry: knowledge.Entry, context: dict[str, Any]) -> None:
    """Evaluate the entry's `let` expressions, in whatever order their dependencies allow."""
    pending = dict(entry.let)
    while pending:
        done = []
        for name, expression in pending.items():
            try:
                context[name] = knowledge.render(expression, context)
            except _RENDER_ERRORS:
                continue
            done.append(name)
        if not done:
            return  # the rest depend on values this layer does not have (an unread argument)
        for name in done:
            del pending[name]


def size_at(layer: LayerSpec, dim: str) -> int | None:
    """The size `dim` (``"in0:-1"``) names in the layer's probed shapes, or None."""
    if ":" not in dim:
        return None
    which, axis = dim.split(":", 1)
    shapes = layer.input_shapes if which.startswith("in") else layer.output_shapes
    try:
        shape = shapes[int(which.removeprefix("in").removeprefix("out"))]
        return int(shape[int(axis)])
    except (ValueError, IndexError):
        return None


def _hyperparam(h: Hyperparam, rule: knowledge.ArgRule | None, context: dict[str, Any], filler: _Filler) -> Hyperparam:
    if rule is None:
        return h
    dim = filler.text(rule.dim, context, f"args.{h.name}.dim")
    return replace(
        h,
        kind=rule.kind,  # type: ignore[arg-type]
        source=rule.source,  # type: ignore[arg-type]
        reason=filler.text(rule.reason, context, f"args.{h.name}.reason"),
        dim=dim,
    )


def _lazy_arguments(
    layer: LayerSpec, entry: knowledge.Entry, context: dict[str, Any], filler: _Filler
) -> list[Hyperparam]:
    """Arguments a lazy module takes from its first call, with the probed value when there is one."""
    present = {h.name for h in layer.hyperparameters}
    out = []
    for rule in entry.args.values():
        if rule.lazy and rule.name not in present:
            value = context.get(rule.name)
            value = None if isinstance(value, knowledge.Unknown) else value
            hp = Hyperparam(name=rule.name, value=value, kind="hyperparameter", source="chosen")
            out.append(_hyperparam(hp, rule, context, filler))
    return out


def _tensor(p: ParamSpec, entry: knowledge.Entry, context: dict[str, Any], filler: _Filler) -> ParamSpec:
    found = entry.tensor_rule(p.local_name)
    if found is None:
        return p
    rule, groups = found
    local = {**context, **groups, "tensor_shape": list(p.shape), "name": p.local_name}
    field = f"params.{rule.pattern.pattern}"
    axes = filler.value(rule.axes, local, f"{field}.axes") if rule.axes is not None else None
    axes = [str(a) for a in axes if a is not None] if axes is not None else list(p.axes)
    if p.shape and len(axes) != len(p.shape) and not p.lazy and rule.axes is not None:
        # the tensor is not laid out as the table says (a subclass, a parametrization): do not guess
        if filler.strict:
            raise knowledge.KnowledgeError(
                f"{filler.where}.{field}", f"{len(axes)} axes for a tensor of shape {list(p.shape)}"
            )
        axes = []
    notes = [filler.text(n, local, f"{field}.notes") for n in rule.notes]
    return replace(
        p,
        axes=tuple(axes) if axes or not p.shape else p.axes,
        axis_notes=tuple(n for n in notes if n),
        meaning=filler.text(rule.meaning, local, f"{field}.meaning") or p.meaning,
    )


def uses(layer: LayerSpec, local_name: str) -> tuple[str, bool]:
    """How `layer` uses its tensor `local_name` (the table's ``use`` text), and whether it transposes it."""
    entry = entry_of(layer)
    found = entry.tensor_rule(local_name) if entry else None
    if entry is None or found is None:
        return "", False
    rule, groups = found
    filler = _Filler(strict=False, where=entry.key)
    context = {**_context(layer, entry, filler), **groups}
    return filler.text(rule.use, context, "use"), rule.transposed


def relate_ties(spec: ModelSpec) -> ModelSpec:
    """Say, on every tied tensor, how each of the layers that share it uses it."""
    owner: dict[str, tuple[LayerSpec, ParamSpec]] = {}
    for layer in spec.all_layers:
        for p in layer.parameters:
            owner.setdefault(p.name, (layer, p))
    changed = []
    for layer in spec.all_layers:
        if not any(p.tied_with for p in layer.parameters):
            continue
        params = []
        for p in layer.parameters:
            others = [owner[name] for name in p.tied_with if name in owner and owner[name][0].path != layer.path]
            relations = [_relation(layer, p, other_layer, other) for other_layer, other in others]
            params.append(replace(p, relation=" ".join(relations)) if relations else p)
        changed.append(replace(layer, parameters=tuple(params)))
    return spec.with_layers(tuple(changed))


def _relation(layer: LayerSpec, p: ParamSpec, other_layer: LayerSpec, other: ParamSpec) -> str:
    """Relate two names of one tensor: the axis roles in each layer, and which layer transposes it."""
    mine, my_transpose = uses(layer, p.local_name)
    theirs, their_transpose = uses(other_layer, other.local_name)
    here, there = layer.path or layer.type_name, other_layer.path or other_layer.type_name
    transposed_by = (
        here if my_transpose and not their_transpose else there if their_transpose and not my_transpose else ""
    )
    return knowledge.message(
        "tie_relation",
        other=there,
        other_name=other.name,
        other_type=other_layer.type_name,
        other_axes=list(other.axes),
        axes=list(p.axes),
        other_use=theirs,
        use=mine,
        transposed_by=transposed_by,
        shape=list(p.shape),
    )
