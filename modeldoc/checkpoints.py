"""A model described from a checkpoint's tensors alone: their names, shapes and dtypes, and no code.

Pure: `describe_checkpoint` takes the tensor list a checkpoint's header gives (read by
`modeldoc.probe.checkpoint`) and builds a `ModelSpec`, as Netron does. Tensors are grouped into
layers by their name prefixes (``features.0.weight`` belongs to ``features.0``); each layer's type
is inferred from its tensors' names and shapes by a registry of small rules (`HOLDER_RULES` for a
layer's own tensors, `CONTAINER_RULES` for a module that only holds others), and every inference
says what it rests on. Sizes, dtypes and byte counts are the file's, exactly; what only running the
code could tell (shapes flowing through the model, derivations, costs, which tensors train) is
said to be unknown, never guessed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from modeldoc.spec import CheckpointSpec, Hyperparam, LayerSpec, ModelSpec, ParamSpec

WEIGHTS_ONLY = (
    "described from the checkpoint's tensors alone: no code was run, so the layer types are inferred from the "
    "tensors' names and shapes, and input and output shapes, costs, the data flow and the derivations of the "
    "arguments are not known; document the model's code with --weights {file} to see them"
)
"""What a weights-only description cannot know (the page's and the JSON's ``probe_error``)."""

Kind = Literal["hyperparameter", "data-dependent"]
Source = Literal["chosen", "input", "previous-layer", "target"]


@dataclass(frozen=True)
class TensorEntry:
    """One tensor a checkpoint holds, as its header describes it."""

    name: str
    """Its key in the file (``"features.0.weight"``)."""
    shape: tuple[int, ...]
    dtype: str
    """modeldoc's dtype name (``"float32"``, ``"bfloat16"``, ``"int64"``)."""
    nbytes: int

    @property
    def numel(self) -> int:
        """The number of values."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class Holder:
    """A prefix of tensor names and the tensors directly under it: one layer's own tensors."""

    path: str
    tensors: dict[str, TensorEntry]
    """By local name (``"weight"``, ``"running_mean"``)."""
    children: tuple[str, ...] = ()
    """The local names of the prefixes below it (``("0", "1")`` for ``layers``)."""

    @property
    def name(self) -> str:
        """The last part of the path (``"conv1"``), ``""`` for the root."""
        return self.path.rsplit(".", 1)[-1]

    def shape(self, local: str) -> tuple[int, ...] | None:
        """The shape of the tensor `local`, or None when the layer has no such tensor."""
        entry = self.tensors.get(local)
        return entry.shape if entry is not None else None


@dataclass(frozen=True)
class Argument:
    """A constructor argument read off the shapes."""

    name: str
    value: object
    kind: Kind
    source: Source
    evidence: str


@dataclass(frozen=True)
class Inference:
    """What a rule concluded about one layer, and why."""

    type_name: str
    evidence: str
    """The sentence the conclusion rests on (``"a 4-D weight (6 × 1 × 5 × 5) and a bias of 6"``)."""
    summary: str = ""
    arguments: tuple[Argument, ...] = ()
    axes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Axis names by local tensor name."""
    meanings: Mapping[str, str] = field(default_factory=dict)
    buffers: frozenset[str] = frozenset()
    """Local names of tensors that are buffers (running statistics), not parameters."""
    brief: str = ""


Rule = Callable[[Holder], Inference | None]
HOLDER_RULES: list[Rule] = []
"""Rules for a layer's own tensors, tried in order; the first that answers wins."""
CONTAINER_RULES: list[Rule] = []
"""Rules for a module that holds only other modules, tried in order."""


def holder_rule(func: Rule) -> Rule:
    """Register a rule for a layer's own tensors."""
    HOLDER_RULES.append(func)
    return func


def container_rule(func: Rule) -> Rule:
    """Register a rule for a module that holds only others."""
    CONTAINER_RULES.append(func)
    return func


def times(shape: Iterable[int]) -> str:
    """``(6, 1, 5, 5)`` as ``"6 × 1 × 5 × 5"``."""
    return " × ".join(str(s) for s in shape) or "a scalar"


