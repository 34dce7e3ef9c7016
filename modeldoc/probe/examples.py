"""Build a live layer from its knowledge entry's ``example``: for ``modeldoc knowledge check`` and the tests.

An example gives the constructor's arguments and the shapes of the inputs to call it with.
Values are plain YAML, except four mappings: ``{tensor: SHAPE}`` (a tensor of ones),
``{parameter: SHAPE}`` (the same as an ``nn.Parameter``), ``{layer: KEY, args: [...],
kwargs: {...}}`` (a layer built from its key, such as the ``encoder_layer`` of a
TransformerEncoder) and ``{object: DOTTED, args: [...], kwargs: {...}}`` (any object built from
its class, such as the small config a Hugging Face layer takes). A key names a ``torch.nn``
class (``Conv2d``) or a dotted class (``mypkg.layers.Gate``), imported through
`modeldoc.probe.loader`.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from modeldoc.errors import ModeldocError, ModelLoadError
from modeldoc.knowledge import Entry
from modeldoc.options import ModelOptions, model_options
from modeldoc.probe import loader


def target_of(key: str) -> str:
    """The target text (``module:Name``) of a knowledge key: ``torch.nn:Conv2d``, ``mypkg.layers:Gate``."""
    if "." not in key:
        return f"torch.nn:{key}"
    module, _, name = key.rpartition(".")
    return f"{module}:{name}"


def layer_class(key: str) -> type[nn.Module]:
    """The class a knowledge key names.

    Raises:
        ModelLoadError: it cannot be imported, or is not an nn.Module subclass.

    """
    if "." not in key:
        found = getattr(nn, key, None)
        if not (isinstance(found, type) and issubclass(found, nn.Module)):
            raise ModelLoadError(
                target_of(key), "torch.nn has no layer of that name", "key a class outside torch.nn by its dotted name"
            )
        return found
    parts = key.split(".")
    first: ModelLoadError | None = None
    # a nested class (mypkg.layers.Outer.Inner) splits further left than the last dot
    for cut in range(len(parts) - 1, 0, -1):
        target = f"{'.'.join(parts[:cut])}:{'.'.join(parts[cut:])}"
        try:
            found = loader.load_object(target)
        except ModelLoadError as err:
            first = first or err
            continue
        if not (isinstance(found, type) and issubclass(found, nn.Module)):
            what = f"the class {found.__name__}" if isinstance(found, type) else f"of type {type(found).__name__}"
            raise ModelLoadError(
                target, f"it is {what}, not an nn.Module subclass", "key the entry by the layer's class"
            )
        return found
    assert first is not None  # a dotted key tries at least one target
    raise first


def build(entry: Entry) -> nn.Module:
    """A layer of `entry`'s class, built with the arguments of its example.

    Raises:
        ModeldocError: the entry has no example, or building the layer failed.

    """
    if entry.example is None:
        raise ModeldocError(f"knowledge entry {entry.key} has no example; add example: with its args and input")
    return _construct(entry.key, entry.example.args, entry.example.kwargs)


def options(entry: Entry, *, probe_device: str = "cpu") -> ModelOptions:
    """The options that describe `entry`'s example layer: its inputs, on `probe_device`.

    The CPU by default: an example is small, and a real run shows that it runs.
    """
    assert entry.example is not None
    example: dict[str, Any] = {"target": target_of(entry.key), "probe_device": probe_device}
    if entry.example.inputs:
        example["input_shapes"] = [list(shape) for shape in entry.example.inputs]
        dtype = entry.example.dtype
        example["input_dtype"] = list(dtype) if isinstance(dtype, tuple) else dtype
    return model_options(example, where=f"the example of knowledge entry {entry.key}")


def _construct(key: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> nn.Module:
    cls = layer_class(key)
    values = [_value(v) for v in args]
    named = {name: _value(v) for name, v in kwargs.items()}
    try:
        with warnings.catch_warnings():
            # deprecated torch.nn classes (Container, NLLLoss2d) still need their entries checked
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return cls(*values, **named)
    except Exception as err:  # the layer's own code: any failure is the example's problem
        raise ModelLoadError(
            target_of(key), f"building it from the example raised {type(err).__name__}: {err}", "fix the example's args"
        ) from err


def _instance(dotted: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """An object of the class `dotted` names (``transformers.LlamaConfig``), built from example values."""
    module, _, name = dotted.rpartition(".")
    cls = loader.load_object(f"{module}:{name}")
    try:
        return cls(*[_value(v) for v in args], **{k: _value(v) for k, v in kwargs.items()})
    except Exception as err:  # the class's own code: any failure is the example's problem
        raise ModelLoadError(
            f"{module}:{name}", f"building it from the example raised {type(err).__name__}: {err}", "fix its kwargs"
        ) from err


def _value(value: Any) -> Any:
    """An example value with its special mappings made into tensors, parameters and layers."""
    if isinstance(value, list):
        return [_value(v) for v in value]
    if isinstance(value, Mapping):
        if "tensor" in value:
            return torch.ones(value["tensor"])
        if "parameter" in value:
            return nn.Parameter(torch.ones(value["parameter"]))
        built = next((kind for kind in ("layer", "object") if kind in value), None)
        if built is not None:
            make = _construct if built == "layer" else _instance
            return make(value[built], value.get("args") or [], value.get("kwargs") or {})
        return {name: _value(v) for name, v in value.items()}
    return value
