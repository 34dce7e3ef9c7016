"""What changed between two described models: layers added, removed and renamed, arguments, shapes, totals.

Pure: `diff(old, new)` compares two `ModelSpec`s, however they were made (a model's code, a
checkpoint, a saved ``modeldoc/1`` description). Layers are paired in four passes, each over the
layers the earlier ones left: the same path holding exactly the same layer; the same layer (type,
arguments and tensor shapes) under another path, in order (a rename, or a block that moved when
one was inserted before it); the same path and type with something changed; the same type and
tensor names under another path, in order. What is left was removed or added. Each pair is then
compared argument by argument and shape by shape. `ModelDiff.matches` is the test `modeldoc
check` applies: the same structure, arguments, shapes and parameter counts (teaching text,
warnings, costs and the recorded trace are left out: they change with modeldoc, not the model).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from modeldoc.spec import LayerSpec, ModelSpec

DIFF_SCHEMA = "modeldoc-diff/1"
How = Literal["same path", "renamed", "changed in place", "renamed and changed"]


@dataclass(frozen=True)
class Side:
    """One of the two models, as the diff names it."""

    name: str
    """What the user gave for it: a target, a checkpoint file or a saved description."""
    type: str
    total_params: int
    trainable_params: int
    param_bytes: int
    macs: int
    flops: int
    activation_bytes: int
    layers: int
    """Modules below the root."""
    traced: bool
    """True when a forward pass was recorded, so shapes and costs are known."""
    weights_only: bool = False
    """True for a model described from a checkpoint alone: whether its tensors train is not known."""


@dataclass(frozen=True)
class Pair:
    """A layer of the old model matched to one of the new model, and how they were matched."""

    old: str
    new: str
    how: How


@dataclass(frozen=True)
class ArgumentChange:
    """A constructor argument whose value or kind differs between a matched pair of layers."""

    layer: str
    """The layer's path in the new model."""
    name: str
    old: Any
    new: Any
    old_kind: str = ""
    new_kind: str = ""


@dataclass(frozen=True)
class ShapeChange:
    """A shape that differs between a matched pair: an input or output of the layer's call, or a tensor it owns."""

    layer: str
    what: str
    """``"input"``, ``"output"``, or the tensor's local name (``"weight"``)."""
    old: tuple[Any, ...] | None
    """None when the old layer had no such tensor (or was not called)."""
    new: tuple[Any, ...] | None


@dataclass(frozen=True)
class DerivationChange:
    """A data-dependent argument whose derivation now gives a different number."""

    layer: str
    name: str
    old: Any
    new: Any
    old_formula: str
    new_formula: str


@dataclass(frozen=True, kw_only=True)
class ModelDiff:
    """Everything that differs between two models."""

    old: Side
    new: Side
    pairs: tuple[Pair, ...] = ()
    added: tuple[str, ...] = ()
    """Paths in the new model with no counterpart, parents before children."""
    removed: tuple[str, ...] = ()
    type_changes: tuple[tuple[str, str, str], ...] = ()
    """(new path, old type, new type) for pairs matched by tensor names whose types differ."""
    arguments: tuple[ArgumentChange, ...] = ()
    shapes: tuple[ShapeChange, ...] = ()
    derivations: tuple[DerivationChange, ...] = ()
    notes: tuple[str, ...] = field(default=())
    """What the comparison could not see (a model without a recorded pass has no shapes to compare)."""

    @property
    def renamed(self) -> tuple[Pair, ...]:
        """The pairs whose paths differ."""
        return tuple(p for p in self.pairs if p.old != p.new)

    @property
    def unrelated(self) -> bool:
        """True when no layer below the root of one model matches one of the other (see `diff`)."""
        return bool(self.old.layers or self.new.layers) and not any(p.new for p in self.pairs)

    @property
    def matches(self) -> bool:
        """The same structure, arguments, shapes and parameter counts (what ``modeldoc check`` asks)."""
        return not (
            self.added
            or self.removed
            or self.renamed
            or self.type_changes
            or self.arguments
            or self.shapes
            or self.old.total_params != self.new.total_params
            or (
                not (self.old.weights_only or self.new.weights_only)
                and self.old.trainable_params != self.new.trainable_params
            )
        )

    def to_json(self) -> dict[str, Any]:
        """The diff as JSON (``"schema": "modeldoc-diff/1"``), with the verdict of `matches`."""
        data = asdict(self)
        return json.loads(
            json.dumps({"schema": DIFF_SCHEMA, "matches": self.matches, "unrelated": self.unrelated, **data})
        )


