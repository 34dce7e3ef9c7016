"""Frozen dataclasses to JSON and back, by a layout each class declares.

A class lists its JSON keys once, in the order they are written (`JsonMapped.json_layout`);
`to_json` and `from_json` both follow that list, so the two directions cannot drift apart.
Values are converted by the fields' type hints: tuples are written as lists and read back as
tuples, nested dataclasses through their own layouts, ``Literal`` values checked against their
choices. Reading requires every key written `ALWAYS` that has no ``fallback``, so a key added
to a layout later needs a fallback (or ``when=SET``) for JSON written before it to still read.
Keys a layout does not list are ignored when reading: fields are only ever added. Nothing here
knows the ``modeldoc/1`` contract itself; `modeldoc.spec` declares it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, ClassVar, Literal, TypeVar, Union

from modeldoc.errors import ConfigError

T = TypeVar("T", bound="JsonMapped")
Reader = Callable[[Any], Any]

ALWAYS = "always"
"""`Key.when`: the key is always written."""
SET = "set"
"""`Key.when`: the key is written only when the field differs from its default."""


@dataclass(frozen=True)
class Key:
    """One key of a class's JSON form and the field it holds."""

    key: str
    """The JSON key; a dotted key (``"model.name"``) sits in a nested object."""
    attr: str = ""
    """The dataclass field (default: the key's last part). For a copy, a dotted path (``"root.repr"``)."""
    when: str = ALWAYS
    """`ALWAYS`, `SET`, or the name of a boolean field: the key is written only when that field
    is true. When that field has no key of its own, reading sets it from the key's presence."""
    copy: bool = False
    """Written for readers but not read back: the value lives under another key too."""
    fallback: Callable[[Mapping[str, Any]], Any] | None = None
    """For a key that older descriptions lack: its JSON value, computed from the enclosing object."""

    @property
    def field(self) -> str:
        """The dataclass field (or, for a copy, the attribute path) this key holds."""
        return self.attr or self.key.rsplit(".", 1)[-1]


def keys(*entries: str | Key) -> tuple[Key, ...]:
    """A layout from plain key names (always written, same-named field) and `Key` entries."""
    return tuple(Key(entry) if isinstance(entry, str) else entry for entry in entries)


class DecodeError(Exception):
    """A JSON value that does not fit its field: where it is (``layers[3].parameters[0].shape``) and what is wrong."""

    def __init__(self, problem: str, where: tuple[str, ...] = ()) -> None:
        super().__init__(problem)
        self.problem = problem
        self.where = where

    def inside(self, part: str) -> DecodeError:
        """The same error, one level further out (`part` is a key or ``[index]``)."""
        return DecodeError(self.problem, (part, *self.where))

    @property
    def location(self) -> str:
        """The JSON path of the value, e.g. ``layers[3].parameters[0].shape``."""
        return "".join(part if part.startswith("[") else f".{part}" for part in self.where).lstrip(".")


class JsonMapped:
    """Mixin for a frozen dataclass that declares its JSON form in `json_layout`."""

    json_layout: ClassVar[tuple[Key, ...]]

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this object (plain dicts, lists, strings, numbers, booleans, None)."""
        return encode(self)

    @classmethod
    def from_json(cls: type[T], data: Any) -> T:
        """Read the object back from its JSON form; raises `ConfigError` naming what is wrong and where."""
        try:
            return decode(cls, data)
        except DecodeError as err:
            where = f" at {err.location}" if err.location else ""
            raise ConfigError(
                f"the JSON of a {cls.__name__} does not fit it: {err.problem}{where}", "give what its to_json() wrote"
            ) from None


def encode(obj: JsonMapped) -> dict[str, Any]:
    """The JSON form of `obj`, by its class's layout."""
    out: dict[str, Any] = {}
    defaults = _defaults(type(obj))
    for key, outer, last in _writer(type(obj)):
        value = _attr_path(obj, key.field) if key.copy else getattr(obj, key.field)
        if key.when == SET and key.field in defaults and value == defaults[key.field]:
            continue
        if key.when not in (ALWAYS, SET) and not getattr(obj, key.when):
            continue
        target = out
        for part in outer:
            target = target.setdefault(part, {})
        target[last] = _plain(value)
    return out


def decode(cls: type[T], data: Any) -> T:
    """Build a `cls` from its JSON form; raises `DecodeError` for a value that does not fit."""
    return _dataclass_reader(cls)(data)  # type: ignore[no-any-return]


def _plain(value: Any) -> Any:
    if isinstance(value, JsonMapped):
        return value.to_json()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _attr_path(obj: Any, path: str) -> Any:
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


_MISSING = object()


def _lookup(data: Mapping[str, Any], key: str) -> Any:
    for part in key.split("."):
        if not isinstance(data, Mapping) or part not in data:
            return _MISSING
        data = data[part]
    return data


_WRITERS: dict[type, list[tuple[Key, list[str], str]]] = {}
_DEFAULTS: dict[type, dict[str, Any]] = {}
_READERS: dict[type, Reader] = {}
"""Per class, built on first use: the keys split into their parts, the fields' defaults, the reader."""


def _writer(cls: type[JsonMapped]) -> list[tuple[Key, list[str], str]]:
    plan = _WRITERS.get(cls)
    if plan is None:
        plan = _WRITERS[cls] = [(key, *_split(key.key)) for key in cls.json_layout]
    return plan


def _split(key: str) -> tuple[list[str], str]:
    *outer, last = key.split(".")
    return outer, last


