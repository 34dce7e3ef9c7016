"""knowledge.templates: the sandboxed Jinja of the knowledge files, its helpers, and values not known yet."""

from __future__ import annotations

import pytest
from jinja2.exceptions import SecurityError, UndefinedError

from modeldoc.knowledge import templates

pytestmark = pytest.mark.notorch


def test_window_helpers_are_the_derivations_arithmetic() -> None:
    from modeldoc.arithmetic import window_size

    found = window_size(28, 5)
    assert found is not None
    assert templates.window_formula(28, 5) == found[1].text == "⌊(28 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 24"
    assert (
        templates.window_formula(8, 2, stride=2, padding=1, ceil_mode=True) == "⌈(8 + 2·1 − 1·(2 − 1) − 1) / 2⌉ + 1 = 5"
    )
    with pytest.raises(ValueError, match="a window of 5 does not fit a size of 3"):
        templates.window_formula(3, 5)
    assert templates.window_brief([3, 3], [2, 2], [1, 1], [1, 1]) == ["3×3", "stride 2", "pad 1"]
    assert templates.window_brief(2, 2, 0, 1, default_stride=2) == ["2"]
    assert templates.window_brief([2, 2], 2, "same", [2, 1], default_stride=[2, 2]) == [
        "2×2",
        "pad same",
        "dilation 2×1",
    ]
    assert templates.compact([2, 2]) == "2" and templates.compact([1, 2]) == "1×2" and templates.dims_text(5) == "5"


def test_a_text_field_is_filled_with_the_layers_numbers_on_one_line() -> None:
    assert templates.render("{{ a }} and {{ b | x }}", {"a": 3, "b": [5, 5]}) == "3 and 5×5"
    assert templates.render("{{ 'x' }}  \n  spaced   text", {}) == "x spaced text"


def test_an_equals_sign_makes_an_expression_and_a_list_expression_splices_into_a_list() -> None:
    assert templates.render("= a * 2", {"a": 3}) == 6
    assert templates.render(["= axes", "channels"], {"axes": ["height", "width"]}) == ["height", "width", "channels"]
    assert templates.render(["= n", "channels"], {"n": 4}) == [4, "channels"]
    assert templates.render(7, {}) == 7  # not a template: left as it is


def test_a_value_not_known_yet_shows_as_a_question_mark_through_arithmetic() -> None:
    unknown = templates.UNKNOWN
    assert templates.render("{{ a }}→{{ b }}", {"a": unknown, "b": 4}) == "?→4"
    assert str(unknown * 3 + 1) == "?" and str(2 - unknown) == "?" and str(-unknown) == "?"
    assert not unknown and unknown == templates.Unknown() and unknown != 0


def test_an_undefined_name_raises_instead_of_rendering_empty() -> None:
    with pytest.raises(UndefinedError, match="'missing' is undefined"):
        templates.evaluate("missing + 1", {})
    with pytest.raises(UndefinedError):
        templates.render("{{ missing }}", {})


def test_the_sandbox_keeps_entries_off_private_attributes_but_read_back_expressions_may_use_them() -> None:
    class Layer:
        _private = 5

    with pytest.raises(SecurityError):
        templates.evaluate("a.__class__.__mro__", {"a": 1})
    with pytest.raises(SecurityError):
        templates.evaluate("m._private", {"m": Layer()})
    assert templates.evaluate_unsandboxed("m._private", {"m": Layer()}) == 5


def test_a_syntax_error_is_found_without_rendering_and_said_with_its_line() -> None:
    assert templates.check_template("ok {{ a }}") == ""
    assert templates.check_template("= a + 1") == ""
    assert templates.check_template("{{ a ").startswith("template syntax error: unexpected end of template")
    assert templates.check_template("= a +") == "template syntax error: unexpected 'end of template' (line 1)"
    assert templates.check_read_expression("m.(") == "template syntax error: expected name or number (line 1)"
