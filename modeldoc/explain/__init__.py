"""What each layer is, from the knowledge table: kinds of arguments, axis meanings, teaching text.

Pure: works on the spec only. `layers` applies the knowledge table, `infer` explains layers
the table does not know, `docstrings` reads a class's docstring into sections.
"""

from __future__ import annotations

from modeldoc.explain.layers import annotate

__all__ = ["annotate"]
