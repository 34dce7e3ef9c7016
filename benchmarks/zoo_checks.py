"""What the zoo benchmarks measure on one described model, and the checks for wrong statements.

Three jobs, all on a finished description:

- `measure`: how far the probe got (complete, partial, failed) and the knowledge gaps (layers
  with no knowledge entry, arguments whose kind no knowledge rule fixed);
- `cause`: the class of a probe failure, from its error text (issue 14's table);
- `wrong_statements`: automatic detectors, one per class of wrong statement in issue 11. They
  read the ``modeldoc/1`` JSON (``spec.to_json()``), so they keep working while the code that
  writes it changes; each returns the findings as short lines naming the layer and argument.

Nothing here imports torch.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldoc.explain.layers import entry_of
from modeldoc.spec import ModelSpec

if str(Path(__file__).resolve().parent.parent) not in sys.path:  # the repository, for tests.helpers
    sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

from tests.helpers.formulas import evaluate, mismatch

Json = Mapping[str, Any]

# --------------------------------------------------------------------------- probe status and gaps


def probe_status(spec: ModelSpec) -> str:
    """``complete``, ``partial`` (some layers ran before the failure), ``failed`` (none did) or ``not-run``."""
    trace = spec.trace
    if trace is None:
        return "not-run"
    if trace.complete:
        return "complete"
    ran = any(op.kind in ("module", "function") and op.outputs for op in trace.ops)
    return "partial" if ran else "failed"


def failure_message(error: str) -> str:
    """The exception part of a probe error sentence (``"RuntimeError: ..."``), or the sentence's first line."""
    match = re.search(r" with (\w+(?:Error|Exception|Exit|Interrupt|Warning)?: .*?); change the example input", error)
    if match:
        return match.group(1)
    return error.strip().splitlines()[0] if error.strip() else ""


def measure(spec: ModelSpec) -> dict[str, Any]:
    """The probe's outcome and the knowledge gaps of one described model.

    Definitions (the same for the zoo and the curated set):

    - ``layers``: modules other than the root;
    - ``no_entry_layers``: modules (the root included) whose type, and every ancestor type, has no
      knowledge entry (``explain.entry_of`` is None) and that take a readable argument or own a
      tensor, so there is something to explain; a pure container with neither is not a gap;
    - ``unknown_kind_args``: ``args_inferred`` + ``args_no_rule``: arguments of layers with no entry
      (their kind, if any, was inferred from shapes), and arguments of layers with an entry that
      has no rule for that argument name (left at the collector's "hyperparameter, chosen").
    """
    trace = spec.trace
    no_entry: dict[str, int] = {}
    args_inferred = args_no_rule = args_undecided = inferred_layers = 0
    for layer in spec.all_layers:
        inferred_layers += layer.inferred
        entry = entry_of(layer)
        if entry is None:
            if layer.hyperparameters or layer.parameters:
                no_entry[layer.type_name] = no_entry.get(layer.type_name, 0) + 1
            args_inferred += len(layer.hyperparameters)
            args_undecided += sum(1 for h in layer.hyperparameters if not h.dim)
            continue
        args_no_rule += sum(1 for h in layer.hyperparameters if h.name not in entry.args)
    return {
        "probe": probe_status(spec),
        "probe_device": trace.device if trace else "",
        "probe_note": trace.note if trace else "",
        "failed_in": trace.failed_in if trace and not trace.complete else "",
        "error": failure_message(trace.error) if trace and not trace.complete else "" if trace else spec.probe_error,
        "ops": len(trace.ops) if trace else 0,
        "params": spec.total_params,
        "layers": len(spec.layers),
        "no_entry_layers": sum(no_entry.values()),
        "no_entry_types": dict(sorted(no_entry.items(), key=lambda kv: (-kv[1], kv[0]))),
        "inferred_layers": inferred_layers,
        "unknown_kind_args": args_inferred + args_no_rule,
        "args_inferred": args_inferred,
        "args_inferred_undecided": args_undecided,
        "args_no_rule": args_no_rule,
    }


# --------------------------------------------------------------------------- failure causes

CAUSES = (
    "no forward (not applicable)",
    "value-dependent control flow",
    "meta kernel dtype",
    "missing extra input",
    "shape of the example input",
    "other",
)
"""Cause classes of a failed or partial probe (the patterns below are tried in their own order: no forward, then
control flow, then a missing input, then dtype, then shape; the first that matches wins)."""

