"""Derivations: where each data-dependent number came from, computed from the recorded trace.

Pure: works on the spec only. By job:

- `arguments`: each shape-bound argument's formula, derivation listing and error, and the
  target rule (`attach` fills them in for a whole spec);
- `provenance`: following a size back to its origin, each (tensor, axis) once, and cutting
  long listings, within a work budget;
- `module_rules` and `function_rules`: what each layer (by its knowledge entry's size rule)
  and each function op (by name) does to a size, one small registered function per rule;
  `shared_rules` holds what a layer and its function share (windows, reshapes);
- `context`: the one object every rule receives, and the outcome it returns;
- `arithmetic`: pure shape arithmetic that returns each number with its formula;
- `dims`: the one place an argument's ``dim`` (``"in0:-1"``) is read.
"""

from __future__ import annotations

from modeldoc.derive.arguments import attach

__all__ = ["attach"]
