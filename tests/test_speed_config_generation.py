"""The generation config of a rebuild is made once per distinct reading, and nothing a description says changes.

`configs.GENERATION_MEMO` runs transformers' ``GenerationConfig.from_model_config`` (which every
build of a model that can generate runs) once for each distinct set of the values it reads during
a config measurement, and hands a copy of what it made to the builds that read the same. Each
model here is described with the switch on and off: the two ``modeldoc/1`` JSON texts, written as
the CLI writes them, must be equal to the byte, and the library's own calls are counted, so that
the switch is seen to skip some. The generation configs made are compared with the library's own,
state for state, and one the library refuses is refused with the switch on too.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from torch import nn

from modeldoc.probe import configs
from modeldoc.spec import ModelSpec
from tests import models
from tests.helpers.compare import CONFIGS, GEMMA2, as_written, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot

transformers = pytest.importorskip("transformers")


@contextmanager
def counted_generation_configs() -> Iterator[list[int]]:
    """The library's own ``GenerationConfig.from_model_config`` calls while the block runs, counted."""
    from transformers import GenerationConfig

    made_by = vars(GenerationConfig)["from_model_config"]
    calls: list[int] = []

    def counted(cls: Any, model_config: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return made_by.__func__(cls, model_config, *args, **kwargs)

    GenerationConfig.from_model_config = classmethod(counted)
    try:
        yield calls
    finally:
        GenerationConfig.from_model_config = made_by


def both_ways(describe: Callable[[], ModelSpec]) -> tuple[str, str, int, int]:
    """The JSON of `describe()` with `GENERATION_MEMO` on, then off, and the library's calls each made."""
    before = configs.GENERATION_MEMO
    try:
        configs.GENERATION_MEMO = True
        with counted_generation_configs() as remembered:
            fast = as_written(describe())
        configs.GENERATION_MEMO = False
        with counted_generation_configs() as every:
            slow = as_written(describe())
    finally:
        configs.GENERATION_MEMO = before
    return fast, slow, len(remembered), len(every)


def measured(text: str) -> tuple[str, ...]:
    spec = ModelSpec.from_json(json.loads(text))
    assert spec.config is not None and spec.config.reads
    return spec.config.measured


GENERATING = {
    "gpt2": CONFIGS["gpt2"],
    "llama": CONFIGS["llama"],
    "mixtral": ("transformers:MixtralForCausalLM", CONFIGS["mixtral"][1]),
    "gemma2": ("transformers:Gemma2ForCausalLM", GEMMA2),
}


@pytest.mark.parametrize("name", list(GENERATING))
def test_a_generating_model_built_from_a_config_is_described_the_same_with_fewer_generation_configs(name: str) -> None:
    target, kwargs = GENERATING[name]
    fast, slow, remembered, every = both_ways(from_config(target, "1,8", **kwargs))
    assert fast == slow
    assert len(measured(fast)) >= 8
    assert 0 < remembered < every


def gpt2_with_generation_settings() -> nn.Module:
    """A GPT-2 whose config keeps generation settings: numbers the measurement changes, the generation config takes."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(**CONFIGS["gpt2"][1], bos_token_id=1, eos_token_id=2)
    settings = {"num_beams": 3, "max_length": 40, "no_repeat_ngram_size": 2, "top_k": 7, "temperature": 0.7}
    for key, value in {**settings, "do_sample": True}.items():  # kept as a saved config.json of old would keep them
        setattr(config, key, value)
    return GPT2LMHeadModel(config)


def test_the_generation_keys_are_measured_with_the_library_making_their_generation_configs() -> None:
    model = gpt2_with_generation_settings()
    snapshot = Snapshot.take(model)
    fast, slow, remembered, every = both_ways(live(model, "1,8"))
    assert fast == slow
    assert snapshot.problems(model) == []
    assert remembered < every
    keys = set(measured(fast))
    assert {"num_beams", "max_length", "no_repeat_ngram_size", "top_k", "temperature"} <= keys
    # one for the unchanged build, at least one for each generation number changed
    assert remembered >= 1 + 5


@pytest.mark.parametrize("name", ["bert", "t5", "mixtral"])
def test_a_model_that_does_not_generate_is_described_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    fast, slow, remembered, every = both_ways(from_config(target, "1,8", **kwargs))
    assert fast == slow
    assert measured(fast) and remembered == every == 0


LIVE: dict[str, Callable[[], nn.Module]] = {
    "whisper": models.tiny_whisper,
    "t5": models.tiny_t5,
    "falcon": models.tiny_falcon,
    "gpt_neox": models.tiny_gpt_neox,
    "gpt2": models.tiny_gpt2,
}


@pytest.mark.parametrize("name", list(LIVE))
def test_a_generating_transformers_model_handed_over_is_described_the_same(name: str) -> None:
    model = LIVE[name]()
    snapshot = Snapshot.take(model)
    fast, slow, remembered, every = both_ways(live(model))
    assert fast == slow
    assert snapshot.problems(model) == []
    assert measured(fast) and remembered < every


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_described_the_same(name: str) -> None:
    model = bench_model(name)
    snapshot = Snapshot.take(model)
    fast, slow, remembered, every = both_ways(live(model, "1,64"))
    assert fast == slow
    assert snapshot.problems(model) == []
    assert measured(fast) and remembered < every


def test_a_diffusers_model_is_described_the_same() -> None:
    diffusers = pytest.importorskip("diffusers")
    model = diffusers.UNet2DModel(
        sample_size=16,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        layers_per_block=1,
        norm_num_groups=8,
        attention_head_dim=8,
    )
    fast, slow, remembered, every = both_ways(live(model))
    assert fast == slow
    assert measured(fast) and remembered == every == 0


def test_a_llama_with_a_frozen_block_and_untied_head_is_described_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    from tests.test_speed_static import LLAMA

    model = LlamaForCausalLM(LlamaConfig(**LLAMA, tie_word_embeddings=False)).eval()
    model.model.layers[2].requires_grad_(False)
    model.model.layers[3].input_layernorm.variance_epsilon = 1e-3
    fast, slow, remembered, every = both_ways(live(model, "1,8"))
    assert fast == slow and remembered < every


# --------------------------------------------------------------------------- what is made


def state(made: Any) -> dict[str, Any]:
    return dict(vars(made))


@contextmanager
def remembering() -> Iterator[None]:
    before = configs.GENERATION_MEMO
    configs.GENERATION_MEMO = True
    try:
        with configs._generation_memo():
            yield
    finally:
        configs.GENERATION_MEMO = before


def changed(config: Any, key: str, value: Any) -> Any:
    copied = copy.deepcopy(config)
    configs._set(copied, key, value)
    return copied


def test_each_generation_config_made_is_in_the_state_the_library_makes_it() -> None:
    from transformers import GenerationConfig, GPT2Config, WhisperConfig

    gpt2 = GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=100, num_beams=2, temperature=0.5)
    whisper = models.tiny_whisper().config
    variants = [
        gpt2,
        changed(gpt2, "n_embd", 64),  # the same reading: a copy of the first
        changed(gpt2, "num_beams", 4),  # a new one: made by the library
        changed(gpt2, "temperature", 0.25),
        changed(gpt2, "temperature", 0.5),  # back to the first
        changed(gpt2, "bos_token_id", 7),
        changed(gpt2, "num_labels", 3),
        changed(gpt2, "n_layer", 1),
        whisper,
        changed(whisper, "decoder_start_token_id", 1),
        changed(whisper, "d_model", 64),
        WhisperConfig(**{**whisper.to_dict(), "max_length": 30}),
    ]
    expected = [state(GenerationConfig.from_model_config(copy.deepcopy(config))) for config in variants]
    made = []
    with counted_generation_configs() as calls, remembering():
        for config in variants:
            made.append(GenerationConfig.from_model_config(config))
    assert [state(each) for each in made] == expected
    assert len({id(each) for each in made}) == len(made)  # each build has its own
    # read as one made before: n_embd, temperature back, num_labels, n_layer, Whisper's d_model
    assert len(calls) == len(variants) - 5


def test_a_composite_config_reads_its_decoder_text_config() -> None:
    from transformers import GenerationConfig, LlavaConfig

    config = LlavaConfig(
        text_config={"model_type": "llama", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4},
        vision_config={
            "model_type": "clip_vision_model",
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 4,
        },
    )
    config.text_config.max_length = 17  # only in the text config: the second reading takes it
    variants = [
        config,
        changed(config, "text_config.max_length", 34),
        changed(config, "text_config.hidden_size", 64),
        changed(config, "image_token_id", 5),
    ]
    expected = [state(GenerationConfig.from_model_config(copy.deepcopy(each))) for each in variants]
    assert expected[0]["max_length"] == 17 and expected[1]["max_length"] == 34
    with counted_generation_configs() as calls, remembering():
        made = [state(GenerationConfig.from_model_config(each)) for each in variants]
    assert made == expected
    assert len(calls) == 2  # the first, and the text config's changed max_length


def test_a_value_the_generation_config_refuses_is_refused_with_the_memo_too() -> None:
    from transformers import GenerationConfig, GPT2Config

    config = GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=100, assistant_ensemble_weight=0.5)
    with remembering():
        GenerationConfig.from_model_config(config)
        with pytest.raises(ValueError, match="assistant_ensemble_weight"):
            GenerationConfig.from_model_config(changed(config, "assistant_ensemble_weight", 1.0))
        GenerationConfig.from_model_config(changed(config, "n_embd", 64))


def test_another_class_or_more_arguments_run_the_library_and_the_library_is_left_as_it_was() -> None:
    from transformers import GenerationConfig, GPT2Config

    class Own(GenerationConfig):  # type: ignore[misc]
        pass

    config = GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=100)
    make = vars(GenerationConfig)["from_model_config"]
    with counted_generation_configs() as calls, remembering():
        assert type(Own.from_model_config(config)) is Own
        assert type(Own.from_model_config(changed(config, "n_embd", 64))) is Own
        GenerationConfig.from_model_config(config.to_dict())  # a dict: the library's own
        GenerationConfig.from_model_config(config.to_dict())
    assert len(calls) == 4
    assert vars(GenerationConfig)["from_model_config"] is make
    with pytest.raises(RuntimeError), remembering():
        raise RuntimeError("a measurement that fails")
    assert vars(GenerationConfig)["from_model_config"] is make


def test_a_config_whose_reading_raises_gets_the_librarys_own_call() -> None:
    from transformers import GenerationConfig, GPT2Config

    class Broken(GPT2Config):  # type: ignore[misc]
        def to_dict(self) -> dict[str, Any]:
            raise RuntimeError("no dict today")

    config = Broken(n_embd=32, n_head=4, n_layer=2, vocab_size=100)
    with pytest.raises(RuntimeError, match="no dict today") as plain:
        GenerationConfig.from_model_config(config)
    with (
        counted_generation_configs() as calls,
        remembering(),
        pytest.raises(RuntimeError, match="no dict today") as remembered,
    ):
        GenerationConfig.from_model_config(config)
    assert len(calls) == 1 and type(remembered.value) is type(plain.value)
