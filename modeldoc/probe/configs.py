"""A Hugging Face model's config as plain data, and which config keys set each constructor argument.

`describe` reads the config a model holds (``model.config``: a transformers ``PretrainedConfig``,
or a diffusers model's config) into a `ModelConfig`. For a model modeldoc built from a config
(a `loader.Recipe`), it also measures which keys set each argument: the model is built again on
the meta device with one key changed at a time, and the arguments whose value changed are the
ones that key sets. That is evidence, not a guess from equal numbers: when ``hidden_size`` and
``intermediate_size`` are both 64, changing ``intermediate_size`` changes ``gate_proj`` and
leaves ``q_proj`` alone. `modeldoc.explain.config_keys` turns it into the formulas on the page.
A key the unchanged build never reads (recorded as it runs, `_Reads`) is not rebuilt: it changes
nothing, and is reported so. What the rebuilds would each work out again from the same values is
worked out once per measurement: transformers' generation config (`_generation_memo`) and plain
arithmetic on meta tensors (a rotary embedding's frequencies, `loader.MetaResults`).
"""

from __future__ import annotations

import contextlib
import copy
import copyreg
import logging
import math
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from modeldoc.explain.config_keys import numeric_keys
from modeldoc.probe import arguments, guard, repeats
from modeldoc.probe.loader import MetaResults, Recipe, build_on_meta
from modeldoc.probe.names import dtype_name, module_label
from modeldoc.probe.repeats import Arguments
from modeldoc.spec import ModelConfig

logger = logging.getLogger(__name__)

MAX_MEASURED = 64
"""At most this many keys are measured (a rebuild each); a config with more has its first ones measured."""
SHORTCUTS = True
"""Whether the rebuilds skip their random weight fills (tests turn it off to compare with and without)."""
SHARED_WALK = True
"""Whether `describe` reads the walk of the model it is given rather than walking the model again (the
probe leaves the model as it came); tests turn it off to compare with and without."""
FAST_READS = True
"""Whether the keys that set each argument of a model measured cut are found from each key's changes, rather
than by asking every argument for every key (tests turn it off to compare with and without)."""
SKIP_UNREAD = True
"""Whether a key the unchanged build of a cut measurement never reads is reported without its rebuild, as a
rebuild that changed nothing (`_Reads`; tests turn it off to compare with and without)."""
GENERATION_MEMO = True
"""Whether transformers' ``GenerationConfig.from_model_config``, which each build of a model that can generate
runs, is run once per distinct set of the values it reads during a measurement, its result copied for the others
(`_generation_memo`; tests turn it off to compare with and without)."""
META_RESULTS = True
"""Whether the rebuilds of one measurement share the results of their plain arithmetic on meta tensors (a rotary
embedding's frequencies, `loader.MetaResults`; tests turn it off to compare with and without)."""
_INDEX = re.compile(r"\[(\d+)\]$")


def describe(module: nn.Module, recipe: Recipe | None = None, tree: guard.Tree | None = None) -> ModelConfig | None:
    """The config `module` holds (or was built from) as plain data, measured where it can be rebuilt.

    `recipe` is how modeldoc built `module` from a config. A model handed over whose class is the
    library's own (a transformers ``PreTrainedModel``, a diffusers model) is rebuilt from a copy of
    its config the same way; a user's class holding a config is not run again, and its config is
    only read. Needs the knowledge table in use (`modeldoc.knowledge.using`) to read arguments.
    `tree` is the walk of `module` when the caller has it (`SHARED_WALK`).
    """
    config = recipe.config if recipe is not None else held_config(module)
    if config is None:
        return None
    values = plain_config(config)
    # walked once: the scopes, the arguments and the cut all read it
    tree = tree if SHARED_WALK and tree is not None else guard.walk(module)
    described = ModelConfig(type=_type_name(config, module), values=values, scopes=_scopes(module, config, tree))
    rebuild = recipe or _library_recipe(module, config)
    if rebuild is None:
        return described
    measured, reads = _measure(module, rebuild, values, built_by_modeldoc=recipe is not None, tree=tree)
    return replace(
        described,
        built_by=rebuild.built_by,
        built_from=rebuild.built_from,
        dtype=rebuild.dtype,
        measured=measured,
        reads=reads,
    )


