"""Table-driven knowledge about layers: kinds of arguments, axis meanings, teaching text.

Pure: works on the spec only. The facts live in the knowledge table (`modeldoc.knowledge`:
the shipped ``*.yaml`` files and a project's own); this module fills their templates with each
layer's own numbers. Layers the table does not know are handed to :mod:`modeldoc.explain.infer`.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import replace
from functools import partial
from operator import attrgetter
from typing import Any

from jinja2 import TemplateError

from modeldoc import knowledge
from modeldoc.explain import infer, reuse
from modeldoc.knowledge import Knowledge
from modeldoc.knowledge.templates import names_read
from modeldoc.spec import AxisRef, Hyperparam, LayerSpec, ModelSpec, ParamSpec

logger = logging.getLogger(__name__)

QUICK_COPIES = True
"""True makes the explained copies of a layer, its arguments and tensors with `reuse.copied` (no
``dataclasses.replace``), and takes what explaining wrote on the first layer of a key into each repeat
from one dictionary made once per key; False builds both the slow way. The tests interpret models both
ways and compare the JSON byte for byte."""

FIT_ONCE = True
"""True checks a layer's rules against its call (`fit_to_calls`) once for the layers of one type that share their
arguments and had calls of the same shapes; False, layer by layer. The tests interpret models both ways and compare
the JSON byte for byte."""

ARGUMENTS_ONCE = True
"""True works out, for `_Repeats`, which arguments only their own rule reads and each argument's key once per
entry and tuple of arguments (the probe gives a block's repeats one tuple); False, layer by layer. The tests
interpret models both ways and compare the JSON byte for byte."""

_RENDER_ERRORS = (TemplateError, TypeError, ValueError, ZeroDivisionError, IndexError, KeyError, AttributeError)
BRIEF_SEPARATOR = ", "
"""Between the parts of a brief label (``"3→8, 3×3, stride 2"``)."""


def annotate(spec: ModelSpec, table: Knowledge | None = None) -> ModelSpec:
    """`spec` with every layer explained from the knowledge `table` (default: the current one) or by inference.

    Each layer's rules are then checked against its recorded call (`fit_to_calls`).
    """
    table = table or knowledge.current()
    explain = _Repeats(table) if reuse.ENABLED else partial(annotate_layer, table=table)
    layers = tuple(explain(layer) for layer in spec.all_layers)
    annotated = relate_parametrizations(relate_ties(spec.with_layers(layers), table), table)
    return fit_to_calls(annotated, table)


_PARAM_WRITTEN = ("axes", "axis_notes", "meaning", "inferred", "evidence")
"""The fields of a tensor that explaining its layer sets (from the table, or by inference)."""
_PARAM_READ = attrgetter("local_name", "shape", "is_buffer", "lazy", "computed", *_PARAM_WRITTEN)
"""What explaining a layer reads of each of its tensors, and what it may leave as it was of what it sets."""
_LAYER_WRITTEN = ("summary", "formula", "size_rule", "brief", "inferred", "evidence")
"""The fields of a layer that explaining it sets, besides its arguments, tensors and notes."""
_LAYER_READ = attrgetter("type", "type_name", "bases", "input_shapes", "output_shapes", *_LAYER_WRITTEN)


class _Repeats:
    """`annotate_layer` for each layer, done once for the layers that differ only in their path and tensor names.

    The key of a layer is everything explaining it reads: its type and knowledge entry, its
    arguments (every field), its recorded shapes, what it has of the fields explaining sets,
    and of each tensor its local name, shape and the fields explaining reads or sets. The path
    is part of the key only for an entry whose templates name ``path``. A repeat takes the
    first layer's arguments (they hold no path) and, on its own tensors and notes, what
    explaining wrote on the first's; the rest of it stays its own (tensor names, ties,
    trainable flags, dtypes).

    An argument whose value only its own rule's templates read (a block's ``layer_idx``: "the
    position of this layer in the stack (3)") is keyed without its value: a repeat with
    another value renders that rule again, with its own value in the first layer's context.
    """

    def __init__(self, table: Knowledge) -> None:
        self.table = table
        self.done: dict[Hashable, _First] = {}
        self.readers: dict[int, dict[str, set[str]] | None] = {}
        self.arguments: dict[tuple[int, bool], tuple[Hyperparam, tuple[Any, ...]]] = {}
        """Each argument's key, by its identity (the argument kept beside it, so that no identity is reused)."""
        self.tuples: dict[tuple[int, int], tuple[tuple[Hyperparam, ...], tuple[int, ...], tuple[Any, ...]]] = {}
        """`arguments_of` by the identities of the entry (kept by the table) and of the tuple (kept beside)."""

    def __call__(self, layer: LayerSpec) -> LayerSpec:
        entry = entry_of(layer, self.table)
        readers = self.readers_of(entry) if entry is not None else None
        if ARGUMENTS_ONCE:
            own, arguments = self.arguments_of(entry, readers, layer.hyperparameters)
        else:
            own, arguments = self.arguments_read(readers, layer.hyperparameters)
        key = (
            id(entry),
            layer.path if entry is not None and (readers is None or "path" in readers) else None,
            _LAYER_READ(layer),
            bool(layer.children),
            own,
            arguments,
            tuple(_PARAM_READ(p) for p in layer.parameters),
        )
        try:
            first = self.done.get(key)
        except TypeError:  # a field that cannot be a key (a list inside a config source): explained on its own
            return annotate_layer(layer, table=self.table)
        if first is None:
            explained, context = annotate_in_context(layer, table=self.table)
            self.done[key] = _First(layer, explained, context, entry, own)
            return explained
        return first.repeat(layer)

    def arguments_read(
        self, readers: dict[str, set[str]] | None, hyperparameters: tuple[Hyperparam, ...]
    ) -> tuple[tuple[int, ...], tuple[Any, ...]]:
        """The places of the arguments only their own rule reads, and each argument's key (its value left out there)."""
        own = tuple(
            i for i, h in enumerate(hyperparameters) if readers is not None and readers.get(h.name, set()) <= {h.name}
        )
        return own, tuple([self.argument_key(h, i not in own) for i, h in enumerate(hyperparameters)])

    def arguments_of(
        self,
        entry: knowledge.Entry | None,
        readers: dict[str, set[str]] | None,
        hyperparameters: tuple[Hyperparam, ...],
    ) -> tuple[tuple[int, ...], tuple[Any, ...]]:
        """`arguments_read`, once per entry and tuple of arguments (the probe gives repeats one tuple)."""
        found = self.tuples.get((id(entry), id(hyperparameters)))
        if found is None or found[0] is not hyperparameters:
            own, keys = self.arguments_read(readers, hyperparameters)
            found = self.tuples[id(entry), id(hyperparameters)] = (hyperparameters, own, keys)
        return found[1], found[2]

    def argument_key(self, h: Hyperparam, value: bool) -> tuple[Any, ...]:
        """`reuse.hyperparam_key`, once per argument object: the probe gives repeats one object per argument."""
        found = self.arguments.get((id(h), value))
        if found is None or found[0] is not h:
            found = self.arguments[id(h), value] = (h, reuse.hyperparam_key(h, value=value))
        return found[1]

    def readers_of(self, entry: knowledge.Entry) -> dict[str, set[str]] | None:
        """Which of the entry's templates read each name: an argument's own rule (by its name), or ``""`` for any other.

        None when a template does not compile (then any template may read anything).
        """
        if id(entry) not in self.readers:
            self.readers[id(entry)] = _readers(entry)
        return self.readers[id(entry)]


