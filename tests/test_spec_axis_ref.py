"""spec.AxisRef: the one parser of the ``dim`` text (``"in0:-1"``) that knowledge entries and the JSON write."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modeldoc.spec import AxisRef, Hyperparam
from tests.helpers.specs import layer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in0:-1", AxisRef("in", 0, (-1,))),
        ("out0:1", AxisRef("out", 0, (1,))),
        ("in1:-1", AxisRef("in", 1, (-1,))),
        ("in0:-2,-1", AxisRef("in", 0, (-2, -1))),  # LayerNorm's normalized_shape over two axes
        ("in0:-3,-2,-1", AxisRef("in", 0, (-3, -2, -1))),
        (" in0 : -2, -1 ", AxisRef("in", 0, (-2, -1))),
        ("out12:3", AxisRef("out", 12, (3,))),
    ],
)
def test_parses_every_form_the_entries_write(text: str, expected: AxisRef) -> None:
    assert AxisRef.parse(text) == expected


@pytest.mark.parametrize("text", ["in0:-2,-1", "out0:1", "in3:-1"])
def test_text_round_trips(text: str) -> None:
    assert str(AxisRef.parse(text)) == text


@pytest.mark.parametrize("text", ["", "in0", "in:-1", "input0:-1", "in0:", "in0:-1,", "in0:x", "in0:-1;-2", "0:-1"])
def test_rejects_what_is_not_an_axis_reference(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not an axis reference; write in0:-1 \(input 0, last axis\)"):
        AxisRef.parse(text)


def test_rejects_an_axis_named_twice() -> None:
    with pytest.raises(ValueError, match="'in0:-1,-1' names an axis twice"):
        AxisRef.parse("in0:-1,-1")


def test_sizes_reads_the_probed_shapes() -> None:
    probed = layer("a", "t", type="t", params=0, input_shapes=((2, 3, 4, 8), (2, 5)), output_shapes=((2, 6),))
    assert AxisRef.parse("in0:-2,-1").sizes(probed) == (4, 8)
    assert AxisRef.parse("in1:-1").sizes(probed) == (5,)
    assert AxisRef.parse("out0:1").sizes(probed) == (6,)
    assert AxisRef.parse("in2:-1").sizes(probed) is None  # no third input
    assert AxisRef.parse("in1:-3").sizes(probed) is None  # input 1 has two axes
    assert AxisRef.parse("out0:2").sizes(probed) is None
    assert AxisRef.parse("in0:-2,-1").last == -1


def test_a_hyperparameter_carries_its_dim_parsed_and_keeps_it_in_step() -> None:
    h = Hyperparam(
        name="normalized_shape", value=[4, 8], kind="data-dependent", source="previous-layer", dim="in0:-2,-1"
    )
    assert h.axis_ref == AxisRef("in", 0, (-2, -1))
    assert replace(h, dim="out0:-1").axis_ref == AxisRef("out", 0, (-1,))
    assert replace(h, dim="").axis_ref is None
    assert "axis_ref" not in h.to_json() and h.to_json()["dim"] == "in0:-2,-1"  # the JSON keeps the text
    with pytest.raises(ValueError, match="is not an axis reference"):
        replace(h, dim="last axis")
