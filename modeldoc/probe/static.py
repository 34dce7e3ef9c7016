"""The module tree read without running the model: layers, parameters, arguments, docstrings, totals.

Each module becomes a `LayerSpec` with what can be read from it at rest: its type, the line
``print(model)`` shows, its docstring, its constructor arguments (`modeldoc.probe.arguments`),
its parameters and buffers (tied ones named once), and its parameter count. Shapes, calls and
costs come from the probe; `modeldoc.probe.collect` adds them. The user's module is only read,
and every call into the user's code (``repr``, ``extra_repr``, attributes read as constructor
arguments, docstrings) goes through `modeldoc.probe.guard`: what cannot be read is said on the
page, and the build goes on.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import inspect
import weakref
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import torch
from torch import nn

from modeldoc.probe import arguments, guard
from modeldoc.probe.names import dtype_name, public_type
from modeldoc.spec import LayerSpec, ParamSpec

MEMOIZE = True
"""Whether parameter counts are worked out bottom-up in one pass and what comes from a class alone once per
class (tests turn it off to compare with and without)."""
TENSORS_ONCE = True
"""Whether each module's own parameters and buffers are listed once per reading, for the tensor names, the
totals and its layer, rather than once for each (tests turn it off to compare with and without)."""
FAST_SPECS = True
"""Whether the layer and tensor specs are made without their frozen ``__init__`` (`_new`), the records of the
constructor arguments once for each class and values (`arguments.collect_kept`), a leaf's line without asking for its
children, and a tensor's one name or a module's one path taken as such (tests turn it off to compare)."""
TENSOR_TABLE = True
"""Whether each module's tensors are listed once up front in one table, and the parameter counts summed child by
child where no module and no parameter is held twice (tests turn it off to compare with and without)."""
TORCH_DOCS = "https://docs.pytorch.org/docs/stable/generated/{name}.html"


@dataclass(frozen=True)
class StaticModel:
    """What the module tree says without running the model: its layers, totals and printed form."""

    name: str
    type: str
    docstring: str
    """The model class's own docstring, or even a torch class's (for the model page)."""
    print_text: str
    """What ``print(model)`` shows, or why it could not be read."""
    root: LayerSpec
    layers: tuple[LayerSpec, ...]
    """Every module below the root, in the order ``named_modules()`` gives."""
    totals: Mapping[str, Any]
    """The `ModelSpec` totals: parameters, frozen parameters, buffer elements, bytes by dtype."""
    warnings: tuple[str, ...] = ()


def read_model(
    module: nn.Module, tree: guard.Tree, probed: Callable[[str], Mapping[str, Any]] | None = None
) -> StaticModel:
    """Read `module` (walked as `tree`) without running it: layers, parameters, arguments, docstrings.

    `probed` gives the fields of the layer at a path that the probe saw (its shapes, calls and
    costs), for each layer to be made with them at once.
    """
    table = _Table.read(tree) if TENSOR_TABLE and TENSORS_ONCE else None
    own = table.lister() if table is not None else _own_lister(tree)
    if table is not None:
        names_of = table.names(tree)
    else:
        names_of = _tensor_names(tree, own) if TENSORS_ONCE else tree.tensor_names()
    first_name = {key: names[0] for key, names in names_of.items()}
    cycles = tree.cycle_notes()
    totals = None
    if MEMOIZE:
        sums = table.subtree_sums(tree, names_of) if table is not None else None
        totals = sums if sums is not None else _subtree_totals(tree, own)
    unread: list[str] = []
    layers = []
    kept: dict[Any, Any] = {}  # the records of the arguments, by class and values (`arguments.collect_kept`)
    for path, sub in tree.paths.items():
        total = totals[id(sub)] if totals is not None else sum(p.numel() for p in _unique_parameters(tree, sub, own))
        seen = probed(path) if probed else {}
        layer = _layer(sub, path, tree, names_of, first_name, unread, total, own, seen, kept)
        if id(sub) in cycles:
            layer = _with_note(layer, cycles[id(sub)])
        if path in tree.renamed:
            layer = _with_note(
                layer,
                f"It is registered under the name {tree.renamed[path]!r}, which contains a dot (torch's "
                f"add_module refuses such names); it is shown with {guard.DOT!r} in place of each dot so that "
                "paths stay unambiguous.",
            )
        layers.append(layer)
    root, *rest = layers
    cls = type(module)
    root_doc = root.docstring or _docstring(cls, "")  # even a torch class's, for the model page
    printed = guard.attempt(lambda: guard.as_text(repr(module)), "print(model)")
    if isinstance(printed, guard.Failed):
        unread.append(printed.sentence())
    warnings: tuple[str, ...] = ()
    if tree.cycles:
        first = tree.cycles[0][0] or "the model"
        warnings += (
            f"{len(tree.cycles)} module(s) contain one of their own ancestors (first: {first}); "
            "each module is documented once, where it first appears",
        )
    if unread:
        warnings += (_unread_warning(unread),)
    return StaticModel(
        name=cls.__name__,
        type=public_type(cls),
        docstring=root_doc if isinstance(root_doc, str) else "",
        print_text=printed.placeholder() if isinstance(printed, guard.Failed) else printed,
        root=root,
        layers=tuple(rest),
        totals=_totals(tree, own, table),
        warnings=warnings,
    )


def _unread_warning(unread: list[str]) -> str:
    shown = "; ".join(unread[:3])
    more = f"; and {len(unread) - 3} more" if len(unread) > 3 else ""
    return (
        f"the model's own code raised while modeldoc read it ({shown}{more}); "
        "the pages show what could not be read and why, and everything else"
    )


def doc_url(cls: type) -> str:
    """The PyTorch reference page of a torch.nn class, else ``""``."""
    public = public_type(cls)
    return TORCH_DOCS.format(name=public) if public.startswith("torch.nn.") else ""


def _with_note(layer: LayerSpec, note: str) -> LayerSpec:
    return replace(layer, notes=(*layer.notes, note))


def _layer(
    sub: nn.Module,
    path: str,
    tree: guard.Tree,
    names_of: dict[int, list[str]],
    first_name: dict[int, str],
    unread: list[str],
    total: int,
    lister: _Lister,
    probed: Mapping[str, Any],
    kept: dict[Any, Any],
) -> LayerSpec:
    name = path or "the model"
    kids = tree.children.get(id(sub), [])
    children = () if FAST_SPECS and not kids else tuple(f"{path}.{child}" if path else child for child, _ in kids)
    params = _own_tensors(sub, path, names_of, first_name, lister) + arguments.computed_tensors(sub, path)
    cls = type(sub)
    parent = path.rsplit(".", 1)[0] if "." in path else ("" if path else None)
    own = sum(p.numel for p in params if p.counted and not p.is_buffer) if params or not FAST_SPECS else 0
    notes: list[str] = []
    if FAST_SPECS and _no_children(sub):  # a leaf: its whole repr, as guard.header_line reads it
        line = guard.attempt(lambda: guard.as_text(repr(sub)), f"repr({path or 'model'})")
    else:
        line = guard.header_line(sub, path or "model")
    if isinstance(line, guard.Failed):
        unread.append(line.sentence())
        notes.append(f"The line `print(model)` shows for {name} could not be read: {line.sentence()}.")
    collected = arguments.collect_kept(sub, path, kept) if FAST_SPECS else arguments.collect_all(sub, path)
    for failure in collected.failures:
        unread.append(failure.sentence())
        notes.append(f"A constructor argument could not be read: {failure.sentence()}.")
    facts = _class_facts(cls)
    docstring = ""
    if not facts.type.startswith("torch."):
        doc = _docstring(cls, path)
        if isinstance(doc, guard.Failed):
            unread.append(doc.sentence())
            notes.append(f"The docstring of {name} could not be read: {doc.sentence()}.")
        else:
            docstring = doc
    return _new(
        LayerSpec,
        path=path,
        type=facts.type,
        type_name=cls.__name__,
        repr=line.placeholder() if isinstance(line, guard.Failed) else line,
        depth=path.count(".") + 1 if path else 0,
        parent=parent,
        children=tuple(c for c in children if c in tree.paths) if children else (),
        aliases=_aliases(tree, sub, path),
        doc_url=facts.doc_url,
        docstring=docstring,
        hyperparameters=collected.hyperparameters,
        unknown_arguments=collected.unknown,
        parameters=params,
        own_params=own,
        total_params=total,
        notes=tuple(notes),
        bases=facts.bases,
        **probed,
    )


def _no_children(module: nn.Module) -> bool:
    """True when `module` keeps its children in a plain dict that is empty: `guard.header_line` finds none."""
    found = getattr(module, "__dict__", {}).get("_modules")
    return type(found) is dict and not found


def _aliases(tree: guard.Tree, module: nn.Module, path: str) -> tuple[str, ...]:
    """The other paths `module` is registered under."""
    paths = tree.aliases.get(id(module), [])
    if FAST_SPECS and len(paths) == 1 and paths[0] == path:
        return ()
    return tuple(a for a in paths if a != path)


@dataclass(frozen=True)
class _ClassFacts:
    """What a layer's page takes from its class alone (not its docstring, which a class may change)."""

    type: str
    doc_url: str
    bases: tuple[str, ...]


