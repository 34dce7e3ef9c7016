"""The shape probe: one forward pass with hooks, on the meta device by default.

The user's model is never moved: parameters and buffers are swapped for meta stand-ins
for the duration of the call (``torch.func.functional_call``) and every hook is removed
in ``finally:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch import nn

from modeldoc.options import InputOption, ModelOptions
from modeldoc.spec import InputInfo, LayerSpec, TraceSpec

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "long": torch.long,
    "int32": torch.int32,
    "bool": torch.bool,
}


@dataclass
class _Calls:
    count: int = 0
    order: int | None = None
    input_shapes: tuple[tuple[int, ...], ...] = ()
    output_shapes: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class ProbeResult:
    """What one probe saw."""

    inputs: tuple[InputInfo, ...]
    trace: TraceSpec | None
    calls: Mapping[str, _Calls] = field(default_factory=dict)
    error: str = ""
    output_dims: tuple[tuple[int | str, ...], ...] = ()
    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0

    def annotate(self, layer: LayerSpec) -> LayerSpec:
        """`layer` with the shapes and call counts the probe saw."""
        seen = self.calls.get(layer.path)
        if seen is None:
            return layer
        return replace(
            layer,
            calls=seen.count,
            order=seen.order,
            input_shapes=seen.input_shapes,
            output_shapes=seen.output_shapes,
            input_dims=seen.input_shapes,
            output_dims=seen.output_shapes,
        )


def probe(module: nn.Module, options: ModelOptions) -> ProbeResult:
    """Run one forward pass of `module` on example inputs and record every module call."""
    inputs = tuple(_info(i, n) for n, i in enumerate(options.inputs))
    paths = {id(sub): path for path, sub in module.named_modules()}
    calls: dict[str, _Calls] = {path: _Calls() for path in paths.values()}
    counter = [0]

    def hook(sub: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        seen = calls[paths[id(sub)]]
        if seen.count == 0:
            seen.order = counter[0]
            counter[0] += 1
            seen.input_shapes = _shapes(args)
            seen.output_shapes = _shapes(output)
        seen.count += 1

    handles = [sub.register_forward_hook(hook) for sub in module.modules()]
    was_training = module.training
    error = ""
    try:
        module.eval()
        args, kwargs = _example(options.inputs, device="meta")
        state = {name: torch.empty_like(t, device="meta") for name, t in module.state_dict(keep_vars=True).items()}
        with torch.no_grad():
            torch.func.functional_call(module, state, args, kwargs)
    except Exception as err:  # the page shows the failure; the static part still builds
        error = f"the forward pass failed: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    finally:
        for handle in handles:
            handle.remove()
        module.train(was_training)
    return ProbeResult(inputs=inputs, trace=None, calls=calls, error=error)


def _info(option: InputOption, index: int) -> InputInfo:
    return InputInfo(
        name=option.keyword or f"input{index}",
        shape=option.shape,
        dtype=option.dtype,
        dims=tuple(n or s for s, n in zip(option.shape, option.axis_names, strict=True)),
    )


def _example(options: tuple[InputOption, ...], device: str) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for option in options:
        tensor = torch.zeros(option.shape, dtype=_DTYPES[option.dtype], device=device)
        if option.keyword:
            kwargs[option.keyword] = tensor
        else:
            args.append(tensor)
    return tuple(args), kwargs


def _shapes(value: Any) -> tuple[tuple[int, ...], ...]:
    if isinstance(value, torch.Tensor):
        return (tuple(value.shape),)
    if isinstance(value, list | tuple):
        return tuple(s for v in value for s in _shapes(v))
    if isinstance(value, Mapping):
        return tuple(s for v in value.values() for s in _shapes(v))
    return ()