def _readers(entry: knowledge.Entry) -> dict[str, set[str]] | None:
    texts: list[tuple[str, Any]] = [("", text) for text in (entry.summary, entry.formula, *entry.brief, *entry.notes)]
    texts += [("", text) for text in entry.let.values()]
    for tensor in entry.params:
        axes = [tensor.axes] if isinstance(tensor.axes, str) else list(tensor.axes or ())
        texts += [("", text) for text in (tensor.meaning, *tensor.notes, *axes)]
    for name, rule in entry.args.items():
        texts += [(name, rule.reason), (name, rule.dim)]
    readers: dict[str, set[str]] = {name: {""} for name in entry.let}  # a `let` may take an argument's name
    for reader, text in texts:
        if isinstance(text, str) and text:
            names = names_read(text)
            if names is None:
                return None
            for name in names:
                readers.setdefault(name, set()).add(reader)
    return readers


class _First:
    """The first layer of a key, as it was and as explained, and what a repeat needs to take the explanation."""

    def __init__(
        self,
        layer: LayerSpec,
        explained: LayerSpec,
        context: dict[str, Any] | None,
        entry: knowledge.Entry | None,
        own: tuple[int, ...],
    ) -> None:
        self.layer = layer
        self.explained = explained
        self.context = context
        self.entry = entry
        self.own = own
        self.written = {f: getattr(explained, f) for f in _LAYER_WRITTEN}
        """What explaining wrote on the layer, for each repeat."""
        self.tensors_written = [
            None if out is before else {f: getattr(out, f) for f in _PARAM_WRITTEN}
            for before, out in zip(layer.parameters, explained.parameters, strict=True)
        ]
        """What explaining wrote on each tensor (None: it left the tensor as it was), for each repeat."""

    def repeat(self, layer: LayerSpec) -> LayerSpec:
        """`layer` explained as the first was: the two differ only in what explaining does not read."""
        first, explained = self.layer, self.explained
        if explained is first:
            return layer
        hyperparameters = explained.hyperparameters
        changed = [i for i in self.own if reuse.value_key(layer.hyperparameters[i].value) != self._value_key(i)]
        if changed:
            assert self.entry is not None and self.context is not None  # `own` is empty without an entry
            out = list(hyperparameters)
            filler = _Filler(self.entry, strict=False)
            for i in changed:
                h = layer.hyperparameters[i]
                context = {**self.context, h.name: h.value}
                out[i] = _hyperparam(h, self.entry.args.get(h.name), context, filler)
            hyperparameters = tuple(out)
        if QUICK_COPIES:
            parameters = tuple(
                own if written is None else reuse.copied(own, **written)
                for own, written in zip(layer.parameters, self.tensors_written, strict=True)
            )
            written = self.written
        else:
            parameters = tuple(
                own if out is before else reuse.copied(own, **{f: getattr(out, f) for f in _PARAM_WRITTEN})
                for own, before, out in zip(layer.parameters, first.parameters, explained.parameters, strict=True)
            )
            written = {f: getattr(explained, f) for f in _LAYER_WRITTEN}
        return reuse.copied(
            layer,
            **written,
            hyperparameters=hyperparameters,
            parameters=parameters,
            notes=layer.notes + explained.notes[len(first.notes) :],
        )

    def _value_key(self, i: int) -> Any:
        return reuse.value_key(self.layer.hyperparameters[i].value)


