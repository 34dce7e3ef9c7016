"""Issue 11's wrong statements, on real models: what each page now says instead.

Residual and gated groups (a size an op forces equal to an earlier one follows it, with a
derivation through the op; the first layer that fixes the width stays the designer's choice),
subclass rules checked against the recorded call, positions as capacities, the target rule,
slice arithmetic, and the first layer's input. Models are the fixtures of `tests.models` and
Hugging Face models built from tiny configs (no download).
"""

from __future__ import annotations

import pytest

from modeldoc.spec import Hyperparam, ModelSpec
from tests.helpers.formulas import arithmetic_count, formula_mismatches
from tests.helpers.specs import EXAMPLES, configured, spec_of

pytest.importorskip("transformers")

TOKENS = {"input_dtype": "long"}


def hyper(spec: ModelSpec, path: str, name: str) -> Hyperparam:
    return next(h for h in spec.layer(path).hyperparameters if h.name == name)


def ids(name: str = "input_ids", axis: str = "L", length: int = 8) -> dict[str, object]:
    return {"name": name, "shape": [1, f"{axis}={length}"], "dtype": "long"}


@pytest.fixture(scope="module")
def llama() -> ModelSpec:
    return spec_of("tests.models:tiny_llama", "input_ids:N=1,L=8", **TOKENS)


@pytest.fixture(scope="module")
def resnet() -> ModelSpec:
    return spec_of("tests.models:BottleneckNet", "x:N=1,3,8,8")


@pytest.fixture(scope="module")
def clip() -> ModelSpec:
    pixels = {"name": "pixel_values", "shape": [1, 3, 32, 32], "dtype": "float32"}
    return spec_of("tests.models:tiny_clip", inputs=[ids(length=8), pixels])


# --------------------------------------------------------------------------- 1: residual and gated groups


def test_llama_residual_projections_follow_the_embedding(llama: ModelSpec) -> None:
    for path in ("model.layers.0.self_attn.o_proj", "model.layers.1.mlp.down_proj"):
        h = hyper(llama, path, "out_features")
        assert (h.value, h.kind, h.source) == (32, "data-dependent", "previous-layer")
        assert h.formula == "model.embed_tokens.embedding_dim = 32"
        assert h.derivation[0].where == "model.embed_tokens"
        assert h.derivation[-1].text.startswith(f"{path}'s output is added to ")
        assert "so out_features must be 32" in h.derivation[-1].text
        assert "the designer chose this size once, at model.embed_tokens.embedding_dim" in h.reason
    embedding = hyper(llama, "model.embed_tokens", "embedding_dim")
    assert (embedding.kind, embedding.source) == ("hyperparameter", "chosen")
    assert "model.layers.0.self_attn.o_proj.out_features" in embedding.reason  # it names who follows it


def test_llama_gate_makes_up_proj_follow_gate_proj(llama: ModelSpec) -> None:
    up = hyper(llama, "model.layers.0.mlp.up_proj", "out_features")
    assert (up.value, up.kind, up.source) == (64, "data-dependent", "previous-layer")
    assert up.formula == "model.layers.0.mlp.gate_proj.out_features = 64"
    assert "multiplied elementwise" in up.derivation[-1].text
    gate = hyper(llama, "model.layers.0.mlp.gate_proj", "out_features")
    assert (gate.kind, gate.source) == ("hyperparameter", "chosen")


def test_parallel_residual_gpt_neox_both_branches_follow_the_embedding() -> None:
    spec = spec_of("tests.models:tiny_gpt_neox", "input_ids:N=1,L=8", **TOKENS)
    for path in ("gpt_neox.layers.0.attention.dense", "gpt_neox.layers.0.mlp.dense_4h_to_h"):
        h = hyper(spec, path, "out_features")
        assert (h.kind, h.formula) == ("data-dependent", "gpt_neox.embed_in.embedding_dim = 32")
        assert h.derivation[0].where == "gpt_neox.embed_in"
    assert hyper(spec, "gpt_neox.embed_in", "embedding_dim").kind == "hyperparameter"


def test_bottleneck_conv3_follows_the_shortcut_and_the_stem_stays_chosen(resnet: ModelSpec) -> None:
    stem = hyper(resnet, "stem", "out_channels")
    assert (stem.kind, stem.source) == ("hyperparameter", "chosen")
    # the identity block: conv3 must give back the channels of its input, which block1 fixed
    conv3 = hyper(resnet, "block2.conv3", "out_channels")
    assert (conv3.value, conv3.kind, conv3.source) == (16, "data-dependent", "previous-layer")
    assert conv3.derivation[-1].text.startswith("block2.conv3's output is added to ")
    assert conv3.formula == "block1.conv3.out_channels = 16"
    # the projected block: conv3 runs first and fixes the width; the projection follows it
    assert (hyper(resnet, "block1.conv3", "out_channels").kind) == "hyperparameter"
    projection = hyper(resnet, "block1.downsample", "out_channels")
    assert (projection.kind, projection.formula) == ("data-dependent", "block1.conv3.out_channels = 16")
    # the classifier predicts: its width is the target, never a follower
    assert hyper(resnet, "fc", "out_features").source == "target"


