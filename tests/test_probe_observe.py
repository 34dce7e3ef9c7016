"""The base pass observes repeated blocks through quicker forms (`modeldoc.probe.replay.QUICK`): the same classes.

With the switch on, each observed block's steps are built with the common kinds of arguments
read directly, each tensor's and path's form found once, the walked ops kept for `_share`, and
`group_keys` reads each module's attributes and tensors once, and each block is sorted among the
distinct steps of its structure as it is recorded, not after the pass. Each model is described with the
switch off and on (replaying on both times) and, for every observing pass, the test compares
what the observing found: the blocks of each structure (`group_keys`), the classes
(`Replayer.classified`: the same blocks grouped behind the same leaders), the op of the leader
each op of a classified block points at (`_share`), and, for a live model described twice, the
steps and the keys of structure themselves. The ``modeldoc/1`` JSON texts, as ``modeldoc inspect
--json`` writes them, must be equal byte for byte. Each test also checks that the quick path ran
when on and not when off, and that blocks were classified, so the comparison is never of two runs
that did the same thing.
"""

from __future__ import annotations

import json
from collections import namedtuple
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.probe import replay
from modeldoc.spec import ModelSpec
from tests import test_probe_replay as stacks
from tests import test_probe_shapes_pass as shapes
from tests.helpers.compare import bench_model
from tests.helpers.specs import describe_live, spec_of

transformers = pytest.importorskip("transformers")


@dataclass
class Observed:
    """What one observing pass found, with modules named by path (so that a rebuilt model compares)."""

    groups: list[list[str]]
    """The blocks of each structure (`group_keys`), in order."""
    leaders: dict[str, str]
    """Each classified block's class, named by its leader (the first block of the class)."""
    sources: dict[str, list[tuple[str, int] | str | None]]
    """For each observed block, the (leader, position) of the op each of its ops points at (`_share`)."""
    steps: dict[str, Any]
    """Each observed block's steps (comparable only for one live model described twice)."""
    keys: dict[str, Hashable]
    """Each block's whole key of structure (`group_keys`; comparable only for one live model described twice)."""
    quick: bool
    """True when the blocks were observed through the quick path (their walked ops kept)."""
    early: int
    """How many blocks were sorted among the steps of their structure as they were recorded (`QUICK`)."""


@pytest.fixture
def observed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Observed]]:
    """What each observing pass found (the real `Replayer.classified`, read after it ran)."""
    found: list[Observed] = []
    real = replay.Replayer.classified

    def classified(self: replay.Replayer) -> dict[int, Hashable]:
        classes = real(self)
        path = self.tree.first
        by_key: dict[Hashable, list[str]] = {}
        for module_id, key in self.members.items():
            by_key.setdefault(key[0], []).append(path[module_id])  # type: ignore[index]
        first: dict[Hashable, str] = {}
        for module_id, key in classes.items():
            first.setdefault(key, path[module_id])
        where = {
            id(op): (path[module_id], i)
            for module_id, raw in self.segments.items()
            for i, op in enumerate(replay._walk(raw))
        }
        sources = {
            path[module_id]: [
                None if op.source is None else where.get(id(op.source), "elsewhere") for op in replay._walk(raw)
            ]
            for module_id, raw in self.segments.items()
        }
        found.append(
            Observed(
                groups=list(by_key.values()),
                leaders={path[module_id]: first[key] for module_id, key in classes.items()},
                sources=sources,
                steps={path[module_id]: steps for module_id, steps in self.steps.items()},
                keys={path[module_id]: key for module_id, key in self.members.items()},
                quick=bool(self.walked),
                early=len(self.found),
            )
        )
        return classes

    monkeypatch.setattr(replay.Replayer, "classified", classified)
    yield found


def json_text(spec: ModelSpec) -> str:
    """The description as ``modeldoc inspect --json`` writes it."""
    return json.dumps(spec.to_json(), indent=1, ensure_ascii=False)


