"""A live module and its options to the raw `ModelSpec`: the static walk, and the probe's results merged in.

`collect` walks the module tree once (`modeldoc.probe.guard.walk`), runs the shape probe
(`modeldoc.probe.trace.probe`) when the options give an example input, reads the tree
(`modeldoc.probe.static.read_model`) and fills each layer with what the probe saw: shapes,
symbolic dims, call counts, costs, and the shapes lazy parameters took. The spec is raw: the
knowledge and the derivations are added later, without torch (`modeldoc.pipeline.interpret`).
"""

from __future__ import annotations

import math
import os
import traceback
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from torch import nn

from modeldoc import costs, progress
from modeldoc.errors import ModeldocError
from modeldoc.options import ModelOptions
from modeldoc.probe import guard
from modeldoc.probe.static import read_model
from modeldoc.probe.trace import ProbeResult, probe
from modeldoc.spec import LayerSpec, ModelSpec

FAST_FILL = True
"""Whether each layer is made with what the probe saw of it, rather than read, then copied with it by
`fill_layer` (tests turn it off to compare with and without)."""
NO_INPUT = (
    "no example input was given, so input and output shapes, costs and the data flow are not shown; "
    "pass --input-shape (e.g. --input-shape 1,1,28,28) to add them"
)


def no_forward(module: nn.Module) -> str:
    """Why `module` cannot be probed when its class defines no forward (``nn.Module``'s own raises), else ""."""
    if getattr(type(module), "forward", None) is not nn.Module.forward:
        return ""
    name = type(module).__name__
    return (
        f"{name} defines no forward (its parts are called on their own, e.g. by a generate or decode method), so "
        "there is no forward pass to probe: input and output shapes, costs and the data flow are not shown; "
        "describe one of its parts with an input to see them"
    )


def collect(module: nn.Module, options: ModelOptions, tree: guard.Tree | None = None) -> ModelSpec:
    """Describe `module`: its tree, parameters, arguments and probed shapes (``options.target`` only names it).

    `tree` is the walk of `module` when the caller has it.
    """
    tree = tree or guard.walk(module)  # not module.modules(): the model's own may raise, loop or be overridden
    if options.has_input:
        progress.phase(f"probing {len(tree.paths):,} modules: a forward pass on the {options.probe_device} device")
    else:
        progress.phase(f"reading {len(tree.paths):,} modules")
    unprobed = no_forward(module) if options.has_input else NO_INPUT
    seen = None if unprobed else guarded_probe(module, options, tree)
    if FAST_FILL and seen is not None and not seen.lazy:  # lazy shapes change a layer's totals: filled after
        static = read_model(module, tree, probed=_probed(seen))
        root, layers = static.root, list(static.layers)
    else:
        static = read_model(module, tree)
        root, *layers = (fill_layer(layer, seen) for layer in (static.root, *static.layers))
    totals = static.totals if seen is None else lazy_totals(static.totals, seen)
    probe_error = unprobed if seen is None else seen.error
    warnings = ((seen.error,) if seen and seen.error else ()) + (seen.warnings if seen else ()) + static.warnings
    warnings = (unprobed, *warnings) if unprobed and unprobed != NO_INPUT else warnings
    return ModelSpec(
        name=static.name,
        type=static.type,
        target=options.target,
        title=options.title or static.name,
        docstring=static.docstring,
        print_text=static.print_text,
        root=root,
        layers=tuple(layers),
        inputs=seen.inputs if seen else (),
        output_dims=seen.output_dims if seen else (),
        outputs=seen.outputs if seen else (),
        trace=seen.trace if seen else None,
        probe_error=probe_error,
        macs=seen.macs if seen else 0,
        flops=seen.flops if seen else 0,
        activation_bytes=seen.activation_bytes if seen else 0,
        warnings=warnings,
        **totals,
    )


def guarded_probe(module: nn.Module, options: ModelOptions, tree: guard.Tree) -> ProbeResult:
    """The probe's result; an unexpected error inside modeldoc's probe becomes the page's probe error.

    The last guard between an internal error and the user: the static pages are still built, and
    the page says what stopped the probe and where. Errors modeldoc raises on purpose (a bad
    option, a factory that fails) still stop the command with their message.
    """
    try:
        return probe(module, options, tree)
    except (ModeldocError, KeyboardInterrupt):
        raise
    except Exception as err:  # an internal error: reported on the page, never as a traceback
        where = _innermost_own_frame(err)
        message = (
            f"the shape probe stopped on an internal error of modeldoc ({guard.describe_error(err)}{where}), so "
            "no shapes are shown; the rest of the page is read from the model at rest. Please report this "
            "with the model"
        )
        return ProbeResult(inputs=(), trace=None, error=message)


