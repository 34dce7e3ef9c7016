"""The model description: plain frozen dataclasses that templates, graphs and JSON read.

Nothing here imports torch. `ModelSpec.to_json()` is the one place that writes the
`modeldoc/1` contract documented in DESIGN.md; fields are only ever added, never renamed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from typing import Any, Literal

SCHEMA = "modeldoc/1"

Kind = Literal["hyperparameter", "data-dependent"]
Source = Literal["chosen", "input", "previous-layer", "target"]
Dim = int | str
"""One axis of a shape: a number, or a symbolic label such as ``"N"`` or ``"N·L"``."""

Value = Any
"""A JSON-able hyperparameter value (numbers, strings, booleans, None, lists of them)."""


@dataclass(frozen=True, kw_only=True)
class DerivationStep:
    """One step of the arithmetic that fixed a number, in the order it happened."""

    text: str
    """A sentence, e.g. ``"conv2 (Conv2d 5×5) turns 12 into 8"``."""
    value: int
    """The number this step produced."""
    where: str = ""
    """The layer path or op name that did it (``"conv2"``, ``"flatten"``, ``"input"``)."""
    formula: str = ""
    """The formula with the model's numbers, e.g. ``"⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 8"``."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this step."""
        return {"text": self.text, "value": self.value, "where": self.where, "formula": self.formula}


_AXIS_REF = re.compile(r"^\s*(in|out)(\d+)\s*:\s*(-?\d+(?:\s*,\s*-?\d+)*)\s*$")


@dataclass(frozen=True)
class AxisRef:
    """The tensor axes a constructor argument must equal: ``"in0:-1"``, ``"out0:1"``, ``"in0:-2,-1"``.

    Written as text in the knowledge files and in the JSON (`Hyperparam.dim`); everything else
    reads this typed value, made by `AxisRef.parse`, the one parser of that text.
    """

    side: Literal["in", "out"]
    """Whether the axes belong to one of the layer's inputs or one of its outputs."""
    tensor: int
    """Which input or output (0 = the first), in the order of the layer's first call."""
    axes: tuple[int, ...]
    """The axes, in order; negative counts from the end. Several for an argument that spans
    several axes (LayerNorm's ``normalized_shape`` over the last two: ``(-2, -1)``)."""

    @staticmethod
    def parse(text: str) -> AxisRef:
        """``"in0:-1"`` becomes ``AxisRef("in", 0, (-1,))``.

        The form is ``in`` or ``out``, the tensor's index, a colon, then one axis or several
        separated by commas (``"in0:-2,-1"``); spaces around the parts are allowed.

        Raises:
            ValueError: `text` is not of that form, or names an axis twice.

        """
        return _parse_axis_ref(text)

    @property
    def last(self) -> int:
        """The last axis named (the one a single-axis argument equals)."""
        return self.axes[-1]

    def sizes(self, layer: LayerSpec) -> tuple[int, ...] | None:
        """The sizes of these axes in `layer`'s probed shapes, or None when they do not exist there."""
        shapes = layer.input_shapes if self.side == "in" else layer.output_shapes
        if self.tensor >= len(shapes):
            return None
        shape = shapes[self.tensor]
        if not all(-len(shape) <= axis < len(shape) for axis in self.axes):
            return None
        return tuple(int(shape[axis]) for axis in self.axes)

    def __str__(self) -> str:
        return f"{self.side}{self.tensor}:{','.join(str(axis) for axis in self.axes)}"


@cache
def _parse_axis_ref(text: str) -> AxisRef:
    match = _AXIS_REF.match(text)
    if match is None:
        raise ValueError(
            f"{text!r} is not an axis reference; write in0:-1 (input 0, last axis), out0:1 or in0:-2,-1 (several axes)"
        )
    axes = tuple(int(axis) for axis in match[3].split(","))
    if len(set(axes)) != len(axes):
        raise ValueError(f"{text!r} names an axis twice")
    return AxisRef("in" if match[1] == "in" else "out", int(match[2]), axes)