def _defaults(cls: type) -> dict[str, Any]:
    """The default of each field that has one (a default_factory is called once, for comparison)."""
    found = _DEFAULTS.get(cls)
    if found is None:
        found = _DEFAULTS[cls] = {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                found[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                found[f.name] = f.default_factory()
    return found


def _dataclass_reader(cls: type[JsonMapped]) -> Reader:
    """A function that reads a `cls` from its JSON object, built once per class."""
    found = _READERS.get(cls)
    if found is None:
        found = _READERS[cls] = _new_dataclass_reader(cls)
    return found


def _new_dataclass_reader(cls: type[JsonMapped]) -> Reader:
    hints = typing.get_type_hints(cls)
    defaults = _defaults(cls)
    written = {key.field for key in cls.json_layout if not key.copy}
    plan = []
    for key in cls.json_layout:
        if key.copy:
            continue
        presence = key.when if key.when not in (ALWAYS, SET) and key.when not in written else ""
        # what every writer of the layout wrote must be there; a key added later has a fallback
        required = (key.when == ALWAYS or key.field not in defaults) and key.fallback is None
        plan.append((key, _reader(hints[key.field]), required, presence))
    name = cls.__name__

    def read(data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise DecodeError(f"expected an object ({name}), got {kind_of(data)}")
        kwargs: dict[str, Any] = {}
        for key, reader, required, presence in plan:
            value = _lookup(data, key.key)
            if value is _MISSING and key.fallback is not None:
                try:
                    value = key.fallback(data)
                except (KeyError, TypeError, AttributeError, IndexError):
                    value = _MISSING
            if presence:
                kwargs[presence] = value is not _MISSING
            if value is _MISSING:
                if required:
                    raise DecodeError(f"the required key {key.key!r} is missing")
                continue
            try:
                kwargs[key.field] = reader(value)
            except DecodeError as err:
                located = err
                for part in reversed(key.key.split(".")):
                    located = located.inside(part)
                raise located from None
        return cls(**kwargs)

    return read


@cache
def _reader(hint: Any) -> Reader:  # noqa: PLR0911 - one return per kind of type hint
    """A function that reads a JSON value of type `hint`, checking it on the way."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return _any
    if isinstance(hint, type) and issubclass(hint, JsonMapped):
        return _dataclass_reader(hint)
    if hint in (int, str, bool, float):
        return _scalar(hint)
    if origin is tuple:
        return _tuple(_reader(args[0]))
    if origin is dict:
        return _dict(_reader(args[1]))
    if origin is Literal:
        return _literal(args)
    if origin in (Union, types.UnionType):
        return _union(args)
    raise TypeError(f"jsonmap cannot read a {hint!r}")  # a programming error: a field type with no reader


def _any(value: Any) -> Any:
    return value


def kind_of(value: Any) -> str:
    """What a JSON value is, for a message: ``"an object"``, ``"a list"``, ``"null"``, ..."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


_SCALAR_NAMES = {int: "a whole number", str: "a string", bool: "true or false", float: "a number"}


def _scalar(kind: type) -> Reader:
    # bool is an int in Python, and JSON's true must not pass for a size
    accepted = (int, float) if kind is float else kind

    def read(value: Any) -> Any:
        if isinstance(value, accepted) and (kind is bool or not isinstance(value, bool)):
            return value
        raise DecodeError(f"expected {_SCALAR_NAMES[kind]}, got {_got(value)}")

    return read


def _tuple(item: Reader) -> Reader:
    def read(value: Any) -> Any:
        if not isinstance(value, list | tuple):
            raise DecodeError(f"expected a list, got {_got(value)}")
        try:
            return tuple(item(v) for v in value)
        except DecodeError as err:
            # found again to name the index: only on the error path, so reading stays fast
            for i, v in enumerate(value):
                try:
                    item(v)
                except DecodeError as inner:
                    raise inner.inside(f"[{i}]") from None
            raise err from None

    return read


def _dict(item: Reader) -> Reader:
    def read(value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise DecodeError(f"expected an object, got {_got(value)}")
        out = {}
        for k, v in value.items():
            try:
                out[k] = item(v)
            except DecodeError as err:
                raise err.inside(str(k)) from None
        return out

    return read


def _literal(choices: tuple[Any, ...]) -> Reader:
    allowed = frozenset(choices)

    def read(value: Any) -> Any:
        if isinstance(value, str) and value in allowed:
            return value
        raise DecodeError(f"expected one of {', '.join(map(json.dumps, choices))}, got {_got(value)}")

    return read


def _union(options: tuple[Any, ...]) -> Reader:
    """``X | None`` reads None or an X; a union of scalars (``int | str``) takes any of them."""
    nullable = type(None) in options
    rest = tuple(o for o in options if o is not type(None))
    inner = _reader(rest[0]) if len(rest) == 1 else _scalars(rest)

    def read(value: Any) -> Any:
        if value is None and nullable:
            return None
        return inner(value)

    return read


def _scalars(kinds: tuple[Any, ...]) -> Reader:
    if not all(kind in _SCALAR_NAMES for kind in kinds):
        raise TypeError(f"jsonmap reads unions of scalars or X | None only, not {kinds!r}")
    readers = [_scalar(kind) for kind in kinds]
    names = " or ".join(_SCALAR_NAMES[kind] for kind in kinds)

    def read(value: Any) -> Any:
        for reader in readers:
            try:
                return reader(value)
            except DecodeError:
                continue
        raise DecodeError(f"expected {names}, got {_got(value)}")

    return read


def _got(value: Any) -> str:
    """A JSON value as a message shows it: ``a string "4"``, ``a list [1, 2]``, ``null``."""
    if value is None:
        return "null"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):  # not JSON after all: a value handed in from Python
        text = repr(value)
    return f"{kind_of(value)} {text if len(text) <= 40 else text[:37] + '...'}"
