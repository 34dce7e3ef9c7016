"""Table-driven knowledge about layers: kinds of arguments, axis meanings, teaching text."""

from __future__ import annotations

from modeldoc.spec import ModelSpec


def annotate(spec: ModelSpec) -> ModelSpec:
    """`spec` with every layer explained from the knowledge table."""
    return spec
