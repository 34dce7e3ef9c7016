"""modeldoc.probe.symbolic: the sizes that follow the named input axes, and their labels."""

from __future__ import annotations

from fractions import Fraction

import pytest

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