_EMBEDDING = re.compile(r"emb|^wte$|^wpe$|^shared$|^tok_embeddings$|^lookup$", re.IGNORECASE)
_NORM = re.compile(r"norm|^ln(_|\d|$)|_ln$|^bn\d*$", re.IGNORECASE)
_RECURRENT = re.compile(r"^(weight|bias)_(ih|hh)_l(\d+)(_reverse)?$")
_QKV = (
    ("q_proj", "k_proj", "v_proj"),
    ("query", "key", "value"),
    ("q", "k", "v"),
    ("wq", "wk", "wv"),
    ("to_q", "to_k", "to_v"),
    ("q_lin", "k_lin", "v_lin"),
)
_GATED = (("gate_proj", "up_proj", "down_proj"), ("w1", "w3", "w2"))
_KNOWN_BUFFERS = {"running_mean", "running_var", "num_batches_tracked"}
_KERNEL_AXES = {1: ("length",), 2: ("height", "width"), 3: ("kernel depth", "height", "width")}


@holder_rule
def recurrent(holder: Holder) -> Inference | None:
    """``weight_ih_l0`` and ``weight_hh_l0`` (and more layers, ``_reverse``): an LSTM, GRU or RNN."""
    found = [m for local in holder.tensors if (m := _RECURRENT.match(local))]
    if not found or len(found) != len(holder.tensors):
        return None
    hh = holder.shape("weight_hh_l0")
    ih = holder.shape("weight_ih_l0")
    if hh is None or ih is None or len(hh) != 2 or len(ih) != 2 or hh[1] == 0:
        return None
    hidden = hh[1]
    gates = hh[0] // hidden if hh[0] % hidden == 0 else 0
    kind = {4: "LSTM", 3: "GRU", 1: "RNN"}.get(gates)
    if kind is None:
        return None
    layers = 1 + max(int(m[3]) for m in found)
    bidirectional = any(m[4] for m in found)
    gate_names = {4: "input, forget, cell and output gates", 3: "reset, update and new gates", 1: "one gate"}[gates]
    evidence = (
        f"weight_hh_l0 is {times(hh)} = {gates} × {hidden} by {hidden}: {gates} stacked blocks of the hidden size "
        f"(the {gate_names} of an {kind})"
    )
    axes: dict[str, tuple[str, ...]] = {}
    for local, entry in holder.tensors.items():
        rows = f"{gates} × hidden_size" if gates > 1 else "hidden_size"
        if local.startswith("weight_ih"):
            layer = int(_RECURRENT.match(local)[3])  # type: ignore[index]
            axes[local] = (rows, "input features" if layer == 0 else f"features from layer {layer - 1}")
        elif local.startswith("weight_hh"):
            axes[local] = (rows, "hidden features")
        else:
            axes[local] = (rows,)
        if len(axes[local]) != len(entry.shape):
            axes[local] = ()
    arguments = (
        Argument("input_size", ih[1], "data-dependent", "previous-layer", f"weight_ih_l0 has {ih[1]} columns"),
        Argument("hidden_size", hidden, "hyperparameter", "chosen", f"weight_hh_l0 has {hidden} columns"),
        Argument("num_layers", layers, "hyperparameter", "chosen", f"tensors for layers l0 to l{layers - 1}"),
        Argument(
            "bidirectional",
            bidirectional,
            "hyperparameter",
            "chosen",
            "tensors ending in _reverse" if bidirectional else "no tensor ends in _reverse",
        ),
        Argument(
            "bias",
            "bias_ih_l0" in holder.tensors,
            "hyperparameter",
            "chosen",
            "bias_ih_l0 is there" if "bias_ih_l0" in holder.tensors else "no bias_ih_l0",
        ),
    )
    summary = (
        f"Looks like a {'bidirectional ' if bidirectional else ''}{layers}-layer {kind} with {hidden} hidden features "
        f"reading {ih[1]} input features: its tensors are named as torch's recurrent layers name them, and their "
        f"rows stack {gates} block{'s' if gates > 1 else ''} of {hidden}."
    )
    return Inference(kind, evidence, summary, arguments, axes, brief=f"{ih[1]}→{hidden}")


