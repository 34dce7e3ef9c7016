"""The layer knowledge table: YAML data files shipped in this package, and their loader.

Each ``*.yaml`` file maps a layer key to an entry. The key is the class name for classes
``torch.nn`` exports (``Conv2d``) and the dotted type otherwise
(``torch.nn.utils.parametrize.ParametrizationList``); keys starting with ``_`` are shared
bases that other entries name in ``extends``. Text fields are Jinja templates filled with the
layer's own numbers; fields whose string starts with ``=`` are Jinja expressions that evaluate
to a value (a list of axes, a number). ``messages.yaml`` holds the text modeldoc writes that
belongs to no layer type (inference, ties, lazy modules). Nothing here imports torch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateError, Undefined
from jinja2.sandbox import SandboxedEnvironment

from modeldoc.errors import ModeldocError

KINDS = ("hyperparameter", "data-dependent")
SOURCES = ("chosen", "input", "previous-layer", "target")
_ENTRY_KEYS = {
    "extends",
    "summary",
    "formula",
    "size_rule",
    "args",
    "params",
    "vars",
    "let",
    "signature",
    "notes",
    "abstract",
}
SIZE_RULES = (
    "conv",
    "conv_transpose",
    "max_pool",
    "avg_pool",
    "adaptive_pool",
    "linear",
    "embedding",
    "recurrent",
    "reshape",
    "attention",
)
"""The derivation rules a layer's output sizes follow (``size_rule`` of an entry), one per family."""
_ARG_KEYS = {"kind", "source", "reason", "dim", "read", "default", "lazy"}
_PARAM_KEYS = {"axes", "notes", "meaning", "use", "transposed"}
NO_DEFAULT = object()
"""Marks an argument whose knowledge entry gives no default."""


class KnowledgeError(ModeldocError):
    """A knowledge data file is malformed (a bug in modeldoc's data, or a user's override)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"knowledge entry {where}: {problem}; fix the entry in modeldoc/knowledge")


@dataclass(frozen=True, kw_only=True)
class ArgRule:
    """What one constructor argument is, and why it has its value."""

    name: str
    kind: str = "hyperparameter"
    source: str = "chosen"
    reason: str = ""
    dim: str = ""
    """Template of the axis the argument equals (``"in0:-{{ n + 1 }}"``)."""
    read: str = ""
    """Expression over ``module`` that reads the value back when no attribute has its name."""
    default: Any = NO_DEFAULT
    lazy: bool = False
    """True when a lazy module fixes the value at its first call (it is not a constructor argument)."""


@dataclass(frozen=True, kw_only=True)
class TensorRule:
    """What a parameter or buffer whose local name matches `pattern` holds."""

    pattern: re.Pattern[str]
    axes: Any = None
    """A list of axis names (templates), or None when the axes are not known."""
    notes: tuple[str, ...] = ()
    meaning: str = ""
    use: str = ""
    """How the layer uses the tensor, for tie relations (``"multiplies its input by the transpose"``)."""
    transposed: bool = False
    """True when the layer multiplies by the tensor's transpose (Linear: y = x·Wᵀ)."""