_FACTS: weakref.WeakKeyDictionary[type, _ClassFacts] = weakref.WeakKeyDictionary()


def _class_facts(cls: type) -> _ClassFacts:
    """The facts of `cls`, worked out once per class (an 80-block model has 80 layers of each class)."""
    if MEMOIZE:
        with contextlib.suppress(TypeError):  # a class that cannot be weakly referenced is read each time
            kept = _FACTS.get(cls)
            if kept is not None:
                return kept
    facts = _ClassFacts(
        type=public_type(cls),
        doc_url=doc_url(cls),
        bases=tuple(public_type(base) for base in cls.__mro__[1:] if base not in (nn.Module, object)),
    )
    if MEMOIZE:
        with contextlib.suppress(TypeError):
            _FACTS[cls] = facts
    return facts


_Spec = TypeVar("_Spec", LayerSpec, ParamSpec)
_DEFAULTS: dict[type, tuple[dict[str, Any], frozenset[str]]] = {}
"""The defaults and the field names of `LayerSpec` and `ParamSpec` (none has a default factory, a field left out of its
``__init__`` or a ``__post_init__``: checked when first made)."""


def _new(kind: type[_Spec], /, **fields: Any) -> _Spec:
    """``kind(**fields)``, without its frozen ``__init__``, which sets each field through ``object.__setattr__`` (slow).

    The fields not given take their defaults; a name that is no field of `kind` raises, as the
    ``__init__`` would.
    """
    if not FAST_SPECS:
        return kind(**fields)
    known = _DEFAULTS.get(kind)
    if known is None:
        known = _DEFAULTS[kind] = _defaults(kind)
    defaults, names = known
    state = defaults.copy()
    state.update(fields)
    if state.keys() != names:
        wrong = sorted(set(fields) ^ (names - defaults.keys()) - defaults.keys())
        raise TypeError(f"{kind.__name__}: a field not given or not known: {wrong}")
    made = object.__new__(kind)
    object.__setattr__(made, "__dict__", state)
    return made


