"""Replayed blocks left unmade in the pass at other sizes (`modeldoc.probe.replay.UNMADE`): the same description.

The probe's pass with the named axes moved (`modeldoc.probe.symbolic`) is read only for its
shapes; with the switch on, a block that repeats its class's leader is not copied op by op there:
the leader's ops stand for its own (`replay.Unmade`), and the resolver keeps the pass as plain
lists (`resolve.ShapesOnly`) where such a block gets a shifted copy of its leader's resolved ops,
or, when its own tensors were seen otherwise than the leader's, is resolved op by op. Each model
is described with the switch off and on (replaying on both times), and the ``modeldoc/1`` JSON
texts, as ``modeldoc inspect --json`` writes them, must be equal byte for byte. Each test also
counts the blocks left unmade and those copied, so that the comparison is never of two runs that
did the same thing, and checks that the sizes that follow the named axes were labelled (the pass
at other sizes was read).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import pytest
import torch
import torch.utils._pytree as pytree
from torch import nn

from modeldoc.probe import guard, replay, resolve
from modeldoc.spec import ModelSpec
from tests import test_probe_replay as stacks
from tests.helpers.compare import bench_model
from tests.helpers.specs import describe_live, spec_of

transformers = pytest.importorskip("transformers")


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Whether each block left unmade got its leader's resolved ops copied (else it was resolved op by op)."""
    answers: list[bool] = []
    real = resolve.Resolver._copied

    def counted(self: resolve.Resolver, unmade: replay.Unmade) -> bool:
        answer = real(self, unmade)
        answers.append(answer)
        return answer

    monkeypatch.setattr(resolve.Resolver, "_copied", counted)
    yield answers