def _library_recipe(module: nn.Module, config: Any) -> Recipe | None:
    """How to build a model of `module`'s class again from a config, when the class is transformers' or diffusers'."""
    cls = type(module)
    library = cls.__module__.partition(".")[0]
    if library == "transformers" and _is_transformers_config(config) and hasattr(cls, "_from_config"):

        def build(config: Any) -> nn.Module:
            return cls._from_config(config)  # type: ignore[no-any-return]

    elif library == "diffusers" and isinstance(config, dict) and hasattr(cls, "from_config"):

        def build(config: Any) -> nn.Module:
            return cls.from_config(config)  # type: ignore[no-any-return]

    else:
        return None
    return Recipe(config=config, build=build, built_by="", built_from="", dtype="")


def held_config(module: nn.Module) -> Any:
    """The transformers config a module keeps as ``.config``, a diffusers model's config dict, or None.

    Only libraries already imported are asked (a model that holds their config imported them).
    """
    config = vars(module).get("config")  # the instance's own attribute: no property of the user's runs
    if _is_transformers_config(config):
        return config
    mixin = getattr(sys.modules.get("diffusers.configuration_utils"), "ConfigMixin", None)
    if mixin is not None and isinstance(module, mixin):
        held = getattr(module, "_internal_dict", None)
        return dict(held) if isinstance(held, Mapping) else None
    return None


def _is_transformers_config(obj: Any) -> bool:
    base = getattr(sys.modules.get("transformers"), "PretrainedConfig", None)
    return base is not None and isinstance(obj, base)


def plain_config(config: Any) -> dict[str, Any]:
    """The config's keys and values as JSON (sub-configs as objects); private keys and versions left out."""
    raw = config.to_dict() if _is_transformers_config(config) else dict(config)
    values = {str(k): _plain(v) for k, v in raw.items() if not str(k).startswith("_") and k != "transformers_version"}
    if _is_transformers_config(config) and isinstance(values.get("id2label"), Mapping):
        values["num_labels"] = len(values["id2label"])  # a property: what classification heads read
    return values


def _plain(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, torch.dtype):
        return dtype_name(value)
    if _is_transformers_config(value):
        return plain_config(value)
    return str(value)


def _type_name(config: Any, module: nn.Module) -> str:
    """``transformers.LlamaConfig`` (as the library exports it); a config dict is named after its model's class."""
    cls = type(module) if isinstance(config, dict) else type(config)
    library = cls.__module__.split(".", 1)[0]
    exported = getattr(sys.modules.get(library), cls.__name__, None) is cls
    name = f"{library}.{cls.__name__}" if exported else f"{module_label(cls.__module__)}.{cls.__qualname__}"
    return f"{name}.config" if isinstance(config, dict) else name


def _scopes(module: nn.Module, config: Any, tree: guard.Tree) -> dict[str, str]:
    """Module path → the sub-config it holds (``"text_model"`` → ``"text_config"``), where that changes."""
    if not _is_transformers_config(config):
        return {}
    where = {id(sub): path for path, sub in _sub_configs(config, "")}
    scopes: dict[str, str] = {}
    held_by: dict[str, str] = {"": ""}
    for path, sub in tree.paths.items():
        if not path:
            continue
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        inherited = held_by.get(parent, "")
        held = vars(sub).get("config")
        scope = where.get(id(held), inherited) if held is not config else ""
        held_by[path] = scope
        if scope != inherited:
            scopes[path] = scope
    return scopes


