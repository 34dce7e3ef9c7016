"""modeldoc.probe.extra_inputs: the inputs a model needs beside the given one, made up and named.

Tiny Hugging Face transformers and diffusers models built on the meta device, given only their
main input as a user typing one ``--input-shape`` would: each stopped part-way before (on a
``None`` where its forward needs a second input), and now traces to the end with the made-up
inputs listed in the trace, the JSON and on the page.
"""

from __future__ import annotations

import html
from typing import Any

import pytest

from modeldoc.options import model_options
from modeldoc.pages import render
from modeldoc.spec import MadeUpInput, ModelSpec
from tests.helpers.specs import check_round_trip, spec_of

pytest.importorskip("transformers")

TOKENS = {"input_dtype": "long"}


def page(spec: ModelSpec, target: str, shape: str) -> str:
    options = model_options({"target": target, "input_shape": shape})
    pages = render.render_pages(spec, render.RenderSettings(options=options, diagrams=False), render.make_env())
    return html.unescape(pages["index.md"])


def test_an_encoder_decoder_gets_decoder_inputs_from_the_decoder_start_token() -> None:
    spec = spec_of("tests.probe_models:meta_t5", "1,L=8", **TOKENS)
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.probe_error) == ("meta", True, "")
    assert spec.trace.made_up[0] == MadeUpInput(
        name="decoder_input_ids",
        shape=(1, 8),
        dtype="int64",
        what="decoder token ids, all 0 (the decoder start token), as long as the input text (or 16 tokens)",
    )
    assert [(i.name, i.dims) for i in spec.inputs][:2] == [("input_ids", ("N", "L")), ("decoder_input_ids", ("N", "L"))]
    assert spec.output_dims[0] == ("N", "L", 32)
    assert spec.to_json()["trace"]["made_up_inputs"][0]["name"] == "decoder_input_ids"


def test_a_two_tower_model_gets_an_image_of_the_configs_size_and_the_page_names_it() -> None:
    target = "tests.probe_models:meta_clip"
    spec = spec_of(target, "1,L=8", **TOKENS)
    assert spec.trace is not None and spec.trace.complete and spec.trace.device == "meta"
    pixels = next(m for m in spec.trace.made_up if m.name == "pixel_values")
    assert (pixels.shape, pixels.dtype) == ((1, 3, 32, 32), "float32")
    assert pixels.what == "a random image of 3 channels × 32 × 32 pixels (the config's image size)"
    # the image tower ran: (32 / 8)² patches and the class embedding
    vision = next(o for o in spec.outputs if o.name == "output['vision_model_output']['last_hidden_state']")
    assert vision.dims == ("N", 17, 32)
    text = page(spec, target, "1,8")
    assert '!!! info "Inputs made up for the probe"' in text
    assert "    - <code>pixel_values</code>, 1 × 3 × 32 × 32 (float32): a random image of 3 channels" in text


def test_a_vision_tower_of_flattened_patches_gets_the_grid_of_the_patches_given() -> None:
    spec = spec_of("tests.probe_models:meta_qwen_vision", "64,1176")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.assumptions) == ("meta", True, ())
    assert [(m.name, m.shape) for m in spec.trace.made_up] == [("grid_thw", (1, 3))]
    # 64 patches = 1 frame × 8 × 8; merged 2 × 2 into 16 tokens
    assert [(o.name, o.shape) for o in spec.outputs] == [("last_hidden_state", (64, 32)), ("pooler_output", (16, 32))]


def test_a_diffusion_unet_gets_a_timestep_and_its_dataclass_output_is_named() -> None:
    pytest.importorskip("diffusers")
    spec = spec_of("tests.probe_models:meta_unet", "1,3,16,16")
    assert spec.trace is not None and spec.trace.complete
    assert [(m.name, m.shape, m.dtype, m.what) for m in spec.trace.made_up] == [
        ("timestep", (1,), "int64", "the diffusion step 1 for every sample")
    ]
    assert [(o.name, o.dims) for o in spec.outputs] == [("sample", ("N", 3, 16, 16))]