_CAUSE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("no forward (not applicable)", re.compile(r"defines no forward")),
    (
        "value-dependent control flow",
        re.compile(
            r"bool\(\)|\.item\(\)|item\(\) |tolist|nonzero|unique|Cannot copy out of meta tensor|data.dependent"
            r"|_local_scalar_dense|meta tensors? (do|does) not have|cannot be called on meta|Boolean value of Tensor"
            r"|is_nonzero|masked_select|repeat_interleave|value of a meta|argwhere|item\b.*meta|meta.*\bitem\b"
            r"|out of meta|which is not supported with meta|to a concrete",
            re.IGNORECASE,
        ),
    ),
    (
        "missing extra input",
        re.compile(
            r"'NoneType' object (has no attribute|is not subscriptable|is not iterable)|\(NoneType, Tensor"
            r"|must be Tensor, not NoneType"
            r"|missing \d+ required|required positional argument|You (have|must) to specify|You must specify"
            r"|must be (provided|given|passed|specified)|is required|should be provided"
            r"|have to (pass|provide|specify)|need to (pass|provide|specify)|not provided|were not given"
            r"|Either .* or .* (should|must)|or `?inputs_embeds|Please provide|expects? .* to be passed"
            r"|cannot specify both \w*input_ids and \w*inputs_embeds",
            re.IGNORECASE,
        ),
    ),
    (
        "meta kernel dtype",
        re.compile(
            r"Expected inputs of \w+ type|dtype|expected .*(BFloat16|Half|Float|Long|Int) |"
            r"expected scalar type|must have the same dtype|to be of (floating|integer)|not implemented for '\w+'"
            r"|found dtype|expected .* to be (float|bfloat|half|long|int)",
            re.IGNORECASE,
        ),
    ),
    (
        "shape of the example input",
        re.compile(
            r"shape|size of tensor|sizes? (of|mismatch|must)|mat1 and mat2|dimension|must match|expected input"
            r"|Expected .* (dims|dimensions|channels)|cannot be multiplied|out of (range|bounds)|index"
            r"|too many values|not enough values|to have \d+ channels|invalid for input of size|broadcast"
            r"|Kernel size can't be greater|Output size is too small|too small|divisible|Padding size|reduction dim",
            re.IGNORECASE,
        ),
    ),
)


def cause(text: str) -> str:
    """The cause class of a probe failure or a crash, from its error text (see `CAUSES`)."""
    for name, pattern in _CAUSE_PATTERNS:
        if pattern.search(text):
            return name
    return "other"


# --------------------------------------------------------------------------- wrong statements (issue 11)

CLASSES = {
    "c1_residual": "width tied by add/mul/where/cat to another origin, yet called chosen",
    "c2_constant": "'a constant tensor' in a derivation",
    "c3_error_on_complete": "shape error claimed on a model whose probe completed",
    "c4_positions_vocab": "position embedding whose num_embeddings has source input (vocabulary)",
    "c5_target": "source target on a layer whose output is not a model output",
    "c6_arithmetic": "printed formula that does not evaluate to its value (or hides a slice's arithmetic)",
    "c7_first_layer": "layer reading the input directly called previous-layer",
}
"""The seven wrong-statement classes of issue 11, by key, with what each detector counts."""


def wrong_statements(doc: Json) -> dict[str, list[str]]:
    """Every detector's findings on one model's ``modeldoc/1`` JSON, by class key (see `CLASSES`)."""
    graph = _Graph(doc)
    detectors: dict[str, Callable[[_Graph], list[str]]] = {
        "c1_residual": residual_chosen,
        "c2_constant": constant_tensor,
        "c3_error_on_complete": error_on_complete,
        "c4_positions_vocab": positions_as_vocabulary,
        "c5_target": target_not_output,
        "c6_arithmetic": arithmetic,
        "c7_first_layer": first_layer_previous,
    }
    return {key: sorted(set(detect(graph))) for key, detect in detectors.items()}