def _sub_configs(config: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    for key, value in vars(config).items():
        if _is_transformers_config(value):
            path = f"{prefix}{key}"
            yield path, value
            yield from _sub_configs(value, f"{path}.")


# --------------------------------------------------------------------------- measuring


@contextmanager
def _quiet() -> Iterator[None]:
    """Warnings and library log lines of modeldoc's own rebuilds kept off the terminal (the first build said them)."""
    loggers = [logging.getLogger(name) for name in ("transformers", "diffusers")]
    levels = [each.level for each in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for each in loggers:
            each.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for each, level in zip(loggers, levels, strict=True):
                each.setLevel(level)


def _measure(
    module: nn.Module, recipe: Recipe, values: dict[str, Any], *, built_by_modeldoc: bool, tree: guard.Tree
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]]:
    """Which arguments each numeric key sets: the model rebuilt with that key changed, its arguments compared.

    The comparison is with the model built from the unchanged config: `module` itself when
    modeldoc built it, else one more build; an argument of `module` that differs from that build
    (a layer the user changed after building) is left out, since no key explains it.
    """
    with _quiet(), _generation_memo(), _sharing_results():
        live = _arguments(module, tree)
        cut = _measure_cut(module, recipe, live, values, tree)
        if cut is not None:
            return cut
        to_measure = _to_measure(values)
        recorded: _Reads | None = None
        unchanged: Arguments | None = None
        if not built_by_modeldoc or (SKIP_UNREAD and len(to_measure) > 1 and _is_transformers_config(recipe.config)):
            # built again unchanged, what it reads recorded: the baseline, or (modeldoc built it) for that alone
            copied = copy.deepcopy(recipe.config)
            with _recording(copied) as recorded:
                unchanged = _built_arguments(recipe, copied)
            if recorded is not None and not _same_state(recipe.config, copied):
                recorded.whole = True
        baseline = live if built_by_modeldoc else unchanged
        if baseline is None:
            return (), {}
        comparable = {argument: seen for argument, seen in baseline.items() if live.get(argument) == seen}
        measured: list[str] = []
        reads: dict[str, list[str]] = {}
        for key, value in to_measure:
            rebuilt = _rebuild(recipe, key, value, recorded, unchanged)
            if rebuilt is None:
                continue
            measured.append(key)
            if rebuilt is baseline:
                continue  # not rebuilt: the build reads nothing the key changes
            for argument, (kind, old) in comparable.items():
                new = rebuilt.get(argument)
                # a layer of another type at the same path is another question, not a changed answer
                if new is not None and new[0] == kind and new[1] != old:
                    reads.setdefault(argument, []).append(key)
    return tuple(measured), {argument: tuple(keys) for argument, keys in reads.items()}


def _measure_cut(
    module: nn.Module, recipe: Recipe, live: Arguments, values: dict[str, Any], tree: guard.Tree | None = None
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]]] | None:
    """The measurement of `_measure`, run on a copy of the config with its repeated blocks cut (`repeats`).

    None when the model has no repeated blocks worth cutting, or the cut model is not the full
    model's first blocks, or its answers cannot be carried over to every block: then the full
    model is measured.
    """
    tree = tree or guard.walk(module)
    plan = repeats.plan(module, live, values, tree)
    to_measure = _to_measure(values)
    config = _cut_config(recipe.config, plan, [key for key, _ in to_measure]) if plan is not None else None
    if plan is None or config is None:
        return None
    with _recording(config) as reads:  # what the build and the reading of its arguments read of the config
        built = _built(recipe, config)
        if built is None:
            return None
        built_tree = guard.walk(built)
        baseline = _arguments(built, built_tree)
    if not repeats.matches(plan, module, live, built, baseline, trees=(tree, built_tree)):
        logger.debug("the model with its blocks cut is not the model's first blocks: measuring it whole")
        return None
    cut_recipe = replace(recipe, config=config)
    measured: list[str] = []
    changed: dict[str, set[str]] = {}
    for key, value in to_measure:
        rebuilt = _rebuild(cut_recipe, key, plan.keys.get(key, value), reads, baseline)
        if rebuilt is None:
            continue
        measured.append(key)
        changed[key] = (
            set()  # not rebuilt: the build reads nothing the key changes
            if rebuilt is baseline
            else {
                argument
                for argument, (kind, old) in baseline.items()
                if (new := rebuilt.get(argument)) is not None and new[0] == kind and new[1] != old
            }
        )
        if not repeats.agree(plan, {key: changed[key]}):
            logger.debug("the kept blocks of one kind answered %s differently: measuring the model whole", key)
            return None
    return tuple(measured), _carried_over(plan, live, measured, changed)


