"""The model description: plain frozen dataclasses that templates, graphs and JSON read.

Nothing here imports torch. Each class declares its part of the ``modeldoc/1`` JSON contract
(DESIGN.md, docs/json.md) in one `json_layout`, which both `to_json` and `from_json` follow:
``ModelSpec.from_json(spec.to_json()) == spec``. Fields are only ever added, never renamed; a
key added to an always-written layout needs a ``fallback`` (or ``when=SET``) so that
descriptions written before it still read. The JSON Schema of the contract is
``modeldoc/schema/modeldoc-1.json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from modeldoc.errors import ConfigError
from modeldoc.jsonmap import SET, DecodeError, JsonMapped, Key, decode, encode, keys, kind_of

SCHEMA = "modeldoc/1"
JSON_SCHEMA = Path(__file__).parent / "schema" / "modeldoc-1.json"
"""The JSON Schema (draft 2020-12) of the ``modeldoc/1`` contract, shipped in the package."""
DESCRIPTION_SUFFIX = ".json"
"""A target with this ending names a saved description (``modeldoc build fashion.json``), not a model."""

Kind = Literal["hyperparameter", "data-dependent"]
Source = Literal["chosen", "input", "previous-layer", "target"]
Dim = int | str
"""One axis of a shape: a number, or a symbolic label such as ``"N"`` or ``"N·L"``."""

Value = Any
"""A JSON-able hyperparameter value (numbers, strings, booleans, None, lists of them)."""


@dataclass(frozen=True, kw_only=True)
class DerivationStep(JsonMapped):
    """One step of the arithmetic that fixed a number, in the order it happened."""

    text: str
    """A sentence, e.g. ``"conv2 (Conv2d 5×5) turns 12 into 8"``."""
    value: int
    """The number this step produced."""
    where: str = ""
    """The layer path or op name that did it (``"conv2"``, ``"flatten"``, ``"input"``)."""
    formula: str = ""
    """The formula with the model's numbers, e.g. ``"⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 8"``."""

    json_layout = keys("text", "value", "where", "formula")


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
class ConfigSource(JsonMapped):
    """The config keys that set a constructor argument, for a model that holds a Hugging Face config."""

    formula: str
    """The keys and how they combine: ``"config.num_attention_heads × config.head_dim"``; ``""`` when
    the keys are known (`checked`) but no simple formula of them gives the value."""
    keys: tuple[str, ...]
    """The config keys, as paths into the config (``"num_attention_heads"``, ``"text_config.hidden_size"``,
    ``"block_out_channels[1]"``)."""
    arithmetic: str = ""
    """The formula with the config's numbers: ``"32 × 128 = 4096"``; ``""`` for a single key."""
    also: tuple[str, ...] = ()
    """Other formulas that give the same value and that nothing ruled out (``"config.intermediate_size"``
    when it equals ``config.hidden_size``): the page then names them all, never one of them alone."""
    checked: bool = False
    """True when rebuilding the model with each of these keys changed, one at a time, changed this
    argument (and no other key did): the keys set it. False: the value only equals the formula."""

    # a tuple of Keys, not keys(...): in this class body `keys` is the field
    json_layout = (Key("formula"), Key("keys"), Key("arithmetic", when=SET), Key("also", when=SET), Key("checked"))


