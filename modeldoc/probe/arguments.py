"""Read a module's constructor arguments back from the live module.

Most values come from the module's attributes named like the constructor's parameters. Where
the attribute differs (MultiheadAttention keeps ``in_proj_bias`` rather than ``bias``, a
TransformerEncoderLayer keeps ``self_attn.num_heads`` rather than ``nhead``), the knowledge
table gives a ``read`` expression. `explain` later decides what kind each argument is.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import math
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from jinja2 import TemplateError, Undefined
from torch import nn

from modeldoc import knowledge
from modeldoc.probe import guard
from modeldoc.probe.names import dtype_name, is_torch_nn
from modeldoc.spec import Hyperparam, ParamSpec, UnknownArgument

logger = logging.getLogger(__name__)

_SKIP = {"self", "device", "dtype"}


@dataclass(frozen=True)
class Collected:
    """The constructor arguments read back from a module, those that could not be, and the reads that raised."""

    hyperparameters: tuple[Hyperparam, ...]
    unknown: tuple[UnknownArgument, ...] = ()
    failures: tuple[guard.Failed, ...] = ()


def collect(module: nn.Module) -> tuple[Hyperparam, ...]:
    """The constructor arguments of `module` that can be read back from it."""
    return collect_all(module, "").hyperparameters


def collect_all(module: nn.Module, path: str) -> Collected:
    """Every constructor argument of `module`: read back, or listed with why it could not be.

    For a layer the knowledge table knows, arguments that are not stored are left out (the
    table lists what matters); for a user's or third-party class every argument of its
    signature is listed, the unknown ones with their default and the reason.
    """
    plan = class_plan(type(module))
    read = []
    for name, declared_default, rule, chain in plan.readings:
        where = f"{path}.{name}" if path else name
        read.append(
            guard.attempt(functools.partial(_read, module, name, rule, declared_default, chain), f"reading {where}")
        )
    return _collected(plan, read)


def collect_kept(module: nn.Module, path: str, kept: dict[Any, Any]) -> Collected:
    """`collect_all`, the record shared by every module of one class whose arguments read the same (`KEEP_COLLECTED`).

    The values are read from each module, as `collect_all` reads them; what is made of them
    (the defaults compared, the records) depends on nothing else, so it is made once for each
    class and values and kept in `kept` (one reading of a model: an 80-block model has 80 of
    each layer, most alike), as is each class's plan. A module whose reading raises, or that has
    a list among its values, goes through `collect_all` and is not kept.
    """
    if not KEEP_COLLECTED:
        return collect_all(module, path)
    plan = _kept_plan(type(module), kept)
    read: list[Any] = []
    key: list[Any] = [id(plan)]  # a plan is its class's (a new one when plans are not kept: then none is shared)
    try:  # as guard.attempt does; a reading that raises is read again by collect_all, which records it
        for name, declared_default, rule, chain in plan.readings:
            value = _read(module, name, rule, declared_default, chain)
            kind = type(value)
            if kind is float:  # the text keeps apart what compares equal: 0.0 and -0.0 (and nan is nan)
                key.append((kind, repr(value)))
            elif value is None or kind in (bool, int, str):
                key.append((kind, value))
            elif kind is _Unreadable:
                key.append((kind, value.reason))
            else:  # a list: each layer keeps its own
                return collect_all(module, path)
            read.append(value)
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException:  # the user's code may raise anything
        return collect_all(module, path)
    whole = tuple(key)
    found = kept.get(whole)
    if found is not None:
        return found[1]  # type: ignore[no-any-return]
    collected = _collected(plan, read)
    if any(isinstance(u.default, list) for u in collected.unknown):
        return collected  # a default that is a list: each layer keeps its own
    kept[whole] = (plan, collected)  # the plan kept alive: its id is not given to another while kept
    return collected


def _kept_plan(cls: type, kept: dict[Any, Any]) -> ClassPlan:
    """`class_plan` of `cls`, kept in `kept` under the class for the rest of the reading."""
    try:
        plan = kept.get(cls)
    except TypeError:  # a class that cannot be hashed
        return class_plan(cls)
    if plan is None:
        plan = kept[cls] = class_plan(cls)
    return plan  # type: ignore[no-any-return]


def _collected(plan: ClassPlan, read: list[Any]) -> Collected:
    """The `Collected` of the values read for each of `plan`'s readings (a value, `_Unreadable` or `guard.Failed`)."""
    entry = plan.entry
    out: list[Hyperparam] = []
    unknown: list[UnknownArgument] = []
    failures: list[guard.Failed] = []
    values: dict[str, Any] = {}
    for (name, declared_default, rule, _), value in zip(plan.readings, read, strict=True):
        if isinstance(value, guard.Failed):
            failures.append(value)
            unknown.append(_unknown(name, declared_default, f"reading it raised {value.error}"))
            continue
        if isinstance(value, _Unreadable):
            if entry is None:
                unknown.append(_unknown(name, declared_default, value.reason))
            continue
        values[name] = value
        default_value = declared_default
        if rule is not None and rule.default is not knowledge.NO_DEFAULT:
            default_value = rule.default
            if isinstance(default_value, str) and default_value.startswith("="):
                try:
                    default_value = knowledge.evaluate(default_value[1:], values)
                except TemplateError:
                    default_value = knowledge.NO_DEFAULT
        default = default_value is not knowledge.NO_DEFAULT and _equals_default(plain(default_value), value)
        out.append(_chosen(name, value, default))
    return Collected(hyperparameters=tuple(out), unknown=tuple(unknown), failures=tuple(failures))


