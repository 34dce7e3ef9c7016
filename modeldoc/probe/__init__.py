"""Everything that touches torch or the user's code, behind one door.

The rest of modeldoc reads the `ModelSpec` this package produces and never imports torch (a
test enforces it). The way in is `collect.collect` (a live module and its options to the raw
spec) and `loader` (a target to a live module). By job:

- `loader`: a target (``pkg.mod:Name``, ``path/file.py:Name``) to a live module; the only
  place that imports the user's code. `names`: how classes, modules and dtypes are named.
- `guard`: every call into the user's code guarded, the module tree walked without recursion.
- `static`: the module tree read without running it: layers, parameters, docstrings, totals;
  `arguments`: constructor arguments read back from a live layer.
- `trace`: the shape probe: which forward passes run (meta device, the fallback with real
  weights, the symbolic passes) and what they saw (`ProbeResult`). Its parts:
  `inputs` (example inputs from shapes or a factory), `run` (one pass, with the model
  restored in ``finally``; its time budget in `deadline`), `record` (the recorder of torch
  calls and module calls), `meta_kernels` (what the meta device answers wrongly or slowly),
  `ops` (op names, targets and argument tables), `resolve` (live tensors to `TraceSpec`),
  `symbolic` (sizes that follow named axes, such as ``N·L``).
- `collect`: the static walk and the probe's results merged into the raw `ModelSpec`.

Importing any of it imports torch, here first: quietly, and as `TorchMissing` when it is not
installed.
"""

from __future__ import annotations

import warnings

from modeldoc.errors import TorchMissing

with warnings.catch_warnings():
    # Without numpy, torch warns "Failed to initialize NumPy" as it is imported; modeldoc needs
    # no numpy, so that warning would only alarm. Every probe module imports this package first.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy", category=UserWarning)
    try:
        import torch  # noqa: F401 - imported here first, for the two reasons above
    except ModuleNotFoundError as err:
        if err.name != "torch":
            raise
        raise TorchMissing() from err
