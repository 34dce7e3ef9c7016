"""The example input modeldoc chooses for a Hugging Face model given without one (`modeldoc.probe.hf_example`).

Real transformers configs: full size on the meta device for the shape the rules read (nothing is
downloaded, nothing runs), tiny ones on the CPU for the pages, the JSON and the command line that
say the example was modeldoc's choice and from which keys.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
import torch

from modeldoc.options import model_options
from tests.helpers.run import inspect_json, invoke
from tests.helpers.specs import check_round_trip

transformers = pytest.importorskip("transformers")

from modeldoc.probe import hf_example  # noqa: E402 - after the skip: it needs torch and reads transformers models

TINY_LLAMA = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
}
TINY_VIT = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 1,
    "num_attention_heads": 4,
    "image_size": 32,
    "patch_size": 8,
    "num_channels": 3,
}


def chosen(model_type: str) -> hf_example.Chosen:
    """The example modeldoc chooses for `model_type` built from its default config on the meta device."""
    config = transformers.AutoConfig.for_model(model_type)
    with torch.device("meta"):
        model = transformers.AutoModel.from_config(config)
    return hf_example.choose(model, config)


@pytest.mark.parametrize(
    ("model_type", "name", "shape", "read"),
    [
        ("llama", "input_ids", (1, 16), "main_input_name=input_ids"),
        ("vit", "pixel_values", (1, 3, 224, 224), "image_size=224"),
        ("whisper", "input_features", (1, 80, 3000), "max_source_positions=1500"),
        ("wav2vec2", "input_values", (1, 16000), "main_input_name=input_values"),
        # raw audio rounded up to the product of the patch sizes 16·6·5·4 = 1920
        ("muse_spark_audio", "input_values", (1, 17280), "patch_sizes=(16, 6, 5, 4)"),
        # flattened patches: rows × the patch embedding's in_features, 16 × 16 patches (no image size in the config)
        ("cosmos3_edge_vision", "pixel_values", (256, 768), "the patch embedding's in_features (768)"),
        # the smallest of the scaled images still holds one 384-pixel patch: 384 / 0.25
        ("depth_pro", "pixel_values", (1, 3, 1536, 1536), "scaled_images_ratios=(0.25, 0.5, 1)"),
        # RF-DETR windows its patches: 518 rounded down to whole windows of 4 × 14 pixels
        ("rf_detr", "pixel_values", (1, 3, 504, 504), "backbone_config.num_windows=4"),
        ("efficientloftr", "pixel_values", (1, 2, 3, 224, 224), "model_type=efficientloftr (matches a pair of images)"),
        ("kyutai_speech_to_text", "input_ids", (1, 16, 33), "num_codebooks=32"),
        # a conformer whose config names no mel count: 1024 = 32 channels × (128 features / 4)
        ("gemma4_audio", "input_features", (1, 128, 128), "then a Linear of in_features 1024: 128 features"),
        # 8 frames of 128 mels stacked into the first Linear's 1024 inputs
        ("nemotron3_5_transcribe_audio", "input_features", (1, 128, 128), "subsampling_factor=8"),
        # a feature projection reads first: its LayerNorm's width
        ("wav2vec2-bert", "input_features", (1, 128, 160), "the first LayerNorm's width (160)"),
        # a Qwen-VL vision tower: its forward's hidden_states are flattened patches (its main_input_name is input_ids)
        ("qwen2_5_vl_vision", "hidden_states", (256, 1176), "the patch embedding's in_channels × kernel (1176)"),
        # the forward calls its input_values hidden_states: read as raw audio, a multiple of hop_length 3200
        ("vibevoice_acoustic_tokenizer_encoder", "hidden_states", (1, 1, 16000), "read as input_values"),
        # a decoder's latents named hidden_states, channels first for its first Conv1d
        ("vibevoice_acoustic_tokenizer_decoder", "hidden_states", (1, 64, 16), "the first Conv1d's in_channels (64)"),
        # a codec's latents: channels first, read from the first ConvTranspose1d
        ("mimi_decoder", "latents", (1, 512, 16), "the first ConvTranspose1d's in_channels (512)"),
        # mel frames by another name: Gemma 3n's audio_mel, 128 frames × the config's 128 mels (input_feat_size)
        ("gemma3n_audio", "audio_mel", (1, 128, 128), "read as input_features (audio_mel names mel frames)"),
        # Qwen's audio encoder cuts the mel frames into chunks of 2 · n_window = 100: 128 rounded up to 200
        ("qwen3_asr_encoder", "input_features", (1, 128, 200), "mel frames in whole chunks of 2·n_window = 100"),
        # SegGPT stacks the prompt image above the image: the config's 896 × 448 holds both, each 448 × 448
        ("seggpt", "pixel_values", (1, 3, 448, 448), "the forward takes prompt_pixel_values"),
        # SigLIP 2 places its patches (spatial_shapes): 256 patches (num_patches) of 3 × 16 × 16 values
        ("siglip2_vision_model", "pixel_values", (1, 256, 768), "num_patches=256"),
        # the forward's docstring gives the waveform a channel axis; the samples a multiple of hop_length
        ("neucodec", "input_values", (1, 1, 16320), "the forward's docstring: input_values of shape (batch_size, 1"),
        ("xcodec2", "input_values", (1, 1, 16000), "hop_length=320"),
        # the audio tower's codec config is two levels down (audio_config.dac_config)
        ("pe_audio_encoder", "input_values", (1, 1, 17280), "dac_config.hop_length=1920"),
        # Kimi's forward takes no input_ids, its main_input_name: its first parameter is read instead
        (
            "kimi_k25_vision",
            "pixel_values",
            (256, 3, 14, 14),
            "model_type=kimi_k25_vision (each patch an image of its own)",
        ),
    ],
)
def test_the_default_example_of_a_real_config_has_the_shape_its_config_and_first_layers_give(
    model_type: str, name: str, shape: tuple[int, ...], read: str
) -> None:
    got = chosen(model_type)
    assert (got.input.keyword, got.input.shape) == (name, shape)
    assert any(read in text for text in got.reads), got.reads
    assert f"modeldoc chose {got.shape_text()} from the model's config" in got.sentence()


def test_flattened_patches_have_no_batch_axis_to_vary() -> None:
    got = chosen("cosmos3_edge_vision")
    assert got.input.axis_names == ("", "")
    assert chosen("vit").input.axis_names[0] == "N"


def describe_tiny(config_class: str, kwargs: dict[str, int], *shapes: str) -> dict:
    from modeldoc.pipeline import describe

    options = model_options({"target": f"transformers:{config_class}", "kwargs": kwargs, "input_shapes": list(shapes)})
    return check_round_trip(describe(options)).to_json()


def test_a_config_target_without_an_input_is_probed_with_the_chosen_example_and_says_so() -> None:
    doc = describe_tiny("ViTConfig", TINY_VIT)
    trace = doc["trace"]
    assert trace["complete"] and doc["probe_error"] == ""
    assert [(i["name"], i["shape"]) for i in doc["input"]] == [("pixel_values", [1, 3, 32, 32])]
    assert trace["example_chosen"] == (
        "no example input was given, so modeldoc chose pixel_values: N=1 × 3 × 32 × 32 float32 from the model's "
        "config and first layers (read from main_input_name=pixel_values, num_channels=3, image_size=32); pass "
        "--input-shape to probe another"
    )


def test_an_explicit_input_shape_wins_and_is_not_called_chosen() -> None:
    doc = describe_tiny("ViTConfig", TINY_VIT, "pixel_values:2,3,32,32")
    assert doc["trace"]["complete"]
    assert [i["shape"] for i in doc["input"]] == [[2, 3, 32, 32]]
    assert "example_chosen" not in doc["trace"]


def test_a_model_that_is_not_from_transformers_still_gets_no_example() -> None:
    from modeldoc.pipeline import describe

    spec = describe(model_options({"target": "tests.models:Tiny"}))
    assert spec.trace is None and spec.probe_error.startswith("no example input was given")


def test_the_command_line_builds_a_config_target_with_no_input_shape_with_a_complete_probe(tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = invoke("build", "transformers:LlamaConfig", "--kwargs", json.dumps(TINY_LLAMA), "--out", str(out))
    assert result.exit_code == 0, result.output
    page = html.unescape((out / "llamaconfig" / "index.html").read_text(encoding="utf-8"))
    assert "Example input chosen by modeldoc" in page
    assert "modeldoc chose input_ids: N=1 × L=16 long" in page
    assert "Shape probe" not in page  # the warning a partial or missing probe shows
    doc = inspect_json("transformers:LlamaConfig", "--kwargs", json.dumps(TINY_LLAMA))
    assert doc["trace"]["complete"] and doc["output"][0]["shape"] == [1, 16, 32]
    terminal = invoke("inspect", "transformers:LlamaConfig", "--kwargs", json.dumps(TINY_LLAMA))
    assert terminal.exit_code == 0
    assert "chosen no example input was given, so modeldoc chose input_ids" in terminal.output


def test_a_saved_config_json_without_an_input_shape_is_probed_with_the_chosen_example(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    transformers.ViTConfig(**TINY_VIT).save_pretrained(folder)
    doc = inspect_json(str(folder / "config.json"))
    assert doc["trace"]["complete"]
    assert "read from main_input_name=pixel_values, num_channels=3, image_size=32" in doc["trace"]["example_chosen"]


class _StatesModel(torch.nn.Module):
    """A model read by state vectors, whose forward also takes an optional attention mask and fails without it."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = torch.nn.Linear(4, 8)

    def forward(self, states: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        if attention_mask is None:
            raise ValueError("this model needs the attention_mask of its states")
        return self.embed(states)


def test_no_mask_is_made_up_without_token_ids_to_shape_it_after_and_the_probe_still_runs() -> None:
    """Before: making the mask raised inside the probe (an internal error, no trace: the zoo's "not-run" rows)."""
    from tests.helpers.specs import describe_live

    spec = describe_live(_StatesModel(), "states:1,16,4")
    assert spec.trace is not None and not spec.trace.complete
    assert "internal error" not in spec.probe_error
    assert "this model needs the attention_mask of its states" in spec.probe_error


@pytest.mark.slow
@pytest.mark.parametrize(
    "model_type", ["gemma3n_audio", "qwen3_asr_encoder", "seggpt", "siglip2_vision_model", "xcodec2"]
)
def test_the_chosen_example_of_a_full_config_built_on_meta_is_probed_to_the_end(model_type: str) -> None:
    """Before: each stopped part-way (or failed) on a main example of the wrong shape."""
    from modeldoc.pipeline import describe_module

    config = transformers.AutoConfig.for_model(model_type)
    with torch.device("meta"):
        model = transformers.AutoModel.from_config(config)
    spec = check_round_trip(describe_module(model, model_options({"target": f"transformers:{type(model).__name__}"})))
    got = hf_example.choose(model, config)
    assert spec.trace is not None and spec.trace.complete, spec.probe_error
    assert [tuple(i.shape) for i in spec.inputs][:1] == [got.input.shape]
    assert spec.to_json()["trace"]["example_chosen"] == got.sentence()
