"""Evaluating the arithmetic a page prints: every formula in a derivation must hold.

A printed formula is ``"<expression> = <value>"`` (``"⌈(10 − 1) / 2⌉ = 5"``, ``"6 − 2 = 4"``)
or a name with its value (``"model.embed_tokens.embedding_dim = 32"``, nothing to evaluate).
`mismatch` evaluates each side that is arithmetic (numbers, + − × · /, ⌊⌋, ⌈⌉, ², ³,
parentheses) exactly, with fractions.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from modeldoc.spec import ModelSpec

_SYMBOLS = {"×": "*", "·": "*", "−": "-", "⌊": " floor(", "⌋": ") ", "⌈": " ceil(", "⌉": ") ", "²": "**2", "³": "**3"}


def evaluate(expression: str) -> Fraction | None:
    """The exact value of printed arithmetic, or None when it is not arithmetic (a name, a sentence)."""
    text = expression
    for symbol, python in _SYMBOLS.items():
        text = text.replace(symbol, python)
    try:
        return _value(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError, ZeroDivisionError):
        return None


_BINARY: dict[type, Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.FloorDiv: lambda a, b: Fraction(a // b),
    ast.Pow: lambda a, b: a ** int(b) if b.denominator == 1 and 0 <= b <= 3 else _not_arithmetic(),
}
_ROUNDING = {"floor": math.floor, "ceil": math.ceil}


def _not_arithmetic() -> Fraction:
    raise ValueError("not arithmetic")


def _value(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return Fraction(str(node.value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        return -_value(node.operand) if isinstance(node.op, ast.USub) else _value(node.operand)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _BINARY[type(node.op)](_value(node.left), _value(node.right))
    rounded = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _ROUNDING
    if rounded and len(node.args) == 1:  # type: ignore[attr-defined]
        return Fraction(_ROUNDING[node.func.id](_value(node.args[0])))  # type: ignore[attr-defined]
    return _not_arithmetic()


def mismatch(formula: str, value: Any) -> str | None:
    """Why `formula` does not hold for `value`, or None when every arithmetic side of it equals `value`."""
    if "=" not in formula:
        return None
    *parts, last = (part.strip() for part in formula.split("="))
    stated = evaluate(last)
    if stated is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and stated != value:
        return f"states {last} but the value is {value}"
    for part in parts:
        got = evaluate(part)
        if got is not None and got != stated:
            shown = str(got) if got.denominator == 1 else f"{float(got):g}"
            return f"{part} is {shown}, not {last}"
    return None


def printed_formulas(spec: ModelSpec) -> list[tuple[str, Any]]:
    """Every formula `spec` prints for an argument or a derivation step, with the value it claims."""
    printed = []
    for layer in spec.all_layers:
        for h in layer.hyperparameters:
            printed += [(h.formula, h.value), *((step.formula, step.value) for step in h.derivation)]
    return [(formula, value) for formula, value in printed if formula]


def arithmetic_count(spec: ModelSpec) -> int:
    """How many of `spec`'s printed formulas hold arithmetic that `mismatch` evaluates (not just ``name = 32``)."""
    return sum(1 for formula, _ in printed_formulas(spec) if evaluate(formula.split("=")[0]) is not None)


def formula_mismatches(spec: ModelSpec) -> list[str]:
    """Every printed formula of `spec`'s arguments and derivation steps that does not hold, named by argument."""
    found = []
    for layer in spec.all_layers:
        for h in layer.hyperparameters:
            printed = [(h.formula, h.value), *((step.formula, step.value) for step in h.derivation)]
            for formula, value in printed:
                why = mismatch(formula, value) if formula else None
                if why:
                    found.append(f"{layer.path}.{h.name}: '{formula}': {why}")
    return found
