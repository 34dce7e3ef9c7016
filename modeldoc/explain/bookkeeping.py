"""Arguments that are no hyperparameters, set apart: ``layer_idx``, ``config``, ``is_causal``.

A Hugging Face layer takes the model's config and its position in the stack as constructor
arguments. Neither is a choice of the designer about this layer: the config is where the sizes
are read from, and ``layer_idx`` is bookkeeping for the key/value cache. Their knowledge entry
marks them ``bookkeeping: true``; this step moves them from the layer's hyperparameters to its
`LayerSpec.bookkeeping`, with the reason the entry gives, so nothing calls them hyperparameters.

A layer of transformers or diffusers that has no entry of its own (a decoder block, the whole
model) takes ``config`` and ``layer_idx`` by the same convention: they are set apart too, with
the reason from ``messages.yaml``, whether their value could be read back or not.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from modeldoc import knowledge
from modeldoc.explain import reuse
from modeldoc.explain.layers import entry_of
from modeldoc.explain.reuse import copied
from modeldoc.knowledge import Knowledge
from modeldoc.spec import Bookkeeping, LayerSpec, ModelSpec

_LIBRARIES = ("transformers", "diffusers")
_CONVENTIONAL = ("config", "layer_idx")
"""Arguments every layer of those libraries takes in the same sense."""
_PLAIN = (type(None), bool, int, float, str)
"""Types whose value a reason can be kept by (`reuse.value_key`): their text follows from it."""


TYPE_RULES = True
"""True works out once per layer type (type, class name, bases: what picks its knowledge entry) which
arguments are bookkeeping, for every layer of that type in one `separate`; False works it out for each
layer. The tests interpret models both ways and compare the JSON byte for byte."""

_Rules = tuple[set[str], set[str], str]
"""A layer type's arguments marked bookkeeping by its entry, the conventional ones of its library, and the library."""


def separate(spec: ModelSpec, table: Knowledge | None = None) -> ModelSpec:
    """`spec` with each layer's bookkeeping arguments moved out of its hyperparameters."""
    table = table or knowledge.current()
    said: dict[Hashable, str] | None = {} if reuse.ENABLED else None
    types: dict[Hashable, _Rules] | None = {} if TYPE_RULES else None
    changed = [moved for layer in spec.all_layers if (moved := separate_layer(layer, table, said, types)) is not layer]
    return spec.with_layers(tuple(changed)) if changed else spec


def separate_layer(
    layer: LayerSpec,
    table: Knowledge | None = None,
    said: dict[Hashable, str] | None = None,
    types: dict[Hashable, _Rules] | None = None,
) -> LayerSpec:
    """`layer` with its bookkeeping arguments apart (the same object when it has none).

    `said` keeps the reasons rendered so far, by what the message reads: the blocks of a stack
    take ``config`` and ``layer_idx`` alike, and their reason is rendered once. `types` keeps
    each layer type's rules (`_rules`) for the rest of one `separate`, whose table does not change.
    """
    if types is None:
        marked, conventional, library = _rules(layer, table)
    else:
        key = (layer.type, layer.type_name, layer.bases)
        found = types.get(key)
        if found is None:
            found = types[key] = _rules(layer, table)
        marked, conventional, library = found
    if not marked and not conventional:
        return layer
    apart: list[Bookkeeping] = []
    for h in layer.hyperparameters:
        if h.name in marked:
            apart.append(Bookkeeping(name=h.name, value=h.value, reason=h.reason))
        elif h.name in conventional:
            reason = _reason(said, name=h.name, value=h.value, library=library, kept="")
            apart.append(Bookkeeping(name=h.name, value=h.value, reason=reason))
    for arg in layer.unknown_arguments:
        if arg.name in conventional:
            reason = _reason(said, name=arg.name, value=None, library=library, kept=arg.reason)
            apart.append(Bookkeeping(name=arg.name, value=None, reason=reason))
    if not apart:
        return layer
    names = {b.name for b in apart}
    return copied(
        layer,
        hyperparameters=tuple(h for h in layer.hyperparameters if h.name not in names),
        unknown_arguments=tuple(a for a in layer.unknown_arguments if a.name not in names),
        bookkeeping=layer.bookkeeping + tuple(apart),
    )


def _rules(layer: LayerSpec, table: Knowledge | None) -> _Rules:
    """Which arguments of `layer`'s type are bookkeeping: marked so by its entry, or conventional in its library."""
    entry = entry_of(layer, table)
    ruled = entry.args if entry is not None else {}
    marked = {name for name, rule in ruled.items() if rule.bookkeeping}
    library = layer.type.split(".", 1)[0]
    conventional = set(_CONVENTIONAL) - set(ruled) if library in _LIBRARIES else set()
    return marked, conventional, library


def _reason(said: dict[Hashable, str] | None, **context: Any) -> str:
    """The ``hf_bookkeeping`` message for `context`, rendered once per context when `said` keeps them."""
    if said is None or any(type(value) not in _PLAIN for value in context.values()):
        return knowledge.message("hf_bookkeeping", **context)
    key = tuple((name, reuse.value_key(value)) for name, value in context.items())
    found = said.get(key)
    if found is None:
        found = said[key] = knowledge.message("hf_bookkeeping", **context)
    return found