class _Graph:
    """The JSON description with the lookups the detectors share."""

    def __init__(self, doc: Json) -> None:
        self.doc = doc
        trace = doc.get("trace") or {}
        self.complete = bool(trace.get("complete"))
        self.ops: list[Json] = list(trace.get("ops") or [])
        self.tensors: dict[int, Json] = {t["id"]: t for t in trace.get("tensors") or []}
        root = {"path": "", "hyperparameters": doc["model"].get("hyperparameters", []), "type": doc["model"]["type"]}
        self.layers: dict[str, Json] = {"": root, **{layer["path"]: layer for layer in doc.get("layers", [])}}
        self.outputs: set[int] = {t for op in self.ops if op["kind"] == "output" for t in op["inputs"]}
        self.input_ids: set[int] = {t for op in self.ops if op["kind"] == "input" for t in op["outputs"]}
        self.stored = self._stored()

    def _stored(self) -> set[int]:
        """Parameters and buffers (named tensors made by no op), and what function ops make from them alone."""
        stored = {
            tid
            for tid, t in self.tensors.items()
            if t.get("producer") is None and t.get("name") and tid not in self.input_ids
        }
        for op in self.ops:
            inputs = [t for t in op["inputs"] if t in self.tensors]
            if op["kind"] == "function" and inputs and all(t in stored for t in inputs):
                stored.update(op["outputs"])
        return stored

    def shape(self, tid: int) -> list[int]:
        return list(self.tensors[tid]["shape"]) if tid in self.tensors else []

    def producer(self, tid: int) -> Json | None:
        index = self.tensors.get(tid, {}).get("producer")
        return self.ops[index] if index is not None and 0 <= index < len(self.ops) else None

    def arguments(self) -> Iterator[tuple[Json, Json]]:
        for layer in self.layers.values():
            for h in layer.get("hyperparameters", []):
                yield layer, h


def _label(layer: Json, h: Json) -> str:
    path = layer["path"] or "(root)"
    return f"{path}.{h['name']} = {h.get('value')!r}"


# ---- class 1: residual constraints


@dataclass(frozen=True)
class _Origin:
    """Where a width came from: a layer's argument, or a model input."""

    kind: str
    """``"layer"`` or ``"input"``."""
    name: str
    """The layer path, or the input's name."""
    arg: str = ""
    order: int = -1
    """Index of the op that made it (-1 for an input)."""


_CONSTRAINT_OPS = {"add", "add_", "sub", "sub_", "mul", "mul_", "where", "cat", "concat", "concatenate"}
_OUT_WIDTH_NAMES = {"out_features", "out_channels", "nf", "embedding_dim", "out_dim", "dim_out", "output_dim"}
_DIM = re.compile(r"^(in|out)(\d+):(-?\d+)$")


def _width_arg(layer: Json, j: int, axis: int, rank: int, size: int) -> Json | None:
    """The argument of `layer` that sets axis `axis` (negative) of its output `j`, when it equals `size`."""
    for h in layer.get("hyperparameters", []):
        if h.get("value") != size or isinstance(h.get("value"), bool):
            continue
        match = _DIM.match(h.get("dim") or "")
        if match and match.group(1) == "out" and int(match.group(2)) == j:
            at = int(match.group(3))
            if -rank <= at < rank and (at % rank) - rank == axis:
                return h
        elif not h.get("dim") and h["name"] in _OUT_WIDTH_NAMES and j == 0:
            return h
    return None


def residual_chosen(g: _Graph) -> list[str]:
    """Class 1: a layer's output width is tied by an add/mul/where/cat to a width that comes from elsewhere,
    yet the argument that sets it is called a designer's choice.

    The trace is walked forward. Each tensor's last axis (and channel axis 1, for tensors of rank 3
    or more) gets an origin: the layer argument that set it (an argument whose ``dim`` names that
    output axis and whose value matches), else the origin of an input of the same shape the op passed
    it on from, else the model input. At an op that forces equal sizes (add, sub, mul, where, cat
    on another axis), the sizes of all inputs that carry the axis (not broadcast) must agree. When
    they come from two or more origins, only one may be the designer's choice: the model input if
    one of them is it (then none is chosen), else the first in the forward pass. Every other origin
    still called "hyperparameter, chosen" is a finding.
    """
    origin: dict[tuple[int, int], _Origin] = {}
    findings: list[str] = []
    for op in g.ops:
        if op["kind"] == "input":
            for tid in op["outputs"]:
                for axis in _axes(g.shape(tid)):
                    origin[tid, axis] = _Origin("input", op["name"])
            continue
        for j, tid in enumerate(op["outputs"]):
            shape = g.shape(tid)
            for axis in _axes(shape):
                found = _origin_of(g, op, j, tid, axis, origin, findings)
                if found is not None:
                    origin[tid, axis] = found
    return findings


