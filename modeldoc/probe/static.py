"""`nn.Module` to `ModelSpec`: the static walk plus what the shape probe saw.

Nothing here renders. The user's module is only read: the probe (``modeldoc.probe.trace``)
restores whatever it touches. Every call into the user's code (``repr``, ``extra_repr``,
attributes read as constructor arguments, docstrings) goes through `modeldoc.probe.guard`: what
cannot be read is said on the page, and the build goes on.
"""

from __future__ import annotations

import inspect
from collections import defaultdict
from typing import Any

import torch
from torch import nn

from modeldoc.options import ModelOptions
from modeldoc.probe import arguments as hyperparams
from modeldoc.probe import guard, trace
from modeldoc.probe.loader import module_label
from modeldoc.spec import LayerSpec, ModelSpec, ParamSpec

TORCH_DOCS = "https://docs.pytorch.org/docs/stable/generated/{name}.html"


def introspect(module: nn.Module, options: ModelOptions) -> ModelSpec:
    """Describe `module`: its tree, parameters, constructor arguments and probed shapes."""
    tree = guard.walk(module)
    names_of = tree.tensor_names()
    first_name = {key: names[0] for key, names in names_of.items()}
    probe = trace.probe(module, options, tree) if options.has_input else None
    cycles = tree.cycle_notes()
    unread: list[str] = []
    layers = []
    for path, sub in tree.paths.items():
        layer = _layer(sub, path, tree, names_of, first_name, unread)
        if id(sub) in cycles:
            layer = _with_note(layer, cycles[id(sub)])
        if path in tree.renamed:
            layer = _with_note(
                layer,
                f"It is registered under the name {tree.renamed[path]!r}, which contains a dot (torch's "
                f"add_module refuses such names); it is shown with {guard.DOT!r} in place of each dot so that "
                "paths stay unambiguous.",
            )
        if probe is not None:
            layer = probe.annotate(layer)
        layers.append(layer)
    totals = _totals(tree)
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
    root_doc = root.docstring or _docstring(cls, "")  # even a torch class's, for the model page
    printed = guard.attempt(lambda: _text(repr(module)), "print(model)")
    if isinstance(printed, guard.Failed):
        unread.append(printed.sentence())
    warnings = ((probe_error,) if probe is not None and probe.error else ()) + (probe.warnings if probe else ())
    if tree.cycles:
        first = tree.cycles[0][0] or "the model"
        warnings += (
            f"{len(tree.cycles)} module(s) contain one of their own ancestors (first: {first}); "
            "each module is documented once, where it first appears",
        )
    if unread:
        warnings += (_unread_warning(unread),)
    return ModelSpec(
        name=cls.__name__,
        type=public_type(cls),
        target=options.target,
        title=options.title or cls.__name__,
        docstring=root_doc if isinstance(root_doc, str) else "",
        print_text=printed.placeholder() if isinstance(printed, guard.Failed) else printed,
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
        warnings=warnings,
        **totals,
    )


def _unread_warning(unread: list[str]) -> str:
    shown = "; ".join(unread[:3])
    more = f"; and {len(unread) - 3} more" if len(unread) > 3 else ""
    return (
        f"the model's own code raised while modeldoc read it ({shown}{more}); "
        "the pages show what could not be read and why, and everything else"
    )


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"returned {type(value).__name__}, not str")
    return guard.clean(value)


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
    """The line ``print(model)`` shows for `module` (its header when it has children).

    When the module's own ``repr`` or ``extra_repr`` raises, the line says so instead.
    """
    got = guard.header_line(module, type(module).__name__)
    return got.placeholder() if isinstance(got, guard.Failed) else got


def _with_note(layer: LayerSpec, note: str) -> LayerSpec:
    from dataclasses import replace

    return replace(layer, notes=(*layer.notes, note))


