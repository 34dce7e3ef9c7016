"""The recorder of one forward pass: every torch call and every module call, with live tensors.

A ``TorchFunctionMode`` records each torch function the model calls (``F.relu``, ``reshape``,
``+``, ``matmul``, ...) and forward pre/post hooks (`Recorder.pre`, `Recorder.post`) record
each module call, so real Python control flow is followed (models ``torch.fx`` cannot trace
work too). A module call that calls no other module becomes one ``"module"`` op that absorbs
the ops inside it (their cost counts toward it); the other ops are ``"function"`` ops scoped
to the innermost module they ran in. On the meta device the recorder first asks
`modeldoc.probe.meta_kernels` for an answer from shapes. Nothing here is resolved to specs:
that is `modeldoc.probe.resolve`, once the pass is over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._device import DeviceContext
from torch.utils._device import _device_constructors as _constructors

from modeldoc.probe import ops
from modeldoc.probe.deadline import Budget
from modeldoc.probe.meta_kernels import answer_from_shapes, check_dtypes, dtypes_checked
from modeldoc.probe.ops import bookkeeping, op_name, op_target, tensor_leaves, with_modes
from modeldoc.probe.values import Values
from modeldoc.spec import Dim

Shape = tuple[int, ...]
Dims = tuple[Dim, ...]


@dataclass
class Calls:
    """What the probe saw of one module: its call count and the shapes of its first call."""

    count: int = 0
    order: int | None = None
    input_shapes: tuple[Shape, ...] = ()
    output_shapes: tuple[Shape, ...] = ()
    input_dims: tuple[Dims, ...] = ()
    output_dims: tuple[Dims, ...] = ()


@dataclass
class _Frame:
    path: str
    module: nn.Module
    start: int
    call: int
    record: int
    inputs: list[torch.Tensor]
    called_child: bool = False


@dataclass
class RawOp:
    """One recorded op, with live tensors (resolved to ids once the pass is over)."""

    kind: str
    name: str
    target: str
    scope: str
    inputs: list[torch.Tensor]
    outputs: list[torch.Tensor]
    func: Any = None
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    inner: list[RawOp] = field(default_factory=list)
    call: int = 0
    failed: bool = False
    source: RawOp | None = None
    """For an op copied from a repeated block's first call (`modeldoc.probe.replay`): the op it copies."""


@dataclass
class ModuleCall:
    """One call of a module: where its data enters (`start`) and leaves (`end`) the list of recorded ops."""

    path: str
    target: str
    scope: str
    call: int
    inputs: list[torch.Tensor]
    start: int
    outputs: list[torch.Tensor] = field(default_factory=list)
    end: int | None = None