@holder_rule
def multihead_attention(holder: Holder) -> Inference | None:
    """``in_proj_weight`` (3·E × E): torch's MultiheadAttention, q, k and v stacked in one matrix."""
    shape = holder.shape("in_proj_weight")
    if shape is None or len(shape) != 2 or shape[0] != 3 * shape[1]:
        return None
    embed = shape[1]
    evidence = f"in_proj_weight is {times(shape)} = 3 × {embed} by {embed}: q, k and v projections stacked"
    axes: dict[str, tuple[str, ...]] = {
        "in_proj_weight": ("q, k, v × embed_dim", "embed_dim"),
        "in_proj_bias": ("q, k, v × embed_dim",),
    }
    summary = (
        f"Looks like torch's MultiheadAttention with embed_dim {embed}: one matrix stacks the query, key and value "
        "projections. The number of heads is not stored in the weights (each head is a slice of the same matrices)."
    )
    arguments = (Argument("embed_dim", embed, "hyperparameter", "chosen", f"in_proj_weight has {embed} columns"),)
    return Inference(
        "MultiheadAttention",
        evidence,
        summary,
        arguments,
        {k: v for k, v in axes.items() if k in holder.tensors},
        brief=f"{embed}",
    )


@holder_rule
def batch_norm(holder: Holder) -> Inference | None:
    """``running_mean`` and ``running_var``: a batch normalisation."""
    mean, var = holder.shape("running_mean"), holder.shape("running_var")
    if mean is None or var is None or len(mean) != 1 or mean != var:
        return None
    features = mean[0]
    affine = "weight" in holder.tensors
    evidence = f"running_mean and running_var of {features} values each: the running statistics of a batch norm"
    summary = (
        f"Looks like a batch normalisation over {features} channels: it keeps a running mean and variance per channel"
        f"{' and learns a scale and shift' if affine else ''}. Whether it is BatchNorm1d, 2d or 3d depends on the "
        "input it gets, which the weights do not say."
    )
    axes: dict[str, tuple[str, ...]] = {
        local: ("channels",) for local, e in holder.tensors.items() if len(e.shape) == 1
    }
    arguments = (
        Argument("num_features", features, "data-dependent", "previous-layer", evidence),
        Argument("affine", affine, "hyperparameter", "chosen", "weight is there" if affine else "no weight"),
    )
    buffers = frozenset(local for local in holder.tensors if local in _KNOWN_BUFFERS)
    return Inference("BatchNorm", evidence, summary, arguments, axes, buffers=buffers, brief=str(features))


@holder_rule
def convolution(holder: Holder) -> Inference | None:
    """A weight of 3 to 5 axes: a convolution's filters × depth × kernel window."""
    weight = holder.shape("weight")
    if weight is None or not 3 <= len(weight) <= 5 or set(holder.tensors) - {"weight", "bias"}:
        return None
    n = len(weight) - 2
    filters, depth, kernel = weight[0], weight[1], weight[2:]
    bias = holder.shape("bias")
    evidence = f"a {len(weight)}-D weight ({times(weight)}), laid out as a convolution's filters × depth × window"
    if bias is not None:
        evidence += f", and a bias of {times(bias)}" + (" (one per filter)" if bias == (filters,) else "")
    kernel_text = " × ".join(str(k) for k in kernel)
    summary = (
        f"Looks like a {n}-D convolution with {filters} filters, each {kernel_text} and {depth} channel"
        f"{'s' if depth != 1 else ''} deep. A transposed convolution stores its weight in the same rank, and "
        "stride, padding, dilation and groups are not stored in the weights: only the code knows them."
    )
    arguments = (
        Argument(
            "in_channels",
            depth,
            "data-dependent",
            "previous-layer",
            f"the depth axis is {depth}; equal to in_channels when groups is 1 (in_channels = depth × groups)",
        ),
        Argument("out_channels", filters, "hyperparameter", "chosen", f"the weight has {filters} filters"),
        Argument("kernel_size", list(kernel), "hyperparameter", "chosen", f"each filter's window is {kernel_text}"),
        Argument("bias", bias is not None, "hyperparameter", "chosen", "bias is there" if bias else "no bias"),
    )
    axes: dict[str, tuple[str, ...]] = {"weight": ("filters", "depth", *_KERNEL_AXES[n])}
    meanings = {"weight": f"the {filters} learned filters; each is a {depth} × {kernel_text} block of weights"}
    if bias is not None:
        axes["bias"] = ("filters",) if bias == (filters,) else ()
        meanings["bias"] = "one learned number per filter, added to its output channel"
    return Inference(
        f"Conv{n}d", evidence, summary, arguments, axes, meanings, brief=f"{depth}→{filters}, {kernel_text}"
    )


