"""Check a knowledge entry against a live layer it describes: the work of ``modeldoc knowledge check``.

Pure: works on a layer as the probe described it (its arguments, tensors and probed shapes).
Every template of the entry must render with the layer's numbers, every tensor rule must name
as many axes as the tensor has, and every ``dim`` must name axes that exist in the probed
shapes and whose sizes equal the argument.
"""

from __future__ import annotations

from modeldoc.explain.layers import annotate_layer, entry_of, uses
from modeldoc.knowledge import Knowledge, KnowledgeError
from modeldoc.spec import Hyperparam, LayerSpec


def check_layer(layer: LayerSpec, table: Knowledge, *, where: str = "") -> list[KnowledgeError]:
    """What does not fit between `layer` and the entry that describes it (nothing when no entry does).

    `where` names the layer in the messages (``"layer gate.proj"``) when it is not the example's.
    """
    entry = entry_of(layer, table)
    if entry is None:
        return []
    problems: list[KnowledgeError] = []
    annotated = annotate_layer(layer, table=table, problems=problems)
    for p in layer.parameters:
        uses(layer, p.local_name, table, problems=problems)
    if layer.input_shapes or layer.output_shapes:
        for h in annotated.hyperparameters:
            problem = _dim_problem(layer, h)
            if problem:
                problems.append(KnowledgeError(f"{entry.key}.args.{h.name}.dim", problem, entry.origin))
    if where:
        problems = [KnowledgeError(p.where, f"{p.problem} ({where})", p.file) for p in problems]
    unique = {str(p): p for p in problems}  # a failing `let` or lazy dim is met by every field that uses it
    return list(unique.values())


def _dim_problem(layer: LayerSpec, h: Hyperparam) -> str:
    """Why the axes `h.dim` names do not hold `h`'s value in the probed shapes; ``""`` when they do."""
    ref = h.axis_ref
    if ref is None or h.value is None:
        return ""
    side = "input" if ref.side == "in" else "output"
    shapes = layer.input_shapes if ref.side == "in" else layer.output_shapes
    if ref.tensor >= len(shapes):
        count = f"{len(shapes)} {side}{'s' if len(shapes) != 1 else ''}"
        return f"{ref} names {side} {ref.tensor}, but the layer's first call had {count}"
    shape = shapes[ref.tensor]
    sizes = ref.sizes(layer)
    if sizes is None:
        return f"{ref} names an axis that {side} {ref.tensor} {_shape(shape)} does not have ({len(shape)} axes)"
    value = h.value if isinstance(h.value, list) else [h.value]
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return f"{ref} ties {h.name} to a size, but its value is {h.value!r}"
    if list(sizes) != value:
        got = sizes[0] if len(sizes) == 1 else list(sizes)
        return f"{ref} is {got} in {side} {ref.tensor} {_shape(shape)}, but {h.name} = {h.value}"
    return ""


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ")"
