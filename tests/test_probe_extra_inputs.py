"""modeldoc.probe.extra_inputs: the inputs a model needs beside the given one, made up and named.

Tiny Hugging Face transformers and diffusers models built on the meta device, given only their
main input as a user typing one ``--input-shape`` would: each stopped part-way before (on a
``None`` where its forward needs a second input), and now traces to the end with the made-up
inputs listed in the trace, the JSON and on the page.
"""

from __future__ import annotations

import html

import pytest

from modeldoc.options import model_options
from modeldoc.pages import render
from modeldoc.spec import MadeUpInput, ModelSpec
from tests.helpers.specs import spec_of

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