def _chosen(name: str, value: Any, default: bool) -> Hyperparam:
    """The record of an argument read back; one of a plain scalar value is shared by every layer that has it.

    A record is frozen, so an 80-block model's 80 ``in_features=8192`` can be one object. Lists
    are not shared (they could be changed in place), nor is anything with `SHARE_RECORDS` off.
    """
    if SHARE_RECORDS and (value is None or type(value) in (bool, int, float, str)):
        # the type and the text keep apart what compares equal: True and 1, 0.0 and -0.0
        return _shared_chosen(name, value, default, type(value).__name__, repr(value) if type(value) is float else "")
    return Hyperparam(name=name, value=value, kind="hyperparameter", source="chosen", default=default)


@functools.lru_cache(maxsize=4096)
def _shared_chosen(name: str, value: Any, default: bool, kind: str, text: str) -> Hyperparam:
    return Hyperparam(name=name, value=value, kind="hyperparameter", source="chosen", default=default)


def values_of(module: nn.Module, path: str) -> list[tuple[str, Any]]:
    """(name, value) of each argument `collect_all` reads back from `module`, in its order, without the rest.

    What `modeldoc.probe.configs` compares between rebuilds: no defaults, no reasons, no
    hyperparameter records (a default written as an expression is still evaluated, as
    `collect_all` does, so that one that raises raises here too).
    """
    if not MEMOIZE:
        return [(hp.name, hp.value) for hp in collect_all(module, path).hyperparameters]
    return values_by(module, class_plan(type(module)))


def values_by(module: nn.Module, plan: ClassPlan) -> list[tuple[str, Any]]:
    """`values_of` with the plan of `module`'s class given (``class_plan(type(module))``, worked out once)."""
    found: list[tuple[str, Any]] = []
    values: dict[str, Any] = {}
    for name, declared_default, rule, chain in plan.readings:
        try:  # as guard.attempt does, without its record of the failure: a read that raises is left out
            value = _read(module, name, rule, declared_default, chain)
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException:  # the user's code may raise anything
            continue
        if isinstance(value, _Unreadable):
            continue
        values[name] = value
        found.append((name, value))
        if rule is not None and isinstance(rule.default, str) and rule.default.startswith("="):
            with contextlib.suppress(TemplateError):
                knowledge.evaluate(rule.default[1:], values)
    return found


