"""What describing a model must leave as it was: every tensor slot, flag, hook and attribute.

`Snapshot.take(model)` before, `snapshot.problems(model)` after: an empty list means the model
left exactly as it came (the same tensor objects with the same devices, dtypes, requires_grad
and values; the same training flags, hooks and attributes on every module). Needs torch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

T = TypeVar("T")


_HOOKS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_pre_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)


def all_modules(model: nn.Module) -> list[nn.Module]:
    """Every module reachable through `_modules`, once (unlike ``modules()``, safe on odd trees)."""
    found: dict[int, nn.Module] = {}
    stack = [model]
    while stack:
        module = stack.pop()
        if id(module) in found:
            continue
        found[id(module)] = module
        stack.extend(child for _, child in vars(module)["_modules"].items() if isinstance(child, nn.Module))
    return list(found.values())


@dataclass
class Snapshot:
    """Everything about a model that describing it must leave as it was."""

    slots: list[tuple[int, str, str, torch.Tensor | None, dict[str, Any]]] = field(default_factory=list)
    modules: list[tuple[nn.Module, bool, frozenset[str], dict[str, list[tuple[int, Any]]]]] = field(
        default_factory=list
    )

    @classmethod
    def take(cls, model: nn.Module) -> Snapshot:
        snap = cls()
        for module in all_modules(model):
            for store in ("_parameters", "_buffers", "_modules"):
                for name, value in getattr(module, store).items():
                    facts: dict[str, Any] = {}
                    if isinstance(value, torch.Tensor):
                        facts = {
                            "device": value.device,
                            "dtype": value.dtype,
                            "requires_grad": value.requires_grad,
                            "type": type(value),
                            "values": value.detach().clone(),
                        }
                    snap.slots.append((id(module), store, name, value, facts))
            hooks = {name: list(getattr(module, name).items()) for name in _HOOKS if hasattr(module, name)}
            snap.modules.append((module, module.training, frozenset(vars(module)), hooks))
        return snap

    def problems(self, model: nn.Module) -> list[str]:
        """What differs now from when the snapshot was taken (empty when nothing)."""
        out = []
        by_id = {id(m): m for m in all_modules(model)}
        for module_id, store, name, value, facts in self.slots:
            module = by_id.get(module_id)
            now = dict(getattr(module, store).items()).get(name, "missing") if module is not None else "module gone"
            if now is not value:
                out.append(f"{store}[{name!r}] of {type(module).__name__} is another object")
                continue
            if isinstance(value, torch.Tensor):
                if value.device != facts["device"] or value.dtype != facts["dtype"] or type(value) is not facts["type"]:
                    out.append(f"{name}: device, dtype or type changed")
                if value.requires_grad != facts["requires_grad"]:
                    out.append(f"{name}: requires_grad changed")
                same_place = value.device == facts["values"].device and not value.is_meta
                if same_place and not torch.equal(value.detach(), facts["values"]):
                    out.append(f"{name}: values changed")
        for module, training, attrs, hooks in self.modules:
            if module.training != training:
                out.append(f"{type(module).__name__}: training flag changed")
            if frozenset(vars(module)) != attrs:
                out.append(f"{type(module).__name__}: attributes {sorted(frozenset(vars(module)) ^ attrs)} changed")
            for hook_name, items in hooks.items():
                if list(getattr(module, hook_name).items()) != items:
                    out.append(f"{type(module).__name__}: {hook_name} changed")
        return out


def untouched(model: nn.Module, run: Callable[[], T]) -> T:
    """Run `run` and assert that `model` came out exactly as it went in; what `run` returned."""
    snapshot = Snapshot.take(model)
    result = run()
    assert snapshot.problems(model) == []
    return result
