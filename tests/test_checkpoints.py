"""Checkpoints described from their tensors alone: real files written here (safetensors, torch.save, shards).

Every file is written by the test from a bundled example or a Hugging Face model built from a
small config; the description must hold the file's exact names, shapes, dtypes and byte counts,
group the tensors into the model's layers, and say what each inferred type rests on.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file, save_model
from torch import nn

from modeldoc import checkpoints
from modeldoc.examples.digits import WEIGHTS
from modeldoc.examples.digits import Network as Digits
from modeldoc.examples.fashion import Network as Fashion
from modeldoc.examples.text import TextClassifier
from modeldoc.examples.transformer import EncoderClassifier
from modeldoc.options import model_options
from modeldoc.pipeline import describe
from modeldoc.spec import ModelSpec
from tests.helpers.specs import check_round_trip


def describe_file(path: Path, **entry: object) -> ModelSpec:
    return check_round_trip(describe(model_options({"target": str(path), **entry})))


def layer_types(spec: ModelSpec) -> dict[str, str]:
    return {layer.path: layer.type_name for layer in spec.layers}


@pytest.fixture
def fashion_files(tmp_path):
    torch.manual_seed(0)
    model = Fashion()
    state = model.state_dict()
    save_file(state, str(tmp_path / "fashion.safetensors"))
    torch.save(state, tmp_path / "fashion.pt")
    return model, tmp_path


def test_a_safetensors_file_is_described_with_the_file_s_exact_tensors(fashion_files):
    model, folder = fashion_files
    spec = describe_file(folder / "fashion.safetensors")
    assert spec.checkpoint is not None and spec.checkpoint.weights_only and spec.checkpoint.format == "safetensors"
    assert spec.checkpoint.size == (folder / "fashion.safetensors").stat().st_size
    assert layer_types(spec) == {
        "conv1": "Conv2d",
        "conv2": "Conv2d",
        "fc1": "Linear",
        "fc2": "Linear",
        "out": "Linear",
    }
    tensors = {p.name: p for layer in spec.all_layers for p in layer.parameters}
    assert set(tensors) == set(model.state_dict())
    for name, value in model.state_dict().items():
        assert tensors[name].shape == tuple(value.shape)
        assert tensors[name].dtype == "float32"
        assert tensors[name].nbytes == value.numel() * 4
    assert spec.total_params == sum(p.numel() for p in model.parameters())
    conv1 = spec.layer("conv1")
    values = {h.name: h.value for h in conv1.hyperparameters}
    assert values == {"in_channels": 1, "out_channels": 6, "kernel_size": [5, 5], "bias": True}
    assert all(h.inferred and h.evidence for h in conv1.hyperparameters)
    assert conv1.inferred and "4-D weight (6 × 1 × 5 × 5)" in conv1.evidence
    assert tensors["conv1.weight"].axes == ("filters", "depth", "height", "width")
    fc1 = {h.name: h.value for h in spec.layer("fc1").hyperparameters}
    assert fc1 == {"in_features": 192, "out_features": 120, "bias": True}
    assert "no code was run" in spec.probe_error
    assert spec.trace is None and spec.macs == 0


def test_a_torch_save_state_dict_reads_the_same_and_keeps_its_order(fashion_files):
    _, folder = fashion_files
    from_safetensors = describe_file(folder / "fashion.safetensors")
    from_torch = describe_file(folder / "fashion.pt")
    assert from_torch.checkpoint is not None and from_torch.checkpoint.format == "torch"
    assert layer_types(from_torch) == layer_types(from_safetensors)
    assert [p.name for layer in from_torch.all_layers for p in layer.parameters] == list(Fashion().state_dict())


def test_a_training_checkpoint_is_read_from_its_state_dict_entry(tmp_path):
    state = Digits().state_dict()
    torch.save({"epoch": 3, "state_dict": state, "optimizer": {"lr": 0.1}}, tmp_path / "run.ckpt")
    spec = describe_file(tmp_path / "run.ckpt")
    assert spec.checkpoint is not None and spec.checkpoint.entry == "state_dict"
    assert spec.total_params == sum(v.numel() for v in state.values())


def test_non_tensor_entries_beside_tensors_are_left_out_and_said(tmp_path):
    torch.save({"weight": torch.zeros(3, 2), "step": 7}, tmp_path / "mixed.pt")
    spec = describe_file(tmp_path / "mixed.pt")
    assert [p.name for p in spec.root.parameters] == ["weight"]
    assert any("'step'" in w and "left out" in w for w in spec.warnings)


def test_gpt2_from_a_config_is_recognised_by_its_names_and_shapes(tmp_path):
    from transformers import GPT2Config, GPT2Model

    torch.manual_seed(0)
    model = GPT2Model(GPT2Config(n_embd=32, n_layer=3, n_head=4, vocab_size=100, n_positions=16))
    save_model(model, str(tmp_path / "gpt2.safetensors"))
    spec = describe_file(tmp_path / "gpt2.safetensors")
    types = layer_types(spec)
    assert types["wte"] == types["wpe"] == "Embedding"
    assert types["h.0.ln_1"] == "LayerNorm"
    # GPT-2's Conv1D stores in × out: its bias is as long as the second axis
    assert types["h.0.attn.c_attn"] == "Linear (stored transposed)"
    c_attn = {h.name: h.value for h in spec.layer("h.0.attn.c_attn").hyperparameters}
    assert c_attn["in_features"] == 32 and c_attn["out_features"] == 96
    assert "3 projections stacked" in spec.layer("h.0.attn.c_attn").summary
    assert types["h"] == "ModuleList"
    assert any("h.0 … h.2: 3 blocks whose tensors have the same names" in n for n in spec.layer("h").notes)


def test_llama_from_a_config_shows_attention_gated_feed_forward_and_rms_norm(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "llama.safetensors"))
    spec = describe_file(tmp_path / "llama.safetensors")
    types = layer_types(spec)
    assert types["model.layers.0.self_attn"] == "Attention"
    assert types["model.layers.0.mlp"] == "GatedFeedForward"
    assert types["model.layers.0.input_layernorm"] == "RMSNorm"
    assert types["model.embed_tokens"] == "Embedding"
    k_proj = {h.name: h.value for h in spec.layer("model.layers.0.self_attn.k_proj").hyperparameters}
    assert k_proj == {"in_features": 32, "out_features": 16, "bias": False}  # 2 key/value heads of 8
    # numbered blocks come in number order, not the file's alphabetical one
    paths = [layer.path for layer in spec.layers if layer.parent == "model.layers"]
    assert paths == ["model.layers.0", "model.layers.1"]


def test_recurrent_and_multihead_attention_layers_are_recognised(tmp_path):
    save_file(TextClassifier().state_dict(), str(tmp_path / "text.safetensors"))
    text = describe_file(tmp_path / "text.safetensors")
    lstm = text.layer("lstm")
    assert lstm.type_name == "LSTM"
    values = {h.name: h.value for h in lstm.hyperparameters}
    reference = TextClassifier().lstm
    assert values["hidden_size"] == reference.hidden_size
    assert values["input_size"] == reference.input_size
    assert values["num_layers"] == reference.num_layers
    model = EncoderClassifier()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "enc.safetensors"))
    spec = describe_file(tmp_path / "enc.safetensors")
    attention = [layer for layer in spec.layers if layer.type_name == "MultiheadAttention"]
    assert attention, layer_types(spec)


def test_batch_norm_running_statistics_are_buffers(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    torch.save(model.state_dict(), tmp_path / "bn.pt")
    spec = describe_file(tmp_path / "bn.pt")
    bn = spec.layer("1")
    assert bn.type_name == "BatchNorm"
    buffers = {p.local_name for p in bn.parameters if p.is_buffer}
    assert buffers == {"running_mean", "running_var", "num_batches_tracked"}
    assert spec.total_params == 3 * 4 * 9 + 4 + 4 + 4
    assert spec.buffer_elements == 4 + 4 + 1


def test_unknown_tensors_are_said_to_be_unknown_not_guessed():
    entries = (checkpoints.TensorEntry("blob.table", (3, 4, 5, 6, 7, 8), "float32", 4 * 20160),)
    spec = checkpoints.describe_checkpoint(_checkpoint("x.safetensors", 1), entries)
    assert spec.layer("blob").type_name == "Unknown"
    assert "match none of the layouts" in spec.layer("blob").evidence


def _checkpoint(file: str, tensors: int):
    from modeldoc.spec import CheckpointSpec

    return CheckpointSpec(file=file, format="safetensors", size=0, tensors=tensors, weights_only=True)


def test_a_sharded_checkpoint_is_read_through_its_index(tmp_path):
    state = Fashion().state_dict()
    names = list(state)
    first, second = names[:4], names[4:]
    save_file({n: state[n] for n in first}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({n: state[n] for n in second}, str(tmp_path / "model-00002-of-00002.safetensors"))
    weight_map = dict.fromkeys(first, "model-00001-of-00002.safetensors")
    weight_map |= dict.fromkeys(second, "model-00002-of-00002.safetensors")
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    spec = describe_file(tmp_path / "model.safetensors.index.json")
    assert spec.checkpoint is not None and spec.checkpoint.shards == 2 and spec.checkpoint.tensors == len(names)
    assert layer_types(spec)["conv1"] == "Conv2d"


def test_the_shipped_digits_checkpoint_records_how_it_was_trained():
    spec = describe_file(WEIGHTS)
    assert spec.checkpoint is not None
    metadata = spec.checkpoint.metadata
    assert float(metadata["held_out_accuracy"]) > 0.9
    assert "load_digits" in metadata["data"]
    assert spec.layer("fc1").hyperparameters[0].value == 48  # 12 × 2 × 2 for the 8×8 images
    assert WEIGHTS.stat().st_size < 80_000


def sparse_safetensors(path: Path, shapes: dict[str, tuple[int, ...]]) -> int:
    """Test data: a safetensors file of float16 zeros of any size, written sparse (header, then a hole).

    The header follows the documented format (8-byte little-endian length, JSON, raw data);
    only test data are written by hand: the reader under test is the safetensors package.
    """
    header: dict[str, object] = {}
    offset = 0
    for name, shape in shapes.items():
        size = 2
        for s in shape:
            size *= s
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(text)) + text)
        out.truncate(8 + len(text) + offset)
    return offset


def test_only_the_header_of_a_big_safetensors_file_is_read(tmp_path, monkeypatch):
    import safetensors

    path = tmp_path / "big.safetensors"
    data = sparse_safetensors(path, {"embed.weight": (65536, 8192), "layers.0.proj.weight": (8192, 8192)})
    assert data > 1_000_000_000
    used: list[str] = []
    real_open = safetensors.safe_open

    class Recording:
        """safe_open, with every method the reader calls on the file and on its slices recorded."""

        def __init__(self, *args: object, **kwargs: object) -> None:
            self.handle = real_open(*args, **kwargs)

        def __enter__(self) -> Recording:
            self.handle.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.__exit__(*exc)

        def __getattr__(self, name: str) -> object:
            used.append(name)
            attribute = getattr(self.handle, name)
            if name != "get_slice":
                return attribute

            def get_slice(key: str) -> object:
                part = attribute(key)
                return type(
                    "Slice", (), {m: _recorded(used, part, m) for m in ("get_shape", "get_dtype", "__getitem__")}
                )()

            return get_slice

    monkeypatch.setattr(safetensors, "safe_open", Recording)
    spec = describe_file(path)
    assert spec.total_params == 65536 * 8192 + 8192 * 8192
    assert spec.bytes_by_dtype == {"float16": data}
    assert used, "the reader did not go through safetensors.safe_open"
    assert set(used) <= {"keys", "metadata", "get_slice", "get_shape", "get_dtype"}, used


def _recorded(used: list[str], part: object, method: str) -> object:
    def call(self: object, *args: object) -> object:
        used.append(method)
        return getattr(part, method)(*args)

    return call
