"""What a derivation rule is given and what it returns.

`TraceIndex` looks things up in the trace once (tensors, ops, layers, inputs, each layer's
first call). A rule receives one `RuleContext`: the op, which of its outputs and which axis is
being explained, the size there, the incoming shapes, the layer and its hyperparameters, and
helpers that build its answer. It answers with an `Outcome` (the size passes through, is
computed from other sizes by a `Step`, or is born here) or None when it does not apply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from modeldoc.arithmetic import Formula, expected_size
from modeldoc.derive.dims import axis_ref
from modeldoc.explain.layers import entry_of
from modeldoc.spec import DerivationStep, Hyperparam, LayerSpec, ModelSpec, OpSpec, ParamSpec, TensorInfo

Birth = Literal["input", "chosen", "op", "parameter", "constant"]
AxisKey = tuple[int, int]
"""A (tensor id, axis) pair: one size in the trace."""


@dataclass(frozen=True)
class Step:
    """One step of a derivation, its formula kept in parts until it is shown (`rendered`)."""

    text: str
    value: int
    where: str = ""
    formula: Formula | None = None

    def rendered(self) -> DerivationStep:
        """The step as the spec stores it, formula as text."""
        return DerivationStep(
            text=self.text, value=self.value, where=self.where, formula=self.formula.text if self.formula else ""
        )


@dataclass(frozen=True)
class Outcome:
    """What one op did to one axis: pass the size on, compute it from other sizes, or give birth to it."""

    kind: Literal["pass", "step", "birth"]
    sources: tuple[AxisKey, ...] = ()
    step: Step | None = None
    birth: Birth = "op"
    chosen: tuple[str, str] | None = None
    """(layer path, argument name) when born as a chosen hyperparameter."""
    order: int | None = None
    """When the step happened, for a step made later than its producer ran (a tie: the op that forced
    two sizes equal comes after the layer whose size it fixes); None: when the producer ran."""

    @classmethod
    def keeps(cls, tid: int, axis: int) -> Outcome:
        """The size is that of `axis` of tensor `tid`, unchanged."""
        # the fields set as `__init__` sets them, at a fraction of a frozen dataclass's cost: most outcomes are these
        new = object.__new__(cls)
        fields = new.__dict__
        fields.update(_PASSING)
        fields["sources"] = ((tid, axis),)
        return new

    @classmethod
    def computed(cls, step: Step, sources: Sequence[AxisKey], *, order: int | None = None) -> Outcome:
        """The size is computed by `step` from the sizes at `sources`."""
        return cls("step", sources=tuple(sources), step=step, order=order)

    @classmethod
    def born(cls, step: Step, birth: Birth = "op", chosen: tuple[str, str] | None = None) -> Outcome:
        """The size starts here (an input, a chosen argument, an op that fixes it)."""
        return cls("birth", step=step, birth=birth, chosen=chosen)


_PASSING = {"kind": "pass", "sources": (), "step": None, "birth": "op", "chosen": None, "order": None}
"""The fields of an outcome that passes a size on, in the order `Outcome.__init__` sets them (`Outcome.keeps`)."""


class TraceIndex:
    """Lookups into one model's trace, built once."""

    def __init__(self, spec: ModelSpec) -> None:
        assert spec.trace is not None
        self.spec = spec
        self.trace = spec.trace
        self.tensors: dict[int, TensorInfo] = {t.id: t for t in self.trace.tensors}
        self.ops: dict[int, OpSpec] = {op.index: op for op in self.trace.ops}
        self.layers: dict[str, LayerSpec] = {layer.path: layer for layer in spec.all_layers}
        self.inputs: dict[int, str] = {}
        """Input tensor id → the input's name."""
        for op in self.trace.ops:
            if op.kind == "input":
                for t in op.outputs:
                    self.inputs[t] = op.name
        self.first_calls: dict[str, OpSpec] = {}
        for call in self.trace.module_calls:
            self.first_calls.setdefault(call.name, call)
        self.leaf_calls: dict[str, OpSpec] = {}
        """Each leaf layer's first call as a trace op (with the functions it ran inside, `OpSpec.inner`)."""
        for op in self.trace.ops:
            if op.kind == "module":
                self.first_calls.setdefault(op.name, op)
                self.leaf_calls.setdefault(op.name, op)
        self._spatial: dict[str, int | None] = {}
        self._read_from: dict[int, str | None] = {}
        self._input_shapes: dict[int, list[tuple[int, ...]]] = {}

    def input_shapes(self, op: OpSpec) -> list[tuple[int, ...]]:
        """The shapes of `op`'s tensor inputs, in order (one list per op, shared by the rules: not to be changed)."""
        found = self._input_shapes.get(op.index)
        if found is None:
            found = self._input_shapes[op.index] = [self.tensors[t].shape for t in op.inputs]
        return found

    def consumed(self, layer: LayerSpec, h: Hyperparam) -> tuple[TensorInfo, int] | None:
        """The tensor and axis (non-negative) that argument `h` of `layer` must match, from the layer's first call."""
        ref = axis_ref(h)
        if ref is None or ref.side != "in":
            return None
        call = self.first_calls.get(layer.path)
        if call is None or ref.slot >= len(call.inputs):
            return None
        tensor = self.tensors[call.inputs[ref.slot]]
        rank = len(tensor.shape)
        if not -rank <= ref.axis < rank:
            return None
        return tensor, ref.axis % rank

    def age(self, tid: int) -> tuple[int, int]:
        """Sort key: data before parameters and constants, then the earlier producer first."""
        tensor = self.tensors[tid]
        if tensor.producer is not None:
            return (0, tensor.producer)
        return (0, -1) if tid in self.inputs else (1, tid)

    def read_from_input(self, tid: int) -> str | None:
        """The model input whose data tensor `tid` is, reached through parameter-free ops only; None otherwise.

        The walk follows each op's first tensor input back through function ops and layers
        without parameters (``x[:, None]``, ``x.float().unsqueeze(1)``); a layer with
        parameters, a parameter or any other stored tensor ends it. Remembered per tensor.
        """
        chain: list[int] = []
        found: str | None = None
        current: int | None = tid
        while current is not None:
            if current in self._read_from:
                found = self._read_from[current]
                break
            chain.append(current)
            if current in self.inputs:
                found = self.inputs[current]
                break
            tensor = self.tensors[current]
            op = self.ops.get(tensor.producer) if tensor.producer is not None else None
            if op is None or not op.inputs or (op.kind == "module" and self.has_parameters(op.name)):
                break
            if op.kind not in ("function", "module") or any(self.stored(t) for t in op.inputs[1:]):
                break
            current = op.inputs[0]
        for seen in chain:
            self._read_from[seen] = found
        return found

    @cached_property
    def parameters(self) -> dict[str, tuple[LayerSpec, ParamSpec]]:
        """Every parameter and buffer by qualified name (each name of a tied tensor), with the layer that owns it."""
        found: dict[str, tuple[LayerSpec, ParamSpec]] = {}
        for layer in self.spec.all_layers:
            for p in layer.parameters:
                for name in (p.name, *p.tied_with):
                    found.setdefault(name, (layer, p))
        return found

    def stored(self, tid: int) -> bool:
        """True for a tensor no op made that is not a model input: a parameter, a buffer or a constant."""
        return self.tensors[tid].producer is None and tid not in self.inputs

    def has_parameters(self, path: str) -> bool:
        """True when the layer at `path` holds parameters (its subtree's count is not zero)."""
        layer = self.layers.get(path)
        return bool(layer and layer.total_params)

    def op_label(self, op: OpSpec, detail: str = "") -> str:
        """How a step names an op: ``"conv1 (Conv2d 5×5)"`` for a layer, ``"reshape in encoder"`` for a function."""
        if op.kind == "module":
            layer = self.layers.get(op.name)
            type_name = layer.type_name if layer else op.target.rsplit(".", 1)[-1]
            inside = f"{type_name} {detail}".strip()
            return f"{op.name or self.spec.name} ({inside})"
        return f"{op.name} in {op.scope}" if op.scope else op.name

    @staticmethod
    def op_where(op: OpSpec) -> str:
        """The ``where`` of a step an op made: the layer path, or ``"scope: op"`` for a function."""
        return op.name if op.kind == "module" or not op.scope else f"{op.scope}: {op.name}"

    def spatial_axes(self, layer: LayerSpec) -> int | None:
        """How many trailing axes a window layer slides over (2 for Conv2d), from its knowledge entry's ``n``.

        The size rule names the family (Conv1d, Conv2d and Conv3d share ``conv``); the entry
        says how many axes. It is found by the same lookup that gave the layer its size rule
        (`modeldoc.explain.layers.entry_of`: the layer's own entry, else its nearest base's).
        """
        if layer.path not in self._spatial:
            entry = entry_of(layer)
            n = entry.vars.get("n") if entry is not None else None
            self._spatial[layer.path] = n if isinstance(n, int) and not isinstance(n, bool) else None
        return self._spatial[layer.path]


