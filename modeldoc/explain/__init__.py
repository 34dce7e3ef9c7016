"""What each layer is, from the knowledge table: kinds of arguments, axis meanings, teaching text.

Pure: works on the spec only. `layers` applies the knowledge table, `infer` explains layers
the table does not know, `bookkeeping` sets apart the arguments that are no hyperparameters,
`docstrings` reads a class's docstring into sections.
"""

from __future__ import annotations

from modeldoc.explain import bookkeeping, layers
from modeldoc.knowledge import Knowledge
from modeldoc.spec import ModelSpec


def annotate(spec: ModelSpec, table: Knowledge | None = None) -> ModelSpec:
    """`spec` with every layer explained from the knowledge `table` (default: the current one) or by inference."""
    return bookkeeping.separate(layers.annotate(spec, table), table)


__all__ = ["annotate"]
