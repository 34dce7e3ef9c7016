"""The interpret stage's shortcuts for repeated blocks change no byte of the description.

Each shortcut has a module-level switch: `modeldoc.derive.reuse.ENABLED` (the rules' answers
reused for ops that look the same to them), `modeldoc.structures.REUSE` (a layer whose facts
all instances share is not tallied) and `modeldoc.explain.reuse.ENABLED` (a layer explained
once per key; a bookkeeping reason rendered once per context). Each model's raw description (what the probe
collected) is interpreted with every switch on, with every switch off, and with each one off
alone, and the ``modeldoc/1`` JSON texts, as the CLI writes them, must be equal. The models:
the benchmark's GPT-2 and LLaMA classes at tiny sizes, tiny Hugging Face configs (T5, BERT,
Mixtral, Gemma 2 with its sliding and full attention blocks, DeepSeek-V3 with dense and
mixture-of-experts blocks), and hand-written stacks whose repeats differ (a frozen block,
another constructor argument, a weight tied across blocks, a block with another kernel).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import pytest

from modeldoc import knowledge, pipeline, structures
from modeldoc.derive import provenance, reuse
from modeldoc.derive.context import Outcome
from modeldoc.explain import reuse as explain_reuse
from modeldoc.spec import ModelSpec
from tests import test_interpret_reuse as models
from tests.helpers import compare

CONFIGS: dict[str, dict[str, Any]] = {
    **models.CONFIGS,
    "mixtral": {
        "target": "transformers:MixtralConfig",
        "kwargs": {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 4, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "num_local_experts": 4, "num_experts_per_tok": 2, "vocab_size": 64},
    },
    "gemma2": {
        "target": "transformers:Gemma2Config",
        "kwargs": {"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 6, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "head_dim": 8, "vocab_size": 64},
    },
}  # fmt: skip

SWITCHES: list[tuple[Any, str]] = [(reuse, "ENABLED"), (structures, "REUSE"), (explain_reuse, "ENABLED")]
"""Every shortcut's module and switch."""

NAMES = [*models.LIVE, *(f"config-{name}" for name in CONFIGS)]


def _raw(name: str) -> tuple[ModelSpec, knowledge.Knowledge]:
    if not name.startswith("config-"):
        return models.raw_description(name)
    config = name.removeprefix("config-")
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(models, "CONFIGS", CONFIGS)
        return models.raw_description(config)


def _interpreted(raw: ModelSpec, table: knowledge.Knowledge, off: Collection[tuple[Any, str]] = ()) -> tuple[str, int]:
    """The description as JSON text with every shortcut on but those `off`, and how many times a size rule ran."""
    ran = 0
    module_rule, function_rule = provenance.apply_module_rule, provenance.apply_function_rule

    def counting(rule: Any) -> Any:
        def counted(ctx: Any) -> Any:
            nonlocal ran
            ran += 1
            return rule(ctx)

        return counted

    with pytest.MonkeyPatch.context() as patched:
        for module, switch in SWITCHES:
            patched.setattr(module, switch, (module, switch) not in off)
        patched.setattr(provenance, "apply_module_rule", counting(module_rule))
        patched.setattr(provenance, "apply_function_rule", counting(function_rule))
        text = models.json_text(pipeline.interpret(raw, table))
    return text, ran


@pytest.mark.parametrize("name", NAMES)
def test_the_shortcuts_change_no_byte_of_the_description(name: str):
    raw, table = _raw(name)
    assert raw.probe_error == ""
    shortcuts, ran = _interpreted(raw, table)
    for switch in SWITCHES:  # each shortcut off alone
        assert _interpreted(raw, table, off=[switch])[0] == shortcuts, switch
    without, ran_without = _interpreted(raw, table, off=SWITCHES)
    assert without == shortcuts
    # the comparison means something: the size rules ran fewer times with the shortcuts
    assert 0 < ran < ran_without
    assert json.loads(shortcuts)["structures"]


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_on_meta_are_described_the_same(name: str):
    raw, table = compare.raw_bench(name)
    assert raw.probe_error == ""
    shortcuts, ran = _interpreted(raw, table)
    without, ran_without = _interpreted(raw, table, off=SWITCHES)
    assert without == shortcuts
    assert 0 < ran < ran_without
    (group,) = [g for g in ModelSpec.from_json(json.loads(shortcuts)).structures if len(g.instances) > 2]
    assert len(group.instances) == (12 if name == "gpt2" else 80)


def test_the_derivations_of_the_varied_stack_still_name_each_repeat():
    raw, table = _raw("varied")
    text, _ = _interpreted(raw, table)
    spec = ModelSpec.from_json(json.loads(text))
    for index in (0, 2, 3, 4):
        down = {h.name: h for h in spec.layer(f"blocks.{index}.down").hyperparameters}
        # each block's down projection is tied to its own residual add, by its own path
        assert down["out_features"].kind == "data-dependent"
        assert f"blocks.{index}.down's output" in down["out_features"].reason
        assert [step.where for step in down["out_features"].derivation] == ["embed", f"blocks.{index}: add"]


def test_the_varied_stack_skips_the_layers_its_blocks_share_and_tallies_the_others(monkeypatch: pytest.MonkeyPatch):
    raw, table = _raw("varied")
    answers: list[bool] = []
    alike = structures._alike

    def counted(*args: Any) -> bool:
        answers.append(alike(*args))
        return answers[-1]

    monkeypatch.setattr(structures, "_alike", counted)
    spec = ModelSpec.from_json(json.loads(_interpreted(raw, table)[0]))
    assert True in answers and False in answers
    (group,) = [g for g in spec.structures if "blocks.0" in g.instances]
    found = [(d.instance, d.aspect, d.name, d.value) for d in group.differences]
    # the frozen block, the other dropout and the shared weight, as without the shortcut
    assert ("blocks.2", "trainable", "weight", False) in found
    assert ("blocks.4", "argument", "p", 0.1) in found
    assert any(d[0] == "blocks.3" and d[1] == "tied" for d in found)


def test_an_outcome_that_passes_a_size_on_is_the_one_its_constructor_makes():
    fast = Outcome.keeps(7, 2)
    assert fast == Outcome("pass", sources=((7, 2),))
    assert list(fast.__dict__.items()) == list(Outcome("pass", sources=((7, 2),)).__dict__.items())
    assert hash(fast) == hash(Outcome("pass", sources=((7, 2),)))