@dataclass(frozen=True, kw_only=True)
class ModelConfig(JsonMapped):
    """The Hugging Face (transformers or diffusers) config a model holds, as plain data."""

    type: str
    """The config's class, dotted (``"transformers.LlamaConfig"``)."""
    values: dict[str, Any] = field(default_factory=dict)
    """Every key of the config with its value, as JSON (sub-configs as objects)."""
    built_by: str = ""
    """How modeldoc built the model from it (``"AutoModel.from_config"``); ``""`` for a model it was given."""
    built_from: str = ""
    """What the target gave: ``"LlamaConfig(hidden_size=64, num_hidden_layers=2)"`` or a file's path."""
    dtype: str = ""
    """The dtype the model was built in (the config's ``dtype``), for a model modeldoc built."""
    scopes: dict[str, str] = field(default_factory=dict)
    """Module path → the sub-config that module holds (``{"text_model": "text_config"}``); modules
    not listed read the whole config."""
    measured: tuple[str, ...] = ()
    """The keys modeldoc changed one at a time, rebuilding the model each time, to see what they set."""
    reads: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """A number of the model → the measured keys whose change changed it. The number is an argument
    (``"layers.0.self_attn.q_proj.out_features"``; a root argument is its bare name) or an axis of a
    tensor (``"layers.0.mlp.experts.gate_up_proj[1]"``)."""

    @property
    def name(self) -> str:
        """The config's class name (``"LlamaConfig"``)."""
        return self.type.rsplit(".", 1)[-1]

    def value(self, key: str) -> Any:
        """The value at a key path: ``"hidden_size"``, ``"text_config.hidden_size"``, ``"block_out_channels[1]"``."""
        found: Any = self.values
        for part in key.split("."):
            name, _, index = part.partition("[")
            found = found[name]
            if index:
                found = found[int(index.rstrip("]"))]
        return found

    def arguments_set(self) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
        """Each measured key → the arguments and the tensor axes its change changed, in model order."""
        found: dict[str, tuple[list[str], list[str]]] = {key: ([], []) for key in self.measured}
        for where, setters in self.reads.items():
            for key in setters:
                found.setdefault(key, ([], []))[1 if where.endswith("]") else 0].append(where)
        return {key: (tuple(arguments), tuple(axes)) for key, (arguments, axes) in found.items()}

    json_layout = keys(
        "type",
        "values",
        Key("built_by", when=SET),
        Key("built_from", when=SET),
        Key("dtype", when=SET),
        Key("scopes", when=SET),
        Key("measured", when=SET),
        Key("reads", when=SET),
    )


@dataclass(frozen=True, kw_only=True)
class Hyperparam(JsonMapped):
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
    set_by: ConfigSource | None = None
    """For a model that holds a Hugging Face config: the config keys that set this value."""

    def __post_init__(self) -> None:
        # Parsed here, once, so a malformed dim fails where it enters and readers get the typed value.
        object.__setattr__(self, "axis_ref", AxisRef.parse(self.dim) if self.dim else None)

    json_layout = keys(
        "name",
        "value",
        "kind",
        "source",
        "reason",
        "default",
        Key("formula", when=SET),
        Key("derivation", when=SET),
        Key("derivation_omitted", when=SET),
        Key("derivation_continues", when=SET),
        Key("error", when=SET),
        Key("inferred", when=SET),
        Key("evidence", when="inferred"),
        Key("dim", when=SET),
        Key("set_by", when=SET),
    )


@dataclass(frozen=True, kw_only=True)
class UnknownArgument(JsonMapped):
    """A constructor argument whose value could not be read back from the module, and why."""

    name: str
    reason: str
    """``"not stored on the module under this name"``, ``"stored as a ReLU module, not a plain value"``, ..."""
    default: Value = None
    has_default: bool = False
    """True when the signature gives a default (`default` is then that value)."""

    json_layout = keys("name", "reason", Key("default", when="has_default"))


@dataclass(frozen=True, kw_only=True)
class Bookkeeping(JsonMapped):
    """A constructor argument that is no hyperparameter: where the layer sits, or what it reads its settings from.

    ``layer_idx = 3`` (the layer's position in its stack, used to find its entry in the key/value
    cache), ``config = LlamaConfig`` (the object the sizes are read from). Its knowledge entry
    marks it ``bookkeeping: true``; it is listed apart from the hyperparameters.
    """

    name: str
    value: Value
    reason: str = ""
    """What the value is for, from the knowledge entry."""

    json_layout = keys("name", "value", "reason")


