"""Reading the user's module objects: every call into their code guarded, every walk cycle-safe.

Documenting a model runs the user's code in many places besides ``forward``: ``repr`` and
``extra_repr``, properties and ``__getattr__`` read as constructor arguments, docstrings. Any
of them may raise (IBert's ``QuantAct.__repr__`` calls ``.item()``, which fails on the meta
device), so each goes through :func:`attempt`, which turns a failure into a sentence the page
shows instead of a traceback that stops the build.

The module tree is walked here, without recursion and without ``named_modules``: a module that
contains itself would make ``named_modules(remove_duplicate=False)`` loop forever, and a model
nested a thousand levels deep would exceed Python's recursion limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import torch
from torch import nn

T = TypeVar("T")

MAX_PATHS = 16
"""At most this many paths are listed for one module registered under several names."""
_EXTRA_VISITS = 10_000
"""Paths visited beyond one per unique module before shared subtrees stop being walked again."""


_UNWRITABLE = re.compile(r"[\x00\ud800-\udfff]")


def clean(text: str) -> str:
    r"""`text` with what no UTF-8 file can hold (lone surrogates) or what cuts text short (NUL) as ``\x..`` escapes."""
    if text.isascii() and "\x00" not in text:
        return text  # the common case, without the regular expression
    return _UNWRITABLE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


def describe_error(err: BaseException) -> str:
    """``"RuntimeError: the first line of its message"``, at most 200 characters."""
    text = clean(_safe_str(err)).strip()
    line = text.splitlines()[0] if text else ""
    line = line if len(line) <= 200 else line[:197] + "..."
    return f"{type(err).__name__}: {line}" if line else type(err).__name__


def _safe_str(err: BaseException) -> str:
    try:
        return str(err)
    except Exception:  # an exception whose own __str__ raises
        return ""


@dataclass(frozen=True)
class Failed:
    """A call into the user's code that raised: what was called and the error, shortly."""

    what: str
    """What modeldoc tried, e.g. ``"repr(fc1)"`` or ``"reading fc1.width"``."""
    error: str
    """``"RuntimeError: ..."``."""

    def sentence(self) -> str:
        """``"repr(fc1) raised RuntimeError: ..."``."""
        return f"{self.what} raised {self.error}"

    def placeholder(self) -> str:
        """The text shown where the value would be: ``"(repr(fc1) failed: RuntimeError: ...)"``."""
        return f"({self.what} failed: {self.error})"


def attempt(call: Callable[[], T], what: str) -> T | Failed:
    """The result of `call`, or `Failed` when the user's code it runs raises.

    ``SystemExit`` and other ``BaseException`` subclasses raised by the user's code count as
    failures too; a ``KeyboardInterrupt`` (Ctrl-C) still stops modeldoc.
    """
    try:
        return call()
    except (KeyboardInterrupt, GeneratorExit):
        raise
    except BaseException as err:  # the user's code may raise anything; the page says what
        return Failed(what, describe_error(err))


def header_line(module: nn.Module, name: str) -> str | Failed:
    """The line ``print(model)`` shows for `module`: its whole repr for a leaf, its header otherwise."""
    if not _children(module):
        return attempt(lambda: as_text(repr(module)), f"repr({name})")
    got = attempt(lambda: as_text(module.extra_repr()), f"{name}.extra_repr()")
    if isinstance(got, Failed):
        return got
    kind = attempt(lambda: as_text(module._get_name()), f"{name}._get_name()")
    kind = type(module).__name__ if isinstance(kind, Failed) else kind
    return f"{kind}({got})" if "\n" not in got else f"{kind}(...)"


