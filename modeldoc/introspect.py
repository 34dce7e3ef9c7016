"""`nn.Module` to `ModelSpec`: the static walk plus what the shape probe saw.

Nothing here renders. The user's module is only read: the probe (``modeldoc.trace``)
restores whatever it touches.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Any

import torch
from torch import nn

from modeldoc import hyperparams, trace
from modeldoc.loader import module_label
from modeldoc.options import ModelOptions
from modeldoc.spec import LayerSpec, ModelSpec, ParamSpec

TORCH_DOCS = "https://docs.pytorch.org/docs/stable/generated/{name}.html"


def introspect(module: nn.Module, options: ModelOptions) -> ModelSpec:
    """Describe `module`: its tree, parameters, constructor arguments and probed shapes."""
    paths, aliases = _module_paths(module)
    names_of = _tensor_names(module)
    first_name = {key: names[0] for key, names in names_of.items()}
    probe = trace.probe(module, options) if options.has_input else None
    layers = []
    for path, sub in paths.items():
        layer = _layer(sub, path, paths, aliases, names_of, first_name)
        if probe is not None:
            layer = probe.annotate(layer)
        layers.append(layer)
    totals = _totals(module)
    if probe is not None:
        totals = probe.adjust_totals(totals)
    root, *rest = layers
    probe_error = ""
    if probe is None:
        probe_error = (
            "no example input was given, so input and output shapes, costs and the data flow are not shown; "
            "pass --input-shape (e.g. --input-shape 1,1,28,28) to add them"
        )
    elif probe.error:
        probe_error = probe.error
    cls = type(module)
    return ModelSpec(
        name=cls.__name__,
        type=public_type(cls),
        target=options.target,
        title=options.title or cls.__name__,
        docstring=_docstring(cls),
        print_text=repr(module),
        root=root,
        layers=tuple(rest),
        inputs=probe.inputs if probe else (),
        output_dims=probe.output_dims if probe else (),
        outputs=probe.outputs if probe else (),
        trace=probe.trace if probe else None,
        probe_error=probe_error,
        macs=probe.macs if probe else 0,
        flops=probe.flops if probe else 0,
        activation_bytes=probe.activation_bytes if probe else 0,
        warnings=((probe_error,) if probe is not None and probe.error else ()) + (probe.warnings if probe else ()),
        **totals,
    )


def public_type(cls: type) -> str:
    """``torch.nn.Conv2d`` for torch.nn classes, ``module.QualName`` for the rest."""
    if getattr(nn, cls.__name__, None) is cls:
        return f"torch.nn.{cls.__name__}"
    return f"{module_label(cls.__module__)}.{cls.__qualname__}"


def doc_url(cls: type) -> str:
    """The PyTorch reference page of a torch.nn class, else ``""``."""
    public = public_type(cls)
    return TORCH_DOCS.format(name=public) if public.startswith("torch.nn.") else ""


def repr_line(module: nn.Module) -> str:
    """The line ``print(model)`` shows for `module` (its header when it has children)."""
    if next(module.children(), None) is None:
        return repr(module)
    extra = module.extra_repr()
    return f"{module._get_name()}({extra})" if "\n" not in extra else f"{module._get_name()}(...)"


def _module_paths(root: nn.Module) -> tuple[dict[str, nn.Module], dict[int, list[str]]]:
    """First path of every unique module, and every path each module is registered under."""
    aliases: dict[int, list[str]] = defaultdict(list)
    paths: dict[str, nn.Module] = {}
    for path, sub in root.named_modules(remove_duplicate=False):
        if not aliases[id(sub)]:
            paths[path] = sub
        aliases[id(sub)].append(path)
    return paths, aliases


def _tensor_names(root: nn.Module) -> dict[int, list[str]]:
    """Every qualified name each parameter or buffer object is reachable under."""
    names: dict[int, list[str]] = defaultdict(list)
    for name, tensor in root.named_parameters(remove_duplicate=False):
        names[id(tensor)].append(name)
    for name, buffer in root.named_buffers(remove_duplicate=False):
        names[id(buffer)].append(name)
    return names


def _layer(
    sub: nn.Module,
    path: str,
    paths: dict[str, nn.Module],
    aliases: dict[int, list[str]],
    names_of: dict[int, list[str]],
    first_name: dict[int, str],
) -> LayerSpec:
    children = tuple(f"{path}.{name}" if path else name for name, child in sub.named_children() if child is not None)
    params = _own_tensors(sub, path, names_of, first_name) + hyperparams.computed_tensors(sub, path)
    cls = type(sub)
    parent = path.rsplit(".", 1)[0] if "." in path else ("" if path else None)
    own = sum(p.numel for p in params if p.counted and not p.is_buffer)
    total = sum(p.numel() for p in _unique_parameters(sub))
    return LayerSpec(
        path=path,
        type=public_type(cls),
        type_name=cls.__name__,
        repr=repr_line(sub),
        depth=path.count(".") + 1 if path else 0,
        parent=parent,
        children=tuple(c for c in children if c in paths),
        aliases=tuple(a for a in aliases[id(sub)] if a != path),
        doc_url=doc_url(cls),
        docstring=_docstring(cls) if not public_type(cls).startswith("torch.") else "",
        hyperparameters=hyperparams.collect(sub),
        parameters=params,
        own_params=own,
        total_params=total,
        bases=tuple(public_type(base) for base in cls.__mro__[1:] if base not in (nn.Module, object)),
    )


def _own_tensors(
    sub: nn.Module, path: str, names_of: dict[int, list[str]], first_name: dict[int, str]
) -> tuple[ParamSpec, ...]:
    out = []
    persistent_skip: set[str] = getattr(sub, "_non_persistent_buffers_set", set())
    entries: list[tuple[str, torch.Tensor, bool]] = [(n, t, False) for n, t in sub.named_parameters(recurse=False)]
    entries += [(n, t, True) for n, t in sub.named_buffers(recurse=False)]
    for local, tensor, is_buffer in entries:
        qualified = f"{path}.{local}" if path else local
        others = tuple(n for n in names_of.get(id(tensor), []) if n != qualified)
        counted = first_name.get(id(tensor), qualified) == qualified
        # a lazy module's parameter has no shape until its first call
        lazy = isinstance(tensor, nn.UninitializedParameter | nn.UninitializedBuffer)
        out.append(
            ParamSpec(
                name=qualified,
                local_name=local,
                shape=() if lazy else tuple(tensor.shape),
                lazy=lazy,
                dtype=dtype_name(tensor.dtype),
                numel=0 if lazy else tensor.numel(),
                nbytes=0 if lazy else tensor.numel() * tensor.element_size(),
                trainable=bool(tensor.requires_grad) and not is_buffer,
                is_buffer=is_buffer,
                persistent=local not in persistent_skip,
                tied_with=others,
                counted=counted,
            )
        )
    return tuple(out)


def _unique_parameters(module: nn.Module) -> list[torch.Tensor]:
    return [p for p in module.parameters() if not isinstance(p, nn.parameter.UninitializedParameter)]


def _totals(module: nn.Module) -> dict[str, Any]:
    params = _unique_parameters(module)
    buffers = [b for b in module.buffers() if not isinstance(b, nn.parameter.UninitializedBuffer)]
    by_dtype: dict[str, int] = defaultdict(int)
    for tensor in [*params, *buffers]:
        by_dtype[dtype_name(tensor.dtype)] += tensor.numel() * tensor.element_size()
    total = sum(p.numel() for p in params)
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return {
        "total_params": total,
        "trainable_params": trainable,
        "frozen_params": total - trainable,
        "buffer_elements": sum(b.numel() for b in buffers),
        "bytes_by_dtype": dict(by_dtype),
        "param_bytes": sum(by_dtype.values()),
    }


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` becomes ``"float32"``."""
    return str(dtype).removeprefix("torch.")


def _docstring(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    return doc if doc and cls.__doc__ is not None and "__doc__" in cls.__dict__ else ""
