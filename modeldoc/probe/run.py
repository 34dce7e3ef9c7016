"""Running the user's model once, and leaving it exactly as it came.

`Runner.build` runs one pass at given sizes of the named axes and returns what it saw, as
specs. `Runner._run` is the part that touches the user's model: hooks are prepended, every
module's train/eval mode saved, and on the meta device every parameter and buffer slot holds a
meta stand-in for the duration of the call (one per tensor object, so ties stay tied and a
module registered twice is swapped once); a pass with real values runs on copies of the
buffers. In ``finally:`` the hooks are removed, every module's attributes and slots are put
back from a snapshot taken before the pass (so what ``forward`` cached is gone too) and its
mode restored. A model with lazy modules is run through a deep copy so that it stays lazy.

Everything the user's code raises in ``forward`` is the pass's failure, ``SystemExit`` and
other ``BaseException``s included; only ``KeyboardInterrupt`` stops modeldoc. The user's code
runs inside the time budget (`modeldoc.probe.deadline`); the restoring never does. A pass with
real values is not run when its inputs would take more than `CPU_INPUT_BYTES`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import itertools
import operator
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import nn
from torch.utils.hooks import RemovableHandle

from modeldoc.probe import guard
from modeldoc.probe import replay as replay_module
from modeldoc.probe.deadline import Budget
from modeldoc.probe.inputs import Example
from modeldoc.probe.meta_kernels import meta_like
from modeldoc.probe.names import dtype_name, public_type
from modeldoc.probe.record import Recorder, Shape
from modeldoc.probe.resolve import Built, Failure, Resolver
from modeldoc.probe.values import WHY_UNKNOWN, Values
from modeldoc.spec import TraceSpec

CPU_INPUT_BYTES = 2 * 1024**3
"""The most bytes a pass with real values allocates for the example inputs (2 GiB)."""
KNOWN_INPUT_BYTES = 64 * 1024**2
"""Example inputs up to this size are made on the CPU for a meta pass too, so that the values that
depend on them alone can be computed (`modeldoc.probe.values`)."""
QUICK_RESTORE = True
"""Whether `_Saved` checks the containers that were empty with one truth test each and finds the other dicts a pass
changed in one sweep (tests turn it off to compare with and without)."""


@dataclass(frozen=True)
class Materialised:
    """The parameters a lazy module got on the probe's first call: local name to (shape, dtype, itemsize)."""

    tensors: Mapping[str, tuple[Shape, str, int]]