def _defaults(kind: type) -> tuple[dict[str, Any], frozenset[str]]:
    """Each field of the frozen dataclass `kind` that has a default → that default, and the names of all its fields."""
    if hasattr(kind, "__post_init__"):
        raise TypeError(f"{kind.__name__} has a __post_init__: it is made through its __init__")
    found: dict[str, Any] = {}
    for item in dataclasses.fields(kind):
        if not item.init or item.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{kind.__name__}.{item.name} is no plain field: it is made through its __init__")
        if item.default is not dataclasses.MISSING:
            found[item.name] = item.default
    return found, frozenset(item.name for item in dataclasses.fields(kind))


_Lister = Callable[[nn.Module, str], list[tuple[str, torch.Tensor]]]
"""`guard.own_tensors`, or what it gave for the module the first time in this reading."""


class _Table:
    """Each module's own parameters and buffers, listed once for the whole reading (`TENSOR_TABLE`)."""

    def __init__(self, tree: guard.Tree) -> None:
        self.stores: dict[str, dict[int, list[tuple[str, torch.Tensor]]]] = {"_parameters": {}, "_buffers": {}}
        for store, lists in self.stores.items():
            for module in tree.paths.values():
                lists[id(module)] = guard.own_tensors(module, store)
        below = [child for kids in tree.children.values() for _, child in kids]
        self.plain = len(below) == len(tree.paths) - 1 and len({id(child) for child in below}) == len(below)
        """Whether each module but the root is the child of one module, once: the tree holds no module twice."""
        self.order = [id(module) for module in tree.paths.values()]

    @classmethod
    def read(cls, tree: guard.Tree) -> _Table:
        return cls(tree)

    def lister(self) -> _Lister:
        """`guard.own_tensors`, as this table lists it."""
        stores = self.stores

        def own(module: nn.Module, store: str) -> list[tuple[str, torch.Tensor]]:
            found = stores[store].get(id(module))
            return guard.own_tensors(module, store) if found is None else found

        return own

    def names(self, tree: guard.Tree) -> dict[int, list[str]]:
        """`guard.Tree.tensor_names`, each module's tensors taken from the table."""
        names: dict[int, list[str]] = {}
        for lists in self.stores.values():
            for path, module in tree.visits:
                found = lists[id(module)]
                if found:
                    for local, tensor in found:
                        names.setdefault(id(tensor), []).append(f"{path}.{local}" if path else local)
        return names

    def subtree_sums(self, tree: guard.Tree, names_of: dict[int, list[str]]) -> dict[int, int] | None:
        """`_subtree_totals` summed child by child, for a plain tree whose every parameter has one name, else None.

        Then no subtree holds a parameter twice, and each module's count is its own parameters'
        and its children's counts added up.
        """
        params = self.stores["_parameters"]
        if not self.plain or any(len(names_of[id(t)]) != 1 for found in params.values() for _, t in found):
            return None
        sums: dict[int, int] = {}
        for key in reversed(self.order):  # the paths come parents first: children are summed before them
            own = 0
            for _, tensor in params[key]:
                kind = type(tensor)
                if kind is nn.Parameter or kind is torch.Tensor or not isinstance(tensor, _LAZY_PARAMETER):
                    own += tensor.numel()
            sums[key] = own + sum(sums[id(child)] for _, child in tree.children.get(key, ()))
        return sums

    def unique(self, lazy: type) -> list[torch.Tensor]:
        """`_unique` of the root, for a plain tree: the paths' order is the walk's below the root."""
        store = "_parameters" if lazy is _LAZY_PARAMETER else "_buffers"
        seen: dict[int, torch.Tensor] = {}
        for found in self.stores[store].values():
            for _, tensor in found:
                if not isinstance(tensor, lazy):
                    seen.setdefault(id(tensor), tensor)
        return list(seen.values())