@dataclass(frozen=True, kw_only=True)
class Hyperparam:
    """A constructor argument of a layer and why it has its value."""

    name: str
    value: Value
    kind: Kind
    source: Source
    reason: str = ""
    """A short sentence: why this is chosen or what fixed it."""
    default: bool = False
    """True when the value equals the constructor's default."""
    formula: str = ""
    """For a data-dependent value that came from a shape: ``"12 × 4 × 4 = 192"``."""
    derivation: tuple[DerivationStep, ...] = ()
    derivation_omitted: int = 0
    """How many earlier steps `derivation` does not list one by one (a long derivation is cut:
    its first entry then sums those steps up and says where they are listed)."""
    derivation_continues: str = ""
    """The argument (``"blocks.3.gate.in_features"``) whose derivation lists the steps left out."""
    error: str = ""
    """Set when the traced data disagrees with the value (a model that fails at run time)."""
    inferred: bool = False
    evidence: str = ""
    """For inferred entries: what the inference rests on."""
    dim: str = ""
    """The tensor axis this argument must equal, for derivations: ``"in0:-1"`` is the last axis
    of the layer's first input, ``"out0:1"`` axis 1 of its first output, ``"in0:-2,-1"`` the
    last two; ``""`` for none. The text form of `axis_ref`, kept for the JSON."""
    axis_ref: AxisRef | None = field(init=False, default=None, repr=False, compare=False)
    """`dim` parsed (by `AxisRef.parse`, when the hyperparameter is made); None when `dim` is empty."""

    def __post_init__(self) -> None:
        # Parsed here, once, so a malformed dim fails where it enters and readers get the typed value.
        object.__setattr__(self, "axis_ref", AxisRef.parse(self.dim) if self.dim else None)

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this hyperparameter."""
        out: dict[str, Any] = {
            "name": self.name,
            "value": _jsonable(self.value),
            "kind": self.kind,
            "source": self.source,
            "reason": self.reason,
            "default": self.default,
        }
        if self.formula:
            out["formula"] = self.formula
        if self.derivation:
            out["derivation"] = [step.to_json() for step in self.derivation]
        if self.derivation_omitted:
            out["derivation_omitted"] = self.derivation_omitted
        if self.derivation_continues:
            out["derivation_continues"] = self.derivation_continues
        if self.error:
            out["error"] = self.error
        if self.inferred:
            out["inferred"] = True
            out["evidence"] = self.evidence
        if self.dim:
            out["dim"] = self.dim
        return out


@dataclass(frozen=True, kw_only=True)
class UnknownArgument:
    """A constructor argument whose value could not be read back from the module, and why."""

    name: str
    reason: str
    """``"not stored on the module under this name"``, ``"stored as a ReLU module, not a plain value"``, ..."""
    default: Value = None
    has_default: bool = False
    """True when the signature gives a default (`default` is then that value)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this argument."""
        out: dict[str, Any] = {"name": self.name, "reason": self.reason}
        if self.has_default:
            out["default"] = _jsonable(self.default)
        return out


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """A parameter or buffer a layer owns directly (``recurse=False``)."""

    name: str
    """Qualified name, e.g. ``"conv1.weight"``."""
    local_name: str
    """Name inside its layer, e.g. ``"weight"`` or ``"weight_ih_l0_reverse"``."""
    shape: tuple[int, ...]
    dtype: str
    numel: int
    nbytes: int
    trainable: bool
    is_buffer: bool = False
    persistent: bool = True
    """False for buffers left out of the state dict."""
    axes: tuple[str, ...] = ()
    """What each axis means, one entry per axis (empty when unknown)."""
    axis_notes: tuple[str, ...] = ()
    """Sentences that explain the axes with the layer's numbers."""
    meaning: str = ""
    """What the tensor is for, in a sentence."""
    tied_with: tuple[str, ...] = ()
    """Other qualified names that hold the very same tensor."""
    relation: str = ""
    """How the tie is used, e.g. ``"used transposed by lm_head"``."""
    counted: bool = True
    """False for the second and later names of a tied tensor (counted once)."""
    parametrization: str = ""
    """For parametrized tensors: what computes the tensor the layer uses."""
    inferred: bool = False
    evidence: str = ""
    computed: bool = False
    """True for a tensor the layer uses that is computed from stored ones (a parametrization), not stored."""
    lazy: bool = False
    """True for an uninitialised parameter of a lazy module: its shape is fixed by the first call."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this parameter."""
        out: dict[str, Any] = {
            "name": self.name,
            "shape": list(self.shape),
            "axes": list(self.axes),
            "numel": self.numel,
            "trainable": self.trainable,
            "dtype": self.dtype,
            "nbytes": self.nbytes,
            "buffer": self.is_buffer,
            "counted": self.counted,
        }
        if self.is_buffer:
            out["persistent"] = self.persistent
        if self.axis_notes:
            out["axis_notes"] = list(self.axis_notes)
        if self.meaning:
            out["meaning"] = self.meaning
        if self.tied_with:
            out["tied_with"] = list(self.tied_with)
        if self.relation:
            out["relation"] = self.relation
        if self.parametrization:
            out["parametrization"] = self.parametrization
        if self.inferred:
            out["inferred"] = True
            out["evidence"] = self.evidence
        if self.computed:
            out["computed"] = True
        if self.lazy:
            out["lazy"] = True
        return out


