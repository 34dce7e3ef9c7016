"""A key the unchanged build never reads is reported without its rebuild, and nothing a description says changes.

`configs.SKIP_UNREAD` records what the unchanged build of a config measurement reads of its config
(`configs._recording`); a key whose change touches nothing read is reported as a rebuild that
changed nothing, without building. Each model here is described with the switch on and off: the
two ``modeldoc/1`` JSON texts, written as the CLI writes them, must be equal to the byte, and the
builds are counted, so that the switch is seen to skip some (or, where the config is read whole,
none).
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
from modeldoc.probe.loader import Recipe, build_on_meta
from modeldoc.spec import ModelSpec
from tests import models
from tests.helpers.compare import CONFIGS, GEMMA2, LLAMA, as_written, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot

transformers = pytest.importorskip("transformers")


@contextmanager
def counted_builds() -> Iterator[list[int]]:
    """The builds `configs` makes on the meta device while the block runs, counted (one item each)."""
    builds: list[int] = []
    real = configs._built

    def built(recipe: Recipe, config: Any) -> nn.Module | None:
        builds.append(1)
        return real(recipe, config)

    configs._built = built  # type: ignore[assignment]
    try:
        yield builds
    finally:
        configs._built = real  # type: ignore[assignment]


def both_ways(describe: Callable[[], ModelSpec]) -> tuple[str, str, int, int]:
    """The JSON of `describe()` with `SKIP_UNREAD` on, then off, and how many builds each made."""
    before = configs.SKIP_UNREAD
    try:
        configs.SKIP_UNREAD = True
        with counted_builds() as skipping:
            fast = as_written(describe())
        configs.SKIP_UNREAD = False
        with counted_builds() as every:
            slow = as_written(describe())
    finally:
        configs.SKIP_UNREAD = before
    return fast, slow, len(skipping), len(every)


def measured(text: str) -> tuple[str, ...]:
    spec = ModelSpec.from_json(json.loads(text))
    assert spec.config is not None and spec.config.reads
    return spec.config.measured


TARGETS: dict[str, tuple[str, dict[str, Any]]] = {**CONFIGS, "gemma2": ("transformers:Gemma2ForCausalLM", GEMMA2)}


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=[pytest.mark.slow] if name == "deepseek_v3" else []) for name in TARGETS]
)
def test_a_model_built_from_a_config_is_described_the_same_with_fewer_builds(name: str) -> None:
    target, kwargs = TARGETS[name]
    fast, slow, skipping, every = both_ways(from_config(target, "1,8", **kwargs))
    assert fast == slow
    assert len(measured(fast)) >= 8
    assert skipping < every


def tiny_vit() -> nn.Module:
    from transformers import ViTConfig, ViTModel

    return ViTModel(
        ViTConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=48,
            image_size=16,
            patch_size=4,
        )
    )


LIVE: dict[str, Callable[[], nn.Module]] = {
    "whisper": models.tiny_whisper,
    "clip": models.tiny_clip,
    "falcon": models.tiny_falcon,
    "gpt_neox": models.tiny_gpt_neox,
    "convnext": models.tiny_convnext,
    "vit": tiny_vit,
    "t5": models.tiny_t5,
}


@pytest.mark.parametrize("name", list(LIVE))
def test_a_transformers_model_handed_over_is_described_the_same_with_fewer_builds(name: str) -> None:
    model = LIVE[name]()
    snapshot = Snapshot.take(model)
    fast, slow, skipping, every = both_ways(live(model))
    assert fast == slow
    assert snapshot.problems(model) == []
    assert measured(fast) and skipping < every


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_described_the_same_with_fewer_builds(name: str) -> None:
    model = bench_model(name)
    snapshot = Snapshot.take(model)
    fast, slow, skipping, every = both_ways(live(model, "1,64"))
    assert fast == slow
    assert snapshot.problems(model) == []
    assert measured(fast) and skipping < every


def test_a_llama_with_a_frozen_block_and_one_other_argument_is_described_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    model.model.layers[2].requires_grad_(False)
    model.model.layers[3].input_layernorm.variance_epsilon = 1e-3  # one block with another argument
    fast, slow, skipping, every = both_ways(live(model, "1,8"))
    assert fast == slow and skipping < every
    spec = ModelSpec.from_json(json.loads(fast))
    eps = {layer.path: h.value for layer in spec.layers for h in layer.hyperparameters if h.name == "eps"}
    assert eps["model.layers.3.input_layernorm"] == 1e-3 and spec.frozen_params > 0


def test_a_gpt2_with_untied_and_tied_heads_is_described_the_same() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    for tied in (True, False):
        config = GPT2Config(n_embd=32, n_head=4, n_layer=3, vocab_size=100, tie_word_embeddings=tied)
        fast, slow, skipping, every = both_ways(live(GPT2LMHeadModel(config), "1,8"))
        assert fast == slow and skipping < every
        spec = ModelSpec.from_json(json.loads(fast))
        if tied:
            assert spec.layer("lm_head").parameters[0].tied_with == ("transformer.wte.weight",)


def test_a_diffusers_model_is_rebuilt_for_every_key() -> None:
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
    fast, slow, skipping, every = both_ways(live(model))
    assert fast == slow
    assert measured(fast) and skipping == every  # its config is a dict: nothing recorded, nothing skipped


# --------------------------------------------------------------------------- what is recorded


class Branching(nn.Module):
    """Reads `intermediate_size` only while `num_key_value_heads` is 2, `max_position_embeddings` only otherwise."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        wide = config.intermediate_size if config.num_key_value_heads == 2 else config.max_position_embeddings
        self.up = nn.Linear(config.hidden_size, wide)
        self.norm = nn.LayerNorm(wide, eps=config.rms_norm_eps)