@pytest.fixture
def unmade(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The number of replayed blocks left unmade in each pass that replayed (the real method, counted)."""
    counts: list[int] = []
    real = replay.Replayer._unmade

    def counted(self: replay.Replayer, *args: Any, **kwargs: Any) -> Any:
        if getattr(self, "_counted_slot", None) is None:
            counts.append(0)
            self._counted_slot = len(counts) - 1  # type: ignore[attr-defined]
        counts[self._counted_slot] += 1  # type: ignore[attr-defined]
        return real(self, *args, **kwargs)

    monkeypatch.setattr(replay.Replayer, "_unmade", counted)
    yield counts


def json_text(spec: ModelSpec) -> str:
    """The description as ``modeldoc inspect --json`` writes it."""
    return json.dumps(spec.to_json(), indent=1, ensure_ascii=False)


def both(describe: Callable[[], ModelSpec], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The JSON text with the replayed blocks made in the pass at other sizes, then left unmade."""
    monkeypatch.setattr(replay, "ENABLED", True)
    texts = []
    for unmade in (False, True):
        monkeypatch.setattr(replay, "UNMADE", unmade)
        texts.append(json_text(describe()))
    return texts[0], texts[1]


def assert_same(made: str, unmade: str) -> None:
    if made != unmade:
        at = next(i for i, (a, b) in enumerate(zip(made, unmade, strict=False)) if a != b)
        around = slice(max(at - 300, 0), at + 300)
        raise AssertionError(f"the descriptions differ at {at}:\n{made[around]}\n---\n{unmade[around]}")


def labelled(text: str, axis: str) -> bool:
    """True when some tensor's dims in the JSON text name `axis` (the pass at other sizes was read)."""
    spec = json.loads(text)
    return any(axis in tensor["dims"] for tensor in spec["trace"]["tensors"])


@pytest.mark.parametrize(
    ("name", "left"),
    [pytest.param("gpt2", 11), pytest.param("llama6", 5), pytest.param("llama", 79, marks=pytest.mark.slow)],
)
def test_the_benchmark_models_on_meta_are_described_the_same(
    name: str, left: int, monkeypatch: pytest.MonkeyPatch, unmade: list[int], copied: list[bool]
) -> None:
    model = bench_model("llama", layers=6) if name == "llama6" else bench_model(name)  # the benchmark LLaMA, 6 blocks
    made, left_unmade = both(lambda: describe_live(model, "1,L=64", input_dtype="long"), monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [left]  # every block but the leaders (and a first block that reads known values)
    assert copied == [True] * left  # and each got its leader's resolved ops
    assert labelled(left_unmade, "L")


@pytest.mark.parametrize(("target", "config", "replayed"), stacks.HF_CONFIGS)
def test_tiny_transformers_models_are_described_the_same(
    target: str,
    config: dict[str, Any],
    replayed: list[int],
    monkeypatch: pytest.MonkeyPatch,
    unmade: list[int],
    copied: list[bool],
) -> None:
    made, left_unmade = both(lambda: spec_of(target, "input_ids:1,L=8", input_dtype="long", kwargs=config), monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [count for count in replayed if count]  # each replayed block was left unmade
    assert copied == [True] * sum(unmade)  # and got its leader's resolved ops
    assert labelled(left_unmade, "L")


def test_mixture_of_experts_blocks_on_meta_are_described_the_same(
    monkeypatch: pytest.MonkeyPatch, unmade: list[int], copied: list[bool]
) -> None:
    config = next(p for p in stacks.HF_CONFIGS if p.id == "mixtral").values[1]

    def describe() -> ModelSpec:
        # probe_memory 0: the pass stays on meta and assumes the router's top-k in every block
        return spec_of(
            "transformers:MixtralConfig", "input_ids:1,L=8", input_dtype="long", kwargs=config, probe_memory=0
        )

    made, left_unmade = both(describe, monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [3]
    assert copied == [True] * 3
    assert [a["count"] for a in json.loads(left_unmade)["trace"]["assumptions"]] == [4]
    assert labelled(left_unmade, "L")


class PairBlock(stacks.Block):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x) + y


class PairStack(nn.Module):
    """Each block gets the running tensor and a side one, except the fifth, which gets the running one twice."""

    def __init__(self) -> None:
        super().__init__()
        self.pre = nn.Linear(8, 8)
        self.side = nn.Linear(8, 8)
        self.blocks = nn.ModuleList(PairBlock(8, i) for i in range(7))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, side = self.pre(x), self.side(x)
        for i, block in enumerate(self.blocks):
            h = block(h, h if i == 4 else side)
        return h


class FunctionalBlock(nn.Module):
    """Reads its own weight in a function op (``F.linear``), so the weight is one of the tensors resolved."""

    def __init__(self, width: int, index: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.weight = nn.Parameter(torch.randn(width, width) / width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.nn.functional.linear(self.norm(x), self.weight)


class PeekStack(stacks.Stack):
    """Reads the fifth block's weight before any block runs.

    The leader's weight is first seen inside it; the fifth block's was seen before it, so its
    leader's resolved ops are not copied for it: it is resolved op by op.
    """

    def __init__(self) -> None:
        super().__init__(FunctionalBlock)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x * self.blocks[4].weight.mean())


def shared_input_block() -> nn.Module:
    """Blocks whose steps read an input the block was given twice (the same tensor at two places)."""

    class Twice(stacks.Block):
        def forward(self, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
            return super().forward(x) + x.mean(dim=0, keepdim=True)

    return stacks.Stack(Twice)


@pytest.mark.parametrize(
    ("make", "left", "op_by_op"),
    [
        pytest.param(stacks.Stack, 5, 0, id="plain-stack"),
        pytest.param(stacks.frozen_third, 4, 0, id="one-frozen-block"),
        pytest.param(stacks.other_scale, 4, 0, id="one-block-with-another-scale"),
        pytest.param(stacks.tied, 5, 0, id="a-weight-tied-across-blocks"),
        pytest.param(lambda: stacks.Stack(stacks.EveryThird), 4, 0, id="behaviour-every-third-block"),
        pytest.param(lambda: stacks.Stack(stacks.LastDiffers), 4, 0, id="behaviour-in-the-last-block-only"),
        pytest.param(lambda: stacks.Stack(stacks.GrowsBlock), 4, 0, id="other-sizes-inside-by-index"),
        pytest.param(stacks.MaskedStack, 5, 0, id="buffer-tuple-output-shared-kwargs"),
        pytest.param(lambda: stacks.Stack(stacks.RepeatsBlock), 5, 0, id="a-view-of-a-tensor-made-inside-an-op"),
        pytest.param(stacks.shared_block, 3, 0, id="a-block-registered-twice"),
        pytest.param(stacks.hooked, 5, 0, id="hooks-on-two-blocks"),
        pytest.param(shared_input_block, 5, 0, id="an-input-read-twice"),
        pytest.param(PairStack, 5, 0, id="one-tensor-given-twice-to-one-block"),
        pytest.param(PeekStack, 6, 1, id="a-block-weight-read-before-the-block"),
    ],
)
def test_hand_written_blocks_are_described_the_same(
    make: Callable[[], nn.Module],
    left: int,
    op_by_op: int,
    monkeypatch: pytest.MonkeyPatch,
    unmade: list[int],
    copied: list[bool],
) -> None:
    model = make()
    before = {name: (t, t.requires_grad) for name, t in model.state_dict(keep_vars=True).items()}
    made, left_unmade = both(lambda: describe_live(model, "N=2,8"), monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [left]
    # each block left unmade got its leader's resolved ops copied, but those resolved op by op
    assert len(copied) == left and copied.count(False) == op_by_op
    assert labelled(left_unmade, "N")
    assert {name: (t, t.requires_grad) for name, t in model.state_dict(keep_vars=True).items()} == before


def test_a_replayed_block_left_unmade_keeps_its_own_names_and_shapes(
    monkeypatch: pytest.MonkeyPatch, unmade: list[int], copied: list[bool]
) -> None:
    monkeypatch.setattr(replay, "ENABLED", True)
    monkeypatch.setattr(replay, "UNMADE", True)
    spec = describe_live(stacks.Stack(stacks.LastDiffers), "N=2,8")
    assert unmade == [4]  # blocks 2 to 5 follow block 1; block 0 reads known values, block 6 takes another step
    assert copied == [True] * 4
    assert spec.layer("blocks.4.fc").input_dims == (("N", 8),)
    assert [op.scope for op in spec.trace.ops if op.name == "softmax"] == ["blocks.6"]


class ScanBlock(stacks.Block):
    """Sums its input over the length one position at a time: a loop that runs once more per position."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = x[:, 0]
        for t in range(1, x.shape[1]):
            total = total + x[:, t]
        return super().forward(x) + total.unsqueeze(1)


def test_blocks_with_a_loop_over_the_length_are_described_the_same(
    monkeypatch: pytest.MonkeyPatch, unmade: list[int], copied: list[bool]
) -> None:
    # at other sizes the loop runs another number of times, so the passes' ops are paired run by run
    # (`resolve.aligned_ops`): the tensor ids each copied op reads and writes are what pairs the shapes
    model = stacks.Stack(ScanBlock)
    made, left_unmade = both(lambda: describe_live(model, "N=2,L=5,8"), monkeypatch)
    assert_same(made, left_unmade)
    assert unmade == [5]
    assert copied == [True] * 5
    assert labelled(left_unmade, "L") and labelled(left_unmade, "N")


@pytest.fixture
def light(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """For each pass read only for its shapes, whether it was kept as `resolve.ShapesOnly`."""
    kept: list[bool] = []
    real = resolve.Resolver.resolve

    def counted(self: resolve.Resolver, *args: Any, **kwargs: Any) -> Any:
        built = real(self, *args, **kwargs)
        if self.shapes_only:
            kept.append(built.light is not None)
        return built

    monkeypatch.setattr(resolve.Resolver, "resolve", counted)
    yield kept


def test_passes_at_other_sizes_on_the_cpu_are_described_the_same(
    monkeypatch: pytest.MonkeyPatch, light: list[bool]
) -> None:
    # on the cpu no block is replayed and each named axis is moved on its own (then a check pass):
    # those passes are kept as plain lists too, with the same ids
    model = stacks.Stack(ScanBlock)
    made, kept = both(lambda: describe_live(model, "N=2,L=5,8", probe_device="cpu"), monkeypatch)
    assert_same(made, kept)
    assert light == [False] * 3 + [True] * 3  # N moved, L moved, both moved to check: off, then on
    assert labelled(kept, "L") and labelled(kept, "N")


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Any]]]:
    """Each replay taken and what it put in the record, and how many signatures were read the quick way."""
    seen: dict[str, list[Any]] = {"records": [], "quick": []}
    real_record, real_quick = replay._record, replay._signature_quick

    def record(rec: Any, leader: replay.Segment, ops: list[Any], calls: list[Any]) -> None:
        def shapes(tensors: list[Any]) -> list[Any]:
            return [(type(t).__name__, tuple(t.shape), t.dtype) for t in tensors]

        made = [(c.path, c.target, c.scope, c.call, c.start, c.end, shapes(c.inputs), shapes(c.outputs)) for c in calls]
        kinds = [type(op).__name__ for op in ops]
        seen["records"].append((leader.root, len(rec.raw), len(rec.module_calls), kinds, made))
        real_record(rec, leader, ops, calls)

    def quick(value: Any, rec: Any) -> Any:
        answer = real_quick(value, rec)
        seen["quick"].append(answer is not None)
        return answer

    monkeypatch.setattr(replay, "_record", record)
    monkeypatch.setattr(replay, "_signature_quick", quick)
    yield seen


REPLAYED_MODELS = [
    pytest.param(lambda: describe_live(bench_model("gpt2"), "1,L=64", input_dtype="long"), 11, id="gpt2"),
    pytest.param(lambda: describe_live(bench_model("llama", layers=6), "1,L=64", input_dtype="long"), 5, id="llama6"),
    pytest.param(
        lambda: describe_live(bench_model("llama"), "1,L=64", input_dtype="long"),
        79,
        id="llama80",
        marks=pytest.mark.slow,
    ),
    *[
        pytest.param(
            lambda target=p.values[0], config=p.values[1]: spec_of(
                target, "input_ids:1,L=8", input_dtype="long", kwargs=config
            ),
            sum(p.values[2]),
            id=f"hf-{p.id}",
        )
        for p in stacks.HF_CONFIGS
        if sum(p.values[2])  # those that replay blocks
    ],
    pytest.param(
        lambda: spec_of(
            "transformers:MixtralConfig",
            "input_ids:1,L=8",
            input_dtype="long",
            kwargs=next(p for p in stacks.HF_CONFIGS if p.id == "mixtral").values[1],
            probe_memory=0,
        ),
        3,
        id="hf-mixtral-assuming-the-top-k",
    ),
    pytest.param(lambda: describe_live(stacks.Stack(), "N=2,8"), 5, id="plain-stack"),
    pytest.param(lambda: describe_live(stacks.frozen_third(), "N=2,8"), 4, id="one-frozen-block"),
    pytest.param(lambda: describe_live(stacks.other_scale(), "N=2,8"), 4, id="one-block-with-another-scale"),
    pytest.param(lambda: describe_live(stacks.tied(), "N=2,8"), 5, id="a-weight-tied-across-blocks"),
    pytest.param(lambda: describe_live(stacks.MaskedStack(), "N=2,8"), 5, id="buffer-tuple-output-shared-kwargs"),
    pytest.param(lambda: describe_live(PairStack(), "N=2,8"), 5, id="one-tensor-given-twice-to-one-block"),
    pytest.param(lambda: describe_live(PeekStack(), "N=2,8"), 6, id="a-block-weight-read-before-the-block"),
    pytest.param(lambda: describe_live(stacks.Stack(ScanBlock), "N=2,L=5,8"), 5, id="a-loop-over-the-length"),
]


@pytest.mark.parametrize(("describe", "replays"), REPLAYED_MODELS)
@pytest.mark.parametrize("unmade_on", [True, False], ids=["unmade", "made"])
def test_quick_replaying_takes_the_same_replays_and_records(
    describe: Callable[[], ModelSpec],
    replays: int,
    unmade_on: bool,
    monkeypatch: pytest.MonkeyPatch,
    taken: dict[str, list[Any]],
) -> None:
    # `replay.QUICK_REPLAY` off, then on: the same blocks replayed, with the same records, and the same JSON
    monkeypatch.setattr(replay, "ENABLED", True)
    monkeypatch.setattr(replay, "UNMADE", unmade_on)
    runs = []
    for quick in (False, True):
        monkeypatch.setattr(replay, "QUICK_REPLAY", quick)
        taken["records"].clear()
        taken["quick"].clear()
        text = json_text(describe())
        runs.append((text, list(taken["records"]), list(taken["quick"])))
    (slow_text, slow_records, slow_quick), (quick_text, quick_records, quick_quick) = runs
    assert_same(slow_text, quick_text)
    assert quick_records == slow_records
    assert len(quick_records) == replays  # the comparison is of runs that replayed blocks
    assert slow_quick == []  # off: never read the quick way
    assert quick_quick and all(quick_quick)  # on: every signature of these blocks' plain arguments read the quick way


class Named(NamedTuple):
    first: torch.Tensor
    second: torch.Tensor


class _Pair(tuple):
    pass


def test_quick_signatures_tell_every_argument_structure_apart() -> None:
    # `_signature_quick` reads plain containers itself: two different structures never get one signature,
    # the same structure (with the same tensors' sizes) always does, and other kinds of values take pytree's way
    rec = resolve_free_recorder()
    x, y = torch.empty(2, 3, device="meta"), torch.empty(2, 3, device="meta")
    values = [
        ((x,), {}),
        ([x], {}),
        ((x, None), {}),
        ((x,), {"mask": None}),
        ((x,), {"mask": None, "cache": 1}),
        ((x,), {"cache": 1, "mask": None}),
        ((x,), {"cache": 1.0, "mask": None}),
        ((x,), {"cache": True, "mask": None}),
        ((x,), {"cache": "1", "mask": None}),
        ((torch.empty(3, 2, device="meta"),), {}),
        ((x.t(),), {}),
        (((x,),), {}),
        ((x, torch.float32), {}),
        ((x, torch.float16), {}),
    ]
    signatures = [replay._signature_quick(value, rec) for value in values]
    assert all(s is not None for s in signatures)
    keys = [s[0] for s in signatures if s is not None]
    assert len(set(keys)) == len(values)  # each structure its own signature
    again = replay._signature_quick(((y,), {"mask": None}), rec)
    assert again is not None and again[0] == keys[3] and again[1] == [y]  # another tensor of the same sizes
    # the quick form's tensors are pytree's, in its order
    nested = ((x, [y, 2]), {"b": y, "a": x})
    found = replay._signature_quick(nested, rec)
    assert found is not None and found[1] == [x, y, y, x]
    # a named tuple (a node of pytree's), or a dict with other keys: pytree's way (None), never the quick form
    assert replay._signature_quick(((Named(x, y),), {}), rec) is None
    # a tuple of another type is a leaf to pytree: read as `_signature` reads it (by identity), no tensors inside
    pair = _Pair((x, y))
    leaf = replay._signature_quick(((pair,), {}), rec)
    assert leaf is not None and leaf[1] == [] == [t for t in pytree.tree_leaves(pair) if isinstance(t, torch.Tensor)]
    other = replay._signature_quick(((_Pair((x, y)),), {}), rec)
    assert other is not None and other[0] != leaf[0]
    assert replay._signature_quick(((x,), {1: x}), rec) is None
    assert replay._signature_quick(((x,), {"a": torch.nn.Parameter(x)}), rec) is not None
    # a quick signature and a pytree one are never equal
    slow = {replay._signature(value, rec) for value in values}
    assert slow.isdisjoint(keys) and len(slow) == len(values)


def resolve_free_recorder() -> Any:
    """A recorder with no known values, enough for `_signature`."""
    from modeldoc.probe.record import Recorder

    return Recorder({}, {})


def test_the_subtree_list_is_the_walk_in_order() -> None:
    model = stacks.shared_block()
    tree = guard.walk(model)
    for sub in tree.modules():
        assert replay._relative_list(tree, sub) == list(replay._relative_modules(tree, sub))
