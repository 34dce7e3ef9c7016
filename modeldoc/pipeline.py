"""The whole collection step for one model: the probe (torch), then the knowledge and the derivations (no torch).

`describe` loads a target and describes it; `describe_module` describes a live module. Both go
through the probe's public functions (`modeldoc.probe.loader`, `modeldoc.probe.collect`) for
everything that touches torch, then `interpret` the raw spec, which needs no torch. A target that
names a saved description (``fashion.json``) is read back instead, without torch: the probe is
imported only when a model is. A target that names a checkpoint file (``model.safetensors``) is
described from its tensors alone (`modeldoc.checkpoints`), without code.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from modeldoc import checkpoints, derive, explain, knowledge, progress, structures
from modeldoc.errors import ConfigError
from modeldoc.explain import config_keys
from modeldoc.options import ModelOptions, absolute
from modeldoc.spec import CheckpointSpec, ModelSpec, is_checkpoint_file, is_description_file, read_description

if TYPE_CHECKING:
    from modeldoc.probe.loader import Module, Recipe

MAX_LISTED = 20
"""Names listed one by one in a checkpoint's mismatch warnings on the terminal; the page lists all."""


def describe(options: ModelOptions) -> ModelSpec:
    """Load the model `options` names and return its annotated description."""
    return describe_with_source(options)[0]


def describe_with_source(options: ModelOptions) -> tuple[ModelSpec, Path | None]:
    """Like `describe`, also returning the file the model's code lives in (for live reload)."""
    if is_checkpoint_file(options.target):
        return describe_checkpoint(options), absolute(options.target)
    if is_description_file(options.target):
        path = Path(options.target)
        progress.phase(f"reading {path}")
        spec = read_description(path)
        return replace(spec, title=options.title or spec.title), absolute(path)
    progress.phase("importing torch")
    from modeldoc.probe import loader  # imports torch

    progress.phase(f"loading {options.target}")
    loaded = loader.load_model(options.target, options.kwargs)
    options = replace(options, title=options.title or loaded.title)  # a model built from a config: what was built
    report = None
    if options.weights:
        from modeldoc.probe import checkpoint

        progress.phase(f"loading the weights of {options.weights}")
        report = checkpoint.load_into(loaded.module, options.weights)
    spec = describe_module(loaded.module, options, recipe=loaded.recipe, weights_loaded=True)
    return (with_load_report(spec, report) if report is not None else spec), loaded.source_file


def describe_module(
    module: Module, options: ModelOptions, *, recipe: Recipe | None = None, weights_loaded: bool = False
) -> ModelSpec:
    """The annotated description of a live `module` (``options.target`` only names it); see `_describe_module`."""
    with _older_objects_frozen():
        return _describe_module(module, options, recipe=recipe, weights_loaded=weights_loaded)


@contextmanager
def _older_objects_frozen() -> Iterator[None]:
    """The objects that exist before describing (the model, the libraries) left out of the garbage collector's scans.

    Describing makes many small objects, so the collector runs often, and each full run walked
    the whole model again (a quarter of the time of an 80-block LLaMA). Nothing is kept alive by
    it: the objects are handed back to the collector at the end. The full runs are put off until
    then too: each walked every object the description had made so far (a fifth of the time
    left on that LLaMA); one full run at the end, before the older objects are handed back, walks
    what describing made once (put off further, it would walk the whole process after). The
    young objects are collected less often (`_YOUNG_RUN`): most of what describing makes lives
    until the end, and each run over the young walked it again (37 ms of 0.46 s on that LLaMA).
    A process that froze objects itself (``gc.freeze()``), or turned the collector off, is left
    as it is.
    """
    if not gc.isenabled() or gc.get_freeze_count():
        yield
        return
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(thresholds[0], _YOUNG_RUN), thresholds[1], max(thresholds[2], _NO_FULL_RUN))
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.collect()  # the full run put off: over what describing made alone, the older objects still frozen
        gc.unfreeze()


_YOUNG_RUN = 200_000
"""How many more container objects than at the last run the youngest generation may hold before a run
(Python's default is 700): garbage cycles made while describing (a few thousand objects on that LLaMA)
wait at most this long."""
_NO_FULL_RUN = 1_000_000_000
"""A threshold for the collector's oldest generation that a description never reaches."""


