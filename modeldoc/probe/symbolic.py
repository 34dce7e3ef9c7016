"""Symbolic sizes: which sizes follow the named input axes, and how (``N``, ``N·L``, ``2·L``, ``L + 1``).

On the meta device one more pass runs with every named axis moved at once (``--input-shape
N=1,L=16`` is also run at N = 14, L = 33): each axis by a different prime, so that a size that
follows one axis cannot pass for a law of another by chance (an offset law on an axis fits
only when that axis's move divides the change, and the products of the axes' ratios all
differ). A size that moved is fitted to the laws of `_Law`: ``scale · product`` of any named
axes, or ``scale · X + offset`` of one. Where exactly one whole multiple fits (``N``, ``2·L``,
``N·L``) it is the label; where an offset or a fraction fits, or more than one law does, a check
pass at yet other sizes settles it, and runs only then. So most models take one pass beyond the
base one, whatever the number of named axes.

When that pass fails or takes other steps (a model that accepts only some sizes of an axis),
and on a real device (where bigger sizes cost memory and time), each named axis is probed on
its own at nearby sizes instead (`_candidates`), then checked by one pass with every axis
changed, which also names the axis the model rejects. All passes share the probe's time
budget; once it has run out the sizes stay numbers. No symbolic-shape machinery of torch's
(``torch._dynamo``, ``sympy``) is used.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import combinations
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


_JUMPS = (13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73)
"""How far the one pass with every axis moved moves each one: distinct primes, bigger than the
small factors sizes are usually multiplied by."""


def _moves(sizes: Mapping[str, int], taken: set[int]) -> dict[str, int] | None:
    """Each axis moved by its own prime of `_JUMPS`, not one in `taken` nor one that divides its size.

    The products of the axes' ratios (moved / base) all differ, so no two products of axes can
    both fit a size. None when the primes run out (more named axes than there are primes).
    """
    moved: dict[str, int] = {}
    ratios: set[Fraction] = set()
    free = [p for p in _JUMPS if p not in taken]
    for name, size in sizes.items():
        for jump in free:
            if size % jump == 0:
                continue
            trial = {**moved, name: size + jump}
            new = {_ratio(sizes, trial, subset) for subset in _subsets(trial) if name in subset}
            if len(new) == len([s for s in _subsets(trial) if name in s]) and not new & ratios and 1 not in new:
                moved, ratios = trial, ratios | new
                free.remove(jump)
                break
        else:
            return None
    return moved


def _subsets(sizes: Mapping[str, int]) -> Iterator[tuple[str, ...]]:
    names = tuple(sizes)
    for count in range(1, len(names) + 1):
        yield from combinations(names, count)


def _ratio(sizes: Mapping[str, int], moved: Mapping[str, int], subset: tuple[str, ...]) -> Fraction:
    return Fraction(math.prod(moved[n] for n in subset), math.prod(sizes[n] for n in subset))


def _laws(base: int, value: int, sizes: Mapping[str, int], moved: Mapping[str, int]) -> list[_Law]:
    """Every law that gives `base` at `sizes` and `value` at `moved` (every axis moved)."""
    if base == value:
        return []
    laws = []
    for subset in _subsets(sizes):
        scale = Fraction(base, math.prod(sizes[n] for n in subset))
        if scale.denominator == 1 and scale * math.prod(moved[n] for n in subset) == value:
            laws.append(_Law(names=subset, scale=scale))
    for name, size in sizes.items():
        scale = Fraction(value - base, moved[name] - size)
        offset = base - scale * size
        if offset.denominator == 1 and (offset != 0 or scale.denominator != 1):
            laws.append(_Law(names=(name,), scale=scale, offset=int(offset)))
    return laws


def _labelled(base: Built, runner: Runner, example: Example, budget: Budget) -> Built:
    def run(at: Mapping[str, int]) -> Built:
        built = runner.build(example, at, shapes_only=True)  # only its shapes are read
        if budget.expired:
            raise _OutOfTime
        return built

    sizes = dict(example.sizes)
    moved_sizes = _moves(sizes, set()) if runner.device == "meta" else None
    if moved_sizes is not None:
        moved = base.matched_shapes(run(moved_sizes))  # loops over an axis may repeat more
        if moved is not None:
            return _labelled_at_once(base, moved, sizes, moved_sizes, run)
    return _labelled_one_by_one(base, run, sizes, example.guessed)


def _labelled_at_once(
    base: Built,
    moved: Mapping[tuple[Any, ...], Shape],
    sizes: dict[str, int],
    moved_sizes: dict[str, int],
    run: Callable[[Mapping[str, int]], Built],
) -> Built:
    """Labels from the pass with every axis moved; a check pass only for the sizes it leaves open."""
    shapes = base.shapes()
    labels: dict[tuple[Any, ...], tuple[Dim, ...]] = {}
    open_: dict[tuple[tuple[Any, ...], int], list[_Law]] = {}
    found: dict[tuple[int, int], list[_Law]] = {}  # many sizes repeat: each pair is fitted once
    fitted: dict[tuple[Shape, Shape], tuple[tuple[Dim, ...], list[tuple[int, list[_Law]]]]] = {}
    for key, shape in shapes.items():
        got = moved.get(key)
        if got is None or len(got) != len(shape):
            labels[key] = shape
            continue
        known = fitted.get((shape, got))  # many shapes repeat too (every block's): each pair once
        if known is None:
            dims: list[Dim] = list(shape)
            unsettled = []
            for axis, value in enumerate(shape):
                pair = (value, got[axis])
                laws = found.get(pair)
                if laws is None:
                    laws = found[pair] = _laws(value, got[axis], sizes, moved_sizes)
                if len(laws) == 1 and laws[0].plain:
                    dims[axis] = laws[0].label()
                elif laws:
                    unsettled.append((axis, laws))
            known = fitted[shape, got] = (tuple(dims), unsettled)
        labels[key] = known[0]
        for axis, laws in known[1]:
            open_[key, axis] = laws
    check_sizes = _moves(sizes, {moved_sizes[n] - s for n, s in sizes.items()}) if open_ else None
    if check_sizes is not None:
        check = run(check_sizes)
        checked = base.matched_shapes(check) or {}
        for (key, axis), laws in open_.items():
            expected = checked.get(key)
            if expected is None or len(expected) != len(shapes[key]):
                continue
            kept = [law for law in laws if law.at(check_sizes) == expected[axis]]
            if len(kept) == 1:
                dims = list(labels[key])
                dims[axis] = kept[0].label()
                labels[key] = tuple(dims)
    return base.with_dims(labels)


def _labelled_one_by_one(
    base: Built, run: Callable[[Mapping[str, int]], Built], sizes: dict[str, int], guessed: Collection[str]
) -> Built:
    """Labels from one pass per named axis at another size, then a check pass with every axis changed.

    An axis in `guessed` (one modeldoc named itself) that cannot move stays a number, without a warning.
    """
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
            if name in guessed:
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
