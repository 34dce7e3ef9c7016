"""The derivations reuse the rules' answers for ops that look the same to them: the same JSON, byte for byte.

`modeldoc.derive.reuse.ENABLED` switches the reuse off: each model's raw description (what the
probe collected) is interpreted both ways and the two ``modeldoc/1`` JSON texts, as the CLI
writes them, must be equal. The models: the benchmark's GPT-2 and LLaMA classes at tiny sizes,
tiny Hugging Face configs (T5, BERT, Mixtral, Gemma 2 with its sliding and full attention
blocks, DeepSeek-V3 with dense and mixture-of-experts blocks), and hand-written stacks whose
repeats differ (a frozen block, another constructor argument, a weight tied across blocks, a
block with another kernel).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from modeldoc import knowledge, pipeline
from modeldoc.derive import provenance, reuse
from modeldoc.spec import ModelSpec
from tests import test_interpret_reuse as models

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

NAMES = [*models.LIVE, *(f"config-{name}" for name in CONFIGS)]


def _raw(name: str) -> tuple[ModelSpec, knowledge.Knowledge]:
    if not name.startswith("config-"):
        return models.raw_description(name)
    config = name.removeprefix("config-")
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(models, "CONFIGS", CONFIGS)
        return models.raw_description(config)


def _interpreted(raw: ModelSpec, table: knowledge.Knowledge, *, reusing: bool) -> tuple[str, int]:
    """The description as JSON text, and how many times the rules were asked about a size."""
    asked = 0
    outcome = provenance.Provenance._outcome

    def counted(self: provenance.Provenance, tid: int, axis: int) -> Any:
        nonlocal asked
        asked += 1
        return outcome(self, tid, axis)

    counted_rules = 0
    module_rule, function_rule = provenance.apply_module_rule, provenance.apply_function_rule

    def counting(rule: Any) -> Any:
        def wrapped(ctx: Any) -> Any:
            nonlocal counted_rules
            counted_rules += 1
            return rule(ctx)

        return wrapped

    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(reuse, "ENABLED", reusing)
        patched.setattr(provenance.Provenance, "_outcome", counted)
        patched.setattr(provenance, "apply_module_rule", counting(module_rule))
        patched.setattr(provenance, "apply_function_rule", counting(function_rule))
        text = models.json_text(pipeline.interpret(raw, table))
    assert asked > 0
    return text, counted_rules


@pytest.mark.parametrize("name", NAMES)
def test_reusing_the_rules_answers_changes_no_byte_of_the_description(name: str):
    raw, table = _raw(name)
    assert raw.probe_error == ""
    with_reuse, asked_with = _interpreted(raw, table, reusing=True)
    without, asked_without = _interpreted(raw, table, reusing=False)
    assert with_reuse == without
    # the comparison means something: the rules were asked fewer times with the reuse
    assert asked_with < asked_without


def test_the_derivations_of_the_varied_stack_still_name_each_repeat():
    raw, table = _raw("varied")
    text, _ = _interpreted(raw, table, reusing=True)
    spec = ModelSpec.from_json(json.loads(text))
    for index in (0, 2, 3, 4):
        down = {h.name: h for h in spec.layer(f"blocks.{index}.down").hyperparameters}
        # each block's down projection is tied to its own residual add, by its own path
        assert down["out_features"].kind == "data-dependent"
        assert f"blocks.{index}.down's output" in down["out_features"].reason
        assert [step.where for step in down["out_features"].derivation] == ["embed", f"blocks.{index}: add"]