class Runner:
    """Runs the model once per call of `build`, on `device`, and turns what it saw into specs."""

    def __init__(
        self,
        module: nn.Module,
        tree: guard.Tree,
        *,
        device: str,
        lazy: bool,
        budget: Budget,
        weights: Mapping[int, torch.Tensor] | None = None,
    ) -> None:
        self.user = module
        self.tree = tree
        self.device = device
        self.lazy = lazy
        self.budget = budget
        self.weights = weights
        """For a model on the meta device: the materialised CPU tensor of each of its tensors, by id
        (`modeldoc.probe.materialise`); a pass with real values runs on them."""
        self.copy: tuple[nn.Module, guard.Tree] | None = None
        self.members: dict[int, Hashable] | None = None
        """The blocks of repeated structures (`modeldoc.probe.replay.group_keys`), found on the first pass."""
        self.classes: tuple[Example, dict[int, Hashable]] | None = None
        """The base pass's example, and its blocks that took one another's steps (`Replayer.classified`)."""
        self.saved: _Saved | None = None
        """The user's modules as they came, taken before the first pass; each pass puts them back to it."""
        self.tensors = tensors_of(tree)
        """The user's parameters and buffers as they came (each pass puts them back)."""
        self.real_device = str(next(iter(self.tensors), torch.empty(0)).device)
        if device == "cpu" and self.real_device == "meta":
            self.real_device = "cpu"

    def build(self, example: Example, sizes: Mapping[str, int], *, shapes_only: bool = False) -> Built:
        """One traced pass at `sizes` of the named axes (`shapes_only`: read for its steps and shapes alone)."""
        device = "meta" if self.device == "meta" else self.real_device
        if device != "meta" and example.nbytes(sizes) > CPU_INPUT_BYTES:
            return _not_run(
                f"the example inputs need {size_text(example.nbytes(sizes))} on {device}, more than the "
                f"{size_text(CPU_INPUT_BYTES)} a pass with real values may allocate for them",
                "give a smaller --input-shape, or a model that runs on the meta device",
                device,
            )
        if self.budget.expired:
            return _not_run(
                f"the probe timeout of {self.budget.seconds:g} s ran out before this pass",
                "make the forward pass finish sooner, or raise --probe-timeout (0 turns the limit off)",
                device,
            )
        # On meta, small inputs are made on the CPU first: their values are the shadows that let the
        # pass compute what depends on them alone (a padding mask, position ids).
        known = device == "meta" and example.nbytes(sizes) <= KNOWN_INPUT_BYTES
        target = guard.attempt(self._target, "copying the lazy model")
        if isinstance(target, guard.Failed):
            return _not_run(_copy_failed(target), "make the model deep-copyable to trace it", device)
        module, tree = target
        made = guard.attempt(lambda: example.make("cpu" if known else device, sizes), "making the example inputs")
        if isinstance(made, guard.Failed):
            return _not_run(made.sentence(), "check the example input options", device)
        values: list[tuple[torch.Tensor, torch.Tensor]] = []
        args, kwargs = _on_meta(made, values) if known else made
        replayer = self._replayer(example, shapes_only, device)
        recorder, error, where, stand_ins = self._run(module, tree, args, kwargs, values if known else None, replayer)
        if replayer is not None and replayer.classes is None:
            # the base pass: the blocks that took one another's steps are replayed in the passes at other sizes
            self.classes = (example, replayer.classified() if error is None else {})
        resolver = Resolver(
            tree,
            recorder,
            args,
            kwargs,
            device=device,
            budget=self.budget,
            stand_ins=stand_ins,
            shapes_only=shapes_only,
            light=replay_module.UNMADE,
        )
        built = resolver.resolve(error, where)
        if self.weights is not None:
            built = replace(built, trace=replace(built.trace, materialised=True))
        if device != "meta":
            _let_go(error)
        return built

    def _replayer(self, example: Example, shapes_only: bool, device: str) -> replay_module.Replayer | None:
        """The base pass observes the repeated blocks; a pass at other sizes of the same example replays them."""
        if device != "meta" or self.lazy or not replay_module.ENABLED:
            return None
        if not shapes_only:
            if self.members is None:
                self.members = replay_module.group_keys(self.tree)
            return replay_module.Replayer(self.tree, self.members, None) if self.members else None
        if self.classes is None or self.classes[0] is not example or not self.classes[1]:
            return None
        return replay_module.Replayer(self.tree, self.members or {}, self.classes[1], unmade=replay_module.UNMADE)

    def _target(self) -> tuple[nn.Module, guard.Tree]:
        """The module to run: the user's, or (for lazy models) a private copy that may materialise."""
        if not self.lazy:
            return self.user, self.tree
        if self.copy is None:
            twin = copy.deepcopy(self.user)
            if self.device == "meta":
                _to_meta(twin)
            self.copy = (twin, guard.walk(twin))
        return self.copy

    def _run(
        self,
        target: nn.Module,
        tree: guard.Tree,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        values: list[tuple[torch.Tensor, torch.Tensor]] | None,
        replayer: replay_module.Replayer | None = None,
    ) -> tuple[Recorder, BaseException | None, str, dict[int, torch.Tensor]]:
        """One pass; `values` pairs each meta example input with its values (None: the inputs have none).

        `replayer` observes or replays the repeated blocks (`modeldoc.probe.replay`).
        """
        modules = tree.modules()
        paths = {id(sub): path for path, sub in tree.paths.items()}
        types = {id(sub): public_type(type(sub)) for sub in modules}
        meta = self.device == "meta"
        recorder = Recorder(paths, types, budget=self.budget, meta=meta)
        modes = {id(sub): sub.training for sub in modules}
        saved = self._saved(target, modules)
        handles: list[RemovableHandle] = []
        placed: list[tuple[dict[int, Any], int]] = []
        error: BaseException | None = None
        where = ""
        stand_ins: dict[int, torch.Tensor] = {}
        if recorder.values is not None:
            _know_inputs(recorder.values, values)
        try:
            _hook(modules, recorder.pre, recorder.post, handles, placed)
            for sub in modules:
                _set_mode(sub, training=False)  # eval(), without a train() or __setattr__ the model may override
            if replayer is not None:
                replayer.install(recorder)
            if target is self.user:
                # The user's tensors are swapped out, each slot once: meta stand-ins on the meta device,
                # copies of the buffers for a real pass (so in-place updates cannot change the model's),
                # and the materialised tensors for a real pass over a model on the meta device.
                stand_ins = _swap(modules, self._stand_in)
                if recorder.values is not None:
                    _know_buffers(recorder.values, self.tensors, stand_ins)
            device = torch.device("meta") if meta else contextlib.nullcontext()
            # armed innermost: the time limit covers the user's code and nothing of the restoring
            with torch.no_grad(), device, recorder, self.budget.armed():
                recorder.output = target(*args, **kwargs)
        except (KeyboardInterrupt, GeneratorExit):
            raise  # Ctrl-C stops modeldoc; the model is still restored below
        except BaseException as err:  # whatever forward raised (SystemExit too) is the page's failure
            error = err
            where = recorder.fail()
        finally:
            for handle in handles:
                handle.remove()
            for table, key in placed:
                table.pop(key, None)
            saved.restore()
            for sub in modules:
                _set_mode(sub, training=modes[id(sub)])
        return recorder, error, where, stand_ins

    def _saved(self, target: nn.Module, modules: list[nn.Module]) -> _Saved:
        """The modules as they are before a pass, to be put back after it."""
        if target is not self.user:
            return _Saved(modules, containers=False)  # a lazy model's private twin may change
        if self.saved is None:  # taken once: each pass ends by putting the modules back exactly as it found them
            self.saved = _Saved(modules)
        return self.saved

    def _stand_in(self, tensor: torch.Tensor) -> torch.Tensor | None:
        """What takes `tensor`'s slot during a pass (None: the tensor itself)."""
        if self.device == "meta":
            return _meta_twin(tensor)
        if self.weights is not None and id(tensor) in self.weights:
            real = self.weights[id(tensor)]
            if isinstance(tensor, nn.Parameter):
                return nn.Parameter(real, requires_grad=tensor.requires_grad)
            return real.clone()  # a fresh copy per pass: what the pass writes into it is not kept
        return _buffer_copy(tensor)

    def materialised(self) -> dict[str, Materialised]:
        """Shapes the lazy parameters took in the private copy, by layer path."""
        if self.copy is None:
            return {}
        twin_tree = self.copy[1]
        out: dict[str, Materialised] = {}
        for path, sub in self.tree.paths.items():
            if not _uninitialised(sub):
                continue
            twin = twin_tree.paths.get(path)
            if twin is None:
                continue
            tensors = {
                name: (tuple(t.shape), dtype_name(t.dtype), t.element_size())
                for name, t in [*guard.own_tensors(twin, "_parameters"), *guard.own_tensors(twin, "_buffers")]
                if not nn.parameter.is_lazy(t)
            }
            out[path] = Materialised(tensors=tensors)
        return out


