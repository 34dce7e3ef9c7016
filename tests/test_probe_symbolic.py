"""modeldoc.probe.symbolic: the sizes that follow the named input axes, and their labels."""

from __future__ import annotations

from fractions import Fraction
from typing import ClassVar

import pytest
import torch
from torch import nn

from modeldoc.probe import symbolic
from tests.helpers.specs import spec_of


def test_recurrent_model_has_symbolic_batch_and_sequence() -> None:
    spec = spec_of("tests.models:TextLSTM", "N=2,L=7", input_dtype="long")
    assert spec.trace is not None and spec.trace.complete
    assert spec.inputs[0].dims == ("N", "L")
    assert spec.inputs[0].dtype == "int64"
    lstm = spec.layer("lstm")
    assert lstm.input_dims == (("N", "L", 12),)
    assert lstm.output_dims == (("N", "L", 20), (4, "N", 10), (4, "N", 10))
    assert spec.layer("fc").input_dims == (("N", 20),)
    assert spec.output_dims == (("N", 3),)
    getitem = next(op for op in spec.trace.ops if op.name == "getitem")
    assert getitem.arguments["key"] == [{"slice": [None, None, None]}, -1]


def test_labels_products_multiples_and_offsets_of_named_axes() -> None:
    spec = spec_of("tests.models:SequenceDims", "N=2,L=5,4")
    assert [o.dims for o in spec.outputs] == [("N·L", 3), ("N", "2·L", 4), ("N", "L + 1", 4)]
    assert [o.name for o in spec.outputs] == ["output[0]", "output[1]", "output[2]"]
    assert spec.layer("fc").input_dims == (("N·L", 4),)


def test_a_size_that_only_roughly_follows_an_axis_keeps_its_number() -> None:
    """A stride-2 convolution halves H with a floor: no linear label fits every size, so none is given."""
    spec = spec_of("tests.models:StridedConv", "1,1,H=8,W=8")
    assert spec.inputs[0].dims == ("N", 1, "H", "W")
    assert spec.output_dims == (("N", 2, 4, 4),)


def test_a_named_axis_the_model_rejects_at_other_sizes_is_reported() -> None:
    spec = spec_of("tests.models:FixedLength", "N=2,L=6,2")
    assert spec.inputs[0].dims == ("N", 6, 2)
    assert spec.output_dims == (("N", 3),)
    assert spec.trace is not None and spec.trace.complete
    assert len(spec.warnings) == 1
    assert spec.warnings[0].startswith("the forward pass fails or takes other steps when L is not 6")
    assert not spec.probe_error


@pytest.mark.parametrize(
    ("base", "sizes", "moved", "label", "plain"),
    [
        (6, {"L": 5}, {"L": (6, 7)}, "L + 1", False),
        (10, {"L": 5}, {"L": (6, 12)}, "2·L", True),
        (4, {"L": 5}, {"L": (6, 5)}, "L − 1", False),
        (2, {"L": 4}, {"L": (6, 3)}, "L/2", False),
        (10, {"N": 2, "L": 5}, {"N": (3, 15), "L": (6, 12)}, "N·L", True),
    ],
)
def test_a_size_is_fitted_to_the_law_it_follows(base, sizes, moved, label, plain) -> None:
    law = symbolic._fit(base, sizes, moved)
    assert law is not None
    assert (law.label(), law.plain) == (label, plain)
    assert law.at(sizes) == base


def test_a_size_no_law_fits_is_left_as_a_number() -> None:
    assert symbolic._fit(3, {"L": 4}, {"L": (7, 4)}) is None  # an offset of 5/3
    assert symbolic._fit(10, {"N": 2, "L": 5}, {"N": (3, 15), "L": (6, 13)}) is None  # not a product
    assert symbolic._Law(names=("L",), scale=Fraction(3, 2), offset=-1).label() == "3·L/2 − 1"


def test_other_sizes_tried_for_an_axis_stay_positive() -> None:
    assert symbolic._candidates(5) == [6, 7, 10, 4]
    assert symbolic._candidates(1) == [2, 3, 2]


class CountedPasses(nn.Module):
    """Sizes that follow N and L as whole multiples (N·L, 2·L), and, with `offset`, a valid
    convolution's L − 15 and a class token's L + 1; every forward pass notes its input's shape."""

    shapes: ClassVar[list[tuple[int, ...]]] = []

    def __init__(self, offset: bool = False) -> None:
        super().__init__()
        self.offset = offset
        self.fc = nn.Linear(4, 3)
        self.conv = nn.Conv1d(4, 4, kernel_size=16)
        self.cls = nn.Parameter(torch.zeros(1, 1, 4))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        CountedPasses.shapes.append(tuple(x.shape))
        rows = self.fc(x.reshape(-1, x.shape[-1]))
        doubled = torch.cat([x, x], dim=1)
        if not self.offset:
            return rows, doubled
        valid = self.conv(x.transpose(1, 2))
        with_cls = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1)
        return rows, doubled, valid, with_cls


@pytest.mark.parametrize(
    ("offset", "passes", "dims"),
    [
        (False, 2, [("N·L", 3), ("N", "2·L", 4)]),
        (True, 3, [("N·L", 3), ("N", "2·L", 4), ("N", 4, "L − 15"), ("N", "L + 1", 4)]),
    ],
)
def test_one_pass_with_every_axis_moved_labels_whole_multiples_and_a_check_pass_runs_only_for_offsets(
    offset, passes, dims
) -> None:
    CountedPasses.shapes.clear()
    spec = spec_of("tests.test_probe_symbolic:CountedPasses", "N=1,L=16,4", kwargs={"offset": offset})
    assert [o.dims for o in spec.outputs] == dims
    assert len(CountedPasses.shapes) == passes, CountedPasses.shapes
    assert CountedPasses.shapes[0] == (1, 16, 4)  # the documented shapes are the base pass's
    moved = CountedPasses.shapes[1]
    assert moved[0] != 1 and moved[1] != 16, "the second pass moves every named axis at once"


def test_moves_are_distinct_primes_whose_ratios_never_coincide() -> None:
    moved = symbolic._moves({"N": 1, "H": 224, "W": 224}, set())
    assert moved is not None
    jumps = [moved[n] - s for n, s in {"N": 1, "H": 224, "W": 224}.items()]
    assert len(set(jumps)) == 3 and all(j in symbolic._JUMPS for j in jumps)
    sizes = {"N": 1, "H": 224, "W": 224}
    ratios = [symbolic._ratio(sizes, moved, subset) for subset in symbolic._subsets(sizes)]
    assert len(set(ratios)) == len(ratios)
    again = symbolic._moves(sizes, set(jumps))
    assert again is not None and not {again[n] - s for n, s in sizes.items()} & set(jumps)
    assert symbolic._moves({"L": 13}, set())["L"] == 13 + 17  # 13 divides the size: the next prime


def test_a_size_that_could_follow_two_axes_is_not_labelled_without_a_check() -> None:
    # 1 → 2 fits "N" when N goes 1 → 2, and "L − 15" when L goes 16 → 17: two laws, so the check decides.
    laws = symbolic._laws(1, 2, {"N": 1, "L": 16}, {"N": 2, "L": 17})
    assert {law.label() for law in laws} >= {"N", "L − 15"}