def diff(old: ModelSpec, new: ModelSpec, *, old_name: str = "", new_name: str = "") -> ModelDiff:
    """Compare two described models.

    Models that share no layer with tensors, by path or by exact structure, have nothing in common:
    a layer of the same type elsewhere (a Linear in both) does not make them related, so then
    every layer is reported removed or added.
    """
    pairs = match_layers(old, new)
    if not _related(pairs, old):
        pairs = [p for p in pairs if not p.new]
    paired_old = {p.old for p in pairs}
    paired_new = {p.new for p in pairs}
    loose = _weights_only(old) or _weights_only(new)
    arguments: list[ArgumentChange] = []
    shapes: list[ShapeChange] = []
    derivations: list[DerivationChange] = []
    type_changes: list[tuple[str, str, str]] = []
    for pair in pairs:
        a, b = old.layer(pair.old), new.layer(pair.new)
        if _type(a, loose) != _type(b, loose):
            type_changes.append((pair.new, _type(a, loose), _type(b, loose)))
        arguments += _argument_changes(a, b, loose)
        derivations += _derivation_changes(a, b)
        shapes += _shape_changes(a, b, old, new)
    notes = []
    unread = sorted({a.name for a in old.root.unknown_arguments} & {a.name for a in new.root.unknown_arguments})
    if unread:
        notes.append(
            f"both models take {', '.join(unread)}, which modeldoc cannot read back from the built model: "
            "hyperparameters held only there (not in a layer's own arguments or tensor shapes) are not compared"
        )
    if old.config is not None and new.config is not None:
        notes += _config_note(old.config.values, new.config.values)
    for spec, label in ((old, "old"), (new, "new")):
        if spec.trace is None:
            notes.append(
                f"the {label} model has no recorded forward pass, so input and output shapes and costs are not compared"
            )
    return ModelDiff(
        old=_side(old, old_name),
        new=_side(new, new_name),
        pairs=tuple(pairs),
        added=tuple(layer.path for layer in new.layers if layer.path not in paired_new),
        removed=tuple(layer.path for layer in old.layers if layer.path not in paired_old),
        type_changes=tuple(type_changes),
        arguments=tuple(arguments),
        shapes=tuple(shapes),
        derivations=tuple(derivations),
        notes=tuple(notes),
    )


MAX_CONFIG_KEYS = 12
"""Changed config keys named one by one in a diff's note; the rest are counted."""


