"""The quick restore after a pass (`run.QUICK_RESTORE`) puts back exactly what the slow one does, in the same cases.

`run._Saved` snapshots every module's attributes, slots and the dicts, lists and sets it holds,
and puts them back after each pass. With the switch on, the containers that were empty are
checked with one truth test each and the others in one sweep of identity tests. Each case here
changes a model the way a forward pass may, restores it with the switch on and off, and
compares every module's attributes, slots and containers (which objects, in which order) after.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.probe import guard, run


@contextmanager
def quick(on: bool) -> Iterator[None]:
    before = run.QUICK_RESTORE
    run.QUICK_RESTORE = on
    try:
        yield
    finally:
        run.QUICK_RESTORE = before


class Stores(dict):  # type: ignore[type-arg]
    """A dict subclass in a slot store: never swept, always compared entry by entry."""


class Holder(nn.Module):
    """A block holding the containers a forward pass may fill: a dict cache, a list, sets, a child list."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.norm = nn.LayerNorm(3)
        self.register_buffer("scale", torch.ones(3))
        self.register_buffer("scratch", torch.zeros(3), persistent=False)
        self.cache: dict[str, Any] = {}
        self.table = OrderedDict(a=1, b=2, c=3)
        self.history: list[Any] = []
        self.kept = [1, 2]
        self.kinds: set[str] = set()
        self.tags = {"x", "y"}
        self.width = 3


def model() -> nn.Module:
    net = nn.Sequential(Holder(), Holder())
    net[1].__dict__["_buffers"] = Stores(net[1]._buffers)
    return net


def state(net: nn.Module) -> list[Any]:
    """Every module's attributes and the contents of the containers it holds: which objects, in order."""
    out: list[Any] = []
    for sub in guard.walk(net).modules():
        for name, value in vars(sub).items():
            kind = type(value)
            if isinstance(value, dict):
                contents: Any = [(k, id(v)) for k, v in value.items()]
            elif kind is list:
                contents = [id(v) for v in value]
            elif kind is set:
                contents = sorted(value)
            else:
                contents = value if value is None or kind in (int, str, bool, float) else None
            out.append((id(sub), name, id(value), kind, contents))
    return out


def canonical(found: list[Any]) -> list[Any]:
    """`state` with each object id numbered where it first appears (two models built alike compare equal)."""
    numbers: dict[int, int] = {}
    handles: dict[int, int] = {}

    def number(key: int) -> int:
        return numbers.setdefault(key, len(numbers))

    def handle(key: Any) -> Any:  # a hook table's keys count the hooks of the whole process
        return handles.setdefault(key, len(handles)) if type(key) is int else key

    out = []
    for module, name, value, kind, contents in found:
        if isinstance(contents, list) and contents and isinstance(contents[0], tuple):
            held: Any = [(handle(k), number(v)) for k, v in contents]
        elif kind is list:
            held = [number(v) for v in contents]
        else:
            held = contents
        out.append((number(module), name, number(value), kind, held))
    return out


def hook(*args: Any) -> None:
    return None


def _swap_replace(m: nn.Sequential) -> None:
    m[0]._parameters["weight"] = nn.Parameter(torch.zeros(3, 3))  # type: ignore[index]
    m[0].fc._parameters["weight"] = nn.Parameter(torch.zeros(3, 3))


def _same_length_keys(m: nn.Sequential) -> None:
    m[0].table.pop("b", None)
    m[0].table["z"] = 2  # as many keys as before, one of them another


def _reorder(m: nn.Sequential) -> None:
    m[0].table.move_to_end("a")  # the same keys and objects in another order: neither way reorders them


def _attribute_gone(m: nn.Sequential) -> None:
    del m[1].__dict__["width"]