def both(
    describe: Callable[[], ModelSpec], monkeypatch: pytest.MonkeyPatch, observed: list[Observed]
) -> tuple[tuple[str, list[Observed]], tuple[str, list[Observed]]]:
    """The JSON text and what each observing pass found, with the quick path off, then on."""
    monkeypatch.setattr(replay, "ENABLED", True)
    runs = []
    for quick in (False, True):
        monkeypatch.setattr(replay, "QUICK", quick)
        observed.clear()
        text = json_text(describe())
        runs.append((text, list(observed)))
    return runs[0], runs[1]


def check(
    describe: Callable[[], ModelSpec], monkeypatch: pytest.MonkeyPatch, observed: list[Observed], *, live: bool
) -> list[Observed]:
    """Describe both ways and check the two agree; what the quick path found."""
    (slow_text, slow), (quick_text, quick) = both(describe, monkeypatch, observed)
    shapes.assert_same(slow_text, quick_text)
    assert [o.quick for o in slow] == [False] * len(slow)
    assert [o.early for o in slow] == [0] * len(slow)
    assert [o.early for o in quick] == [sum(s is not None for s in o.steps.values()) for o in quick]
    assert [o.quick for o in quick] == [bool(o.sources) for o in quick] and any(o.quick for o in quick)
    assert [o.groups for o in slow] == [o.groups for o in quick]
    assert [o.leaders for o in slow] == [o.leaders for o in quick]
    assert [o.sources for o in slow] == [o.sources for o in quick]
    if live:  # the same module objects both times: the steps themselves compare
        assert [o.steps for o in slow] == [o.steps for o in quick]
        assert [o.keys for o in slow] == [o.keys for o in quick]
    assert any(o.leaders for o in quick)  # some blocks were classified: the comparison says something
    return quick


def classes_of(found: Observed) -> list[list[str]]:
    """The classified blocks, one list per class, leaders first."""
    classes: dict[str, list[str]] = {}
    for block, leader in found.leaders.items():
        classes.setdefault(leader, []).append(block)
    return list(classes.values())


@pytest.mark.parametrize(
    ("name", "blocks"),
    [pytest.param("gpt2", 12), pytest.param("llama6", 6), pytest.param("llama", 80, marks=pytest.mark.slow)],
)
def test_the_benchmark_models_on_meta_are_classified_the_same(
    name: str, blocks: int, monkeypatch: pytest.MonkeyPatch, observed: list[Observed]
) -> None:
    model = bench_model("llama", layers=6) if name == "llama6" else bench_model(name)
    [found] = check(lambda: describe_live(model, "1,L=64", input_dtype="long"), monkeypatch, observed, live=True)
    [top] = [c for c in classes_of(found) if len(c) >= blocks]  # the decoder blocks: one class
    assert len(top) == blocks


@pytest.mark.parametrize(("target", "config", "replayed"), stacks.HF_CONFIGS)
def test_tiny_transformers_models_are_classified_the_same(
    target: str, config: dict[str, Any], replayed: list[int], monkeypatch: pytest.MonkeyPatch, observed: list[Observed]
) -> None:
    found = check(
        lambda: spec_of(target, "input_ids:1,L=8", input_dtype="long", kwargs=config),
        monkeypatch,
        observed,
        live=False,
    )
    assert sum(len(o.leaders) for o in found) >= sum(replayed)  # every block replayed was classified


def test_mixture_of_experts_blocks_on_meta_are_classified_the_same(
    monkeypatch: pytest.MonkeyPatch, observed: list[Observed]
) -> None:
    config = next(p for p in stacks.HF_CONFIGS if p.id == "mixtral").values[1]

    def describe() -> ModelSpec:
        # probe_memory 0: the pass stays on meta and assumes the router's top-k in every block
        return spec_of(
            "transformers:MixtralConfig", "input_ids:1,L=8", input_dtype="long", kwargs=config, probe_memory=0
        )

    [found] = check(describe, monkeypatch, observed, live=False)
    assert [len(c) for c in classes_of(found) if c[0].startswith("layers.")] == [4]