def _with(obj: Any, **changes: Any) -> Any:
    """`obj` with `changes`: by `reuse.copied` (`QUICK_COPIES`), else by ``dataclasses.replace``."""
    return reuse.copied(obj, **changes) if QUICK_COPIES else replace(obj, **changes)


def fit_to_calls(spec: ModelSpec, table: Knowledge | None = None) -> ModelSpec:
    """`spec` with each knowledge rule checked against the call the layer made.

    A layer whose first call completed ran with the sizes it received, so a rule that says an
    argument must equal an axis of a different size does not fit it: a subclass whose forward
    is its own (``ConvNextLayerNorm`` permutes to normalise the channel axis) gets its base
    class's rules, and those are checked, never turned into a shape error. Such an argument's
    axis is read from the call instead when exactly one axis has its value (marked inferred),
    else left unsaid. A layer described through its base class says which: its call's
    functions (`OpSpec.inner`) and whether the base's rules held.
    """
    table = table or knowledge.current()
    ran = _functions_run(spec)
    changed = []
    checked: dict[Hashable, tuple[knowledge.Entry | None, set[str], bool]] = {}
    for layer in spec.all_layers:
        if layer.inferred or not layer.output_shapes:
            continue  # no rule from the table, or a call that did not complete (its mismatch is real)
        if FIT_ONCE:
            entry, misfits, subclass = _checked(layer, table, checked)
        else:
            entry, misfits, subclass = _check(layer, table)
        if entry is None:
            continue
        functions = ran.get(layer.path, ())
        if not misfits and not (subclass and functions):
            continue
        hyperparameters = tuple(
            _refit(layer, h, entry.key, functions) if h.name in misfits else h for h in layer.hyperparameters
        )
        notes = layer.notes
        if subclass:
            inherited = knowledge.message("described_as_base", layer=layer.type_name, base=entry.key)
            evidence = _evidence(layer, entry.key, functions, sorted(misfits))
            notes = tuple(evidence if note == inherited else note for note in notes)
        changed.append(reuse.copied(layer, hyperparameters=hyperparameters, notes=notes))
    return spec.with_layers(tuple(changed)) if changed else spec


