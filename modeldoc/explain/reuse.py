"""Reusing the interpretation of one layer for its repeats, so that its cost grows with structures, not instances.

LLaMA's 80 decoder blocks hold 80 copies of each layer whose arguments, tensors and recorded
shapes are the same: each is explained once and the others take the explanation, keeping their
own path, tensor names and anything else that is theirs. `ENABLED` switches this off (the tests
interpret models both ways and compare the JSON byte for byte).
"""

from __future__ import annotations

from dataclasses import fields, replace
from operator import attrgetter
from typing import Any, TypeVar

from modeldoc.spec import Hyperparam

ENABLED = True
"""False interprets every layer on its own."""

RECOMPUTED = True
"""True lets `copied` change a field that another is computed from (a `Hyperparam`'s ``dim``) by copying the
fields and running ``__post_init__`` again, as ``dataclasses.replace`` would through ``__init__``; False goes
through ``dataclasses.replace``. The tests interpret models both ways and compare the JSON byte for byte."""

T = TypeVar("T")

_HYPERPARAM_FIELDS = attrgetter(*(f.name for f in fields(Hyperparam) if f.name not in ("value", "axis_ref")))


def value_key(value: Any) -> Any:
    """A dictionary key for `value` that tells apart what renders differently: ``1``, ``1.0``, ``True``, ``[1]``."""
    return value if type(value) in (int, str) else (type(value), repr(value))


def hyperparam_key(h: Hyperparam, *, value: bool = True) -> tuple[Any, ...]:
    """Every field of `h` as a dictionary key, its value told apart by type (`value_key`), or left out."""
    return (value_key(h.value) if value else None, _HYPERPARAM_FIELDS(h))


_DERIVED_FROM: dict[type, frozenset[str]] = {Hyperparam: frozenset({"dim"})}
"""Classes that compute a field in ``__post_init__``, and the fields it is computed from."""


def copied(obj: T, **changes: Any) -> T:
    """`dataclasses.replace` for a frozen dataclass, at a fraction of its cost: its fields copied, `changes` set.

    A change that a computed field depends on (`_DERIVED_FROM`) runs the class's ``__post_init__``
    on the copy (`RECOMPUTED`, else it goes through `dataclasses.replace`); a class with a
    ``__post_init__`` not listed there always goes through `dataclasses.replace`.
    """
    derived = _DERIVED_FROM.get(type(obj))
    recompute = derived is not None and not derived.isdisjoint(changes)
    if (derived is None and hasattr(obj, "__post_init__")) or (recompute and not RECOMPUTED):
        return replace(obj, **changes)  # type: ignore[type-var]
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    if recompute:
        new.__post_init__()  # type: ignore[attr-defined]
    return new