def _axes(shape: list[int]) -> list[int]:
    """The negative indices of the axes followed: the last, and axis 1 for rank 3 or more."""
    if not shape:
        return []
    return [-1] if len(shape) < 3 else [-1, 1 - len(shape)]


def _origin_of(
    g: _Graph, op: Json, j: int, tid: int, axis: int, origin: dict[tuple[int, int], _Origin], findings: list[str]
) -> _Origin | None:
    shape = g.shape(tid)
    size = shape[axis]
    if op["kind"] == "module":
        layer = g.layers.get(op["name"])
        h = _width_arg(layer, j, axis, len(shape), size) if layer else None
        if h is not None:
            return _Origin("layer", op["name"], h["name"], op["index"])
        return _carried(g, op, shape, axis, origin)
    if op["name"] in _CONSTRAINT_OPS and size > 1:
        if op["name"] in ("cat", "concat", "concatenate"):
            dim = (op.get("arguments") or {}).get("dim", 0)
            if isinstance(dim, int) and dim % len(shape) == axis % len(shape):
                return None  # the sizes add up along the cat axis: no constraint there
        carried = [t for t in op["inputs"] if len(g.shape(t)) >= -axis and g.shape(t)[axis] == size]
        found = list(dict.fromkeys(origin[t, axis] for t in carried if (t, axis) in origin))
        if len(found) >= 2:
            findings.extend(_violations(g, op, found, size))
        if found:
            return min(found, key=lambda o: (o.kind != "input", o.order))
        return None
    return _carried(g, op, shape, axis, origin)


def _carried(
    g: _Graph, op: Json, shape: list[int], axis: int, origin: dict[tuple[int, int], _Origin]
) -> _Origin | None:
    """The origin an op passes on: that of an input of the very same shape, else that of the one input
    axis with the size (a view, transpose or flatten that moved it), when no other input axis has it."""
    same = [t for t in op["inputs"] if g.shape(t) == shape]
    if same:
        return origin.get((same[0], axis))
    size = shape[axis]
    if size <= 1:
        return None
    holders = [
        (t, a - len(g.shape(t))) for t in dict.fromkeys(op["inputs"]) for a, n in enumerate(g.shape(t)) if n == size
    ]
    if len(holders) != 1:
        return None
    return origin.get(holders[0])


def _violations(g: _Graph, op: Json, found: list[_Origin], size: int) -> list[str]:
    inputs = [o for o in found if o.kind == "input"]
    layers = [o for o in found if o.kind == "layer"]
    allowed = None if inputs else min(layers, key=lambda o: o.order)
    out = []
    for o in layers:
        if o == allowed:
            continue
        h = next(h for h in g.layers[o.name]["hyperparameters"] if h["name"] == o.arg)
        if h.get("kind") == "hyperparameter" and h.get("source") == "chosen":
            tied = inputs[0] if inputs else allowed
            assert tied is not None
            other = f"input {tied.name}" if tied.kind == "input" else f"{tied.name}.{tied.arg}"
            where = f"{op['name']} in {op.get('scope') or '(root)'}"
            out.append(f"{o.name}.{o.arg} = {size} is chosen, but {where} ties it to {other}")
    return out


# ---- class 2: constant tensors


def constant_tensor(g: _Graph) -> list[str]:
    """Class 2: a derivation (step text or formula), formula or reason that speaks of "a constant tensor"."""
    out = []
    for layer, h in g.arguments():
        texts = [h.get("formula", ""), h.get("reason", "")]
        texts += [s.get("text", "") + " " + s.get("formula", "") for s in h.get("derivation", [])]
        if any("a constant tensor" in t for t in texts):
            out.append(_label(layer, h))
    return out


# ---- class 3: shape errors on a model that ran


def error_on_complete(g: _Graph) -> list[str]:
    """Class 3: an argument with a shape ``error`` although the forward pass completed (so no mismatch was hit)."""
    if not g.complete:
        return []
    return [f"{_label(layer, h)}: {h['error'][:120]}" for layer, h in g.arguments() if h.get("error")]