def size_text(nbytes: int) -> str:
    """``2.0 GiB``, ``512 B``."""
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"


def _copy_failed(failed: guard.Failed) -> str:
    """Why a lazy model could not be traced: its copy failed."""
    return f"the model has lazy modules, so it is traced through a copy, and {failed.sentence()}"


def _not_run(message: str, fix: str, device: str) -> Built:
    """A pass that was not run, and why."""
    failure = Failure(place="", message=message, fix=fix, ran=False)
    trace = TraceSpec(device=device, complete=False, error="", failed_in="")
    built = Built(trace=trace, calls={}, inputs=(), outputs=(), failure=failure)
    return replace(built, trace=replace(trace, error=built.sentence()))


def tensors_of(tree: guard.Tree) -> list[torch.Tensor]:
    """Every parameter and buffer once (lazy ones left out)."""
    seen: dict[int, torch.Tensor] = {}
    for store in ("_parameters", "_buffers"):
        for sub in tree.modules():
            for _, t in guard.own_tensors(sub, store):
                if not nn.parameter.is_lazy(t):
                    seen.setdefault(id(t), t)
    return list(seen.values())


def has_lazy(tree: guard.Tree) -> bool:
    """True when a module of `tree` is lazy and not yet initialised: the passes then run on a copy."""
    return any(_uninitialised(sub) for sub in tree.modules())