@dataclass(frozen=True, kw_only=True)
class TensorStats(JsonMapped):
    """Statistics of one tensor's values (only a tensor with real values has them: not one on the meta device)."""

    mean: float
    std: float
    """The population standard deviation (divided by the count, not the count − 1)."""
    min: float
    max: float
    zeros: float
    """The fraction of values that are exactly zero (0 to 1)."""
    norm: float
    """The L2 (Frobenius) norm: the square root of the sum of the squared values."""
    histogram: tuple[int, ...] = ()
    """How many values fall in each of equal-width bins from `min` to `max` (the last bin includes `max`)."""
    nonfinite: int = 0
    """How many values are NaN or infinite; the other statistics leave them out."""

    json_layout = keys("mean", "std", "min", "max", "zeros", "norm", "histogram", Key("nonfinite", when=SET))


@dataclass(frozen=True, kw_only=True)
class ParamSpec(JsonMapped):
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
    axis_set_by: tuple[ConfigSource | None, ...] = ()
    """For a model that holds a Hugging Face config: per axis, the config keys that set its size
    (None for an axis no key sets); empty when no key sets any."""
    stats: TensorStats | None = None
    """Statistics of its values, when the weights were read (``--show-weights`` or ``--weights``)."""

    json_layout = keys(
        "name",
        "shape",
        "axes",
        "numel",
        "trainable",
        "dtype",
        "nbytes",
        Key("buffer", "is_buffer"),
        "counted",
        Key("persistent", when="is_buffer"),
        Key("axis_notes", when=SET),
        Key("meaning", when=SET),
        Key("tied_with", when=SET),
        Key("relation", when=SET),
        Key("parametrization", when=SET),
        Key("inferred", when=SET),
        Key("evidence", when="inferred"),
        Key("computed", when=SET),
        Key("lazy", when=SET),
        Key("axis_set_by", when=SET),
        # added: a description reads back whole; older ones lack it
        Key("local_name", fallback=lambda data: data["name"].rsplit(".", 1)[-1]),
        Key("stats", when=SET),
    )


@dataclass(frozen=True, kw_only=True)
class LayerSpec(JsonMapped):
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
    bookkeeping: tuple[Bookkeeping, ...] = ()
    """Constructor arguments that are no hyperparameters (``layer_idx``, ``config``), apart from `hyperparameters`."""
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
    structure: str = ""
    """The id of the structure group (`ModelSpec.structures`) this layer is part of: the innermost
    group one of whose instances holds it (``"Block"`` for ``layers.17.attn.q_proj``); ``""`` for none."""

    @property
    def is_leaf(self) -> bool:
        """True when the layer has no child modules."""
        return not self.children

    @property
    def name(self) -> str:
        """The last component of the path (``"conv1"``)."""
        return self.path.rsplit(".", 1)[-1] if self.path else ""

    json_layout = keys(
        "path",
        "type",
        "repr",
        "hyperparameters",
        "parameters",
        "input_shapes",
        "output_shapes",
        "input_dims",
        "output_dims",
        "depth",
        "parent",
        "children",
        "aliases",
        "own_params",
        "total_params",
        "calls",
        "order",
        "macs",
        "flops",
        "activation_bytes",
        "doc_url",
        "summary",
        Key("formula", when=SET),
        Key("inferred", when=SET),
        Key("evidence", when="inferred"),
        Key("notes", when=SET),
        Key("unknown_arguments", when=SET),
        Key("bases", when=SET),
        Key("size_rule", when=SET),
        Key("brief", when=SET),
        # added: a description reads back whole; older ones lack them
        Key("type_name", fallback=lambda data: data["type"].rsplit(".", 1)[-1]),
        Key("docstring", when=SET),
        Key("bookkeeping", when=SET),
        Key("structure", when=SET),
    )


Aspect = Literal["argument", "kind", "trainable", "dtype", "tied", "calls"]