# --------------------------------------------------------------------------- 3: a subclass's inherited rules


def test_convnext_channels_first_layernorm_gets_no_invented_error() -> None:
    spec = spec_of("tests.models:tiny_convnext", "pixel_values:N=1,3,64,64")
    assert spec.trace is not None and spec.trace.complete
    assert [f"{layer.path}.{h.name}" for layer in spec.all_layers for h in layer.hyperparameters if h.error] == []
    first = hyper(spec, "convnext.embeddings.layernorm", "normalized_shape")
    assert first.formula == "convnext.embeddings.patch_embeddings.out_channels = 8"


def test_a_subclass_with_its_own_forward_is_matched_by_the_ops_it_ran() -> None:
    spec = spec_of("tests.models:SubclassNorms", "x:N=1,3,12,12")
    assert [f"{layer.path}.{h.name}" for layer in spec.all_layers for h in layer.hyperparameters if h.error] == []
    channels = hyper(spec, "channels", "normalized_shape")  # LayerNorm's last-axis rule would say 10
    assert (channels.kind, channels.formula, channels.inferred) == ("data-dependent", "conv.out_channels = 8", True)
    assert "is axis 1, the only axis of that size" in channels.reason
    notes = " ".join(spec.layer("channels").notes)
    assert "its call ran permute, layer_norm, permute" in notes
    assert "LayerNorm's rule for normalized_shape does not hold" in notes
    kept = " ".join(spec.layer("last").notes)
    assert "LayerNorm's rules hold for the shapes it recorded" in kept
    assert hyper(spec, "last", "normalized_shape").formula.endswith("= 10")


# --------------------------------------------------------------------------- 4: positions are not a vocabulary


def test_learned_positions_are_a_capacity_and_tokens_a_vocabulary() -> None:
    gpt2 = spec_of("tests.models:tiny_gpt2", "input_ids:N=1,L=8", **TOKENS)
    positions = hyper(gpt2, "transformer.wpe", "num_embeddings")
    assert (positions.value, positions.kind, positions.source) == (64, "hyperparameter", "chosen")
    assert positions.reason.startswith("a capacity the designer chose, not a vocabulary")
    tokens = hyper(gpt2, "transformer.wte", "num_embeddings")
    assert (tokens.kind, tokens.source) == ("data-dependent", "input")
    assert "one row per possible id of the input `input_ids`" in tokens.reason
    bert = spec_of("tests.models:tiny_bert", "input_ids:N=1,L=8", **TOKENS)
    assert hyper(bert, "embeddings.position_embeddings", "num_embeddings").source == "chosen"


def test_clip_positions_text_chosen_and_vision_from_the_image(clip: ModelSpec) -> None:
    text = hyper(clip, "text_model.embeddings.position_embedding", "num_embeddings")
    assert (text.value, text.kind, text.source) == (16, "hyperparameter", "chosen")
    vision = hyper(clip, "vision_model.embeddings.position_embedding", "num_embeddings")
    assert (vision.value, vision.kind, vision.formula) == (17, "data-dependent", "1 + 16 = 17")  # (32 / 8)² + 1
    texts = [s.text for s in vision.derivation]
    assert texts[0] == "the input `pixel_values` is N × 3 × 32 × 32"
    assert any("turns 32 into 4" in t for t in texts) and any("merges 4 × 4 into 16" in t for t in texts)


def test_whisper_encoder_positions_are_the_frames_the_convolutions_leave() -> None:
    features = {"name": "input_features", "shape": [1, 16, 100], "dtype": "float32"}
    spec = spec_of("tests.models:tiny_whisper", inputs=[features, ids("decoder_input_ids", "T", 4)])
    encoder = hyper(spec, "model.encoder.embed_positions", "num_embeddings")
    assert (encoder.value, encoder.kind) == (50, "data-dependent")  # 100 frames / 2, as 3000 / 2 = 1500 at full size
    assert encoder.formula == "⌊(100 + 2·1 − 1·(3 − 1) − 1) / 2⌋ + 1 = 50"
    assert encoder.derivation[0].text == "the input `input_features` is N × 16 × 100"
    decoder = hyper(spec, "model.decoder.embed_positions", "embedding_dim")  # added to the tokens: it follows them
    assert (decoder.kind, decoder.formula) == ("data-dependent", "model.decoder.embed_tokens.embedding_dim = 32")


