"""modeldoc.explain.config_keys: formulas over a config's keys, chosen by measurement or named all when equal."""

from __future__ import annotations

from typing import Any

import pytest

from modeldoc.explain.config_keys import attach, formulas, numeric_keys, sentence
from modeldoc.spec import ConfigSource, Hyperparam, LayerSpec, ModelConfig, ModelSpec

pytestmark = pytest.mark.notorch

NUMBERS = {
    "hidden_size": 64,
    "intermediate_size": 64,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "vocab_size": 100,
    "max_position_embeddings": 32,
    "kv_lora_rank": 11,
    "qk_rope_head_dim": 5,
    "image_size": 32,
    "patch_size": 8,
    "eps": 1e-5,
}


def texts(keys: tuple[str, ...], value: float, *, exact: bool = True) -> list[tuple[str, str]]:
    return [(f.text(), f.arithmetic(NUMBERS)) for f in formulas(keys, NUMBERS, value, exact=exact)]


def test_each_form_of_formula_and_its_arithmetic() -> None:
    assert texts(("hidden_size",), 64) == [("config.hidden_size", "")]
    assert texts(("hidden_size",), 192) == [("3 × config.hidden_size", "3 × 64 = 192")]
    assert texts(("num_attention_heads", "head_dim"), 64) == [
        ("4 × config.head_dim", "4 × 16 = 64"),  # simpler, but not of both keys: a measured argument drops it
        ("config.num_attention_heads × config.head_dim", "4 × 16 = 64"),
    ]
    assert texts(("hidden_size", "num_key_value_heads"), 32) == [
        ("config.hidden_size / 2", "64 / 2 = 32"),  # half (rotary frequencies): of one key, dropped here when measured
        ("config.hidden_size / config.num_key_value_heads", "64 / 2 = 32"),
    ]
    assert texts(("hidden_size", "num_attention_heads"), 8) == [
        ("2 × config.num_attention_heads", "2 × 4 = 8"),
        ("config.hidden_size / config.num_attention_heads / 2", "64 / 4 / 2 = 8"),  # half a head
    ]
    assert texts(("hidden_size", "num_attention_heads"), 8, exact=False) == [
        ("2 × config.num_attention_heads", "2 × 4 = 8")
    ]
    assert texts(("kv_lora_rank", "qk_rope_head_dim"), 16) == [
        ("config.kv_lora_rank + config.qk_rope_head_dim", "11 + 5 = 16")
    ]
    assert texts(("hidden_size", "num_attention_heads", "num_key_value_heads"), 32) == [
        ("config.hidden_size / 2", "64 / 2 = 32"),  # of one of the keys only
        ("config.hidden_size / config.num_key_value_heads", "64 / 2 = 32"),  # of two of the keys only
        ("config.hidden_size × config.num_key_value_heads / config.num_attention_heads", "64 × 2 / 4 = 32"),
    ]
    assert texts(("num_attention_heads", "kv_lora_rank", "qk_rope_head_dim"), 64) == [
        ("(config.kv_lora_rank + config.qk_rope_head_dim) × config.num_attention_heads", "(11 + 5) × 4 = 64")
    ]
    assert texts(("num_attention_heads", "num_key_value_heads", "head_dim"), 128) == [
        ("config.num_attention_heads × config.num_key_value_heads × config.head_dim", "4 × 2 × 16 = 128"),
        ("(config.num_attention_heads + 2 × config.num_key_value_heads) × config.head_dim", "(4 + 2 × 2) × 16 = 128"),
    ]  # equal by chance: both are named, and a measured argument takes whichever its keys allow (here both)
    assert texts(("image_size", "patch_size"), 17) == [
        ("(config.image_size / config.patch_size)² + 1", "(32 / 8)² + 1 = 17")
    ]
    assert texts(("eps",), 1e-5) == [("config.eps", "")]


def test_a_float_is_no_count_and_counting_keys_are_never_factors_unmeasured() -> None:
    assert texts(("num_key_value_heads",), 2.0) == []
    assert texts(("max_position_embeddings",), 64, exact=False) == []  # never 2 × a position count
    assert texts(("max_position_embeddings",), 64, exact=True) == [
        ("2 × config.max_position_embeddings", "2 × 32 = 64")
    ]


def test_numeric_keys_walk_sub_configs_and_lists_and_skip_what_sets_no_size() -> None:
    values = {
        "hidden_size": 8,
        "use_cache": True,
        "dropout": 0.0,
        "initializer_range": 0.02,
        "block_out_channels": [16, 32],
        "text_config": {"hidden_size": 4, "name": "x"},
        "id2label": {"0": "a"},
        "num_labels": 1,
    }
    assert list(numeric_keys(values)) == [
        ("hidden_size", 8),
        ("block_out_channels[0]", 16),
        ("block_out_channels[1]", 32),
        ("text_config.hidden_size", 4),
        ("num_labels", 1),
    ]


def model(config: ModelConfig, *layers: tuple[str, dict[str, Any]]) -> ModelSpec:
    made = [
        LayerSpec(
            path=path,
            type="torch.nn.Linear",
            type_name="Linear",
            repr="",
            depth=path.count(".") + 1,
            parent=path.rpartition(".")[0],
            hyperparameters=tuple(
                Hyperparam(name=name, value=value, kind="hyperparameter", source="chosen")
                for name, value in arguments.items()
            ),
        )
        for path, arguments in layers
    ]
    root = LayerSpec(path="", type="m.Net", type_name="Net", repr="Net()", depth=0, parent=None)
    return ModelSpec(name="Net", type="m.Net", root=root, layers=tuple(made), config=config)


def set_by(spec: ModelSpec, path: str, name: str) -> ConfigSource | None:
    return next(h for h in spec.layer(path).hyperparameters if h.name == name).set_by


