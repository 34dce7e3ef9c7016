"""Torch ops as the trace names them: short names, where they live, and their arguments by name.

`op_name` and `op_target` name a torch function the model called (``F.relu`` is ``relu`` in
``torch.nn.functional``). `bind` names its arguments: from its Python signature where it has
one, else from `_PARAMETERS`, the table for builtins (``Tensor.view``, ``torch.cat``,
``torch.lstm``), with the defaults in `_DEFAULTS`. A builtin whose arguments a derivation or a
cost needs by name gets its row in those two tables.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Iterator, Mapping
from typing import Any

import torch
import torch.nn.functional as F
import torch.utils._pytree as pytree

_DUNDER = {
    "truediv": "div",
    "floordiv": "floor_divide",
    "mod": "remainder",
    "and": "bitwise_and",
    "or": "bitwise_or",
    "xor": "bitwise_xor",
    "invert": "bitwise_not",
    "radd": "add",
    "rmul": "mul",
    "rtruediv": "div",
    "rpow": "pow",
    "rmatmul": "matmul",
}


def with_modes(func: Any, /, *args: Any, **kwargs: Any) -> Any:
    """``func(*args, **kwargs)`` with torch's function modes on: the model's own call inside the recorder's bookkeeping.

    The recorder does its bookkeeping with torch's function modes off (`bookkeeping`): on the
    meta device ``torch.device("meta")`` is one, and every tensor read of the bookkeeping would
    go through it (a quarter of a pass). The op itself runs with them on, as the model runs it,
    so a function written in Python (``F.multi_head_attention_forward``) still makes its own
    tensors on the meta device.
    """
    with torch._C._EnableTorchFunction():
        return func(*args, **kwargs)


QUIET_BOOKKEEPING = True
"""False runs the bookkeeping with the modes on, as before (the tests compare the two)."""


def bookkeeping() -> contextlib.AbstractContextManager[Any]:
    """The context of the recorder's bookkeeping: torch function modes and subclasses off (see `with_modes`)."""
    return torch._C.DisableTorchFunction() if QUIET_BOOKKEEPING else contextlib.nullcontext()


def op_name(func: Any) -> str:
    """A short op name: ``"relu"``, ``"reshape"``, ``"add"``, ``"getitem"``, ``"mT"``."""
    if MEMOIZE:
        try:
            return _kept_op_name(func)
        except TypeError:  # an unhashable callable
            pass
    return _op_name(func)


@functools.lru_cache(maxsize=4096)
def _kept_op_name(func: Any) -> str:
    # Keyed by the function object itself (not its id, which a collected object's successor may reuse).
    return _op_name(func)


def _op_name(func: Any) -> str:
    name = getattr(func, "__name__", "") or type(func).__name__
    if name == "__get__":
        return str(getattr(getattr(func, "__self__", None), "__name__", "attribute"))
    if name.startswith("__") and name.endswith("__"):
        name = name[2:-2]
        if name.startswith("i") and name[1:] in ("add", "sub", "mul", "truediv", "matmul", "pow", "and", "or"):
            return _DUNDER.get(name[1:], name[1:]) + "_"
        return _DUNDER.get(name, name)
    return name.lstrip("_") or name


def op_target(func: Any, name: str) -> str:
    """Where the op lives: ``"torch.nn.functional.relu"``, ``"Tensor.view"``, ``"torch.flatten"``."""
    if MEMOIZE:
        try:
            return _kept_op_target(func, name)
        except TypeError:  # an unhashable callable
            pass
    return _op_target(func, name)


@functools.lru_cache(maxsize=4096)
def _kept_op_target(func: Any, name: str) -> str:
    return _op_target(func, name)