def _uninitialised(module: nn.Module) -> bool:
    """True for a lazy module whose first call has not happened yet."""
    own = [*guard.own_tensors(module, "_parameters"), *guard.own_tensors(module, "_buffers")]
    return any(nn.parameter.is_lazy(t) for _, t in own)


class _Saved:
    """Each module's attributes and its parameter, buffer and child slots, to be put back exactly.

    Whatever the pass changes in the user's modules (a tensor swapped in, an attribute or buffer
    the forward pass caches, a child it adds, a hook it registers, an entry it puts in a dict,
    list or set the module holds) is undone by `restore`, each slot once, the containers in place
    (`containers`; not for a lazy model's private copy, whose first call materialises it for the
    passes after it and removes the hook that did).

    With `QUICK_RESTORE`, the plain dicts, lists and sets that were empty (torch's hook tables,
    about ten a module) are kept in one list and checked with one truth test each, and the other
    plain dicts are compared in one flat sweep of identity tests (`_Sweep`) that finds those a pass
    changed; only they are gone over as without it. Both put back the same things in the same cases.
    """

    _STORES = ("_parameters", "_buffers", "_modules")

    def __init__(self, modules: list[nn.Module], *, containers: bool = True) -> None:
        self.quick = QUICK_RESTORE
        self.empty: list[dict[Any, Any] | list[Any] | set[Any]] = []
        """The plain containers that were empty (with `quick`): each is put back by emptying it."""
        self.entries: list[tuple[dict[Any, Any], dict[Any, Any]]] = []
        self.plain: list[tuple[dict[Any, Any], dict[Any, Any]]] = []
        """The plain dicts that were not empty (with `quick`): those the sweep finds changed are gone over."""
        for sub in modules:
            attrs = getattr(sub, "__dict__", None)
            if not isinstance(attrs, dict):
                continue
            self._keep(attrs)
            for name in self._STORES:
                store = attrs.get(name)
                if isinstance(store, dict):
                    self._keep(store)
        self.sets: list[tuple[set[Any], set[Any]]] = []
        self.lists: list[tuple[list[Any], list[Any]]] = []
        for sub in modules if containers else []:
            for name, value in getattr(sub, "__dict__", {}).items():
                if type(value) not in _CONTAINERS or name in self._STORES:
                    continue
                if self.quick and not value:
                    self.empty.append(value)
                else:
                    self._keep_container(value)
        self.sweep = _Sweep(self.plain)

    def _keep(self, current: dict[Any, Any]) -> None:
        """Save one dict: a plain one in `empty` or `plain` (with `quick`), any other in `entries`, with a copy."""
        if not self.quick or (type(current) is not dict and type(current) is not OrderedDict):
            self.entries.append((current, dict(current)))
        elif current:
            self.plain.append((current, dict(current)))
        else:
            self.empty.append(current)

    def _keep_container(self, value: dict[Any, Any] | list[Any] | set[Any]) -> None:
        """Save the contents of a plain dict, list or set a module holds (other values: with its attributes)."""
        if isinstance(value, dict):
            # a cache the forward fills in place (LeViT's attention biases by device), and torch's
            # hook tables: transformers installs its output-capturing hooks on the first call
            self._keep(value)
        elif isinstance(value, list):
            self.lists.append((value, list(value)))
        else:  # the non-persistent buffers' names too
            self.sets.append((value, set(value)))

    def restore(self) -> None:
        """Put every saved slot back to the object it held, and every dict, list and set its entries."""
        if any(self.empty):  # one truth test each, at C speed: nearly always none is filled
            for found in self.empty:
                if found:
                    found.clear()
        for current, saved in [*self.sweep.changed(), *self.entries]:
            if current.keys() != saved.keys() or any(current[k] is not v for k, v in saved.items()):
                current.clear()
                current.update(saved)
        for found, was in self.sets:
            if found != was:
                found.clear()
                found.update(was)
        for items, held in self.lists:
            if len(items) != len(held) or any(a is not b for a, b in zip(items, held, strict=True)):
                items[:] = held