def _check(layer: LayerSpec, table: Knowledge) -> tuple[knowledge.Entry | None, set[str], bool]:
    """The layer's entry, its arguments whose rule does not hold for its call, whether it is described as its base."""
    entry = entry_of(layer, table)
    if entry is None:
        return None, set(), False
    misfits = {h.name for h in layer.hyperparameters if h.axis_ref is not None and not _holds(layer, h)}
    subclass = entry.key != knowledge.key_of(layer.type, layer.type_name) and not _parametrized(layer)
    return entry, misfits, subclass


def _checked(
    layer: LayerSpec, table: Knowledge, checked: dict[Hashable, tuple[knowledge.Entry | None, set[str], bool]]
) -> tuple[knowledge.Entry | None, set[str], bool]:
    """`_check`, once for the layers of one type whose arguments are one tuple and whose calls had the same shapes.

    The repeats of a layer share its tuple of arguments (`_First.repeat`): its identity stands for
    them, the spec keeping every tuple alive while `fit_to_calls` runs.
    """
    key = (
        layer.type,
        layer.type_name,
        layer.bases,
        id(layer.hyperparameters),
        layer.input_shapes,
        layer.output_shapes,
        _parametrized(layer),
    )
    found = checked.get(key)
    if found is None:
        found = checked[key] = _check(layer, table)
    return found


def _functions_run(spec: ModelSpec) -> dict[str, tuple[str, ...]]:
    """The torch functions each leaf layer's first call ran, from the trace."""
    ran: dict[str, tuple[str, ...]] = {}
    for op in spec.trace.ops if spec.trace else ():
        if op.kind == "module" and op.outputs:
            ran.setdefault(op.name, op.inner)
    return ran


def _holds(layer: LayerSpec, h: Hyperparam) -> bool:
    """True when the axes `h.dim` names hold `h`'s value in the layer's first call (or name nothing to check)."""
    ref = h.axis_ref
    if ref is None or h.value is None:
        return True
    sizes = ref.sizes(layer)
    if sizes is None:
        return False
    value = h.value if isinstance(h.value, list | tuple) else [h.value]
    return list(sizes) == list(value)


def _shape_text(shape: tuple[int, ...]) -> str:
    return " × ".join(str(d) for d in shape)


def _refit(layer: LayerSpec, h: Hyperparam, base: str, functions: tuple[str, ...]) -> Hyperparam:
    """`h` whose rule does not hold for the layer's call: read from the one axis of its value, or left unsaid."""
    ref = h.axis_ref
    assert ref is not None
    shapes = layer.input_shapes if ref.side == "in" else layer.output_shapes
    side = "input" if ref.side == "in" else "output"
    shape = shapes[ref.tensor] if ref.tensor < len(shapes) else ()
    value = h.value[0] if isinstance(h.value, list | tuple) and len(h.value) == 1 else h.value
    ran = f" (its call ran {', '.join(functions)})" if functions else ""
    broken = (
        f"{base}'s rule that {h.name} equals axis {','.join(str(a) for a in ref.axes)} of its {side} does not hold "
        f"for the call it made{ran}: its {side} was {_shape_text(shape)}, so the rule is not applied"
    )
    matches = [axis for axis, size in enumerate(shape) if size == value and (axis > 0 or len(shape) == 1)]
    if isinstance(value, int) and not isinstance(value, bool) and len(matches) == 1:
        found = AxisRef(ref.side, ref.tensor, (matches[0] - len(shape),))
        evidence = f"{broken}; {h.name} = {value} is axis {matches[0]}, the only axis of that size"
        return replace(h, dim=str(found), inferred=True, evidence=evidence, reason=evidence)
    return replace(h, dim="", reason=f"{broken}; which axis {h.name} = {h.value} must match is not known")


def _evidence(layer: LayerSpec, base: str, functions: tuple[str, ...], misfits: list[str]) -> str:
    """What a subclass described by its base class ran, and whether the base's rules held for it."""
    ran = ", ".join(functions) if functions else "no torch function"
    if misfits:
        return (
            f"{layer.type_name} is not in modeldoc's table; it subclasses {base}, but its forward is its own: "
            f"its call ran {ran}, and {base}'s rule for {', '.join(misfits)} does not hold for the shapes it "
            "recorded, so that rule is not applied."
        )
    return (
        f"{layer.type_name} is not in modeldoc's table; it is described as its base class {base}: its call ran "
        f"{ran}, and {base}'s rules hold for the shapes it recorded."
    )