def _carried_over(
    plan: repeats.Cut, live: Arguments, measured: list[str], changed: dict[str, set[str]]
) -> dict[str, tuple[str, ...]]:
    """The keys that set each argument of the full model: those that changed the argument answering for it.

    In the order of the first key that sets each, then of the arguments: what asking every argument
    for every key gives (`FAST_READS` off), found from each key's changes instead.
    """
    reads: dict[str, list[str]] = {}
    if not FAST_READS:
        sources = {argument: plan.source(argument) for argument in live}
        for key in measured:
            for argument, source in sources.items():
                if source in changed[key]:
                    reads.setdefault(argument, []).append(key)
        return {argument: tuple(keys) for argument, keys in reads.items()}
    names = list(live)
    position = {argument: index for index, argument in enumerate(names)}
    past: dict[str, list[str]] = {}  # a kept block → the blocks past the cut it answers for, in order
    for block, kept in plan.stand_in.items():
        past.setdefault(kept, []).append(block)
    for key in measured:
        found: list[int] = []
        for source in changed[key]:  # the argument itself, and the same one in each block it answers for
            block, rest = plan.block_of(source)
            for argument in (source, *(f"{other}{rest}" for other in past.get(block, ()) if block)):
                if argument in position:
                    found.append(position[argument])
        for index in sorted(found):
            reads.setdefault(names[index], []).append(key)
    return {argument: tuple(keys) for argument, keys in reads.items()}


def _cut_config(config: Any, plan: repeats.Cut, keys: list[str]) -> Any:
    """A copy of `config` with the count keys of `plan` cut; None when the config refuses, or loses a key to measure.

    A key lost is an item of a per-block list past the cut (LED's ``attention_window[7]``): it sets
    one block alone, which only the full model shows.
    """
    cut = copy.deepcopy(config)
    try:
        for key, count in plan.keys.items():
            _cut(cut, key, count)
    except KeyboardInterrupt:
        raise
    except Exception:  # the config does not take the count back
        return None
    return None if set(keys) - dict(numeric_keys(plain_config(cut), zeros=True)).keys() else cut


def _cut(config: Any, key: str, count: int) -> None:
    """``key = count`` in `config`; each list beside it as long as the blocks (``layer_types``) is cut too."""
    *outer, last = key.split(".")
    holder = config
    for part in outer:
        holder = holder[part] if isinstance(holder, dict) else getattr(holder, part)
    if "[" not in last:
        length = holder[last] if isinstance(holder, dict) else getattr(holder, last)
        items = holder.items() if isinstance(holder, dict) else vars(holder).items()
        for name, value in list(items):
            if isinstance(value, list | tuple) and len(value) == length and not str(name).startswith("_"):
                _set(config, ".".join([*outer, str(name)]), type(value)(value[:count]))
    _set(config, key, count)


def _to_measure(values: dict[str, Any]) -> list[tuple[str, int | float]]:
    """The numeric keys, at most `MAX_MEASURED`: the non-zero ones first (sizes), then the zeros (``pad_token_id``)."""
    nonzero = list(numeric_keys(values))
    zeros = [(key, value) for key, value in numeric_keys(values, zeros=True) if value == 0]
    return [*nonzero, *zeros][:MAX_MEASURED]


def _changes(value: int | float) -> list[int | float]:
    """Values to try in place of `value`, until the model builds: twice it, three times it, one more.

    A zero becomes one (a count, a token id) or a half (a probability).
    """
    if value == 0:
        return [1] if isinstance(value, int) else [0.5]
    if isinstance(value, int):
        return [2 * value, 3 * value, value + 1]
    return [value / 2] if 0 < abs(value) < 1 else [2 * value]


def _rebuild(
    recipe: Recipe, key: str, value: int | float, reads: _Reads | None = None, unchanged: Arguments | None = None
) -> Arguments | None:
    """The arguments of the model built with `key` changed, or None when no change of it builds.

    `unchanged` is what the build from ``recipe.config`` gave while `reads` recorded what it read:
    a change the build never reads gives `unchanged` itself, without building.
    """
    for changed in _changes(value):
        config = copy.deepcopy(recipe.config)
        try:
            _set(config, key, changed)
        except KeyboardInterrupt:
            raise
        except Exception:  # a key the config does not take back, or its own validation of the value, in any form
            return None
        if reads is not None and unchanged is not None and reads.unread(config):
            return unchanged
        built = _built_arguments(recipe, config)
        if built is not None:
            return built
        logger.debug("rebuilding with %s = %r failed", key, changed)
    return None