_CONTAINERS = frozenset({dict, OrderedDict, list, set})
"""The kinds of attribute values whose contents `_Saved` puts back (exactly these types, not their subclasses)."""


class _Sweep:
    """The saved dicts' keys and values laid out flat, to find at C speed the dicts a pass changed."""

    def __init__(self, entries: list[tuple[dict[Any, Any], dict[Any, Any]]]) -> None:
        self.entries = entries
        self.currents = [current for current, _ in entries]
        self.sizes = [len(saved) for _, saved in entries]
        self.getters = [current.get for current, _ in entries]
        self.names = [tuple(saved) for _, saved in entries]
        self.values = tuple(itertools.chain.from_iterable(saved.values() for _, saved in entries))
        self.owners = tuple(
            itertools.chain.from_iterable(itertools.repeat(i, len(saved)) for i, (_, saved) in enumerate(entries))
        )
        """The index of the entry each flat value belongs to."""

    def changed(self) -> list[tuple[dict[Any, Any], dict[Any, Any]]]:
        """The entries whose dict has another size, or lacks a key, or holds another object under one."""
        resized = itertools.compress(range(len(self.sizes)), map(operator.ne, map(len, self.currents), self.sizes))
        missing = itertools.repeat(itertools.repeat(_GONE))
        now = itertools.chain.from_iterable(map(map, self.getters, self.names, missing))
        replaced = itertools.compress(self.owners, map(operator.is_not, now, self.values))
        return [self.entries[i] for i in sorted({*resized, *replaced})]


_GONE = object()
"""What a dict that lost a key holds under it, for the sweep: never a saved value."""


DIRECT_HOOKS = True
"""Put the recorder's hooks straight into each module's hook tables (tests compare with torch's ``register_*``)."""

_HOOK_TABLES = ("_forward_pre_hooks", "_forward_pre_hooks_with_kwargs", "_forward_hooks", "_forward_hooks_with_kwargs")
_PRE_HOOK = nn.Module.register_forward_pre_hook
_HOOK = nn.Module.register_forward_hook