CHANGES: dict[str, Callable[[nn.Sequential], Any]] = {
    "nothing": lambda m: None,
    "tensor swapped": lambda m: m[0].fc._parameters.__setitem__("weight", nn.Parameter(torch.zeros(3, 3))),
    "tensors swapped in two modules": _swap_replace,
    "forward hook": lambda m: m[0].fc.register_forward_hook(hook),
    "pre-hook with kwargs": lambda m: m[1].norm.register_forward_pre_hook(hook, with_kwargs=True),
    "state dict hook": lambda m: m[0]._register_state_dict_hook(hook),
    "attribute cached": lambda m: setattr(m[0].fc, "last", torch.ones(1)),
    "attribute replaced": lambda m: setattr(m[1], "width", 4),
    "attribute gone": _attribute_gone,
    "buffer added": lambda m: m[1].register_buffer("seen", torch.ones(1)),
    "child added": lambda m: m[0].add_module("extra", nn.ReLU()),
    "buffer in a dict subclass store": lambda m: m[1]._buffers.__setitem__("scale", torch.zeros(3)),
    "dict cache filled": lambda m: m[0].cache.__setitem__("cpu", torch.ones(2)),
    "dict value replaced": lambda m: m[0].table.__setitem__("a", 10),
    "same number of keys": _same_length_keys,
    "keys reordered": _reorder,
    "list appended": lambda m: m[1].history.append(object()),
    "list emptied": lambda m: m[1].kept.clear(),
    "list item replaced": lambda m: m[0].kept.__setitem__(0, 5),
    "empty set filled": lambda m: m[0].kinds.add("relu"),
    "set changed": lambda m: m[1].tags.discard("x"),
    "non-persistent buffer name added": lambda m: m[0]._non_persistent_buffers_set.add("scale"),
    "everything at once": lambda m: [change(m) for name, change in CHANGES.items() if name != "everything at once"],
}


SLOTS = (
    "nothing",
    "tensor swapped",
    "tensors swapped in two modules",
    "attribute cached",
    "attribute replaced",
    "attribute gone",
    "buffer added",
    "child added",
    "buffer in a dict subclass store",
)
"""The changes put back for a lazy model's private copy too (its attributes and slots, not its containers)."""


def restored(change: Callable[[nn.Sequential], Any], on: bool, containers: bool) -> tuple[list[Any], list[Any]]:
    """The state before, and after `change` and a restore, twice over with one snapshot (as a runner does)."""
    net = model()
    before = state(net)
    with quick(on):
        saved = run._Saved(guard.walk(net).modules(), containers=containers)
    for _ in range(2):
        change(net)  # type: ignore[arg-type]
        saved.restore()
    return before, state(net)


def restored_canonical(change: Callable[[nn.Sequential], Any], on: bool, containers: bool) -> list[Any]:
    return canonical(restored(change, on, containers)[1])


@pytest.mark.parametrize("containers", [True, False], ids=["containers", "slots_only"])
@pytest.mark.parametrize("name", list(CHANGES))
def test_the_quick_restore_puts_back_what_the_slow_one_does(name: str, containers: bool) -> None:
    before, fast = restored(CHANGES[name], True, containers)
    assert canonical(fast) == restored_canonical(CHANGES[name], False, containers)
    if name == "keys reordered":
        assert fast != before  # the same objects under the same keys: neither way reorders them
    elif containers or name in SLOTS:
        assert fast == before
        assert name == "nothing" or state(_changed(CHANGES[name])) != before  # the change did change something
    else:
        assert fast != before  # a private copy's containers are left as the pass made them


def _changed(change: Callable[[nn.Sequential], Any]) -> nn.Module:
    net = model()
    change(net)  # type: ignore[arg-type]
    return net


def test_a_restored_model_keeps_its_tensors_hooks_and_flags() -> None:
    from tests.helpers.snapshot import Snapshot

    net = model()
    snapshot = Snapshot.take(net)
    weight = net[0].fc.weight
    with quick(True):
        saved = run._Saved(guard.walk(net).modules())
    CHANGES["everything at once"](net)  # type: ignore[arg-type]
    assert snapshot.problems(net)  # the change is seen
    saved.restore()
    assert snapshot.problems(net) == []
    assert net[0].fc.weight is weight and not net[0].fc._forward_hooks and net[0].cache == {}
    assert net[0].table == OrderedDict(a=1, b=2, c=3) and list(net[0].table) == ["a", "b", "c"]
