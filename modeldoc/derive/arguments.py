"""Each shape-bound constructor argument explained from the trace: formula, derivation listing, source, error.

A constructor argument whose ``dim`` names a tensor axis (``"in0:-1"``: the last axis of the
layer's first input) must equal that axis's size; `Provenance` follows that size back to
where it was born. A chosen size that an op forces equal to an earlier one (``x + f(x)``: the
last layer of ``f``) follows that one (`modeldoc.derive.constraints`). An embedding's
``num_embeddings`` is a vocabulary or a capacity by what its ids are (`modeldoc.derive.tables`).
A layer whose output reaches the model output through parameter-free ops has its output-sized
argument (the last Linear's ``out_features``) fixed by the target (`targets`). A traced size
that disagrees with a layer's argument (a model that fails at run time) becomes
`Hyperparam.error`, its text rendered from the formula's parts; a layer whose call completed
never gets one (the call ran, so the rule that predicted a mismatch does not fit it).
"""

from __future__ import annotations

from collections.abc import Mapping

from modeldoc.arithmetic import Formula, expected_size
from modeldoc.derive import reuse
from modeldoc.derive.constraints import Constraints, constrain, describe_fixer, sentence
from modeldoc.derive.context import AxisKey, TraceIndex, find_argument, qualified
from modeldoc.derive.dims import axis_ref
from modeldoc.derive.provenance import Provenance, argument_text
from modeldoc.derive.tables import tables
from modeldoc.explain.reuse import copied
from modeldoc.spec import DerivationStep, Hyperparam, LayerSpec, ModelSpec, TensorInfo

Targets = Mapping[tuple[str, str], Hyperparam]
"""Arguments fixed by the target, by (layer path, argument name)."""


def attach(spec: ModelSpec, *, budget: int | None = None) -> ModelSpec:
    """`spec` with formulas, derivations, sources and errors for its shape-bound arguments.

    Raises:
        DerivationTooLarge: the derivations need more than `budget` units of work (default:
            `provenance.work_budget` of the trace).

    """
    if spec.trace is None or not spec.trace.ops:
        return spec
    provenance = Provenance(spec, budget=budget)
    constraints = constrain(provenance)
    fixed = {**targets(provenance, constraints), **tables(provenance, constraints)}
    layers = []
    for layer in spec.all_layers:
        hyperparameters = tuple(
            explain_argument(provenance, layer, h, fixed, constraints) for h in layer.hyperparameters
        )
        if hyperparameters != layer.hyperparameters:
            layers.append(copied(layer, hyperparameters=hyperparameters))
    if provenance.reused is not None:
        reused = provenance.reused
        reuse.TAKEN.update(steps=reused.templated, choices=reused.chosen, roots=reused.shortcuts)
    return spec.with_layers(tuple(layers)) if layers else spec


def explain_argument(
    provenance: Provenance,
    layer: LayerSpec,
    h: Hyperparam,
    fixed: Targets,
    constraints: Constraints | None = None,
) -> Hyperparam:
    """`h` with its derivation, source and error filled in from the trace."""
    member = (layer.path, h.name)
    follows = constraints.followers.get(member) if constraints is not None else None
    if follows is not None and constraints is not None:
        return _tied(provenance, constraints, layer, h, follows)
    if member in fixed:
        return fixed[member]
    followed = constraints.followed.get(member) if constraints is not None else None
    if followed and h.kind == "hyperparameter":
        return copied(h, reason=_followed_by(h.reason, followed))
    ref = axis_ref(h)
    consumed = provenance.index.consumed(layer, h) if ref is not None and ref.side == "in" else None
    return _consumed(provenance, layer, h, *consumed) if consumed is not None else h


def _consumed(provenance: Provenance, layer: LayerSpec, h: Hyperparam, tensor: TensorInfo, axis: int) -> Hyperparam:
    """An argument that must equal an axis of the tensor the layer receives: derived, or the mismatch said."""
    index = provenance.index
    expected = expected_size(h.value)
    completed = _completed(index, layer)
    if isinstance(expected, tuple):
        checked = _trailing_axes(layer, h, tensor, axis, expected)
        return h if completed and checked.error else checked
    if expected is None or (completed and expected != tensor.shape[axis]):
        return h  # a call that ran cannot have hit a mismatch: the rule does not fit this layer
    provenance.deriving = argument_text(index, layer.path, h.name)
    origin = provenance.origin(tensor.id, axis)
    derivation = provenance.derivation(origin, (layer.path, h.name))
    got = tensor.shape[axis]
    source = h.source
    if h.kind == "data-dependent":
        source = "input" if origin.plain_input else "previous-layer"
    formula = origin.formula or Formula.sentence(str(got), got)
    error = ""
    if expected != got:
        error = (
            f"{qualified(layer.path, h.name)} is {expected} but the incoming tensor has {formula.size_text()} "
            f"{_axis_word(h.name, axis)}; set {h.name}={got}"
        )
    return copied(
        h,
        formula=formula.text,
        derivation=derivation.steps,
        derivation_omitted=derivation.omitted,
        derivation_continues=derivation.continues,
        source=source,
        error=error,
    )


def _followed_by(reason: str, followers: list[tuple[str, str]]) -> str:
    """A chosen size's reason, saying which later arguments an op forces to match it."""
    shown = ", ".join(qualified(*member) for member in followers[:3])
    more = f" and {len(followers) - 3} more" if len(followers) > 3 else ""
    return f"{reason.rstrip('.')}; ops later tie other sizes to it, which follow it: {shown}{more}"