MEMOIZE = True
"""Whether `class_plan` keeps what it finds per class (tests turn it off to compare with and without)."""
SHARE_RECORDS = True
"""Whether an argument read back with a plain scalar value shares its record with every other one like it
(tests turn it off to compare with and without)."""
QUICK_READS = True
"""Whether `computed_tensors` reads torch's plain dict of children without a copy, and `plain` takes a value of
exactly a scalar type at once (tests turn it off to compare with and without)."""
KEEP_COLLECTED = True
"""Whether `collect_kept` makes the record of a class's arguments once for each set of values read in one reading
of a model (tests turn it off to compare with and without)."""


@dataclass(frozen=True)
class ClassPlan:
    """What reading a class's constructor arguments back needs that depends only on the class and the table."""

    entry: knowledge.Entry | None
    """The class's knowledge entry, or its nearest ancestor's."""
    readings: tuple[tuple[str, Any, knowledge.ArgRule | None, tuple[str | int, ...] | None], ...]
    """(name, declared default, the table's rule, the attribute chain of a rule that only reads attributes)
    of each argument to read, lazy ones left out."""


_PLANS: weakref.WeakKeyDictionary[type, tuple[knowledge.Knowledge, Callable[[], Any], ClassPlan]] = (
    weakref.WeakKeyDictionary()
)
"""Class → (the table, a weak reference to its ``__init__``, its plan): the ``__init__`` of a class holds
the class (``super()``'s cell), so a strong one would keep every class ever read alive."""


def class_plan(cls: type) -> ClassPlan:
    """The arguments to read from a module of class `cls`, worked out once per class and table.

    A module of a class seen before with the same table and the same ``__init__`` reuses the
    class's plan: its signature is not inspected again (an 80-block model has 80 of each layer).
    """
    if not MEMOIZE:
        return _new_plan(cls)
    table = knowledge.current()
    init = cls.__init__  # type: ignore[misc]
    try:
        kept = _PLANS.get(cls)
    except TypeError:  # a class that cannot be weakly referenced or hashed: read it afresh
        return _new_plan(cls)
    if kept is not None and kept[0] is table and kept[1]() is init:
        return kept[2]
    plan = _new_plan(cls)
    with contextlib.suppress(TypeError):
        _PLANS[cls] = (table, _weak(init), plan)
    return plan


def _weak(obj: Any) -> Callable[[], Any]:
    """A weak reference to `obj`, or a call that returns it when it takes none (a builtin's slot wrapper)."""
    try:
        return weakref.ref(obj)
    except TypeError:
        return lambda: obj


def _new_plan(cls: type) -> ClassPlan:
    entry = entry_for(cls)
    readings = []
    for name, declared_default in _arguments(cls, entry):
        rule = entry.args.get(name) if entry else None
        if rule is not None and rule.lazy:
            continue  # not a constructor argument: explain fills it in from the probed input
        chain = _chain(rule.read) if rule is not None and rule.read and MEMOIZE else None
        readings.append((name, declared_default, rule, chain))
    return ClassPlan(entry=entry, readings=tuple(readings))


_STEP = r"(?:\.[A-Za-z_][A-Za-z0-9_]*|\[-?[0-9]+\])"
_CHAIN = re.compile(rf"module({_STEP}+)")
_DEFINED_OR = re.compile(rf"module({_STEP}+) if module({_STEP}+) is defined else .+")
_STEPS = re.compile(_STEP)


def _chain(expression: str) -> tuple[str | int, ...] | None:
    """The attributes and indices a read expression follows first, when it is one that `_follow` can read.

    ``module.weight.shape[0]`` → ``("weight", "shape", 0)``; ``module.a if module.a is defined else
    module.b`` → ``("a",)`` (when ``module.a`` reads, it is the answer).
    """
    text = expression.strip()
    plain_chain = _CHAIN.fullmatch(text)
    if plain_chain is not None:
        found = plain_chain[1]
    else:
        either = _DEFINED_OR.fullmatch(text)
        if either is None or either[1] != either[2]:
            return None
        found = either[1]
    return tuple(step[1:] if step.startswith(".") else int(step[1:-1]) for step in _STEPS.findall(found))