def as_text(value: object) -> str:
    """What the user's ``repr``-like method returned, checked to be text and cleaned; a `TypeError` otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"returned {type(value).__name__}, not str")
    return clean(value)


# --------------------------------------------------------------------------- the module tree


@dataclass
class Tree:
    """Every module reachable from a root, found without recursion and without looping on cycles."""

    paths: dict[str, nn.Module] = field(default_factory=dict)
    """The first path of each unique module, in the order ``named_modules()`` gives."""
    first: dict[int, str] = field(default_factory=dict)
    """id of each unique module to its first path."""
    aliases: dict[int, list[str]] = field(default_factory=dict)
    """id of each unique module to every path it is registered under (first included, at most MAX_PATHS)."""
    visits: list[tuple[str, nn.Module]] = field(default_factory=list)
    """Every (path, module) the walk passed, shared modules once per path, as
    ``named_modules(remove_duplicate=False)`` would give them (until a bound on shared subtrees)."""
    children: dict[int, list[tuple[str, nn.Module]]] = field(default_factory=dict)
    """id of each unique module to its registered children, cycles left out."""
    cycles: list[tuple[str, str]] = field(default_factory=list)
    """(path, ancestor path) for every child that is one of its own ancestors."""
    renamed: dict[str, str] = field(default_factory=dict)
    """Path to the real name, for modules registered under a name with a dot (shown with ``․``)."""

    def modules(self) -> list[nn.Module]:
        """Each unique module once, root first."""
        return list(self.paths.values())

    def subtree(self, module: nn.Module) -> Iterator[nn.Module]:
        """`module` and every unique module below it."""
        seen = {id(module)}
        stack = [module]
        while stack:
            sub = stack.pop()
            yield sub
            for _, child in reversed(self.children.get(id(sub), [])):
                if id(child) not in seen:
                    seen.add(id(child))
                    stack.append(child)

    def tensor_names(self) -> dict[int, list[str]]:
        """Every qualified name of each parameter and buffer object, by id, parameters first.

        The order is ``named_parameters(remove_duplicate=False)`` then ``named_buffers(...)``.
        """
        names: dict[int, list[str]] = {}
        for store in ("_parameters", "_buffers"):
            for path, module in self.visits:
                for local, tensor in own_tensors(module, store):
                    names.setdefault(id(tensor), []).append(f"{path}.{local}" if path else local)
        return names

    def cycle_notes(self) -> dict[int, str]:
        """A sentence for each module that holds one of its ancestors, by module id."""
        notes: dict[int, list[str]] = {}
        for path, ancestor in self.cycles:
            parent, _, name = path.rpartition(".")
            owner = self.paths.get(parent)
            if owner is None:
                continue
            notes.setdefault(id(owner), []).append(
                f"its child {name!r} is {ancestor or 'the model itself'} again (a module that contains itself); "
                "it is documented once, where it first appears"
            )
        return {key: "; ".join(sentences).capitalize() + "." for key, sentences in notes.items()}


def slots(module: nn.Module, store: str) -> list[tuple[object, object]]:
    """The (name, value) pairs of one of a module's slot stores (``"_parameters"``, ``"_buffers"``, ``"_modules"``).

    Read from the instance's ``__dict__``, never through the module's own ``__getattr__``. A
    scripted module keeps mapping-like wrappers there rather than dicts; their items are read too.
    """
    found = getattr(module, "__dict__", {}).get(store)
    if isinstance(found, dict):
        return list(found.items())
    items = getattr(found, "items", None)
    got = attempt(lambda: list(items()), f"reading {store}") if callable(items) else []
    return got if isinstance(got, list) else []


def own_tensors(module: nn.Module, store: str) -> list[tuple[str, torch.Tensor]]:
    """A module's own parameters (`store` ``"_parameters"``) or buffers (``"_buffers"``), Nones left out."""
    if QUICK_TENSORS:
        found = getattr(module, "__dict__", _NOTHING).get(store)
        if type(found) is dict:  # torch's own stores: read without the copy `slots` makes
            if not found:
                return []
            out = []
            for name, tensor in found.items():
                if isinstance(tensor, torch.Tensor):
                    local = _LOCAL_NAMES.get(name) if type(name) is str else None
                    out.append((_local_name(name) if local is None else local, tensor))
            return out
    return [(_local_name(name), t) for name, t in slots(module, store) if isinstance(t, torch.Tensor)]


QUICK_TENSORS = True
"""Whether `own_tensors` reads torch's plain dict stores without a copy and keeps the local names it has cleaned
(tests turn it off to compare with and without)."""
_NOTHING: dict[str, object] = {}
_LOCAL_NAMES: dict[str, str] = {}
"""The local names `_local_name` gave for plain text names (at most `_KEPT_NAMES`)."""
_KEPT_NAMES = 4096


def _local_name(name: object) -> str:
    """A slot's name as a local tensor name: cleaned, each dot shown as `DOT`."""
    local = clean(str(name)).replace(".", DOT)
    if QUICK_TENSORS and type(name) is str and len(_LOCAL_NAMES) < _KEPT_NAMES:
        _LOCAL_NAMES[name] = local
    return local


DOT = "\u2024"
"""ONE DOT LEADER: stands for a dot inside a name, so that a dotted path stays unambiguous."""


def _children(module: nn.Module) -> list[tuple[str, str, nn.Module]]:
    """(shown name, real name, child) of `module`'s registered children (``None`` and non-modules left out).

    torch's ``add_module`` refuses names with a dot, but ``_modules`` can be written directly;
    such a name is shown with `DOT` in place of each dot.
    """
    out = []
    for name, child in slots(module, "_modules"):
        if isinstance(child, nn.Module):
            real = clean(str(name))
            out.append((real.replace(".", DOT), real, child))
    return out


def walk(root: nn.Module) -> Tree:
    """Walk the module tree below `root` (see `Tree`)."""
    tree = Tree()
    budget = _EXTRA_VISITS
    # Each stack entry: (path, module, ids of its ancestors).
    stack: list[tuple[str, nn.Module, frozenset[int]]] = [("", root, frozenset())]
    while stack:
        path, module, ancestors = stack.pop()
        key = id(module)
        seen = key in tree.first
        if not seen:
            tree.first[key] = path
            tree.paths[path] = module
            tree.aliases[key] = [path]
            tree.children[key] = []
        elif len(tree.aliases[key]) < MAX_PATHS:
            tree.aliases[key].append(path)
        tree.visits.append((path, module))
        if seen:
            if budget <= 0:
                continue  # a shared subtree already walked: its other paths are not listed past the bound
            budget -= 1
        inside = ancestors | {key}
        pending = []
        for name, real, child in _children(module):
            child_path = f"{path}.{name}" if path else name
            if name != real and not seen:
                tree.renamed[child_path] = real
            if id(child) in inside:
                if not seen:
                    tree.cycles.append((child_path, _path_of(tree, child)))
                continue
            if not seen:
                tree.children[key].append((name, child))
            pending.append((child_path, child, inside))
        stack.extend(reversed(pending))
    return tree


def _path_of(tree: Tree, module: nn.Module) -> str:
    return tree.first.get(id(module), "")


__all__ = [
    "Failed",
    "Tree",
    "as_text",
    "attempt",
    "clean",
    "describe_error",
    "header_line",
    "own_tensors",
    "slots",
    "walk",
]