@dataclass(frozen=True, kw_only=True)
class Entry:
    """Everything the table knows about one layer type."""

    key: str
    summary: str = ""
    formula: str = ""
    args: Mapping[str, ArgRule] = field(default_factory=dict)
    params: tuple[TensorRule, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    let: Mapping[str, str] = field(default_factory=dict)
    """Named expressions over the arguments, evaluated in order (``depth: "= in_channels // groups"``)."""
    signature: tuple[str, ...] = ()
    """The argument names, for classes whose ``__init__`` takes ``*args, **kwargs``."""
    notes: tuple[str, ...] = ()
    size_rule: str = ""
    """How the layer's output sizes follow from its input and arguments: one of `SIZE_RULES`, or ``""``."""

    def tensor_rule(self, local_name: str) -> tuple[TensorRule, dict[str, Any]] | None:
        """The first rule matching `local_name`, with its named groups (digits as ints)."""
        for rule in self.params:
            match = rule.pattern.fullmatch(local_name)
            if match:
                groups = {k: (int(v) if v and v.isdigit() else v) for k, v in match.groupdict().items()}
                return rule, groups
        return None


def lookup(key: str) -> Entry | None:
    """The entry for a layer key (``"Conv2d"`` or a dotted type), or None."""
    return table().get(key)


def key_of(type_: str, type_name: str) -> str:
    """The table key of a layer type: the class name for torch.nn classes, the dotted type otherwise."""
    return type_name if type_ == f"torch.nn.{type_name}" else type_


def message(key: str, /, **context: Any) -> str:
    """A sentence from ``messages.yaml``, filled in."""
    try:
        template = messages()[key]
    except KeyError as err:
        raise KnowledgeError(f"messages.{key}", "no such message") from err
    return render(template, context)


@cache
def messages() -> Mapping[str, str]:
    """Every message template, by name."""
    raw = _read("messages.yaml")
    return {str(k): str(v) for k, v in raw.items()}


@cache
def table() -> Mapping[str, Entry]:
    """Every concrete entry, bases merged in, by key."""
    raw: dict[str, dict[str, Any]] = {}
    for item in sorted(resources.files(__name__).iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml") and item.name != "messages.yaml":
            for key, value in _read(item.name).items():
                if key in raw:
                    raise KnowledgeError(str(key), f"defined twice (again in {item.name})")
                if not isinstance(value, dict):
                    raise KnowledgeError(str(key), "must be a mapping")
                raw[str(key)] = value
    return {key: _entry(key, _merged(key, raw, ())) for key, value in raw.items() if not key.startswith("_")}


def _read(name: str) -> dict[str, Any]:
    text = resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
    data = yaml.safe_load(text) or {}
    if not isinstance(data, dict):
        raise KnowledgeError(name, "the file must hold a mapping")
    return data


def _merged(key: str, raw: Mapping[str, dict[str, Any]], seen: tuple[str, ...]) -> dict[str, Any]:
    """The entry with its `extends` chain merged in (the entry's own keys win, per arg and param)."""
    if key in seen:
        raise KnowledgeError(key, f"extends itself through {' → '.join(seen)}")
    if key not in raw:
        raise KnowledgeError(seen[-1] if seen else key, f"extends unknown entry {key!r}")
    entry = raw[key]
    bases = entry.get("extends", [])
    out: dict[str, Any] = {}
    for base in [bases] if isinstance(bases, str) else bases:
        _merge_into(out, _merged(base, raw, (*seen, key)))
    _merge_into(out, {k: v for k, v in entry.items() if k != "extends"})
    return out


def _merge_into(out: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for name, value in extra.items():
        if name in ("args", "params", "vars", "let") and isinstance(out.get(name), dict) and value is not None:
            merged = dict(out[name])
            for sub, rule in value.items():
                if rule is None:
                    merged.pop(sub, None)  # `name: null` in a child removes what a base said
                elif isinstance(rule, dict) and isinstance(merged.get(sub), dict):
                    merged[sub] = {**merged[sub], **rule}
                else:
                    merged[sub] = rule
            out[name] = merged
        else:
            out[name] = value


def _entry(key: str, data: Mapping[str, Any]) -> Entry:
    unknown = set(data) - _ENTRY_KEYS
    if unknown:
        raise KnowledgeError(key, f"unknown fields {sorted(unknown)}")
    args = {}
    for name, given in (data.get("args") or {}).items():
        rule = given or {}
        bad = set(rule) - _ARG_KEYS
        if bad:
            raise KnowledgeError(f"{key}.args.{name}", f"unknown fields {sorted(bad)}")
        if rule.get("kind", "hyperparameter") not in KINDS or rule.get("source", "chosen") not in SOURCES:
            raise KnowledgeError(f"{key}.args.{name}", f"kind must be one of {KINDS} and source one of {SOURCES}")
        args[name] = ArgRule(name=name, **rule)
    params = []
    for pattern, given in (data.get("params") or {}).items():
        rule = given or {}
        bad = set(rule) - _PARAM_KEYS
        if bad:
            raise KnowledgeError(f"{key}.params.{pattern}", f"unknown fields {sorted(bad)}")
        notes = rule.get("notes", ())
        params.append(
            TensorRule(
                pattern=re.compile(pattern),
                axes=rule.get("axes"),
                notes=tuple([notes] if isinstance(notes, str) else notes),
                meaning=rule.get("meaning", ""),
                use=rule.get("use", ""),
                transposed=bool(rule.get("transposed", False)),
            )
        )
    notes = data.get("notes", ())
    size_rule = str(data.get("size_rule") or "")
    if size_rule and size_rule not in SIZE_RULES:
        raise KnowledgeError(f"{key}.size_rule", f"{size_rule!r} is not one of {SIZE_RULES}")
    return Entry(
        size_rule=size_rule,
        key=key,
        summary=data.get("summary", "") or "",
        formula=data.get("formula", "") or "",
        args=args,
        params=tuple(params),
        vars=dict(data.get("vars") or {}),
        let=dict(data.get("let") or {}),
        signature=tuple(data.get("signature") or ()),
        notes=tuple([notes] if isinstance(notes, str) else notes),
    )


class Unknown:
    """A value not known yet (a lazy layer's size before its first call): shows as ``?``, absorbs arithmetic."""

    def __str__(self) -> str:
        return "?"

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown)

    def __hash__(self) -> int:
        return 0

    def _absorb(self, *_: object) -> Unknown:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _absorb
    __floordiv__ = __rfloordiv__ = __truediv__ = __rtruediv__ = __mod__ = __pow__ = __neg__ = _absorb


UNKNOWN = Unknown()


# Templates and expressions: our own data, sandboxed anyway; strict so a typo in an entry fails its test.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["x"] = lambda value: "×".join(str(v) for v in value) if isinstance(value, list | tuple) else str(value)
_ENV.filters["prod"] = lambda values: (
    UNKNOWN if isinstance(values, Unknown) else math.prod(values) if isinstance(values, list | tuple) else values
)
_ENV.filters["zip_ranges"] = lambda names, size: [
    f"{name} ({'row' if size == 1 else 'rows'} {i * size}{'' if size == 1 else f'–{(i + 1) * size - 1}'})"
    for i, name in enumerate(names)
]
_ENV.filters["prefixed"] = lambda values, prefix: [f"{prefix}{v}" for v in values]
_ENV.filters["expand"] = lambda value, n: list(value) if isinstance(value, list | tuple) else [value] * n
_ENV.filters["num"] = lambda value: f"{value:,}".replace(",", " ") if isinstance(value, int) else str(value)


def render(template: Any, context: Mapping[str, Any]) -> Any:
    """A template string filled in; ``"= expr"`` strings evaluate to a value; lists map over items."""
    if isinstance(template, list | tuple):
        out: list[Any] = []
        for item in template:
            value = render(item, context)
            # an expression item that yields a list splices in (``"= kernel_axes"``)
            out.extend(value if isinstance(item, str) and item.startswith("=") and isinstance(value, list) else [value])
        return out
    if not isinstance(template, str):
        return template
    if template.startswith("="):
        return evaluate(template[1:], context)
    return " ".join(_template(template).render(context).split())


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of a Jinja expression over `context`; an undefined name raises."""
    return _defined(_expression(expression.strip())(**context))


@cache
def _template(text: str) -> Any:
    return _ENV.from_string(text)


@cache
def _expression(text: str) -> Any:
    return _ENV.compile_expression(text, undefined_to_none=False)


@cache
def _read_expression(text: str) -> Any:
    return _READ_ENV.compile_expression(text, undefined_to_none=False)


def evaluate_unsandboxed(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of a read-back expression over a live module (may read private attributes)."""
    return _defined(_read_expression(expression.strip())(**context))


def _defined(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value


def _read_env() -> Any:
    from jinja2 import Environment

    return Environment(undefined=StrictUndefined, autoescape=False)


_READ_ENV = _read_env()

__all__ = [
    "NO_DEFAULT",
    "UNKNOWN",
    "ArgRule",
    "Entry",
    "KnowledgeError",
    "TemplateError",
    "TensorRule",
    "evaluate",
    "key_of",
    "lookup",
    "message",
    "render",
    "table",
]
