"""The example inputs of a forward pass: built from the input options, or by the user's factory.

An `Example` builds the inputs at any sizes of the named axes (``N``, ``L``) on any device, so
that the symbolic passes can ask for the same inputs at other sizes. Shapes from options are
filled with random floats, or ones for integers (valid token ids); a factory
(``--example pkg.mod:make_inputs``) returns real tensors, resized along the batch axis.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import torch
import torch.utils._pytree as pytree
from torch import nn

from modeldoc.errors import ConfigError, ProbeError
from modeldoc.options import InputOption, ModelOptions
from modeldoc.probe import extra_inputs, guard, loader
from modeldoc.probe.extra_inputs import MadeUp
from modeldoc.probe.names import dtype_name

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
    made_up: tuple[MadeUp, ...] = ()
    """The inputs made up beside the given ones (`modeldoc.probe.extra_inputs`), passed by keyword."""
    float_dtype: str = ""
    """The dtype floating inputs were made in instead of float32 (the model's), when it differs."""
    guessed: frozenset[str] = frozenset()
    flags: Mapping[str, Any] = field(default_factory=dict)
    """Plain keyword arguments passed beside the inputs (``use_cache=False``), said in the trace's note."""
    """Named axes the user did not name (a factory's sequence length): no warning when they cannot vary."""

    def given(self, module: nn.Module) -> list[str]:
        """The forward parameters the given inputs bind to."""
        args, kwargs = self.make("meta", self.sizes)
        return extra_inputs.given_names(module, args, kwargs)

    def with_flags(self, flags: Mapping[str, Any]) -> Example:
        """The example with `flags` passed by keyword beside the inputs, at every size."""
        base = self.make

        def make(device: str, at: Mapping[str, int]) -> tuple[tuple[Any, ...], dict[str, Any]]:
            args, kwargs = base(device, at)
            return args, {**kwargs, **flags}

        return replace(self, make=make, flags={**self.flags, **flags})

    def with_made_up(self, module: nn.Module, made: tuple[MadeUp, ...]) -> Example:
        """The example with the `made` inputs built beside the given ones, at every size."""
        if not made:
            return self
        base, dtype = self.make, _DTYPES.get(self.float_dtype)

        def make(device: str, at: Mapping[str, int]) -> tuple[tuple[Any, ...], dict[str, Any]]:
            args, kwargs = base(device, at)
            names = extra_inputs.given_names(module, args, kwargs)
            values = [*args, *kwargs.values()]
            given = {n: v for n, v in zip(names, values, strict=False) if isinstance(v, torch.Tensor)}
            extra = extra_inputs.build_all(made, given)
            if dtype is not None:
                extra = {n: t.to(dtype) if t.dtype.is_floating_point else t for n, t in extra.items()}
            # a made-up input may replace a given one (token ids that must hold image tokens): in place
            args = tuple(extra.pop(names[i]) if i < len(names) and names[i] in extra else a for i, a in enumerate(args))
            return args, {**kwargs, **extra}

        def nbytes(at: Mapping[str, int]) -> int:
            return self.nbytes(at) + _made_up_bytes(make, base, at)

        return replace(self, make=make, nbytes=nbytes, made_up=self.made_up + made)


def _made_up_bytes(make: Any, base: Any, at: Mapping[str, int]) -> int:
    """The bytes the made-up inputs add: the inputs with them, less the inputs without, counted on meta."""

    def total(produce: Any) -> int:
        args, kwargs = produce("meta", at)
        return sum(
            t.numel() * t.element_size() for t in pytree.tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)
        )

    return total(make) - total(base)


def example_for(options: ModelOptions, float_dtype: torch.dtype | None = None) -> Example:
    """The example inputs `options` describe: from a factory (``--example``), else from the input shapes.

    `float_dtype` is the dtype of the model's floating weights: floating inputs left at the default
    float32 are made in it (a bfloat16 model gets bfloat16 images), and `Example.float_dtype` says so.
    """
    if options.example:
        return _factory_example(options.example)
    return _option_example(options.inputs, float_dtype)


def _option_example(inputs: tuple[InputOption, ...], float_dtype: torch.dtype | None = None) -> Example:
    if float_dtype is not None and float_dtype != torch.float32 and float_dtype.is_floating_point:
        changed = tuple(replace(o, dtype=dtype_name(float_dtype)) if o.dtype == "float32" else o for o in inputs)
        if changed != inputs:
            example = _option_example(changed)
            return replace(example, float_dtype=dtype_name(float_dtype))
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
    sizes = _factory_axes(tensors)
    guessed = frozenset(name for name in sizes if name != "N")

    def make(device: str, at: Mapping[str, int]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        n, length = at.get("N"), at.get("L")

        def convert(t: torch.Tensor) -> torch.Tensor:
            shape = list(t.shape)
            if n is not None:
                shape[0] = n
            if length is not None and _is_sequence(t):
                shape[1] = length
            if tuple(shape) != tuple(t.shape):
                if device == "meta":
                    return torch.empty(shape, dtype=t.dtype, device="meta")
                for axis, size in enumerate(shape[:2]):  # cycle through the given rows and tokens
                    if size != t.shape[axis]:
                        t = t.index_select(axis, torch.arange(size, device=t.device) % t.shape[axis])
            return t.to("meta") if device == "meta" else t

        return pytree.tree_map_only(torch.Tensor, convert, (args, kwargs))

    return Example(make=make, sizes=sizes, guessed=guessed)


def _is_sequence(tensor: torch.Tensor) -> bool:
    """A tensor of token ids or a mask: two axes (batch × length), integers or booleans."""
    return tensor.dim() == 2 and not (tensor.dtype.is_floating_point or tensor.dtype.is_complex)


def _factory_axes(tensors: list[torch.Tensor]) -> dict[str, int]:
    """The axes of a factory's tensors that get names: ``N`` and, for sequences, ``L``.

    Axis 0 is the batch ``N`` when every example tensor has the same first size. Axis 1 is the
    length ``L`` when the tensors include token ids or masks (`_is_sequence`) that all have one
    length; it is tried at other lengths like a named axis, and left as a number, without a
    warning, when the model does not take other lengths.
    """
    sizes: dict[str, int] = {}
    batch = {t.shape[0] for t in tensors if t.dim() >= 1}
    if tensors and len(batch) == 1 and all(t.dim() >= 1 for t in tensors):
        sizes["N"] = batch.pop()
    lengths = {t.shape[1] for t in tensors if _is_sequence(t)}
    if len(lengths) == 1 and "N" in sizes:
        sizes["L"] = lengths.pop()
    return sizes


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