MEASURED = ModelConfig(
    type="transformers.LlamaConfig",
    values=dict(NUMBERS),
    measured=tuple(NUMBERS),
    reads={
        "attn.q_proj.out_features": ("num_attention_heads", "head_dim"),
        "mlp.up_proj.out_features": ("intermediate_size",),
        "attn.q_proj.in_features": ("hidden_size",),
        "odd.out_features": ("hidden_size", "vocab_size"),
    },
)


def test_a_measured_argument_takes_the_formula_of_exactly_its_keys() -> None:
    spec = attach(
        model(
            MEASURED,
            ("attn.q_proj", {"in_features": 64, "out_features": 64}),
            ("mlp.up_proj", {"out_features": 64, "bias": True}),
            ("odd", {"out_features": 7, "in_features": 64}),
        )
    )
    assert set_by(spec, "attn.q_proj", "out_features") == ConfigSource(
        formula="config.num_attention_heads × config.head_dim",
        keys=("num_attention_heads", "head_dim"),
        arithmetic="4 × 16 = 64",
        checked=True,
    )
    assert set_by(spec, "attn.q_proj", "in_features") == ConfigSource(
        formula="config.hidden_size", keys=("hidden_size",), checked=True
    )
    assert set_by(spec, "mlp.up_proj", "out_features") == ConfigSource(
        formula="config.intermediate_size", keys=("intermediate_size",), checked=True
    )
    assert set_by(spec, "mlp.up_proj", "bias") is None
    # two keys set it, and no simple formula of them gives 7: the keys are named, without a formula
    odd = set_by(spec, "odd", "out_features")
    assert odd == ConfigSource(formula="", keys=("hidden_size", "vocab_size"), checked=True)
    assert sentence(odd) == "set by config.hidden_size and config.vocab_size together"
    # 64 equals hidden_size, but no key changed it when measured: nothing is claimed
    assert set_by(spec, "odd", "in_features") is None


def test_unmeasured_equal_formulas_are_all_named_the_one_the_name_points_to_first() -> None:
    llama = ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "head_dim", "eps")
    unmeasured = ModelConfig(type="transformers.LlamaConfig", values={key: NUMBERS[key] for key in llama})
    spec = attach(
        model(
            unmeasured,
            ("q_proj", {"out_features": 64}),
            ("gate_proj", {"out_features": 64}),
            ("other", {"out_features": 64, "groups": 1, "stride": 2, "p": 1e-5}),
        )
    )
    q = set_by(spec, "q_proj", "out_features")
    assert q is not None and not q.checked
    assert sentence(q) == (
        "equals config.num_attention_heads × config.head_dim (4 × 16 = 64), "
        "and also config.hidden_size, config.intermediate_size"
    )
    gate = set_by(spec, "gate_proj", "out_features")
    assert gate is not None and (gate.formula, gate.also) == ("config.intermediate_size", ("config.hidden_size",))
    other = set_by(spec, "other", "out_features")
    assert other is not None and (other.formula, other.also) == ("config.hidden_size", ("config.intermediate_size",))
    assert set_by(spec, "other", "groups") is None  # 1 is everywhere
    assert set_by(spec, "other", "stride") is None  # 2 = num_key_value_heads by chance: not a key of strides
    assert set_by(spec, "other", "p") == ConfigSource(formula="config.eps", keys=("eps",), checked=False)


def test_a_layer_reads_the_sub_config_its_module_holds() -> None:
    config = ModelConfig(
        type="transformers.CLIPConfig",
        values={"projection_dim": 8, "text_config": {"hidden_size": 16}, "vision_config": {"hidden_size": 16}},
        scopes={"text_model": "text_config", "vision_model": "vision_config"},
    )
    spec = attach(
        model(
            config,
            ("text_model.fc", {"in_features": 16}),
            ("vision_model.fc", {"in_features": 16}),
            ("proj", {"in_features": 16}),
        )
    )
    assert set_by(spec, "text_model.fc", "in_features") == ConfigSource(
        formula="config.text_config.hidden_size", keys=("text_config.hidden_size",), checked=False
    )
    assert set_by(spec, "vision_model.fc", "in_features") == ConfigSource(
        formula="config.vision_config.hidden_size", keys=("vision_config.hidden_size",), checked=False
    )
    proj = set_by(spec, "proj", "in_features")  # at the root, both towers' widths are candidates
    assert proj is not None and (proj.formula, proj.also) == (
        "config.text_config.hidden_size",
        ("config.vision_config.hidden_size",),
    )


def test_an_argument_over_several_axes_repeats_its_formula() -> None:
    config = ModelConfig(
        type="transformers.ViTConfig",
        values={"patch_size": 8},
        measured=("patch_size",),
        reads={"conv.kernel_size": ("patch_size",)},
    )
    spec = attach(model(config, ("conv", {"kernel_size": [8, 8]})))
    assert set_by(spec, "conv", "kernel_size") == ConfigSource(
        formula="(config.patch_size, config.patch_size)", keys=("patch_size",), checked=True
    )


def test_the_config_and_set_by_read_back_from_the_json() -> None:
    spec = attach(model(MEASURED, ("attn.q_proj", {"in_features": 64, "out_features": 64})))
    data = spec.to_json()
    assert data["config"]["reads"]["attn.q_proj.out_features"] == ["num_attention_heads", "head_dim"]
    assert data["layers"][0]["hyperparameters"][1]["set_by"] == {
        "formula": "config.num_attention_heads × config.head_dim",
        "keys": ["num_attention_heads", "head_dim"],
        "arithmetic": "4 × 16 = 64",
        "checked": True,
    }
    assert ModelSpec.from_json({"schema": "modeldoc/1", **data}) == spec
    assert MEASURED.value("hidden_size") == 64