# ---- class 4: positions are not a vocabulary

_POSITIONAL = re.compile(r"pos|wpe|relative_attention_bias", re.IGNORECASE)


def positions_as_vocabulary(g: _Graph) -> list[str]:
    """Class 4: an embedding table named for positions (``position_embeddings``, ``wpe``, ``embed_positions``,
    ``relative_attention_bias``) whose ``num_embeddings`` is said to come from the input with no arithmetic:
    the vocabulary claim. A count derived from the input's size (CLIP vision's (224 / 32)² + 1) is not counted.
    """
    out = []
    for layer, h in g.arguments():
        name = layer["path"].rsplit(".", 1)[-1]
        if (
            h["name"] == "num_embeddings"
            and _POSITIONAL.search(name)
            and h.get("source") == "input"
            and not h.get("derivation")
        ):
            out.append(_label(layer, h))
    return out


# ---- class 5: target


def target_not_output(g: _Graph) -> list[str]:
    """Class 5: an argument with source ``target`` on a layer whose output is not what the model predicts.

    Two checks. (a) The layer's output must reach the trace's output op through ops whose other
    tensor inputs are the layer's own outputs (a stack of its calls) or parameters and buffers (a
    bias), and which keep the argument's value in the shape (views, getitem, activations, module
    calls without weights such as dropout); a layer whose output is combined with another computed
    tensor first (a normalisation by its own norm) or fed to another layer with weights predicts
    nothing itself. (b) The model must not contract that axis away itself: when a tensor carrying
    the size, through any ops that keep it, meets a matmul, mm, bmm, einsum or linear whose output
    no longer has the size (CLIP's two towers multiplied together), the size is one the model's own
    parts must agree on, not the size of a prediction.
    """
    out = []
    for layer, h in g.arguments():
        if h.get("source") != "target":
            continue
        if not _reaches_output(g, layer["path"], h.get("value")):
            out.append(f"{_label(layer, h)}: its output is not a model output")
        contracted = _contracted(g, layer["path"], h.get("value"))
        if contracted:
            out.append(f"{_label(layer, h)}: the model contracts it in {contracted}")
    return out


def _outputs_of(g: _Graph, path: str) -> set[int]:
    return {t for op in g.ops if op["kind"] == "module" and op["name"] == path for t in op["outputs"]}


def _reaches_output(g: _Graph, path: str, value: Any) -> bool:
    reached = _outputs_of(g, path)
    for op in g.ops:
        inputs = [t for t in op["inputs"] if g.shape(t)]
        if op["kind"] == "output":
            return bool(reached & set(op["inputs"]))
        if not reached & set(inputs):
            continue
        if op["kind"] == "module" and g.layers.get(op["name"], {}).get("total_params"):
            continue  # another layer with weights transforms it first
        if all(t in reached or t in g.stored for t in inputs):
            reached.update(t for t in op["outputs"] if value in g.shape(t))
    return False


_CONTRACTIONS = {"matmul", "mm", "bmm", "einsum", "linear"}


def _contracted(g: _Graph, path: str, value: Any) -> str:
    """The contraction (``"matmul in (root)"``) that sums the size `value` of the layer's output away, or ``""``."""
    reached = _outputs_of(g, path)
    for op in g.ops:
        if op["kind"] == "output" or not reached & set(op["inputs"]):
            continue
        if op["kind"] == "module" and g.layers.get(op["name"], {}).get("total_params"):
            continue
        outputs = [t for t in op["outputs"] if value in g.shape(t)]
        if op["name"] in _CONTRACTIONS and op["kind"] == "function" and not outputs:
            return f"{op['name']} in {op.get('scope') or '(root)'}"
        reached.update(outputs)
    return ""


# ---- class 6: arithmetic


def formula_mismatch(formula: str, value: Any = None) -> str | None:
    """Why `formula` (``"a op b = v"``) is wrong, or None when it checks out or holds no arithmetic to check.

    Every part between ``=`` signs that is plain arithmetic must equal the last part, and the last
    part must equal `value` (the step's stated value) when one is given. The test suite's
    evaluator (`tests/helpers/formulas.py`) decides; this names the formula in its answer.
    """
    why = mismatch(formula, value)
    return None if why is None else f"'{formula}': {why}"


