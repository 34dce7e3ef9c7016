"""From the recorder's live tensors to specs: `TensorInfo` ids, `OpSpec`s, a `TraceSpec`.

Once a pass is over, `Resolver` walks what `modeldoc.probe.record` kept, in call order: each
tensor gets an id the first time it is seen (named after the input, parameter or buffer it
is), each op names the ids it read and wrote, its arguments as plain data and its cost. What
one pass yields is a `Built`; a failed pass carries a `Failure` that says where it stopped,
what was raised and how to fix it. Sizes are plain numbers here; `modeldoc.probe.symbolic`
puts the labels of named axes in later (`Built.with_dims`).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import torch
import torch.utils._pytree as pytree

from modeldoc import costs
from modeldoc.probe import guard
from modeldoc.probe.deadline import Budget, ProbeTimeout
from modeldoc.probe.meta_kernels import DtypeRejected
from modeldoc.probe.names import dtype_name
from modeldoc.probe.ops import args_text, bind, plain_arguments
from modeldoc.probe.record import Calls, Dims, ModuleCall, RawOp, Recorder, Shape
from modeldoc.probe.replay import Segment, Unmade
from modeldoc.probe.values import Assumed
from modeldoc.spec import Assumption, BoundaryTensor, OpSpec, TensorInfo, TraceSpec


@dataclass(frozen=True)
class Failure:
    """Why a pass stopped: where, what was raised, and how to fix it."""

    place: str
    """``"in fc1 (Linear)"``; ``""`` when the pass was not run."""
    message: str
    """``"RuntimeError: ..."``, or why the pass was not run."""
    fix: str
    timed_out: bool = False
    ran: bool = True
    certain: bool = False
    """True when a pass with real values would fail the same way (a dtype the real kernel rejects)."""
    kernel: bool = False
    """True when a torch kernel raised (a ``RuntimeError`` or ``NotImplementedError``, or an error that names
    the meta device): what a pass with real values may get past. The model's own Python errors are not."""

    def brief(self) -> str:
        """``"in fc1 (Linear): RuntimeError: ..."``."""
        return f"{self.place}: {self.message}" if self.place else self.message


_Item = TypeVar("_Item", TensorInfo, Calls)
_Made = TypeVar("_Made", OpSpec, TensorInfo)

_INPUT_FIX = (
    "change the example input (shape, dtype or names) to what the model expects, "
    "or fix the layer arguments the derivations below point at"
)