@holder_rule
def embedding(holder: Holder) -> Inference | None:
    """A 2-D weight alone, named like an embedding (``embed_tokens``, ``wte``): a lookup table."""
    weight = holder.shape("weight")
    if weight is None or len(weight) != 2 or set(holder.tensors) != {"weight"} or not _EMBEDDING.search(holder.name):
        return None
    entries, width = weight
    evidence = f"a 2-D weight ({times(weight)}) and no bias, in a module named {holder.name!r}"
    summary = (
        f"Looks like an embedding: a table of {entries:,} rows of {width} learned numbers; each index (a token id, "
        "a position) selects its row."
    )
    arguments = (
        Argument("num_embeddings", entries, "data-dependent", "input", f"the table has {entries:,} rows"),
        Argument("embedding_dim", width, "hyperparameter", "chosen", f"each row has {width} numbers"),
    )
    axes: dict[str, tuple[str, ...]] = {"weight": ("num_embeddings", "embedding_dim")}
    meanings = {"weight": f"one learned vector of {width} numbers for each of the {entries:,} indices"}
    return Inference("Embedding", evidence, summary, arguments, axes, meanings, brief=f"{entries:,}×{width}")


@holder_rule
def linear(holder: Holder) -> Inference | None:
    """A 2-D weight (and a bias): a fully connected layer, stored out × in as torch does (or in × out)."""
    weight = holder.shape("weight")
    if weight is None or len(weight) != 2 or set(holder.tensors) - {"weight", "bias"}:
        return None
    bias = holder.shape("bias")
    rows, cols = weight
    transposed = bias is not None and bias == (cols,) and rows != cols
    out_features, in_features = (cols, rows) if transposed else (rows, cols)
    if bias is None:
        layout = "no bias tells the layout, so it is read as torch's Linear stores it: out × in"
    elif transposed:
        layout = f"the bias has {cols} values, one per column: stored in × out (as GPT-2's Conv1D does)"
    else:
        layout = f"the bias has {bias[0]} values, one per row: stored out × in, as torch's Linear does"
    evidence = f"a 2-D weight ({times(weight)}); {layout}"
    stacked = ""
    if out_features % in_features == 0 and out_features // in_features in (2, 3) and in_features > 1:
        k = out_features // in_features
        stacked = f" Its {out_features} outputs are {k} × {in_features}: perhaps {k} projections stacked (q, k, v)."
    summary = (
        f"Looks like a fully connected layer from {in_features} to {out_features} features"
        f"{' with a bias' if bias is not None else ', without a bias'}.{stacked}"
    )
    arguments = (
        Argument("in_features", in_features, "data-dependent", "previous-layer", evidence),
        Argument("out_features", out_features, "hyperparameter", "chosen", evidence),
        Argument("bias", bias is not None, "hyperparameter", "chosen", "bias is there" if bias else "no bias"),
    )
    axes: dict[str, tuple[str, ...]] = {
        "weight": ("in_features", "out_features") if transposed else ("out_features", "in_features")
    }
    if bias is not None:
        axes["bias"] = ("out_features",)
    meanings = {"weight": f"maps {in_features} input features to {out_features} outputs"}
    name = "Linear (stored transposed)" if transposed else "Linear"
    return Inference(name, evidence, summary, arguments, axes, meanings, brief=f"{in_features}→{out_features}")


@holder_rule
def normalisation(holder: Holder) -> Inference | None:
    """A 1-D weight (and bias) named like a norm (``ln_1``, ``input_layernorm``): a layer norm or RMS norm."""
    weight = holder.shape("weight")
    if weight is None or set(holder.tensors) - {"weight", "bias"} or not _NORM.search(holder.name):
        return None
    bias = holder.shape("bias")
    if bias is not None and bias != weight:
        return None
    width = times(weight)
    kind = "LayerNorm" if bias is not None else "RMSNorm"
    evidence = (
        f"a weight of {width}{' and a bias of the same shape' if bias else ' and no bias'}, in a module named "
        f"{holder.name!r}"
    )
    what = (
        "a layer norm: it normalises each position's features and then scales and shifts them"
        if bias is not None
        else "a norm with a learned scale and no shift, as RMSNorm (or a LayerNorm without bias) has"
    )
    summary = f"Looks like {what}, over {width} features."
    arguments = (Argument("normalized_shape", list(weight), "data-dependent", "previous-layer", evidence),)
    axes: dict[str, tuple[str, ...]] = {local: tuple("features" for _ in weight) for local in holder.tensors}
    return Inference(kind, evidence, summary, arguments, axes, brief=width)