def _layer(
    sub: nn.Module,
    path: str,
    tree: guard.Tree,
    names_of: dict[int, list[str]],
    first_name: dict[int, str],
    unread: list[str],
) -> LayerSpec:
    name = path or "the model"
    children = tuple(f"{path}.{child}" if path else child for child, _ in tree.children.get(id(sub), []))
    params = _own_tensors(sub, path, names_of, first_name) + hyperparams.computed_tensors(sub, path)
    cls = type(sub)
    parent = path.rsplit(".", 1)[0] if "." in path else ("" if path else None)
    own = sum(p.numel for p in params if p.counted and not p.is_buffer)
    total = sum(p.numel() for p in _unique_parameters(tree, sub))
    notes: list[str] = []
    line = guard.header_line(sub, path or "model")
    if isinstance(line, guard.Failed):
        unread.append(line.sentence())
        notes.append(f"The line `print(model)` shows for {name} could not be read: {line.sentence()}.")
    collected = hyperparams.collect_all(sub, path)
    for failure in collected.failures:
        unread.append(failure.sentence())
        notes.append(f"A constructor argument could not be read: {failure.sentence()}.")
    docstring = ""
    if not public_type(cls).startswith("torch."):
        doc = _docstring(cls, path)
        if isinstance(doc, guard.Failed):
            unread.append(doc.sentence())
            notes.append(f"The docstring of {name} could not be read: {doc.sentence()}.")
        else:
            docstring = doc
    return LayerSpec(
        path=path,
        type=public_type(cls),
        type_name=cls.__name__,
        repr=line.placeholder() if isinstance(line, guard.Failed) else line,
        depth=path.count(".") + 1 if path else 0,
        parent=parent,
        children=tuple(c for c in children if c in tree.paths),
        aliases=tuple(a for a in tree.aliases.get(id(sub), []) if a != path),
        doc_url=doc_url(cls),
        docstring=docstring,
        hyperparameters=collected.hyperparameters,
        unknown_arguments=collected.unknown,
        parameters=params,
        own_params=own,
        total_params=total,
        notes=tuple(notes),
        bases=tuple(public_type(base) for base in cls.__mro__[1:] if base not in (nn.Module, object)),
    )


def _own_tensors(
    sub: nn.Module, path: str, names_of: dict[int, list[str]], first_name: dict[int, str]
) -> tuple[ParamSpec, ...]:
    out = []
    persistent_skip = getattr(sub, "__dict__", {}).get("_non_persistent_buffers_set", set())
    entries: list[tuple[str, torch.Tensor, bool]] = [(n, t, False) for n, t in guard.own_tensors(sub, "_parameters")]
    entries += [(n, t, True) for n, t in guard.own_tensors(sub, "_buffers")]
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


def _unique_parameters(tree: guard.Tree, module: nn.Module) -> list[torch.Tensor]:
    """The parameters of `module`'s subtree, each tensor once, lazy ones left out."""
    return _unique(tree, module, "_parameters", nn.parameter.UninitializedParameter)


def _unique(tree: guard.Tree, module: nn.Module, store: str, lazy: type) -> list[torch.Tensor]:
    seen: dict[int, torch.Tensor] = {}
    for sub in tree.subtree(module):
        for _, tensor in guard.own_tensors(sub, store):
            if not isinstance(tensor, lazy):
                seen.setdefault(id(tensor), tensor)
    return list(seen.values())


def _totals(tree: guard.Tree) -> dict[str, Any]:
    root = tree.paths[""]
    params = _unique_parameters(tree, root)
    buffers = _unique(tree, root, "_buffers", nn.parameter.UninitializedBuffer)
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


def _docstring(cls: type, path: str) -> str | guard.Failed:
    """The class's own docstring (not one it inherits), ``""`` when it has none, or why reading it failed.

    It is read through ``__doc__`` as ``inspect.getdoc`` does, so a metaclass property runs (and may raise).
    """

    def read() -> str:
        if "__doc__" not in cls.__dict__:
            return ""
        own = cls.__doc__
        return guard.clean(inspect.cleandoc(own)) if isinstance(own, str) else ""

    return guard.attempt(read, f"reading the docstring of {path or 'the model'}")