def small_llama() -> Any:
    from transformers import LlamaConfig

    return LlamaConfig(**LLAMA)


def test_a_key_read_only_on_another_branch_is_skipped_and_its_rebuild_agrees() -> None:
    config = small_llama()
    recipe = Recipe(config=config, build=Branching, built_by="Branching", built_from="", dtype="float32")
    with configs._quiet(), configs._recording(config) as reads:
        unchanged = configs._built_arguments(recipe, config)
    assert reads is not None and not reads.whole and unchanged is not None
    skipped = []
    for key, value in configs._to_measure(configs.plain_config(config)):
        with counted_builds() as builds:
            fast = configs._rebuild(recipe, key, value, reads, unchanged)
        slow = configs._rebuild(recipe, key, value)
        assert fast == slow, key
        if not builds:
            assert fast is unchanged
            skipped.append(key)
    # read with these values: the branch, the sizes it took, the eps; never the other branch's size
    assert "max_position_embeddings" in skipped and "vocab_size" in skipped
    assert not {"num_key_value_heads", "intermediate_size", "hidden_size", "rms_norm_eps"} & set(skipped)
    # the branch taken with num_key_value_heads changed reads max_position_embeddings: that rebuild shows it
    other = configs._rebuild(recipe, "num_key_value_heads", 2, reads, unchanged)
    assert other is not None and other["up.out_features"] == ("Linear", LLAMA["max_position_embeddings"])


def reads_of(block: Callable[[Any], Any], config: Any | None = None) -> configs._Reads:
    config = config if config is not None else small_llama()
    with configs._recording(config) as reads:
        block(config)
    assert reads is not None
    return reads


def changed(config: Any, key: str, value: Any) -> Any:
    copied = copy.deepcopy(config)
    configs._set(copied, key, value)
    return copied


@pytest.mark.parametrize(
    "whole",
    [
        vars,
        lambda config: config.__dict__,
        lambda config: config.to_dict(),
        copy.copy,
        lambda config: vars(copy.deepcopy(config)),
        list,
    ],
    ids=["vars", "dict", "to_dict", "copy", "deep_copy_read_whole", "iteration"],
)
def test_a_config_read_whole_counts_every_key_as_read(whole: Callable[[Any], Any]) -> None:
    def block(config: Any) -> None:
        config.hidden_size  # noqa: B018 - one key read by name
        whole(config)

    reads = reads_of(block)
    config = reads.config
    assert reads.whole
    assert not reads.unread(changed(config, "vocab_size", 7))


def test_a_key_read_of_a_deep_copy_counts_as_read_of_the_config() -> None:
    def block(config: Any) -> None:
        copied = copy.deepcopy(config)
        copied.num_hidden_layers = 1  # as T5 makes its decoder's config
        copied.vocab_size  # noqa: B018 - read of the copy alone
        copy.deepcopy(copied).hidden_size  # noqa: B018 - a copy of the copy

    reads = reads_of(block)
    config = reads.config
    assert not reads.whole and len(reads.copies) == 3
    assert not reads.unread(changed(config, "vocab_size", 7))
    assert not reads.unread(changed(config, "hidden_size", 128))
    assert reads.unread(changed(config, "max_position_embeddings", 64))


def test_a_key_read_by_name_alias_or_property_counts_and_the_others_do_not() -> None:
    from transformers import GPT2Config

    gpt2 = GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=100)
    reads = reads_of(lambda config: (config.hidden_size, config.num_labels), gpt2)  # n_embd; id2label
    assert not reads.whole
    assert not reads.unread(changed(gpt2, "n_embd", 64))
    assert not reads.unread(changed(gpt2, "num_labels", 3))  # sets id2label, which the property read
    assert reads.unread(changed(gpt2, "n_head", 8))
    assert reads.unread(changed(gpt2, "vocab_size", 7))