def _describe_module(
    module: Module, options: ModelOptions, *, recipe: Recipe | None = None, weights_loaded: bool = False
) -> ModelSpec:
    """The annotated description of a live `module` (``options.target`` only names it).

    `recipe` is how modeldoc built `module` from a Hugging Face config, when it did: then the
    config keys that set each argument are measured by building it again with each key changed.
    A transformers model given without an example input is probed with the one modeldoc chooses
    from its config (`modeldoc.probe.hf_example`), and the page says so.

    Raises:
        ConfigError: `options` ask to load weights into it: a live module passed in is the
            caller's, and modeldoc loads weights only into a model it built from a target.

    """
    if options.weights and not weights_loaded:
        raise ConfigError(
            "weights are loaded only into a model modeldoc builds from a target, never into a module passed in",
            "load them yourself (module.load_state_dict(...)) and describe it with show_weights, or give a target",
        )
    from modeldoc.probe import collect, configs, guard, hf_example  # imports torch

    options = hf_example.with_default_example(module, options, recipe.config if recipe is not None else None)
    table = knowledge.load(options.knowledge)
    with knowledge.using(table):  # the probe reads constructor arguments as the table's entries say
        tree = guard.walk(module)  # once, for the probe, the layers and the config
        spec = collect.collect(module, options, tree)
        if recipe is not None:
            progress.phase("measuring which config keys set each argument")
        try:
            config = configs.describe(module, recipe, tree)
        except KeyboardInterrupt:
            raise
        except Exception as err:  # the config is the library's: whatever it does, the description goes on
            config = None
            reason = f"{type(err).__name__}: {err}".splitlines()[0]
            spec = replace(spec, warnings=(*spec.warnings, f"the model's config could not be read ({reason})"))
    if config is not None:
        spec = replace(spec, config=config)
    progress.phase(f"explaining {len(spec.layers) + 1:,} layers")
    spec = interpret(spec, table)
    if options.show_weights:
        from modeldoc.probe import weights

        progress.phase("reading the weights' values")
        spec = weights.weigh_module(spec, module)
    return spec


def describe_checkpoint(options: ModelOptions) -> ModelSpec:
    """The description of a checkpoint file from its tensors alone (their values too with ``show_weights``)."""
    from modeldoc.probe import checkpoint  # imports torch and safetensors

    progress.phase(f"reading the tensors of {options.target}")
    opened = checkpoint.open_checkpoint(options.target)
    spec = checkpoints.describe_checkpoint(replace(opened.spec, weights_only=True), opened.tensors, title=options.title)
    spec = replace(spec, warnings=spec.warnings + opened.notes)
    if options.show_weights:
        from modeldoc.probe import weights

        progress.phase("reading the weights' values")
        spec = weights.weigh_checkpoint(spec, opened)
    return spec


def with_load_report(spec: ModelSpec, report: CheckpointSpec) -> ModelSpec:
    """`spec` with how the ``--weights`` file matched the model: on the page, and one warning when it did not."""
    if report.complete:
        return replace(spec, checkpoint=report)
    return replace(spec, checkpoint=report, warnings=(*spec.warnings, load_summary(report)))


def load_summary(report: CheckpointSpec) -> str:
    """One sentence on a ``--weights`` file that did not match the model whole."""
    parts = [
        f"{len(report.missing)} of the model's tensors missing from it" if report.missing else "",
        f"{len(report.unexpected)} of its tensors not in the model" if report.unexpected else "",
        f"{len(report.mismatched)} with another shape" if report.mismatched else "",
    ]
    total = report.loaded + len(report.missing) + len(report.mismatched)
    return (
        f"the weights {report.file} do not match the model: {report.loaded} of {total} tensors loaded; "
        f"{'; '.join(p for p in parts if p)} (listed on the page); the tensors not loaded keep the values "
        "the model's code gave them"
    )


def load_problems(report: CheckpointSpec) -> list[str]:
    """One line per tensor of a ``--weights`` file that did not load (at most `MAX_LISTED`, then a count)."""
    lines = [f"missing from {report.file}: {name}" for name in report.missing]
    lines += [f"in {report.file} but not in the model: {name}" for name in report.unexpected]
    lines += [
        f"another shape: {m.name} is {' × '.join(map(str, m.model_shape))} in the model and "
        f"{' × '.join(map(str, m.file_shape))} in {report.file}"
        for m in report.mismatched
    ]
    if len(lines) > MAX_LISTED:
        lines = [*lines[:MAX_LISTED], f"and {len(lines) - MAX_LISTED} more (listed on the page)"]
    return lines


def interpret(spec: ModelSpec, table: knowledge.Knowledge | None = None) -> ModelSpec:
    """Add the knowledge (kinds, axes, teaching text), derivations, config keys and structure groups to a raw spec."""
    return structures.attach(config_keys.attach(derive.attach(explain.annotate(spec, table))))
