"""Repeated blocks on the meta device: each kind of block runs once per pass, the others are replayed.

LLaMA's 80 decoder blocks take the same steps on tensors of the same sizes. On the meta device
nothing but sizes flows, so a block that took the same steps as another in the base pass gets,
in the passes that follow at other sizes (`modeldoc.probe.symbolic`), a copy of the other's
record (its ops and the module calls inside it, on the block's own parameters and inputs, with
fresh meta tensors for what it makes) instead of running its forward. The record then holds
every block, as if each had run, at the cost of one per kind.

The base pass proves it (`Replayer` observing): every block runs, and the blocks of one
structure (`group_keys`: the same child names and types, parameter and buffer names, shapes,
dtypes and ``requires_grad``, ties, and plain attributes, except an integer that differs in
every block, a layer index) are sorted into classes by the steps they recorded (ops, arguments,
sizes, wiring, relative to the block). A later pass then runs the first block of each class and
replays the others of its class called with inputs of the same sizes; the values the leader
assumed (`modeldoc.probe.values`: a router's top-k) are part of its steps, and each replay
assumes them again. A block is never replayed when it returned known values or objects other
than tensors and plain values, read a tensor from outside itself that is not an input, was
called before, or shares a module with another block; the passes with real values, and models
with lazy modules, run every block.

Those later passes are read only for their steps and shapes (`modeldoc.probe.resolve.Built.matched_shapes`),
and a replayed block's shapes are its leader's: so there (`UNMADE`) a replayed block's ops are not
made at all. Its places in the list of ops hold an `Unmade`, which the resolver reads as the
leader's ops on the block's tensors (`Ghost`s for what it makes); only its output is made, for
the model's code to go on with, and its module calls, for their shapes.
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import nn

from modeldoc.probe import guard, ops
from modeldoc.probe.record import Calls, ModuleCall, RawOp, Recorder

logger = logging.getLogger(__name__)

ENABLED = True
"""Replay repeated blocks (tests turn it off to compare the records with and without)."""

UNMADE = True
"""In a pass read only for its shapes, leave a replayed block's record unmade (`Unmade`): its
leader's ops stand for its own (tests turn it off to compare the descriptions with and without)."""

QUICK = True
"""Observe the repeated blocks through quicker forms: each op's step built with the common kinds of
arguments read in place (`_Steps.add_ops_quick`), each tensor's and path's form found once, the
walked ops kept for `_share`, `group_keys` reading each module once, and each block sorted among
the distinct steps of its structure as it is recorded (`_kind`: its steps are still fresh in memory).
The very same steps, keys, classes and descriptions (tests turn it off to compare them with and without)."""

QUICK_REPLAY = True
"""Replay through quicker forms: a block's inputs' `_signature` read in place when they hold only plain
tuples, lists, dicts, tensors and plain values (`_signature_quick`), each block's subtree and its
paths found once per pass in one list (`_untouched`, `_owned`), each leader's module calls and
tensor places sorted once (`_Template`), and a block's places found without generators (`_places`).
The very same replays and records (tests turn it off to compare them with and without)."""

_UNSEEN = object()
"""What a look-up finds for a value not seen yet (never a value itself)."""
_PLAIN = (bool, int, float, str, type(None))
_PLAIN_TYPES = frozenset(_PLAIN)
_SKIPPED_ATTRIBUTES = frozenset({"forward", *nn.Module().__dict__})
"""torch's own slots of every module (its mode, hooks, stores), and a replaying forward: not the block's structure."""


def group_keys(tree: guard.Tree) -> dict[int, Hashable]:
    """The blocks that may be replayed, by module id, each with the key of its structure: containers that repeat."""
    read = _Read() if QUICK else None
    attributes = _attributes if read is None else read.attributes
    tensors = _tensors if read is None else read.tensors
    skeleton: dict[int, Hashable] = {}
    for sub in reversed(tree.modules()):  # children before their parents
        children = tree.children.get(id(sub), [])
        skeleton[id(sub)] = (
            type(sub),
            tuple([_tensor_key(name, t) for name, t in tensors(sub)]),
            tuple(sorted(attributes(sub))),  # the names: the values are compared below
            tuple([(name, skeleton.get(id(child))) for name, child in children]),
        )
    shared = {key for key, paths in tree.aliases.items() if len(paths) > 1}
    by_skeleton: dict[Hashable, list[nn.Module]] = {}
    for sub in tree.modules():
        if not tree.children.get(id(sub)) or not tree.first.get(id(sub)):
            continue  # leaves cost little; the root is called once
        if (shared or read is None) and any(id(inner) in shared for inner in tree.subtree(sub)):
            continue
        by_skeleton.setdefault(skeleton[id(sub)], []).append(sub)
    members: dict[int, Hashable] = {}
    for key, subs in by_skeleton.items():
        if len(subs) < 2:
            continue
        inside = [list(_relative_modules(tree, sub)) for sub in subs]
        values = [_subtree_attributes(modules, attributes) for modules in inside]
        index = _index_attributes(values)
        for sub, modules, found in zip(subs, inside, values, strict=True):
            kept = tuple(sorted([(name, value) for name, value in found.items() if name not in index]))
            members[id(sub)] = (key, kept, _ties(modules, tensors))
    return members


class _Read:
    """`_attributes` and `_tensors` of each module, read once per `group_keys` (`QUICK`): nothing changes meanwhile."""

    def __init__(self) -> None:
        self.found_attributes: dict[int, dict[str, Hashable]] = {}
        self.found_tensors: dict[int, list[tuple[str, torch.Tensor]]] = {}
        self.values: dict[int, Hashable] = {}
        """`_hashable` of each attribute value of another than a plain type, by its id (None: a tensor or
        module, left out): a model's config, say, is read once, not once per module that keeps it."""

    def attributes(self, module: nn.Module) -> dict[str, Hashable]:
        found = self.found_attributes.get(id(module))
        if found is None:
            found = self.found_attributes[id(module)] = _attributes_quick(module, self.values)
        return found

    def tensors(self, module: nn.Module) -> list[tuple[str, torch.Tensor]]:
        found = self.found_tensors.get(id(module))
        if found is None:
            found = self.found_tensors[id(module)] = _tensors(module)
        return found


