"""The whole collection step for one model: load, introspect, explain, derive."""

from __future__ import annotations

from pathlib import Path

from modeldoc import derive, explain, loader
from modeldoc.introspect import introspect
from modeldoc.options import ModelOptions
from modeldoc.spec import ModelSpec


def describe(options: ModelOptions) -> ModelSpec:
    """Load the model `options` names and return its annotated description."""
    return describe_with_source(options)[0]


def describe_with_source(options: ModelOptions) -> tuple[ModelSpec, Path | None]:
    """Like `describe`, also returning the file the model's code lives in (for live reload)."""
    loaded = loader.load_model(options.target, options.kwargs)
    return annotate(introspect(loaded.module, options)), loaded.source_file


def annotate(spec: ModelSpec) -> ModelSpec:
    """Add the knowledge (kinds, axes, teaching text) and the derivations to a raw spec."""
    return derive.attach(explain.annotate(spec))
