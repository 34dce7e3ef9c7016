"""The template language of the knowledge files: sandboxed Jinja with a few filters and helpers.

Text fields are Jinja templates filled with a layer's own numbers; a string that starts with
``=`` is a Jinja expression that evaluates to a value (a list of axes, a number). Templates are
compiled once and cached; `check_template` and `check_expression` compile without rendering, so
the loader can reject a syntax error when it reads a file. Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import Environment, StrictUndefined, TemplateSyntaxError, Undefined, meta
from jinja2.sandbox import SandboxedEnvironment

from modeldoc.arithmetic import window_size


class Unknown:
    """A value not known yet (a lazy layer's size before its first call): shows as ``?``, absorbs arithmetic."""

    def __str__(self) -> str:
        return "?"

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown)

    def __hash__(self) -> int:
        return 0

    def _absorb(self, *_: object) -> Unknown:
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _absorb
    __floordiv__ = __rfloordiv__ = __truediv__ = __rtruediv__ = __mod__ = __pow__ = __neg__ = _absorb


UNKNOWN = Unknown()


def dims_text(value: Any) -> str:
    """``[5, 5]`` becomes ``"5×5"``, ``5`` stays ``"5"`` (the ``x`` filter)."""
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    return str(value)


def compact(value: Any) -> str:
    """A stride or padding, shortly: ``[2, 2]`` becomes ``"2"``, ``[1, 2]`` stays ``"1×2"`` (the ``compact`` filter)."""
    if isinstance(value, list | tuple) and value and all(v == value[0] for v in value):
        return str(value[0])
    return dims_text(value)


def _all_equal(value: Any, number: Any) -> bool:
    if isinstance(value, list | tuple):
        return all(v == number for v in value)
    return bool(value == number)


def _same_size(value: Any, other: Any) -> bool:
    """True when two per-axis sizes agree, one number standing for every axis (``2`` and ``[2, 2]``)."""
    if isinstance(other, list | tuple):
        return list(other) == list(value) if isinstance(value, list | tuple) else _all_equal(other, value)
    return _all_equal(value, other)


def window_brief(
    kernel: Any, stride: Any = None, padding: Any = None, dilation: Any = None, default_stride: Any = 1
) -> list[str]:
    """The short label of a sliding window: its size, then stride, padding and dilation where not the default.

    ``window_brief([3, 3], [2, 2], [1, 1], [1, 1])`` is ``["3×3", "stride 2", "pad 1"]``. A
    pooling window's stride defaults to its size: pass ``default_stride=kernel_size``.
    """
    out = [dims_text(kernel)] if kernel is not None else []
    if stride is not None and not _same_size(stride, default_stride):
        out.append(f"stride {compact(stride)}")
    if isinstance(padding, str):
        if padding not in ("valid", ""):
            out.append(f"pad {padding}")
    elif padding is not None and not _all_equal(padding, 0):
        out.append(f"pad {compact(padding)}")
    if dilation is not None and not _all_equal(dilation, 1):
        out.append(f"dilation {compact(dilation)}")
    return out


def window_formula(
    size: int,
    kernel: int,
    *,
    stride: int | None = 1,
    padding: int | str = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
    output_padding: int = 0,
    transposed: bool = False,
) -> str:
    """The output size of a window along one axis, as arithmetic with its numbers.

    For example ``"⌊(28 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1 = 24"``.

    The one implementation of that rule is the derivations' `window_size`; entries call this
    rather than writing the arithmetic again.

    Raises:
        ValueError: the window does not fit the size (no output).

    """
    found = window_size(
        int(size),
        int(kernel),
        stride=stride,
        padding=padding,
        dilation=dilation,
        ceil_mode=bool(ceil_mode),
        output_padding=output_padding,
        transposed=bool(transposed),
    )
    if found is None:
        raise ValueError(f"a window of {kernel} does not fit a size of {size} with these arguments")
    return found[1].text


# Templates and expressions: sandboxed, since user folders add entries; strict so a typo in an entry fails its test.
_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True)
_ENV.filters["x"] = dims_text
_ENV.filters["compact"] = compact
_ENV.filters["prod"] = lambda values: (
    UNKNOWN if isinstance(values, Unknown) else math.prod(values) if isinstance(values, list | tuple) else values
)
_ENV.filters["zip_ranges"] = lambda names, size: [
    f"{name} ({'row' if size == 1 else 'rows'} {i * size}{'' if size == 1 else f'–{(i + 1) * size - 1}'})"
    for i, name in enumerate(names)
]
_ENV.filters["prefixed"] = lambda values, prefix: [f"{prefix}{v}" for v in values]
_ENV.filters["expand"] = lambda value, n: list(value) if isinstance(value, list | tuple) else [value] * n
_ENV.filters["num"] = lambda value: f"{value:,}".replace(",", " ") if isinstance(value, int) else str(value)
_ENV.globals["window_formula"] = window_formula
_ENV.globals["window_brief"] = window_brief

# `read` expressions run on the live module in the probe (they may read private attributes).
_READ_ENV = Environment(undefined=StrictUndefined, autoescape=False)


def render(template: Any, context: Mapping[str, Any]) -> Any:
    """A template string filled in; ``"= expr"`` strings evaluate to a value; lists map over items."""
    if isinstance(template, list | tuple):
        out: list[Any] = []
        for item in template:
            value = render(item, context)
            # an expression item that yields a list splices in (``"= kernel_axes"``)
            out.extend(value if isinstance(item, str) and item.startswith("=") and isinstance(value, list) else [value])
        return out
    if not isinstance(template, str):
        return template
    if template.startswith("="):
        return evaluate(template[1:], context)
    if "{" not in template:  # plain text: nothing for Jinja to fill in
        return " ".join(template.split())
    return " ".join(_template(template).render(context).split())


def evaluate(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of a Jinja expression over `context`; an undefined name raises."""
    return _defined(_expression(expression.strip())(**context))


def evaluate_unsandboxed(expression: str, context: Mapping[str, Any]) -> Any:
    """The value of a read-back expression over a live module (may read private attributes)."""
    return _defined(_read_expression(expression.strip())(**context))


def check_template(text: str) -> str:
    """``""`` when `text` compiles (a template, or an expression when it starts with ``=``), else the syntax error."""
    try:
        if text.startswith("="):
            _expression(text[1:].strip())
        else:
            _template(text)
    except TemplateSyntaxError as err:
        return _syntax_error(err)
    return ""


@cache
def names_read(text: str) -> frozenset[str] | None:
    """The names a template (or an ``=`` expression) reads from its context; None when it does not compile."""
    source = "{{ " + text[1:] + " }}" if text.startswith("=") else text
    try:
        return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))
    except TemplateSyntaxError:
        return None


def check_read_expression(text: str) -> str:
    """``""`` when the read-back expression `text` compiles, else the syntax error."""
    try:
        _read_expression(text.strip())
    except TemplateSyntaxError as err:
        return _syntax_error(err)
    return ""


def _syntax_error(err: TemplateSyntaxError) -> str:
    return f"template syntax error: {err.message} (line {err.lineno})"


@cache
def _template(text: str) -> Any:
    return _ENV.from_string(text)


@cache
def _expression(text: str) -> Any:
    return _ENV.compile_expression(text, undefined_to_none=False)


@cache
def _read_expression(text: str) -> Any:
    return _READ_ENV.compile_expression(text, undefined_to_none=False)


def _defined(value: Any) -> Any:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    return value