@dataclass(frozen=True)
class Built:
    """One pass, as specs (dims still plain numbers until `label_dims`)."""

    trace: TraceSpec
    calls: dict[str, Calls]
    inputs: tuple[BoundaryTensor, ...]
    outputs: tuple[BoundaryTensor, ...]
    failure: Failure | None = None
    """Where the pass failed and the exception, when it did."""
    warnings: tuple[str, ...] = ()
    light: ShapesOnly | None = None
    """For a pass read only for its shapes (`Resolver` ``light``): its ops and tensors, kept as
    `ShapesOnly` instead of specs; `signature`, `shapes` and `matched_shapes` read them there."""

    def sentence(self) -> str:
        """The failure in one sentence, with the failing op's input shapes (symbolic once labelled)."""
        failure = self.failure
        if failure is None:
            return ""
        if not failure.ran:
            return f"the forward pass was not run: {failure.message}; {failure.fix}"
        if failure.timed_out:
            return f"the forward pass was stopped {failure.place} by {failure.message}; {failure.fix}"
        failed = _failed_op(self.trace.ops)
        received = ""
        if failed is not None and failed.inputs:
            tensors = self.trace.tensors
            shapes = [" × ".join(str(d) for d in tensors[t].dims) or "a scalar" for t in failed.inputs[:3]]
            received = f", which received {', '.join(shapes)},"
        return f"the forward pass failed {failure.place}{received} with {failure.message.rstrip('. ')}; {failure.fix}"

    def signature(self) -> list[tuple[str, str]]:
        """The ops in order, by kind and name: equal when a pass at other sizes took the same steps."""
        if self.light is not None:
            return self.light.signature
        return [(op.kind, op.name) for op in self.trace.ops]

    def _wiring(self, index: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The ids of the tensors op `index` read and wrote."""
        if self.light is not None:
            return self.light.wiring[index]
        op = self.trace.ops[index]
        return op.inputs, op.outputs

    def matched_shapes(self, other: Built) -> dict[tuple[Any, ...], Shape] | None:
        """`other`'s shapes under this pass's keys (`shapes`), when both passes took the same steps; else None.

        A loop over a named axis (a scan over the length, a decoder's steps) runs its body a
        different number of times at other sizes, so the two lists of ops may differ in runs of a
        repeated pattern (`aligned_ops`). Then the ops that match, and the tensors they read and
        wrote, carry `other`'s shapes; the repetitions only one pass has carry none.
        """
        mine_ops, their_ops = self.signature(), other.signature()
        pairs = aligned_ops(mine_ops, their_ops)
        if pairs is None:
            return None
        theirs = other.shapes()
        if len(pairs) == len(mine_ops) == len(their_ops) and all(i == j for i, j in pairs):
            return theirs
        ids: dict[int, int] = {}
        for i, j in pairs:
            (mine_in, mine_out), (their_in, their_out) = self._wiring(i), other._wiring(j)
            for a, b in (*zip(mine_in, their_in, strict=False), *zip(mine_out, their_out, strict=False)):
                ids.setdefault(a, b)
        out = {key: shape for key, shape in theirs.items() if key[0] != "t"}
        for mine_id, their_id in ids.items():
            shape = theirs.get(("t", their_id))
            if shape is not None:
                out["t", mine_id] = shape
        return out

    def shapes(self) -> dict[tuple[Any, ...], Shape]:
        """Every shape this pass recorded, by a key that is the same in a pass at other sizes."""
        out: dict[tuple[Any, ...], Shape] = {}
        if self.light is not None:
            for i, shape in enumerate(self.light.shapes):
                out["t", i] = shape
        for t in self.trace.tensors:
            out["t", t.id] = t.shape
        for path, seen in self.calls.items():
            for i, s in enumerate(seen.input_shapes):
                out["in", path, i] = s
            for i, s in enumerate(seen.output_shapes):
                out["out", path, i] = s
        for i, info in enumerate(self.inputs):
            out["input", i] = info.shape
        for i, info in enumerate(self.outputs):
            out["output", i] = info.shape
        return out

    def with_dims(self, dims: Mapping[tuple[Any, ...], Dims]) -> Built:
        """The pass with the symbolic `dims` put in place."""

        def get(key: tuple[Any, ...], shape: Shape) -> Dims:
            return dims.get(key, shape)

        tensors = tuple(
            t if (found := get(("t", t.id), t.shape)) == t.dims else _changed(t, dims=found) for t in self.trace.tensors
        )
        calls = {}
        for path, seen in self.calls.items():
            calls[path] = _changed(
                seen,
                input_dims=tuple(get(("in", path, i), s) for i, s in enumerate(seen.input_shapes)),
                output_dims=tuple(get(("out", path, i), s) for i, s in enumerate(seen.output_shapes)),
            )
        inputs = tuple(replace(info, dims=get(("input", i), info.shape)) for i, info in enumerate(self.inputs))
        outputs = tuple(replace(info, dims=get(("output", i), info.shape)) for i, info in enumerate(self.outputs))
        return replace(self, trace=replace(self.trace, tensors=tensors), calls=calls, inputs=inputs, outputs=outputs)


@dataclass(frozen=True)
class ShapesOnly:
    """A pass read only for its shapes: each op's kind and name and the ids of its tensors, each tensor's size.

    The same ops and ids as the specs `Resolver` makes otherwise, without the specs.
    """

    signature: list[tuple[str, str]] = field(default_factory=list)
    wiring: list[tuple[tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    """The ids of the tensors each op read and wrote."""
    shapes: list[Shape] = field(default_factory=list)
    """Each tensor's size, by id."""


_FIELDS: dict[type, tuple[str, ...]] = {}

FAST_SPECS = True
"""Make the many op and tensor specs of a pass through `_spec`, not their frozen ``__init__`` (tests compare)."""


def _spec(kind: type[_Made], /, **fields: Any) -> _Made:
    """``kind(**fields)`` for a frozen spec dataclass given every field, without its ``__init__`` (quicker).

    A frozen dataclass sets each field through ``object.__setattr__``; here they go into the
    instance's ``__dict__`` at once. Only for `OpSpec` and `TensorInfo`, which have no ``__post_init__``.
    """
    if not FAST_SPECS:
        return kind(**fields)
    made = object.__new__(kind)
    made.__dict__.update(fields)
    return made


def _changed(item: _Item, **changes: Any) -> _Item:
    """`dataclasses.replace` for the many specs of a pass and of `Built.with_dims`, without ``__init__`` (quicker).

    A dataclass whose ``__init__`` does more than set each field (a ``__post_init__``) goes
    through `dataclasses.replace`; other attributes (a cached property) are not carried over.
    """
    kind = type(item)
    if hasattr(kind, "__post_init__") or not hasattr(item, "__dict__"):  # slotted: no state to copy here
        return replace(item, **changes)
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))  # type: ignore[arg-type]
    state = item.__dict__
    made = object.__new__(kind)
    if len(state) == len(names):  # nothing but the fields: copied whole
        fresh = state.copy()
        fresh.update(changes)
        object.__setattr__(made, "__dict__", fresh)
    else:
        made.__dict__.update({name: state[name] for name in names}, **changes)
    return made