_PACKAGE = str(Path(__file__).absolute().parent.parent)
"""modeldoc's own package folder: internal errors are located by their innermost frame in it."""


def _innermost_own_frame(err: BaseException) -> str:
    """`` at modeldoc/probe/run.py:120``: the innermost frame of the traceback in modeldoc's own code."""
    own = [frame for frame in traceback.extract_tb(err.__traceback__) if frame.filename.startswith(_PACKAGE + os.sep)]
    if not own:
        return ""
    frame = own[-1]
    path = os.path.relpath(frame.filename, Path(_PACKAGE).parent).replace(os.sep, "/")
    return f" at {path}:{frame.lineno}"


def fill_layer(layer: LayerSpec, seen: ProbeResult | None) -> LayerSpec:
    """`layer` with the shapes, symbolic dims, call counts and costs the probe saw (as it is without a probe)."""
    if seen is None:
        return layer
    return _with_lazy_shapes(replace(layer, **_probed(seen)(layer.path)), seen)


def _probed(seen: ProbeResult) -> Callable[[str], dict[str, Any]]:
    """The fields `fill_layer` sets on the layer at a path, for a probe that met no lazy parameter."""

    def fields(path: str) -> dict[str, Any]:
        cost = seen.costs.get(path, costs.ZERO)
        found: dict[str, Any] = {"macs": cost.macs, "flops": cost.flops, "activation_bytes": cost.activation_bytes}
        calls = seen.calls.get(path)
        if calls is not None:
            found.update(
                calls=calls.count,
                order=calls.order,
                input_shapes=calls.input_shapes,
                output_shapes=calls.output_shapes,
                input_dims=calls.input_dims,
                output_dims=calls.output_dims,
            )
        return found

    return fields


def _with_lazy_shapes(layer: LayerSpec, seen: ProbeResult) -> LayerSpec:
    """Lazy parameters get the shapes the probe's first call gave them."""
    extra = sum(
        math.prod(shape)
        for path, lazy in seen.lazy.items()
        if _within(path, layer.path)
        for shape, _, _ in lazy.tensors.values()
    )
    lazy = seen.lazy.get(layer.path)
    if lazy is None:
        return replace(layer, total_params=layer.total_params + extra) if extra else layer
    params = []
    for p in layer.parameters:
        got = lazy.tensors.get(p.local_name)
        if got is None or p.shape:
            params.append(p)
            continue
        shape, dtype, itemsize = got
        params.append(replace(p, shape=shape, dtype=dtype, numel=math.prod(shape), nbytes=math.prod(shape) * itemsize))
    own = sum(p.numel for p in params if p.counted and not p.is_buffer)
    note = (
        f"{layer.type_name} is lazy: the parameter shapes shown come from the probe's first call; "
        "the model itself stays uninitialised until its own first call."
    )
    return replace(
        layer,
        parameters=tuple(params),
        own_params=own,
        total_params=layer.total_params + extra,
        notes=(*layer.notes, note),
    )


def lazy_totals(totals: Mapping[str, Any], seen: ProbeResult) -> Mapping[str, Any]:
    """Model totals (from the static walk) with the lazy parameters the probe materialised added."""
    if not seen.lazy:
        return totals
    out = dict(totals)
    by_dtype = dict(out.get("bytes_by_dtype", {}))
    for lazy in seen.lazy.values():
        for shape, dtype, itemsize in lazy.tensors.values():
            n = math.prod(shape)
            out["total_params"] = out.get("total_params", 0) + n
            out["trainable_params"] = out.get("trainable_params", 0) + n
            by_dtype[dtype] = by_dtype.get(dtype, 0) + n * itemsize
            out["param_bytes"] = out.get("param_bytes", 0) + n * itemsize
    out["bytes_by_dtype"] = by_dtype
    return out


def _within(path: str, root: str) -> bool:
    return root in ("", path) or path.startswith(root + ".")