def _built_arguments(recipe: Recipe, config: Any) -> Arguments | None:
    """The arguments of the model `recipe` builds from `config`, or None when the library refuses the config."""
    module = _built(recipe, config)
    return None if module is None else _arguments(module)


def _built(recipe: Recipe, config: Any) -> nn.Module | None:
    """The model `recipe` builds from `config` on the meta device, or None when the library refuses the config."""
    try:
        return build_on_meta(recipe.build, config, skip_fills=SHORTCUTS, results=_shared[-1] if _shared else None)
    except KeyboardInterrupt:
        raise
    except Exception as err:  # the library's checks of a value it does not take, in any form
        logger.debug("building from a changed config failed: %s", err)
        return None


def _set(config: Any, key: str, value: Any) -> None:
    """``config.text_config.hidden_size = value``, or ``config["block_out_channels"][1] = value``."""
    *outer, last = key.split(".")
    target = config
    for part in outer:
        target = target[part] if isinstance(target, dict) else getattr(target, part)
    index = _INDEX.search(last)
    name = last[: index.start()] if index else last
    if index is None:
        if isinstance(target, dict):
            target[name] = value
        else:
            setattr(target, name, value)
        return
    items = list(target[name] if isinstance(target, dict) else getattr(target, name))
    items[int(index[1])] = value
    if isinstance(target, dict):
        target[name] = items
    else:
        setattr(target, name, items)


def _arguments(module: nn.Module, tree: guard.Tree | None = None) -> Arguments:
    """Every number the model was built with, by where it sits, with the type of the layer that holds it.

    Constructor arguments read back (``"layers.0.self_attn.q_proj.out_features"``) and the size of
    each axis of each tensor a layer owns (``"layers.0.mlp.experts.gate_up_proj[1]"``): a fused
    expert tensor holds the numbers of layers that have no constructor arguments of their own.
    With `SHORTCUTS` on, what depends on a layer's class alone (its reading plan, whether it lists
    its tensors with torch's own methods) is worked out once per class of the walk.
    """
    found: dict[str, tuple[str, Any]] = {}
    classes: dict[type, tuple[arguments.ClassPlan, bool]] = {}
    for path, sub in (tree or guard.walk(module)).paths.items():
        cls = type(sub)
        kind = cls.__name__
        if SHORTCUTS and arguments.MEMOIZE:
            known = classes.get(cls)
            if known is None:
                known = classes[cls] = (arguments.class_plan(cls), _torch_listing(cls))
            read, tensors = arguments.values_by(sub, known[0]), _own_tensors(sub, known[1])
        else:
            read, tensors = arguments.values_of(sub, path), _own_tensors(sub)
        prefix = f"{path}." if path else ""
        for name, value in read:
            found[prefix + name] = (kind, value)
        for local, tensor in tensors:
            for axis, size in enumerate(tensor.shape):
                found[f"{prefix}{local}[{axis}]"] = (kind, int(size))
    return found


def _torch_listing(cls: type) -> bool:
    """Whether modules of `cls` list their tensors with torch's own ``named_parameters`` and ``named_buffers``."""
    return (
        cls.named_parameters is nn.Module.named_parameters  # type: ignore[attr-defined]
        and cls.named_buffers is nn.Module.named_buffers  # type: ignore[attr-defined]
        and cls._named_members is nn.Module._named_members  # type: ignore[attr-defined]
    )