def _completed(index: TraceIndex, layer: LayerSpec) -> bool:
    """True when the layer's first call returned (the model ran past it)."""
    call = index.first_calls.get(layer.path)
    return call is not None and bool(call.outputs)


def _tied(
    provenance: Provenance, constraints: Constraints, layer: LayerSpec, h: Hyperparam, key: AxisKey
) -> Hyperparam:
    """A size an op forces equal to an earlier member of its group: data-dependent, derived through the tie."""
    provenance.deriving = argument_text(provenance.index, layer.path, h.name)
    origin = provenance.origin(*key)
    derivation = provenance.derivation(origin, (layer.path, h.name))
    link = constraints.links[key]
    return copied(
        h,
        kind="data-dependent",
        source="input" if origin.plain_input else "previous-layer",
        reason=f"{sentence(provenance, link)}; {describe_fixer(provenance, link.fixer)}",
        formula=origin.formula.text if origin.formula else "",
        derivation=derivation.steps,
        derivation_omitted=derivation.omitted,
        derivation_continues=derivation.continues,
        inferred=False,
        evidence="",
    )


def _trailing_axes(
    layer: LayerSpec, h: Hyperparam, tensor: TensorInfo, axis: int, expected: tuple[int, ...]
) -> Hyperparam:
    """An argument that covers several trailing axes (LayerNorm's normalized_shape): checked, not derived."""
    start = axis - len(expected) + 1
    if start < 0:
        return h
    got = tensor.shape[start : axis + 1]
    if got == expected:
        return copied(h, formula=f"{' × '.join(str(s) for s in got)}")
    shown = ", ".join(str(s) for s in got)
    return copied(
        h,
        error=(
            f"{qualified(layer.path, h.name)} is {list(expected)} but the incoming tensor ends in ({shown}); "
            f"set {h.name}={list(got)}"
        ),
    )


# --------------------------------------------------------------------------- the target rule


def targets(provenance: Provenance, constraints: Constraints | None = None) -> dict[tuple[str, str], Hyperparam]:
    """Arguments fixed by the target: chosen sizes that reach a model output intact, through parameter-free ops.

    The size must pass unchanged (no step computes from it on the way), no layer with
    parameters may come after, and it must not be a size two of the model's parts agree on (a
    group with another layer's chosen size, or a matrix product that sums it away: CLIP's two
    towers multiplied together predict no classes).
    """
    index = provenance.index
    out: dict[tuple[str, str], Hyperparam] = {}
    for op in index.trace.ops:
        if op.kind != "output":
            continue
        for tid in op.inputs:
            tensor = index.tensors[tid]
            output = index.inputs.get(tid) or _output_name(index.spec, tid, tensor)
            producer = index.ops.get(tensor.producer) if tensor.producer is not None else None
            made_by = f" (made by {index.op_label(producer)})" if producer is not None else ""
            for axis, value in enumerate(tensor.shape):
                provenance.deriving = f"axis {axis} of the model output {output}{made_by}"
                origin = provenance.origin(tid, axis)
                if origin.birth != "chosen" or origin.chosen is None or origin.through_parameters or not origin.intact:
                    continue
                if constraints is not None and constraints.shared(provenance.root((tid, axis))):
                    continue
                path, name = origin.chosen
                layer = index.layers.get(path)
                h = find_argument(layer, name) if layer else None
                if layer is None or h is None or (path, name) in out or _keeps_width(index, path, value, h):
                    continue
                shown = " × ".join(str(d) for d in tensor.dims)
                formula = Formula.named(f"{output}.shape[{axis}]", value).text
                out[path, name] = copied(
                    h,
                    kind="data-dependent",
                    source="target",
                    reason=(
                        f"{path}'s output is the model's output `{output}` ({shown}) with no layer with parameters "
                        f"after it, so {name} = {value} is fixed by what the model predicts (the number of classes "
                        "or vocabulary entries)"
                    ),
                    formula=formula,
                    derivation=(
                        DerivationStep(
                            text=f"{path} ({layer.type_name}) produces the model output `{output}` ({shown})",
                            value=value,
                            where=path,
                            formula=formula,
                        ),
                    ),
                )
    return out


def _keeps_width(index: TraceIndex, path: str, value: int, h: Hyperparam) -> bool:
    """A final projection that keeps its input's width (a pooler) chose that width; it is not a target size."""
    ref = axis_ref(h)
    call = index.first_calls.get(path)
    if ref is None or call is None or not call.inputs or not call.outputs:
        return False
    out = index.tensors[call.outputs[min(ref.slot, len(call.outputs) - 1)]]
    incoming = index.tensors[call.inputs[0]]
    if len(incoming.shape) != len(out.shape) or not -len(out.shape) <= ref.axis < len(out.shape):
        return False
    return incoming.shape[ref.axis] == value


def _axis_word(name: str, axis: int) -> str:
    """What a mismatch message calls the axis: channels, features, or its number."""
    if "channel" in name:
        return "channels"
    if "feature" in name or name in ("input_size", "embed_dim", "d_model", "hidden_size"):
        return "features"
    return f"at axis {axis}"


def _output_name(spec: ModelSpec, tid: int, tensor: TensorInfo) -> str:
    """The name of a model output tensor, by its position among the output op's inputs."""
    for op in spec.trace.ops if spec.trace else ():
        if op.kind == "output" and tid in op.inputs:
            i = op.inputs.index(tid)
            if i < len(spec.outputs):
                return spec.outputs[i].name
    return tensor.name or "output"


__all__ = ["Targets", "attach", "explain_argument", "targets"]