def _equals_default(default: Any, value: Any) -> bool:
    """Whether `value` is what the default gives, a scalar default standing for a tuple of copies.

    Conv2d's ``stride=1`` is stored as ``(1, 1)``: both mean the same, so the argument is default.
    """
    if default == value:
        return True
    scalar = isinstance(default, int | float) and not isinstance(default, bool)
    return scalar and isinstance(value, list | tuple) and len(value) > 0 and all(v == default for v in value)


def _unknown(name: str, default: Any, reason: str) -> UnknownArgument:
    shown = plain(default) if default is not knowledge.NO_DEFAULT else _UNREADABLE
    if isinstance(shown, _Unreadable):
        return UnknownArgument(name=name, reason=reason)
    return UnknownArgument(name=name, reason=reason, default=shown, has_default=True)


def entry_for(cls: type) -> knowledge.Entry | None:
    """The knowledge entry of `cls`, or of its nearest ancestor that has one."""
    for base in cls.__mro__:
        if base in (nn.Module, object):
            break
        entry = knowledge.lookup(table_key(base))
        if entry is not None:
            return entry
    return None


def table_key(cls: type) -> str:
    """The knowledge-table key of a class: its name for torch.nn exports, its dotted name otherwise."""
    if is_torch_nn(cls):
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


def _arguments(cls: type, entry: knowledge.Entry | None) -> list[tuple[str, Any]]:
    """``(name, default)`` of each constructor argument worth reading back."""
    try:
        parameters = list(inspect.signature(cls.__init__).parameters.values())  # type: ignore[misc]
    except (TypeError, ValueError):
        parameters = []
    named = [
        (p.name, knowledge.NO_DEFAULT if p.default is p.empty else p.default)
        for p in parameters
        if p.name not in _SKIP and not p.name.startswith("_") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if not named and entry is not None and entry.signature:
        # RNN, LSTM and GRU take *args, **kwargs; the table lists their real arguments
        named = [(name, knowledge.NO_DEFAULT) for name in entry.signature]
    if entry is not None:
        # sizes a layer is built from without taking them as arguments (a Hugging Face attention
        # reads num_attention_heads from its config): the entry says how to read each one
        given = {name for name, _ in named}
        named += [
            (rule.name, knowledge.NO_DEFAULT)
            for rule in entry.args.values()
            if rule.read and not rule.lazy and rule.name not in given
        ]
    return named


def _read(
    module: nn.Module,
    name: str,
    rule: knowledge.ArgRule | None,
    default: Any,
    chain: tuple[str | int, ...] | None = None,
) -> Any:
    if rule is not None and rule.read:
        try:
            found = _follow(module, chain) if chain is not None else _NOT_FOLLOWED
            if found is _NOT_FOLLOWED:
                found = knowledge.evaluate_unsandboxed(rule.read, {"module": module})
            return plain(found)
        except (TemplateError, AttributeError, IndexError, KeyError, TypeError) as err:
            logger.debug("cannot read %s.%s back: %s", type(module).__name__, name, err)
            return _Unreadable("the knowledge table's reading of it failed")
    try:
        value = getattr(module, name)
    except AttributeError:
        return _Unreadable("value not stored on the module (it keeps no attribute of this name)")
    if isinstance(default, bool) and (value is None or isinstance(value, torch.Tensor)):
        # a flag stored as the tensor it switches on (Linear.bias, LayerNorm.bias)
        return value is not None
    got = plain(value)
    if isinstance(got, _Unreadable):
        return _Unreadable(f"stored as {_kind_of(value)}, not a plain value")
    return got


_NOT_FOLLOWED = object()


def _follow(module: nn.Module, chain: tuple[str | int, ...]) -> Any:
    """What a read expression of `chain` gives (``module.weight.shape[0]``), or `_NOT_FOLLOWED`.

    Each step is read as the expression reads it first (``getattr`` for a name, ``[i]`` for an
    index); where a step finds nothing (the expression would then try the other way, or go on
    with an undefined value), the expression itself is left to say what it gives.
    """
    value: Any = module
    for step in chain:
        try:
            value = getattr(value, step) if isinstance(step, str) else value[step]
        except AttributeError:
            return _NOT_FOLLOWED
        except (TypeError, LookupError):
            if isinstance(step, str):
                raise
            return _NOT_FOLLOWED
    return _NOT_FOLLOWED if isinstance(value, Undefined) else value


def _kind_of(value: Any) -> str:
    """``"a ReLU module"``, ``"a Tensor"``, ``"a function"``: what a stored value is, shortly."""
    if isinstance(value, nn.Module):
        return f"a {type(value).__name__} module"
    if callable(value) and not isinstance(value, type):
        return "a function" if inspect.isfunction(value) or inspect.isbuiltin(value) else "a callable object"
    return f"a {type(value).__name__}"


@dataclass(frozen=True)
class _Unreadable:
    """A value that cannot be read back as plain data, and why."""

    reason: str = "not a plain value"


_UNREADABLE = _Unreadable()


def plain(value: Any) -> Any:
    """A JSON-able copy of `value`, or an `_Unreadable` when it is not a plain value."""
    kind = type(value)
    if QUICK_READS and (kind is int or kind is str or kind is float or kind is bool):
        return value
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list | torch.Size):
        items = [plain(v) for v in value]
        return _UNREADABLE if any(isinstance(v, _Unreadable) for v in items) else items
    if isinstance(value, torch.dtype):
        return dtype_name(value)
    return _UNREADABLE