LOOP_BODY = 64
"""The longest loop body (in ops) `aligned_ops` recognises as repeated a different number of times."""


def aligned_ops(mine: Sequence[Any], theirs: Sequence[Any]) -> list[tuple[int, int]] | None:
    """The ops of two passes paired by position (index in `mine`, index in `theirs`), or None when they differ.

    Two lists of ops match when they are equal once every run of a repeated pattern (a loop body
    of at most `LOOP_BODY` ops, repeated at least twice) is written as the pattern and its count,
    and the counts are left out: a loop over the length runs 16 times in one pass and 17 in the
    next. Within a run, the first repetitions are paired one to one; the ones only the longer
    run has are left unpaired.
    """
    if list(mine) == list(theirs):
        return [(i, i) for i in range(len(mine))]
    a, b = _runs(mine), _runs(theirs)
    if len(a) != len(b) or any(pa != pb for (pa, _), (pb, _) in zip(a, b, strict=True)):
        return None
    pairs = []
    i = j = 0
    for (pattern, count_a), (_, count_b) in zip(a, b, strict=True):
        width = len(pattern)
        pairs += [(i + k, j + k) for k in range(width * min(count_a, count_b))]
        i += width * count_a
        j += width * count_b
    return pairs


def _runs(ops: Sequence[Any]) -> list[tuple[tuple[Any, ...], int]]:
    """`ops` as (pattern, count) runs, left to right: at each position the repeat covering the most ops."""
    seq = tuple(ops)
    out: list[tuple[tuple[Any, ...], int]] = []
    i = 0
    while i < len(seq):
        best, best_count = 1, 1
        for width in range(1, min(LOOP_BODY, (len(seq) - i) // 2) + 1):
            pattern = seq[i : i + width]
            count = 1
            while seq[i + count * width : i + (count + 1) * width] == pattern:
                count += 1
            if count > 1 and count * width > best * best_count:
                best, best_count = width, count
        out.append((seq[i : i + best], best_count))
        i += best * best_count
    return out


class Resolver:
    """Resolves a recorder's live tensors to `TensorInfo` ids, op by op, in call order."""

    def __init__(
        self,
        tree: guard.Tree,
        recorder: Recorder,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        device: str,
        budget: Budget,
        stand_ins: Mapping[int, torch.Tensor] | None = None,
        shapes_only: bool = False,
        light: bool = False,
    ) -> None:
        self.recorder = recorder
        self.shapes_only = shapes_only
        """A pass read only for its steps and shapes (`Built.matched_shapes`): no costs, no arguments."""
        self.light = ShapesOnly() if light and shapes_only else None
        """Such a pass kept as `ShapesOnly` (ops by kind, name and tensor ids; tensors by size), not as specs.
        A block left `Unmade` whose leader resolved alike then gets a copy of the leader's (`_Template`)."""
        self.templates: dict[int, _Template | None] = {}
        """By the id of a leader's segment: what its ops resolved to (None: its followers are resolved op by op)."""
        self.device = device
        self.budget = budget
        self.args = args
        self.kwargs = kwargs
        self.forward = tree.paths[""].forward
        self.tensors: list[TensorInfo] = []
        self.current: dict[int, int] = {}
        self.roots: set[int] = set()
        self.ops: list[OpSpec] = []
        self.names: dict[int, str] = {key: names[0] for key, names in tree.tensor_names().items()}
        # A stand-in (a meta twin, a buffer's copy, a materialised tensor) carries its original's name.
        self.stand_ins = dict(stand_ins or {})
        self.described: dict[int, tuple[costs.Cost, dict[str, Any], str]] = {}
        """`_describe` of each op, by the id of the op (replayed ops share their source's)."""
        for key, twin in self.stand_ins.items():
            if key in self.names:
                self.names[id(twin)] = self.names[key]

    def resolve(self, error: BaseException | None, where: str) -> Built:
        """The pass as specs; `error` is what the pass raised and `where` where it stopped (`Recorder.fail`)."""
        rec = self.recorder
        inputs = []
        for name, tensor in _named_leaves(self.forward, self.args, self.kwargs):
            tid = self._new(tensor, None, name=name)
            self._op("input", name, "input", "", (), (tid,))
            inputs.append(
                BoundaryTensor(
                    name=name, shape=tuple(tensor.shape), dtype=dtype_name(tensor.dtype), dims=tuple(tensor.shape)
                )
            )
        opening: dict[int, list[ModuleCall]] = {}
        closing: dict[int, list[ModuleCall]] = {}
        for call in rec.module_calls:
            opening.setdefault(call.start, []).append(call)
            closing.setdefault(call.end if call.end is not None else len(rec.raw), []).append(call)
        resolved = self._walk(opening, closing)
        outputs: list[BoundaryTensor] = []
        output = getattr(rec, "output", None)
        if error is None:
            ids = []
            for name, tensor in _named_output(output):
                tid = self._ref(tensor)
                ids.append(tid)
                outputs.append(
                    BoundaryTensor(
                        name=name, shape=tuple(tensor.shape), dtype=dtype_name(tensor.dtype), dims=tuple(tensor.shape)
                    )
                )
            self._op("output", "output", "output", "", tuple(ids), ())
        module_calls = (
            ()
            if self.light is not None
            else tuple(
                _spec(
                    OpSpec,
                    index=i,
                    kind="module",
                    name=call.path,
                    target=call.target,
                    scope=call.scope,
                    inputs=resolved.get(id(call), ((), ()))[0],
                    outputs=resolved.get(id(call), ((), ()))[1],
                    args="",
                    macs=0,
                    flops=0,
                    arguments={},
                    call=call.call,
                    inner=(),
                )
                for i, call in enumerate(rec.module_calls)
            )
        )
        calls = {}
        for path, seen in rec.calls.items():
            shapes_in: tuple[Shape, ...] = tuple(tuple(t.shape) for t in rec.first_in.get(path, []))
            shapes_out: tuple[Shape, ...] = tuple(tuple(t.shape) for t in rec.first_out.get(path, []))
            calls[path] = _changed(
                seen, input_shapes=shapes_in, output_shapes=shapes_out, input_dims=shapes_in, output_dims=shapes_out
            )
        failure = None if error is None else self._error(error, where)
        trace = TraceSpec(
            device=self.device,
            ops=tuple(self.ops),
            tensors=tuple(self.tensors),
            complete=error is None,
            error="",
            failed_in=where if error is not None else "",
            module_calls=module_calls,
            assumptions=assumptions(rec.values.assumed if rec.values is not None else []),
        )
        built = Built(
            trace=trace, calls=calls, inputs=tuple(inputs), outputs=tuple(outputs), failure=failure, light=self.light
        )
        return replace(built, trace=replace(trace, error=built.sentence())) if failure else built

    def _walk(
        self, opening: Mapping[int, list[ModuleCall]], closing: Mapping[int, list[ModuleCall]]
    ) -> dict[int, tuple[tuple[int, ...], tuple[int, ...]]]:
        """Resolve the recorded ops in order, each module call where it opens and closes; the calls' tensor ids."""
        rec = self.recorder
        resolved: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        leads = self._leads() if self.light is not None else {}
        skip = 0
        for position in range(len(rec.raw) + 1):
            if position < skip:
                continue  # inside a block whose leader's ops were copied: its module calls are inside too
            for lead in leads.get(position, ()):
                self._lead_ends(lead)
            for call in closing.get(position, []):
                ins = resolved[id(call)][0] if id(call) in resolved else ()
                resolved[id(call)] = (ins, tuple(self._ref(t) for t in call.outputs))
            for call in opening.get(position, []):
                resolved[id(call)] = (tuple(self._ref(t) for t in call.inputs), ())
            if position < len(rec.raw):
                raw = rec.raw[position]
                if type(raw) is Unmade:
                    if position == raw.start and self._copied(raw):
                        skip = position + len(raw.leader.raw)
                        continue
                    self._unmade_op(raw, position)
                else:
                    for lead in leads.get(position, ()):
                        self._lead_starts(lead)
                    self._raw_op(raw)
        return resolved

    def _error(self, error: BaseException, where: str) -> Failure:
        """Where the pass failed (``"in fc1 (Linear)"``), the exception shortly, and the fix."""
        failed = _failed_op(self.ops)
        place = f"in {where}" if where else "in the model's forward"
        if failed is not None and failed.kind == "module":
            place = f"in {failed.name or 'the model'} ({failed.target.rsplit('.', 1)[-1]})"
        if isinstance(error, ProbeTimeout):
            return Failure(
                place=place,
                message=f"the probe timeout of {self.budget.seconds:g} s (a forward pass that sleeps, waits or loops)",
                fix="make the forward pass finish, or raise --probe-timeout (0 turns the limit off)",
                timed_out=True,
            )
        message = guard.describe_error(error)
        if isinstance(error, SystemExit):
            return Failure(
                place=place,
                message=f"{message} (the model's code called sys.exit())",
                fix="remove the sys.exit() call from forward (modeldoc went on without exiting)",
            )
        if isinstance(error, RecursionError):
            return Failure(
                place=place,
                message=message,
                fix=(
                    "the model's calls nest deeper than Python's recursion limit allows "
                    f"({sys.getrecursionlimit()} frames); nest fewer levels, or raise the limit with "
                    "sys.setrecursionlimit where the model is defined"
                ),
            )
        if isinstance(error, DtypeRejected):
            return Failure(place=place, message=f"dtypes the real kernel rejects: {error}", fix=error.fix, certain=True)
        if not isinstance(error, Exception):
            message += " (a BaseException that is not an Exception)"
        kernel = isinstance(error, RuntimeError | NotImplementedError | MemoryError) or "meta" in message
        return Failure(place=place, message=message, fix=_INPUT_FIX, kernel=kernel)

    def _raw_op(self, raw: RawOp) -> None:
        ins = tuple([self._ref(t) for t in raw.inputs])
        if self.light is not None:
            index = len(self.light.signature)
            outs = tuple([self._new(t, index) for t in raw.outputs])
            self._op(raw.kind, raw.name, raw.target, raw.scope, ins, outs)
            return
        cost, arguments, text = self._described(raw)
        index = len(self.ops)
        outs = tuple([self._new(t, index, alias=id(_root(t)) in self.roots) for t in raw.outputs])
        self._op(
            raw.kind,
            raw.name,
            raw.target,
            raw.scope,
            ins,
            outs,
            text=text,
            cost=cost,
            arguments=arguments,
            call=raw.call,
            inner=tuple(op.name for op in raw.inner if op.kind == "function") if raw.kind == "module" else (),
        )

    def _leads(self) -> dict[int, list[_Lead]]:
        """The leaders of the blocks left `Unmade`, by where their ops begin and where they end."""
        leads: dict[int, list[_Lead]] = {}
        seen: set[int] = set()
        for raw in self.recorder.raw:
            if type(raw) is not Unmade or id(raw.leader) in seen:
                continue
            seen.add(id(raw.leader))
            if raw.leader.raw:
                lead = _Lead(raw.leader)
                leads.setdefault(lead.start, []).append(lead)
                leads.setdefault(lead.end, []).append(lead)
        return leads

    def _lead_starts(self, lead: _Lead) -> None:
        """Just before a leader's first op: where its ops and tensors begin, and what its tensors were then."""
        if lead.start_state is not None or self.light is None:
            return
        lead.start_state = (
            len(self.light.signature),
            len(self.light.shapes),
            {key: self.current.get(key) for key in lead.own},
        )

    def _lead_ends(self, lead: _Lead) -> None:
        """Just after a leader's last op: its `_Template`, when its followers may copy it."""
        if lead.start_state is None or self.light is None or id(lead.segment) in self.templates:
            return
        op_start, first, known = lead.start_state
        ends = {key: self.current.get(key) for key in lead.kept}
        outer = {tid for tid in known.values() if tid is not None}
        used = {tid for ins, outs in self.light.wiring[op_start:] for tid in (*ins, *outs) if tid < first}
        fits = used <= outer and all(tid is None or tid >= first or tid in outer for tid in ends.values())
        self.templates[id(lead.segment)] = (
            _Template(
                ops=(op_start, len(self.light.signature)),
                tensors=(first, len(self.light.shapes)),
                known=known,
                ends=ends,
            )
            if fits
            else None
        )

    def _copied(self, unmade: Unmade) -> bool:
        """Copy the leader's resolved ops for `unmade`'s block, when they are what resolving it op by op gives.

        That holds when each tensor of the block's own (an input, a weight) was known before the
        block exactly where the leader's was, and no two of them are one tensor: then every op and
        every tensor made inside follows the leader's, shifted, with the block's own tensors in the
        places of the leader's. Otherwise (False) the block is resolved op by op.
        """
        light = self.light
        template = self.templates.get(id(unmade.leader))
        if light is None or template is None:
            return False
        mapped = unmade.mapped
        outer: dict[int, int] = {}
        seen: set[int] = set()
        for key, tid in template.known.items():
            own = mapped.get(key)
            if own is None:
                return False
            found = self.current.get(id(own))
            if (found is None) != (tid is None) or id(own) in seen:
                return False
            seen.add(id(own))  # each of the block's own tensors is another tensor
            if tid is not None and found is not None:
                outer[tid] = found
        if any(key not in mapped for key in template.ends):
            return False
        first, last = template.tensors
        shift = len(light.shapes) - first

        def moved(tid: int) -> int:
            return tid + shift if tid >= first else outer[tid]

        light.shapes.extend(light.shapes[first:last])
        rename = unmade.rename
        for index in range(*template.ops):
            kind, name = light.signature[index]
            ins, outs = light.wiring[index]
            light.signature.append((kind, rename(name) if kind == "module" else name))
            light.wiring.append((tuple(map(moved, ins)), tuple(map(moved, outs))))
        for key, tid in template.ends.items():
            if tid is not None:
                self.current[id(mapped[key])] = moved(tid)
        return True

    def _unmade_op(self, unmade: Unmade, position: int) -> None:
        """`_raw_op` of the op a replayed block left unmade at `position`: its leader's, on the block's tensors."""
        raw = unmade.op(position)
        tensor = unmade.tensor
        ins = tuple(self._ref(tensor(t)) for t in raw.inputs)
        if self.light is not None:
            index = len(self.light.signature)
            made = tuple(self._new(tensor(t), index) for t in raw.outputs)
            self._op(raw.kind, unmade.rename(raw.name) if raw.kind == "module" else raw.name, "", "", ins, made)
            return
        cost, arguments, text = self._described(raw)
        index = len(self.ops)
        outs = []
        for t in raw.outputs:
            made = tensor(t)
            outs.append(self._new(made, index, alias=id(_root(made)) in self.roots))
        self._op(
            raw.kind,
            unmade.rename(raw.name) if raw.kind == "module" else raw.name,
            raw.target,
            unmade.rename(raw.scope),
            ins,
            tuple(outs),
            text=text,
            cost=cost,
            arguments=arguments,
            call=raw.call,
            inner=tuple(op.name for op in raw.inner if op.kind == "function") if raw.kind == "module" else (),
        )

    def _described(self, raw: RawOp) -> tuple[costs.Cost, dict[str, Any], str]:
        """`_describe` of the op `raw` repeats (itself, when it repeats none), worked out once."""
        source = raw.source or raw
        known = self.described.get(id(source))
        if known is None:
            known = self.described[id(source)] = self._describe(source)
        return known

    def _describe(self, raw: RawOp) -> tuple[costs.Cost, dict[str, Any], str]:
        """An op's cost, its arguments as plain data and as text (a replayed op shares its source's)."""
        inner = [] if self.shapes_only else raw.inner if raw.kind == "module" else [raw]
        cost = costs.ZERO
        for op in inner:
            if op.kind == "module" or op.failed:
                continue
            shaped = _cost_arguments(bind(op.func, op.name, op.args, op.kwargs))
            cost += costs.op_cost(op.name, shaped, [tuple(t.shape) for t in op.outputs])
        arguments: dict[str, Any] = {}
        text = ""
        if raw.kind == "function" and not self.shapes_only:
            bound = bind(raw.func, raw.name, raw.args, raw.kwargs)
            arguments = plain_arguments(bound)
            text = args_text(raw.func, raw.name, raw.args, raw.kwargs)
        return cost, arguments, text

    def _op(
        self,
        kind: str,
        name: str,
        target: str,
        scope: str,
        inputs: tuple[int, ...],
        outputs: tuple[int, ...],
        *,
        text: str = "",
        cost: costs.Cost = costs.ZERO,
        arguments: dict[str, Any] | None = None,
        call: int = 0,
        inner: tuple[str, ...] = (),
    ) -> None:
        if self.light is not None:
            self.light.signature.append((kind, name))
            self.light.wiring.append((inputs, outputs))
            return
        self.ops.append(
            _spec(
                OpSpec,
                index=len(self.ops),
                kind=kind,  # type: ignore[arg-type]
                name=name,
                target=target,
                scope=scope,
                inputs=inputs,
                outputs=outputs,
                args=text,
                macs=cost.macs,
                flops=cost.flops,
                arguments=arguments or {},
                call=call,
                inner=inner,
            )
        )

    def _new(self, tensor: torch.Tensor, producer: int | None, *, name: str = "", alias: bool = False) -> int:
        if self.light is not None:
            tid = len(self.light.shapes)
            self.light.shapes.append(tuple(tensor.shape))
            self.current[id(tensor)] = tid
            return tid
        tid = len(self.tensors)
        self.tensors.append(
            _spec(
                TensorInfo,
                id=tid,
                shape=tuple(tensor.shape),
                dims=tuple(tensor.shape),
                dtype=dtype_name(tensor.dtype),
                producer=producer,
                name=name,
                nbytes=tensor.numel() * tensor.element_size(),
                alias=alias,
            )
        )
        self.current[id(tensor)] = tid
        self.roots.add(id(_root(tensor)))
        return tid

    def _ref(self, tensor: torch.Tensor) -> int:
        tid = self.current.get(id(tensor))
        if tid is None:
            tid = self._new(tensor, None, name=self.names.get(id(tensor), ""))
        return tid


class _Lead:
    """A leader of blocks left `Unmade`, watched while its own ops are resolved."""

    def __init__(self, segment: Segment) -> None:
        self.segment = segment
        self.start = segment.raw_start
        self.end = segment.raw_start + len(segment.raw)
        self.own = [key for key, ref in segment.refs.items() if ref[0] != "new"]
        """Its own tensors (inputs, weights, tensor attributes), by id: a follower's are its own."""
        kept = dict.fromkeys(self.own)
        for leaf in _tensors(segment.output):
            kept[id(leaf)] = None
        for call in segment.calls:  # a module call that opens or closes where the block ends reads its tensors there
            if call.end == self.end:
                kept.update(dict.fromkeys(id(t) for t in call.outputs))
            if call.start == self.end:
                kept.update(dict.fromkeys(id(t) for t in call.inputs))
        self.kept = list(kept)
        """The tensors read after its ops, by id: a follower's get the ids of the leader's, shifted."""
        self.start_state: tuple[int, int, dict[int, int | None]] | None = None
        """Where its ops and tensors began, and the id each of its own tensors had then."""


@dataclass(frozen=True)
class _Template:
    """What a leader's ops resolved to: the ranges of ops and tensor ids, and its tensors' ids before and after."""

    ops: tuple[int, int]
    tensors: tuple[int, int]
    known: dict[int, int | None]
    """The id each of its own tensors had before its ops (None: not seen yet)."""
    ends: dict[int, int | None]
    """The id each tensor read after its ops had after them."""


def _tensors(value: Any) -> list[torch.Tensor]:
    return [leaf for leaf in pytree.tree_leaves(value) if isinstance(leaf, torch.Tensor)]


def assumptions(assumed: Sequence[Assumed]) -> tuple[Assumption, ...]:
    """The values a meta pass assumed, each line and question once (with how often it was asked), in order."""
    counts: dict[Assumed, int] = {}
    for item in assumed:
        counts[item] = counts.get(item, 0) + 1
    return tuple(
        Assumption(
            where=item.where, code=item.code, question=item.question, assumed=item.assumed, why=item.why, count=count
        )
        for item, count in counts.items()
    )


def _cost_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments for `costs`: tensors become `costs.Shape`, containers are kept."""

    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return costs.Shape(tuple(value.shape))
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return {key: convert(value) for key, value in arguments.items()}


def _failed_op(ops: Sequence[OpSpec]) -> OpSpec | None:
    """The op the pass failed in: the last one, left without outputs."""
    return next((op for op in reversed(ops) if op.kind in ("module", "function") and not op.outputs), None)


def _root(tensor: torch.Tensor) -> torch.Tensor:
    base = tensor._base
    return tensor if base is None else base


def _named_leaves(
    forward: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Iterator[tuple[str, torch.Tensor]]:
    """Each example tensor with a name: the forward parameter it binds to, plus where it sits inside."""
    try:
        params = [
            p.name
            for p in inspect.signature(forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    for i, arg in enumerate(args):
        base = params[i] if i < len(params) else f"args[{i}]"
        for path, leaf in named_tensors(arg):
            yield base + path, leaf
    for key, value in kwargs.items():
        for path, leaf in named_tensors(value):
            yield key + path, leaf


def _named_output(output: Any) -> Iterator[tuple[str, torch.Tensor]]:
    """Each tensor forward returned, named by where it sits: ``logits``, ``output[0]``, ``output['pooled'][1]``.

    A tensor one key or field deep (a dict, a ``ModelOutput``, a dataclass, a namedtuple) is named
    by that key alone.
    """
    for path, leaf in named_tensors(output):
        key = path[2:-2] if path.startswith("['") and path.endswith("']") and path.count("[") == 1 else ""
        field = path[1:] if path.startswith(".") and path.count(".") == 1 and "[" not in path else ""
        yield key or field or f"output{path}", leaf


_MAX_DEPTH = 32
"""How deep `named_tensors` looks into nested containers."""


def named_tensors(value: Any, path: str = "", depth: int = 0) -> Iterator[tuple[str, torch.Tensor]]:
    """Every tensor inside `value` with its path (``""``, ``[0]``, ``['pooled'][1]``, ``.sample``), in order.

    Any container a forward may take or return is walked: tensors, mappings (``ModelOutput`` is
    one), namedtuples, dataclasses (diffusers' ``UNet2DOutput``), lists and tuples; an object of
    another class is walked by its public attributes when it is `value` itself (a custom output
    class), not when it sits inside a container (a key-value cache beside the outputs is state,
    not a result). Nothing here needs the type to be registered with ``torch.utils._pytree``.
    """
    if isinstance(value, torch.Tensor):
        yield path, value
        return
    if depth >= _MAX_DEPTH or value is None or isinstance(value, str | bytes | int | float | bool | complex):
        return
    if isinstance(value, Mapping):
        items: list[tuple[str, Any]] = [(f"[{key!r}]", item) for key, item in list(value.items())]
    elif isinstance(value, tuple) and hasattr(value, "_fields"):
        items = [(f".{name}", item) for name, item in zip(value._fields, value, strict=False)]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        items = [(f".{f.name}", getattr(value, f.name, None)) for f in dataclasses.fields(value)]
    elif isinstance(value, list | tuple):
        items = [(f"[{i}]", item) for i, item in enumerate(value)]
    elif depth > 0 or isinstance(value, torch.nn.Module) or callable(value):
        return
    else:
        attrs = getattr(value, "__dict__", None)
        if not isinstance(attrs, dict):
            return
        items = [
            (f".{name}", item) for name, item in attrs.items() if isinstance(name, str) and not name.startswith("_")
        ]
    for part, item in items:
        yield from named_tensors(item, path + part, depth + 1)