def _tensors(module: nn.Module) -> list[tuple[str, torch.Tensor]]:
    """A module's own parameters, then its buffers."""
    return [*_own(module, "_parameters"), *_own(module, "_buffers")]


def _own(module: nn.Module, store: str) -> list[tuple[str, torch.Tensor]]:
    return guard.own_tensors(module, store)


def _tensor_key(name: str, tensor: torch.Tensor) -> Hashable:
    return (name, tuple(tensor.shape), tensor.dtype, tensor.requires_grad, isinstance(tensor, nn.Parameter))


def _attributes(module: nn.Module) -> dict[str, Hashable]:
    """A module's own attributes other than its slots and tensors, as hashable values (objects by identity)."""
    out: dict[str, Hashable] = {}
    for name, value in getattr(module, "__dict__", {}).items():
        if not isinstance(name, str) or name in _SKIPPED_ATTRIBUTES or name.startswith("__"):
            continue
        if isinstance(value, torch.Tensor | nn.Module):
            continue
        out[name] = _hashable(value)
    return out


def _attributes_quick(module: nn.Module, values: dict[int, Hashable]) -> dict[str, Hashable]:
    """`_attributes`, the same answer: values of exactly the plain types read here, others once (`values`, by id)."""
    out: dict[str, Hashable] = {}
    attrs = getattr(module, "__dict__", {})
    for name in attrs.keys() - _SKIPPED_ATTRIBUTES:  # in no particular order: the callers sort or look up
        value = attrs[name]
        if not isinstance(name, str) or name.startswith("__"):
            continue
        kind = type(value)
        if kind in _PLAIN_TYPES:
            out[name] = (kind.__name__, value)
            continue
        found = values.get(id(value), _UNSEEN)
        if found is _UNSEEN:
            found = values[id(value)] = None if isinstance(value, torch.Tensor | nn.Module) else _hashable(value)
        if found is not None:
            out[name] = found
    return out


def _hashable(value: Any, depth: int = 0) -> Hashable:
    if isinstance(value, _PLAIN):
        return (type(value).__name__, value)
    if isinstance(value, list | tuple) and depth < 4 and len(value) <= 64:
        return (type(value).__name__, tuple(_hashable(v, depth + 1) for v in value))
    if isinstance(value, set | frozenset) and len(value) <= 64:
        return ("set", tuple(sorted(repr(v) for v in value)))
    if isinstance(value, dict) and depth < 4 and len(value) <= 64:
        return ("dict", tuple((repr(k), _hashable(v, depth + 1)) for k, v in value.items()))
    if isinstance(value, functools.partial) and depth < 4:  # made per block: compared by what it calls
        return ("partial", id(value.func), _hashable(value.args, depth + 1), _hashable(value.keywords, depth + 1))
    return ("object", id(value))


def _subtree_attributes(
    modules: list[tuple[str, nn.Module]], attributes: Callable[[nn.Module], dict[str, Hashable]]
) -> dict[tuple[str, str], Hashable]:
    """Every plain attribute of a subtree (its `modules`, `_relative_modules`), by (relative path, name)."""
    out: dict[tuple[str, str], Hashable] = {}
    for rel, sub in modules:
        for name, value in attributes(sub).items():
            out[rel, name] = value
    return out


def _ties(
    modules: list[tuple[str, nn.Module]], tensors: Callable[[nn.Module], list[tuple[str, torch.Tensor]]]
) -> tuple[int, ...]:
    """How a subtree (its `modules`) ties its tensors: for each slot, the number of the first slot with its tensor."""
    first: dict[int, int] = {}
    out: list[int] = []
    for _, sub in modules:
        for _, tensor in tensors(sub):
            out.append(first.setdefault(id(tensor), len(out)))
    return tuple(out)


def _index_attributes(values: list[dict[tuple[str, str], Hashable]]) -> set[tuple[str, str]]:
    """The integer attributes that differ in every block (a layer index): left out of the key."""
    index = set()
    for name in values[0]:
        seen = [found.get(name) for found in values]
        if all(isinstance(v, tuple) and v[0] == "int" for v in seen) and len(set(seen)) == len(seen):
            index.add(name)
    return index