def test_nothing_is_made_up_for_a_model_given_all_it_needs() -> None:
    spec = spec_of("tests.probe_models:meta_bert", "1,L=8", **TOKENS)
    assert spec.trace is not None and spec.trace.complete
    assert spec.trace.made_up == ()
    assert "made_up_inputs" not in spec.to_json()["trace"]


# --------------------------------------------------------------------------- inputs of model families (issue 14)


def describe_type(kind: str, name: str, shape: list[int], dtype: str = "float32", **config: Any) -> ModelSpec:
    """A transformers model type built from its config (with `config` overrides) on meta, given one named input."""
    import torch
    from transformers import AutoConfig, AutoModel

    from modeldoc.pipeline import describe_module

    built = AutoConfig.for_model(kind, **config)
    with torch.device("meta"):
        model = AutoModel.from_config(built)
    options = model_options({"target": f"transformers:{type(model).__name__}", "inputs": [entry(name, shape, dtype)]})
    return check_round_trip(describe_module(model, options))


def entry(name: str, shape: list[int], dtype: str) -> dict[str, Any]:
    return {"name": name, "shape": shape, "dtype": dtype}


def made_up(spec: ModelSpec) -> dict[str, tuple[tuple[int, ...], str]]:
    """Each made-up input's shape and dtype, by name, after checking the JSON states the same ones."""
    assert spec.trace is not None and spec.trace.complete, spec.probe_error
    stated = spec.to_json()["trace"]["made_up_inputs"]
    assert [m["name"] for m in stated] == [m.name for m in spec.trace.made_up]
    assert all(m["what"] for m in stated)
    return {m.name: (m.shape, m.dtype) for m in spec.trace.made_up}


def what(spec: ModelSpec, name: str) -> str:
    assert spec.trace is not None
    return next(m.what for m in spec.trace.made_up if m.name == name)


def test_an_audio_encoder_gets_a_mask_over_the_frames_of_its_features() -> None:
    spec = describe_type(
        "qwen3_asr_encoder",
        "input_features",
        [1, 16, 200],
        num_mel_bins=16,
        d_model=32,
        encoder_layers=1,
        encoder_attention_heads=2,
        encoder_ffn_dim=32,
        output_dim=32,
        downsample_hidden_size=8,
    )
    # channels first (16 mel bins, the config's num_mel_bins): the mask covers the 200 frames
    assert made_up(spec) == {"input_features_mask": ((1, 200), "int64")}
    assert what(spec, "input_features_mask") == (
        "ones over the positions of input_features: every position is kept (no padding)"
    )


def test_a_series_model_gets_its_padding_and_frequency() -> None:
    spec = describe_type(
        "timesfm",
        "past_values",
        [1, 64],
        num_hidden_layers=1,
        hidden_size=32,
        intermediate_size=32,
        num_attention_heads=2,
        head_dim=16,
        context_length=64,
        patch_length=32,
    )
    assert made_up(spec) == {"freq": ((1, 1), "int64"), "past_values_padding": ((1, 64), "int64")}
    assert what(spec, "past_values_padding") == "zeros shaped like past_values: no value is padding"


def test_a_text_and_regions_model_gets_region_features_of_the_configs_widths() -> None:
    spec = describe_type(
        "lxmert",
        "input_ids",
        [1, 8],
        "long",
        l_layers=1,
        x_layers=1,
        r_layers=1,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=37,
        visual_feat_dim=16,
        vocab_size=100,
    )
    shapes = made_up(spec)
    assert shapes["visual_feats"] == ((1, 36, 16), "float32")
    assert shapes["visual_pos"] == ((1, 36, 4), "float32")
    assert "(the config's visual_feat_dim)" in what(spec, "visual_feats")


def test_a_vision_tower_that_places_patches_gets_patch_rows_and_their_places() -> None:
    spec = describe_type(
        "gemma4_vision",
        "input_ids",
        [1, 8],
        "long",
        hidden_size=32,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=16,
        patch_size=4,
        image_size=24,
        position_embedding_size=64,
    )
    # 24 / 4 = 6 patches a side, a multiple of the pooling kernel 3; 3 × 4 × 4 = 48 values a patch
    assert made_up(spec) == {"pixel_values": ((1, 36, 48), "float32"), "pixel_position_ids": ((1, 36, 2), "int64")}
    assert "6 × 6 patches" in what(spec, "pixel_values")


