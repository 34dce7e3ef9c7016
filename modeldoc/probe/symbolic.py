"""Symbolic sizes: which sizes follow the named input axes, and how (``N``, ``N·L``, ``2·L``, ``L + 1``).

Each named axis (``--input-shape N=2,L=16``) is probed again at other sizes, one axis at a
time; a size that moves with it is fitted to a law (`_Law`: ``scale · X + offset`` for one
axis, ``scale · X · Y`` for several) and labelled with it. One more pass with every named
axis changed checks each label before it is kept (a whole multiple is trusted without it).
These passes share the probe's time budget; once it has run out the sizes stay numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from modeldoc.probe.deadline import Budget
from modeldoc.probe.inputs import Example
from modeldoc.probe.record import Dims, Shape
from modeldoc.probe.resolve import Built
from modeldoc.probe.run import Runner
from modeldoc.spec import Dim


@dataclass(frozen=True)
class _Law:
    """How a size follows the named axes: ``scale · X + offset`` for one axis, ``scale · X · Y`` for several."""

    names: tuple[str, ...]
    scale: Fraction
    offset: int = 0

    def at(self, sizes: Mapping[str, int]) -> Fraction:
        return self.scale * math.prod(sizes[n] for n in self.names) + self.offset

    @property
    def plain(self) -> bool:
        """A whole multiple with no offset (``N``, ``2·L``, ``N·L``): trusted without the check pass."""
        return self.offset == 0 and self.scale.denominator == 1

    def label(self) -> str:
        product = "·".join(self.names)
        scale = self.scale
        if scale == 1:
            text = product
        elif scale.denominator == 1:
            text = f"{scale.numerator}·{product}"
        elif scale.numerator == 1:
            text = f"{product}/{scale.denominator}"
        else:
            text = f"{scale.numerator}·{product}/{scale.denominator}"
        if self.offset > 0:
            text += f" + {self.offset}"
        elif self.offset < 0:
            text += f" − {-self.offset}"
        return text


def _fit(base: int, sizes: Mapping[str, int], moved: Mapping[str, tuple[int, int]]) -> _Law | None:
    """The law a size follows, from its value at `sizes` and after each one-axis change (name: (size, value))."""
    if len(moved) == 1:
        ((name, (size, value)),) = moved.items()
        scale = Fraction(value - base, size - sizes[name])
        offset = base - scale * sizes[name]
        if offset.denominator != 1:
            return None
        return _Law(names=(name,), scale=scale, offset=int(offset))
    names = tuple(n for n in sizes if n in moved)
    scale = Fraction(base, math.prod(sizes[n] for n in names))
    law = _Law(names=names, scale=scale)
    for name, (size, value) in moved.items():
        if law.at({**sizes, name: size}) != value:
            return None
    return law if scale.denominator == 1 else None


def _candidates(size: int) -> list[int]:
    return [c for c in (size + 1, size + 2, 2 * size, size - 1) if c >= 1 and c != size]


def label_dims(base: Built, runner: Runner, example: Example, budget: Budget) -> Built:
    """`base` with symbolic dims: each named axis is probed at other sizes and the sizes that follow it labelled.

    These passes share the probe's time budget; once it has run out they stop, and the sizes
    stay numbers.
    """
    sizes = dict(example.sizes)
    if not sizes or (base.failure is not None and (base.failure.timed_out or not base.failure.ran)):
        return base
    if budget.expired:
        return _out_of_time(base, sizes, budget)
    try:
        return _labelled(base, runner, example, budget)
    except _OutOfTime:
        return _out_of_time(base, sizes, budget)


class _OutOfTime(Exception):
    """The probe's time ran out between two labelling passes."""


def _out_of_time(base: Built, sizes: Mapping[str, int], budget: Budget) -> Built:
    warning = (
        f"the probe timeout of {budget.seconds:g} s ran out, so the sizes that follow the named axes "
        f"({', '.join(sizes)}) are shown as numbers; raise --probe-timeout to work them out"
    )
    return replace(base, warnings=(*base.warnings, warning))


def _labelled(base: Built, runner: Runner, example: Example, budget: Budget) -> Built:
    sizes = dict(example.sizes)

    def run(at: Mapping[str, int]) -> Built:
        built = runner.build(example, at)
        if budget.expired:
            raise _OutOfTime
        return built

    shapes = base.shapes()
    chosen: dict[str, tuple[int, dict[tuple[Any, ...], Shape]]] = {}
    spare: dict[str, int] = {}
    for name, size in sizes.items():
        options = _candidates(size)
        for i, other in enumerate(options):
            moved = base.matched_shapes(run({**sizes, name: other}))  # loops over the axis may repeat more
            if moved is not None:
                chosen[name] = (other, moved)
                spare[name] = options[i + 1] if i + 1 < len(options) else other + 3
                break
        else:
            if name in example.guessed:  # an axis modeldoc named itself: it stays a number, quietly
                continue
            base = replace(
                base,
                warnings=(
                    *base.warnings,
                    f"the forward pass fails or takes other steps when {name} is not {size}, so the sizes that "
                    f"follow {name} are shown as numbers; name only the axes the model accepts at any size",
                ),
            )
    if not chosen:
        return base
    check_sizes = {**sizes, **spare}
    check = run(check_sizes)
    checked = base.matched_shapes(check)
    dims: dict[tuple[Any, ...], Dims] = {}
    for key, shape in shapes.items():
        labels: list[Dim] = []
        for axis, value in enumerate(shape):
            changes = {
                name: (other, got[key][axis])
                for name, (other, got) in chosen.items()
                if key in got and len(got[key]) == len(shape) and got[key][axis] != value
            }
            law = _fit(value, sizes, changes) if changes else None
            if law is not None and checked is not None:
                expected = checked.get(key)
                if expected is None or len(expected) != len(shape) or law.at(check_sizes) != expected[axis]:
                    law = None
            elif law is not None and not law.plain:
                law = None
            labels.append(law.label() if law is not None else value)
        dims[key] = tuple(labels)
    return base.with_dims(dims)
