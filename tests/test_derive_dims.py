"""Reading an argument's ``dim``: the one parser derivations use, and what it accepts."""

from __future__ import annotations

from modeldoc.derive.dims import DimRef, axis_ref, parse_dim
from tests.derive_traces import hp


def test_parse_dim_reads_side_slot_and_axis() -> None:
    assert parse_dim("in1:-1") == ("in", 1, -1)
    assert parse_dim("out0:-3") == ("out", 0, -3)
    assert parse_dim(" in0:2 ") == DimRef(side="in", slot=0, axis=2)
    assert parse_dim("") is None
    assert parse_dim("bogus") is None
    assert parse_dim("in0") is None
    assert parse_dim("inside0:1") is None


def test_axis_ref_reads_the_arguments_dim() -> None:
    assert axis_ref(hp("in_features", 8, "in0:-1", "data-dependent")) == DimRef("in", 0, -1)
    assert axis_ref(hp("kernel_size", [3])) is None
