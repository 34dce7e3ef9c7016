"""A model on the terminal: the table ``modeldoc inspect`` prints, like torchinfo's summary but teaching.

One row per layer in tree order (indented with the tree's branches): its name and type, the
shape of its output and the parameters of its whole subtree. Below each row, the layer's
constructor arguments with their kinds: chosen by the designer (hyperparameter) or fixed by
the data (data-dependent, with where from and the arithmetic). Totals close the table.

Pure text from a `ModelSpec`; every line is `terminal_safe`, since names come from the model.
"""

from __future__ import annotations

from collections.abc import Iterator

from modeldoc.explain import config_keys
from modeldoc.pages.render import do_count, do_nbytes, do_shape, do_value
from modeldoc.spec import Hyperparam, LayerSpec, ModelSpec
from modeldoc.terminal import terminal_safe

SOURCES = {"input": "the input", "previous-layer": "the previous layer", "target": "the target", "chosen": "chosen"}
"""How each source reads after ``fixed by``."""


def summary_lines(spec: ModelSpec, *, depth: int | None = None, all_arguments: bool = False) -> list[str]:
    """The table for `spec`: layers down to `depth` levels (all when None), then the totals.

    Arguments left at their constructor default are counted but not listed unless `all_arguments`.
    """
    rows = list(_rows(spec, depth))
    name_width = min(60, max([len("Layer (type)"), *(len(label) for label, _, _ in rows)]))
    shape_width = min(40, max([len("Output shape"), *(len(shape) for _, shape, _ in rows)]))
    width = name_width + shape_width + 16
    lines = [*_heading(spec), "", f"{'Layer (type)':<{name_width}}  {'Output shape':<{shape_width}}  {'Params':>12}"]
    lines.append("─" * width)
    hidden = 0
    for (label, shape, layer), branch in zip(rows, _branches(spec, depth), strict=True):
        lines.append(f"{label:<{name_width}}  {shape:<{shape_width}}  {do_count(layer.total_params):>12}")
        shown = [hp for hp in layer.hyperparameters if all_arguments or not hp.default or hp.kind == "data-dependent"]
        hidden += len(layer.hyperparameters) - len(shown)
        names = max((len(hp.name) for hp in shown), default=0)
        values = max((len(do_value(hp.value)) for hp in shown), default=0)
        lines.extend(
            f"{branch}    {hp.name:<{names}} = {do_value(hp.value):<{values}}  {kind_text(hp)}" for hp in shown
        )
    lines.append("─" * width)
    lines.extend(_totals(spec))
    if hidden:
        lines.append(f"{do_count(hidden)} arguments left at their defaults are not listed.")
    lines.append(
        "hyperparameter: chosen by the designer; data-dependent: fixed by the data (the input, "
        "the previous layer's output or the target), with the arithmetic."
    )
    return [terminal_safe(line.rstrip()) for line in lines]


def kind_text(hp: Hyperparam) -> str:
    """``hyperparameter`` or ``data-dependent, fixed by the previous layer: 12 × 4 × 4 = 192``."""
    text: str = hp.kind
    if hp.kind == "data-dependent":
        text += f", fixed by {SOURCES.get(hp.source, hp.source)}"
        if hp.formula:
            text += f": {hp.formula}"
    if hp.inferred:
        text += " (inferred)"
    if hp.set_by is not None:
        text += f"; {config_keys.sentence(hp.set_by)}"
    if hp.error:
        text += f" [does not fit the data: {hp.error}]"
    return text


def _weights_only(spec: ModelSpec) -> bool:
    return spec.checkpoint is not None and spec.checkpoint.weights_only


