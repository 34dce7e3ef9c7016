"""Arguments that are no hyperparameters, set apart: ``layer_idx``, ``config``, ``is_causal``.

A Hugging Face layer takes the model's config and its position in the stack as constructor
arguments. Neither is a choice of the designer about this layer: the config is where the sizes
are read from, and ``layer_idx`` is bookkeeping for the key/value cache. Their knowledge entry
marks them ``bookkeeping: true``; this step moves them from the layer's hyperparameters to its
`LayerSpec.bookkeeping`, with the reason the entry gives, so nothing calls them hyperparameters.
"""

from __future__ import annotations

from dataclasses import replace

from modeldoc import knowledge
from modeldoc.explain.layers import entry_of
from modeldoc.knowledge import Knowledge
from modeldoc.spec import Bookkeeping, LayerSpec, ModelSpec


def separate(spec: ModelSpec, table: Knowledge | None = None) -> ModelSpec:
    """`spec` with each layer's bookkeeping arguments moved out of its hyperparameters."""
    table = table or knowledge.current()
    changed = [moved for layer in spec.all_layers if (moved := separate_layer(layer, table)) is not layer]
    return spec.with_layers(tuple(changed)) if changed else spec


def separate_layer(layer: LayerSpec, table: Knowledge | None = None) -> LayerSpec:
    """`layer` with its bookkeeping arguments apart (the same object when it has none)."""
    entry = entry_of(layer, table)
    if entry is None:
        return layer
    marked = {name for name, rule in entry.args.items() if rule.bookkeeping}
    if not any(h.name in marked for h in layer.hyperparameters):
        return layer
    apart = tuple(
        Bookkeeping(name=h.name, value=h.value, reason=h.reason) for h in layer.hyperparameters if h.name in marked
    )
    return replace(
        layer,
        hyperparameters=tuple(h for h in layer.hyperparameters if h.name not in marked),
        bookkeeping=layer.bookkeeping + apart,
    )
