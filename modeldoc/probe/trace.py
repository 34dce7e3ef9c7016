"""The forward-pass trace: every module call and every op, on the meta device by default.

A ``TorchFunctionMode`` records each torch function the model calls (``F.relu``, ``reshape``,
``+``, ``matmul``, ...) and forward pre/post hooks record each module call, so real Python
control flow is followed (models ``torch.fx`` cannot trace work too). A module call that calls
no other module is one ``"module"`` op that absorbs the ops inside it (their cost counts toward
it); the other ops are ``"function"`` ops scoped to the innermost module they ran in.

The user's model is never moved or changed: on the meta device every parameter and buffer slot
holds a meta stand-in for the duration of the call (one per tensor object, so ties stay tied and
a module registered twice is swapped once); a pass with real values runs on copies of the
buffers. In ``finally:`` the hooks are removed, every module's attributes and slots are put back
from a snapshot taken before the pass (so what ``forward`` cached is gone too) and its
train/eval mode restored. A model with lazy modules is probed through a deep copy so it stays
lazy. When the meta pass fails (code that needs real values) the pass is rerun on the model's
own device with real weights, unless the inputs would take more than `CPU_INPUT_BYTES`.

Everything the user's code raises in ``forward`` is the pass's failure, ``SystemExit`` and
other ``BaseException``s included; only ``KeyboardInterrupt`` stops modeldoc. All passes share
the time budget of ``options.probe_timeout`` (see `modeldoc.probe.deadline`). The meta device does not
check dtypes, so the dtypes the CPU kernels reject are checked here (`DtypeRejected`).

Named input axes (``N``, ``L``) are probed again at other sizes, one at a time, and the dims
that follow them get symbolic labels (``"N"``, ``"N·L"``, ``"2·L"``, ``"L + 1"``); one more pass
with every named axis changed checks each label before it is kept.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import logging
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import torch
import torch.nn.functional as F
import torch.utils._pytree as pytree
from torch import nn
from torch.overrides import TorchFunctionMode

from modeldoc import costs
from modeldoc.errors import ConfigError, ProbeError
from modeldoc.options import InputOption, ModelOptions
from modeldoc.probe import guard
from modeldoc.probe.deadline import Budget, ProbeTimeout
from modeldoc.spec import BoundaryTensor, Dim, LayerSpec, OpSpec, TensorInfo, TraceSpec

logger = logging.getLogger(__name__)

_RNN_ARGS = ("input", "hx", "params", "has_biases", "num_layers", "dropout", "train", "bidirectional", "batch_first")
_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "long": torch.long,
    "int64": torch.long,
    "int32": torch.int32,
    "bool": torch.bool,
}
Shape = tuple[int, ...]
Dims = tuple[Dim, ...]


# --------------------------------------------------------------------------- results


@dataclass
class _Calls:
    """What the probe saw of one module: its call count and the shapes of its first call."""

    count: int = 0
    order: int | None = None
    input_shapes: tuple[Shape, ...] = ()
    output_shapes: tuple[Shape, ...] = ()
    input_dims: tuple[Dims, ...] = ()
    output_dims: tuple[Dims, ...] = ()


@dataclass(frozen=True)
class _Materialised:
    """The parameters a lazy module got on the probe's first call: local name to (shape, dtype, itemsize)."""

    tensors: Mapping[str, tuple[Shape, str, int]]


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw: the trace, each module's calls and shapes, costs and symbolic dims."""

    inputs: tuple[BoundaryTensor, ...]
    trace: TraceSpec | None
    calls: Mapping[str, _Calls] = field(default_factory=dict)
    error: str = ""
    output_dims: tuple[Dims, ...] = ()
    outputs: tuple[BoundaryTensor, ...] = ()
    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0
    costs: Mapping[str, costs.Cost] = field(default_factory=dict)
    lazy: Mapping[str, _Materialised] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def annotate(self, layer: LayerSpec) -> LayerSpec:
        """`layer` with the shapes, symbolic dims, call counts and costs the probe saw."""
        seen = self.calls.get(layer.path)
        cost = self.costs.get(layer.path, costs.ZERO)
        out = replace(layer, macs=cost.macs, flops=cost.flops, activation_bytes=cost.activation_bytes)
        if seen is not None:
            out = replace(
                out,
                calls=seen.count,
                order=seen.order,
                input_shapes=seen.input_shapes,
                output_shapes=seen.output_shapes,
                input_dims=seen.input_dims,
                output_dims=seen.output_dims,
            )
        return self._materialise(out)

    def _materialise(self, layer: LayerSpec) -> LayerSpec:
        """Lazy parameters get the shapes the probe's first call gave them."""
        extra = sum(
            math.prod(shape)
            for path, lazy in self.lazy.items()
            if _within(path, layer.path)
            for shape, _, _ in lazy.tensors.values()
        )
        lazy = self.lazy.get(layer.path)
        if lazy is None:
            return replace(layer, total_params=layer.total_params + extra) if extra else layer
        params = []
        for p in layer.parameters:
            got = lazy.tensors.get(p.local_name)
            if got is None or p.shape:
                params.append(p)
                continue
            shape, dtype, itemsize = got
            params.append(
                replace(p, shape=shape, dtype=dtype, numel=math.prod(shape), nbytes=math.prod(shape) * itemsize)
            )
        own = sum(p.numel for p in params if p.counted and not p.is_buffer)
        note = (
            f"{layer.type_name} is lazy: the parameter shapes shown come from the probe's first call; "
            "the model itself stays uninitialised until its own first call."
        )
        return replace(
            layer,
            parameters=tuple(params),
            own_params=own,
            total_params=layer.total_params + extra,
            notes=(*layer.notes, note),
        )

    def adjust_totals(self, totals: dict[str, Any]) -> dict[str, Any]:
        """Model totals (from `introspect`) with the lazy parameters the probe materialised added."""
        if not self.lazy:
            return totals
        out = dict(totals)
        by_dtype = dict(out.get("bytes_by_dtype", {}))
        for lazy in self.lazy.values():
            for shape, dtype, itemsize in lazy.tensors.values():
                n = math.prod(shape)
                out["total_params"] = out.get("total_params", 0) + n
                out["trainable_params"] = out.get("trainable_params", 0) + n
                by_dtype[dtype] = by_dtype.get(dtype, 0) + n * itemsize
                out["param_bytes"] = out.get("param_bytes", 0) + n * itemsize
        out["bytes_by_dtype"] = by_dtype
        return out


def _within(path: str, root: str) -> bool:
    return root in ("", path) or path.startswith(root + ".")


# --------------------------------------------------------------------------- entry point