def _op_target(func: Any, name: str) -> str:
    qualname = getattr(func, "__qualname__", "") or ""
    raw_name = getattr(func, "__name__", name)
    if qualname.startswith(("TensorBase.", "Tensor.", "_TensorBase.")):
        return f"Tensor.{raw_name}"
    if raw_name == "__get__":
        return f"Tensor.{name}"
    module = getattr(func, "__module__", None) or ""
    if module.startswith("torch.nn.functional") or module == "torch._C._nn" or getattr(F, raw_name, None) is func:
        return f"torch.nn.functional.{raw_name}"
    if qualname.startswith("_VariableFunctionsClass") or module == "torch":
        return f"torch.{raw_name}"
    return f"{module}.{raw_name}" if module else raw_name


_RNN_ARGS = ("input", "hx", "params", "has_biases", "num_layers", "dropout", "train", "bidirectional", "batch_first")


_PARAMETERS: dict[str, tuple[str, ...]] = {
    "flatten": ("input", "start_dim", "end_dim"),
    "unflatten": ("input", "dim", "sizes"),
    "cat": ("tensors", "dim"),
    "concat": ("tensors", "dim"),
    "concatenate": ("tensors", "dim"),
    "stack": ("tensors", "dim"),
    "reshape": ("input", "*shape"),
    "view": ("input", "*shape"),
    "expand": ("input", "*size"),
    "repeat": ("input", "*repeats"),
    "permute": ("input", "*dims"),
    "transpose": ("input", "dim0", "dim1"),
    "swapaxes": ("input", "dim0", "dim1"),
    "swapdims": ("input", "dim0", "dim1"),
    "movedim": ("input", "source", "destination"),
    "moveaxis": ("input", "source", "destination"),
    "unsqueeze": ("input", "dim"),
    "squeeze": ("input", "dim"),
    "getitem": ("input", "index"),
    "narrow": ("input", "dim", "start", "length"),
    "split": ("input", "split_size_or_sections", "dim"),
    "chunk": ("input", "chunks", "dim"),
    "linear": ("input", "weight", "bias"),
    "bilinear": ("input1", "input2", "weight", "bias"),
    "matmul": ("input", "other"),
    "mm": ("input", "other"),
    "bmm": ("input", "other"),
    "mv": ("input", "other"),
    "addmm": ("bias", "mat1", "mat2"),
    "baddbmm": ("bias", "batch1", "batch2"),
    "addbmm": ("bias", "batch1", "batch2"),
    "einsum": ("equation", "*operands"),
    "conv1d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv3d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv_transpose1d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "conv_transpose2d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "conv_transpose3d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "max_pool1d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "max_pool2d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "max_pool3d": ("input", "kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "avg_pool1d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "avg_pool2d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "avg_pool3d": ("input", "kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "adaptive_avg_pool1d": ("input", "output_size"),
    "adaptive_avg_pool2d": ("input", "output_size"),
    "adaptive_avg_pool3d": ("input", "output_size"),
    "adaptive_max_pool1d": ("input", "output_size", "return_indices"),
    "adaptive_max_pool2d": ("input", "output_size", "return_indices"),
    "adaptive_max_pool3d": ("input", "output_size", "return_indices"),
    "scaled_dot_product_attention": ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale"),
    "lstm": _RNN_ARGS,
    "gru": _RNN_ARGS,
    "rnn_tanh": _RNN_ARGS,
    "rnn_relu": _RNN_ARGS,
    "mean": ("input", "dim", "keepdim"),
    "sum": ("input", "dim", "keepdim"),
    "amax": ("input", "dim", "keepdim"),
    "amin": ("input", "dim", "keepdim"),
    "t": ("input",),
}


_DEFAULTS: dict[str, dict[str, Any]] = {
    "flatten": {"start_dim": 0, "end_dim": -1},
    "cat": {"dim": 0},
    "concat": {"dim": 0},
    "concatenate": {"dim": 0},
    "stack": {"dim": 0},
    "conv": {"stride": 1, "padding": 0, "dilation": 1, "groups": 1, "output_padding": 0},
    "max_pool": {"stride": None, "padding": 0, "dilation": 1, "ceil_mode": False, "return_indices": False},
    "avg_pool": {
        "stride": None,
        "padding": 0,
        "ceil_mode": False,
        "count_include_pad": True,
        "divisor_override": None,
    },
}


def _signature(func: Any) -> inspect.Signature | None:
    """The Python signature of `func`, or None for builtins and ``(*args, **kwargs)`` wrappers."""
    try:
        return _cached_signature(func)
    except TypeError:  # an unhashable callable
        return None


@functools.lru_cache(maxsize=2048)
def _cached_signature(func: Any) -> inspect.Signature | None:
    # Keyed by the function object itself (not its id, which a collected object's successor may reuse).
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    if all(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in signature.parameters.values()):
        return None
    return signature


def bind(func: Any, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The op's arguments by parameter name, defaults included where they are known."""
    signature = _signature(func) if func is not None else None
    if signature is not None:
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            pass
        else:
            bound.apply_defaults()
            out: dict[str, Any] = {}
            for key, value in bound.arguments.items():
                if signature.parameters[key].kind == inspect.Parameter.VAR_KEYWORD:
                    out.update(value)
                else:
                    out[key] = value
            return out
    return _bind_by_table(name, args, kwargs)


def _bind_by_table(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Builtins have no Python signature: name their arguments from `_PARAMETERS`."""
    names, defaults = _table_row(name) if MEMOIZE else _new_table_row(name)
    out: dict[str, Any] = {}
    if names is None:
        out.update(zip(_POSITIONS, args, strict=False) if len(args) <= len(_POSITIONS) else _positions(args))
    else:
        for i, key in enumerate(names):
            if key.startswith("*"):
                rest = args[i:]
                out[key[1:]] = rest[0] if len(rest) == 1 and isinstance(rest[0], list | tuple) else tuple(rest)
                break
            if i < len(args):
                out[key] = args[i]
    out.update(kwargs)
    for key, value in defaults:
        out.setdefault(key, value)
    return out


def _positions(args: tuple[Any, ...]) -> Iterator[tuple[str, Any]]:
    """``("input", a0), ("1", a1), …``: the names of an op's positional arguments that no table names."""
    return (("input" if i == 0 else str(i), value) for i, value in enumerate(args))


_POSITIONS = tuple(name for name, _ in _positions((None,) * 16))


MEMOIZE = True
"""Whether `op_name`, `op_target` and `_bind_by_table` keep what they found for an op (tests turn it off to
compare with and without)."""


@functools.lru_cache(maxsize=4096)
def _table_row(name: str) -> tuple[tuple[str, ...] | None, tuple[tuple[str, Any], ...]]:
    return _new_table_row(name)


def _new_table_row(name: str) -> tuple[tuple[str, ...] | None, tuple[tuple[str, Any], ...]]:
    """The parameter names of op `name` in `_PARAMETERS`, and the defaults of every `_DEFAULTS` family it is in."""
    defaults = tuple(
        (key, value)
        for family, values in _DEFAULTS.items()
        if name == family or (name.startswith(family) and name[len(family) :].rstrip("d").isdigit())
        for key, value in values.items()
    )
    return _PARAMETERS.get(name.rstrip("_")), defaults


def args_text(func: Any, name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The non-tensor arguments that differ from their defaults, shortly (``"kernel_size=2, stride=2"``)."""
    bound = bind(func, name, args, kwargs)
    if name == "getitem":
        index = _plain(bound.get("key", bound.get("index")), nested=True)
        items = index if isinstance(index, list) else [index]
        return "[" + ", ".join(_short(i) for i in items) + "]"
    defaults = _defaults(func, name)
    parts = []
    for key, value in bound.items():
        plain = _plain(value)
        if plain is _SKIP or key in ("input", "self") or (key in defaults and defaults[key] == plain):
            continue
        parts.append(f"{key}={_short(plain)}")
    text = ", ".join(parts)
    return text if len(text) <= 80 else text[:77] + "..."


def _defaults(func: Any, name: str) -> dict[str, Any]:
    """Default values of the op's parameters, where they are known."""
    signature = _signature(func)
    if signature is not None:
        return {p.name: p.default for p in signature.parameters.values() if p.default is not p.empty}
    return _bind_by_table(name, (), {})


def _short(value: Any) -> str:
    if isinstance(value, dict) and "slice" in value:
        start, stop, step = value["slice"]
        return f"{'' if start is None else start}:{'' if stop is None else stop}" + (
            f":{step}" if step not in (None, 1) else ""
        )
    if isinstance(value, list):
        return "(" + ", ".join(_short(v) for v in value) + ")"
    return repr(value) if isinstance(value, str) else str(value)


_SKIP = object()


def _plain(value: Any, *, nested: bool = False) -> Any:  # noqa: PLR0911 - one return per kind of value
    """A JSON-able form of a non-tensor argument; `_SKIP` for top-level tensors and unreadable objects."""
    if isinstance(value, torch.Tensor):
        return {"tensor": list(value.shape)} if nested else _SKIP
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, torch.Size):
        return list(value)
    if isinstance(value, list | tuple):
        items = [_plain(v, nested=True) for v in value]
        return _SKIP if any(v is _SKIP for v in items) else items
    if isinstance(value, slice):
        parts = [_plain(value.start, nested=True), _plain(value.stop, nested=True), _plain(value.step, nested=True)]
        return {"slice": parts}
    if value is Ellipsis:
        return "..."
    if isinstance(value, torch.dtype | torch.device | torch.memory_format | torch.layout):
        return str(value).removeprefix("torch.")
    return _SKIP


def plain_arguments(bound: Mapping[str, Any]) -> dict[str, Any]:
    """The bound arguments that have a plain JSON-able form (no tensors), as that form."""
    return {k: v for k, v in ((k, _plain(v)) for k, v in bound.items()) if v is not _SKIP}


def tensor_leaves(value: Any) -> list[torch.Tensor]:
    """The tensors inside `value` (an op's arguments or outputs), in order: pytree's leaves that are tensors."""
    if not FAST_LEAVES:
        return [leaf for leaf in pytree.tree_leaves(value) if isinstance(leaf, torch.Tensor)]
    found: list[torch.Tensor] = []
    _add_leaves(value, found)
    return found


FAST_LEAVES = True
"""Whether `tensor_leaves` walks plain lists, tuples and dicts itself (tests turn it off to compare with pytree)."""
_NO_TENSORS = frozenset({int, float, bool, str, type(None), torch.Size, torch.dtype, torch.device, slice, type(...)})
"""Types whose value holds no tensor as pytree sees it (a leaf, or torch.Size's ints)."""


def _add_leaves(value: Any, found: list[torch.Tensor]) -> None:
    """The tensors pytree finds in `value`, added to `found`: the plain containers walked here, in pytree's order.

    Exactly ``list``, ``tuple`` and ``dict`` are walked (their items, a dict's values in insertion
    order, as pytree flattens them); a plain tensor is a leaf; any other type (a named tuple, a
    model output, a tensor subclass) is left to pytree itself.
    """
    kind = type(value)
    if kind is torch.Tensor or kind is torch.nn.Parameter:
        found.append(value)
    elif kind is list or kind is tuple or kind is dict:
        for item in value.values() if kind is dict else value:
            inner = type(item)  # the common leaves told apart here, without a call each
            if inner is torch.Tensor or inner is torch.nn.Parameter:
                found.append(item)
            elif inner not in _NO_TENSORS:
                _add_leaves(item, found)
    elif kind not in _NO_TENSORS:
        found.extend(leaf for leaf in pytree.tree_leaves(value) if isinstance(leaf, torch.Tensor))
