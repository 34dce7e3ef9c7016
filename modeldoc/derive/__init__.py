"""Derivations: where each data-dependent number came from, computed from the recorded trace.

Pure: works on the spec only.
"""

from __future__ import annotations

from modeldoc.derive.flow import attach

__all__ = ["attach"]