@dataclass(frozen=True, kw_only=True)
class LayerSpec:
    """One module of the model, named by its attribute path."""

    path: str
    """Attribute path from the root, e.g. ``"features.0"``; the root is ``""``."""
    type: str
    """Public dotted type name, e.g. ``"torch.nn.Conv2d"``."""
    type_name: str
    """Class name, e.g. ``"Conv2d"``."""
    repr: str
    """The header line ``print(model)`` shows for this module."""
    depth: int
    parent: str | None
    children: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    """Other paths the same module object is registered under."""
    doc_url: str = ""
    docstring: str = ""
    summary: str = ""
    """What the layer type computes, filled in with this layer's numbers."""
    formula: str = ""
    """The output-size formula for this layer type, where there is one."""
    hyperparameters: tuple[Hyperparam, ...] = ()
    unknown_arguments: tuple[UnknownArgument, ...] = ()
    """Constructor arguments whose values could not be read back (user classes list every argument)."""
    parameters: tuple[ParamSpec, ...] = ()
    own_params: int = 0
    """Unique elements of this layer's own parameters (not its children's)."""
    total_params: int = 0
    """Unique parameter elements in this layer's whole subtree."""
    calls: int = 0
    """How many times the forward pass called this module."""
    order: int | None = None
    """Position of the first call in the forward pass (0 = first)."""
    input_shapes: tuple[tuple[int, ...], ...] = ()
    output_shapes: tuple[tuple[int, ...], ...] = ()
    input_dims: tuple[tuple[Dim, ...], ...] = ()
    """Input shapes with symbolic labels (``("N", 1, 28, 28)``)."""
    output_dims: tuple[tuple[Dim, ...], ...] = ()
    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0
    inferred: bool = False
    evidence: str = ""
    notes: tuple[str, ...] = ()
    """Anything else a reader should know (lazy, frozen, errors)."""
    bases: tuple[str, ...] = ()
    """Public types of the layer class's ancestors, nearest first (``("torch.nn.Linear",)`` for a subclass)."""
    size_rule: str = ""
    """How the layer's output sizes follow from its input and arguments, from its knowledge entry
    (``"conv"``, ``"linear"``, ...; see `modeldoc.knowledge.SIZE_RULES`); ``""`` when none applies."""
    brief: str = ""
    """The layer's key arguments in a few characters, for diagram labels (``"1→6, 5×5"``), from its
    knowledge entry's ``brief`` template; ``""`` when it has none."""

    @property
    def is_leaf(self) -> bool:
        """True when the layer has no child modules."""
        return not self.children

    @property
    def name(self) -> str:
        """The last component of the path (``"conv1"``)."""
        return self.path.rsplit(".", 1)[-1] if self.path else ""

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this layer."""
        out: dict[str, Any] = {
            "path": self.path,
            "type": self.type,
            "repr": self.repr,
            "hyperparameters": [h.to_json() for h in self.hyperparameters],
            "parameters": [p.to_json() for p in self.parameters],
            "input_shapes": [list(s) for s in self.input_shapes],
            "output_shapes": [list(s) for s in self.output_shapes],
            "input_dims": [list(s) for s in self.input_dims],
            "output_dims": [list(s) for s in self.output_dims],
            "depth": self.depth,
            "parent": self.parent,
            "children": list(self.children),
            "aliases": list(self.aliases),
            "own_params": self.own_params,
            "total_params": self.total_params,
            "calls": self.calls,
            "order": self.order,
            "macs": self.macs,
            "flops": self.flops,
            "activation_bytes": self.activation_bytes,
            "doc_url": self.doc_url,
            "summary": self.summary,
        }
        if self.formula:
            out["formula"] = self.formula
        if self.inferred:
            out["inferred"] = True
            out["evidence"] = self.evidence
        if self.notes:
            out["notes"] = list(self.notes)
        if self.unknown_arguments:
            out["unknown_arguments"] = [a.to_json() for a in self.unknown_arguments]
        if self.bases:
            out["bases"] = list(self.bases)
        if self.size_rule:
            out["size_rule"] = self.size_rule
        if self.brief:
            out["brief"] = self.brief
        return out


@dataclass(frozen=True, kw_only=True)
class BoundaryTensor:
    """A tensor at the model's boundary: one example input, or one output, of the forward pass."""

    name: str
    """The forward parameter it binds to (``"x"``, ``"input_ids"``), or where it sits in the output
    (``"logits"``, ``"output[0]"``)."""
    shape: tuple[int, ...]
    dtype: str
    dims: tuple[Dim, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this input."""
        return {"name": self.name, "shape": list(self.shape), "dtype": self.dtype, "dims": list(self.dims)}


@dataclass(frozen=True, kw_only=True)
class TensorInfo:
    """A tensor that flowed through the traced forward pass (an edge of the data flow)."""

    id: int
    shape: tuple[int, ...]
    dims: tuple[Dim, ...]
    dtype: str
    producer: int | None
    """Index of the op that produced it; None for model inputs and parameters."""
    name: str = ""
    """The input or output name (``"input_ids"``), or the qualified name of a parameter or buffer."""
    nbytes: int = 0
    alias: bool = False
    """True when it shares memory with an earlier tensor (a view, or an in-place result)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this tensor."""
        return {
            "id": self.id,
            "shape": list(self.shape),
            "dims": list(self.dims),
            "dtype": self.dtype,
            "producer": self.producer,
            "name": self.name,
            "nbytes": self.nbytes,
            "alias": self.alias,
        }


OpKind = Literal["input", "module", "function", "output"]


@dataclass(frozen=True, kw_only=True)
class OpSpec:
    """One step of the traced forward pass: a leaf-module call or a functional op."""

    index: int
    kind: OpKind
    name: str
    """The layer path for module calls (``"conv1"``), the op name otherwise (``"flatten"``)."""
    target: str
    """``"torch.nn.Conv2d"``, ``"torch.flatten"``, ``"Tensor.view"``, ``"operator.add"``."""
    scope: str
    """Path of the innermost module this op ran inside (``""`` = the root)."""
    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    args: str = ""
    """Non-tensor arguments, shortly (``"start_dim=1"``)."""
    macs: int = 0
    flops: int = 0
    arguments: dict[str, Any] = field(default_factory=dict)
    """Non-tensor arguments by parameter name, defaults included (``{"kernel_size": 2, "stride": 2, ...}``)."""
    call: int = 0
    """For module calls: which call of that module this is (0 = the first)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this op."""
        return {
            "index": self.index,
            "kind": self.kind,
            "name": self.name,
            "target": self.target,
            "scope": self.scope,
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "args": self.args,
            "macs": self.macs,
            "flops": self.flops,
            "arguments": _jsonable(self.arguments),
            "call": self.call,
        }


@dataclass(frozen=True, kw_only=True)
class TraceSpec:
    """The recorded forward pass."""

    device: str
    """``"meta"`` or ``"cpu"``."""
    ops: tuple[OpSpec, ...] = ()
    tensors: tuple[TensorInfo, ...] = ()
    complete: bool = True
    error: str = ""
    """One sentence: what failed and how to fix the input; empty when the pass completed."""
    failed_in: str = ""
    """The layer path or op where the pass failed."""
    note: str = ""
    """How the trace was made when that is worth saying (why it ran on the CPU, not the meta device)."""
    module_calls: tuple[OpSpec, ...] = ()
    """Every module call, containers included, in call order (kind ``"module"``; inputs and outputs
    are ids in `tensors`): where each submodule's data enters and leaves."""

    def to_json(self) -> dict[str, Any]:
        """The JSON form of this trace."""
        return {
            "device": self.device,
            "complete": self.complete,
            "error": self.error,
            "failed_in": self.failed_in,
            "note": self.note,
            "ops": [op.to_json() for op in self.ops],
            "tensors": [t.to_json() for t in self.tensors],
            "module_calls": [op.to_json() for op in self.module_calls],
        }


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    """Everything modeldoc knows about one model."""

    name: str
    """Class name of the root module (``"Network"``)."""
    type: str
    """Dotted type of the root module (``"modeldoc.examples.fashion.Network"``)."""
    target: str = ""
    """The target spec it was loaded from (``"modeldoc.examples.fashion:Network"``)."""
    title: str = ""
    docstring: str = ""
    print_text: str = ""
    """Exactly what ``print(model)`` shows."""
    root: LayerSpec
    layers: tuple[LayerSpec, ...] = ()
    """Every module but the root, in registration order."""
    total_params: int = 0
    trainable_params: int = 0
    frozen_params: int = 0
    buffer_elements: int = 0
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)
    """Bytes of unique parameters and buffers, by dtype name."""
    inputs: tuple[BoundaryTensor, ...] = ()
    output_dims: tuple[tuple[Dim, ...], ...] = ()
    outputs: tuple[BoundaryTensor, ...] = ()
    """The tensors the forward pass returned, named by where they sit (``"logits"``, ``"output[0]"``)."""
    trace: TraceSpec | None = None
    probe_error: str = ""
    """Why there are no shapes, when the probe did not run or failed."""
    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0
    param_bytes: int = 0
    warnings: tuple[str, ...] = ()

    def layer(self, path: str) -> LayerSpec:
        """The layer at `path` (``""`` is the root)."""
        if path == "":
            return self.root
        return self._by_path[path]

    @cached_property
    def _by_path(self) -> dict[str, LayerSpec]:
        """The layers by path, built on first use (a linear search per lookup was quadratic)."""
        return {layer.path: layer for layer in self.layers}

    @property
    def all_layers(self) -> tuple[LayerSpec, ...]:
        """The root followed by every other layer."""
        return (self.root, *self.layers)

    def with_layers(self, layers: tuple[LayerSpec, ...]) -> ModelSpec:
        """A copy whose root and layers are replaced by the entries of `layers` with the same paths."""
        by_path = {layer.path: layer for layer in layers}
        return replace(
            self,
            root=by_path.get("", self.root),
            layers=tuple(by_path.get(layer.path, layer) for layer in self.layers),
        )

    def to_json(self) -> dict[str, Any]:
        """The ``modeldoc/1`` JSON contract."""
        root = self.root.to_json()
        return {
            "schema": SCHEMA,
            "model": {
                "name": self.name,
                "type": self.type,
                "target": self.target,
                "docstring": self.docstring,
                "total_params": self.total_params,
                "trainable_params": self.trainable_params,
                "frozen_params": self.frozen_params,
                "buffer_elements": self.buffer_elements,
                "bytes_by_dtype": dict(self.bytes_by_dtype),
                "param_bytes": self.param_bytes,
                "macs": self.macs,
                "flops": self.flops,
                "activation_bytes": self.activation_bytes,
                "repr": self.root.repr,
                "print": self.print_text,
                "hyperparameters": root["hyperparameters"],
                "parameters": root["parameters"],
                "children": root["children"],
            },
            "input": [i.to_json() for i in self.inputs],
            "output_dims": [list(d) for d in self.output_dims],
            "output": [o.to_json() for o in self.outputs],
            "probe_error": self.probe_error,
            "warnings": list(self.warnings),
            "layers": [layer.to_json() for layer in self.layers],
            "trace": self.trace.to_json() if self.trace else None,
        }


def _jsonable(value: Value) -> Value:
    """Tuples become lists, recursively; everything else is kept."""
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value
