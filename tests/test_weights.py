"""The weights' values: statistics, thumbnails, pictures (real PNG files), and --weights loading.

Statistics are checked against torch computing them whole; pictures are decoded back from the
PNG bytes modeldoc wrote; loading is checked on the tensors of the model afterwards.
"""

from __future__ import annotations

import math
import struct
import zlib

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from modeldoc import pictures
from modeldoc.errors import CheckpointError
from modeldoc.examples.digits import WEIGHTS
from modeldoc.examples.digits import Network as Digits
from modeldoc.examples.llama import Llama
from modeldoc.options import model_options
from modeldoc.pipeline import describe, describe_module
from modeldoc.probe import checkpoint, weights
from tests.helpers.specs import check_round_trip


def decode_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of a PNG modeldoc wrote (8-bit RGB, filter 0 on every row)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length : position + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, colour, *_ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, colour) == (8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 3 * width
    rows = [raw[i * stride : (i + 1) * stride] for i in range(height)]
    assert all(row[0] == 0 for row in rows)
    return width, height, [row[1:] for row in rows]


@pytest.mark.parametrize("chunk", [7, 1 << 22])
def test_statistics_equal_torch_s_on_the_whole_tensor(monkeypatch, chunk):
    monkeypatch.setattr(weights, "CHUNK", chunk)
    torch.manual_seed(1)
    tensor = torch.randn(37, 11) * 3 + 0.5
    tensor[0, :5] = 0
    stats = weights.tensor_stats(tensor)
    assert stats is not None
    whole = tensor.double()
    assert stats.mean == pytest.approx(float(whole.mean()), rel=1e-9)
    assert stats.std == pytest.approx(float(whole.std(unbiased=False)), rel=1e-9)
    assert (stats.min, stats.max) == (float(whole.min()), float(whole.max()))
    assert stats.zeros == pytest.approx(5 / tensor.numel())
    assert stats.norm == pytest.approx(float(whole.norm()), rel=1e-9)
    assert sum(stats.histogram) == tensor.numel() and len(stats.histogram) == weights.BINS
    expected = torch.histc(whole, bins=weights.BINS, min=stats.min, max=stats.max)
    assert list(stats.histogram) == [int(c) for c in expected.tolist()]


def test_meta_tensors_have_no_statistics_and_non_finite_values_are_counted_apart():
    assert weights.tensor_stats(torch.empty(3, 3, device="meta")) is None
    stats = weights.tensor_stats(torch.tensor([1.0, float("nan"), 3.0, float("inf")]))
    assert stats is not None and stats.nonfinite == 2 and stats.mean == 2.0


def test_a_thumbnail_averages_blocks_band_by_band(monkeypatch):
    monkeypatch.setattr(weights, "BAND", 50)  # a few rows at a time
    matrix = torch.arange(40 * 30, dtype=torch.float32).reshape(40, 30)
    shrunk = weights.thumbnail(matrix, 10)
    expected = torch.nn.functional.adaptive_avg_pool2d(matrix[None, None], (10, 10))[0, 0]
    assert torch.allclose(torch.tensor(shrunk), expected)
    assert weights.thumbnail(matrix[:5, :6], 10) == matrix[:5, :6].tolist()


def test_the_frame_stands_out_on_both_palettes_and_zero_is_neutral():
    for background in pictures.PAGE_BACKGROUNDS.values():
        assert pictures.contrast(pictures.FRAME, background) >= 3.0
    assert pictures.colour(0.0, 1.0) == pictures.DIVERGING[2]
    assert pictures.colour(-1.0, 1.0) == pictures.DIVERGING[0]
    assert pictures.colour(5.0, 1.0) == pictures.DIVERGING[-1]
    # the two ends differ in lightness from the middle, not only in hue
    middle = pictures.luminance(pictures.DIVERGING[2])
    assert all(middle - pictures.luminance(end) > 0.5 for end in (pictures.DIVERGING[0], pictures.DIVERGING[-1]))


def test_the_trained_digits_get_statistics_and_pictures_of_their_filters_and_matrices():
    spec = check_round_trip(
        describe(
            model_options(
                {"target": "modeldoc.examples.digits:Network", "input_shape": [1, 1, 8, 8], "weights": str(WEIGHTS)}
            )
        )
    )
    assert spec.checkpoint is not None and spec.checkpoint.complete and spec.checkpoint.loaded == 10
    trained = Digits()
    from safetensors.torch import load_file

    trained.load_state_dict(load_file(str(WEIGHTS)))
    conv1 = next(p for p in spec.layer("conv1").parameters if p.local_name == "weight")
    assert conv1.stats is not None
    assert conv1.stats.mean == pytest.approx(float(trained.conv1.weight.detach().double().mean()))
    files = {picture.file: picture for picture in spec.pictures}
    assert set(files) == {"conv1.weight.png", "conv2.weight.png", "fc1.weight.png", "fc2.weight.png", "out.weight.png"}
    width, height, rows = decode_png(files["conv2.weight.png"].data)
    # 12 filters × 6 depth slices of 3 × 3, one grid line between cells and around
    assert (width, height) == (6 * 4 + 1, 12 * 4 + 1)
    grey = bytes(pictures.FRAME)
    assert rows[0] == grey * width and all(row[:3] == grey for row in rows)
    assert "All 12 filters of conv2.weight (12 × 6 × 3 × 3)" in files["conv2.weight.png"].alt
    width, height, _ = decode_png(files["fc2.weight.png"].data)
    assert (width, height) == (pictures.MAX_MATRIX + 2, 60 + 2)  # 60 × 120 averaged to at most 96 wide
    assert "each pixel the mean of a block" in files["fc2.weight.png"].alt


def test_attention_heads_are_split_by_the_model_s_head_counts():
    torch.manual_seed(0)
    model = Llama(vocab_size=50, dim=32, n_layers=1, n_heads=4, n_kv_heads=2, hidden_dim=48)
    spec = describe_module(model, model_options({"target": "m:Llama", "show_weights": True}))
    heads = [p for p in spec.pictures if p.kind == "heads"]
    assert len(heads) == 1 and heads[0].layer == "layers.0.attn"
    width, height, _ = decode_png(heads[0].data)
    # q: 4 heads of 8 rows × 32 columns; k and v: 2 heads each; blocks side by side in 3 rows
    assert (width, height) == (4 * (32 + 1) + 1, 3 * (8 + 1) + 1)
    assert "all 4 heads of layers.0.attn.q_proj" in heads[0].caption


def test_reading_the_values_leaves_the_model_as_it_came():
    torch.manual_seed(0)
    model = Digits()
    model.conv1.weight.requires_grad_(False)
    before = {name: (t, t.detach().clone(), t.requires_grad) for name, t in model.state_dict(keep_vars=True).items()}
    describe_module(model, model_options({"target": "m:Net", "show_weights": True}))
    after = model.state_dict(keep_vars=True)
    for name, (tensor, values, grad) in before.items():
        assert after[name] is tensor and torch.equal(tensor, values) and tensor.requires_grad == grad


def test_weights_load_into_a_model_on_the_meta_device_and_keep_ties(tmp_path):
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(10, 4)
            self.head = nn.Linear(4, 10, bias=False)
            self.head.weight = self.embed.weight

    values = torch.arange(40, dtype=torch.float32).reshape(10, 4)
    save_file({"embed.weight": values}, str(tmp_path / "tied.safetensors"))
    with torch.device("meta"):
        model = Tied()
    report = checkpoint.load_into(model, str(tmp_path / "tied.safetensors"))
    assert report.complete and report.loaded == 1  # head.weight is embed.weight: loaded through the tie
    assert torch.equal(model.embed.weight, values) and model.head.weight is model.embed.weight
    assert model.embed.weight.requires_grad


def test_a_checkpoint_that_does_not_fit_is_reported_by_name(tmp_path):
    state = Digits().state_dict()
    state["fc1.weight"] = torch.zeros(120, 32)
    del state["out.bias"]
    state["extra.weight"] = torch.zeros(2)
    save_file(state, str(tmp_path / "off.safetensors"))
    model = Digits()
    original = model.out.bias.detach().clone()
    report = checkpoint.load_into(model, str(tmp_path / "off.safetensors"))
    assert report.missing == ("out.bias",)
    assert report.unexpected == ("extra.weight",)
    assert [(m.name, m.model_shape, m.file_shape) for m in report.mismatched] == [("fc1.weight", (120, 48), (120, 32))]
    assert report.loaded == 8
    assert torch.equal(model.out.bias, original)
    assert torch.equal(model.conv1.weight, state["conv1.weight"])


def test_a_checkpoint_with_none_of_the_model_s_tensors_is_an_error(tmp_path):
    save_file({"something.else": torch.zeros(3)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(CheckpointError, match="holds none of the model's tensors"):
        checkpoint.load_into(Digits(), str(tmp_path / "other.safetensors"))


def test_a_weights_only_description_with_show_weights_reads_the_file_tensor_by_tensor():
    spec = check_round_trip(describe(model_options({"target": str(WEIGHTS), "show_weights": True})))
    stats = {p.name: p.stats for layer in spec.all_layers for p in layer.parameters}
    assert all(s is not None and math.isfinite(s.norm) for s in stats.values())
    assert {p.kind for p in spec.pictures} == {"filters", "matrix"}
