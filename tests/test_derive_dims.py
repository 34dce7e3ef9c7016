"""Reading the axis an argument must equal: derivations follow the last axis of its `AxisRef`."""

from __future__ import annotations

from modeldoc.derive.dims import DimRef, axis_ref
from tests.helpers.specs import hp


def test_axis_ref_reads_the_arguments_dim() -> None:
    assert axis_ref(hp("in_features", 8, "in0:-1", "data-dependent")) == DimRef("in", 0, -1)
    assert axis_ref(hp("out_channels", 8, "out1:-3")) == DimRef("out", 1, -3)
    assert axis_ref(hp("kernel_size", [3])) is None


def test_an_argument_over_several_axes_is_followed_through_its_last() -> None:
    # LayerNorm's normalized_shape: the knowledge writes "in0:-2,-1"
    assert axis_ref(hp("normalized_shape", [4, 8], "in0:-2,-1", "data-dependent")) == DimRef("in", 0, -1)