def checkable(formula: str) -> bool:
    """True when `formula` holds arithmetic `formula_mismatch` evaluates (not just ``name = 32``)."""
    if "=" not in formula:
        return False
    *parts, last = (p.strip() for p in formula.split("="))
    return evaluate(last) is not None and any(evaluate(p) is not None for p in parts)


def _formulas(g: _Graph) -> Iterator[tuple[Json, Json, str, Any]]:
    for layer, h in g.arguments():
        if h.get("formula"):
            yield layer, h, h["formula"], h.get("value")
        for step in h.get("derivation", []):
            if step.get("formula"):
                yield layer, h, step["formula"], step.get("value")


def arithmetic(g: _Graph) -> list[str]:
    """Class 6: a printed formula (an argument's, or a derivation step's) that does not evaluate to its value,
    or a slice step whose formula hides the arithmetic done (see `slice_mismatch`)."""
    out = []
    for layer, h, formula, value in _formulas(g):
        why = formula_mismatch(formula, value)
        if why:
            out.append(f"{_label(layer, h)}: {why}")
    for layer, h in g.arguments():
        for step in h.get("derivation", []):
            why = slice_mismatch(step.get("text", ""), step.get("formula", ""))
            if why:
                out.append(f"{_label(layer, h)}: {why}")
    return out


_SLICE_STEP = re.compile(r"keeps (-?\d*):(-?\d*)(?::(-?\d+))? of (\d+)")


def slice_mismatch(text: str, formula: str) -> str | None:
    """Why a slice step's formula is not the arithmetic done, or None.

    A step that ``keeps :-2 of 73`` counts from the end, so the size it slices (73) is part of the
    arithmetic (``73 − 2 = 71``); a formula without it (``71 − 0 = 71``) evaluates, but to a sum
    nobody did.
    """
    match = _SLICE_STEP.search(text)
    if not match or "=" not in formula:
        return None
    start, stop, size = match.group(1), match.group(2), match.group(4)
    from_end = start.startswith("-") or stop.startswith("-")
    operands = re.findall(r"\d+", formula.rsplit("=", 1)[0])
    if from_end and size not in operands:
        return f"'{formula}' for '{match.group(0)}' leaves out the size {size} the slice counts from"
    return None


def count_formulas(doc: Json) -> tuple[int, int]:
    """How many printed formulas there are, and how many of them hold arithmetic that is checked."""
    formulas = [f for _, _, f, _ in _formulas(_Graph(doc))]
    return len(formulas), sum(1 for f in formulas if checkable(f))


# ---- class 7: the first layer reads the input


def first_layer_previous(g: _Graph) -> list[str]:
    """Class 7: an argument with source ``previous-layer`` whose tensor comes from a model input through no layer.

    From the layer's first call, the input tensor the argument's ``dim`` names is followed back
    through function ops (getitem, unsqueeze, transpose, arithmetic with constants), along inputs
    whose shape holds the argument's value; reaching a model input without passing a module call
    means no layer is between: the source is the input.
    """
    out = []
    first_call: dict[str, Json] = {}
    for op in g.ops:
        if op["kind"] == "module":
            first_call.setdefault(op["name"], op)
    for layer, h in g.arguments():
        if h.get("source") != "previous-layer" or not isinstance(h.get("value"), int):
            continue
        match = _DIM.match(h.get("dim") or "")
        call = first_call.get(layer["path"])
        if not match or match.group(1) != "in" or call is None:
            continue
        i = int(match.group(2))
        if i >= len(call["inputs"]):
            continue
        if _reaches_input(g, call["inputs"][i], h["value"]):
            out.append(_label(layer, h))
    return out


def _reaches_input(g: _Graph, start: int, size: int) -> bool:
    seen: set[int] = set()
    todo = [start]
    while todo:
        tid = todo.pop()
        if tid in seen:
            continue
        seen.add(tid)
        if tid in g.input_ids:
            return True
        producer = g.producer(tid)
        if producer is None or producer["kind"] != "function":
            continue
        todo.extend(t for t in producer["inputs"] if size in g.shape(t))
    return False


# --------------------------------------------------------------------------- tables


def markdown_table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    """A Markdown table; cells are written with ``str`` and ``|`` escaped."""
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
    return "\n".join(lines)
