"""modeldoc.probe.configs: a model's config as plain data, and which keys set which argument, measured."""

from __future__ import annotations

import json
from typing import Any

import pytest
from torch import nn

from modeldoc import knowledge
from modeldoc.probe import configs
from modeldoc.probe.loader import Recipe


class Pair(nn.Module):
    """Two layers whose widths come from a plain config dict (standing in for a library's model)."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        if config["widths"][1] > 100:
            raise ValueError("too wide")  # a library refusing a value: that key stays unmeasured
        self.first = nn.Linear(config["width"], config["widths"][0])
        self.second = nn.Linear(config["widths"][0], config["widths"][1] * config["nested"]["times"])
        self.drop = nn.Dropout(config["p"])


def measured(config: dict[str, Any]) -> Any:
    recipe = Recipe(config=config, build=Pair, built_by="Pair", built_from="a dict", dtype="float32")
    with knowledge.using(knowledge.load()):
        return configs.describe(Pair(config), recipe)


def test_each_key_is_changed_alone_and_the_arguments_it_changes_are_recorded() -> None:
    config = {"width": 8, "widths": [16, 32], "nested": {"times": 2}, "p": 0.25, "unused": 5}
    described = measured(config)
    assert described.measured == ("width", "widths[0]", "widths[1]", "nested.times", "p", "unused")
    assert described.reads == {
        "first.in_features": ("width",),
        "first.out_features": ("widths[0]",),
        "second.in_features": ("widths[0]",),
        "second.out_features": ("widths[1]", "nested.times"),
        "drop.p": ("p",),
        # each axis of each tensor, too: the sizes of layers that take no size arguments live there
        "first.weight[0]": ("widths[0]",),
        "first.weight[1]": ("width",),
        "first.bias[0]": ("widths[0]",),
        "second.weight[0]": ("widths[1]", "nested.times"),
        "second.weight[1]": ("widths[0]",),
        "second.bias[0]": ("widths[1]", "nested.times"),
    }
    assert described.arguments_set()["widths[0]"] == (
        ("first.out_features", "second.in_features"),
        ("first.weight[0]", "first.bias[0]", "second.weight[1]"),
    )
    assert described.arguments_set()["unused"] == ((), ())
    assert config == {"width": 8, "widths": [16, 32], "nested": {"times": 2}, "p": 0.25, "unused": 5}


def test_a_key_no_change_of_which_builds_is_left_unmeasured() -> None:
    described = measured({"width": 8, "widths": [16, 60], "nested": {"times": 2}, "p": 0.25})
    # 60 → 120, 180 and 61: only 61 builds, and 61 × 2 ≠ 60 × 2, so widths[1] is measured through it
    assert "widths[1]" in described.measured
    assert described.reads["second.out_features"] == ("widths[1]", "nested.times")
    refused = measured({"width": 8, "widths": [16, 100], "nested": {"times": 2}, "p": 0.25})
    assert "widths[1]" not in refused.measured  # 200, 300 and 101 are all refused
    assert refused.reads["second.out_features"] == ("nested.times",)


class Padded(nn.Module):
    """An embedding whose padding row and dropout come from keys that are zero."""

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.embed = nn.Embedding(config["vocab"], 4, padding_idx=config["pad"])
        self.drop = nn.Dropout(config["p"])


def test_zero_keys_are_measured_after_the_sizes_by_changing_them_to_one_or_a_half() -> None:
    config = {"vocab": 10, "pad": 0, "p": 0.0, "unused": 0}
    recipe = Recipe(config=config, build=Padded, built_by="Padded", built_from="a dict", dtype="float32")
    with knowledge.using(knowledge.load()):
        described = configs.describe(Padded(config), recipe)
    assert described is not None
    assert described.measured == ("vocab", "pad", "p", "unused")
    assert described.reads["embed.padding_idx"] == ("pad",)
    assert described.reads["drop.p"] == ("p",)
    assert described.arguments_set()["unused"] == ((), ())


def test_what_is_measured_is_plain_json() -> None:
    described = measured({"width": 8, "widths": [16, 32], "nested": {"times": 2}, "p": 0.25})
    data = described.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["built_by"] == "Pair" and data["values"]["widths"] == [16, 32]


def test_a_module_without_a_library_config_holds_none() -> None:
    holder = nn.Linear(2, 3)
    holder.config = {"width": 2}  # a plain dict is nobody's config
    assert configs.held_config(holder) is None
    assert configs.held_config(nn.Linear(2, 3)) is None


def test_a_transformers_config_reads_as_json_with_its_sub_configs_and_labels() -> None:
    transformers = pytest.importorskip("transformers")
    config = transformers.CLIPConfig(projection_dim=16, text_config={"hidden_size": 32, "num_attention_heads": 2})
    config.num_labels = 3
    values = configs.plain_config(config)
    assert json.loads(json.dumps(values)) == values
    assert values["text_config"]["hidden_size"] == 32 and values["projection_dim"] == 16
    assert values["num_labels"] == 3 and values["id2label"] == {"0": "LABEL_0", "1": "LABEL_1", "2": "LABEL_2"}
    assert "transformers_version" not in values


def test_a_user_class_holding_a_config_is_read_but_not_run_again() -> None:
    transformers = pytest.importorskip("transformers")
    built: list[int] = []

    class Holder(nn.Module):
        def __init__(self, config: Any) -> None:
            super().__init__()
            built.append(1)
            self.config = config
            self.proj = nn.Linear(config.hidden_size, 4)

    holder = Holder(transformers.BertConfig(hidden_size=8, num_attention_heads=2))
    with knowledge.using(knowledge.load()):
        described = configs.describe(holder)
    assert described is not None and described.type == "transformers.BertConfig"
    assert (described.measured, described.reads, len(built)) == ((), {}, 1)


class Validated(dict):  # type: ignore[type-arg]
    """A config that validates what is set on it, as strict dataclass configs do, with its own error class."""

    class Invalid(Exception):
        pass

    def __setitem__(self, key: str, value: Any) -> None:
        if key == "width" and value != 8:
            raise Validated.Invalid(f"{key} must be 8")
        super().__setitem__(key, value)


def test_a_key_the_config_refuses_with_an_error_of_its_own_is_left_unmeasured() -> None:
    config = Validated({"width": 8, "widths": [16, 32], "nested": {"times": 2}, "p": 0.25})
    described = measured(config)
    assert "width" not in described.measured
    assert described.reads["first.out_features"] == ("widths[0]",)


def test_a_transformers_config_without_labels_reads_without_a_label_count() -> None:
    import transformers

    config = transformers.PretrainedConfig()
    config.id2label = None  # some configs leave it unset
    values = configs.plain_config(config)
    assert values["id2label"] is None and "num_labels" not in values