@dataclass(frozen=True, kw_only=True)
class Difference(JsonMapped):
    """One way one instance of a structure group differs from most of the others."""

    instance: str
    """The instance's root path (``"layers.5"``)."""
    path: str
    """The layer in that instance where it differs (``"layers.5.attn.q_proj"``)."""
    aspect: Aspect
    """What differs: a constructor argument's value (``"argument"``) or kind (``"kind"``), whether a
    parameter is trainable, a tensor's dtype, what a tensor is tied with (``"tied"``), or how many
    times the forward pass called the instance (``"calls"``, 0 when it was not called)."""
    name: str = ""
    """The argument's or tensor's name in its layer (``"eps"``, ``"weight"``); ``""`` for ``"calls"``."""
    value: Value = None
    """The instance's value."""
    usual: Value = None
    """The value most instances have (the first instance's, when no value is most common)."""

    json_layout = keys("instance", "path", "aspect", "name", "value", "usual")


@dataclass(frozen=True, kw_only=True)
class StructureSpec(JsonMapped):
    """Repeated blocks with one structure: the same types, parameter shapes and recorded call graph.

    Their documentation is written once; every layer inside an instance names the group in
    `LayerSpec.structure`, and what differs between instances is listed in `differences`.
    """

    id: str
    """Unique in the model: the instances' class name, with ``-2``, ``-3``, ... for further groups of it."""
    type: str
    """Public dotted type of the instances' root module."""
    instances: tuple[str, ...]
    """The instances' root paths, in registration order."""
    differences: tuple[Difference, ...] = ()

    json_layout = keys("id", "type", "instances", "differences")


@dataclass(frozen=True, kw_only=True)
class BoundaryTensor(JsonMapped):
    """A tensor at the model's boundary: one example input, or one output, of the forward pass."""

    name: str
    """The forward parameter it binds to (``"x"``, ``"input_ids"``), or where it sits in the output
    (``"logits"``, ``"output[0]"``)."""
    shape: tuple[int, ...]
    dtype: str
    dims: tuple[Dim, ...] = ()

    json_layout = keys("name", "shape", "dtype", "dims")


@dataclass(frozen=True, kw_only=True)
class TensorInfo(JsonMapped):
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

    json_layout = keys("id", "shape", "dims", "dtype", "producer", "name", "nbytes", "alias")


OpKind = Literal["input", "module", "function", "output"]


@dataclass(frozen=True, kw_only=True)
class OpSpec(JsonMapped):
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
    inner: tuple[str, ...] = ()
    """For a leaf layer's call: the torch functions it ran inside, in order (``("permute", "layer_norm",
    "permute")``): the evidence of what its forward does, for a subclass whose forward is its own."""

    json_layout = keys(
        "index",
        "kind",
        "name",
        "target",
        "scope",
        "inputs",
        "outputs",
        "args",
        "macs",
        "flops",
        "arguments",
        "call",
        # added: older descriptions lack it
        Key("inner", when=SET),
    )


@dataclass(frozen=True, kw_only=True)
class Assumption(JsonMapped):
    """A value the meta-device pass could not compute (it depends on the weights), and the answer it assumed.

    The shapes of the trace describe the path these answers lead down.
    """

    where: str
    """The model's line that asked for the value: ``transformers/models/bart/modeling_bart.py:123``."""
    code: str = ""
    """That line of source (``if mask.any():``); empty when the source is not available."""
    question: str
    """What was asked, in words (``the truth value of a tensor``, ``the distinct values of a 3 × 4 tensor``)."""
    assumed: str
    """The answer given (``True``, ``all of them``)."""
    why: str
    count: int = 1
    """How many times this line asked the same question (in a loop, or once per layer)."""

    json_layout = keys("where", "code", "question", "assumed", "why", "count")


@dataclass(frozen=True, kw_only=True)
class MadeUpInput(JsonMapped):
    """An input the probe made up because the model needs it and none was given (listed among the inputs too)."""

    name: str
    """The forward parameter it was passed as (``attention_mask``)."""
    shape: tuple[int, ...]
    dtype: str
    what: str
    """What it holds and why: ``ones: every position is attended (no padding)``."""

    json_layout = keys("name", "shape", "dtype", "what")