def _hook(
    modules: list[nn.Module],
    pre: Callable[..., Any],
    post: Callable[..., Any],
    handles: list[RemovableHandle],
    placed: list[tuple[dict[int, Any], int]],
) -> None:
    """`pre` as each module's first forward pre-hook and `post` as its last forward hook, both given the kwargs.

    Placed as ``register_forward_pre_hook(pre, with_kwargs=True, prepend=True)`` and
    ``register_forward_hook(post, with_kwargs=True)`` place them, under keys taken from the same
    counter, without a handle per hook (a pass hooks every module). First, so a lazy module's own
    initialising hook runs inside its recorded call. A module whose tables are not torch's own,
    or whose class registers hooks its own way, is hooked through those calls. A scripted module
    takes no hooks: its calls run as one step. Adds to `handles`, and to `placed` the (table, key)
    entries to remove after the pass (even when hooking stops part way).
    """
    for sub in modules:
        if isinstance(sub, torch.jit.ScriptModule):
            continue
        attrs = getattr(sub, "__dict__", None)
        found = [attrs.get(name) for name in _HOOK_TABLES] if isinstance(attrs, dict) else []
        tables: list[OrderedDict[int, Any]] = [table for table in found if type(table) is OrderedDict]
        kind = type(sub)
        own = kind.register_forward_pre_hook is not _PRE_HOOK or kind.register_forward_hook is not _HOOK
        if not DIRECT_HOOKS or own or len(tables) != len(_HOOK_TABLES):
            handles.append(sub.register_forward_pre_hook(pre, with_kwargs=True, prepend=True))
            handles.append(sub.register_forward_hook(post, with_kwargs=True))
            continue
        pres, pres_kwargs, posts, posts_kwargs = tables
        first = RemovableHandle.next_id
        RemovableHandle.next_id += 2
        pres[first] = pre
        pres.move_to_end(first, last=False)
        pres_kwargs[first] = True
        posts[first + 1] = post
        posts_kwargs[first + 1] = True
        placed += [(pres, first), (pres_kwargs, first), (posts, first + 1), (posts_kwargs, first + 1)]


def _let_go(error: BaseException | None) -> None:
    """After a pass on real values, its tensors are let go at once, even those that only garbage cycles hold.

    The error's traceback holds the model's frames and their tensors in a cycle (the frame that
    caught it holds the error), and describing collects cycles seldom (`modeldoc.pipeline`): a
    failed pass of a large model on the CPU would hold gigabytes until the end. While describing,
    the older objects are frozen and a full run walks only what describing made; otherwise (a
    pass run on its own) the young generations are enough, and a full run would walk the process.
    """
    if error is not None:
        error.__traceback__ = None
    gc.collect(2 if gc.get_freeze_count() else 1)


def _set_mode(module: nn.Module, *, training: bool) -> None:
    """Set `module.training` in its ``__dict__`` (the model's ``__setattr__`` may refuse).

    A scripted module keeps the flag elsewhere and is set through its own ``__setattr__``.
    """
    attrs = getattr(module, "__dict__", {})
    if "training" in attrs and not isinstance(module, torch.jit.ScriptModule):
        attrs["training"] = training
    else:
        guard.attempt(lambda: setattr(module, "training", training), "setting the training flag")


def _swap(modules: list[nn.Module], make: Callable[[torch.Tensor], torch.Tensor | None]) -> dict[int, torch.Tensor]:
    """Put `make(tensor)` in every slot that holds a parameter or buffer, one stand-in per tensor object.

    Tied and shared tensors stay tied: every slot that holds the same tensor gets the same stand-in.
    `make` returning None leaves that tensor in place. `_Saved.restore` puts the originals back.
    Returns the stand-ins by the id of the tensor they stand in for.
    """
    stand_ins: dict[int, torch.Tensor | None] = {}
    for sub in modules:
        for store_name in ("_parameters", "_buffers"):
            store = getattr(sub, "__dict__", {}).get(store_name)
            if not isinstance(store, dict):
                continue
            for name, tensor in list(store.items()):
                if not isinstance(tensor, torch.Tensor):
                    continue
                if id(tensor) not in stand_ins:
                    stand_ins[id(tensor)] = make(tensor)
                twin = stand_ins[id(tensor)]
                if twin is not None:
                    store[name] = twin
    return {key: twin for key, twin in stand_ins.items() if twin is not None}


