"""What an embedding table's rows count: ids read from the input, or ids the model makes itself.

An ``nn.Embedding`` has one row per id it can look up. When its ids are the model's input
token ids (directly, or through ops that only pick and reshape them), ``num_embeddings`` is the
vocabulary, fixed by the data. When the model makes the ids itself (``arange`` positions, a
stored ``position_ids`` buffer, T5's relative-position buckets), or reads the weight directly,
the number of rows is a capacity the designer chose: at least as many as the ids the model can
make, not a vocabulary. One case is fixed by the data after all: a table looked up whole (as
many ids as rows) whose output a tie forces to another size, as CLIP's vision position table
is added to the (224 / 32)² + 1 patch tokens; its derivation then goes through that tie
(`modeldoc.derive.constraints`).

The evidence is the trace: the ops between the model's inputs and the ids, and the functions the
layer's own call ran before its lookup (`OpSpec.inner`: ``BartLearnedPositionalEmbedding`` takes
the token ids but looks up ``arange(L) + 2``).
"""

from __future__ import annotations

from dataclasses import replace

from modeldoc.derive.constraints import Constraints, Member, describe_fixer, sentence
from modeldoc.derive.context import Step, TraceIndex, find_argument
from modeldoc.derive.provenance import Provenance
from modeldoc.spec import Hyperparam, LayerSpec, OpSpec

PICKING = frozenset(
    {
        "getitem", "view", "reshape", "flatten", "unflatten", "unsqueeze", "squeeze", "transpose", "permute",
        "t", "contiguous", "clone", "detach", "to", "long", "int", "type", "expand", "expand_as", "narrow",
        "select", "repeat", "masked_fill", "cpu", "cuda",
    }
)  # fmt: skip
"""Ops that only pick, cast or reshape ids: token ids through them are still the input's tokens."""

LOOKUP = "embedding"
"""The function an embedding layer's call runs to look its ids up."""

MAX_NAMED = 5
"""The most op names a sentence lists for how the ids were made."""


def tables(provenance: Provenance, constraints: Constraints) -> dict[Member, Hyperparam]:
    """The ``num_embeddings`` of every embedding layer, explained from the trace, by (layer path, argument name)."""
    index = provenance.index
    out: dict[Member, Hyperparam] = {}
    for layer in index.spec.all_layers:
        h = find_argument(layer, "num_embeddings") if layer.size_rule == "embedding" else None
        if h is None or not isinstance(h.value, int) or isinstance(h.value, bool):
            continue
        if (layer.path, h.name) in constraints.followers:
            continue  # its weight, used directly, is tied to another size: the constraint explains it
        explained = _explain(provenance, constraints, layer, h)
        if explained is not None:
            out[layer.path, h.name] = explained
    return out


def _explain(provenance: Provenance, constraints: Constraints, layer: LayerSpec, h: Hyperparam) -> Hyperparam | None:
    index = provenance.index
    call = index.leaf_calls.get(layer.path)
    if call is None or not call.inputs:
        used = _weight_used_directly(index, layer)
        if used is None:
            return None  # the layer never looked anything up: nothing in the trace to go by
        return _capacity(h, f"its weight is used directly ({used}) rather than looked up by ids")
    before = list(call.inner[: call.inner.index(LOOKUP)]) if LOOKUP in call.inner else []
    made_inside = [name for name in before if name not in PICKING]
    ids = call.inputs[0]
    if not made_inside:
        read = _read_from(index, ids)
        if read is not None:
            return replace(
                h,
                kind="data-dependent",
                source="input",
                reason=(
                    f"the vocabulary size ({h.value}): one row per possible id of the input `{read}`, "
                    "so it is fixed by the data (the tokenizer or the number of categories)"
                ),
            )
    whole = _whole_table(provenance, constraints, layer, h, call)
    if whole is not None:
        return whole
    how = f"{', '.join(made_inside[:MAX_NAMED])} in its own forward" if made_inside else _made(index, ids)
    looked = " × ".join(str(d) for d in index.tensors[ids].dims) or "a single id"
    return _capacity(
        h,
        f"its ids are made by the model ({how}), not read from the input; this pass looked up ids of shape {looked}",
    )


def _capacity(h: Hyperparam, why: str) -> Hyperparam:
    return replace(
        h,
        kind="hyperparameter",
        source="chosen",
        reason=(
            f"a capacity the designer chose, not a vocabulary: {why}. The table needs a row for every id the model "
            f"can make ({h.value} here; for positions, at least the longest sequence it reads)"
        ),
    )


