"""modeldoc.probe.multimodal: a made-up image's features get as many image tokens in the text.

A vision-language model scatters its image features into the text where the image token stands,
and stops when the counts differ. Given only token ids, modeldoc makes the image up and places one
image token per feature in the token ids; the made-up inputs say so in the JSON.
"""

from __future__ import annotations

import pytest

from tests.helpers.specs import spec_of

pytest.importorskip("transformers")


@pytest.mark.slow
def test_a_glm4v_captioner_given_token_ids_gets_an_image_and_its_image_tokens() -> None:
    spec = spec_of("tests.multimodal_models:meta_glm4v_captioner", "1,L=16", input_dtype="long")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.probe_error) == ("meta", True, "")
    made = {m["name"]: m for m in spec.to_json()["trace"]["made_up_inputs"]}
    assert list(made) == ["pixel_values", "image_grid_thw", "input_ids", "mm_token_type_ids"]
    # 4 × 4 patches of 14 × 14 pixels × 3 channels × 2 frames, merged 2 × 2 into 4 image features
    assert (made["pixel_values"]["shape"], made["image_grid_thw"]["shape"]) == ([16, 1176], [1, 3])
    assert "2 × 2 image features, so that their image tokens fit in the text" in made["pixel_values"]["what"]
    assert made["input_ids"]["shape"] == [1, 16]
    assert "set to the image token 500 (the config's image_token_id)" in made["input_ids"]["what"]
    assert made["mm_token_type_ids"]["what"].startswith("token types: 1 (image) where input_ids holds the image token")
    # the text axis stays the user's: the image does not grow or shrink with it
    assert spec.outputs[0].dims == (1, "L", 64)


def test_the_token_ids_hold_one_image_token_per_feature_and_the_model_accepts_them() -> None:
    import torch

    from modeldoc.probe import extra_inputs
    from tests.multimodal_models import meta_glm4v_captioner

    module = meta_glm4v_captioner()
    made = extra_inputs.made_up(module, ["input_ids"], optional=False)
    built = extra_inputs.build_all(made, {"input_ids": torch.ones((1, 16), dtype=torch.long)})
    ids, types = built["input_ids"], built["mm_token_type_ids"]
    assert ids.tolist() == [[500] * 4 + [1] * 12]
    assert types.tolist() == [[1] * 4 + [0] * 12]
    assert built["image_grid_thw"].tolist() == [[1, 4, 4]]
