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

T = TypeVar("T")

_HYPERPARAM_FIELDS = attrgetter(*(f.name for f in fields(Hyperparam) if f.name not in ("value", "axis_ref")))


def value_key(value: Any) -> Any:
    """A dictionary key for a value that tells apart what renders differently: ``1``, ``1.0``, ``True``, ``[1]``, ``(1,)``."""
    return value if type(value) in (int, str) else (type(value), repr(value))


def hyperparam_key(h: Hyperparam) -> tuple[Any, ...]:
    """Every field of `h` as a dictionary key, its value told apart by type (`value_key`)."""
    return (value_key(h.value), _HYPERPARAM_FIELDS(h))


def copied(obj: T, **changes: Any) -> T:
    """`dataclasses.replace` for a frozen dataclass without ``__post_init__``, at a fraction of its cost.

    A class that computes fields after ``__init__`` goes through `dataclasses.replace`.
    """
    if hasattr(obj, "__post_init__"):
        return replace(obj, **changes)  # type: ignore[type-var]
    new = object.__new__(type(obj))
    new.__dict__.update(obj.__dict__)
    new.__dict__.update(changes)
    return new