class Recorder(TorchFunctionMode):
    """Records torch function calls; the module hooks below record module calls."""

    def __init__(
        self, paths: Mapping[int, str], types: Mapping[int, str], *, budget: Budget | None = None, meta: bool = False
    ) -> None:
        super().__init__()
        self.paths = paths
        self.types = types
        self.budget = budget
        self.meta = meta
        self.raw: list[RawOp] = []
        self.frames: list[_Frame] = []
        self.module_calls: list[ModuleCall] = []
        self.calls: dict[str, Calls] = {}
        self.first_in: dict[str, list[torch.Tensor]] = {}
        self.first_out: dict[str, list[torch.Tensor]] = {}
        self.failed: RawOp | None = None
        self.counter = 0
        self.output: Any = None
        self.values = Values() if meta else None
        """On the meta device: the values computed beside the pass, and those assumed."""
        self.direct = False
        """Whether no function mode but a default device lies under this one (`__enter__`): see `_on_meta`."""
        self.reads_at_once = False
        """Whether a read of a tensor's sizes, dtype or device is made at once (`METADATA_AT_ONCE`, `__enter__`)."""

    def __enter__(self) -> Recorder:
        below = torch.overrides._get_current_function_mode_stack()
        self.direct = DIRECT_CALLS and all(type(mode) is DeviceContext for mode in below)
        self.reads_at_once = METADATA_AT_ONCE and self.direct and self.values is not None
        return super().__enter__()  # type: ignore[no-any-return]

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        if self.reads_at_once and func in _METADATA and not kwargs and _metadata_arguments(args):
            with bookkeeping():
                if self.budget is not None:
                    self.budget.check()
                try:
                    return func(*args)  # what the long way below returns, and nothing recorded (no tensor made)
                except Exception:
                    pass  # the long way records the failure as it raises again
        kwargs = kwargs or {}
        with bookkeeping():  # the op itself runs `with_modes`
            if self.budget is not None:
                self.budget.check()
            facts = function_facts(func)
            try:
                if self.values is not None:
                    out = self.values.call(
                        func, args, kwargs, lambda: _on_meta(func, args, kwargs, self.direct, facts), facts.name
                    )
                else:
                    out = with_modes(func, *args, **kwargs)
            except Exception:
                self.failed = self._raw(func, args, kwargs, [], facts, failed=True)
                raise
            outputs = tensor_leaves(out)
            if outputs:
                self.failed = None
                self.raw.append(self._raw(func, args, kwargs, outputs, facts))
            return out

    def _raw(
        self,
        func: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        outputs: list[torch.Tensor],
        facts: FunctionFacts,
        *,
        failed: bool = False,
    ) -> RawOp:
        return RawOp(
            kind="function",
            name=facts.name,
            target=facts.target,
            scope=self.frames[-1].path if self.frames else "",
            inputs=tensor_leaves((args, kwargs)),
            outputs=outputs,
            func=func,
            args=args,
            kwargs=kwargs,
            failed=failed,
        )

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """The forward pre-hook: a module call opens."""
        with bookkeeping():
            self._open(module, args, kwargs)

    def _open(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.budget is not None:
            self.budget.check()
        path = self.paths[id(module)]
        scope = self.frames[-1].path if self.frames else ""
        if self.frames:
            self.frames[-1].called_child = True
        inputs = tensor_leaves((args, kwargs))
        seen = self.calls.get(path)
        if seen is None:
            seen = self.calls[path] = Calls()
        if seen.count == 0:
            seen.order = self.counter
            self.counter += 1
            self.first_in[path] = inputs
        # the record first: a probe timeout may interrupt between the two, and a frame needs its record
        self.module_calls.append(
            ModuleCall(
                path=path,
                target=self.types[id(module)],
                scope=scope,
                call=seen.count,
                inputs=inputs,
                start=len(self.raw),
            )
        )
        self.frames.append(
            _Frame(
                path=path,
                module=module,
                start=len(self.raw),
                call=seen.count,
                record=len(self.module_calls) - 1,
                inputs=inputs,
            )
        )
        seen.count += 1

    def post(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        """The forward hook: a module call closes with its output."""
        with bookkeeping():
            self._closed(module, output)

    def _closed(self, module: nn.Module, output: Any) -> None:
        # Frames a caught exception left open are closed here, without outputs.
        while self.frames and self.frames[-1].module is not module:
            self._close(self.frames.pop(), [])
        if not self.frames:
            return
        frame = self.frames.pop()
        outputs = tensor_leaves(output)
        if frame.call == 0:
            self.first_out[frame.path] = outputs
        self._close(frame, outputs)

    def _close(
        self, frame: _Frame, outputs: list[torch.Tensor], *, failed: bool = False, collapse: bool = True
    ) -> None:
        if collapse and not frame.called_child:
            inner = self.raw[frame.start :]
            del self.raw[frame.start :]
            self.raw.append(
                RawOp(
                    kind="module",
                    name=frame.path,
                    target=self.module_calls[frame.record].target,
                    scope=self.frames[-1].path if self.frames else "",
                    inputs=frame.inputs,
                    outputs=outputs,
                    inner=inner,
                    call=frame.call,
                    failed=failed,
                )
            )
        record = self.module_calls[frame.record]
        record.outputs = outputs
        record.end = len(self.raw)

    def fail(self) -> str:
        """Close the frames an exception left open; returns where the pass failed."""
        failed = self.failed
        innermost = self.frames[-1] if self.frames else None
        where = ""
        if innermost is not None and not innermost.called_child and (innermost.path or failed is None):
            if failed is not None:
                self.raw.append(failed)
            where = innermost.path
            self._close(self.frames.pop(), [], failed=True)
        elif failed is not None:
            self.raw.append(failed)
            where = failed.name if not failed.scope else f"{failed.scope}: {failed.name}"
        elif innermost is not None:
            where = innermost.path
        while self.frames:  # the calls around the failure stay containers: their ops are already recorded
            self._close(self.frames.pop(), [], collapse=False)
        return where


def _on_meta(
    func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], direct: bool = False, facts: FunctionFacts | None = None
) -> Any:
    """One call on the meta device: dtypes checked as the real kernel would, answered from shapes where quicker.

    `direct`: the only function mode under the recorder is the default device's. Its handler
    changes nothing but a constructor's device, so a call of torch's own C code that constructs
    nothing, on plain tensors (no subclass with a handler of its own), is made at once, with the
    modes off (it would reach the same C code through the handler). `facts` are `func`'s
    (`function_facts`), when the caller has them.
    """
    facts = facts if facts is not None else function_facts(func)
    if facts.checked:
        check_dtypes(func, args, kwargs, facts.name)
    out = answer_from_shapes(func, args, kwargs)
    if out is not None:
        return out
    if direct and facts.c_call and _plain(args) and _plain(kwargs.values()):
        return func(*args, **kwargs)
    return with_modes(func, *args, **kwargs)


class FunctionFacts(NamedTuple):
    """What the recorder reads of a torch function, the same for every call: worked out once (`function_facts`)."""

    name: str
    """`op_name`: ``"relu"``, ``"add"``."""
    target: str
    """`op_target`: ``"torch.nn.functional.relu"``."""
    checked: bool
    """Whether `check_dtypes` may reject it (it returns at once for any other)."""
    c_call: bool
    """Whether it is torch's own C code that constructs nothing (a call `_on_meta` may make at once)."""


def function_facts(func: Any) -> FunctionFacts:
    """`func`'s `FunctionFacts`, kept by the function itself (as `op_name` keeps names), unless `ops.MEMOIZE` is off."""
    if not FUNCTION_FACTS or not ops.MEMOIZE:
        return _facts_of(func)
    try:
        found = _FUNCTIONS.get(func)
    except TypeError:  # an unhashable callable
        return _facts_of(func)
    if found is None:
        if len(_FUNCTIONS) >= _MOST_FUNCTIONS:
            _FUNCTIONS.clear()
        found = _FUNCTIONS[func] = _facts_of(func)
    return found


def _facts_of(func: Any) -> FunctionFacts:
    name = op_name(func)
    return FunctionFacts(
        name=name,
        target=op_target(func, name),
        checked=dtypes_checked(name),
        c_call=type(func) in _C_CALLS and func not in _constructors(),
    )


FUNCTION_FACTS = True
"""Keep each function's `FunctionFacts` (tests compare with working them out at every call)."""
_FUNCTIONS: dict[Any, FunctionFacts] = {}
_MOST_FUNCTIONS = 4096
"""The most functions `_FUNCTIONS` keeps: emptied when full (a model that makes functions as it runs fills it)."""


METADATA_AT_ONCE = True
"""On the meta device, with calls made directly (`Recorder.direct`), a read of a plain tensor's sizes, dtype or
device (`_METADATA`) is made at once: the long way would make the same call and record nothing (tests compare)."""

_METADATA = frozenset(
    {
        torch.Tensor.shape.__get__,  # type: ignore[attr-defined]
        torch.Tensor.dtype.__get__,  # type: ignore[attr-defined]
        torch.Tensor.device.__get__,  # type: ignore[attr-defined]
        torch.Tensor.ndim.__get__,  # type: ignore[attr-defined]
        torch.Tensor.size,
        torch.Tensor.dim,
        torch.Tensor.stride,
        torch.Tensor.numel,
    }
)
"""torch's reads of a tensor's layout: they return sizes, numbers, a dtype or a device, never a tensor."""


def _metadata_arguments(args: tuple[Any, ...]) -> bool:
    """True for the arguments of a plain read: a plain tensor or parameter, then at most one axis as an ``int``."""
    return 1 <= len(args) <= 2 and type(args[0]) in _TENSORS and (len(args) == 1 or type(args[1]) is int)


_TENSORS = frozenset({torch.Tensor, nn.Parameter})

DIRECT_CALLS = True
"""Make torch's own calls at once where the default device's handler would change nothing (tests compare)."""

_C_CALLS = frozenset(
    type(f)
    for f in (torch.add, torch.Tensor.view, torch.Tensor.__getitem__, torch.Tensor.shape.__get__)  # type: ignore[attr-defined]
)
"""The kinds of torch's functions written in C (a builtin, a method, a slot, a property's getter)."""

_PLAIN_ARGUMENTS = frozenset(
    {
        torch.Tensor,
        nn.Parameter,
        bool,
        int,
        float,
        str,
        type(None),
        slice,
        type(...),
        torch.Size,
        torch.dtype,
        torch.device,
        torch.layout,
        torch.memory_format,
    }
)
"""Argument types no torch function handler can be reached through (a parameter's handler is torch's disabled one)."""


def _plain(values: Any) -> bool:
    """True when every argument in `values` (and in its lists and tuples) is of a `_PLAIN_ARGUMENTS` type."""
    for value in values:
        kind = type(value)
        if kind in _PLAIN_ARGUMENTS:
            continue
        if (kind is tuple or kind is list) and _plain(value):
            continue
        return False
    return True
