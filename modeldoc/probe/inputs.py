"""The example inputs of a forward pass: built from the input options, or by the user's factory.

An `Example` builds the inputs at any sizes of the named axes (``N``, ``L``) on any device, so
that the symbolic passes can ask for the same inputs at other sizes. Shapes from options are
filled with random floats, or ones for integers (valid token ids); a factory
(``--example pkg.mod:make_inputs``) returns real tensors, resized along the batch axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.utils._pytree as pytree

from modeldoc.errors import ConfigError, ProbeError
from modeldoc.options import InputOption, ModelOptions
from modeldoc.probe import guard, loader

Shape = tuple[int, ...]


_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "long": torch.long,
    "int64": torch.long,
    "int32": torch.int32,
    "bool": torch.bool,
}


@dataclass(frozen=True)
class Example:
    """How to build the example input at given sizes of the named axes, on a given device."""

    make: Callable[[str, Mapping[str, int]], tuple[tuple[Any, ...], dict[str, Any]]]
    sizes: Mapping[str, int]
    """The named axes and their sizes in the base example (``{"N": 1, "L": 16}``)."""
    nbytes: Callable[[Mapping[str, int]], int] = lambda sizes: 0
    """The bytes the example inputs take at given sizes (0 when a factory already made them)."""


def example_for(options: ModelOptions) -> Example:
    """The example inputs `options` describe: from a factory (``--example``), else from the input shapes."""
    if options.example:
        return _factory_example(options.example)
    return _option_example(options.inputs)


def _option_example(inputs: tuple[InputOption, ...]) -> Example:
    sizes: dict[str, int] = {}
    for option in inputs:
        for size, name in zip(option.shape, option.axis_names, strict=True):
            if name:
                sizes.setdefault(name, size)

    def shape_at(option: InputOption, at: Mapping[str, int]) -> Shape:
        return tuple(at.get(n, s) if n else s for s, n in zip(option.shape, option.axis_names, strict=True))

    def nbytes(at: Mapping[str, int]) -> int:
        return sum(math.prod(shape_at(o, at)) * torch.empty((), dtype=_DTYPES[o.dtype]).element_size() for o in inputs)

    for option in inputs:
        _check_size(option.shape, _DTYPES[option.dtype])

    def make(device: str, at: Mapping[str, int]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        generator = torch.Generator().manual_seed(0)
        for option in inputs:
            shape = shape_at(option, at)
            _check_size(shape, _DTYPES[option.dtype])
            tensor = _filled(shape, _DTYPES[option.dtype], device, generator)
            if option.keyword:
                kwargs[option.keyword] = tensor
            else:
                args.append(tensor)
        return tuple(args), kwargs

    return Example(make=make, sizes=sizes, nbytes=nbytes)


_MAX_TENSOR_BYTES = 2**63 - 1


def _check_size(shape: Shape, dtype: torch.dtype) -> None:
    """A ConfigError for a shape no tensor can have (its byte size overflows int64)."""
    numel = math.prod(shape)
    if numel * torch.empty((), dtype=dtype).element_size() > _MAX_TENSOR_BYTES:
        raise ConfigError(
            f"the input shape {','.join(map(str, shape))} has {numel:.3g} elements, more than any tensor can hold "
            "(its size in bytes overflows a 64-bit integer)",
            "give a smaller --input-shape",
        )


def _filled(shape: Shape, dtype: torch.dtype, device: str, generator: torch.Generator) -> torch.Tensor:
    """An example tensor: random floats, and ones for integers and booleans (valid token ids and masks)."""
    if device == "meta":
        return torch.empty(shape, dtype=dtype, device="meta")
    if dtype.is_floating_point:
        return torch.randn(shape, generator=generator).to(dtype=dtype, device=device)
    return torch.ones(shape, dtype=dtype, device=device)


def _factory_example(target: str) -> Example:
    factory = loader.load_callable(target)
    produced = guard.attempt(factory, f"the example-input factory {target}")
    if isinstance(produced, guard.Failed):
        raise ProbeError(
            produced.sentence(), "fix the factory so that it returns the example inputs (args, or (args, kwargs))"
        )
    args, kwargs = _split_example(produced)
    tensors = [t for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)]
    batch = {t.shape[0] for t in tensors if t.dim() >= 1}
    # Axis 0 is the batch when every example tensor has the same first size.
    sizes = {"N": batch.pop()} if tensors and len(batch) == 1 and all(t.dim() >= 1 for t in tensors) else {}

    def make(device: str, at: Mapping[str, int]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        n = at.get("N")

        def convert(t: torch.Tensor) -> torch.Tensor:
            if n is not None and n != t.shape[0]:
                if device == "meta":
                    return torch.empty((n, *t.shape[1:]), dtype=t.dtype, device="meta")
                t = t.index_select(0, torch.arange(n, device=t.device) % t.shape[0])
            return t.to("meta") if device == "meta" else t

        return pytree.tree_map_only(torch.Tensor, convert, (args, kwargs))

    return Example(make=make, sizes=sizes)


def _split_example(produced: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A factory returns args, (args, kwargs), a dict of keyword inputs, or one tensor."""
    if (
        isinstance(produced, tuple)
        and len(produced) == 2
        and isinstance(produced[1], Mapping)
        and isinstance(produced[0], list | tuple)
    ):
        return tuple(produced[0]), dict(produced[1])
    if isinstance(produced, list | tuple):
        return tuple(produced), {}
    if isinstance(produced, Mapping) and all(isinstance(k, str) for k in produced):
        return (), dict(produced)
    return (produced,), {}