class RuleContext:
    """Everything a rule needs to explain the size at one axis of one output of one op."""

    def __init__(self, index: TraceIndex, op: OpSpec, tensor: TensorInfo, axis: int) -> None:
        self.index = index
        self.op = op
        self.tensor = tensor
        """The tensor whose size is explained (output `j` of `op`)."""
        self.axis = axis
        self.value = tensor.shape[axis]
        outputs = op.outputs
        self.j = 0 if not outputs or outputs[0] == tensor.id or tensor.id not in outputs else outputs.index(tensor.id)
        """Which output of the op the tensor is."""
        self.out: tuple[int, ...] = index.tensors[outputs[self.j]].shape if outputs else tensor.shape
        self.rank = len(self.out)
        self.ins: list[tuple[int, ...]] = index.input_shapes(op)
        """The shapes of the op's tensor inputs, in order."""
        self.layer: LayerSpec | None = index.layers.get(op.name) if op.kind == "module" else None
        """The layer a module op called (None for a function op, or a layer not in the spec)."""

    @property
    def incoming(self) -> tuple[int, ...] | None:
        """The shape of the first input, or None when the op has no tensor input."""
        return self.ins[0] if self.ins else None

    @cached_property
    def hp(self) -> Mapping[str, Any]:
        """The layer's hyperparameters by name (empty for a function op)."""
        return {h.name: h.value for h in self.layer.hyperparameters} if self.layer else {}

    @property
    def spatial_axes(self) -> int | None:
        """How many trailing axes the layer's window slides over (2 for a Conv2d), or None when not known."""
        return self.index.spatial_axes(self.layer) if self.layer is not None else None

    @property
    def args(self) -> Mapping[str, Any]:
        """The op's non-tensor arguments by name."""
        return self.op.arguments

    @property
    def name(self) -> str:
        """The op's name without an in-place ``_`` (``unsqueeze_`` is ``unsqueeze``)."""
        return self.op.name.rstrip("_") if self.op.name.endswith("_") else self.op.name

    # ---- reading the trace

    def shape(self, tid: int) -> tuple[int, ...]:
        """The shape of tensor `tid`."""
        return self.index.tensors[tid].shape

    def same(self, i: int, axis: int) -> bool:
        """True when input `i` of the op has this size at `axis`."""
        if i >= len(self.op.inputs):
            return False
        shape = self.shape(self.op.inputs[i])
        return axis < len(shape) and shape[axis] == self.value

    def label(self, detail: str = "") -> str:
        """How this op is named in a step (see `TraceIndex.op_label`)."""
        return self.index.op_label(self.op, detail)

    def where(self) -> str:
        """The ``where`` of a step this op makes."""
        return self.index.op_where(self.op)

    # ---- answers

    def keep(self, i: int, axis: int) -> Outcome:
        """The size is that of input `i` at `axis`, passed on."""
        return Outcome.keeps(self.op.inputs[i], axis)

    def keep_if_same(self, i: int, axis: int) -> Outcome | None:
        """`keep` when input `i` has this size at `axis`, else None."""
        return self.keep(i, axis) if self.same(i, axis) else None

    def step(self, text: str, formula: Formula | None, sources: Sequence[AxisKey]) -> Outcome:
        """The size computed by this op from the sizes at `sources`."""
        return Outcome.computed(Step(text, self.value, self.where(), formula), sources)

    def born(self, text: str, formula: Formula | None = None, *, where: str | None = None) -> Outcome:
        """The size fixed by this op, whatever its inputs."""
        return Outcome.born(Step(text, self.value, self.where() if where is None else where, formula))

    def unit_axis(self, verb: str = "puts an axis of 1 here in") -> Outcome | None:
        """An axis of 1 a view op put in (``x[:, None]``, ``unsqueeze``) on data read from a model input.

        Such a 1 is the layout of the data (a raw waveform has one channel), so it is born as the
        input's; on other data (None) the op is said to have made it.
        """
        if self.value != 1 or not self.op.inputs:
            return None
        name = self.index.read_from_input(self.op.inputs[0])
        if name is None:
            return None
        step = Step(f"{self.label()} {verb} data read from the input `{name}`", 1, self.where())
        return Outcome.born(step, "input")

    def chosen(self, name: str) -> Outcome | None:
        """The size is the layer's argument `name`, chosen by the designer (None if it is not this size)."""
        return chosen_birth(self.layer, name, self.value) if self.layer is not None else None


def chosen_birth(layer: LayerSpec, name: str, value: int) -> Outcome | None:
    """The size `value` born as `layer`'s argument `name`, chosen by the designer (None if it is not this size)."""
    h = find_argument(layer, name)
    if h is None or expected_size(h.value) != value:
        return None
    step = Step(
        text=f"{layer.path} ({layer.type_name}) has {name} = {value}, chosen by the designer",
        value=value,
        where=layer.path,
        formula=Formula.named(qualified(layer.path, name), value),
    )
    return Outcome.born(step, "chosen", (layer.path, name))


def find_argument(layer: LayerSpec, name: str) -> Hyperparam | None:
    """The layer's hyperparameter called `name`, or None."""
    return next((h for h in layer.hyperparameters if h.name == name), None)


def qualified(path: str, name: str) -> str:
    """``fc1.in_features``; just the name for the root layer."""
    return f"{path}.{name}" if path else name


__all__ = [
    "AxisKey",
    "Birth",
    "Outcome",
    "RuleContext",
    "Step",
    "TraceIndex",
    "chosen_birth",
    "find_argument",
    "qualified",
]