Pair = namedtuple("Pair", ["high", "low"])


class OddArgsBlock(stacks.Block):
    """Ops whose arguments take the long way: a ``torch.Size``, a list of tensors, slices with Ellipsis,
    a float subclass, and a named tuple handed out of the block; its index picks one of two slices."""

    def forward(self, x: torch.Tensor) -> Any:  # type: ignore[override]
        y = super().forward(x).reshape(x.shape)
        cut = 1 + self.index % 2
        y = torch.cat([y[..., cut:], y[..., :cut]], dim=-1)
        return Pair(y * Half(0.5), y[..., 0:2])


class Half(float):
    """A float of a class of its own (a subclass takes the long way, and compares as a float)."""


class OddStack(stacks.Stack):
    def __init__(self) -> None:
        super().__init__(OddArgsBlock)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x).high
        return self.head(x)


class FirstDiffers(stacks.Block):
    """Follows its index: only the first of seven blocks adds a softmax (the others take fewer steps)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return torch.softmax(x, dim=-1) if self.index == 0 else x


class NoneOrBound(stacks.Block):
    """Follows its index: every other block clamps from below too (a number where the others give None)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return torch.clamp(x, None if self.index % 2 else -1.0, 1.0)


class ShortOrLong(stacks.Block):
    """Follows its index: a keyword argument given or not (``dtype=None``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = super().forward(x)
        return torch.cumsum(x, 1, dtype=None) if self.index % 3 else torch.cumsum(x, 1)


@pytest.mark.parametrize(
    ("make", "classes"),
    [
        pytest.param(stacks.Stack, [7], id="plain-stack"),
        pytest.param(stacks.frozen_third, [6], id="one-frozen-block"),
        pytest.param(stacks.other_scale, [6], id="one-block-with-another-scale"),
        pytest.param(stacks.tied, [7], id="a-weight-tied-across-blocks"),
        pytest.param(lambda: stacks.Stack(stacks.EveryThird), [5, 2], id="behaviour-every-third-block"),
        pytest.param(lambda: stacks.Stack(stacks.LastDiffers), [6], id="behaviour-in-the-last-block-only"),
        pytest.param(lambda: stacks.Stack(stacks.GrowsBlock), [4, 3], id="other-sizes-inside-by-index"),
        pytest.param(stacks.MaskedStack, [7], id="buffer-tuple-output-shared-kwargs"),
        pytest.param(lambda: stacks.Stack(stacks.RepeatsBlock), [7], id="a-view-of-a-tensor-made-inside-an-op"),
        pytest.param(stacks.shared_block, [5], id="a-block-registered-twice"),
        pytest.param(stacks.hooked, [7], id="hooks-on-two-blocks"),
        pytest.param(shapes.shared_input_block, [7], id="an-input-read-twice"),
        pytest.param(shapes.PairStack, [6], id="one-tensor-given-twice-to-one-block"),
        pytest.param(shapes.PeekStack, [7], id="a-block-weight-read-before-the-block"),
        pytest.param(lambda: stacks.Stack(shapes.ScanBlock), [7], id="a-loop-inside-each-block"),
        pytest.param(OddStack, [4, 3], id="arguments-of-other-kinds-by-index"),
        pytest.param(lambda: stacks.Stack(FirstDiffers), [6], id="one-more-op-in-the-first-block"),
        pytest.param(lambda: stacks.Stack(NoneOrBound), [4, 3], id="none-or-a-number-every-other-block"),
        pytest.param(lambda: stacks.Stack(ShortOrLong), [3, 4], id="a-keyword-given-or-not-by-index"),
    ],
)
def test_hand_written_blocks_are_classified_the_same(
    make: Callable[[], nn.Module], classes: list[int], monkeypatch: pytest.MonkeyPatch, observed: list[Observed]
) -> None:
    model = make()
    [found] = check(lambda: describe_live(model, "N=2,L=3,8"), monkeypatch, observed, live=True)
    assert [len(c) for c in classes_of(found)] == classes