def test_patches_given_as_rows_get_their_mask_and_grid() -> None:
    spec = describe_type(
        "siglip2_vision_model",
        "pixel_values",
        [1, 16, 48],
        hidden_size=32,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        patch_size=4,
        num_patches=16,
    )
    assert made_up(spec) == {"pixel_attention_mask": ((1, 16), "int64"), "spatial_shapes": ((1, 2), "int64")}


def test_a_qformer_gets_its_queries_and_the_states_it_attends_to() -> None:
    spec = describe_type(
        "blip_2_qformer",
        "input_ids",
        [1, 8],
        "long",
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        encoder_hidden_size=24,
        vocab_size=100,
    )
    shapes = made_up(spec)
    assert shapes["query_embeds"] == ((1, 32, 32), "float32")
    assert shapes["encoder_hidden_states"] == ((1, 16, 24), "float32")
    assert "the config names no count" in what(spec, "query_embeds")


def test_an_image_to_text_model_gets_text_with_places_for_the_image() -> None:
    spec = describe_type(
        "kosmos-2",
        "pixel_values",
        [1, 3, 32, 32],
        text_config={"embed_dim": 32, "layers": 1, "attention_heads": 2, "ffn_dim": 37, "vocab_size": 100},
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        latent_query_num=4,
    )
    shapes = made_up(spec)
    assert shapes["input_ids"] == ((1, 20), "int64")
    assert shapes["image_embeds_position_mask"] == ((1, 20), "int64")
    assert what(spec, "image_embeds_position_mask").startswith("1 at token places 1 to 4")


@pytest.mark.slow
def test_a_conv_model_gets_hidden_states_of_the_channels_its_first_conv_reads() -> None:
    spec = describe_type("vibevoice_acoustic_tokenizer_encoder", "input_values", [1, 1, 3200])
    assert made_up(spec) == {"hidden_states": ((1, 1, 16000), "float32")}
    assert "1 channel (what the first Conv1d reads)" in what(spec, "hidden_states")


def test_a_prompted_segmenter_gets_a_prompt_image_and_mask_like_its_image() -> None:
    spec = describe_type(
        "seggpt",
        "pixel_values",
        [1, 3, 32, 32],
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=[64, 32],
        patch_size=8,
        mlp_dim=32,
        merge_index=0,
        intermediate_hidden_state_indices=[1],
        decoder_hidden_size=8,
    )
    assert made_up(spec) == {
        "prompt_pixel_values": ((1, 3, 32, 32), "float32"),
        "prompt_masks": ((1, 3, 32, 32), "float32"),
    }


@pytest.mark.slow
def test_a_padding_marking_mask_is_false_and_says_so() -> None:
    spec = describe_type("gemma3n_audio", "audio_mel", [1, 64, 128])
    assert made_up(spec) == {"audio_mel_mask": ((1, 64), "bool")}
    assert what(spec, "audio_mel_mask").endswith("(this mask marks padding with True)")


def test_a_language_adapter_model_gets_a_stated_language() -> None:
    spec = describe_type(
        "xmod", "input_ids", [1, 8], "long", num_hidden_layers=1, hidden_size=32, num_attention_heads=2
    )
    assert made_up(spec)["lang_ids"] == ((1,), "int64")
    assert what(spec, "lang_ids") == "language 0 for every sample: the adapter of en_XX, the config's first"


@pytest.mark.slow
def test_companions_of_another_kind_are_dropped_when_the_text_alone_runs() -> None:
    # T5Gemma 2's default config cannot take its own image (its projector pools 14 patches a side to 16);
    # the pass with text companions alone completes, and no image is listed
    spec = describe_type("t5gemma2", "input_ids", [1, 8], "long")
    assert made_up(spec) == {"decoder_input_ids": ((1, 8), "int64"), "attention_mask": ((1, 8), "int64")}


TINY_TOWER = {"hidden_size": 32, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}