def computed_tensors(module: nn.Module, path: str) -> tuple[ParamSpec, ...]:
    """The tensors a parametrized module uses in place of the ones it stores (``weight`` under weight_norm).

    Each is computed from its originals on the meta device, so the user's tensors and the
    spectral-norm power-iteration buffers are left exactly as they were.
    """
    # read the slot directly: is_parametrized() goes through the module's own __getattr__
    slot = getattr(module, "__dict__", {}).get("_modules")
    if QUICK_READS and type(slot) is dict:  # torch's own dict: read without the copy guard.slots makes
        holders = slot.get("parametrizations")
    else:
        holders = dict(guard.slots(module, "_modules")).get("parametrizations")
    if not isinstance(holders, nn.ModuleDict):
        return ()
    out = []
    for name, chain in holders.items():
        originals = [t for _, t in chain.named_parameters(recurse=False)]
        used = guard.attempt(functools.partial(_computed_on_meta, chain), f"computing {path}.{name}")
        if isinstance(used, guard.Failed):  # a custom parametrization that cannot run on meta: keep the stored shape
            logger.debug("cannot compute %s.%s on meta: %s", path, name, used.error)
            shape, dtype = tuple(originals[-1].shape), originals[-1].dtype
        else:
            shape, dtype = used
        numel = math.prod(shape)
        out.append(
            ParamSpec(
                name=f"{path}.{name}" if path else name,
                local_name=name,
                shape=shape,
                dtype=dtype_name(dtype),
                numel=numel,
                nbytes=numel * torch.empty((), dtype=dtype).element_size(),
                trainable=any(t.requires_grad for t in originals),
                computed=True,
                counted=False,
            )
        )
    return tuple(out)


def _computed_on_meta(chain: nn.Module) -> tuple[tuple[int, ...], torch.dtype]:
    """Shape and dtype of the tensor a parametrization chain computes, from meta copies of its tensors."""
    state = {k: torch.empty_like(v, device="meta") for k, v in chain.state_dict(keep_vars=True).items()}
    with torch.no_grad():
        used = torch.func.functional_call(chain, state, (), tie_weights=False)
    return tuple(used.shape), used.dtype