@container_rule
def attention(holder: Holder) -> Inference | None:
    """Children named q, k and v projections (``q_proj``, ``query``, ``wq``): attention."""
    names = set(holder.children)
    for q, k, v in _QKV:
        if {q, k, v} <= names:
            evidence = f"children named {q}, {k} and {v}: the query, key and value projections of attention"
            summary = (
                "Looks like an attention block: it projects its input into queries, keys and values. "
                "The number of heads is not stored in the weights (each head is a slice of these matrices)."
            )
            return Inference("Attention", evidence, summary)
    return None


@container_rule
def gated_feed_forward(holder: Holder) -> Inference | None:
    """Children named gate, up and down projections: a gated (SwiGLU-style) feed-forward."""
    names = set(holder.children)
    for gate, up, down in _GATED:
        if {gate, up, down} <= names:
            evidence = f"children named {gate}, {up} and {down}: the projections of a gated feed-forward"
            summary = (
                f"Looks like a gated feed-forward (as in LLaMA): {down}(act({gate}(x)) × {up}(x)); "
                "the activation is not stored in the weights."
            )
            return Inference("GatedFeedForward", evidence, summary)
    return None


def describe_checkpoint(checkpoint: CheckpointSpec, tensors: tuple[TensorEntry, ...], *, title: str = "") -> ModelSpec:
    """The `ModelSpec` of a checkpoint from its tensor list alone (in the order the reader gives)."""
    paths = _paths(tensors)
    holders = _holders(tensors, paths)
    signatures = _signatures(tensors, paths)
    layers = [_layer(holders[path], signatures) for path in paths]
    root, rest = layers[0], tuple(layers[1:])
    params = [e for e in tensors if _local(e.name) not in _KNOWN_BUFFERS]
    buffers = [e for e in tensors if _local(e.name) in _KNOWN_BUFFERS]
    by_dtype: dict[str, int] = {}
    for entry in tensors:
        by_dtype[entry.dtype] = by_dtype.get(entry.dtype, 0) + entry.nbytes
    stem = checkpoint.file.replace("\\", "/").rsplit("/", 1)[-1]
    return ModelSpec(
        name=stem,
        type="checkpoint",
        target=checkpoint.file,
        title=title or stem,
        root=root,
        layers=rest,
        total_params=sum(e.numel for e in params),
        buffer_elements=sum(e.numel for e in buffers),
        bytes_by_dtype=by_dtype,
        param_bytes=sum(by_dtype.values()),
        probe_error=WEIGHTS_ONLY.format(file=stem),
        checkpoint=checkpoint,
    )