def test_a_vision_tower_given_patch_rows_gets_their_mask_and_grid() -> None:
    """Before: the required pixel_attention_mask was dropped (no token ids to shape a mask after)."""
    vision = {**TINY_TOWER, "patch_size": 4, "num_patches": 16}
    spec = describe_type("siglip2_vision_model", "pixel_values", [1, 16, 48], **vision)
    assert made_up(spec) == {"pixel_attention_mask": ((1, 16), "int64"), "spatial_shapes": ((1, 2), "int64")}
    assert what(spec, "pixel_attention_mask") == (
        "ones over the positions of pixel_values: every position is kept (no padding)"
    )


def test_a_two_tower_model_that_places_patches_gets_patch_rows_with_their_mask_and_grid() -> None:
    text = {**TINY_TOWER, "vocab_size": 100}
    vision = {**TINY_TOWER, "patch_size": 4, "num_patches": 16}
    spec = describe_type("siglip2", "input_ids", [1, 8], "long", text_config=text, vision_config=vision)
    shapes = made_up(spec)
    assert shapes["pixel_values"] == ((1, 16, 48), "float32")
    assert (shapes["pixel_attention_mask"], shapes["spatial_shapes"]) == (((1, 16), "int64"), ((1, 2), "int64"))
    assert "4 × 4 patches (the config's num_patches) of 3 × 4 × 4 = 48 values" in what(spec, "pixel_values")


def test_a_trajectory_model_gets_actions_returns_and_step_numbers_beside_its_states() -> None:
    spec = describe_type("decision_transformer", "states", [1, 8, 17], hidden_size=32, n_layer=1, n_head=2, n_inner=32)
    assert made_up(spec) == {
        "actions": ((1, 8, 4), "float32"),
        "rewards": ((1, 8, 1), "float32"),
        "returns_to_go": ((1, 8, 1), "float32"),
        "timesteps": ((1, 8), "int64"),
    }
    assert "(the config's act_dim)" in what(spec, "actions")


def test_a_drafter_gets_the_target_models_context_states() -> None:
    spec = describe_type(
        "muse_glimmer_assistant", "noise_embeds", [1, 16, 32], **TINY_TOWER, num_key_value_heads=2, head_dim=16
    )
    # 5 target layers (the default target_layer_ids) of 32 values side by side
    assert made_up(spec) == {"context_hidden_states": ((1, 16, 160), "float32")}
    assert "its 5 layers named by the config's target_layer_ids" in what(spec, "context_hidden_states")


def test_a_speech_model_without_prenets_gets_decoder_inputs_shaped_like_its_inputs() -> None:
    spec = describe_type(
        "speecht5",
        "input_values",
        [1, 8, 32],
        hidden_size=32,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
    )
    assert made_up(spec) == {"decoder_input_values": ((1, 8, 32), "float32")}


def test_a_model_of_texts_with_images_gets_images_per_text_and_which_tokens_see_them() -> None:
    spec = describe_type(
        "idefics",
        "input_ids",
        [1, 8],
        "long",
        **TINY_TOWER,
        vocab_size=100,
        cross_layer_interval=1,
        vision_config={**TINY_TOWER, "embed_dim": 32, "image_size": 32, "patch_size": 8},
        perceiver_config={"resampler_n_latents": 4, "resampler_depth": 1, "resampler_n_heads": 2},
    )
    shapes = made_up(spec)
    assert shapes["pixel_values"] == ((1, 1, 3, 32, 32), "float32")
    assert shapes["image_attention_mask"] == ((1, 8, 1), "int64")
    sees = "ones (batch × tokens × images): every token sees every image of its text"
    assert what(spec, "image_attention_mask") == sees


def test_made_up_audio_has_the_shape_the_main_example_would_have() -> None:
    """PE Audio's text tower is given: its audio is raw samples with a channel axis, a multiple of the codec's hop."""
    import torch
    from transformers import AutoConfig, AutoModel

    from modeldoc.probe import extra_inputs

    config = AutoConfig.for_model("pe_audio")
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    made = extra_inputs.made_up(model, ["input_ids"], optional=False)
    tokens = torch.ones(1, 16, dtype=torch.long, device="meta")
    built = extra_inputs.build_all(made, {"input_ids": tokens})
    assert {name: tuple(t.shape) for name, t in built.items()} == {"input_values": (1, 1, 17280)}
    assert "the shape modeldoc chooses for input_values (read from audio_config.dac_config.hop_length=1920" in next(
        m.what for m in made if m.name == "input_values"
    )