def _parametrized(layer: LayerSpec) -> bool:
    return any(p.computed for p in layer.parameters)


def relate_parametrizations(spec: ModelSpec, table: Knowledge | None = None) -> ModelSpec:
    """Explain each computed tensor of a parametrized layer and the originals it is computed from."""
    table = table or knowledge.current()
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
                    summary=knowledge.render(explain_holder(table), {"originals": len(originals)}) or holder.summary,
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


def explain_holder(table: Knowledge | None = None) -> str:
    """The summary template of a ParametrizationList."""
    entry = (table or knowledge.current()).lookup("torch.nn.utils.parametrize.ParametrizationList")
    return entry.summary if entry else ""


def _axes_like(shape: tuple[int, ...], used: tuple[int, ...], axes: tuple[str, ...]) -> tuple[str, ...]:
    """The axes of an original tensor from those of the tensor computed from it, where the layouts agree."""
    if len(shape) != len(used) or len(axes) != len(used):
        return ()
    return tuple(
        a if s == u else f"1 (one value across {a})" if s == 1 else ""
        for s, u, a in zip(shape, used, axes, strict=True)
    )


def entry_of(layer: LayerSpec, table: Knowledge | None = None) -> knowledge.Entry | None:
    """The knowledge entry for `layer`'s type, or for its nearest torch.nn ancestor."""
    return (table or knowledge.current()).entry_for(layer.type, layer.type_name, layer.bases)


def annotate_layer(
    layer: LayerSpec,
    *,
    strict: bool = False,
    table: Knowledge | None = None,
    problems: list[knowledge.KnowledgeError] | None = None,
) -> LayerSpec:
    """`layer` with kinds, axes and teaching text.

    A template that fails leaves its field empty; with `strict` it raises `KnowledgeError`
    instead, and with a `problems` list each failure is added to it (the knowledge check).
    """
    return annotate_in_context(layer, strict=strict, table=table, problems=problems)[0]


def annotate_in_context(
    layer: LayerSpec,
    *,
    strict: bool = False,
    table: Knowledge | None = None,
    problems: list[knowledge.KnowledgeError] | None = None,
) -> tuple[LayerSpec, dict[str, Any] | None]:
    """`annotate_layer`, with the names its templates were filled in with (None for a layer explained by inference)."""
    entry = entry_of(layer, table)
    if entry is None:
        return infer.infer_layer(layer), None
    filler = _Filler(entry, strict=strict, problems=problems)
    context = _context(layer, entry, filler)
    hyperparameters = [_hyperparam(h, entry.args.get(h.name), context, filler) for h in layer.hyperparameters]
    hyperparameters += _lazy_arguments(layer, entry, context, filler)
    parameters = tuple(_tensor(p, entry, context, filler) for p in layer.parameters)
    notes = tuple(n for n in (filler.text(note, context, "notes") for note in entry.notes) if n)
    if entry.key != knowledge.key_of(layer.type, layer.type_name) and not _parametrized(layer):
        notes += (knowledge.message("described_as_base", layer=layer.type_name, base=entry.key),)
    explained = _with(
        layer,
        summary=filler.text(entry.summary, context, "summary"),
        formula=filler.text(entry.formula, context, "formula"),
        size_rule=entry.size_rule,
        brief=brief(entry, context, filler),
        hyperparameters=tuple(hyperparameters),
        parameters=parameters,
        notes=layer.notes + notes,
    )
    return explained, context


def brief(entry: knowledge.Entry, context: dict[str, Any], filler: _Filler) -> str:
    """The entry's brief label filled in: its non-empty parts, joined."""
    parts = filler.value(list(entry.brief), context, "brief") if entry.brief else None
    return BRIEF_SEPARATOR.join(str(p) for p in parts or () if p not in (None, ""))