def _whole_table(
    provenance: Provenance, constraints: Constraints, layer: LayerSpec, h: Hyperparam, call: OpSpec
) -> Hyperparam | None:
    """A table looked up whole (as many ids as rows along an axis) whose looked-up axis a tie fixes."""
    index = provenance.index
    ids = index.tensors[call.inputs[0]]
    if not call.outputs or _cut(index, ids.producer):
        return None
    out = index.tensors[call.outputs[0]]
    for axis, size in enumerate(ids.shape):
        if size != h.value or axis >= len(out.shape) - 1 or out.shape[axis] != size:
            continue
        root = provenance.root((out.id, axis))
        link = constraints.links.get(root)
        if link is None:
            continue
        origin = provenance.origin(out.id, axis)
        step = Step(
            f"{layer.path} looks up as many ids as it has rows ({size}), so num_embeddings = {size}",
            size,
            layer.path,
        )
        ended = provenance.then(origin, step, call.index)
        derivation = provenance.derivation(ended, (layer.path, h.name))
        return replace(
            h,
            kind="data-dependent",
            source="input" if ended.plain_input else "previous-layer",
            reason=(
                f"the table is looked up whole (its {size} ids are as many as its rows), and "
                f"{sentence(provenance, link)}; {describe_fixer(provenance, link.fixer)}"
            ),
            formula=ended.formula.text if ended.formula else "",
            derivation=derivation.steps,
            derivation_omitted=derivation.omitted,
            derivation_continues=derivation.continues,
        )
    return None


def _cut(index: TraceIndex, producer: int | None) -> bool:
    """True when the ids are a slice the model cut (``position_ids[:, :L]``): the table may hold more rows."""
    op = index.ops.get(producer) if producer is not None else None
    if op is None or op.kind != "function" or op.name != "getitem":
        return False
    key = op.arguments.get("key")
    items = key if isinstance(key, list) else [key]
    return any(isinstance(item, dict) and "slice" in item and item["slice"][1] is not None for item in items)


def _read_from(index: TraceIndex, tid: int) -> str | None:
    """The model input the ids are, through picking ops only (`PICKING`); None when they are made otherwise."""
    current = tid
    for _ in range(len(index.trace.ops) + 1):
        if current in index.inputs:
            return index.inputs[current]
        tensor = index.tensors[current]
        op = index.ops.get(tensor.producer) if tensor.producer is not None else None
        if op is None or op.kind != "function" or op.name.rstrip("_") not in PICKING or not op.inputs:
            return None
        current = op.inputs[0]
    return None


def _made(index: TraceIndex, tid: int) -> str:
    """How ids the model made came about, shortly: ``"arange, add"``, ``"the stored tensor `position_ids`"``."""
    names: list[str] = []
    stored = ""
    seen: set[int] = set()
    todo = [tid]
    while todo and len(seen) < 4 * MAX_NAMED:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        tensor = index.tensors[current]
        op = index.ops.get(tensor.producer) if tensor.producer is not None else None
        if op is None:
            if index.stored(current) and not stored:
                stored = f"the stored tensor `{tensor.name}`" if tensor.name else "a stored tensor (a buffer)"
            continue
        if op.kind == "module":
            names.append(f"{op.name}'s output")
            continue
        names.append(op.name.rstrip("_"))
        todo.extend(reversed(op.inputs))
    ordered = list(dict.fromkeys(reversed(names)))
    shown = ", ".join(ordered[:MAX_NAMED]) + (", …" if len(ordered) > MAX_NAMED else "")
    return ", ".join(part for part in (stored, shown) if part) or "a stored tensor"


def _weight_used_directly(index: TraceIndex, layer: LayerSpec) -> str | None:
    """The op that reads `layer`'s weight without calling the layer (``"add in model.encoder"``), or None."""
    names = {p.name for p in layer.parameters if p.local_name == "weight"}
    names |= {n for p in layer.parameters if p.local_name == "weight" for n in p.tied_with}
    if not names:
        return None
    weights = {t.id for t in index.trace.tensors if t.producer is None and t.name in names}
    for op in index.trace.ops:
        if weights.intersection(op.inputs) and op.kind in ("function", "module"):
            return index.op_label(op)
    return None


__all__ = ["LOOKUP", "PICKING", "tables"]
