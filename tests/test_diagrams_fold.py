"""Folding repeats: the shared run rule, structural signatures, and folded data-flow clusters."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from torch import nn

from modeldoc import diagrams
from modeldoc.diagrams.flow import trace_flow
from modeldoc.diagrams.fold import FOLD_MIN, Shapes, fold_repeats, fold_runs
from tests.helpers.diagrams import edges, href, titled
from tests.helpers.traces import TraceBuilder, stack_spec, stack_trace, static
from tests.models import Stack


def test_flow_folds_chains_of_identical_blocks(golden: Any) -> None:
    dot = diagrams.flow_dot(stack_spec(), "", 2, href)
    golden.check("stack_flow_depth2.dot", dot)
    assert [t for t, _, _ in edges(dot)] == ["ids", "embed", "blocks.0", "blocks.1 … blocks.4", "blocks.5", "head"]
    fold = titled(dot, "blocks.1 … blocks.4")
    assert "4 more × Block" in fold
    assert 'URL="#blocks.1"' in fold

    expanded = diagrams.flow_dot(stack_spec(), "blocks", 2, href)
    assert "<B>0.norm</B>" in expanded  # the first block is drawn in full, in its cluster
    assert "<B>5.norm</B>" in expanded
    assert "<B>3.norm</B>" not in expanded
    assert "<B>1 … 4</B>" in expanded


def runs(items: str) -> list[str]:
    """`fold_runs` over letters, equal letters being the same: each run written as its letters."""
    return ["".join(run.items) if not run.folded else f"({''.join(run.items)})" for run in fold_runs(items, str.__eq__)]


def test_a_run_folds_from_fold_min_repeats_keeping_first_and_last() -> None:
    assert FOLD_MIN == 4
    assert runs("aaa") == ["a", "a", "a"]
    assert runs("aaaa") == ["a", "(aa)", "a"]
    assert runs("xaaaaaay") == ["x", "a", "(aaaa)", "a", "y"]
    assert runs("aaaabbbb") == ["a", "(aa)", "a", "b", "(bb)", "b"]
    assert runs("abab") == ["a", "b", "a", "b"]
    assert runs("") == []


def test_shapes_are_equal_for_identical_subtrees_only() -> None:
    model = nn.Sequential(
        nn.Sequential(nn.Linear(4, 4), nn.ReLU()),
        nn.Sequential(nn.Linear(4, 4), nn.ReLU()),
        nn.Sequential(nn.Linear(4, 8), nn.ReLU()),  # another width
        nn.Sequential(nn.ReLU(), nn.Linear(4, 4)),  # another order
    )
    shapes = Shapes({layer.path: layer for layer in static(model).all_layers})
    assert shapes.signature("0") == shapes.signature("1")
    assert shapes.signature("0") != shapes.signature("2")
    assert shapes.signature("0") != shapes.signature("3")
    assert shapes.inside("") == 12  # four blocks of two
    assert shapes.inside("0") == 2
    assert shapes.inside("0.0") == 0


def test_folding_moves_edges_to_the_fold_and_keeps_the_graph_it_was_given() -> None:
    spec = stack_spec()
    assert spec.trace is not None
    unfolded = trace_flow(spec, spec.trace, "", 2)
    folded = fold_repeats(unfolded)
    assert [s.title for s in folded.steps if s.kind == "fold"] == ["blocks.1 … blocks.4"]
    assert len(unfolded.steps) - len(folded.steps) == 4 - 1  # four blocks became one box
    assert not [s for s in unfolded.steps if s.kind == "fold"]  # the input graph is unchanged
    keys = {s.key for s in folded.steps}
    assert all(e.tail in keys and e.head in keys for e in folded.edges)
    [fold_step] = [s for s in folded.steps if s.kind == "fold"]
    into = [e for e in folded.edges if e.head == fold_step.key]
    out = [e for e in folded.edges if e.tail == fold_step.key]
    assert [(e.label, len(e.tensors)) for e in into] == [("N × L × 16", 1)]
    assert [(e.label, len(e.tensors)) for e in out] == [("N × L × 16", 1)]
    assert folded.blocks == ("blocks.0", "blocks.5", "blocks.1")  # folds come last
    again = fold_repeats(folded)
    assert len({s.key for s in again.steps}) == len(again.steps)


def test_identical_blocks_that_do_not_hand_data_to_each_other_stay_apart() -> None:
    b = TraceBuilder()
    x = b.input("x", ("N", 8))
    outs = [b.module(f"{i}", x, out=("N", 8)) for i in range(5)]  # five parallel branches
    b.output(*outs)
    spec = replace(static(nn.Sequential(*[nn.Linear(8, 8) for _ in range(5)])), trace=b.trace())
    assert spec.trace is not None
    graph = trace_flow(spec, spec.trace, "", 2)
    assert fold_repeats(graph) == graph


@pytest.mark.parametrize("n", [FOLD_MIN - 1, FOLD_MIN])
def test_a_chain_folds_from_fold_min_blocks(n: int) -> None:
    spec = replace(static(Stack(n)), trace=stack_trace(n))
    titles = [t for t, _, _ in edges(diagrams.flow_dot(spec, "", 2, href))]
    folded = [t for t in titles if "…" in t]
    assert folded == ([f"blocks.1 … blocks.{n - 2}"] if n >= FOLD_MIN else [])
