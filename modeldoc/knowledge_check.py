"""``modeldoc knowledge check``: a project's knowledge entries against the schema and against live layers.

The entries checked are those added to modeldoc's own: the folders given (``--knowledge``, or
``knowledge`` in ``[tool.modeldoc]``) and installed packages' entry points. Each is validated
against the schema when read; each with an ``example`` is built and called, and the layers of a
target model that these entries describe are checked the same way (`modeldoc.explain.check`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from modeldoc import knowledge
from modeldoc.errors import ModeldocError
from modeldoc.explain.check import check_layer
from modeldoc.knowledge import Entry, Knowledge, KnowledgeError
from modeldoc.options import ModelOptions
from modeldoc.spec import LayerSpec


@dataclass(frozen=True)
class Report:
    """What the check found."""

    problems: tuple[KnowledgeError, ...]
    entries: tuple[Entry, ...]
    """The entries added to the shipped ones (well-formed or not, those that could be read)."""
    examples: int = 0
    """Entries built from their example and checked against that layer."""
    without_example: tuple[str, ...] = ()
    """Added entries that have no example (and are not abstract): checked against the schema only."""
    layers: int = 0
    """Layers of the target described by an added entry, and checked."""
    unknown: tuple[str, ...] = ()
    """Types of the target's layers the table does not know (described by inference)."""


def check(folders: Iterable[str | os.PathLike[str]], target: ModelOptions | None = None) -> Report:
    """Check the entries of `folders` (and installed packages'), and the layers of `target` they describe."""
    table, read_problems = knowledge.read(folders)
    problems = list(read_problems)
    added = table.added
    examples = 0
    for entry in added:
        if entry.example is not None:
            problems += _check_example(entry, table)
            examples += 1
    without = tuple(e.key for e in added if e.example is None and not e.abstract)
    layers: int = 0
    unknown: tuple[str, ...] = ()
    if target is not None:
        layers, unknown, found = _check_target(target, table)
        problems += found
    return Report(
        problems=tuple(problems),
        entries=added,
        examples=examples,
        without_example=without,
        layers=layers,
        unknown=unknown,
    )


def line(problem: KnowledgeError) -> str:
    """One problem as one line: ``FILE: ENTRY.FIELD: PROBLEM``, like a compiler's."""
    return ": ".join(part for part in (problem.file, problem.where, problem.problem) if part)


def _check_example(entry: Entry, table: Knowledge) -> list[KnowledgeError]:
    from modeldoc.probe import examples
    from modeldoc.probe.collect import collect

    try:
        module = examples.build(entry)
        options = examples.options(entry)
        with knowledge.using(table):
            spec = collect(module, options)
    except ModeldocError as err:
        return [KnowledgeError(f"{entry.key}.example", str(err), entry.origin)]
    if entry.example is not None and entry.example.inputs and spec.probe_error:
        shapes = ", ".join(f"({', '.join(str(s) for s in shape)})" for shape in entry.example.inputs)
        return [
            KnowledgeError(
                f"{entry.key}.example", f"calling the layer with {shapes} failed: {spec.probe_error}", entry.origin
            )
        ]
    found = table.entry_for(spec.root.type, spec.root.type_name, spec.root.bases)
    if found is not entry:
        key = knowledge.key_of(spec.root.type, spec.root.type_name)
        problem = f"its example builds a {spec.root.type}, whose table key is {key!r}"
        return [KnowledgeError(entry.key, problem, entry.origin)]
    return check_layer(spec.root, table)


def _check_target(target: ModelOptions, table: Knowledge) -> tuple[int, tuple[str, ...], list[KnowledgeError]]:
    from modeldoc.probe import loader
    from modeldoc.probe.collect import collect

    module = loader.load_model(target.target, target.kwargs).module
    with knowledge.using(table):
        spec = collect(module, target)
    problems: list[KnowledgeError] = []
    if spec.probe_error:
        problems.append(KnowledgeError("", f"{target.target}: {spec.probe_error}"))
    checked = 0
    unknown: dict[str, None] = {}
    for layer in spec.all_layers:
        entry = table.entry_for(layer.type, layer.type_name, layer.bases)
        if entry is None:
            if _worth_knowing(layer):
                unknown[layer.type] = None
            continue
        if not entry.shipped:
            checked += 1
            problems += check_layer(layer, table, where=f"layer {layer.path or spec.name}")
    return checked, tuple(unknown), problems


def _worth_knowing(layer: LayerSpec) -> bool:
    """A layer whose page would be inferred: one with arguments or tensors of its own, or a leaf."""
    return bool(layer.hyperparameters or any(not p.computed for p in layer.parameters) or not layer.children)