_LAZY_PARAMETER = nn.parameter.UninitializedParameter


def _own_lister(tree: guard.Tree) -> _Lister:
    """`guard.own_tensors` for the modules of `tree`, each module's two lists read once (`TENSORS_ONCE`).

    The lists are read when first asked for: reading a model runs none of its code that changes it.
    """
    if not TENSORS_ONCE:
        return guard.own_tensors
    kept: dict[tuple[int, str], list[tuple[str, torch.Tensor]]] = {}

    def own(module: nn.Module, store: str) -> list[tuple[str, torch.Tensor]]:
        key = (id(module), store)
        found = kept.get(key)
        if found is None:
            found = kept[key] = guard.own_tensors(module, store)
        return found

    return own


def _tensor_names(tree: guard.Tree, own: _Lister) -> dict[int, list[str]]:
    """`guard.Tree.tensor_names`, each module's tensors listed by `own`."""
    names: dict[int, list[str]] = {}
    for store in ("_parameters", "_buffers"):
        for path, module in tree.visits:
            for local, tensor in own(module, store):
                names.setdefault(id(tensor), []).append(f"{path}.{local}" if path else local)
    return names


def _own_tensors(
    sub: nn.Module, path: str, names_of: dict[int, list[str]], first_name: dict[int, str], own: _Lister
) -> tuple[ParamSpec, ...]:
    out = []
    parameters, buffers = own(sub, "_parameters"), own(sub, "_buffers")
    if FAST_SPECS and not parameters and not buffers:
        return ()
    persistent_skip = getattr(sub, "__dict__", {}).get("_non_persistent_buffers_set", set())
    entries: list[tuple[str, torch.Tensor, bool]] = [(n, t, False) for n, t in parameters]
    entries += [(n, t, True) for n, t in buffers]
    for local, tensor, is_buffer in entries:
        qualified = f"{path}.{local}" if path else local
        names = names_of.get(id(tensor), [])
        if FAST_SPECS and len(names) == 1 and names[0] == qualified:  # the tensor's one name: tied with none
            others: tuple[str, ...] = ()
        else:
            others = tuple(n for n in names if n != qualified)
        counted = first_name.get(id(tensor), qualified) == qualified
        # a lazy module's parameter has no shape until its first call (a plain tensor or parameter is none)
        kind = type(tensor)
        lazy = (
            False
            if FAST_SPECS and (kind is nn.Parameter or kind is torch.Tensor)
            else isinstance(tensor, nn.UninitializedParameter | nn.UninitializedBuffer)
        )
        numel = 0 if lazy else tensor.numel()
        out.append(
            _new(
                ParamSpec,
                name=qualified,
                local_name=local,
                shape=() if lazy else tuple(tensor.shape),
                lazy=lazy,
                dtype=_dtype_name(tensor.dtype),
                numel=numel,
                nbytes=0 if lazy else numel * tensor.element_size(),
                trainable=bool(tensor.requires_grad) and not is_buffer,
                is_buffer=is_buffer,
                persistent=local not in persistent_skip,
                tied_with=others,
                counted=counted,
            )
        )
    return tuple(out)


