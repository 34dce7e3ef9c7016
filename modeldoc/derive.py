"""Derivations: where each data-dependent number came from, computed from the trace."""

from __future__ import annotations

from modeldoc.spec import ModelSpec


def attach(spec: ModelSpec) -> ModelSpec:
    """`spec` with formulas and derivations for its data-dependent hyperparameters."""
    return spec