@dataclass(frozen=True, kw_only=True)
class TraceSpec(JsonMapped):
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
    assumptions: tuple[Assumption, ...] = ()
    """The values a meta-device pass assumed to go on (empty for a pass with real values)."""
    made_up: tuple[MadeUpInput, ...] = ()
    """The inputs the probe made up beside the ones given."""
    materialised: bool = False
    """True when the pass ran on a materialised copy of a meta model's weights (random values, on the CPU)."""
    example_chosen: str = ""
    """Set when no example input was given and modeldoc chose it from the model's config: what and from which keys."""

    json_layout = keys(
        "device",
        "complete",
        "error",
        "failed_in",
        "note",
        "ops",
        "tensors",
        "module_calls",
        Key("assumptions", when=SET),
        Key("made_up_inputs", attr="made_up", when=SET),
        Key("materialised", when=SET),
        Key("example_chosen", when=SET),
    )


def _not_a_description(source: str, problem: str, location: str = "") -> ConfigError:
    where = f" at {location}" if location else ""
    return ConfigError(
        f"{source} is not a modeldoc/1 description: {problem}{where}",
        "write it with modeldoc inspect TARGET --json (or Description.to_json())",
    )


def _root_of_older(data: Mapping[str, Any]) -> dict[str, Any]:
    """The root layer of a description written before ``root`` was, rebuilt from what the rest holds.

    The root's call is the model's forward pass: its shapes are the model's inputs and outputs,
    its cost and parameters the model's. Its teaching text (``summary``, ``doc_url``) is left empty.
    """
    model = data["model"]
    called = data.get("trace") is not None
    inputs, outputs = data.get("input", []), data.get("output", [])
    own = [p for p in model["parameters"] if p.get("counted", True) and not p.get("buffer", False)]
    return {
        "path": "",
        "type": model["type"],
        "type_name": model["name"],
        "repr": model["repr"],
        "hyperparameters": model["hyperparameters"],
        "parameters": model["parameters"],
        "input_shapes": [i["shape"] for i in inputs] if called else [],
        "output_shapes": [o["shape"] for o in outputs] if called else [],
        "input_dims": [i["dims"] for i in inputs] if called else [],
        "output_dims": [o["dims"] for o in outputs] if called else [],
        "depth": 0,
        "parent": None,
        "children": model["children"],
        "aliases": [],
        "own_params": sum(p["numel"] for p in own),
        "total_params": model["total_params"],
        "calls": 1 if called else 0,
        "order": 0 if called else None,
        "macs": model["macs"],
        "flops": model["flops"],
        "activation_bytes": model["activation_bytes"],
        "doc_url": "",
        "summary": "",
        # the probe keeps a class docstring on the layer for the user's classes, not torch's
        "docstring": "" if model["type"].startswith("torch.") else model["docstring"],
    }


@dataclass(frozen=True, kw_only=True)
class ShapeMismatch(JsonMapped):
    """A tensor the model and a checkpoint both name, with different shapes."""

    name: str
    model_shape: tuple[int, ...]
    file_shape: tuple[int, ...]

    json_layout = keys("name", "model_shape", "file_shape")


CheckpointFormat = Literal["safetensors", "torch"]


@dataclass(frozen=True, kw_only=True)
class CheckpointSpec(JsonMapped):
    """A checkpoint file the model was described from, or loaded with, and how its tensors matched.

    Described from: ``modeldoc build model.safetensors`` (`weights_only`); loaded with: ``--weights FILE``.
    """

    file: str
    """The file as it was given (a sharded checkpoint's index file)."""
    format: CheckpointFormat
    """``"safetensors"``, or ``"torch"`` for a state dict saved with ``torch.save``."""
    size: int
    """Bytes on disk, all shards together."""
    tensors: int
    """How many tensors the file holds."""
    shards: int = 1
    weights_only: bool = False
    """True when the model was described from the file alone, with no code: layer types are inferred."""
    entry: str = ""
    """For a ``torch.save`` file that holds more than the state dict: the key the tensors were read from."""
    metadata: dict[str, str] = field(default_factory=dict)
    """A safetensors file's ``__metadata__`` (text the writer stored)."""
    loaded: int = 0
    """For ``--weights``: how many of the model's tensors took their values from the file."""
    missing: tuple[str, ...] = ()
    """For ``--weights``: the model's tensors the file does not hold (they keep the values the code gave them)."""
    unexpected: tuple[str, ...] = ()
    """For ``--weights``: the file's tensors the model does not have (not loaded)."""
    mismatched: tuple[ShapeMismatch, ...] = ()
    """For ``--weights``: tensors both name, with different shapes (not loaded)."""

    @property
    def complete(self) -> bool:
        """True when every tensor of the model and of the file matched (always for a weights-only description)."""
        return not (self.missing or self.unexpected or self.mismatched)

    json_layout = keys(
        "file",
        "format",
        "size",
        "tensors",
        "shards",
        "weights_only",
        Key("entry", when=SET),
        Key("metadata", when=SET),
        Key("loaded", when=SET),
        Key("missing", when=SET),
        Key("unexpected", when=SET),
        Key("mismatched", when=SET),
    )


