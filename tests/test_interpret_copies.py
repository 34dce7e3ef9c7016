"""The interpret stage's cheaper copies change no byte of the description, and are taken.

`modeldoc.explain.reuse.RECOMPUTED` copies an argument whose ``dim`` changes and runs its
``__post_init__`` again instead of going through ``dataclasses.replace``;
`modeldoc.explain.layers.QUICK_COPIES` makes the explained copies of a layer, its arguments and
tensors without ``dataclasses.replace`` and gives each repeat what explaining wrote on the first
from one dictionary made per key; `modeldoc.explain.bookkeeping.TYPE_RULES` works out once per
layer type which arguments are bookkeeping. Each model's raw description is interpreted with both on, with
each off alone and with both off, and the ``modeldoc/1`` JSON texts, as the CLI writes them, must
be equal. The models: the benchmark's GPT-2 (full size) and LLaMA (6 blocks) on meta, their tiny
live versions, tiny Hugging Face configs (LLaMA, GPT-2, BERT, T5, DeepSeek-V3, Mixtral, Gemma 2),
and hand-written stacks whose repeats differ (a frozen block, another constructor argument, a
weight tied across blocks, a block with another kernel).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from typing import Any

import pytest

from modeldoc import knowledge, pipeline
from modeldoc.explain import bookkeeping, layers
from modeldoc.explain import reuse as explain_reuse
from modeldoc.spec import ModelSpec
from tests import test_derive_reuse as reused
from tests import test_interpret_reuse as models
from tests.helpers import compare

SWITCHES: list[tuple[Any, str]] = [
    (explain_reuse, "RECOMPUTED"),
    (layers, "QUICK_COPIES"),
    (bookkeeping, "TYPE_RULES"),
]
"""Every shortcut's module and switch."""


def _interpreted(
    raw: ModelSpec, table: knowledge.Knowledge, off: Collection[tuple[Any, str]] = ()
) -> tuple[str, dict[str, int]]:
    """The JSON text with the shortcuts on but those `off`; how often replace and a bookkeeping lookup ran."""
    ran = {"replace": 0, "entry": 0}
    replace, entry_of = dataclasses.replace, bookkeeping.entry_of

    def counted(obj: Any, /, **changes: Any) -> Any:
        ran["replace"] += 1
        return replace(obj, **changes)

    def looked_up(layer: Any, table: Any = None) -> Any:
        ran["entry"] += 1
        return entry_of(layer, table)

    with pytest.MonkeyPatch.context() as patched:
        for module, switch in SWITCHES:
            patched.setattr(module, switch, (module, switch) not in off)
        patched.setattr(layers, "replace", counted)
        patched.setattr(explain_reuse, "replace", counted)
        patched.setattr(bookkeeping, "entry_of", looked_up)
        text = models.json_text(pipeline.interpret(raw, table))
    return text, ran


def _same_every_way(raw: ModelSpec, table: knowledge.Knowledge) -> str:
    """The JSON with every shortcut on, checked equal to each off alone and all off, with fewer replaces on."""
    shortcuts, ran = _interpreted(raw, table)
    for switch in SWITCHES:
        assert _interpreted(raw, table, off=[switch])[0] == shortcuts, switch
    without, ran_without = _interpreted(raw, table, off=SWITCHES)
    assert without == shortcuts
    # the comparison means something: the shortcuts were taken
    assert ran["replace"] < ran_without["replace"]
    assert 0 < ran["entry"] < ran_without["entry"]
    return shortcuts


@pytest.mark.parametrize("name", reused.NAMES)
def test_the_cheaper_copies_change_no_byte_of_the_description(name: str):
    raw, table = reused._raw(name)
    assert raw.probe_error == ""
    spec = ModelSpec.from_json(json.loads(_same_every_way(raw, table)))
    assert spec.structures  # every model here repeats a block
    # the explained arguments kept their parsed axes: the copies ran the computed field again
    for layer in spec.all_layers:
        for h in layer.hyperparameters:
            assert (h.axis_ref is not None) == bool(h.dim)


@pytest.mark.parametrize(("name", "arguments"), [("gpt2", {}), ("llama", {"layers": 6})])
def test_the_benchmark_models_on_meta_are_described_the_same(name: str, arguments: dict[str, Any]):
    raw, table = compare.raw_bench(name, **arguments)
    assert raw.probe_error == ""
    spec = ModelSpec.from_json(json.loads(_same_every_way(raw, table)))
    (group,) = [g for g in spec.structures if len(g.instances) > 2]
    assert len(group.instances) == (12 if name == "gpt2" else 6)


def test_the_varied_stack_keeps_each_repeats_own_differences_with_the_copies():
    raw, table = reused._raw("varied")
    spec = ModelSpec.from_json(json.loads(_same_every_way(raw, table)))
    (group,) = [g for g in spec.structures if "blocks.0" in g.instances]
    found = {(d.instance, d.aspect, d.name, repr(d.value)) for d in group.differences}
    assert ("blocks.2", "trainable", "weight", "False") in found  # the frozen block
    assert ("blocks.4", "argument", "p", "0.1") in found  # another constructor argument
    assert any(d[0] == "blocks.3" and d[1] == "tied" for d in found)  # a weight tied across blocks
