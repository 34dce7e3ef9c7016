"""The one place derivations read an argument's ``dim`` (``"in0:-1"``: the axis it must equal).

Every use of ``Hyperparam.dim`` in this package goes through `axis_ref`, so the string is read
by one rule, here, and the rest of the package works with the typed `DimRef`. When the
knowledge's ``dim`` references are parsed once at load time, `axis_ref` is the one function
to point at that parser.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal, NamedTuple

from modeldoc.spec import Hyperparam

_DIM = re.compile(r"^(in|out)(\d+):(-?\d+)$")


class DimRef(NamedTuple):
    """A tensor axis of a layer's call: ``"in0:-1"`` is ``DimRef("in", 0, -1)``."""

    side: Literal["in", "out"]
    """An input or an output of the call."""
    slot: int
    """Which input or output (0 = the first)."""
    axis: int
    """The axis; negative counts from the last."""


def axis_ref(h: Hyperparam) -> DimRef | None:
    """The axis argument `h` must equal, or None when it names none (or names it in a form not understood)."""
    return parse_dim(h.dim)


@lru_cache(maxsize=1024)
def parse_dim(dim: str) -> DimRef | None:
    """``"in0:-1"`` becomes ``DimRef("in", 0, -1)``; None when `dim` is empty or malformed.

    Remembered: a model repeats the same few strings on every layer.
    """
    match = _DIM.match(dim.strip()) if dim else None
    if match is None:
        return None
    side: Literal["in", "out"] = "in" if match.group(1) == "in" else "out"
    return DimRef(side, int(match.group(2)), int(match.group(3)))


__all__ = ["DimRef", "axis_ref", "parse_dim"]