def _heading(spec: ModelSpec) -> Iterator[str]:
    if _weights_only(spec):
        assert spec.checkpoint is not None
        yield (
            f"{spec.checkpoint.file}: {do_count(spec.total_params)} parameters in {do_count(spec.checkpoint.tensors)} "
            f"tensors ({do_nbytes(spec.checkpoint.size)} on disk)"
        )
    else:
        yield f"{spec.type}: {do_count(spec.total_params)} parameters ({do_count(spec.trainable_params)} trainable)"
    if spec.title != spec.name:
        yield f"title  {spec.title}"
    for item in spec.inputs:
        yield f"input  {item.name}: {do_shape(item.dims or item.shape)} ({item.dtype})"
    if spec.trace and spec.trace.example_chosen:
        yield f"chosen {' '.join(spec.trace.example_chosen.split())}"
    for item in spec.outputs:
        yield f"output {item.name}: {do_shape(item.dims or item.shape)} ({item.dtype})"
    if spec.probe_error:
        yield f"no shapes past the probe: {' '.join(spec.probe_error.split())}"


def _walk(spec: ModelSpec, depth: int | None) -> Iterator[tuple[LayerSpec, tuple[bool, ...]]]:
    """Every layer in tree order with, for each ancestor level, whether that ancestor was a last child."""
    by_path = {layer.path: layer for layer in spec.all_layers}

    def visit(layer: LayerSpec, lasts: tuple[bool, ...]) -> Iterator[tuple[LayerSpec, tuple[bool, ...]]]:
        yield layer, lasts
        if depth is not None and len(lasts) >= depth:
            return
        children = [by_path[c] for c in layer.children if c in by_path]
        for i, child in enumerate(children):
            yield from visit(child, (*lasts, i == len(children) - 1))

    yield from visit(spec.root, ())


def _rows(spec: ModelSpec, depth: int | None) -> Iterator[tuple[str, str, LayerSpec]]:
    for layer, lasts in _walk(spec, depth):
        prefix = "".join("   " if last else "│  " for last in lasts[:-1])
        prefix += ("└─ " if lasts[-1] else "├─ ") if lasts else ""
        name = layer.name or spec.name
        label = f"{prefix}{name} ({layer.type_name})" if layer.path else f"{spec.name}"
        yield label, "-" if _weights_only(spec) else output_text(layer, spec), layer


def _branches(spec: ModelSpec, depth: int | None) -> Iterator[str]:
    """The tree's vertical lines to draw in front of a layer's argument lines."""
    by_path = {layer.path: layer for layer in spec.all_layers}
    for layer, lasts in _walk(spec, depth):
        prefix = "".join("   " if last else "│  " for last in lasts)
        has_children = bool([c for c in layer.children if c in by_path]) and (depth is None or len(lasts) < depth)
        yield prefix + ("│" if has_children else "")


def output_text(layer: LayerSpec, spec: ModelSpec) -> str:
    """A layer's output shapes; ``-`` with no recorded pass, and why a leaf has none in one."""
    if spec.trace is None:
        return "-"
    if not layer.calls and not layer.output_dims:
        if layer.children:
            return "-"
        return "not called" if spec.trace.complete else "not reached"
    shapes = "; ".join(do_shape(dims) for dims in layer.output_dims) or "-"
    return f"{shapes} (×{layer.calls} calls)" if layer.calls > 1 else shapes


def _totals(spec: ModelSpec) -> Iterator[str]:
    sizes = ", ".join(f"{do_nbytes(size)} {dtype}" for dtype, size in spec.bytes_by_dtype.items()) or "0 B"
    yield f"Total params: {do_count(spec.total_params)} ({sizes})"
    if _weights_only(spec):
        yield "Trainable or frozen: not stored in a checkpoint"
    else:
        yield f"Trainable params: {do_count(spec.trainable_params)}"
        yield f"Frozen params: {do_count(spec.frozen_params)}"
    if spec.buffer_elements:
        yield f"Buffer elements: {do_count(spec.buffer_elements)}"
    yield f"Modules: {do_count(len(spec.layers))} below the root"
    if spec.macs or spec.flops:
        yield (
            f"One forward pass: {do_count(spec.macs)} multiply-adds, {do_count(spec.flops)} FLOPs, "
            f"{do_nbytes(spec.activation_bytes)} of activations"
        )