def _own_tensors(module: nn.Module, torch_listing: bool | None = None) -> list[tuple[str, torch.Tensor]]:
    """``[*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]``.

    Read straight from the module's tensor slots when its class keeps torch's own two methods
    (what they would give, each tensor once, Nones left out), else through the methods.
    `torch_listing` is `_torch_listing` of its class, when the caller knows it.
    """
    slots = vars(module)
    parameters, buffers = slots.get("_parameters"), slots.get("_buffers")
    if torch_listing is None:
        torch_listing = _torch_listing(type(module))
    if not SHORTCUTS or not torch_listing or type(parameters) is not dict or type(buffers) is not dict:
        return [*module.named_parameters(recurse=False), *module.named_buffers(recurse=False)]
    found: list[tuple[str, torch.Tensor]] = []
    for store in (parameters, buffers):
        if not store:
            continue
        seen: set[int] = set()
        for name, tensor in store.items():
            if tensor is not None and id(tensor) not in seen:
                seen.add(id(tensor))
                found.append((name, tensor))
    return found


# --------------------------------------------------------------------------- what the builds share

_shared: list[MetaResults] = []
"""The meta results the builds of the measurement under way share (`_sharing_results`), innermost last."""


@contextmanager
def _sharing_results() -> Iterator[None]:
    """The builds made while the block runs share one `loader.MetaResults` (with `META_RESULTS` on)."""
    if not META_RESULTS:
        yield
        return
    _shared.append(MetaResults())
    try:
        yield
    finally:
        _shared.pop()


# --------------------------------------------------------------------------- the generation config of a build

_BY_NAME = ("force_bos_token_to_be_generated",)
"""A key of the model config that ``GenerationConfig.__init__`` reads beside its own attributes' names."""


@contextmanager
def _generation_memo() -> Iterator[None]:
    """``GenerationConfig.from_model_config(config)`` run once for each distinct reading of it while the block runs.

    Every build of a transformers model that can generate makes its generation config from its
    model config; a measurement's rebuilds differ in one key, mostly one the generation config
    never takes. What ``from_model_config`` makes (or raises) is a function of what it reads:
    ``config.to_dict()`` with its Nones dropped (the keys present, and the values of those named
    like a generation config's attributes, which ``GenerationConfig.__init__`` pops; the others it
    ignores for a config made from a model's), and the same names in the decoder's text config's
    ``to_dict()``. A call whose reading equals one made before returns a deep copy of what that one
    made, an object in the same state; any other call (another class, more arguments, a new
    reading, one that raised) runs the library's own. A class that reads its attributes its own
    way is left alone.
    """
    generation: Any = getattr(sys.modules.get("transformers.generation.configuration_utils"), "GenerationConfig", None)
    made_by = vars(generation).get("from_model_config") if generation is not None else None
    if not GENERATION_MEMO or not isinstance(made_by, classmethod) or "__getattribute__" in vars(generation):
        yield
        return
    make = made_by.__func__
    names = (*vars(generation()), *_BY_NAME)  # the attributes every generation config is given
    kept: list[tuple[tuple[Any, ...], Any]] = []

    def from_model_config(cls: Any, model_config: Any, *args: Any, **kwargs: Any) -> Any:
        if cls is not generation or args or kwargs or not _is_transformers_config(model_config):
            return make(cls, model_config, *args, **kwargs)
        try:
            reading = _generation_reading(model_config, names)
        except KeyboardInterrupt:
            raise
        except Exception:  # what the library's own call makes of that, it says
            return make(cls, model_config)
        for seen, made in kept:
            if seen[:3] == reading[:3] and _identical(seen[3:], reading[3:]):
                return copy.deepcopy(made)
        made = make(cls, model_config)
        with contextlib.suppress(Exception):  # a generation config that cannot be copied is not kept
            kept.append((reading, copy.deepcopy(made)))
        return made

    generation.from_model_config = classmethod(from_model_config)
    try:
        yield
    finally:
        generation.from_model_config = made_by


