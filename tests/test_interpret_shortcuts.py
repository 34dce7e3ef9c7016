"""The interpret stage's identity shortcuts change no byte of the description, and are taken.

`modeldoc.derive.reuse.SHARED` reads an op's argument text once per dict and renders a
derivation step once per node for every listing that shows it; `modeldoc.explain.config_keys.SHARED`
copies an argument given a config source once for the repeats that share both. Each model's raw
description is interpreted with both on, with each off alone and with both off, and the
``modeldoc/1`` JSON texts, as the CLI writes them, must be equal. The models: the benchmark's
GPT-2 and LLaMA classes at tiny sizes and on meta at full size, tiny Hugging Face configs (LLaMA,
GPT-2, BERT, T5, DeepSeek-V3, Mixtral, Gemma 2 with its alternating sliding and full attention),
and hand-written stacks whose repeats differ (a frozen block, another constructor argument, a
weight tied across blocks, a block with another kernel).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pytest

from modeldoc import knowledge, pipeline
from modeldoc.derive import context, reuse
from modeldoc.explain import config_keys
from modeldoc.explain import reuse as explain_reuse
from modeldoc.spec import ModelSpec
from tests import test_derive_reuse as reused
from tests import test_interpret_reuse as models
from tests.helpers import compare

SWITCHES: list[tuple[Any, str]] = [(reuse, "SHARED"), (config_keys, "SHARED")]
"""Every identity shortcut's module and switch."""


def _interpreted(
    raw: ModelSpec, table: knowledge.Knowledge, off: Collection[tuple[Any, str]] = ()
) -> tuple[str, dict[str, int]]:
    """The description as JSON text with the shortcuts on but those `off`, and how often the shared work ran."""
    ran = {"rendered": 0, "copied": 0}
    render, copy = context.Step.rendered, explain_reuse.copied

    def rendered(step: context.Step) -> Any:
        ran["rendered"] += 1
        return render(step)

    def copied(obj: Any, **changes: Any) -> Any:
        ran["copied"] += "set_by" in changes
        return copy(obj, **changes)

    with pytest.MonkeyPatch.context() as patched:
        for module, switch in SWITCHES:
            patched.setattr(module, switch, (module, switch) not in off)
        patched.setattr(context.Step, "rendered", rendered)
        patched.setattr(explain_reuse, "copied", copied)
        text = models.json_text(pipeline.interpret(raw, table))
    return text, ran


def _same_both_ways(raw: ModelSpec, table: knowledge.Knowledge) -> tuple[str, dict[str, int], dict[str, int]]:
    """The JSON with every shortcut on, checked equal to each off alone and all off; and both counts of work."""
    shortcuts, ran = _interpreted(raw, table)
    for switch in SWITCHES:
        assert _interpreted(raw, table, off=[switch])[0] == shortcuts, switch
    without, ran_without = _interpreted(raw, table, off=SWITCHES)
    assert without == shortcuts
    return shortcuts, ran, ran_without


@pytest.mark.parametrize("name", reused.NAMES)
def test_the_identity_shortcuts_change_no_byte_of_the_description(name: str):
    raw, table = reused._raw(name)
    assert raw.probe_error == ""
    shortcuts, ran, ran_without = _same_both_ways(raw, table)
    spec = ModelSpec.from_json(json.loads(shortcuts))
    assert spec.structures  # every model here repeats a block
    # the comparison means something: the shared work ran fewer times with the shortcuts
    assert 0 < ran["rendered"] < ran_without["rendered"]
    if spec.config is not None and spec.config.measured:
        assert 0 < ran["copied"] < ran_without["copied"]


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_on_meta_are_described_the_same(name: str):
    raw, table = compare.raw_bench(name)
    assert raw.probe_error == ""
    shortcuts, ran, ran_without = _same_both_ways(raw, table)
    assert 0 < ran["rendered"] < ran_without["rendered"]
    (group,) = [g for g in ModelSpec.from_json(json.loads(shortcuts)).structures if len(g.instances) > 2]
    assert len(group.instances) == (12 if name == "gpt2" else 80)


def test_the_varied_stack_keeps_each_repeats_own_differences_with_the_shortcuts():
    raw, table = reused._raw("varied")
    text, _, _ = _same_both_ways(raw, table)
    spec = ModelSpec.from_json(json.loads(text))
    (group,) = [g for g in spec.structures if "blocks.0" in g.instances]
    found = {(d.instance, d.aspect, d.name, repr(d.value)) for d in group.differences}
    assert ("blocks.2", "trainable", "weight", "False") in found  # the frozen block
    assert ("blocks.4", "argument", "p", "0.1") in found  # another constructor argument
    assert any(d[0] == "blocks.3" and d[1] == "tied" for d in found)  # a weight tied across blocks
    for index in (0, 2, 3, 4):  # each repeat's derivation still names its own residual add
        down = {h.name: h for h in spec.layer(f"blocks.{index}.down").hyperparameters}
        assert f"blocks.{index}.down's output" in down["out_features"].reason