def test_t5_relative_buckets_are_chosen_and_one_bias_per_head() -> None:
    spec = spec_of("tests.models:tiny_t5", inputs=[ids(length=8), ids("decoder_input_ids", "T", 4)])
    table = "encoder.block.0.layer.0.SelfAttention.relative_attention_bias"
    buckets = hyper(spec, table, "num_embeddings")
    assert (buckets.value, buckets.kind, buckets.source) == (32, "hyperparameter", "chosen")
    heads = hyper(spec, table, "embedding_dim")
    assert (heads.value, heads.kind, heads.formula) == (4, "data-dependent", "32 / 8 = 4")
    assert "splits 32 into 4 × 8" in [s.text for s in heads.derivation][-2]


# --------------------------------------------------------------------------- 5: the target


def test_clip_projections_agree_and_neither_is_the_target(clip: ModelSpec) -> None:
    visual = hyper(clip, "visual_projection", "out_features")
    text = hyper(clip, "text_projection", "out_features")
    assert "target" not in (visual.source, text.source)
    assert (visual.kind, visual.source) == ("hyperparameter", "chosen")
    assert (text.kind, text.formula) == ("data-dependent", "visual_projection.out_features = 16")
    assert "multiplied as a matrix, summing over this axis" in text.derivation[-1].text


def test_llama_head_is_the_target(llama: ModelSpec) -> None:
    head = hyper(llama, "lm_head", "out_features")
    assert (head.kind, head.source) == ("data-dependent", "target")


# --------------------------------------------------------------------------- 6: the arithmetic printed


def test_falcon_query_slice_counts_from_the_end() -> None:
    spec = spec_of("tests.models:tiny_falcon", "input_ids:N=1,L=8", **TOKENS)
    dense = hyper(spec, "transformer.h.0.self_attention.dense", "in_features")
    step = next(s for s in dense.derivation if "keeps :-2 of 6" in s.text)
    assert (step.formula, step.value) == ("6 − 2 = 4", 4)
    assert formula_mismatches(spec) == []


# --------------------------------------------------------------------------- 7: the first layer's input


def test_wav2vec2_first_conv_reads_the_input() -> None:
    spec = spec_of("tests.models:tiny_wav2vec2", "input_values:N=1,1600")
    first = hyper(spec, "wav2vec2.feature_extractor.conv_layers.0.conv", "in_channels")
    assert (first.value, first.kind, first.source) == (1, "data-dependent", "input")
    assert "data read from the input `input_values`" in first.derivation[-1].text
    second = hyper(spec, "wav2vec2.feature_extractor.conv_layers.1.conv", "in_channels")
    assert second.source == "previous-layer"


# --------------------------------------------------------------------------- every printed formula holds


FORMULA_MODELS = [
    ("tests.models:tiny_llama", ("input_ids:N=1,L=8",), TOKENS),
    ("tests.models:tiny_gpt2", ("input_ids:N=1,L=8",), TOKENS),
    ("tests.models:tiny_bert", ("input_ids:N=1,L=8",), TOKENS),
    ("tests.models:tiny_convnext", ("pixel_values:N=1,3,64,64",), {}),
    ("tests.models:tiny_wav2vec2", ("input_values:N=1,1600",), {}),
    ("tests.models:tiny_falcon", ("input_ids:N=1,L=8",), TOKENS),
    ("tests.models:BottleneckNet", ("x:N=1,3,8,8",), {}),
    ("tests.models:PoolGeometry", ("1,2,15,15",), {}),
    ("tests.models:StridedConv", ("1,1,H=8,W=8",), {}),
]
"""Test models whose every printed formula is evaluated (with the bundled examples and the falcon above)."""


def test_every_printed_formula_evaluates_to_its_value() -> None:
    from modeldoc.pipeline import describe

    specs = [spec_of(target, *shapes, **entry) for target, shapes, entry in FORMULA_MODELS]
    specs += [describe(configured(slug)) for slug in EXAMPLES.values()]
    assert [spec.name for spec in specs if spec.trace is None or not spec.trace.complete] == []
    assert sum(arithmetic_count(spec) for spec in specs) >= 20  # there is arithmetic to evaluate
    assert [why for spec in specs for why in formula_mismatches(spec)] == []


def test_the_formula_check_catches_a_wrong_sum() -> None:
    from tests.helpers.formulas import mismatch

    assert mismatch("6 − 2 = 4", 4) is None
    assert mismatch("⌈(10 − 1) / 2⌉ = 5", 5) is None
    assert mismatch("(32 / 8)² + 1 = 17", 17) is None
    assert mismatch("73 − 0 = 71", 71) == "73 − 0 is 73, not 71"
    assert mismatch("4 × 8 = 32", 16) == "states 32 but the value is 16"
    assert mismatch("model.embed_tokens.embedding_dim = 32", 32) is None