def _generation_reading(config: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    """What ``GenerationConfig.from_model_config(config)`` reads of `config`, as `_generation_memo` compares it."""
    whole = config.to_dict()
    text = config.get_text_config(decoder=True)
    decoder = whole if text is config else text.to_dict()
    return (
        type(config),
        type(text),
        tuple(sorted(str(key) for key, value in whole.items() if value is not None)),  # compared as one: all str
        [(name, whole[name]) for name in names if name in whole],
        [(name, decoder[name]) for name in names if name in decoder],
    )


def _identical(one: Any, other: Any) -> bool:
    """Whether two values are the same: of the same types all the way down, equal, a float written the same."""
    if type(one) is not type(other):
        return False
    if isinstance(one, list | tuple):
        return len(one) == len(other) and all(_identical(a, b) for a, b in zip(one, other, strict=True))
    if isinstance(one, dict):
        return list(one) == list(other) and all(_identical(one[key], other[key]) for key in one)
    if isinstance(one, float):
        return repr(one) == repr(other)
    if one is None or isinstance(one, bool | int | str | type):
        return bool(one == other)
    return False  # anything else is not compared: the library's own call runs


# --------------------------------------------------------------------------- what a build reads

_HARMLESS = frozenset({"__class__", "__validators__", "__dataclass_fields__", "__dataclass_params__"})
"""Names of the class read through a config, the same for every value it holds (its type, its field checks)."""


class _Reads:
    """What one build of a transformers model (and the reading of its arguments) read of its config.

    A build runs the library's code on the values it reads; a key it never reads cannot change what
    it builds: the build with only that key changed reads the same values, in the same order, up to
    the end. `unread` answers that for a changed copy of the config. A deep copy made during the
    build (T5 copies its config for the encoder and the decoder) is recorded as the config itself.
    The config read whole (its ``__dict__``, a shallow copy, any dunder that hands its state over)
    makes every key count as read,
    except inside transformers' ``GenerationConfig.from_model_config``, whose one effect is the
    generation config it returns (or its error): that one is called again on the changed copy, and
    no build may read what it returned.
    """

    def __init__(self, config: Any) -> None:
        self.config = config
        self.names: set[str] = set()
        """The names read, as the config stores them (``hidden_size`` read as GPT-2's ``n_embd``)."""
        self.whole = False
        """Something read the config whole, or what was read of it cannot be told apart."""
        self.generation: list[Any] = []
        """The generation config classes whose ``from_model_config`` was given the config."""
        self.made: list[Any] = []
        """The generation configs they returned."""
        self.copies: dict[int, Any] = {id(config): config}
        """The config and its deep copies, by id: what is read of a copy is read of the config (or wider)."""
        self.depth = 0

    def note(self, name: str) -> None:
        if name.startswith("__") and name.endswith("__") and name not in _HARMLESS:
            self.whole = True
        else:
            self.names.add(name)

    def unread(self, changed: Any) -> bool:
        """Whether `changed`, the config with one key set, differs from it only in what the build never read."""
        if self.whole or type(changed) is not type(self.config):
            return False
        alias = getattr(type(self.config), "attribute_map", {})
        read = {alias.get(name, name) for name in self.names} | self.names
        ours, theirs = vars(self.config), vars(changed)
        for name in ours.keys() | theirs.keys():
            if name in read and (name not in ours or name not in theirs or _differs(ours[name], theirs[name])):
                return False
        for cls in self.generation:  # the one reading of it whole, run again on the changed values
            try:
                cls.from_model_config(copy.deepcopy(changed))
            except KeyboardInterrupt:
                raise
            except Exception:  # the generation config refuses a value: the rebuild says what it does
                return False
        return True


def _differs(one: Any, other: Any) -> bool:
    """Whether two values of a config key may read differently (another type, unequal, or not comparable)."""
    if type(one) is not type(other):
        return True
    try:
        return bool(one != other)
    except KeyboardInterrupt:
        raise
    except Exception:  # an array's truth, a value's own comparison raising
        return True


@contextmanager
def _recording(config: Any) -> Iterator[_Reads | None]:
    """What the block reads of `config` (a transformers config), recorded; None when it cannot be.

    transformers' ``PretrainedConfig.__getattribute__`` (every read of a config's attribute, a
    property's own reads through ``self`` included) is wrapped while the block runs, and its
    ``copy.deepcopy`` made the default one with its copies recorded too; reads of other configs are
    not recorded. A config whose state the block changed counts as read whole.
    """
    base: Any = getattr(sys.modules.get("transformers"), "PretrainedConfig", None)
    original: Any = vars(base).get("__getattribute__") if base is not None else None
    if not SKIP_UNREAD or original is None or type(config).__getattribute__ is not original:
        yield None
        return
    try:
        before = copy.deepcopy(config)
    except KeyboardInterrupt:
        raise
    except Exception:  # a value the config holds refuses to be copied: its state cannot be compared
        yield None
        return
    reads = _Reads(config)
    unwrapped: Any = vars(base)["__getattribute__"]

    def read(self: Any, name: str) -> Any:
        if (
            not reads.depth
            and id(self) in reads.copies
            and not (name == "__deepcopy__" and getattr(type(self), name, None) is deep_copy)
        ):
            reads.note(name)
        return unwrapped(self, name)

    def deep_copy(self: Any, memo: dict[int, Any]) -> Any:
        """What ``copy.deepcopy`` makes of a config; a copy of the recorded config is recorded as it is."""
        tracked = not reads.depth and id(self) in reads.copies
        reads.depth += tracked  # the copying reads everything, to hand it to the copy alone
        try:
            reductor = copyreg.dispatch_table.get(type(self))
            made = copy._reconstruct(self, memo, *(reductor(self) if reductor else self.__reduce_ex__(4)))  # type: ignore[attr-defined]
        finally:
            reads.depth -= tracked
        if tracked:
            reads.copies[id(made)] = made
        return made

    generation: Any = getattr(sys.modules.get("transformers.generation.configuration_utils"), "GenerationConfig", None)
    made_by = vars(generation).get("from_model_config") if generation is not None else None
    own_read = vars(generation).get("__getattribute__") if generation is not None else None
    copies = "__deepcopy__" not in vars(base)
    setattr(base, "__getattribute__", read)  # noqa: B010 - for every subclass that keeps it, until put back
    if copies:
        setattr(base, "__deepcopy__", deep_copy)  # noqa: B010 - taken away again below
    if isinstance(made_by, classmethod) and own_read is None:
        _watch_generation(config, before, reads, generation, made_by.__func__)
    try:
        yield reads
    finally:
        setattr(base, "__getattribute__", original)  # noqa: B010 - put back as it was
        if copies:
            delattr(base, "__deepcopy__")
        if isinstance(made_by, classmethod) and own_read is None:
            generation.from_model_config = made_by
            del generation.__getattribute__
    if reads.depth or not _same_state(before, config):
        reads.whole = True


def _watch_generation(config: Any, before: Any, reads: _Reads, generation: Any, make: Any) -> None:
    """``GenerationConfig.from_model_config(config)`` recorded as one reading (`_Reads`), what it returns watched.

    `before` is a copy of `config` from before the build: the reading is run again on the changed
    config as it will be after the build, so it must find it as it was before.
    """

    def from_model_config(cls: Any, model_config: Any, *args: Any, **kwargs: Any) -> Any:
        if model_config is not config or reads.depth or args or kwargs:
            return make(cls, model_config, *args, **kwargs)
        reads.depth += 1
        try:
            if not _same_state(before, config):  # read as the changed config will be read (at depth: not a read)
                reads.whole = True
            made = make(cls, model_config)
        except BaseException:
            reads.whole = True
            raise
        finally:
            reads.depth -= 1
        if cls not in reads.generation:
            reads.generation.append(cls)
        reads.made.append(made)
        if type(made).__getattribute__ is not watched:
            reads.whole = True
        return made

    def watched(self: Any, name: str) -> Any:
        if not reads.depth and name not in _HARMLESS and any(self is made for made in reads.made):
            reads.whole = True  # what the generation config holds is read: the values in it count
        return inherited(self, name)

    inherited = generation.__getattribute__  # what its classes above it read with (it has none of its own)
    generation.from_model_config = classmethod(from_model_config)
    setattr(generation, "__getattribute__", watched)  # noqa: B010 - taken away again by `_recording`


def _same_state(before: Any, after: Any) -> bool:
    """Whether `after` holds what `before` held: the same keys, each value of the same type and equal."""
    ours, theirs = vars(before), vars(after)
    return ours.keys() == theirs.keys() and not any(_differs(ours[name], theirs[name]) for name in ours)
