"""modeldoc.probe.guard: calls into the user's code turned into sentences, and the tree walked safely."""

from __future__ import annotations

import pytest
from torch import nn

from modeldoc.probe import guard


def test_what_user_code_raises_becomes_a_failure_and_ctrl_c_still_stops() -> None:
    def exits() -> None:
        raise SystemExit(3)

    failed = guard.attempt(exits, "repr(fc1)")
    assert isinstance(failed, guard.Failed)
    assert (failed.sentence(), failed.placeholder()) == (
        "repr(fc1) raised SystemExit: 3",
        "(repr(fc1) failed: SystemExit: 3)",
    )
    assert guard.attempt(lambda: 5, "five") == 5

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        guard.attempt(interrupted, "forward")


def test_an_error_is_described_by_its_first_line_within_200_characters() -> None:
    assert guard.describe_error(ValueError("first\nsecond")) == "ValueError: first"
    assert guard.describe_error(RuntimeError()) == "RuntimeError"
    long = guard.describe_error(RuntimeError("x" * 500))
    assert len(long) == len("RuntimeError: ") + 200 and long.endswith("...")


def test_text_no_utf_8_file_can_hold_is_escaped() -> None:
    assert guard.clean("plain") == "plain"
    assert guard.clean("a\x00b\ud800c") == "a\\x00b\\ud800c"


def test_the_walk_lists_each_module_once_with_its_aliases_and_stops_at_cycles() -> None:
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    model[1].back = model  # type: ignore[assignment]
    tree = guard.walk(model)
    assert list(tree.paths) == ["", "0", "1"]
    assert tree.aliases[id(shared)] == ["0", "2"]
    assert tree.cycles == [("1.back", "")]
    assert [path for path, _ in tree.visits] == ["", "0", "1", "2"]


def test_a_model_nested_deeper_than_the_recursion_limit_is_walked() -> None:
    root = inner = nn.Sequential()
    for _ in range(3000):
        child = nn.Sequential()
        inner.append(child)
        inner = child
    assert len(guard.walk(root).paths) == 3001