def test_a_config_the_block_changes_counts_every_key_as_read() -> None:
    def block(config: Any) -> None:
        config.vocab_size = config.vocab_size + 1

    reads = reads_of(block)
    assert reads.whole and not reads.unread(changed(reads.config, "max_position_embeddings", 64))


def test_the_generation_config_made_from_the_config_may_not_be_read() -> None:
    from transformers import GenerationConfig

    made: list[Any] = []
    reads = reads_of(lambda config: made.append(GenerationConfig.from_model_config(config)))
    assert not reads.whole and reads.generation == [GenerationConfig]
    assert reads.unread(changed(reads.config, "max_position_embeddings", 64))
    reads = reads_of(lambda config: GenerationConfig.from_model_config(config).bos_token_id)
    assert reads.whole


def test_a_generation_config_that_refuses_the_changed_value_makes_the_key_count() -> None:
    from transformers import GenerationConfig

    class Picky(GenerationConfig):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            if kwargs.get("max_position_embeddings", 0) > 40:
                raise ValueError("too long")
            super().__init__(**kwargs)

    def block(config: Any) -> None:
        Picky.from_model_config(config)  # looked up while recorded

    reads = reads_of(block)
    assert not reads.whole and reads.generation == [Picky]
    assert reads.unread(changed(reads.config, "max_position_embeddings", 40))
    assert not reads.unread(changed(reads.config, "max_position_embeddings", 64))


def test_a_generation_config_made_from_a_config_changed_meanwhile_counts_every_key() -> None:
    from transformers import GenerationConfig

    def block(config: Any) -> None:
        config.max_position_embeddings = 64
        GenerationConfig.from_model_config(config)
        config.max_position_embeddings = LLAMA["max_position_embeddings"]  # put back before the end

    reads = reads_of(block)
    assert reads.whole


def test_the_library_is_left_as_it_was_even_when_the_block_raises() -> None:
    from transformers import GenerationConfig, PretrainedConfig

    read = vars(PretrainedConfig)["__getattribute__"]
    make = vars(GenerationConfig)["from_model_config"]
    with pytest.raises(RuntimeError), configs._recording(small_llama()) as reads:
        assert reads is not None and vars(PretrainedConfig)["__getattribute__"] is not read
        raise RuntimeError("a build that fails")
    assert vars(PretrainedConfig)["__getattribute__"] is read
    assert vars(GenerationConfig)["from_model_config"] is make
    assert "__getattribute__" not in vars(GenerationConfig) and "__deepcopy__" not in vars(PretrainedConfig)


def test_nothing_is_recorded_switched_off_for_a_dict_or_a_config_with_its_own_attribute_reads() -> None:
    from transformers import LlamaConfig

    class OwnReads(LlamaConfig):
        def __getattribute__(self, key: str) -> Any:
            return super().__getattribute__(key)

    for config in ({"width": 3}, OwnReads(**LLAMA)):
        with configs._recording(config) as reads:
            assert reads is None
    before = configs.SKIP_UNREAD
    configs.SKIP_UNREAD = False
    try:
        with configs._recording(small_llama()) as reads:
            assert reads is None
    finally:
        configs.SKIP_UNREAD = before


def test_a_first_build_that_fills_in_its_config_records_nothing_and_a_later_one_does() -> None:
    config = small_llama()
    recipe = Recipe(
        config=config,
        build=transformers.LlamaModel,
        built_by="",
        built_from="",
        dtype="float32",
    )
    for first in (True, False):  # the first build sets the attention implementation on the config
        with configs._quiet(), configs._recording(config) as reads:
            unchanged = configs._arguments(build_on_meta(recipe.build, config, skip_fills=True))
        assert reads is not None and reads.whole is first
    assert not reads.unread(changed(config, "hidden_size", 128))
    assert not reads.unread(changed(config, "pad_token_id", 1))  # the embedding's padding_idx
    assert reads.unread(changed(config, "bos_token_id", 5))
    with configs._quiet(), counted_builds() as builds:
        rebuilt = configs._rebuild(recipe, "hidden_size", 64, reads, unchanged)
    assert builds and rebuilt is not None and rebuilt["embed_tokens.embedding_dim"] == ("Embedding", 128)


@pytest.mark.slow
@pytest.mark.parametrize("make", ["make_mixtral_8x7b", "make_deepseek_v3"])
def test_the_frontier_examples_are_described_the_same_with_fewer_builds(make: str) -> None:
    from modeldoc.examples import frontier

    fast, slow, skipping, every = both_ways(live(getattr(frontier, make)(), "1,16"))
    assert fast == slow
    assert measured(fast) and skipping < every
