"""Inference for layers the knowledge table does not know (third-party and user-defined ones).

Pure: works on the spec only. The evidence is what introspect read back (constructor
arguments found as attributes, parameter shapes) and what the probe saw (input and output
shapes). A size is labelled only when it matches; ambiguity and absence are said plainly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from modeldoc import knowledge
from modeldoc.spec import AxisRef, Hyperparam, LayerSpec, ParamSpec

_LAST_IN = AxisRef("in", 0, (-1,))
_LAST_OUT = AxisRef("out", 0, (-1,))


@dataclass(frozen=True, kw_only=True)
class _Axis:
    """One axis of a probed tensor: where it is and its size."""

    ref: AxisRef
    size: int

    @property
    def side(self) -> str:
        """``"in"`` or ``"out"``."""
        return self.ref.side


def infer_layer(layer: LayerSpec) -> LayerSpec:
    """`layer` with kinds, dims and axes inferred from its arguments and probed shapes, marked as inferred."""
    if not layer.hyperparameters and not layer.parameters:
        return layer
    axes = _probed_axes(layer)
    probed = bool(layer.input_shapes or layer.output_shapes)
    hyperparameters = tuple(_hyperparam(h, axes, probed) for h in layer.hyperparameters)
    sizes = {h.name: h.value for h in layer.hyperparameters if _is_size(h.value)}
    parameters = tuple(_tensor(p, sizes, axes, layer) for p in layer.parameters)
    known = sum(1 for p in parameters for a in p.axes if a != "?")
    total = sum(len(p.shape) for p in parameters if not p.computed)
    evidence = knowledge.message(
        "inferred_layer",
        arguments=[h.name for h in layer.hyperparameters],
        probed=probed,
        in_shapes=[list(s) for s in layer.input_shapes],
        out_shapes=[list(s) for s in layer.output_shapes],
        known=known,
        total=total,
    )
    summary = layer.summary
    if not layer.children and not summary:
        summary = knowledge.message(
            "inferred_summary",
            type=layer.type,
            type_name=layer.type_name,
            probed=probed,
            known=known,
            total=total,
            arguments=[h.name for h in layer.hyperparameters],
        )
    brief = knowledge.message("inferred_brief", **{h.name: h.value for h in layer.hyperparameters})
    return replace(
        layer,
        hyperparameters=hyperparameters,
        parameters=parameters,
        inferred=True,
        evidence=evidence,
        summary=summary,
        brief=brief,
    )


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _probed_axes(layer: LayerSpec) -> list[_Axis]:
    """Every axis of the first call's inputs and outputs, the likeliest feature axes first (last, then 1)."""
    out: list[_Axis] = []
    for side, shapes in (("in", layer.input_shapes), ("out", layer.output_shapes)):
        for i, shape in enumerate(shapes):
            n = len(shape)
            # axis 0 is usually the batch: listed last, so a size that also matches a feature axis is read as that
            order = [n - 1, 1, *range(2, n - 1), 0] if n > 1 else [0]
            for axis in dict.fromkeys(a for a in order if 0 <= a < n):
                out.append(_Axis(ref=AxisRef("in" if side == "in" else "out", i, (axis - n,)), size=shape[axis]))
    return out


def _hyperparam(h: Hyperparam, axes: list[_Axis], probed: bool) -> Hyperparam:
    if not _is_size(h.value):
        return _mark(h, knowledge.message("inferred_option", value=h.value))
    ins = [a for a in axes if a.side == "in" and a.size == h.value]
    outs = [a for a in axes if a.side == "out" and a.size == h.value]
    if not probed:
        return _mark(h, knowledge.message("inferred_unprobed", name=h.name, value=h.value))
    if ins and not outs:
        ref = ins[0].ref
        evidence = knowledge.message(
            "inferred_input_size", name=h.name, value=h.value, dim=str(ref), axis=ref.last, tensor=ref.tensor
        )
        return _mark(h, evidence, kind="data-dependent", source="previous-layer", dim=str(ref))
    if outs and not ins:
        ref = outs[0].ref
        evidence = knowledge.message("inferred_output_size", name=h.name, value=h.value, dim=str(ref), axis=ref.last)
        return _mark(h, evidence, kind="hyperparameter", source="chosen", dim=str(ref))
    if ins and outs:
        evidence = knowledge.message(
            "inferred_both", name=h.name, value=h.value, dim_in=str(ins[0].ref), dim_out=str(outs[0].ref)
        )
        return _mark(h, evidence)
    return _mark(h, knowledge.message("inferred_no_match", name=h.name, value=h.value))


def _mark(h: Hyperparam, evidence: str, **changes: str) -> Hyperparam:
    """`h` marked as inferred; the evidence is also its reason, so the page says why."""
    return replace(h, inferred=True, evidence=evidence, reason=h.reason or evidence, **changes)  # type: ignore[arg-type]


def _tensor(p: ParamSpec, sizes: dict[str, int], axes: list[_Axis], layer: LayerSpec) -> ParamSpec:
    if p.axes or p.lazy:
        return p
    labels: list[str] = []
    reasons: list[str] = []
    in_last = next((a.size for a in axes if a.ref == _LAST_IN), None)
    out_last = next((a.size for a in axes if a.ref == _LAST_OUT), None)
    for index, size in enumerate(p.shape):
        names = [name for name, value in sizes.items() if value == size]
        matches_in, matches_out = size == in_last, size == out_last
        # a size that is a small multiple of one argument is a stack of blocks (q, k and v; LSTM gates)
        stacked = [
            f"{size // v} × {n}" for n, v in sizes.items() if v > 1 and size != v and size % v == 0 and size // v <= 8
        ]
        label = _label(size, names, matches_in, matches_out)
        if label == "?" and len(stacked) == 1:
            label = stacked[0]
        labels.append(label)
        reasons.append(
            knowledge.message(
                "inferred_axis",
                index=index,
                size=size,
                names=names,
                label=label,
                matches_in=matches_in,
                matches_out=matches_out,
                stacked=stacked,
            )
        )
    layout = ""
    if len(p.shape) == 2 and in_last != out_last and in_last is not None and out_last is not None:
        if p.shape == (in_last, out_last):
            layout = "in_by_out"
        elif p.shape == (out_last, in_last):
            layout = "out_by_in"
    meaning = knowledge.message(
        "inferred_tensor",
        layout=layout,
        rank=len(p.shape),
        buffer=p.is_buffer,
        known=sum(1 for label in labels if label != "?"),
        type_name=layer.type_name,
        out_only=len(p.shape) == 1 and p.shape[0] == out_last,
    )
    return replace(
        p,
        axes=tuple(labels),
        axis_notes=tuple(reasons),
        meaning=meaning,
        inferred=True,
        evidence=knowledge.message("inferred_tensor_evidence", shape=list(p.shape), labels=labels),
    )


def _label(size: int, names: list[str], matches_in: bool, matches_out: bool) -> str:
    """The name of one axis, or ``"?"`` when nothing matches it (never a guess)."""
    if len(names) == 1:
        return names[0]
    if len(names) > 1:
        return " or ".join(names)
    if matches_in and not matches_out:
        return "input features"
    if matches_out and not matches_in:
        return "output features"
    if matches_in and matches_out:
        return "features"
    return "1" if size == 1 else "?"