def _config_note(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """One note naming the config keys whose values differ (the layers' arguments show what they set)."""
    changed = [
        f"{key} {old.get(key, '(absent)')!r} → {new.get(key, '(absent)')!r}"
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]
    if not changed:
        return []
    more = f" and {len(changed) - MAX_CONFIG_KEYS} more" if len(changed) > MAX_CONFIG_KEYS else ""
    return [f"config keys that differ: {'; '.join(changed[:MAX_CONFIG_KEYS])}{more}"]


def _related(pairs: Sequence[Pair], old: ModelSpec) -> bool:
    """True when some layer with tensors is the same layer in both, or sits at the same path with the same type."""
    return any(p.old and p.how != "renamed and changed" and old.layer(p.old).parameters for p in pairs)


def _weights_only(spec: ModelSpec) -> bool:
    return spec.checkpoint is not None and spec.checkpoint.weights_only


def _type(layer: LayerSpec, loose: bool) -> str:
    """The type compared: the class name alone when one model's types were only inferred from a checkpoint."""
    return layer.type_name if loose else layer.type


def _side(spec: ModelSpec, name: str) -> Side:
    return Side(
        name=name or spec.target or spec.name,
        type=spec.type,
        total_params=spec.total_params,
        trainable_params=spec.trainable_params,
        param_bytes=spec.param_bytes,
        macs=spec.macs,
        flops=spec.flops,
        activation_bytes=spec.activation_bytes,
        layers=len(spec.layers),
        traced=spec.trace is not None,
        weights_only=_weights_only(spec),
    )


# ----------------------------------------------------------------------------- pairing layers


def _strong(layer: LayerSpec, loose: bool) -> tuple[Any, ...]:
    """What makes two layers the same layer: type, arguments, tensor names and shapes, number of children."""
    arguments = () if loose else tuple(sorted((h.name, _plain(h.value)) for h in layer.hyperparameters))
    tensors = tuple(sorted((p.local_name, p.shape) for p in layer.parameters))
    return (_type(layer, loose), arguments, tensors, len(layer.children))


def _weak(layer: LayerSpec, loose: bool) -> tuple[Any, ...]:
    """What makes two layers the same kind of layer: type and tensor names."""
    return (_type(layer, loose), tuple(sorted(p.local_name for p in layer.parameters)))


def _plain(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def match_layers(old: ModelSpec, new: ModelSpec) -> list[Pair]:
    """The layers of `old` paired with those of `new` (the roots always), in the new model's order."""
    loose = _weights_only(old) or _weights_only(new)
    olds = {layer.path: layer for layer in old.layers}
    news = {layer.path: layer for layer in new.layers}
    pairs: dict[str, Pair] = {"": Pair("", "", "same path")}
    taken: set[str] = set()

    def take(a: str, b: str, how: How) -> None:
        pairs[b] = Pair(a, b, how)
        taken.add(a)

    for path, layer in news.items():
        if path in olds and _strong(olds[path], loose) == _strong(layer, loose):
            take(path, path, "same path")
    _align(olds, news, pairs, taken, lambda layer: _strong(layer, loose), "renamed")
    for path, layer in news.items():
        if path not in pairs and path in olds and path not in taken and _type(olds[path], loose) == _type(layer, loose):
            take(path, path, "changed in place")
    _align(olds, news, pairs, taken, lambda layer: _weak(layer, loose), "renamed and changed")
    order = {path: i for i, path in enumerate(["", *news])}
    return sorted(pairs.values(), key=lambda p: order[p.new])


def _align(
    olds: dict[str, LayerSpec],
    news: dict[str, LayerSpec],
    pairs: dict[str, Pair],
    taken: set[str],
    key: Callable[[LayerSpec], tuple[Any, ...]],
    how: How,
) -> None:
    """Pair the layers left on both sides whose `key`s agree, keeping their order (longest common runs first)."""
    left_old = [path for path in olds if path not in taken]
    left_new = [path for path in news if path not in pairs]
    a = [key(olds[path]) for path in left_old]
    b = [key(news[path]) for path in left_new]
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for block in matcher.get_matching_blocks():
        for i in range(block.size):
            old_path, new_path = left_old[block.a + i], left_new[block.b + i]
            pairs[new_path] = Pair(old_path, new_path, "same path" if old_path == new_path else how)
            taken.add(old_path)


# ----------------------------------------------------------------------------- comparing a pair


def _argument_changes(a: LayerSpec, b: LayerSpec, loose: bool) -> list[ArgumentChange]:
    old = {h.name: h for h in a.hyperparameters}
    new = {h.name: h for h in b.hyperparameters}
    names = [n for n in old if n in new] if loose else list(dict.fromkeys([*old, *new]))
    out = []
    for name in names:
        x, y = old.get(name), new.get(name)
        old_value = x.value if x else None
        new_value = y.value if y else None
        old_kind = x.kind if x else ""
        new_kind = y.kind if y else ""
        kinds_differ = not loose and old_kind != new_kind
        if _plain(old_value) != _plain(new_value) or kinds_differ or (x is None) != (y is None):
            out.append(ArgumentChange(b.path, name, old_value, new_value, old_kind, new_kind))
    return out


def _derivation_changes(a: LayerSpec, b: LayerSpec) -> list[DerivationChange]:
    old = {h.name: h for h in a.hyperparameters if h.formula}
    out = []
    for h in b.hyperparameters:
        before = old.get(h.name)
        if (h.formula or before) and before is not None and _plain(before.value) != _plain(h.value):
            out.append(DerivationChange(b.path, h.name, before.value, h.value, before.formula, h.formula))
        elif h.formula and before is None:
            matching = next((x for x in a.hyperparameters if x.name == h.name), None)
            if matching is not None and _plain(matching.value) != _plain(h.value):
                out.append(DerivationChange(b.path, h.name, matching.value, h.value, "", h.formula))
    return out


def _shape_changes(a: LayerSpec, b: LayerSpec, old: ModelSpec, new: ModelSpec) -> list[ShapeChange]:
    out = []
    if old.trace is not None and new.trace is not None:
        for what, x, y in (("input", a.input_dims, b.input_dims), ("output", a.output_dims, b.output_dims)):
            if tuple(map(tuple, x)) != tuple(map(tuple, y)) and (x or y):
                for i in range(max(len(x), len(y))):
                    xi = tuple(x[i]) if i < len(x) else None
                    yi = tuple(y[i]) if i < len(y) else None
                    if xi != yi:
                        label = what if max(len(x), len(y)) == 1 else f"{what} {i + 1}"
                        out.append(ShapeChange(b.path, label, xi, yi))
    olds = {p.local_name: p.shape for p in a.parameters if not p.computed}
    news = {p.local_name: p.shape for p in b.parameters if not p.computed}
    for name in dict.fromkeys([*olds, *news]):
        if olds.get(name) != news.get(name):
            out.append(ShapeChange(b.path, name, olds.get(name), news.get(name)))
    return out


# ----------------------------------------------------------------------------- folding repeats, for the reader


def pattern(path: str) -> str:
    """A path with each number replaced by ``*``: ``h.3.attn`` becomes ``h.*.attn``."""
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


@dataclass(frozen=True)
class Folded:
    """Changes that are the same in several repeated layers (``h.0`` … ``h.11``), shown once."""

    where: str
    """``"h.*.attn"`` (12 layers: h.0 … h.11), or one path."""
    paths: tuple[str, ...]
    item: Any
    """One of the changes (the first), whose values stand for all."""


def fold(items: Sequence[Any], path_of: Callable[[Any], str], same: Callable[[Any], Any]) -> list[Folded]:
    """Group `items` whose paths differ only in their numbers and whose `same` keys are equal, in first-seen order."""
    groups: dict[tuple[str, Any], list[Any]] = {}
    for item in items:
        groups.setdefault((pattern(path_of(item)), same(item)), []).append(item)
    out = []
    for (shape, _), members in groups.items():
        paths = tuple(path_of(m) for m in members)
        where = paths[0] if len(paths) == 1 else f"{ranged(paths, shape)} ({len(paths)} layers)"
        out.append(Folded(where, paths, members[0]))
    return out


def ranged(paths: Sequence[str], shape: str) -> str:
    """Paths that differ in their numbers, written once: ``h.{0…11}.attn`` (or ``h.*.attn`` when several parts vary)."""
    split = [path.split(".") for path in paths]
    varying = [i for i in range(len(split[0])) if len({parts[i] for parts in split}) > 1]
    if len(varying) != 1:
        return shape
    i = varying[0]
    numbers = sorted(int(parts[i]) for parts in split)
    parts = list(split[0])
    consecutive = numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    parts[i] = f"{{{numbers[0]}…{numbers[-1]}}}" if consecutive else "{" + ",".join(map(str, numbers)) + "}"
    return ".".join(parts)


def span(paths: Sequence[str]) -> str:
    """``"h.0 … h.11"`` for a run of paths, ``"a, b"`` for two."""
    if len(paths) <= 2:
        return ", ".join(paths)
    return f"{paths[0]} … {paths[-1]}"


def top_level(paths: Iterable[str]) -> list[tuple[str, int]]:
    """The paths whose parent is not among them, each with how many of the others lie inside it."""
    listed = list(paths)
    chosen = set(listed)
    tops: dict[str, int] = {}
    for path in listed:
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        owner = path
        while parent and parent in chosen:
            owner = parent
            parent = parent.rsplit(".", 1)[0] if "." in parent else ""
        if owner == path:
            tops.setdefault(path, 0)
        else:
            tops[owner] = tops.get(owner, 0) + 1
    return list(tops.items())
