"""errors: every error modeldoc raises on purpose roots at ModeldocError and says what to do about it."""

from __future__ import annotations

import pytest

from modeldoc import errors

pytestmark = pytest.mark.notorch


def test_every_error_class_roots_at_modeldoc_error() -> None:
    found = [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)]
    assert {c.__name__ for c in found} >= {"ConfigError", "ModelLoadError", "ProbeError", "OutputError"}
    assert all(issubclass(c, errors.ModeldocError) for c in found)


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (errors.ConfigError("--depth 0 is below 1", "give 1 or more"), "--depth 0 is below 1; give 1 or more"),
        (
            errors.ModelLoadError("pkg:Net", "no module named 'pkg'", "check the name"),
            "cannot load 'pkg:Net': no module named 'pkg'; check the name",
        ),
        (
            errors.ProbeError("fc1 got 7 features", "pass --input-shape 1,8"),
            "fc1 got 7 features; pass --input-shape 1,8",
        ),
        (errors.OutputError("cannot write site", "choose another --out"), "cannot write site; choose another --out"),
    ],
)
def test_the_message_is_the_problem_then_the_fix(error: errors.ModeldocError, message: str) -> None:
    assert str(error) == message


def test_the_fixed_messages_say_how_to_go_on() -> None:
    graphviz = str(errors.GraphvizNotFound())
    assert "apt-get install graphviz" in graphviz and "brew install graphviz" in graphviz
    assert graphviz.endswith("or pass --no-diagrams")
    assert str(errors.TorchMissing()).endswith("install it (pip install torch) and run modeldoc again")
    budget = str(errors.DerivationTooLarge("fc1.in_features", 1_250_000))
    assert budget.startswith("deriving fc1.in_features needs more than 1,250,000 units of work")
