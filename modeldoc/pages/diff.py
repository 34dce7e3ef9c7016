"""A `ModelDiff` for readers: a terminal summary, and GitHub-flavoured Markdown (a pull-request comment, a site page).

Pure. Changes repeated in numbered blocks (``h.0`` … ``h.11``) are folded into one line that
names the blocks (`modeldoc.diff.fold`); added and removed subtrees are named by their top
module with a count of what is inside.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from modeldoc.diff import (
    ArgumentChange,
    DerivationChange,
    ModelDiff,
    Pair,
    ShapeChange,
    fold,
    pattern,
    span,
    top_level,
)
from modeldoc.pages.render import do_code, do_md_cell

MAX_ROWS = 60
"""Rows of one table (or lines of one terminal list) before the rest are counted instead."""


def _value(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, list):
        inner = ", ".join(_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def _shape(shape: tuple[Any, ...] | None) -> str:
    if shape is None:
        return "–"
    return " × ".join(str(d) for d in shape) or "scalar"


def _delta(old: int, new: int) -> str:
    if old == new:
        return "unchanged"
    change = new - old
    percent = f", {change / old:+.1%}" if old else ""
    return f"{change:+,}{percent}"


def totals(d: ModelDiff) -> list[tuple[str, str, str, str]]:
    """Rows of (what, old, new, change) for the model-wide numbers."""
    fields = [("parameters", "total_params")]
    if not (d.old.weights_only or d.new.weights_only):
        fields.append(("trainable", "trainable_params"))
    fields += [("parameter bytes", "param_bytes"), ("modules", "layers")]
    if d.old.traced and d.new.traced:
        fields += [("multiply-adds", "macs"), ("FLOPs", "flops"), ("activation bytes", "activation_bytes")]
    rows = []
    for what, name in fields:
        old, new = getattr(d.old, name), getattr(d.new, name)
        rows.append((what, f"{old:,}", f"{new:,}", _delta(old, new)))
    return rows


def headline(d: ModelDiff) -> str:
    """One sentence: equal, or what changed in counts."""
    if d.unrelated:
        return (
            f"nothing in common: no layer of one matches a layer of the other; {len(d.removed)} layers removed, "
            f"{len(d.added)} added"
        )
    if d.matches:
        return "the same architecture: structure, arguments, shapes and parameter counts are equal"
    parts = [
        _count(len(d.added), "layer added", "layers added"),
        _count(len(d.removed), "removed", "removed"),
        _count(len(d.renamed), "renamed", "renamed"),
        _count(len(d.type_changes), "type changed", "types changed"),
        _count(len(d.arguments), "argument changed", "arguments changed"),
        _count(len(d.shapes), "shape changed", "shapes changed"),
        _count(len(d.derivations), "derivation with a new result", "derivations with a new result"),
    ]
    shown = [p for p in parts if p]
    if not shown:
        shown = [f"parameters {_delta(d.old.total_params, d.new.total_params)}"]
    return "; ".join(shown)


def _count(n: int, one: str, many: str) -> str:
    return "" if not n else f"{n:,} {one if n == 1 else many}"


def _where(path: str) -> str:
    return path or "(the model)"


def _subtrees(paths: tuple[str, ...]) -> list[str]:
    """Added or removed paths as their top modules (numbered siblings folded), with what is inside."""
    tops = top_level(paths)
    groups: dict[str, list[tuple[str, int]]] = {}
    for path, inside in tops:
        groups.setdefault(pattern(path), []).append((path, inside))
    out = []
    for members in groups.values():
        inside = sum(n for _, n in members)
        within = f", with {inside:,} modules inside" if inside else ""
        if len(members) == 1:
            path, n = members[0]
            out.append(f"{path}{f' (with {n:,} modules inside)' if n else ''}")
        else:
            out.append(f"{span([p for p, _ in members])} ({len(members)} blocks{within})")
    return out


def _arguments(d: ModelDiff) -> list[tuple[str, ArgumentChange, int]]:
    folded = fold(d.arguments, lambda c: c.layer, lambda c: (c.name, repr(c.old), repr(c.new), c.old_kind, c.new_kind))
    return [(f.where, f.item, len(f.paths)) for f in folded]


def _shapes(d: ModelDiff) -> list[tuple[str, ShapeChange, int]]:
    folded = fold(d.shapes, lambda c: c.layer, lambda c: (c.what, c.old, c.new))
    return [(f.where, f.item, len(f.paths)) for f in folded]


def _derivations(d: ModelDiff) -> list[tuple[str, DerivationChange, int]]:
    folded = fold(d.derivations, lambda c: c.layer, lambda c: (c.name, repr(c.old), repr(c.new)))
    return [(f.where, f.item, len(f.paths)) for f in folded]


def _joined(items: Iterable[tuple[str, str]]) -> list[str]:
    """``where: text`` lines, the texts of one place joined on one line (``input …; output …; weight …``)."""
    grouped: dict[str, list[str]] = {}
    for where, text in items:
        grouped.setdefault(where, []).append(text)
    return [f"{_where(where)}: {'; '.join(texts)}" for where, texts in grouped.items()]


def _renamed(pair: Pair) -> str:
    return f"{pair.old} → {pair.new}" + (" (and changed)" if pair.how == "renamed and changed" else "")


def _kind(change: ArgumentChange) -> str:
    if change.old_kind == change.new_kind or not change.old_kind or not change.new_kind:
        return ""
    return f" (kind: {change.old_kind} → {change.new_kind})"


# ----------------------------------------------------------------------------- terminal


def terminal_lines(d: ModelDiff) -> Iterator[str]:
    """The diff as plain lines for a terminal."""
    shapes = _shapes(d)
    yield f"{d.old.name} → {d.new.name}: {headline(d)}"
    width = max(len(row[0]) for row in totals(d))
    for what, old, new, change in totals(d):
        yield f"  {what:<{width}}  {old} → {new} ({change})"
    sections: list[tuple[str, list[str]]] = [
        ("added", _subtrees(d.added)),
        ("removed", _subtrees(d.removed)),
        ("renamed (matched by structure)", [_renamed(p) for p in d.renamed]),
        ("type changed", [f"{_where(path)}: {a} → {b}" for path, a, b in d.type_changes]),
        (
            "arguments that changed",
            [f"{_where(where)}: {c.name} {_value(c.old)} → {_value(c.new)}{_kind(c)}" for where, c, _ in _arguments(d)],
        ),
        (
            "shapes that changed",
            _joined((where, f"{c.what} {_shape(c.old)} → {_shape(c.new)}") for where, c, _ in shapes),
        ),
        (
            "derivations that now give a different number",
            [
                f"{_where(where)}: {c.name} {_value(c.old)} → {_value(c.new)}"
                + (f" (was {c.old_formula}; now {c.new_formula})" if c.old_formula and c.new_formula else "")
                for where, c, _ in _derivations(d)
            ],
        ),
    ]
    for title, lines in sections:
        if not lines:
            continue
        yield f"{title}:"
        for line in lines[:MAX_ROWS]:
            yield f"  {line}"
        if len(lines) > MAX_ROWS:
            yield f"  and {len(lines) - MAX_ROWS} more"
    for note in d.notes:
        yield f"note: {note}"


# ----------------------------------------------------------------------------- Markdown


def markdown(d: ModelDiff, heading: str = "##") -> str:
    """The diff as GitHub-flavoured Markdown: a pull-request comment, or a page of the site."""
    title = f"{heading} Architecture diff: {do_code(d.old.name)} → {do_code(d.new.name)}"
    out = [title, "", f"**{do_md_cell(headline(d))}**", ""]
    out += ["| | Old | New | Change |", "|---|---|---|---|"]
    out += [f"| {what[:1].upper() + what[1:]} | {old} | {new} | {change} |" for what, old, new, change in totals(d)]
    out.append("")
    for title, paths in (("Added", d.added), ("Removed", d.removed)):
        if paths:
            items = _subtrees(paths)
            modules = _count(len(paths), "module", "modules")
            out.append(f"**{title}** ({modules}): " + ", ".join(do_md_cell(item) for item in items[:MAX_ROWS]))
            out.append("")
    sub = heading + "#"
    if d.renamed:
        out += [f"{sub} Renamed (matched by structure)", "", "| Old path | New path | Changed too |", "|---|---|---|"]
        out += [
            f"| {do_code(p.old)} | {do_code(p.new)} | {'yes' if p.how == 'renamed and changed' else 'no'} |"
            for p in d.renamed[:MAX_ROWS]
        ]
        out += _more(len(d.renamed))
    if d.type_changes:
        out += [f"{sub} Type changed", "", "| Layer | Old type | New type |", "|---|---|---|"]
        out += [
            f"| {do_md_cell(_where(path))} | {do_code(a)} | {do_code(b)} |" for path, a, b in d.type_changes[:MAX_ROWS]
        ]
        out += _more(len(d.type_changes))
    arguments = _arguments(d)
    if arguments:
        out += [f"{sub} Arguments that changed", "", "| Layer | Argument | Old | New |", "|---|---|---|---|"]
        out += [
            f"| {do_md_cell(_where(where))} | {do_code(c.name)} | {do_code(_value(c.old))} | {do_code(_value(c.new))}"
            f"{do_md_cell(_kind(c))} |"
            for where, c, _ in arguments[:MAX_ROWS]
        ]
        out += _more(len(arguments))
    shapes = _shapes(d)
    if shapes:
        out += [f"{sub} Shapes that changed", "", "| Layer | Tensor | Old | New |", "|---|---|---|---|"]
        out += [
            f"| {do_md_cell(_where(where))} | {do_md_cell(c.what)} | {_shape(c.old)} | {_shape(c.new)} |"
            for where, c, _ in shapes[:MAX_ROWS]
        ]
        out += _more(len(shapes))
    derivations = _derivations(d)
    if derivations:
        out += [
            f"{sub} Derivations that now give a different number",
            "",
            "| Layer | Argument | Old | New |",
            "|---|---|---|---|",
        ]
        out += [
            f"| {do_md_cell(_where(where))} | {do_code(c.name)} | {do_code(c.old_formula or _value(c.old))} | "
            f"{do_code(c.new_formula or _value(c.new))} |"
            for where, c, _ in derivations[:MAX_ROWS]
        ]
        out += _more(len(derivations))
    for note in d.notes:
        out += [f"*Note: {do_md_cell(note)}.*", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def _more(count: int) -> list[str]:
    return ["", f"and {count - MAX_ROWS} more.", ""] if count > MAX_ROWS else [""]
