"""explain.bookkeeping: the arguments that are no hyperparameters (``config``, ``layer_idx``), set apart."""

from __future__ import annotations

from modeldoc.explain import bookkeeping
from modeldoc.spec import Hyperparam, LayerSpec, UnknownArgument
from tests.helpers.specs import layer

LLAMA = "transformers.models.llama.modeling_llama"


def hf_block(type_: str) -> LayerSpec:
    """A decoder block as the probe reads it: layer_idx read back, config not a plain value."""
    return layer(
        "model.layers.3",
        type_.rsplit(".", 1)[-1],
        (
            Hyperparam(name="layer_idx", value=3, kind="hyperparameter", source="chosen"),
            Hyperparam(name="hidden_size", value=64, kind="hyperparameter", source="chosen"),
        ),
        type=type_,
        unknown_arguments=(UnknownArgument(name="config", reason="stored as a LlamaConfig, not a plain value"),),
    )


def test_a_hugging_face_layer_without_an_entry_sets_config_and_layer_idx_apart() -> None:
    moved = bookkeeping.separate_layer(hf_block(f"{LLAMA}.LlamaDecoderLayer"))
    assert [h.name for h in moved.hyperparameters] == ["hidden_size"]
    assert moved.unknown_arguments == ()
    by_name = {b.name: b for b in moved.bookkeeping}
    assert by_name["layer_idx"].value == 3
    assert by_name["layer_idx"].reason.startswith("the position of this layer in the stack (3), used to find its entry")
    assert by_name["config"].value is None
    assert by_name["config"].reason == (
        "the model's configuration object, which this layer reads its settings from: a convention of transformers, "
        "not a hyperparameter; stored as a LlamaConfig, not a plain value"
    )


def test_a_layer_of_another_library_keeps_its_arguments_as_they_are() -> None:
    block = hf_block("mylib.blocks.DecoderLayer")
    assert bookkeeping.separate_layer(block) is block


def test_an_entry_marks_bookkeeping_with_its_own_reason() -> None:
    attention = layer(
        "model.layers.0.self_attn",
        "LlamaAttention",
        (
            Hyperparam(name="layer_idx", value=0, kind="hyperparameter", source="chosen", reason="from the entry"),
            Hyperparam(name="head_dim", value=16, kind="hyperparameter", source="chosen"),
        ),
        type=f"{LLAMA}.LlamaAttention",
    )
    moved = bookkeeping.separate_layer(attention)
    assert [(b.name, b.value, b.reason) for b in moved.bookkeeping] == [("layer_idx", 0, "from the entry")]
    assert [h.name for h in moved.hyperparameters] == ["head_dim"]