def probe(module: nn.Module, options: ModelOptions, tree: guard.Tree | None = None) -> ProbeResult:
    """Trace one forward pass of `module` on the example input `options` describes.

    The trace, shapes and costs up to a failure are kept; the failure becomes `error`. All
    passes share the time budget ``options.probe_timeout``. `tree` is `module`'s walk, when
    the caller has it.
    """
    tree = tree if tree is not None else guard.walk(module)
    budget = Budget(options.probe_timeout)
    example = _example(options)
    lazy = _has_lazy(tree)
    on_meta = any(t.is_meta for t in _tensors_of(tree))
    plan = ["cpu"] if options.probe_device == "cpu" else (["meta"] if on_meta else ["meta", "cpu"])
    note = ""
    skipped = ""
    runner = _Runner(module, tree, device=plan[0], lazy=lazy, budget=budget)
    base = runner.build(example, example.sizes)
    certain = base.failure is not None and base.failure.certain
    if not base.trace.complete and len(plan) > 1 and not budget.expired and not certain:
        real = _Runner(module, tree, device=plan[1], lazy=lazy, budget=budget)
        rerun = real.build(example, example.sizes)
        failure = rerun.failure
        if failure is not None and not failure.ran:
            skipped = f"it was not rerun with real weights: {failure.message}"
        # A failure the real pass repeats at the same place is the model's, not the meta device's.
        elif rerun.trace.complete or rerun.trace.failed_in != base.trace.failed_in:
            note = (
                f"the meta-device pass failed ({base.failure.brief() if base.failure else ''}), so this trace comes "
                f"from a real pass on {real.real_device} with the model's weights"
            )
            runner, base = real, rerun
    labelled = _label(base, runner, example, budget)
    error = labelled.sentence()
    if skipped:
        error = f"{error}; {skipped}"
    if not base.trace.complete and on_meta and plan == ["meta"]:
        error = (
            f"{error}; the model's weights are on the meta device, so it cannot be rerun with real values: "
            "build it with real weights (not under torch.device('meta')) to trace further"
        )
    trace = replace(labelled.trace, error=error, note=note)
    summary = costs.summarize(trace)
    total = summary.get("", costs.ZERO)
    return ProbeResult(
        inputs=labelled.inputs,
        trace=trace,
        calls=labelled.calls,
        error=error,
        output_dims=tuple(o.dims for o in labelled.outputs),
        outputs=labelled.outputs,
        macs=total.macs,
        flops=total.flops,
        activation_bytes=total.activation_bytes,
        costs=summary,
        lazy=runner.materialised(),
        warnings=labelled.warnings,
    )


# --------------------------------------------------------------------------- example inputs


@dataclass(frozen=True)
class _Example:
    """How to build the example input at given sizes of the named axes, on a given device."""

    make: Callable[[str, Mapping[str, int]], tuple[tuple[Any, ...], dict[str, Any]]]
    sizes: Mapping[str, int]
    """The named axes and their sizes in the base example (``{"N": 1, "L": 16}``)."""
    nbytes: Callable[[Mapping[str, int]], int] = lambda sizes: 0
    """The bytes the example inputs take at given sizes (0 when a factory already made them)."""


def _example(options: ModelOptions) -> _Example:
    if options.example:
        return _factory_example(options.example)
    return _option_example(options.inputs)


