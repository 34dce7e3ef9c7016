"""arithmetic: the shape arithmetic of derivations and knowledge formulas, checked against torch where it can be."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F

from modeldoc.arithmetic import (
    Formula,
    expected_size,
    index_map,
    kernel_text,
    per_axis,
    permuted_axis,
    pool_text,
    reshape_groups,
    slice_length,
    slice_text,
    window_size,
)


def test_window_sizes_match_torch_pooling_and_convolution() -> None:
    checked = 0
    for size, kernel, stride, dilation, ceil_mode in itertools.product(
        (5, 7, 8, 12), (1, 2, 3), (1, 2, 3), (1, 2), (False, True)
    ):
        for padding in range(kernel // 2 + 1):
            if size + 2 * padding < dilation * (kernel - 1) + 1:
                continue
            x = torch.empty(1, 1, size, device="meta")
            pooled = F.max_pool1d(x, kernel, stride, padding, dilation, ceil_mode).shape[-1]
            ours = window_size(size, kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode)
            assert ours is not None and ours[0] == pooled, (size, kernel, stride, padding, dilation, ceil_mode)
            assert ours[1].value == pooled
            conv = F.conv1d(x, torch.empty(1, 1, kernel, device="meta"), None, stride, padding, dilation).shape[-1]
            assert window_size(size, kernel, stride=stride, padding=padding, dilation=dilation)[0] == conv  # type: ignore[index]
            for output_padding in range(min(stride, dilation)):
                weight = torch.empty(1, 1, kernel, device="meta")
                up = F.conv_transpose1d(x, weight, None, stride, padding, output_padding, 1, dilation).shape[-1]
                got = window_size(
                    size,
                    kernel,
                    stride=stride,
                    padding=padding,
                    dilation=dilation,
                    output_padding=output_padding,
                    transposed=True,
                )
                assert got is not None and got[0] == up
            checked += 1
    assert checked > 100
    assert window_size(12, 5)[1].text == "⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 8"  # type: ignore[index]
    assert window_size(9, 3, padding="same") == (9, Formula.sentence("padding='same' keeps 9", 9))
    assert window_size(9, 3, padding="same")[1].text == "padding='same' keeps 9"  # type: ignore[index]
    assert window_size(9, 3, padding="valid")[0] == 7  # type: ignore[index]
    assert window_size(9, 3, padding="circular") is None
    assert window_size(2, 5) is None  # a window wider than the padded input


def test_window_formulas_keep_their_parts() -> None:
    dropped = window_size(5, 2, stride=2, padding=1, ceil_mode=True)
    assert dropped is not None
    assert dropped[0] == F.max_pool1d(torch.empty(1, 1, 5, device="meta"), 2, 2, 1, ceil_mode=True).shape[-1]
    assert dropped[1] == Formula(
        "⌈(5 + 2·1 − 1·(2 − 1) − 1) / 2⌉ + 1 − 1", 3, "rounded", note="the last window would start in the padding"
    )
    assert dropped[1].text == "⌈(5 + 2·1 − 1·(2 − 1) − 1) / 2⌉ + 1 − 1 = 3 (the last window would start in the padding)"
    up = window_size(4, 3, stride=2, padding=1, output_padding=1, transposed=True)
    assert up == (8, Formula("(4 − 1)·2 − 2·1 + 1·(3 − 1) + 1 + 1", 8))


def test_a_formula_renders_its_text_and_the_size_a_mismatch_message_repeats() -> None:
    product = Formula("4 × 5", 20)
    assert (product.text, product.size_text()) == ("4 × 5 = 20", "20 = 4 × 5")
    rounded = Formula("⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1", 8, "rounded")
    assert (rounded.text, rounded.size_text()) == ("⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 8", "8")
    named = Formula.named("conv1.out_channels", 6)
    assert (named.text, named.size_text()) == ("conv1.out_channels = 6", "6")
    sentence = Formula.sentence("3 tensors", 3)
    assert (sentence.text, sentence.size_text()) == ("3 tensors", "3")
    assert Formula("7", 7).size_text() == "7"  # nothing to add to the number itself


def test_reshape_groups_index_maps_and_slices() -> None:
    assert reshape_groups((1, 12, 4, 4), (1, 192)) == [([1, 2, 3], [1])]
    assert reshape_groups((2, 5, 24), (2, 5, 4, 6)) == [([0], [0]), ([1], [1]), ([2], [2, 3])]
    assert reshape_groups((6, 4), (4, 6)) == [([0, 1], [0, 1])]
    assert reshape_groups((3, 4), (5,)) is None
    assert reshape_groups((0, 4), (4, 0)) is None
    full = {"slice": [None, None, None]}
    assert index_map([full, -1], 3) == [(0, full), (2, None)]
    assert index_map(["...", None, 0], 3) == [(0, None), (1, None), None]
    assert index_map([{"tensor": [2]}], 2) is None
    assert slice_length({"slice": [None, -1, None]}, 10) == (9, Formula("10 − 1", 9))
    assert slice_length({"slice": [None, -1, None]}, 10)[1].text == "10 − 1 = 9"
    assert slice_length({"slice": [1, None, 2]}, 10) == (5, Formula("⌈(10 − 1) / 2⌉", 5, "rounded"))
    assert slice_length({"slice": [1, None, 2]}, 10)[1].text == "⌈(10 − 1) / 2⌉ = 5"
    assert slice_length({"slice": [8, 20, None]}, 10)[0] == len(range(10)[8:20])
    assert [slice_text({"slice": s}) for s in ([1, 5, None], [None, None, 2], [None, -1, 1])] == ["1:5", "::2", ":-1"]


def test_permuted_axes_match_torch() -> None:
    x = torch.empty(2, 3, 4, 5, device="meta")
    cases = [
        ("permute", {"dims": [0, 2, 3, 1]}, x.permute(0, 2, 3, 1)),
        ("transpose", {"dim0": 1, "dim1": -1}, x.transpose(1, -1)),
        ("mT", {}, x.mT),
    ]
    for name, args, out in cases:
        for axis in range(4):
            source = permuted_axis(name, args, axis, 4)
            assert source is not None and x.shape[source] == out.shape[axis], (name, axis)
    m = torch.empty(3, 7, device="meta")
    assert [m.shape[permuted_axis("t", {}, a, 2)] for a in range(2)] == list(m.t().shape)  # type: ignore[index]
    assert [x.shape[permuted_axis("T", {}, a, 4)] for a in range(4)] == [5, 4, 3, 2]  # type: ignore[index]
    assert permuted_axis("permute", {"dims": [0, 1]}, 0, 3) is None
    assert permuted_axis("transpose", {"dim0": "a"}, 0, 3) is None


def test_labels_and_per_axis_arguments() -> None:
    assert kernel_text([5, 5], 2, {"stride": [1, 1], "padding": [0, 0], "dilation": [1, 1]}) == "5×5"
    assert kernel_text([3], 1, {"stride": [2], "padding": [1]}) == "3, stride 2, padding 1"
    assert kernel_text([3, 1], 2, {"stride": [2, 1], "padding": "same"}) == "3×1, stride 2×1, padding same"
    assert pool_text({"kernel_size": 2, "stride": None, "padding": 0}) == "kernel 2, stride 2"
    assert pool_text({"kernel_size": [3, 3], "stride": 1, "padding": 1, "dilation": 2, "ceil_mode": True}) == (
        "kernel 3×3, stride 1, padding 1, dilation 2, ceil_mode"
    )
    assert [per_axis(v, 1, 2) for v in (3, [3, 4], [5], [1, 2, 3])] == [3, 4, 5, None]
    assert [expected_size(v) for v in (7, True, [7], (3, 4), [], "x", [1, False])] == [
        7,
        None,
        7,
        (3, 4),
        None,
        None,
        None,
    ]


def test_a_slice_bounded_by_a_tensor_has_no_arithmetic_to_show() -> None:
    assert index_map([{"slice": [None, {"tensor": 3}, None]}], 2) is None
    assert index_map([{"slice": [None, 4, None]}], 2) == [(0, {"slice": [None, 4, None]}), (1, None)]