def _local(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _prefix(name: str) -> str:
    return name.rsplit(".", 1)[0] if "." in name else ""


def _paths(tensors: Iterable[TensorEntry]) -> list[str]:
    """Every layer path (the root first), parents before children, in the order the tensors name them."""
    seen: dict[str, None] = {"": None}
    for entry in tensors:
        parts = _prefix(entry.name).split(".") if "." in entry.name else []
        for i in range(1, len(parts) + 1):
            seen.setdefault(".".join(parts[:i]), None)
    return list(seen)


def _holders(tensors: Iterable[TensorEntry], paths: list[str]) -> dict[str, Holder]:
    own: dict[str, dict[str, TensorEntry]] = {path: {} for path in paths}
    children: dict[str, list[str]] = {path: [] for path in paths}
    for entry in tensors:
        own[_prefix(entry.name)][_local(entry.name)] = entry
    for path in paths[1:]:
        children[_prefix(path)].append(_local(path))
    return {path: Holder(path, own[path], tuple(children[path])) for path in paths}


Signature = tuple[tuple[str, tuple[int, ...], str], ...]
"""The tensors below a path, named relative to it, with their shapes and dtypes, sorted."""


def _signatures(tensors: Iterable[TensorEntry], paths: list[str]) -> dict[str, Signature]:
    """Each path's tensors below it, named relative to it, with their shapes and dtypes: equal for repeats."""
    found: dict[str, list[tuple[str, tuple[int, ...], str]]] = {path: [] for path in paths}
    for entry in tensors:
        parts = entry.name.split(".")
        for i in range(len(parts)):
            path = ".".join(parts[:i])
            found[path].append((".".join(parts[i:]), entry.shape, entry.dtype))
    return {path: tuple(sorted(items)) for path, items in found.items()}


def _layer(holder: Holder, signatures: dict[str, Signature]) -> LayerSpec:
    path = holder.path
    inference = _infer(holder)
    notes = _repeat_notes(holder, signatures)
    params = tuple(_param(holder, local, entry, inference) for local, entry in holder.tensors.items())
    hyperparameters = tuple(
        Hyperparam(
            name=a.name,
            value=a.value,
            kind=a.kind,
            source=a.source,
            reason=a.evidence,
            inferred=True,
            evidence=a.evidence,
        )
        for a in inference.arguments
    )
    subtree = sum(math.prod(shape) for local, shape, _ in signatures[path] if _local(local) not in _KNOWN_BUFFERS)
    return LayerSpec(
        path=path,
        type=inference.type_name,
        type_name=inference.type_name,
        repr="",
        depth=path.count(".") + 1 if path else 0,
        parent=_prefix(path) if path else None,
        children=tuple(f"{path}.{c}" if path else c for c in holder.children),
        summary=inference.summary,
        hyperparameters=hyperparameters,
        parameters=params,
        own_params=sum(p.numel for p in params if not p.is_buffer),
        total_params=subtree,
        inferred=True,
        evidence=inference.evidence,
        notes=notes,
        brief=inference.brief,
    )


def _infer(holder: Holder) -> Inference:
    rules = HOLDER_RULES if holder.tensors else CONTAINER_RULES
    for rule in rules:
        found = rule(holder)
        if found is not None:
            return found
    if not holder.path:
        return Inference("Checkpoint", "the whole file: every tensor it holds is below here")
    if not holder.tensors:
        if holder.children and all(c.isdigit() for c in holder.children):
            return Inference(
                "ModuleList",
                f"children numbered 0 to {len(holder.children) - 1}: a list of modules (a ModuleList or Sequential)",
            )
        return Inference("Module", "it only holds other modules' tensors; their names do not say what it computes")
    listed = ", ".join(f"{local} ({times(e.shape)})" for local, e in holder.tensors.items())
    return Inference(
        "Unknown",
        f"its tensors ({listed}) match none of the layouts modeldoc recognises",
        "What this module computes cannot be told from its tensors alone.",
    )


def _param(holder: Holder, local: str, entry: TensorEntry, inference: Inference) -> ParamSpec:
    axes = inference.axes.get(local, ())
    if len(axes) != len(entry.shape):
        axes = ()
    buffer = local in inference.buffers or local in _KNOWN_BUFFERS
    evidence = f"from the tensor's name and its shape {times(entry.shape)}" + (
        "; a running statistic, so a buffer" if buffer else ""
    )
    return ParamSpec(
        name=entry.name,
        local_name=local,
        shape=entry.shape,
        dtype=entry.dtype,
        numel=entry.numel,
        nbytes=entry.nbytes,
        trainable=False,
        is_buffer=buffer,
        axes=axes,
        meaning=inference.meanings.get(local, ""),
        inferred=True,
        evidence=evidence,
    )


def _repeat_notes(holder: Holder, signatures: dict[str, Signature]) -> tuple[str, ...]:
    """A note on a list of numbered blocks: how many hold the very same tensors (a repeated block)."""
    children = holder.children
    if len(children) < 2 or not all(c.isdigit() for c in children):
        return ()
    base = f"{holder.path}." if holder.path else ""
    groups: dict[Signature, list[str]] = {}
    for child in children:
        groups.setdefault(signatures[base + child], []).append(child)
    first, last = f"{base}{children[0]}", f"{base}{children[-1]}"
    if len(groups) == 1:
        return (
            f"{first} … {last}: {len(children)} blocks whose tensors have the same names, shapes and dtypes, "
            "so they are one block repeated (the layers below are documented one by one all the same).",
        )
    biggest = max(groups.values(), key=len)
    return (
        f"{first} … {last}: {len(children)} numbered blocks in {len(groups)} different layouts of tensors; "
        f"the largest group of identical ones has {len(biggest)} ({base}{biggest[0]} and others).",
    )