def _option_example(inputs: tuple[InputOption, ...]) -> _Example:
    sizes: dict[str, int] = {}
    for option in inputs:
        for size, name in zip(option.shape, option.axis_names, strict=True):
            if name:
                sizes.setdefault(name, size)

    def shape_at(option: InputOption, at: Mapping[str, int]) -> Shape:
        return tuple(at.get(n, s) if n else s for s, n in zip(option.shape, option.axis_names, strict=True))

    def nbytes(at: Mapping[str, int]) -> int:
        return sum(math.prod(shape_at(o, at)) * torch.empty((), dtype=_DTYPES[o.dtype]).element_size() for o in inputs)

    for option in inputs:
        _check_size(option.shape, _DTYPES[option.dtype])

    def make(device: str, at: Mapping[str, int]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        generator = torch.Generator().manual_seed(0)
        for option in inputs:
            shape = shape_at(option, at)
            _check_size(shape, _DTYPES[option.dtype])
            tensor = _filled(shape, _DTYPES[option.dtype], device, generator)
            if option.keyword:
                kwargs[option.keyword] = tensor
            else:
                args.append(tensor)
        return tuple(args), kwargs

    return _Example(make=make, sizes=sizes, nbytes=nbytes)


_MAX_TENSOR_BYTES = 2**63 - 1
CPU_INPUT_BYTES = 2 * 1024**3
"""The most bytes a pass with real values allocates for the example inputs (2 GiB)."""


def _check_size(shape: Shape, dtype: torch.dtype) -> None:
    """A ConfigError for a shape no tensor can have (its byte size overflows int64)."""
    numel = math.prod(shape)
    if numel * torch.empty((), dtype=dtype).element_size() > _MAX_TENSOR_BYTES:
        raise ConfigError(
            f"the input shape {','.join(map(str, shape))} has {numel:.3g} elements, more than any tensor can hold "
            "(its size in bytes overflows a 64-bit integer)",
            "give a smaller --input-shape",
        )


def _size_text(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if size < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} PiB"


def _filled(shape: Shape, dtype: torch.dtype, device: str, generator: torch.Generator) -> torch.Tensor:
    """An example tensor: random floats, and ones for integers and booleans (valid token ids and masks)."""
    if device == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    if dtype.is_floating_point:
        return torch.randn(shape, generator=generator).to(dtype=dtype, device=device)
    return torch.ones(shape, dtype=dtype, device=device)


def _factory_example(target: str) -> _Example:
    from modeldoc.probe import loader

    factory = loader.load_callable(target)
    produced = guard.attempt(factory, f"the example-input factory {target}")
    if isinstance(produced, guard.Failed):
        raise ProbeError(
            produced.sentence(), "fix the factory so that it returns the example inputs (args, or (args, kwargs))"
        )
    args, kwargs = _split_example(produced)
    tensors = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
    batch = {t.shape[0] for t in tensors if t.dim() >= 1}
    # Axis 0 is the batch when every example tensor has the same first size.
    sizes = {"N": batch.pop()} if tensors and len(batch) == 1 and all(t.dim() >= 1 for t in tensors) else {}

    def make(device: str, at: Mapping[str, int]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        n = at.get("N")

        def convert(t: torch.Tensor) -> torch.Tensor:
            if n is not None and n != t.shape[0]:
                if device == "meta":
                    return torch.empty((n, *t.shape[1:]), dtype=t.dtype, device="meta")
                t = t.index_select(0, torch.arange(n, device=t.device) % t.shape[0])
            return t.to("meta") if device == "meta" else t

        return pytree.tree_map_only(torch.Tensor, convert, (args, kwargs))

    return _Example(make=make, sizes=sizes)


def _split_example(produced: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A factory returns args, (args, kwargs), a dict of keyword inputs, or one tensor."""
    if (
        isinstance(produced, tuple)
        and len(produced) == 2
        and isinstance(produced[1], Mapping)
        and isinstance(produced[0], list | tuple)
    ):
        return tuple(produced[0]), dict(produced[1])
    if isinstance(produced, list | tuple):
        return tuple(produced), {}
    if isinstance(produced, Mapping) and all(isinstance(k, str) for k in produced):
        return (), dict(produced)
    return (produced,), {}


# --------------------------------------------------------------------------- one pass


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
class _Raw:
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
    inner: list[_Raw] = field(default_factory=list)
    call: int = 0
    failed: bool = False


@dataclass
class _ModuleCall:
    path: str
    target: str
    scope: str
    call: int
    inputs: list[torch.Tensor]
    start: int
    outputs: list[torch.Tensor] = field(default_factory=list)
    end: int | None = None


class _Recorder(TorchFunctionMode):
    """Records torch function calls; the module hooks below record module calls."""

    def __init__(
        self, paths: Mapping[int, str], types: Mapping[int, str], *, budget: Budget | None = None, meta: bool = False
    ) -> None:
        super().__init__()
        self.paths = paths
        self.types = types
        self.budget = budget
        self.meta = meta
        self.raw: list[_Raw] = []
        self.frames: list[_Frame] = []
        self.module_calls: list[_ModuleCall] = []
        self.calls: dict[str, _Calls] = {}
        self.first_in: dict[str, list[torch.Tensor]] = {}
        self.first_out: dict[str, list[torch.Tensor]] = {}
        self.failed: _Raw | None = None
        self.counter = 0
        self.output: Any = None

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if self.budget is not None:
            self.budget.check()
        try:
            if self.meta:
                _check_dtypes(func, args, kwargs)
            out = _meta_rnn(func, args, kwargs) if self.meta else None
            if out is None and self.meta:
                out = _meta_linear(func, args, kwargs)
            if out is None:
                out = func(*args, **kwargs)
        except Exception:
            self.failed = self._raw(func, args, kwargs, [], failed=True)
            raise
        outputs = _tensor_leaves(out)
        if outputs:
            self.failed = None
            self.raw.append(self._raw(func, args, kwargs, outputs))
        return out

    def _raw(
        self,
        func: Any,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        outputs: list[torch.Tensor],
        *,
        failed: bool = False,
    ) -> _Raw:
        name = op_name(func)
        return _Raw(
            kind="function",
            name=name,
            target=op_target(func, name),
            scope=self.frames[-1].path if self.frames else "",
            inputs=_tensor_leaves((args, kwargs)),
            outputs=outputs,
            func=func,
            args=args,
            kwargs=kwargs,
            failed=failed,
        )

    def pre(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self.budget is not None:
            self.budget.check()
        path = self.paths[id(module)]
        scope = self.frames[-1].path if self.frames else ""
        if self.frames:
            self.frames[-1].called_child = True
        inputs = _tensor_leaves((args, kwargs))
        seen = self.calls.setdefault(path, _Calls())
        if seen.count == 0:
            seen.order = self.counter
            self.counter += 1
            self.first_in[path] = inputs
        self.frames.append(
            _Frame(
                path=path,
                module=module,
                start=len(self.raw),
                call=seen.count,
                record=len(self.module_calls),
                inputs=inputs,
            )
        )
        self.module_calls.append(
            _ModuleCall(
                path=path,
                target=self.types[id(module)],
                scope=scope,
                call=seen.count,
                inputs=inputs,
                start=len(self.raw),
            )
        )
        seen.count += 1

    def post(self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any) -> None:
        # Frames a caught exception left open are closed here, without outputs.
        while self.frames and self.frames[-1].module is not module:
            self._close(self.frames.pop(), [])
        if not self.frames:
            return
        frame = self.frames.pop()
        outputs = _tensor_leaves(output)
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
                _Raw(
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


_RNN_FUNCTIONS = (torch.lstm, torch.gru, torch.rnn_tanh, torch.rnn_relu)


def _meta_rnn(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The outputs of a recurrent kernel on meta tensors, from its shapes alone; None for anything else.

    On the meta device ``torch.lstm`` and its kin run their step-by-step Python decomposition,
    about ten times slower than the real kernel on the CPU; their output shapes need none of it.
    Only the padded form (``input, hx, params, has_biases, num_layers, dropout, train,
    bidirectional, batch_first``) is answered; packed sequences run as usual.
    """
    if func not in _RNN_FUNCTIONS or kwargs or len(args) != 9 or not isinstance(args[2], list | tuple):
        return None
    data, hx, batch_first = args[0], args[1], args[8]
    states = tuple(hx) if isinstance(hx, list | tuple) else (hx,)
    tensors = (data, *states)
    if not all(isinstance(t, torch.Tensor) and t.is_meta for t in tensors) or data.dim() != 3:
        return None
    directions = 2 if args[7] else 1
    length, batch = (data.shape[1], data.shape[0]) if batch_first else (data.shape[0], data.shape[1])
    width = directions * states[0].shape[-1]
    output = data.new_empty((batch, length, width) if batch_first else (length, batch, width))
    return (output, *(state.new_empty(state.shape) for state in states))


def _meta_linear(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> torch.Tensor | None:
    """The output of ``F.linear`` on meta tensors, from its shapes alone; None for anything else.

    On the meta device ``F.linear`` runs its decomposition into primitives, about a hundred
    times slower than this (10,000 Linear layers took 20 s per pass). The shape check is the
    one the CPU kernel makes, with its message; anything unusual takes the normal path.
    """
    if func is not F.linear:
        return None
    bound = bind(func, "linear", args, kwargs)
    data, weight, bias = bound.get("input"), bound.get("weight"), bound.get("bias")
    if not (isinstance(data, torch.Tensor) and isinstance(weight, torch.Tensor)):
        return None
    tensors = [data, weight] + ([bias] if bias is not None else [])
    if set(bound) - {"input", "weight", "bias"} or not all(isinstance(t, torch.Tensor) and t.is_meta for t in tensors):
        return None
    if data.dim() < 1 or weight.dim() != 2 or (bias is not None and tuple(bias.shape) not in ((weight.shape[0],), ())):
        return None
    if data.shape[-1] != weight.shape[1]:
        mat1 = f"{math.prod(data.shape[:-1])}x{data.shape[-1]}"
        mat2 = f"{weight.shape[1]}x{weight.shape[0]}"
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1} and {mat2})")
    return data.new_empty((*data.shape[:-1], weight.shape[0]))


class DtypeRejected(RuntimeError):
    """A dtype the real kernel rejects, caught on the meta device (which does not check dtypes)."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


_SAME_DTYPE: dict[str, tuple[str, ...]] = {
    "linear": ("input", "weight", "bias"),
    "bilinear": ("input1", "input2", "weight", "bias"),
    "matmul": ("input", "other"),
    "mm": ("input", "other"),
    "mv": ("input", "other"),
    "addmm": ("bias", "mat1", "mat2"),
    "baddbmm": ("bias", "batch1", "batch2"),
    "addbmm": ("bias", "batch1", "batch2"),
    **{f"conv{n}d": ("input", "weight", "bias") for n in (1, 2, 3)},
    **{f"conv_transpose{n}d": ("input", "weight", "bias") for n in (1, 2, 3)},
    "multi_head_attention_forward": ("query", "key", "value", "in_proj_weight", "out_proj_weight"),
}
"""Ops whose CPU kernels need these operands in one dtype (the meta kernels accept a mix)."""
_FLOATING_ONLY = frozenset(
    {"softmax", "log_softmax", "gelu", "silu", "mish", "hardswish", "softplus", "glu", "batch_norm"}
)
"""Ops whose CPU kernels are not implemented for integer or boolean inputs (the meta kernels accept them)."""


def _check_dtypes(func: Any, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Raise `DtypeRejected` where the real kernel would reject the dtypes the meta kernel lets through."""
    name = op_name(func)
    operands = _SAME_DTYPE.get(name)
    if operands is None and name not in _FLOATING_ONLY:
        return
    bound = bind(func, name, args, kwargs)
    if operands is None:
        first = next((t for t in _tensor_leaves((args, kwargs))), None)
        if first is not None and not (first.dtype.is_floating_point or first.dtype.is_complex):
            raise DtypeRejected(
                f"{name} received a tensor of dtype {_dtype_name(first.dtype)}, which its real kernel does not "
                "accept (the meta device does not check dtypes)",
                _dtype_fix(first.dtype),
            )
        return
    tensors = [(key, bound[key]) for key in operands if isinstance(bound.get(key), torch.Tensor)]
    if len(tensors) < 2:
        return
    (first_name, first), *rest = tensors
    other = next(((key, t) for key, t in rest if t.dtype != first.dtype), None)
    if other is None:
        return
    raise DtypeRejected(
        f"{name} received {first_name} as {_dtype_name(first.dtype)} and {other[0]} as "
        f"{_dtype_name(other[1].dtype)}; its real kernel needs one dtype for both (the meta device does not "
        "check dtypes)",
        _dtype_fix(first.dtype, other[1].dtype),
    )


def _dtype_fix(given: torch.dtype, wanted: torch.dtype | None = None) -> str:
    if not (given.is_floating_point or given.is_complex):
        return (
            "integer inputs such as token ids go to an Embedding first; for other inputs pass "
            f"--input-dtype {_dtype_name(wanted) if wanted is not None and wanted.is_floating_point else 'float32'}"
        )
    target = _dtype_name(wanted) if wanted is not None else "float32"
    return f"pass --input-dtype {target} to match the model's weights"


def _tensor_leaves(value: Any) -> list[torch.Tensor]:
    return [leaf for leaf in pytree.tree_leaves(value) if isinstance(leaf, torch.Tensor)]


class _Runner:
    """Runs the model once per call of `build`, on `device`, and turns what it saw into specs."""

    def __init__(self, module: nn.Module, tree: guard.Tree, *, device: str, lazy: bool, budget: Budget) -> None:
        self.user = module
        self.tree = tree
        self.device = device
        self.lazy = lazy
        self.budget = budget
        self.copy: tuple[nn.Module, guard.Tree] | None = None
        self.real_device = str(next(iter(_tensors_of(tree)), torch.empty(0)).device)
        if device == "cpu" and self.real_device == "meta":
            self.real_device = "cpu"

    def build(self, example: _Example, sizes: Mapping[str, int]) -> _Built:
        """One traced pass at `sizes` of the named axes."""
        device = "meta" if self.device == "meta" else self.real_device
        if device != "meta" and example.nbytes(sizes) > CPU_INPUT_BYTES:
            return _not_run(
                f"the example inputs need {_size_text(example.nbytes(sizes))} on {device}, more than the "
                f"{_size_text(CPU_INPUT_BYTES)} a pass with real values may allocate for them",
                "give a smaller --input-shape, or a model that runs on the meta device",
                device,
            )
        if self.budget.expired:
            return _not_run(
                f"the probe timeout of {self.budget.seconds:g} s ran out before this pass",
                "make the forward pass finish sooner, or raise --probe-timeout (0 turns the limit off)",
                device,
            )
        made = guard.attempt(lambda: example.make(device, sizes), "making the example inputs")
        if isinstance(made, guard.Failed):
            return _not_run(made.sentence(), "check the example input options", device)
        args, kwargs = made
        target = guard.attempt(self._target, "copying the lazy model")
        if isinstance(target, guard.Failed):
            return _not_run(_copy_failed(target), "make the model deep-copyable to trace it", device)
        module, tree = target
        recorder, error, where = self._run(module, tree, args, kwargs)
        return _Builder(tree, recorder, args, kwargs, device=device, budget=self.budget).build(error, where)

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
        self, target: nn.Module, tree: guard.Tree, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[_Recorder, BaseException | None, str]:
        modules = tree.modules()
        paths = {id(sub): path for path, sub in tree.paths.items()}
        types = {id(sub): _public_type(type(sub)) for sub in modules}
        meta = self.device == "meta"
        recorder = _Recorder(paths, types, budget=self.budget, meta=meta)
        modes = {id(sub): sub.training for sub in modules}
        saved = _Saved(modules)
        handles = []
        error: BaseException | None = None
        where = ""
        try:
            for sub in modules:
                if isinstance(sub, torch.jit.ScriptModule):
                    continue  # takes no hooks: its calls run as one opaque step
                # first, so a lazy module's own initialising hook runs inside its recorded call
                handles.append(sub.register_forward_pre_hook(recorder.pre, with_kwargs=True, prepend=True))
                handles.append(sub.register_forward_hook(recorder.post, with_kwargs=True))
            for sub in modules:
                _set_mode(sub, training=False)  # eval(), without a train() or __setattr__ the model may override
            if target is self.user:
                # The user's tensors are swapped out, each slot once: meta stand-ins on the meta device,
                # copies of the buffers for a real pass (so in-place updates cannot change the model's).
                _swap(modules, _meta_twin if meta else _buffer_copy)
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
            saved.restore()
            for sub in modules:
                _set_mode(sub, training=modes[id(sub)])
        return recorder, error, where

    def materialised(self) -> dict[str, _Materialised]:
        """Shapes the lazy parameters took in the private copy, by layer path."""
        if self.copy is None:
            return {}
        twin_tree = self.copy[1]
        out: dict[str, _Materialised] = {}
        for path, sub in self.tree.paths.items():
            if not _uninitialised(sub):
                continue
            twin = twin_tree.paths.get(path)
            if twin is None:
                continue
            tensors = {
                name: (tuple(t.shape), _dtype_name(t.dtype), t.element_size())
                for name, t in [*guard.own_tensors(twin, "_parameters"), *guard.own_tensors(twin, "_buffers")]
                if not nn.parameter.is_lazy(t)
            }
            out[path] = _Materialised(tensors=tensors)
        return out


def _copy_failed(failed: guard.Failed) -> str:
    """Why a lazy model could not be traced: its copy failed."""
    return f"the model has lazy modules, so it is traced through a copy, and {failed.sentence()}"


def _not_run(message: str, fix: str, device: str) -> _Built:
    """A pass that was not run, and why."""
    failure = _Failure(place="", message=message, fix=fix, ran=False)
    trace = TraceSpec(device=device, complete=False, error="", failed_in="")
    built = _Built(trace=trace, calls={}, inputs=(), outputs=(), failure=failure)
    return replace(built, trace=replace(trace, error=built.sentence()))


def _tensors_of(tree: guard.Tree) -> list[torch.Tensor]:
    """Every parameter and buffer once (lazy ones left out)."""
    seen: dict[int, torch.Tensor] = {}
    for store in ("_parameters", "_buffers"):
        for sub in tree.modules():
            for _, t in guard.own_tensors(sub, store):
                if not nn.parameter.is_lazy(t):
                    seen.setdefault(id(t), t)
    return list(seen.values())


def _has_lazy(tree: guard.Tree) -> bool:
    return any(_uninitialised(sub) for sub in tree.modules())


def _uninitialised(module: nn.Module) -> bool:
    """True for a lazy module whose first call has not happened yet."""
    own = [*guard.own_tensors(module, "_parameters"), *guard.own_tensors(module, "_buffers")]
    return any(nn.parameter.is_lazy(t) for _, t in own)


class _Saved:
    """Each module's attributes and its parameter, buffer and child slots, to be put back exactly.

    Whatever the pass changes in the user's modules (a tensor swapped in, an attribute or buffer
    the forward pass caches, a child it adds) is undone by `restore`, each slot once.
    """

    _STORES = ("_parameters", "_buffers", "_modules")

    def __init__(self, modules: list[nn.Module]) -> None:
        self.entries: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for sub in modules:
            attrs = getattr(sub, "__dict__", None)
            if not isinstance(attrs, dict):
                continue
            self.entries.append((attrs, dict(attrs)))
            for name in self._STORES:
                store = attrs.get(name)
                if isinstance(store, dict):
                    self.entries.append((store, dict(store)))
        self.sets: list[tuple[set[Any], set[Any]]] = [
            (found, set(found))
            for sub in modules
            if isinstance(found := getattr(sub, "__dict__", {}).get("_non_persistent_buffers_set"), set)
        ]

    def restore(self) -> None:
        """Put every saved slot back to the object it held."""
        for current, saved in self.entries:
            if current.keys() != saved.keys() or any(current[k] is not v for k, v in saved.items()):
                current.clear()
                current.update(saved)
        for found, was in self.sets:
            if found != was:
                found.clear()
                found.update(was)


def _set_mode(module: nn.Module, *, training: bool) -> None:
    """Set `module.training` in its ``__dict__`` (the model's ``__setattr__`` may refuse).

    A scripted module keeps the flag elsewhere and is set through its own ``__setattr__``.
    """
    attrs = getattr(module, "__dict__", {})
    if "training" in attrs and not isinstance(module, torch.jit.ScriptModule):
        attrs["training"] = training
    else:
        guard.attempt(lambda: setattr(module, "training", training), "setting the training flag")


def _swap(modules: list[nn.Module], make: Callable[[torch.Tensor], torch.Tensor | None]) -> None:
    """Put `make(tensor)` in every slot that holds a parameter or buffer, one stand-in per tensor object.

    Tied and shared tensors stay tied: every slot that holds the same tensor gets the same stand-in.
    `make` returning None leaves that tensor in place. `_Saved.restore` puts the originals back.
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
    twin = torch.empty_like(tensor, device="meta")
    return nn.Parameter(twin, requires_grad=tensor.requires_grad) if isinstance(tensor, nn.Parameter) else twin


# --------------------------------------------------------------------------- from live tensors to specs


@dataclass(frozen=True)
class _Failure:
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

    def brief(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message


_INPUT_FIX = (
    "change the example input (shape, dtype or names) to what the model expects, "
    "or fix the layer arguments the derivations below point at"
)


@dataclass(frozen=True)
class _Built:
    """One pass, as specs (dims still plain numbers until `_label`)."""

    trace: TraceSpec
    calls: dict[str, _Calls]
    inputs: tuple[BoundaryTensor, ...]
    outputs: tuple[BoundaryTensor, ...]
    failure: _Failure | None = None
    """Where the pass failed and the exception, when it did."""
    warnings: tuple[str, ...] = ()

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
        return [(op.kind, op.name) for op in self.trace.ops]

    def shapes(self) -> dict[tuple[Any, ...], Shape]:
        """Every shape this pass recorded, by a key that is the same in a pass at other sizes."""
        out: dict[tuple[Any, ...], Shape] = {}
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

    def with_dims(self, dims: Mapping[tuple[Any, ...], Dims]) -> _Built:
        """The pass with the symbolic `dims` put in place."""

        def get(key: tuple[Any, ...], shape: Shape) -> Dims:
            return dims.get(key, shape)

        tensors = tuple(replace(t, dims=get(("t", t.id), t.shape)) for t in self.trace.tensors)
        calls = {}
        for path, seen in self.calls.items():
            calls[path] = replace(
                seen,
                input_dims=tuple(get(("in", path, i), s) for i, s in enumerate(seen.input_shapes)),
                output_dims=tuple(get(("out", path, i), s) for i, s in enumerate(seen.output_shapes)),
            )
        inputs = tuple(replace(info, dims=get(("input", i), info.shape)) for i, info in enumerate(self.inputs))
        outputs = tuple(replace(info, dims=get(("output", i), info.shape)) for i, info in enumerate(self.outputs))
        return replace(self, trace=replace(self.trace, tensors=tensors), calls=calls, inputs=inputs, outputs=outputs)


class _Builder:
    """Resolves a recorder's live tensors to `TensorInfo` ids, op by op, in call order."""

    def __init__(
        self,
        tree: guard.Tree,
        recorder: _Recorder,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        *,
        device: str,
        budget: Budget,
    ) -> None:
        self.recorder = recorder
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

    def build(self, error: BaseException | None, where: str) -> _Built:
        rec = self.recorder
        inputs = []
        for name, tensor in _named_leaves(self.forward, self.args, self.kwargs):
            tid = self._new(tensor, None, name=name)
            self._op("input", name, "input", "", (), (tid,))
            inputs.append(
                BoundaryTensor(
                    name=name, shape=tuple(tensor.shape), dtype=_dtype_name(tensor.dtype), dims=tuple(tensor.shape)
                )
            )
        opening: dict[int, list[_ModuleCall]] = {}
        closing: dict[int, list[_ModuleCall]] = {}
        for call in rec.module_calls:
            opening.setdefault(call.start, []).append(call)
            closing.setdefault(call.end if call.end is not None else len(rec.raw), []).append(call)
        resolved: dict[int, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        for position in range(len(rec.raw) + 1):
            for call in closing.get(position, []):
                ins = resolved[id(call)][0] if id(call) in resolved else ()
                resolved[id(call)] = (ins, tuple(self._ref(t) for t in call.outputs))
            for call in opening.get(position, []):
                resolved[id(call)] = (tuple(self._ref(t) for t in call.inputs), ())
            if position < len(rec.raw):
                self._raw_op(rec.raw[position])
        outputs: list[BoundaryTensor] = []
        output = getattr(rec, "output", None)
        if error is None:
            ids = []
            for name, tensor in _named_output(output):
                tid = self._ref(tensor)
                ids.append(tid)
                outputs.append(
                    BoundaryTensor(
                        name=name, shape=tuple(tensor.shape), dtype=_dtype_name(tensor.dtype), dims=tuple(tensor.shape)
                    )
                )
            self._op("output", "output", "output", "", tuple(ids), ())
        module_calls = tuple(
            OpSpec(
                index=i,
                kind="module",
                name=call.path,
                target=call.target,
                scope=call.scope,
                inputs=resolved.get(id(call), ((), ()))[0],
                outputs=resolved.get(id(call), ((), ()))[1],
                call=call.call,
            )
            for i, call in enumerate(rec.module_calls)
        )
        calls = {}
        for path, seen in rec.calls.items():
            shapes_in: tuple[Shape, ...] = tuple(tuple(t.shape) for t in rec.first_in.get(path, []))
            shapes_out: tuple[Shape, ...] = tuple(tuple(t.shape) for t in rec.first_out.get(path, []))
            calls[path] = replace(
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
        )
        built = _Built(trace=trace, calls=calls, inputs=tuple(inputs), outputs=tuple(outputs), failure=failure)
        return replace(built, trace=replace(trace, error=built.sentence())) if failure else built

    def _error(self, error: BaseException, where: str) -> _Failure:
        """Where the pass failed (``"in fc1 (Linear)"``), the exception shortly, and the fix."""
        failed = _failed_op(self.ops)
        place = f"in {where}" if where else "in the model's forward"
        if failed is not None and failed.kind == "module":
            place = f"in {failed.name or 'the model'} ({failed.target.rsplit('.', 1)[-1]})"
        if isinstance(error, ProbeTimeout):
            return _Failure(
                place=place,
                message=f"the probe timeout of {self.budget.seconds:g} s (a forward pass that sleeps, waits or loops)",
                fix="make the forward pass finish, or raise --probe-timeout (0 turns the limit off)",
                timed_out=True,
            )
        message = guard.describe_error(error)
        if isinstance(error, SystemExit):
            return _Failure(
                place=place,
                message=f"{message} (the model's code called sys.exit())",
                fix="remove the sys.exit() call from forward (modeldoc went on without exiting)",
            )
        if isinstance(error, RecursionError):
            return _Failure(
                place=place,
                message=message,
                fix=(
                    "the model's calls nest deeper than Python's recursion limit allows "
                    f"({sys.getrecursionlimit()} frames); nest fewer levels, or raise the limit with "
                    "sys.setrecursionlimit where the model is defined"
                ),
            )
        if isinstance(error, DtypeRejected):
            return _Failure(
                place=place, message=f"dtypes the real kernel rejects: {error}", fix=error.fix, certain=True
            )
        if not isinstance(error, Exception):
            message += " (a BaseException that is not an Exception)"
        return _Failure(place=place, message=message, fix=_INPUT_FIX)

    def _raw_op(self, raw: _Raw) -> None:
        ins = tuple(self._ref(t) for t in raw.inputs)
        inner = raw.inner if raw.kind == "module" else [raw]
        cost = costs.ZERO
        for op in inner:
            if op.kind == "module" or op.failed:
                continue
            cost += costs.op_cost(
                op.name, _shaped(bind(op.func, op.name, op.args, op.kwargs)), [tuple(t.shape) for t in op.outputs]
            )
        arguments: dict[str, Any] = {}
        text = ""
        if raw.kind == "function":
            bound = bind(raw.func, raw.name, raw.args, raw.kwargs)
            arguments = {k: v for k, v in ((k, _plain(v)) for k, v in bound.items()) if v is not _SKIP}
            text = _args_text(raw.func, raw.name, raw.args, raw.kwargs)
        index = len(self.ops)
        outs = tuple(self._new(t, index, alias=id(_root(t)) in self.roots) for t in raw.outputs)
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
        )

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
    ) -> None:
        self.ops.append(
            OpSpec(
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
            )
        )

    def _new(self, tensor: torch.Tensor, producer: int | None, *, name: str = "", alias: bool = False) -> int:
        tid = len(self.tensors)
        self.tensors.append(
            TensorInfo(
                id=tid,
                shape=tuple(tensor.shape),
                dims=tuple(tensor.shape),
                dtype=_dtype_name(tensor.dtype),
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
        for path, leaf in pytree.tree_flatten_with_path(arg)[0]:
            if isinstance(leaf, torch.Tensor):
                yield base + pytree.keystr(path), leaf
    for key, value in kwargs.items():
        for path, leaf in pytree.tree_flatten_with_path(value)[0]:
            if isinstance(leaf, torch.Tensor):
                yield key + pytree.keystr(path), leaf


def _named_output(output: Any) -> Iterator[tuple[str, torch.Tensor]]:
    if isinstance(output, torch.Tensor):
        yield "output", output
        return
    for path, leaf in pytree.tree_flatten_with_path(output)[0]:
        if isinstance(leaf, torch.Tensor):
            key = pytree.keystr(path)
            yield (
                (key[2:-2] if key.startswith("['") and key.endswith("']") and key.count("[") == 1 else f"output{key}"),
                leaf,
            )


# --------------------------------------------------------------------------- symbolic dims


@dataclass(frozen=True)
class _Law:
    """How a size follows the named axes: ``scale · X + offset`` for one axis, ``scale · X · Y`` for several."""

    names: tuple[str, ...]
    scale: Fraction
    offset: int = 0

    def at(self, sizes: Mapping[str, int]) -> Fraction:
        return self.scale * math.prod(sizes[n] for n in self.names) + self.offset

    @property
    def plain(self) -> bool:
        """A whole multiple with no offset (``N``, ``2·L``, ``N·L``): trusted without the check pass."""
        return self.offset == 0 and self.scale.denominator == 1

    def label(self) -> str:
        product = "·".join(self.names)
        scale = self.scale
        if scale == 1:
            text = product
        elif scale.denominator == 1:
            text = f"{scale.numerator}·{product}"
        elif scale.numerator == 1:
            text = f"{product}/{scale.denominator}"
        else:
            text = f"{scale.numerator}·{product}/{scale.denominator}"
        if self.offset > 0:
            text += f" + {self.offset}"
        elif self.offset < 0:
            text += f" − {-self.offset}"
        return text


def _fit(base: int, sizes: Mapping[str, int], moved: Mapping[str, tuple[int, int]]) -> _Law | None:
    """The law a size follows, from its value at `sizes` and after each one-axis change (name: (size, value))."""
    if len(moved) == 1:
        ((name, (size, value)),) = moved.items()
        scale = Fraction(value - base, size - sizes[name])
        offset = base - scale * sizes[name]
        if offset.denominator != 1:
            return None
        return _Law(names=(name,), scale=scale, offset=int(offset))
    names = tuple(n for n in sizes if n in moved)
    scale = Fraction(base, math.prod(sizes[n] for n in names))
    law = _Law(names=names, scale=scale)
    for name, (size, value) in moved.items():
        if law.at({**sizes, name: size}) != value:
            return None
    return law if scale.denominator == 1 else None


def _candidates(size: int) -> list[int]:
    return [c for c in (size + 1, size + 2, 2 * size, size - 1) if c >= 1 and c != size]


def _label(base: _Built, runner: _Runner, example: _Example, budget: Budget) -> _Built:
    """`base` with symbolic dims: each named axis is probed at other sizes and the sizes that follow it labelled.

    These passes share the probe's time budget; once it has run out they stop, and the sizes
    stay numbers.
    """
    sizes = dict(example.sizes)
    if not sizes or (base.failure is not None and (base.failure.timed_out or not base.failure.ran)):
        return base
    if budget.expired:
        return _out_of_time(base, sizes, budget)
    try:
        return _labelled(base, runner, example, budget)
    except _OutOfTime:
        return _out_of_time(base, sizes, budget)


class _OutOfTime(Exception):
    """The probe's time ran out between two labelling passes."""


def _out_of_time(base: _Built, sizes: Mapping[str, int], budget: Budget) -> _Built:
    warning = (
        f"the probe timeout of {budget.seconds:g} s ran out, so the sizes that follow the named axes "
        f"({', '.join(sizes)}) are shown as numbers; raise --probe-timeout to work them out"
    )
    return replace(base, warnings=(*base.warnings, warning))


def _labelled(base: _Built, runner: _Runner, example: _Example, budget: Budget) -> _Built:
    sizes = dict(example.sizes)

    def run(at: Mapping[str, int]) -> _Built:
        built = runner.build(example, at)
        if budget.expired:
            raise _OutOfTime
        return built

    signature = base.signature()
    shapes = base.shapes()
    chosen: dict[str, tuple[int, dict[tuple[Any, ...], Shape]]] = {}
    spare: dict[str, int] = {}
    for name, size in sizes.items():
        options = _candidates(size)
        for i, other in enumerate(options):
            moved = run({**sizes, name: other})
            if moved.signature() == signature:
                chosen[name] = (other, moved.shapes())
                spare[name] = options[i + 1] if i + 1 < len(options) else other + 3
                break
        else:
            base = replace(
                base,
                warnings=(
                    *base.warnings,
                    f"the forward pass fails or takes other steps when {name} is not {size}, so the sizes that "
                    f"follow {name} are shown as numbers; name only the axes the model accepts at any size",
                ),
            )
    if not chosen:
        return base
    check_sizes = {**sizes, **spare}
    check = run(check_sizes)
    checked = check.shapes() if check.signature() == signature else None
    dims: dict[tuple[Any, ...], Dims] = {}
    for key, shape in shapes.items():
        labels: list[Dim] = []
        for axis, value in enumerate(shape):
            changes = {
                name: (other, got[key][axis])
                for name, (other, got) in chosen.items()
                if key in got and len(got[key]) == len(shape) and got[key][axis] != value
            }
            law = _fit(value, sizes, changes) if changes else None
            if law is not None and checked is not None:
                expected = checked.get(key)
                if expected is None or len(expected) != len(shape) or law.at(check_sizes) != expected[axis]:
                    law = None
            elif law is not None and not law.plain:
                law = None
            labels.append(law.label() if law is not None else value)
        dims[key] = tuple(labels)
    return base.with_dims(dims)


# --------------------------------------------------------------------------- op names and arguments


_DUNDER = {
    "truediv": "div",
    "floordiv": "floor_divide",
    "mod": "remainder",
    "and": "bitwise_and",
    "or": "bitwise_or",
    "xor": "bitwise_xor",
    "invert": "bitwise_not",
    "radd": "add",
    "rmul": "mul",
    "rtruediv": "div",
    "rpow": "pow",
    "rmatmul": "matmul",
}


def op_name(func: Any) -> str:
    """A short op name: ``"relu"``, ``"reshape"``, ``"add"``, ``"getitem"``, ``"mT"``."""
    name = getattr(func, "__name__", "") or type(func).__name__
    if name == "__get__":
        return str(getattr(getattr(func, "__self__", None), "__name__", "attribute"))
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        if name.startswith("i") and name[1:] in ("add", "sub", "mul", "truediv", "matmul", "pow", "and", "or"):
            return _DUNDER.get(name[1:], name[1:]) + "_"
        return _DUNDER.get(name, name)
    return name.lstrip("_") or name


def op_target(func: Any, name: str) -> str:
    """Where the op lives: ``"torch.nn.functional.relu"``, ``"Tensor.view"``, ``"torch.flatten"``."""
    qualname = getattr(func, "__qualname__", "") or ""
    raw_name = getattr(func, "__name__", name)
    if qualname.startswith(("TensorBase.", "Tensor.", "_TensorBase.")):
        return f"Tensor.{raw_name}"
    if raw_name == "__get__":
        return f"Tensor.{name}"
    module = getattr(func, "__module__", None) or ""
    if module.startswith("torch.nn.functional") or module == "torch._C._nn" or getattr(F, raw_name, None) is func:
        return f"torch.nn.functional.{raw_name}"
    if qualname.startswith("_VariableFunctionsClass") or module == "torch":
        return f"torch.{raw_name}"
    return f"{module}.{raw_name}" if module else raw_name


_PARAMETERS: dict[str, tuple[str, ...]] = {
    "flatten": ("input", "start_dim", "end_dim"),
    "unflatten": ("input", "dim", "sizes"),
    "cat": ("tensors", "dim"),
    "concat": ("tensors", "dim"),
    "concatenate": ("tensors", "dim"),
    "stack": ("tensors", "dim"),
    "reshape": ("input", "*shape"),
    "view": ("input", "*shape"),
    "expand": ("input", "*size"),
    "repeat": ("input", "*repeats"),
    "permute": ("input", "*dims"),
    "transpose": ("input", "dim0", "dim1"),
    "swapaxes": ("input", "dim0", "dim1"),
    "swapdims": ("input", "dim0", "dim1"),
    "movedim": ("input", "source", "destination"),
    "moveaxis": ("input", "source", "destination"),
    "unsqueeze": ("input", "dim"),
    "squeeze": ("input", "dim"),
    "getitem": ("input", "index"),
    "narrow": ("input", "dim", "start", "length"),
    "split": ("input", "split_size_or_sections", "dim"),
    "chunk": ("input", "chunks", "dim"),
    "linear": ("input", "weight", "bias"),
    "bilinear": ("input1", "input2", "weight", "bias"),
    "matmul": ("input", "other"),
    "mm": ("input", "other"),
    "bmm": ("input", "other"),
    "mv": ("input", "other"),
    "addmm": ("bias", "mat1", "mat2"),
    "baddbmm": ("bias", "batch1", "batch2"),
    "addbmm": ("bias", "batch1", "batch2"),
    "einsum": ("equation", "*operands"),
    "conv1d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv3d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv_transpose1d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "conv_transpose2d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "conv_transpose3d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "max_pool1d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "max_pool3d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "avg_pool1d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "avg_pool3d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "adaptive_avg_pool1d": ("input", "output_size"),
    "adaptive_avg_pool2d": ("input", "output_size"),
    "adaptive_avg_pool3d": ("input", "output_size"),
    "adaptive_max_pool1d": ("input", "output_size", "return_indices"),
    "adaptive_max_pool2d": ("input", "output_size", "return_indices"),
    "adaptive_max_pool3d": ("input", "output_size", "return_indices"),
    "scaled_dot_product_attention": ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale"),
    "lstm": _RNN_ARGS,
    "gru": _RNN_ARGS,
    "rnn_tanh": _RNN_ARGS,
    "rnn_relu": _RNN_ARGS,
    "mean": ("input", "dim", "keepdim"),
    "sum": ("input", "dim", "keepdim"),
    "amax": ("input", "dim", "keepdim"),
    "amin": ("input", "dim", "keepdim"),
    "t": ("input",),
}
_DEFAULTS: dict[str, dict[str, Any]] = {
    "flatten": {"start_dim": 0, "end_dim": -1},
    "cat": {"dim": 0},
    "concat": {"dim": 0},
    "concatenate": {"dim": 0},
    "stack": {"dim": 0},
    "conv": {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "output_padding": 0},
    "max_pool": {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
    "avg_pool": {
        "stride": None,
        "padding": 0,
        "ceil_mode": False,
        "count_include_pad": True,
        "divisor_override": None,
    },
}


def _signature(func: Any) -> inspect.Signature | None:
    """The Python signature of `func`, or None for builtins and ``(*args, **kwargs)`` wrappers."""
    try:
        return _cached_signature(func)
    except TypeError:  # an unhashable callable
        return None


@functools.lru_cache(maxsize=2048)
def _cached_signature(func: Any) -> inspect.Signature | None:
    # Keyed by the function object itself (not its id, which a collected object's successor may reuse).
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    if all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
        return None
    return signature


def bind(func: Any, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The op's arguments by parameter name, defaults included where they are known."""
    signature = _signature(func) if func is not None else None
    if signature is not None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            pass
        else:
            bound.apply_defaults()
            out: dict[str, Any] = {}
            for key, value in bound.arguments.items():
                if signature.parameters[key].kind == inspect.Parameter.VAR_KEYWORD:
                    out.update(value)
                else:
                    out[key] = value
            return out
    return _bind_by_table(name, args, kwargs)


def _bind_by_table(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Builtins have no Python signature: name their arguments from `_PARAMETERS`."""
    names = _PARAMETERS.get(name.rstrip("_"))
    out: dict[str, Any] = {}
    if names is None:
        out.update(("input" if i == 0 else str(i), value) for i, value in enumerate(args))
    else:
        for i, key in enumerate(names):
            if key.startswith("*"):
                rest = args[i:]
                out[key[1:]] = rest[0] if len(rest) == 1 and isinstance(rest[0], list | tuple) else tuple(rest)
                break
            if i < len(args):
                out[key] = args[i]
    out.update(kwargs)
    for family, defaults in _DEFAULTS.items():
        if name == family or (name.startswith(family) and name[len(family) :].rstrip("d").isdigit()):
            for key, value in defaults.items():
                out.setdefault(key, value)
    return out


def _args_text(func: Any, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The non-tensor arguments that differ from their defaults, shortly (``"kernel_size=2, stride=2"``)."""
    bound = bind(func, name, args, kwargs)
    if name == "getitem":
        index = _plain(bound.get("key", bound.get("index")), nested=True)
        items = index if isinstance(index, list) else [index]
        return "[" + ", ".join(_short(i) for i in items) + "]"
    defaults = _defaults(func, name)
    parts = []
    for key, value in bound.items():
        plain = _plain(value)
        if plain is _SKIP or key in ("input", "self") or (key in defaults and defaults[key] == plain):
            continue
        parts.append(f"{key}={_short(plain)}")
    text = ", ".join(parts)
    return text if len(text) <= 80 else text[:77] + "..."


def _defaults(func: Any, name: str) -> dict[str, Any]:
    """Default values of the op's parameters, where they are known."""
    signature = _signature(func)
    if signature is not None:
        return {p.name: p.default for p in signature.parameters.values() if p.default is not p.empty}
    return _bind_by_table(name, (), {})


def _short(value: Any) -> str:
    if isinstance(value, dict) and "slice" in value:
        start, stop, step = value["slice"]
        return f"{'' if start is None else start}:{'' if stop is None else stop}" + (
            f":{step}" if step not in (None, 1) else ""
        )
    if isinstance(value, list):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


_SKIP = object()


def _plain(value: Any, *, nested: bool = False) -> Any:  # noqa: PLR0911 - one return per kind of value
    """A JSON-able form of a non-tensor argument; `_SKIP` for top-level tensors and unreadable objects."""
    if isinstance(value, torch.Tensor):
        return {"tensor": list(value.shape)} if nested else _SKIP
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, torch.Size):
        return list(value)
    if isinstance(value, list | tuple):
        items = [_plain(v, nested=True) for v in value]
        return _SKIP if any(v is _SKIP for v in items) else items
    if isinstance(value, slice):
        parts = [_plain(value.start, nested=True), _plain(value.stop, nested=True), _plain(value.step, nested=True)]
        return {"slice": parts}
    if value is Ellipsis:
        return "..."
    if isinstance(value, torch.dtype | torch.device | torch.memory_format | torch.layout):
        return str(value).removeprefix("torch.")
    return _SKIP


def _shaped(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments for `costs`: tensors become `costs.Shape`, containers are kept."""

    def convert(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return costs.Shape(tuple(value.shape))
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return {key: convert(value) for key, value in arguments.items()}


# --------------------------------------------------------------------------- small helpers


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _public_type(cls: type) -> str:
    from modeldoc.probe.static import public_type

    return public_type(cls)


__all__ = ["ProbeResult", "bind", "op_name", "op_target", "probe"]
