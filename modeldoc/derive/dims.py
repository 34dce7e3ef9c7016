"""The one place derivations read the axis an argument must equal.

The knowledge's ``dim`` text (``"in0:-1"``, ``"in0:-2,-1"``) is parsed once, into
`modeldoc.spec.AxisRef`, when the argument is made (`Hyperparam.axis_ref`); here it becomes the
`DimRef` the rules follow: one tensor axis of the layer's call. An argument that spans several
trailing axes (LayerNorm's ``normalized_shape``) is followed through its last axis and checked
against the others (`modeldoc.derive.arguments`).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from modeldoc.spec import Hyperparam


class DimRef(NamedTuple):
    """A tensor axis of a layer's call: ``"in0:-1"`` is ``DimRef("in", 0, -1)``."""

    side: Literal["in", "out"]
    """An input or an output of the call."""
    slot: int
    """Which input or output (0 = the first)."""
    axis: int
    """The axis; negative counts from the last."""


def axis_ref(h: Hyperparam) -> DimRef | None:
    """The (last) axis argument `h` must equal, or None when it names none."""
    ref = h.axis_ref
    return None if ref is None else DimRef(ref.side, ref.tensor, ref.last)


__all__ = ["DimRef", "axis_ref"]