@dataclass(frozen=True, kw_only=True)
class Picture:
    """An image of a tensor's values for the site (never in the JSON): a PNG file and what it shows."""

    file: str
    """The file name, unique within the model (``"conv1.weight.png"``)."""
    layer: str
    """The path of the layer whose section shows it."""
    tensors: tuple[str, ...]
    """The qualified names of the tensors it shows (q, k and v for attention heads)."""
    kind: Literal["filters", "matrix", "heads"]
    alt: str
    """What it shows, in words, for readers who cannot see it."""
    caption: str
    width: int
    """Pixels of the image itself; the page shows it `scale` times larger."""
    height: int
    scale: int
    data: bytes = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class ModelSpec(JsonMapped):
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
    config: ModelConfig | None = None
    """The Hugging Face config the model holds (or was built from); None for other models."""
    checkpoint: CheckpointSpec | None = None
    """The checkpoint file the model was described from or loaded with, when there is one."""
    pictures: tuple[Picture, ...] = field(default=(), compare=False, repr=False, metadata={"json": False})
    """Images of the weights' values (``--show-weights``), written into the site beside the pages; not in the JSON."""
    structures: tuple[StructureSpec, ...] = ()
    """Groups of repeated blocks with one structure (see `modeldoc.structures`); empty when nothing repeats."""

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

    json_layout = keys(
        Key("model.name"),
        Key("model.type"),
        Key("model.target"),
        Key("model.docstring"),
        Key("model.total_params"),
        Key("model.trainable_params"),
        Key("model.frozen_params"),
        Key("model.buffer_elements"),
        Key("model.bytes_by_dtype"),
        Key("model.param_bytes"),
        Key("model.macs"),
        Key("model.flops"),
        Key("model.activation_bytes"),
        Key("model.repr", "root.repr", copy=True),
        Key("model.print", "print_text"),
        Key("model.hyperparameters", "root.hyperparameters", copy=True),
        Key("model.parameters", "root.parameters", copy=True),
        Key("model.children", "root.children", copy=True),
        Key("input", "inputs"),
        "output_dims",
        Key("output", "outputs"),
        "probe_error",
        "warnings",
        "layers",
        "trace",
        # added: a description reads back whole; older ones lack them
        Key("model.title", fallback=lambda data: data["model"]["name"]),
        Key("root", fallback=_root_of_older),
        Key("config", when=SET),
        Key("checkpoint", when=SET),
        Key("structures", when=SET),
    )

    def to_json(self) -> dict[str, Any]:
        """The ``modeldoc/1`` JSON contract."""
        return {"schema": SCHEMA, **encode(self)}

    @classmethod
    def from_json(cls, data: Any, *, source: str = "the JSON") -> ModelSpec:
        """Read a ``modeldoc/1`` description back: ``ModelSpec.from_json(spec.to_json()) == spec``.

        Raises:
            ConfigError: `data` is not a ``modeldoc/1`` description; the message names `source`
                (a file name), what is wrong and where (``layers[3].parameters[0].shape``).

        """
        if not isinstance(data, Mapping):
            raise _not_a_description(source, f"it holds {kind_of(data)}, not an object")
        schema = data.get("schema", _NO_SCHEMA)
        if schema is _NO_SCHEMA:
            raise _not_a_description(source, 'it has no "schema" key (modeldoc writes "schema": "modeldoc/1")')
        if schema != SCHEMA:
            raise ConfigError(
                f"{source} is a {schema!r} description, and this modeldoc reads {SCHEMA!r}",
                "read it with the modeldoc version that wrote it, or write it anew with this one",
            )
        try:
            return decode(cls, data)
        except DecodeError as err:
            raise _not_a_description(source, err.problem, err.location) from None