def _relative_modules(tree: guard.Tree, root: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """`root` (as ``""``) and each module below it, with its path relative to `root`."""
    stack: list[tuple[str, nn.Module]] = [("", root)]
    while stack:
        rel, sub = stack.pop()
        yield rel, sub
        for name, child in reversed(tree.children.get(id(sub), [])):
            stack.append((f"{rel}.{name}" if rel else name, child))


def _relative_list(tree: guard.Tree, root: nn.Module) -> list[tuple[str, nn.Module]]:
    """`_relative_modules` in a list, the same pairs in the same order, found without a generator."""
    out: list[tuple[str, nn.Module]] = []
    children = tree.children
    stack: list[tuple[str, nn.Module]] = [("", root)]
    pop, push = stack.pop, stack.append
    while stack:
        rel, sub = pop()
        out.append((rel, sub))
        below = children.get(id(sub))
        if below:
            prefix = f"{rel}." if rel else ""
            for name, child in reversed(below):
                push((prefix + name, child))
    return out


Ref = tuple[Any, ...]


@dataclass
class Segment:
    """What one whole call of a block recorded, with its tensors named relative to the block."""

    root: str
    raw_start: int
    """Where the block's ops began in the pass's list of ops."""
    refs: dict[int, Ref]
    raw: list[RawOp]
    calls: list[ModuleCall]
    output: Any
    assumed: list[Any] = field(default_factory=list)
    """The values the block assumed (`modeldoc.probe.values.Assumed`): a replay assumes them again."""
    held: Any = None
    """The leader's arguments, kept alive: its inputs' key names objects by id, which must not be reused."""
    steps: list[Any] = field(default_factory=list)
    """The steps in a comparable form (`_Steps`): equal for two blocks that took the same steps."""
    walked: list[RawOp] | None = None
    """`raw` and the ops inside each, in `_walk`'s order (observing with `QUICK`)."""


class Replayer:
    """One pass's replaying forward on each block of a repeated structure.

    Observing (`classes` None), every block runs whole and its steps are kept (`steps`), so that
    `classes` can sort the blocks that took the same steps. Replaying (`classes` given), the
    first block of each class called runs whole and leads; the others of its class called with
    inputs of the leader's sizes get the leader's record.
    """

    def __init__(
        self,
        tree: guard.Tree,
        members: dict[int, Hashable],
        classes: dict[int, Hashable] | None,
        *,
        unmade: bool = False,
    ) -> None:
        self.recorder: Recorder
        """The pass's recorder (given to `install` when the pass starts)."""
        self.tree = tree
        self.members = members
        self.classes = classes
        self.steps: dict[int, list[Any] | None] = {}
        """Observing: each block's steps by module id (None when it may not be replayed)."""
        self.segments: dict[int, list[RawOp]] = {}
        """Observing: each block's recorded ops by module id."""
        self.distinct: dict[Hashable, list[tuple[list[Any], int]]] = {}
        """Observing with `QUICK`: the distinct steps of each structure so far, each with its first block (`_kind`)."""
        self.found: dict[int, tuple[int, int]] = {}
        """Observing with `QUICK`: each block's `_kind`, found as it was recorded, by module id."""
        self.walked: dict[int, list[RawOp]] = {}
        """Observing with `QUICK`: each block's recorded ops and the ops inside them (`_walk`), by module id."""
        self.leaders: dict[tuple[Hashable, Hashable], Segment | None] = {}
        """Replaying: the block that leads each class, by class and inputs (`_signature`); None: it may not lead."""
        self.broken = False
        """True once modeldoc's own bookkeeping failed: from then on every block runs whole."""
        self.inside = False
        """True while an observed or leading block runs: the blocks inside it are part of its steps."""
        self.unmade = unmade
        """Replaying in a pass read only for its shapes: a replayed block's ops are left `Unmade`."""
        self.subpaths: dict[int, list[str | None]] = {}
        """Replaying with `QUICK_REPLAY`: the paths of the modules below each block, by module id (`_untouched`)."""
        self.owned: dict[int, dict[str, nn.Module]] = {}
        """Replaying with `QUICK_REPLAY`: each block's modules by relative path, by module id (`_owned`)."""
        self.templates: dict[int, _Template] = {}
        """Replaying with `QUICK_REPLAY`: each leader's places and module calls, sorted once, by id of its segment."""

    def install(self, recorder: Recorder) -> None:
        """Wrap each member's forward for `recorder`'s pass, in its ``__dict__`` (the pass's restore removes it)."""
        self.recorder = recorder
        keys = self.members if self.classes is None else self.classes
        for path, sub in self.tree.paths.items():
            if id(sub) in keys and isinstance(getattr(sub, "__dict__", None), dict):
                sub.__dict__["forward"] = self._wrapped(sub, path, sub.forward)

    def _wrapped(self, module: nn.Module, path: str, original: Callable[..., Any]) -> Callable[..., Any]:
        def forward(*args: Any, **kwargs: Any) -> Any:
            return self._call(module, path, original, args, kwargs)

        return forward

    def _call(
        self, module: nn.Module, path: str, original: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        rec = self.recorder
        frame = rec.frames[-1] if rec.frames else None
        if frame is None or frame.module is not module or frame.call != 0 or self.broken or self.inside:
            return original(*args, **kwargs)  # a block inside an observed or leading block is part of its steps
        signature = None
        try:
            if self.classes is not None:
                with torch._C.DisableTorchFunction():  # the bookkeeping's own tensor reads are not the model's steps
                    signature, inputs = _signed((args, kwargs), rec)
                place = (self.classes[id(module)], signature)
                leader = self.leaders.get(place)
                if leader is not None and self._untouched(module):
                    return self._replay(leader, module, path, args, kwargs, inputs)
                if place in self.leaders:
                    return original(*args, **kwargs)  # its class's leader may not be replayed: it runs whole
        except Exception as err:
            self._stop(path, err)  # nothing of this block was recorded: it runs whole
            return original(*args, **kwargs)
        start = (len(rec.raw), len(rec.module_calls), len(rec.values.assumed) if rec.values is not None else 0)
        self.inside = True
        try:
            output = original(*args, **kwargs)
        finally:
            self.inside = False
        try:
            with torch._C.DisableTorchFunction():
                segment = self._capture(module, path, frame, (args, kwargs, output), start)
            if self.classes is None:
                self.steps[id(module)] = None if segment is None else segment.steps
                if segment is not None:
                    self.segments[id(module)] = segment.raw
                    if segment.walked is not None:
                        self.walked[id(module)] = segment.walked
                    if QUICK:  # while its steps are fresh in memory: the same answer as `classified` finds later
                        self.found[id(module)] = _kind(
                            self.distinct, self.members[id(module)], segment.steps, id(module)
                        )
            else:
                self.leaders[self.classes[id(module)], signature] = segment
        except Exception as err:
            self._stop(path, err)
        return output

    def _stop(self, path: str, err: Exception) -> None:
        """Replaying ends for the rest of the pass after an error of its own, said in the debug log."""
        self.broken = True
        logger.debug(
            "replaying repeated blocks stopped at %s (%s): the blocks from there on run whole",
            path or "the model",
            guard.describe_error(err),
        )

    def classified(self) -> dict[int, Hashable]:
        """Observing: the blocks that took one leader's steps, by module id, each with its class."""
        distinct: dict[Hashable, list[tuple[list[Any], int]]] = {}
        classes: dict[int, Hashable] = {}
        for module_id, steps in self.steps.items():
            if steps is None:
                continue
            key = self.members[module_id]
            found = self.found.get(module_id)
            number, first = _kind(distinct, key, steps, module_id) if found is None else found
            if first == module_id:
                pass  # the first block of its class
            elif module_id in self.walked and first in self.walked:
                _share_walked(self.walked[module_id], self.walked[first])
            else:
                _share(self.segments[module_id], self.segments[first])
            classes[module_id] = (key, number)
        sizes = Counter(classes.values())
        return {module_id: key for module_id, key in classes.items() if sizes[key] > 1}

    def _untouched(self, module: nn.Module) -> bool:
        """True when no module of `module`'s subtree has been called yet in this pass."""
        calls, paths = self.recorder.calls, self.recorder.paths
        if QUICK_REPLAY:
            below = self.subpaths.get(id(module))
            if below is None:
                below = [paths.get(id(sub)) for rel, sub in self._owned(module).items() if rel]
                self.subpaths[id(module)] = below
            return calls.keys().isdisjoint(below)
        return all(paths.get(id(sub)) not in calls for rel, sub in _relative_modules(self.tree, module) if rel)

    def _capture(
        self,
        module: nn.Module,
        path: str,
        frame: Any,
        call: tuple[tuple[Any, ...], dict[str, Any], Any],
        start: tuple[int, int, int],
    ) -> Segment | None:
        """The block's whole call as a segment; None when it may not be replayed."""
        rec = self.recorder
        args, kwargs, output = call
        raw_start, calls_start, assumed = start
        if not frame.called_child:
            return None
        leaves = pytree.tree_leaves(output)
        if any(not isinstance(leaf, (torch.Tensor, *_PLAIN)) for leaf in leaves):
            return None
        if rec.values is not None and any(
            rec.values.shadow(leaf) is not None for leaf in leaves if isinstance(leaf, torch.Tensor)
        ):
            return None
        refs = _places(self.tree, module, args, kwargs)
        segment = Segment(
            root=path,
            raw_start=raw_start,
            refs=refs,
            raw=rec.raw[raw_start:],
            calls=rec.module_calls[calls_start:],
            output=output,
            held=(args, kwargs),
            assumed=list(rec.values.assumed[assumed:]) if rec.values is not None else [],
        )
        steps = _Steps(refs, path)
        if QUICK:
            walked = _walked(segment.raw)
            steps.add_ops_quick(walked)
            for inner in segment.calls:
                steps.add_call_quick(inner, raw_start)
            steps.items.append(steps.quick(output))
            segment.walked = walked
        else:
            for op in _walk(segment.raw):
                steps.add_op(op)
            for inner in segment.calls:
                steps.add_call(inner, raw_start)
            steps.items.append(steps.value(output, made=False))
        steps.items.append(segment.assumed)  # the values it assumed (the router's top-k), where and what
        if steps.external:
            return None  # a tensor from outside the block that is not an input may be another block's state
        segment.steps = steps.items
        return segment

    def _owned(self, module: nn.Module) -> dict[str, nn.Module]:
        """`module` and the modules below it by relative path (once per block with `QUICK_REPLAY`)."""
        if not QUICK_REPLAY:
            return dict(_relative_modules(self.tree, module))
        found = self.owned.get(id(module))
        if found is None:
            found = self.owned[id(module)] = dict(_relative_list(self.tree, module))
        return found

    def _replay(
        self,
        leader: Segment,
        module: nn.Module,
        path: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        inputs: list[torch.Tensor] | None = None,
    ) -> Any:
        """Record `leader`'s steps as `module`'s, on `module`'s own tensors, and return its output.

        `inputs`: the tensors in `args` and `kwargs` in pytree's order, when already found (`_signature_quick`).
        """
        if self.unmade:
            return self._unmade(leader, module, path, args, kwargs, inputs)
        rec = self.recorder
        if inputs is None:
            inputs = [leaf for leaf in pytree.tree_leaves((args, kwargs)) if isinstance(leaf, torch.Tensor)]
        owned = self._owned(module)
        mapped: dict[int, torch.Tensor] = {}

        def tensor(t: torch.Tensor) -> torch.Tensor:
            found = mapped.get(id(t))
            if found is not None:
                return found
            ref = leader.refs.get(id(t))
            if ref is None or ref[0] == "new":  # None: the hidden base of a view an op made (repeat_interleave's)
                made = _fresh(t, tensor)
            elif ref[0] == "in":
                made = inputs[ref[1]]
            elif ref[0] == "attr":
                made = owned[ref[1]].__dict__[ref[2]]
            else:
                made = owned[ref[1]].__dict__[ref[0]][ref[2]]
            mapped[id(t)] = made
            return made

        def value(v: Any) -> Any:
            return _map_tensors(v, tensor)

        def rename(name: str) -> str:
            rel = _relative(name, leader.root)
            if rel.startswith("\0"):
                return name
            return f"{path}.{rel}" if rel else path

        def op(raw: RawOp) -> RawOp:
            return RawOp(
                kind=raw.kind,
                name=rename(raw.name) if raw.kind == "module" else raw.name,
                target=raw.target,
                scope=rename(raw.scope),
                inputs=[tensor(t) for t in raw.inputs],
                outputs=[tensor(t) for t in raw.outputs],
                func=raw.func,
                args=value(raw.args),
                kwargs=value(raw.kwargs),
                inner=[op(inner) for inner in raw.inner],
                call=raw.call,
                source=raw.source or raw,
            )

        shift = len(rec.raw) - leader.raw_start
        with torch._C.DisableTorchFunction():
            ops = [op(raw) for raw in leader.raw]
            calls = [
                ModuleCall(
                    path=rename(call.path),
                    target=call.target,
                    scope=rename(call.scope),
                    call=call.call,
                    inputs=[tensor(t) for t in call.inputs],
                    start=call.start + shift,
                    outputs=[tensor(t) for t in call.outputs],
                    end=None if call.end is None else call.end + shift,
                )
                for call in leader.calls
            ]
            output = value(leader.output)
        _record(rec, leader, ops, calls)
        return output

    def _unmade(
        self,
        leader: Segment,
        module: nn.Module,
        path: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        inputs: list[torch.Tensor] | None = None,
    ) -> Any:
        """Stand `leader`'s record for `module`'s (`Unmade`), and return `module`'s output made anew.

        Only what the pass reads goes on: the output (fresh meta tensors, or the block's own
        inputs and tensors), the module calls inside (their tensors stand-ins of the leader's),
        and one `Unmade` in the list of ops per op of the leader's, at the place of the op it stands for.
        """
        rec = self.recorder
        if inputs is None:
            inputs = [leaf for leaf in pytree.tree_leaves((args, kwargs)) if isinstance(leaf, torch.Tensor)]
        owned = self._owned(module)
        if QUICK_REPLAY:
            return self._unmade_quick(leader, path, inputs, owned)
        unmade = Unmade(leader, path, len(rec.raw))
        mapped = unmade.mapped
        for key, ref in leader.refs.items():  # the block's own tensors, while they sit in its slots
            if ref[0] == "in":
                mapped[key] = inputs[ref[1]]
            elif ref[0] == "attr":
                mapped[key] = owned[ref[1]].__dict__[ref[2]]
            elif ref[0] != "new":
                mapped[key] = owned[ref[1]].__dict__[ref[0]][ref[2]]

        def tensor(t: torch.Tensor) -> torch.Tensor:
            found = mapped.get(id(t))
            if found is None:
                found = mapped[id(t)] = _fresh(t, tensor)
            return found

        shift = len(rec.raw) - leader.raw_start
        with torch._C.DisableTorchFunction():
            output = _map_tensors(leader.output, tensor)  # real tensors: the model's code goes on with them
            stand_in = unmade.tensor
            calls = [
                ModuleCall(
                    path=unmade.rename(call.path),
                    target=call.target,
                    scope=unmade.rename(call.scope),
                    call=call.call,
                    inputs=[stand_in(t) for t in call.inputs],
                    start=call.start + shift,
                    outputs=[stand_in(t) for t in call.outputs],
                    end=None if call.end is None else call.end + shift,
                )
                for call in leader.calls
            ]
        _record(rec, leader, list(itertools.repeat(unmade, len(leader.raw))), calls)  # type: ignore[arg-type]
        return output

    def _unmade_quick(self, leader: Segment, path: str, inputs: list[torch.Tensor], owned: dict[str, nn.Module]) -> Any:
        """`_unmade`, the same record, from the leader's `_Template`."""
        rec = self.recorder
        template = self.templates.get(id(leader))
        if template is None:
            template = self.templates[id(leader)] = _Template(leader)
        start = len(rec.raw)
        unmade = Unmade(leader, path, start)
        mapped = unmade.mapped
        for key, kind, first, second in template.places:
            if kind == "in":
                mapped[key] = inputs[first]
            elif kind == "attr":
                mapped[key] = owned[first].__dict__[second]
            else:
                mapped[key] = owned[first].__dict__[kind][second]

        def tensor(t: torch.Tensor) -> torch.Tensor:
            found = mapped.get(id(t))
            if found is None:
                found = mapped[id(t)] = _fresh(t, tensor)
            return found

        with torch._C.DisableTorchFunction():
            output = _map_tensors(leader.output, tensor)  # real tensors: the model's code goes on with them
            stand_in = unmade.tensor
            calls = []
            for name, target, scope, call, ins, begin, outs, end in template.calls:
                calls.append(
                    ModuleCall(
                        path=_moved(name, path),
                        target=target,
                        scope=_moved(scope, path),
                        call=call,
                        inputs=[stand_in(t) for t in ins],
                        start=begin + start,
                        outputs=[stand_in(t) for t in outs],
                        end=None if end is None else end + start,
                    )
                )
        _record(rec, leader, list(itertools.repeat(unmade, len(leader.raw))), calls)  # type: ignore[arg-type]
        return output


def _moved(name: str, path: str) -> str:
    """A `_Template`'s path or scope for the block at `path`: the very path `Unmade.rename` gives."""
    if name[0] == "\0":
        return name[1:]  # outside the block: kept as it is
    return path + name if len(name) > 1 else path


class _Template:
    r"""A leader's places and module calls, sorted once for its `_unmade_quick` replays.

    `places`: (tensor id, kind, first, second) for each of its tensors that sits in a slot of the block
    (``"in"`` with the input's number; ``"attr"`` with the relative path and name; else the store).
    `calls`: each module call's path and scope as ``"\\0"`` and the whole path when outside the block,
    else ``"."`` and the relative path (the block's own path then goes before it), with its start and
    end counted from the block's first op.
    """

    __slots__ = ("calls", "places")

    def __init__(self, leader: Segment) -> None:
        self.places: list[tuple[int, str, Any, Any]] = []
        for key, ref in leader.refs.items():
            if ref[0] == "in":
                self.places.append((key, "in", ref[1], None))
            elif ref[0] == "attr":
                self.places.append((key, "attr", ref[1], ref[2]))
            elif ref[0] != "new":
                self.places.append((key, ref[0], ref[1], ref[2]))
        root = leader.root

        def moved(name: str) -> str:
            rel = _relative(name, root)
            return rel if rel.startswith("\0") else "." + rel

        self.calls: list[tuple[str, str, str, int, list[torch.Tensor], int, list[torch.Tensor], int | None]] = [
            (
                moved(call.path),
                call.target,
                moved(call.scope),
                call.call,
                call.inputs,
                call.start - leader.raw_start,
                call.outputs,
                None if call.end is None else call.end - leader.raw_start,
            )
            for call in leader.calls
        ]


def _record(rec: Recorder, leader: Segment, ops: list[RawOp], calls: list[ModuleCall]) -> None:
    """Put a replayed block's `ops` and module `calls` in `rec`, with the values its leader assumed."""
    for call in calls:
        seen = rec.calls.setdefault(call.path, Calls())
        if seen.count == 0:
            seen.order = rec.counter
            rec.counter += 1
            rec.first_in[call.path] = call.inputs
            rec.first_out[call.path] = call.outputs
        seen.count += 1
    rec.raw.extend(ops)
    rec.module_calls.extend(calls)
    if rec.values is not None:
        rec.values.assumed.extend(leader.assumed)
    rec.failed = None
    rec.frames[-1].called_child = True


class Unmade:
    """A replayed block's ops, left unmade in a pass read only for its shapes: its leader's stand for them.

    It fills the block's places in the pass's list of ops (once per op of the leader's), so that
    every position, and every module call's start and end, is where a full replay puts them.
    `modeldoc.probe.resolve` reads the leader's op at each place (`op`) with its tensors put in
    the block's (`tensor`) and its module paths moved to the block's (`rename`): the same
    tensors, ops and shapes as a replay that made them, without making them.
    """

    __slots__ = ("leader", "mapped", "path", "renamed", "start")

    def __init__(self, leader: Segment, path: str, start: int) -> None:
        self.leader = leader
        self.path = path
        self.start = start
        """Where the block's ops begin in the pass's list of ops."""
        self.mapped: dict[int, Any] = {}
        """The block's tensor (a real one, or a `Ghost`) for each of the leader's, by the leader's tensor's id."""
        self.renamed: dict[str, str] = {}

    def op(self, position: int) -> RawOp:
        """The leader's op that stands for the block's op at `position` of the pass's list."""
        return self.leader.raw[position - self.start]

    def tensor(self, t: torch.Tensor) -> Any:
        """The block's tensor for the leader's `t`: its own input or weight, or a `Ghost` of what it makes."""
        found = self.mapped.get(id(t))
        if found is None:
            base = t._base
            found = self.mapped[id(t)] = Ghost(t, None if base is None else _root(self.tensor(base)))
        return found

    def rename(self, name: str) -> str:
        """A module path of the leader's, moved to the block's."""
        found = self.renamed.get(name)
        if found is None:
            rel = _relative(name, self.leader.root)
            found = name if rel.startswith("\0") else f"{self.path}.{rel}" if rel else self.path
            self.renamed[name] = found
        return found


class Ghost:
    """A tensor an `Unmade` block would have made: it has the size, dtype and base of its leader's, and no storage."""

    __slots__ = ("_base", "like")

    def __init__(self, like: torch.Tensor, base: Any) -> None:
        self.like = like
        self._base = base

    @property
    def shape(self) -> torch.Size:
        """The leader's tensor's size."""
        return self.like.shape

    @property
    def dtype(self) -> torch.dtype:
        """The leader's tensor's dtype."""
        return self.like.dtype

    def numel(self) -> int:
        """The leader's tensor's number of elements."""
        return self.like.numel()

    def element_size(self) -> int:
        """The leader's tensor's bytes per element."""
        return self.like.element_size()


def _root(tensor: Any) -> Any:
    base = tensor._base
    return tensor if base is None else base


def _places(tree: guard.Tree, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[int, Ref]:
    """Where each tensor a block reads lives: its ``n``-th input, a parameter, buffer or tensor attribute inside it."""
    refs: dict[int, Ref] = {}
    if QUICK_REPLAY:  # the same tensors and modules in the same order, found without generators
        inputs = ops.tensor_leaves((args, kwargs))
        modules: Iterator[tuple[str, nn.Module]] | list[tuple[str, nn.Module]] = _relative_list(tree, module)
    else:
        inputs = [leaf for leaf in pytree.tree_leaves((args, kwargs)) if isinstance(leaf, torch.Tensor)]
        modules = _relative_modules(tree, module)
    for i, tensor in enumerate(inputs):
        refs.setdefault(id(tensor), ("in", i))
    for rel, sub in modules:
        attrs = getattr(sub, "__dict__", {})
        for store in ("_parameters", "_buffers"):
            for name, tensor in (attrs.get(store) or {}).items():
                if isinstance(tensor, torch.Tensor):
                    refs.setdefault(id(tensor), (store, rel, name))
        for name, value in attrs.items():
            if QUICK and type(value) in _NOT_TENSORS:
                continue  # the common kinds of a module's other attributes, told apart at once
            if isinstance(value, torch.Tensor):
                refs.setdefault(id(value), ("attr", rel, name))
    return refs


_NOT_TENSORS = frozenset({dict, OrderedDict, set, list, tuple, bool, int, float, str, type(None)})
"""Types none of whose instances is a tensor (exactly these: a subclass takes the long way)."""


_ATOMS = frozenset({bool, int, float, str, type(None), torch.dtype, torch.device})
"""The types `_Steps.value` keeps as they are (exactly these: a subclass takes the long way)."""
_INDEXES = frozenset({slice, type(Ellipsis)})
"""Leaves of indexing that `_Steps.value` reads as `_plain` (when pytree takes them as leaves)."""
_NO_KEYWORDS = ("dict", ())
"""`_Steps.value` of an op's keyword arguments when it has none."""
_NO_ARGUMENTS = ("tuple", (("tuple", ()), _NO_KEYWORDS))
"""`_Steps.value` of an op with no arguments (a module's call)."""


class _Steps:
    """A segment's steps in a form that compares equal for two blocks that took the same steps.

    Tensors are named by their place (the block's ``n``-th input, a parameter by its path inside
    the block, the ``n``-th tensor made inside) with their size, stride and dtype; paths are
    made relative to the block. `refs` gets the place of every tensor made inside.
    """

    def __init__(self, refs: dict[int, Ref], root: str) -> None:
        self.refs = refs
        self.root = root
        self.made = 0
        self.external = False
        self.items: list[Any] = []
        self.keys: dict[int, Any] = {}
        """`ref`'s answer for each tensor seen, by id (`quick`): the block has run, so a tensor's size is its last."""
        self.relative: dict[str, str] = {}
        """`_relative`'s answer for each path seen (`quick`)."""

    def ref(self, tensor: torch.Tensor, *, made: bool) -> Any:
        ref = self.refs.get(id(tensor))
        if ref is None:
            if made:
                ref = ("new", self.made)
                self.made += 1
            else:
                ref = ("ext", id(tensor))
                self.external = True
            self.refs[id(tensor)] = ref
        return (*ref, tensor.shape, tensor.stride(), tensor.dtype)  # a torch.Size: equal to the tuple of its sizes

    def value(self, value: Any, *, made: bool) -> Any:
        """`value` with each tensor as its place and each other leaf as plain data (containers kept as tuples)."""
        if isinstance(value, torch.Tensor):
            return self.ref(value, made=made)
        kind = type(value)
        if kind is tuple or kind is list:
            return (kind.__name__, tuple(self.value(v, made=made) for v in value))
        if kind is dict:
            return ("dict", tuple((k, self.value(v, made=made)) for k, v in value.items()))
        if isinstance(value, (*_PLAIN, torch.dtype, torch.device)):
            return value
        leaves, spec = pytree.tree_flatten(value)
        if len(leaves) == 1 and leaves[0] is value:
            return _plain(value)
        return (str(spec), tuple(self.value(leaf, made=made) for leaf in leaves))

    def add_op(self, op: RawOp) -> None:
        self.items.append(
            (
                op.kind,
                _relative(op.name, self.root) if op.kind == "module" else op.name,
                op.target,
                _relative(op.scope, self.root),
                op.call,
                op.func,
                op.failed,
                len(op.inner),
                self.value((op.args, op.kwargs), made=False),  # a function's inputs are inside its arguments
                [self.ref(t, made=False) for t in op.inputs] if op.kind == "module" else None,
                [self.ref(t, made=True) for t in op.outputs],
            )
        )

    def key(self, tensor: torch.Tensor, made: bool) -> Any:
        """`ref`, once per tensor."""
        found = self.keys.get(id(tensor))
        if found is None:
            found = self.keys[id(tensor)] = self.ref(tensor, made=made)
        return found

    def rel(self, path: str) -> str:
        """`_relative` to the block, once per path."""
        found = self.relative.get(path)
        if found is None:
            found = self.relative[path] = _relative(path, self.root)
        return found

    def quick(self, value: Any) -> Any:
        """`value` (not made), the same answer, with the common kinds of leaves and containers read here."""
        kind = type(value)
        if kind in _ATOMS:
            return value
        if kind is torch.Tensor or kind is nn.Parameter:
            return self.keys.get(id(value)) or self.key(value, False)
        if kind is tuple or kind is list:
            return (kind.__name__, tuple([self.quick(v) for v in value]))
        if kind is dict:
            return ("dict", tuple([(k, self.quick(v)) for k, v in value.items()]))
        if kind in _INDEXES and kind not in pytree.SUPPORTED_NODES:  # a leaf to pytree: `_plain`
            return _plain(value)
        return self.value(value, made=False)

    def add_ops_quick(self, ops: list[RawOp]) -> None:
        """`add_op` of each of `ops` in turn, the same items, through `quick`, `key` and `rel`."""
        quick, key, rel, append = self.quick, self.key, self.rel, self.items.append
        known, atoms = self.keys.get, _ATOMS  # `quick` of a tensor seen before, of a plain value: read at once
        for op in ops:
            module = op.kind == "module"
            args, kwargs = op.args, op.kwargs
            # the arguments before the inputs and outputs: the order names what is made
            if type(args) is not tuple or type(kwargs) is not dict:
                arguments: Any = quick((args, kwargs))
            elif not args and not kwargs:
                arguments = _NO_ARGUMENTS
            else:
                positional = ("tuple", tuple([known(id(v)) or (v if type(v) in atoms else quick(v)) for v in args]))
                named: Any = _NO_KEYWORDS  # then the keywords: the order names what is made
                if kwargs:
                    found = [(k, known(id(v)) or (v if type(v) in atoms else quick(v))) for k, v in kwargs.items()]
                    named = ("dict", tuple(found))
                arguments = ("tuple", (positional, named))
            outputs = op.outputs
            append(
                (
                    op.kind,
                    rel(op.name) if module else op.name,
                    op.target,
                    rel(op.scope),
                    op.call,
                    op.func,
                    op.failed,
                    len(op.inner),
                    arguments,
                    ([key(op.inputs[0], False)] if len(op.inputs) == 1 else [key(t, False) for t in op.inputs])
                    if module
                    else None,
                    [key(outputs[0], True)] if len(outputs) == 1 else [key(t, True) for t in outputs],
                )
            )

    def add_call_quick(self, call: ModuleCall, start: int) -> None:
        """`add_call`, the same item, through `key` and `rel`."""
        key = self.key
        self.items.append(
            (
                self.rel(call.path),
                call.target,
                self.rel(call.scope),
                call.call,
                call.start - start,
                None if call.end is None else call.end - start,
                [key(t, False) for t in call.inputs],
                [key(t, True) for t in call.outputs],
            )
        )

    def add_call(self, call: ModuleCall, start: int) -> None:
        self.items.append(
            (
                _relative(call.path, self.root),
                call.target,
                _relative(call.scope, self.root),
                call.call,
                call.start - start,
                None if call.end is None else call.end - start,
                [self.ref(t, made=False) for t in call.inputs],
                [self.ref(t, made=True) for t in call.outputs],
            )
        )


def _kind(
    distinct: dict[Hashable, list[tuple[list[Any], int]]], key: Hashable, steps: list[Any], module_id: int
) -> tuple[int, int]:
    """A block's steps' number among the distinct steps of its structure (`key`) so far, and their first block.

    New steps are added to `distinct`.
    """
    kinds = distinct.setdefault(key, [])
    number = next((i for i, (known, _) in enumerate(kinds) if known == steps), None)
    if number is None:
        kinds.append((steps, module_id))
        return len(kinds) - 1, module_id
    return number, kinds[number][1]


def _share(ops: list[RawOp], first: list[RawOp]) -> None:
    """Point each op of a block at the op of the first block of its class that it repeats (same steps).

    `modeldoc.probe.resolve` then works out each such op's cost and arguments once.
    """
    for op, source in zip(_walk(ops), _walk(first), strict=True):
        if op.source is None:
            op.source = source.source or source


def _share_walked(ops: list[RawOp], first: list[RawOp]) -> None:
    """`_share` on the walked lists of ops (`Segment.walked`)."""
    for op, source in zip(ops, first, strict=True):
        if op.source is None:
            op.source = source.source or source


def _walked(raw: list[RawOp]) -> list[RawOp]:
    """`_walk`'s ops in a list, found without a generator."""
    out: list[RawOp] = []
    for op in raw:
        out.append(op)
        if op.inner:
            out.extend(_walked(op.inner))
    return out


def _walk(raw: list[RawOp]) -> Iterator[RawOp]:
    for op in raw:
        yield op
        yield from _walk(op.inner)


def _relative(path: str, root: str) -> str:
    if path == root:
        return ""
    if root and path.startswith(root + "."):
        return path[len(root) + 1 :]
    return "\0" + path  # outside the block: kept as it is


def _plain(value: Any) -> Any:
    if isinstance(value, (*_PLAIN, torch.dtype, torch.device, torch.memory_format, torch.layout)):
        return (type(value).__name__, value)
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if value is Ellipsis:
        return "..."
    if isinstance(value, nn.Module):
        return ("module", id(value))
    return ("object", id(value))


def _signature(value: Any, rec: Recorder) -> Hashable:
    """A block's inputs, comparable: sizes, dtypes and strides of tensors (the object where its values are known)."""
    leaves, spec = pytree.tree_flatten(value)
    out: list[Hashable] = [str(spec)]
    for leaf in leaves:
        if isinstance(leaf, torch.Tensor):
            known = rec.values is not None and rec.values.shadow(leaf) is not None
            out.append(
                (
                    tuple(leaf.shape),
                    leaf.stride(),
                    leaf.storage_offset(),
                    leaf.dtype,
                    leaf.device,
                    type(leaf),
                    id(leaf) if known else None,
                )
            )
        else:
            out.append(_plain(leaf))
    return tuple(out)


_SIGNATURE_ATOMS = frozenset({bool, int, float, str, type(None), torch.dtype, torch.device})
"""The types `_signature_quick` reads as `_plain` (exactly these: a subclass takes the long way)."""
_SIGNATURE_TENSORS = frozenset({torch.Tensor, nn.Parameter})
"""The tensor types `_signature_quick` reads (exactly these: pytree's leaves)."""


class _NotPlain(Exception):
    """`_signature_quick` met a value of another kind: the long way (`_signature`) reads it."""


def _signed(value: Any, rec: Recorder) -> tuple[Hashable, list[torch.Tensor] | None]:
    """`value`'s signature, quick (`_signature_quick`, with its tensors) where it can be, else `_signature`."""
    quick = _signature_quick(value, rec) if QUICK_REPLAY else None
    return (_signature(value, rec), None) if quick is None else quick


def _signature_quick(value: Any, rec: Recorder) -> tuple[Hashable, list[torch.Tensor]] | None:
    """`_signature` without pytree, with the tensors inside in pytree's order; None for other kinds of values.

    It reads `value` when it holds only plain tuples, lists, dicts (string keys), tensors, plain values
    and other leaves of pytree (objects it does not open, not tensors).

    Its form is nested as `value` is, each container by its type (a dict with its keys), each leaf as
    `_signature` reads it, all under a first element None: two such signatures are equal only for
    arguments of the same structure and leaves, and never equal to one of `_signature`'s (a string first).
    """
    tensors: list[torch.Tensor] = []
    shadow = rec.values.shadow if rec.values is not None else None

    def read(v: Any) -> Hashable:
        kind = type(v)
        if kind in _SIGNATURE_TENSORS:
            tensors.append(v)
            known = shadow is not None and shadow(v) is not None
            return (
                "tensor",
                tuple(v.shape),
                v.stride(),
                v.storage_offset(),
                v.dtype,
                v.device,
                kind,
                id(v) if known else None,
            )
        if kind in _SIGNATURE_ATOMS:
            return (kind.__name__, v)
        if kind is tuple or kind is list:
            return (kind.__name__, tuple([read(item) for item in v]))
        if kind is dict:
            if any(type(k) is not str for k in v):
                raise _NotPlain
            return ("dict", tuple(v), tuple([read(item) for item in v.values()]))
        if isinstance(v, torch.Tensor) or not pytree.tree_is_leaf(v):
            raise _NotPlain
        return ("leaf", _plain(v))  # an object pytree does not open (a model's cache): `_signature` reads it so

    try:
        return (None, read(value)), tensors
    except _NotPlain:
        return None


def _map_tensors(value: Any, fn: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """`value` with each tensor inside replaced by `fn(tensor)` (plain tuples, lists and dicts walked here: quicker)."""
    if isinstance(value, torch.Tensor):
        return fn(value)
    if type(value) is tuple:
        return tuple(_map_tensors(v, fn) for v in value)
    if type(value) is list:
        return [_map_tensors(v, fn) for v in value]
    if type(value) is dict:
        return {k: _map_tensors(v, fn) for k, v in value.items()}
    if isinstance(value, _PLAIN):
        return value
    return pytree.tree_map_only(torch.Tensor, fn, value)


def _fresh(like: torch.Tensor, tensor: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """A new meta tensor shaped as `like`; a view of the replayed base when `like` is a view."""
    base = like._base
    if base is not None:
        try:
            return tensor(base).as_strided(like.shape, like.stride(), like.storage_offset())
        except RuntimeError:  # the base's storage is laid out otherwise: a tensor of its own
            pass
    return torch.empty_strided(like.shape, like.stride(), dtype=like.dtype, device=like.device)
