"""The whole collection step for one model: load, introspect, explain, derive."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from modeldoc import derive, explain, knowledge, progress
from modeldoc.options import ModelOptions
from modeldoc.probe import loader
from modeldoc.probe.static import introspect
from modeldoc.spec import ModelSpec

if TYPE_CHECKING:
    from torch import nn


def describe(options: ModelOptions) -> ModelSpec:
    """Load the model `options` names and return its annotated description."""
    return describe_with_source(options)[0]


def describe_with_source(options: ModelOptions) -> tuple[ModelSpec, Path | None]:
    """Like `describe`, also returning the file the model's code lives in (for live reload)."""
    progress.phase(f"loading {options.target}")
    loaded = loader.load_model(options.target, options.kwargs)
    return describe_module(loaded.module, options), loaded.source_file


def describe_module(module: nn.Module, options: ModelOptions) -> ModelSpec:
    """The annotated description of a live `module` (``options.target`` only names it)."""
    modules = sum(1 for _ in module.modules())
    if options.has_input:
        progress.phase(f"probing {modules:,} modules: a forward pass on the {options.probe_device} device")
    else:
        progress.phase(f"reading {modules:,} modules")
    table = knowledge.load(options.knowledge)
    with knowledge.using(table):  # the probe reads constructor arguments as the table's entries say
        spec = introspect(module, options)
    progress.phase(f"explaining {len(spec.layers) + 1:,} layers")
    return annotate(spec, table)


def annotate(spec: ModelSpec, table: knowledge.Knowledge | None = None) -> ModelSpec:
    """Add the knowledge (kinds, axes, teaching text) and the derivations to a raw spec."""
    return derive.attach(explain.annotate(spec, table))
