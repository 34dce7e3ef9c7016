"""Text for the terminal: nothing a model says may drive it.

Module names, ``ModuleDict`` keys, docstrings and error messages come from the user's code and
can hold escape sequences that recolour, retitle or rewrite a terminal. Every line modeldoc
prints goes through `terminal_safe`, which shows such characters instead of sending them.
"""

from __future__ import annotations

import unicodedata

_SAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}
"""Control, format (bidi overrides, zero-width), line/paragraph separators, surrogates, unassigned."""


def terminal_safe(text: object) -> str:
    r"""`text` with every control or format character written as an escape (``\x1b``, ``\u202e``)."""
    text = str(text)
    if text.isascii() and text.isprintable():
        return text
    return "".join(_visible(ch) for ch in text)


def one_line(text: object) -> str:
    """`text` folded onto one line (runs of whitespace become a space) and made `terminal_safe`."""
    return terminal_safe(" ".join(str(text).split()))


def _visible(ch: str) -> str:
    if ch.isascii() and ch.isprintable():
        return ch
    if unicodedata.category(ch) not in _SAFE_CATEGORIES:
        return ch
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
