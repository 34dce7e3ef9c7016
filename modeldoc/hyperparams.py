"""Read a module's constructor arguments back from the live module.

The values come from the module's attributes named like the constructor's parameters;
`explain` later decides what kind each one is.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from modeldoc.spec import Hyperparam

_SKIP = {"self", "device", "dtype"}


def collect(module: nn.Module) -> tuple[Hyperparam, ...]:
    """The constructor arguments of `module` that can be read back from its attributes."""
    try:
        signature = inspect.signature(type(module).__init__)
    except (TypeError, ValueError):
        return ()
    out = []
    for name, param in signature.parameters.items():
        if name in _SKIP or param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if not hasattr(module, name):
            continue
        value = plain(getattr(module, name))
        if value is _UNREADABLE:
            continue
        default = param.default is not param.empty and plain(param.default) == value
        out.append(Hyperparam(name=name, value=value, kind="hyperparameter", source="chosen", default=default))
    return tuple(out)


_UNREADABLE = object()


def plain(value: Any) -> Any:
    """A JSON-able copy of `value`, or a sentinel when it is not a plain value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list | torch.Size):
        items = [plain(v) for v in value]
        return _UNREADABLE if any(v is _UNREADABLE for v in items) else items
    if isinstance(value, torch.dtype):
        return str(value).removeprefix("torch.")
    return _UNREADABLE