@contextlib.contextmanager
def lent(modules: list[nn.Module], weights: Mapping[int, torch.Tensor]) -> Iterator[dict[int, Callable[[], Any]]]:
    """Inside the block, `weights` (tensors by the id of the tensor they stand for) sit in the modules' slots.

    Yields, for each id, a function that reads what its first slot holds now (code run inside the
    block may put a new tensor there). Every slot and attribute is put back on leaving.
    """
    saved = _Saved(modules)
    places: dict[int, Callable[[], Any]] = {}
    for sub in modules:
        for store_name in ("_parameters", "_buffers"):
            store = getattr(sub, "__dict__", {}).get(store_name)
            if isinstance(store, dict):
                for name, tensor in store.items():
                    if isinstance(tensor, torch.Tensor) and id(tensor) in weights and id(tensor) not in places:
                        places[id(tensor)] = functools.partial(store.get, name)

    def make(tensor: torch.Tensor) -> torch.Tensor | None:
        real = weights.get(id(tensor))
        if real is None or not isinstance(tensor, nn.Parameter):
            return real
        return nn.Parameter(real, requires_grad=tensor.requires_grad)

    try:
        _swap(modules, make)
        yield places
    finally:
        saved.restore()


def _on_meta(
    made: tuple[tuple[Any, ...], dict[str, Any]], values: list[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The example inputs moved to the meta device; each (meta input, its values) pair is added to `values`."""

    def convert(tensor: torch.Tensor) -> torch.Tensor:
        if tensor.is_meta:
            return tensor
        twin = torch.empty_like(tensor, device="meta")
        values.append((twin, tensor))
        return twin

    args, kwargs = pytree.tree_map_only(torch.Tensor, convert, made)
    return tuple(args), dict(kwargs)


def _know_inputs(known: Values, values: list[tuple[torch.Tensor, torch.Tensor]] | None) -> None:
    """Each meta example input gets its values as its shadow; None: the inputs have none (too big to make)."""
    if values is None:
        known.why = WHY_UNKNOWN
    for meta_tensor, value in values or []:
        known.know(meta_tensor, value)


def _know_buffers(values: Values, tensors: list[torch.Tensor], stand_ins: Mapping[int, torch.Tensor]) -> None:
    """Copies of a real model's buffers are the shadows of their meta stand-ins (its weights are not).

    Copies: what the pass writes into a buffer (a call counter) is computed on its shadow, which
    must not be the model's own tensor. Only buffers small enough to compute beside the pass are copied.
    """
    for tensor in tensors:
        twin = stand_ins.get(id(tensor))
        if twin is None or tensor.is_meta or isinstance(tensor, nn.Parameter) or tensor.numel() > values.limit:
            continue
        values.know(twin, tensor.detach().clone())


def _buffer_copy(tensor: torch.Tensor) -> torch.Tensor | None:
    """A copy of a buffer for a pass with real values; parameters are used as they are."""
    if isinstance(tensor, nn.Parameter) or nn.parameter.is_lazy(tensor):
        return None
    return tensor.clone()


def _to_meta(module: nn.Module) -> None:
    """Move a private copy to the meta device, keeping lazy parameters lazy (``.to`` would empty them)."""
    _swap(guard.walk(module).modules(), _meta_twin)


def _meta_twin(tensor: torch.Tensor) -> torch.Tensor:
    if isinstance(tensor, nn.UninitializedParameter):
        return nn.UninitializedParameter(requires_grad=tensor.requires_grad, device="meta", dtype=tensor.dtype)  # type: ignore[call-arg]
    if isinstance(tensor, nn.UninitializedBuffer):
        return nn.UninitializedBuffer(requires_grad=tensor.requires_grad, device="meta", dtype=tensor.dtype)  # type: ignore[call-arg]
    twin = meta_like(tensor)
    return nn.Parameter(twin, requires_grad=tensor.requires_grad) if isinstance(tensor, nn.Parameter) else twin
