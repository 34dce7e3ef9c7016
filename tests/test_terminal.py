"""terminal: what modeldoc prints shows the model's control characters instead of sending them."""

from __future__ import annotations

import pytest

from modeldoc.terminal import one_line, terminal_safe

pytestmark = pytest.mark.notorch


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("conv1 (Conv2d)", "conv1 (Conv2d)"),
        ("Größe × Höhe → 10", "Größe × Höhe → 10"),  # letters and symbols of any script stay
        ("\x1b[31mred\x1b[0m", r"\x1b[31mred\x1b[0m"),  # colour
        ("\x1b]0;title\x07", r"\x1b]0;title\x07"),  # window title
        ("a\rb\tc\nd", r"a\x0db\x09c\x0ad"),
        ("\u202eevil", r"\u202eevil"),  # right-to-left override
        ("zero\u200bwidth", r"zero\u200bwidth"),
        ("line\u2028break", r"line\u2028break"),
        ("\x9b", r"\x9b"),  # the one-byte CSI
        ("\ud800", r"\ud800"),  # a lone surrogate
        ("\U000e0001tag", r"\U000e0001tag"),
    ],
)
def test_control_and_format_characters_are_written_as_escapes(text: str, shown: str) -> None:
    assert terminal_safe(text) == shown


def test_anything_is_turned_into_text_first() -> None:
    assert terminal_safe(42) == "42"
    assert terminal_safe(ValueError("\x1b[2J")) == r"\x1b[2J"


def test_one_line_folds_whitespace_and_is_terminal_safe() -> None:
    assert one_line("the forward pass\n  failed\tin fc1 ") == "the forward pass failed in fc1"
    assert one_line("red \x1b[31m\nline") == r"red \x1b[31m line"