class _Filler:
    """Renders one entry's templates; a template that fails leaves its field empty (or raises when strict)."""

    def __init__(
        self, entry: knowledge.Entry, *, strict: bool, problems: list[knowledge.KnowledgeError] | None = None
    ) -> None:
        self.entry = entry
        self.strict = strict
        self.problems = problems

    def fail(self, field: str, problem: str, err: Exception | None = None) -> None:
        """A field that does not fit the layer: raised when strict, collected when asked, else only logged."""
        error = knowledge.KnowledgeError(f"{self.entry.key}.{field}", problem, self.entry.origin)
        if self.strict:
            raise error from err
        if self.problems is not None:
            self.problems.append(error)
        logger.debug("knowledge %s.%s failed: %s", self.entry.key, field, problem)

    def value(self, template: Any, context: dict[str, Any], field: str) -> Any:
        try:
            return knowledge.render(template, context)
        except _RENDER_ERRORS as err:
            self.fail(field, f"{type(err).__name__}: {err}", err)
            return None

    def text(self, template: Any, context: dict[str, Any], field: str) -> str:
        value = self.value(template, context, field) if template else ""
        return str(value) if value is not None else ""

    def axis_ref(self, template: str, context: dict[str, Any], field: str) -> AxisRef | None:
        """The axes a `dim` template names, parsed once; None when it renders empty or malformed."""
        text = self.text(template, context, field)
        if not text:
            return None
        try:
            return AxisRef.parse(text)
        except ValueError as err:
            self.fail(field, str(err), err)
            return None


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
            ref = filler.axis_ref(rule.dim, context, f"args.{rule.name}.dim")
            size = size_at(layer, ref) if ref is not None else None
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


def size_at(layer: LayerSpec, dim: str | AxisRef) -> int | list[int] | None:
    """The size `dim` (``"in0:-1"``) names in the layer's probed shapes, or None.

    A `dim` that spans several axes (``"in0:-2,-1"``) gives the list of their sizes.
    """
    if isinstance(dim, str):
        try:
            dim = AxisRef.parse(dim)
        except ValueError:
            return None
    sizes = dim.sizes(layer)
    if sizes is None:
        return None
    return sizes[0] if len(sizes) == 1 else list(sizes)


def _hyperparam(h: Hyperparam, rule: knowledge.ArgRule | None, context: dict[str, Any], filler: _Filler) -> Hyperparam:
    if rule is None:
        return h
    ref = filler.axis_ref(rule.dim, context, f"args.{h.name}.dim")
    return _with(
        h,
        kind=rule.kind,
        source=rule.source,
        reason=filler.text(rule.reason, context, f"args.{h.name}.reason"),
        dim=str(ref) if ref is not None else "",
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
        filler.fail(field, f"{len(axes)} ax{'i' if len(axes) == 1 else 'e'}s for a tensor of shape {list(p.shape)}")
        axes = []
    notes = [filler.text(n, local, f"{field}.notes") for n in rule.notes]
    return _with(
        p,
        axes=tuple(axes) if axes or not p.shape else p.axes,
        axis_notes=tuple(n for n in notes if n),
        meaning=filler.text(rule.meaning, local, f"{field}.meaning") or p.meaning,
    )


def uses(
    layer: LayerSpec,
    local_name: str,
    table: Knowledge | None = None,
    *,
    problems: list[knowledge.KnowledgeError] | None = None,
) -> tuple[str, bool]:
    """How `layer` uses its tensor `local_name` (the table's ``use`` text), and whether it transposes it."""
    entry = entry_of(layer, table)
    found = entry.tensor_rule(local_name) if entry else None
    if entry is None or found is None:
        return "", False
    rule, groups = found
    filler = _Filler(entry, strict=False, problems=problems)
    context = {**_context(layer, entry, filler), **groups}
    return filler.text(rule.use, context, f"params.{rule.pattern.pattern}.use"), rule.transposed


def relate_ties(spec: ModelSpec, table: Knowledge | None = None) -> ModelSpec:
    """Say, on every tied tensor, how each of the layers that share it uses it."""
    table = table or knowledge.current()
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
            relations = [_relation(layer, p, other_layer, other, table) for other_layer, other in others]
            params.append(replace(p, relation=" ".join(relations)) if relations else p)
        changed.append(replace(layer, parameters=tuple(params)))
    return spec.with_layers(tuple(changed))


def _relation(layer: LayerSpec, p: ParamSpec, other_layer: LayerSpec, other: ParamSpec, table: Knowledge) -> str:
    """Relate two names of one tensor: the axis roles in each layer, and which layer transposes it."""
    mine, my_transpose = uses(layer, p.local_name, table)
    theirs, their_transpose = uses(other_layer, other.local_name, table)
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