_DTYPE_NAMES: dict[torch.dtype, str] = {}


def _dtype_name(dtype: torch.dtype) -> str:
    """`dtype_name`, each dtype's worked out once (`FAST_SPECS`)."""
    if not FAST_SPECS:
        return dtype_name(dtype)
    found = _DTYPE_NAMES.get(dtype)
    if found is None:
        found = _DTYPE_NAMES[dtype] = dtype_name(dtype)
    return found


def _subtree_totals(tree: guard.Tree, own: _Lister) -> dict[int, int]:
    """Each module's parameter count with everything below it, each tensor once, lazy ones left out (by module id).

    Worked out bottom-up in one pass, each module's own parameters read once: the same numbers as
    `_unique_parameters` gives module by module, without walking each subtree again.
    """
    below: dict[int, dict[int, int]] = {}  # module id → the numel of each tensor in its subtree, by tensor id
    root = tree.paths[""]
    stack: list[tuple[nn.Module, bool]] = [(root, False)]
    while stack:
        module, done = stack.pop()
        key = id(module)
        if key in below:
            continue
        children = [child for _, child in tree.children.get(key, [])]
        if not done:
            stack.append((module, True))
            stack.extend((child, False) for child in reversed(children) if id(child) not in below)
            continue
        found = {
            id(tensor): tensor.numel()
            for _, tensor in own(module, "_parameters")
            if not isinstance(tensor, nn.parameter.UninitializedParameter)
        }
        for child in children:
            found.update(below.get(id(child), {}))
        below[key] = found
    return {key: sum(found.values()) for key, found in below.items()}


def _unique_parameters(tree: guard.Tree, module: nn.Module, own: _Lister) -> list[torch.Tensor]:
    """The parameters of `module`'s subtree, each tensor once, lazy ones left out."""
    return _unique(tree, module, "_parameters", nn.parameter.UninitializedParameter, own)


def _unique(tree: guard.Tree, module: nn.Module, store: str, lazy: type, own: _Lister) -> list[torch.Tensor]:
    seen: dict[int, torch.Tensor] = {}
    for sub in tree.subtree(module):
        for _, tensor in own(sub, store):
            if not isinstance(tensor, lazy):
                seen.setdefault(id(tensor), tensor)
    return list(seen.values())


def _totals(tree: guard.Tree, own: _Lister, table: _Table | None = None) -> dict[str, Any]:
    root = tree.paths[""]
    if table is not None and table.plain:
        params, buffers = table.unique(nn.parameter.UninitializedParameter), table.unique(nn.UninitializedBuffer)
    else:
        params = _unique_parameters(tree, root, own)
        buffers = _unique(tree, root, "_buffers", nn.parameter.UninitializedBuffer, own)
    by_dtype: dict[str, int] = defaultdict(int)
    for tensor in [*params, *buffers]:
        by_dtype[dtype_name(tensor.dtype)] += tensor.numel() * tensor.element_size()
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return {
        "total_params": total,
        "trainable_params": trainable,
        "frozen_params": total - trainable,
        "buffer_elements": sum(b.numel() for b in buffers),
        "bytes_by_dtype": dict(by_dtype),
        "param_bytes": sum(by_dtype.values()),
    }


def _docstring(cls: type, path: str) -> str | guard.Failed:
    """The class's own docstring (not one it inherits), ``""`` when it has none, or why reading it failed.

    It is read through ``__doc__`` as ``inspect.getdoc`` does, so a metaclass property runs (and may raise).
    """
    if MEMOIZE and type(cls) is type:  # no metaclass of the user's: nothing of theirs runs
        own = cls.__dict__.get("__doc__")
        if own is None or type(own) is str:
            return _cleaned_doc(own) if own else ""

    def read() -> str:
        if "__doc__" not in cls.__dict__:
            return ""
        own = cls.__doc__
        return guard.clean(inspect.cleandoc(own)) if isinstance(own, str) else ""

    return guard.attempt(read, f"reading the docstring of {path or 'the model'}")


@functools.lru_cache(maxsize=1024)
def _cleaned_doc(text: str) -> str:
    """A docstring as the page shows it, kept for the next layer of its class."""
    return guard.clean(inspect.cleandoc(text))
