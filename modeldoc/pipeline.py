"""The whole collection step for one model: the probe (torch), then the knowledge and the derivations (no torch).

`describe` loads a target and describes it; `describe_module` describes a live module. Both go
through the probe's public functions (`modeldoc.probe.loader`, `modeldoc.probe.collect`) for
everything that touches torch, then `interpret` the raw spec, which needs no torch. A target that
names a saved description (``fashion.json``) is read back instead, without torch: the probe is
imported only when a model is.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from modeldoc import derive, explain, knowledge, progress, structures
from modeldoc.explain import config_keys
from modeldoc.options import ModelOptions, absolute
from modeldoc.spec import ModelSpec, is_description_file, read_description

if TYPE_CHECKING:
    from modeldoc.probe.loader import Module, Recipe


def describe(options: ModelOptions) -> ModelSpec:
    """Load the model `options` names and return its annotated description."""
    return describe_with_source(options)[0]


def describe_with_source(options: ModelOptions) -> tuple[ModelSpec, Path | None]:
    """Like `describe`, also returning the file the model's code lives in (for live reload)."""
    if is_description_file(options.target):
        path = Path(options.target)
        progress.phase(f"reading {path}")
        spec = read_description(path)
        return replace(spec, title=options.title or spec.title), absolute(path)
    from modeldoc.probe import loader  # imports torch

    progress.phase(f"loading {options.target}")
    loaded = loader.load_model(options.target, options.kwargs)
    options = replace(options, title=options.title or loaded.title)  # a model built from a config: what was built
    return describe_module(loaded.module, options, recipe=loaded.recipe), loaded.source_file


def describe_module(module: Module, options: ModelOptions, *, recipe: Recipe | None = None) -> ModelSpec:
    """The annotated description of a live `module` (``options.target`` only names it).

    `recipe` is how modeldoc built `module` from a Hugging Face config, when it did: then the
    config keys that set each argument are measured by building it again with each key changed.
    """
    from modeldoc.probe import collect, configs  # imports torch

    table = knowledge.load(options.knowledge)
    with knowledge.using(table):  # the probe reads constructor arguments as the table's entries say
        spec = collect.collect(module, options)
        if recipe is not None:
            progress.phase("measuring which config keys set each argument")
        config = configs.describe(module, recipe)
    if config is not None:
        spec = replace(spec, config=config)
    progress.phase(f"explaining {len(spec.layers) + 1:,} layers")
    return interpret(spec, table)


def interpret(spec: ModelSpec, table: knowledge.Knowledge | None = None) -> ModelSpec:
    """Add the knowledge (kinds, axes, teaching text), derivations, config keys and structure groups to a raw spec."""
    return structures.attach(config_keys.attach(derive.attach(explain.annotate(spec, table))))