_NO_SCHEMA = object()


CHECKPOINT_SUFFIXES = (".safetensors", ".safetensors.index.json", ".pt", ".pth", ".bin", ".ckpt")
"""A target with one of these endings names a checkpoint file (``model.safetensors``, a sharded one's
``model.safetensors.index.json``, a ``torch.save`` state dict), documented from its tensors alone."""


def is_checkpoint_file(target: str) -> bool:
    """True when a target names a checkpoint file (``model.safetensors``, ``checkpoint.pt``), not a model."""
    return target.endswith(CHECKPOINT_SUFFIXES)


def is_description_file(target: str) -> bool:
    """True when a target names a saved description (``fashion.json``), not a model (``pkg.models:Net``).

    A ``.json`` file that is a Hugging Face config (`is_config_file`) is not a description.
    """
    return target.endswith(DESCRIPTION_SUFFIX) and not is_config_file(target) and not is_checkpoint_file(target)


CONFIG_FILE_SUFFIX = "config.json"
"""A ``.json`` target with this ending that is not a ``modeldoc/1`` description is a config, also when unreadable."""
_DESCRIPTION_START = re.compile(r'^\s*\{\s*"schema"\s*:')


def is_config_file(target: str) -> bool:
    """True when a target names a Hugging Face config saved as JSON (``path/to/config.json``).

    Told from a saved description by what the file holds: a description says
    ``"schema": "modeldoc/1"``, a transformers config has ``"model_type"`` and a diffusers config
    ``"_class_name"``. A file whose name ends in ``config.json`` and that says neither (or cannot
    be read) counts as a config, so that its error speaks of configs.
    """
    if not target.endswith(DESCRIPTION_SUFFIX):
        return False
    path = Path(target)
    try:
        stat = path.stat()
    except OSError:
        return target.endswith(CONFIG_FILE_SUFFIX)
    return _holds_config(path, stat.st_mtime_ns, stat.st_size)


@cache
def _holds_config(path: Path, mtime_ns: int, size: int) -> bool:
    """What `is_config_file` says of `path`, cached per version of the file (`mtime_ns`, `size`)."""
    del mtime_ns, size  # the cache's key only
    named = path.name.endswith(CONFIG_FILE_SUFFIX)
    try:
        with path.open(encoding="utf-8") as file:
            if _DESCRIPTION_START.match(file.read(256)):
                return False  # modeldoc writes "schema" first: a description, read no further
            file.seek(0)
            data = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return named
    if not isinstance(data, Mapping):
        return named
    if "schema" in data:
        return False
    return "model_type" in data or "_class_name" in data or named


def read_description(path: Path) -> ModelSpec:
    """The `ModelSpec` saved in the JSON file at `path` (``modeldoc inspect TARGET --json > path``).

    Raises:
        ConfigError: The file cannot be read, is not JSON, or is not a ``modeldoc/1`` description.

    """
    fix = "give a file written by modeldoc inspect TARGET --json"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"the description {path} does not exist", fix) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a modeldoc/1 description: it is not UTF-8 text", fix) from None
    except OSError as err:
        raise ConfigError(f"cannot read the description {path}: {err.strerror or err}", fix) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(
            f"{path} is not a modeldoc/1 description: it is not valid JSON "
            f"({err.msg} at line {err.lineno}, column {err.colno})",
            fix,
        ) from None
    return ModelSpec.from_json(data, source=str(path))
