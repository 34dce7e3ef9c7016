"""Values on the meta device: computed where the example inputs fix them, assumed (and recorded) otherwise.

A meta tensor has a shape and no values, so Python code that branches on a value (``if
mask.any():``, ``.item()``, ``.tolist()``, ``x in t``) and ops whose output size depends on
values (``nonzero``, ``unique``, ``masked_select``, a boolean index) cannot run on it. `Values`
answers them during a meta pass, in two ways:

- **computed**: a tensor made only from the example inputs and constants (a padding mask, position
  ids, lengths) gets a *shadow*, the same op run on the CPU on the shadows of its inputs while they
  stay small (`SHADOW_ELEMENTS`). Its values are the ones a real pass would see, so a branch on it
  goes the way a real pass goes, and nothing is assumed;
- **assumed**: a value that depends on the weights (which a model on the meta device does not
  have) is assumed, on the common path: a condition holds, no value is infinite or NaN, every
  element is non-zero (``nonzero`` keeps them all), every element is distinct (``unique``). Each
  assumption is recorded with the file and line of the model's code that asked (`Assumed`), so
  the page can say which path the shapes describe.

The recorder (`modeldoc.probe.record`) sends every torch call of a meta pass through
`Values.call`. Nothing here changes the user's model: shadows are new CPU tensors, assumptions
new meta tensors.
"""

from __future__ import annotations

import contextlib
import linecache
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import torch
import torch.utils._pytree as pytree

from modeldoc.probe.ops import op_name, tensor_leaves, with_modes

SHADOW_ELEMENTS = 1 << 16
"""The most elements a tensor may have to be computed on the CPU beside the meta pass (65,536: masks and
positions of ordinary lengths fit; big constant tables are left to the meta device)."""

INDEX_SCALE = 128
"""How many times `SHADOW_ELEMENTS` an integer or boolean result may have to be computed (8,388,608 elements:
the one-hot routing of 462 tokens, the longest pass of a 16-token example, to 12 of 768 experts fits)."""

WHY_WEIGHTS = "it depends on the weights, which the meta device does not hold"
"""Why a value was assumed rather than computed."""
WHY_UNKNOWN = (
    "it depends on values the meta device does not hold (the weights, or example inputs too big to compute "
    "beside the pass)"
)
"""Why, when the example inputs had no values either (too big to make on the CPU beside the pass)."""

_VALUE_OPS = {
    "__bool__": "bool",
    "item": "item",
    "tolist": "tolist",
    "__int__": "int",
    "__float__": "float",
    "__index__": "index",
    "__format__": "format",
    "__contains__": "contains",
    "equal": "equal",
    "allclose": "allclose",
    "numpy": "numpy",
}
"""Ops that hand a tensor's values to Python (by the function's own name: ``Tensor.float()`` is not
``float(tensor)``), to the name used here: the meta device cannot answer them."""
_NONZERO_OPS = frozenset({"nonzero", "argwhere"})
_UNIQUE_OPS = frozenset({"unique", "unique_consecutive"})
_NON_FINITE = {"isinf": False, "isnan": False, "isneginf": False, "isposinf": False, "isfinite": True}
"""Checks for infinite or NaN values, and the answer on the common path (every value finite)."""
_NON_FINITE_WORDS = {
    "isinf": "infinite",
    "isnan": "NaN",
    "isneginf": "negative infinity",
    "isposinf": "positive infinity",
    "isfinite": "finite",
}
_UNSET = frozenset({"empty", "empty_like", "new_empty", "empty_strided"})
"""Factories whose values are unset: their results get no shadow."""

_SKIPPED_ROOTS = (str(Path(torch.__file__).parent) + os.sep, str(Path(__file__).parent.parent) + os.sep)
"""torch's and modeldoc's own files: the model's line that asks for a value is in neither."""


@dataclass(frozen=True)
class Assumed:
    """One value the meta pass assumed: where the model asked, what, the answer and why."""

    where: str
    """``transformers/models/bart/modeling_bart.py:123``: the model's line that asked."""
    code: str
    """That line of source, stripped (``if mask.any():``); empty when the source is not available."""
    question: str
    """What was asked, in words: ``the truth value of a tensor``, ``torch.nonzero``."""
    assumed: str
    """The answer given: ``True``, ``every element is non-zero``."""
    why: str = WHY_WEIGHTS


class _Unknown(Exception):
    """A meta tensor with no shadow: its values are not known."""


class Values:
    """The shadows of one meta pass and the assumptions it made."""

    def __init__(self, *, limit: int = SHADOW_ELEMENTS) -> None:
        self.limit = limit
        self.why = WHY_WEIGHTS
        """Why a value is assumed: `WHY_UNKNOWN` once the pass is told its inputs have no values."""
        self.shadows: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        """id of a meta tensor to (that tensor, kept alive so the id stays its own; its CPU shadow)."""
        self.assumed: list[Assumed] = []
        self.roots: dict[int, list[int]] = {}
        """id of the tensor whose memory a shadowed meta tensor views (itself, when it is no view) to their ids."""

    # ------------------------------------------------------------------ shadows

    def know(self, meta: torch.Tensor, value: torch.Tensor) -> None:
        """Give `meta` the CPU `value` as its shadow (an example input, a buffer's real value)."""
        if meta.is_meta and value.numel() <= self.limit and tuple(value.shape) == tuple(meta.shape):
            self._keep(meta, value.detach().to("cpu"))

    def shadow(self, tensor: torch.Tensor) -> torch.Tensor | None:
        """The CPU values of `tensor` when known (a tensor not on the meta device is its own)."""
        if not tensor.is_meta:
            return tensor
        held = self.shadows.get(id(tensor))
        return held[1] if held is not None and held[0] is tensor else None

    def _on_cpu(self, value: Any) -> Any:
        """`value` with every meta tensor replaced by its shadow and every meta device by the CPU."""

        def convert(leaf: Any) -> Any:
            if isinstance(leaf, torch.Tensor):
                known = self.shadow(leaf)
                if known is None:
                    raise _Unknown
                return known
            if isinstance(leaf, torch.device) and leaf.type == "meta":
                return torch.device("cpu")
            if isinstance(leaf, str) and leaf == "meta":
                return "cpu"
            return leaf

        return pytree.tree_map(convert, value)

    def _keep(self, meta: torch.Tensor, value: torch.Tensor) -> None:
        self.shadows[id(meta)] = (meta, value)
        self.roots.setdefault(id(_root(meta)), []).append(id(meta))

    def _forget(self, tensor: torch.Tensor) -> None:
        """`tensor` changed in a way not computed: it and every known view of its memory lose their shadows."""
        for key in self.roots.pop(id(_root(tensor)), []):
            self.shadows.pop(key, None)

    # ------------------------------------------------------------------ the call

    def call(
        self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any], run: Callable[[], Any], name: str = ""
    ) -> Any:
        """The result of one torch call in a meta pass: `run()` (the meta kernel), with values where Python asks.

        `name` is ``op_name(func)``, when the caller has it.
        """
        name = name or op_name(func)
        metas = _metas(args, kwargs)
        if not metas and name not in _FACTORIES:
            return run()
        asks = _VALUE_OPS.get(getattr(func, "__name__", ""))
        if asks is not None:
            return self._value(func, asks, args, kwargs, run)
        mutated = _mutated(name, args, kwargs)
        try:
            out = run()
        except (NotImplementedError, RuntimeError) as err:
            return self._data_dependent(func, name, args, kwargs, err)
        shadows, known = self.shadows, True
        for tensor in metas:  # `shadow` of each, read here
            held = shadows.get(id(tensor))
            if held is None or held[0] is not tensor:
                known = False
                break
        if name in _NON_FINITE and not known:
            return self._finite(name, out)
        if name == "topk" and not known:
            return self._first_k(out, args, kwargs)
        if known:
            self._compute(func, name, args, kwargs, out, mutated)
        else:
            for tensor in mutated:
                self._forget(tensor)
        return out

    def _compute(
        self,
        func: Any,
        name: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        out: Any,
        mutated: list[torch.Tensor],
    ) -> None:
        """Run the op on the shadows too, when every input has one and the outputs are small."""
        leaves = tensor_leaves(out)
        outputs = [t for t in leaves if t.is_meta]
        if name in _UNSET or any(t.numel() > _limit_of(t, self.limit) for t in outputs):
            outputs = []
        empty = outputs and len(outputs) == len(leaves) and all(t.numel() == 0 for t in outputs)
        if EMPTY_AT_ONCE and empty and not mutated:
            for meta in outputs:  # no values to compute (a cache's first, empty, keys): not run on the CPU
                self._keep(meta, torch.empty(meta.shape, dtype=meta.dtype))
            return
        try:
            if not outputs and not mutated:
                return
            cpu_args, cpu_kwargs = self._on_cpu((args, _cpu_factory(func, name, kwargs)))
            cpu_out = with_modes(func, *cpu_args, **cpu_kwargs)
        except Exception:  # an input without a shadow, or an op the CPU refuses: the values stay unknown
            for tensor in mutated:
                self._forget(tensor)
            return
        results = tensor_leaves(cpu_out)
        if len(results) == len(outputs) and all(_fits(m, c) for m, c in zip(outputs, results, strict=True)):
            for meta, value in zip(outputs, results, strict=True):
                self._keep(meta, value)

    def _value(
        self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], run: Callable[[], Any]
    ) -> Any:
        """A tensor's values handed to Python: computed from the shadows, else assumed."""
        try:
            cpu_args, cpu_kwargs = self._on_cpu((args, kwargs))
        except _Unknown:
            return self._assume_value(name, args, run)
        return with_modes(func, *cpu_args, **cpu_kwargs)

    def _assume_value(self, name: str, args: tuple[Any, ...], run: Callable[[], Any]) -> Any:  # noqa: PLR0911 - one return per question
        """The common-path answer to a question about unknown values, recorded (`run()` for one not answered here)."""
        tensor = args[0] if args and isinstance(args[0], torch.Tensor) else None
        if name in ("equal", "allclose"):
            self._record(f"torch.{name}", "True (the tensors are equal)")
            return True
        if name == "contains":
            self._record("whether a tensor contains a value (`in`)", "True")
            return True
        if tensor is None:
            return run()
        if name == "bool":
            self._record("the truth value of a tensor", "True")
            return True
        if name == "format" and tensor.dim() == 0:  # f"expert_{idx}": the value, as Python formats it
            value = _one(tensor.dtype)
            self._record("the value of a one-element tensor (its use in a formatted string)", repr(value))
            return format(value, args[1] if len(args) > 1 else "")
        if name in ("item", "int", "float", "index"):
            value = _one(tensor.dtype)
            self._record(f"the value of a one-element tensor ({_call_text(name)})", repr(value))
            return float(value) if name == "float" else int(value) if name in ("int", "index") else value
        if name == "tolist":
            value = _one(tensor.dtype)
            self._record(f"the values of a {_shape_text(tensor)} tensor (Tensor.tolist())", f"every value is {value!r}")
            return torch.full(tuple(tensor.shape), value, dtype=tensor.dtype, device="cpu").tolist()
        return run()

    def _data_dependent(
        self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], err: BaseException
    ) -> Any:
        """An op whose output size depends on values: computed from the shadows, else assumed, else `err`.

        An op that mixes meta tensors with real ones (the weights of a TorchScript module, which
        cannot be swapped for meta stand-ins) failed for the mix, not for want of values: `err`.
        """
        if _mixes_devices(args, kwargs):
            raise err
        try:
            cpu_args, cpu_kwargs = self._on_cpu((args, _cpu_factory(func, name, kwargs)))
        except _Unknown:
            numbers = self._known_scalars(args, kwargs)
            if numbers is not None:  # x.repeat(t, 1) with t a one-element tensor of known value
                with contextlib.suppress(Exception):
                    return with_modes(func, *numbers[0], **numbers[1])
            answer = self._assume_size(func, name, args, kwargs)
            if answer is _NO_ANSWER:
                raise err from None
            return answer
        try:
            cpu_out = with_modes(func, *cpu_args, **cpu_kwargs)
        except Exception:  # refused on the values too: the sizes came from values assumed before, or it fails
            answer = self._assume_size(func, name, args, kwargs)
            if answer is _NO_ANSWER:
                raise err from None
            return answer
        return self._mirror(cpu_out)

    def _known_scalars(
        self, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """`args` and `kwargs` with each one-element integer meta tensor replaced by its known value.

        None when there is no such tensor, or one of them has no known value.
        """
        found: list[bool] = []

        def number(leaf: Any) -> Any:
            if not (isinstance(leaf, torch.Tensor) and leaf.is_meta and leaf.dim() == 0):
                return leaf
            if leaf.dtype.is_floating_point or leaf.dtype.is_complex:
                return leaf
            known = self.shadow(leaf)
            found.append(known is not None)
            return int(known.item()) if known is not None else leaf

        replaced = pytree.tree_map(number, (args, kwargs))
        return replaced if found and all(found) else None

    def _mirror(self, cpu_out: Any) -> Any:
        """Meta tensors shaped like the CPU results, each with its CPU result as its shadow."""

        def to_meta(value: Any) -> Any:
            if not isinstance(value, torch.Tensor):
                return value
            meta = torch.empty_like(value, device="meta")
            if value.numel() <= self.limit:
                self._keep(meta, value)
            return meta

        if isinstance(cpu_out, tuple) and hasattr(cpu_out, "_fields"):  # torch.return_types and namedtuples
            return type(cpu_out)(tuple(to_meta(v) for v in cpu_out))
        return pytree.tree_map(to_meta, cpu_out)

    def _assume_size(self, func: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The common-path answer of a data-dependent op on unknown values, recorded; `_NO_ANSWER` if none."""
        if name in _NONZERO_OPS or (name == "where" and len(args) + len(kwargs) == 1):
            tensor = args[0] if args else next(iter(kwargs.values()))
            as_tuple = name == "where" or bool(kwargs.get("as_tuple", False))
            self._record(f"which elements of a {_shape_text(tensor)} tensor are non-zero (torch.{name})", "all of them")
            return self._mirror(_all_indices(tuple(tensor.shape), as_tuple=as_tuple))
        if name in _UNIQUE_OPS:
            return self._unique(name, args, kwargs)
        if name == "masked_select":
            data, mask = args[0], (args[1] if len(args) > 1 else kwargs["mask"])
            size = math.prod(torch.broadcast_shapes(data.shape, mask.shape))
            self._record(f"which elements a {_shape_text(mask)} mask selects (torch.masked_select)", "all of them")
            return torch.empty(size, dtype=data.dtype, device="meta")
        if name in ("split", "split_with_sizes") and self.assumed:
            return self._even_split(func, args, kwargs)
        if name in ("getitem", "setitem") and len(args) >= 2:
            index = _value_index(args[1], self)
            if index is not None:
                if name == "setitem":
                    self._forget(args[0])
                return with_modes(func, args[0], index, *args[2:])
        return _NO_ANSWER

    def _even_split(self, func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """A split whose sizes (from values assumed earlier in the pass) do not add up to the axis: even parts.

        Routing to experts counts the rows each expert takes (``tolist`` of a count) from the weights;
        the counts assumed for them need not add up, so the rows are shared evenly instead, recorded.
        """
        tensor = args[0]
        sizes = args[1] if len(args) > 1 else kwargs.get("split_size_or_sections", kwargs.get("split_sizes"))
        dim = args[2] if len(args) > 2 else kwargs.get("dim", 0)
        if not isinstance(tensor, torch.Tensor) or not isinstance(sizes, list | tuple) or not sizes:
            return _NO_ANSWER
        if not all(isinstance(n, int) for n in sizes) or sum(sizes) == tensor.shape[dim]:
            return _NO_ANSWER
        rows, parts = int(tensor.shape[dim]), len(sizes)
        even = [rows // parts + (1 if i < rows % parts else 0) for i in range(parts)]
        self._record(
            f"how many of {rows} rows each of {parts} parts takes (torch.split by sizes from values assumed before)",
            f"an even share ({', '.join(map(str, even[:4]))}{', ...' if parts > 4 else ''})",
        )
        return with_modes(func, tensor, even, dim)

    def _unique(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        tensor = args[0]
        dim = kwargs.get("dim")
        self._record(f"the distinct values of a {_shape_text(tensor)} tensor (torch.{name})", "every value is distinct")
        size = tensor.numel() if dim is None else tensor.shape[dim]
        values = (
            torch.empty(size, dtype=tensor.dtype, device="meta")
            if dim is None
            else torch.empty_like(tensor, device="meta")
        )
        extra = []
        if kwargs.get("return_inverse", False):
            inverse = torch.arange(size, device="cpu").reshape(tuple(tensor.shape) if dim is None else (size,))
            extra.append(self._mirror(inverse))
        if kwargs.get("return_counts", False):
            extra.append(self._mirror(torch.ones(size, dtype=torch.long, device="cpu")))
        return (values, *extra) if extra else values

    def _first_k(self, out: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """``torch.topk`` on unknown values (a router's scores): its indices are the first k, as if all were equal.

        So a mixture of experts routes every token to the same k experts and only those run, instead of
        every expert (what assuming that each one is hit would run, which on a model of hundreds of
        experts takes minutes). Recorded.
        """
        indices = out[1] if isinstance(out, tuple) and len(out) == 2 else None
        if not isinstance(indices, torch.Tensor) or indices.dim() == 0 or indices.numel() > self.limit:
            return out
        dim = args[2] if len(args) > 2 else kwargs.get("dim", -1)
        dim = dim % indices.dim() if isinstance(dim, int) else indices.dim() - 1
        k = int(indices.shape[dim])
        shape = [1] * indices.dim()
        shape[dim] = k
        first = torch.arange(k, dtype=indices.dtype, device="cpu").reshape(shape).expand(tuple(indices.shape))
        self._record(
            f"which {k} of the values along axis {dim} of a {_shape_text(args[0])} tensor are the largest (torch.topk)",
            f"the first {k} (as if all were equal)",
        )
        self._keep(indices, first.contiguous())
        return out

    def _finite(self, name: str, out: Any) -> Any:
        """A check for infinite or NaN values on unknown values: none are, on the common path."""
        answer = _NON_FINITE[name]
        self._record(f"which values are {_NON_FINITE_WORDS[name]} (torch.{name})", "all of them" if answer else "none")
        if isinstance(out, torch.Tensor) and out.numel() <= self.limit:
            self._keep(out, torch.full(tuple(out.shape), answer, dtype=torch.bool, device="cpu"))
        return out

    def _record(self, question: str, assumed: str) -> None:
        where, code = _asker()
        self.assumed.append(Assumed(where=where, code=code, question=question, assumed=assumed, why=self.why))


_NO_ANSWER = object()

_FACTORIES = frozenset(
    {
        "arange",
        "zeros",
        "ones",
        "full",
        "tensor",
        "as_tensor",
        "linspace",
        "logspace",
        "eye",
        "tril_indices",
        "triu_indices",
        "rand",
        "randn",
        "randint",
        "randperm",
        "zeros_like",
        "ones_like",
        "full_like",
        "scalar_tensor",
    }
)
"""Factories that make values from Python numbers: their results get shadows."""


def _limit_of(tensor: torch.Tensor, limit: int) -> int:
    """The most elements `tensor` may have to be computed beside the pass.

    `limit`, or `INDEX_SCALE` times it for integers and flags (a router's one-hot choice of experts, a
    mask): what control flow reads, and cheap to compute.
    """
    return limit if tensor.dtype.is_floating_point or tensor.dtype.is_complex else limit * INDEX_SCALE


def _mixes_devices(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True when an op's arguments hold a tensor with values of at least one axis besides meta tensors."""
    leaves = tensor_leaves((args, kwargs))
    return any(t.is_meta for t in leaves) and any(not t.is_meta and t.dim() > 0 for t in leaves)


def _metas(args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The meta tensors among an op's arguments, in lists, tuples and dicts too (quicker than a pytree walk)."""
    found: list[torch.Tensor] = []
    stack: list[Any] = [*args, *kwargs.values()]
    while stack:
        item = stack.pop()
        if isinstance(item, torch.Tensor):
            if item.is_meta:
                found.append(item)
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return found


def _cpu_factory(func: Any, name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` for the CPU copy of a call: a factory is told the CPU (the pass runs under the meta device)."""
    owner = getattr(func, "__qualname__", "").split(".")[0]
    if name in _FACTORIES and owner not in ("TensorBase", "Tensor") and "like" not in name:
        return {**kwargs, "device": "cpu"}
    return kwargs


def _mutated(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The tensors an op writes into: the first argument of an in-place op, and ``out=``."""
    written = []
    if (name.endswith("_") or name == "setitem") and args and isinstance(args[0], torch.Tensor):
        written.append(args[0])
    if "out" in kwargs:  # nearly every op has neither: nothing to walk
        written += tensor_leaves(kwargs["out"])
    return [t for t in written if t.is_meta] if written else written


EMPTY_AT_ONCE = True
"""An op whose outputs are all empty gets empty shadows at once, not by running it on the CPU (tests compare)."""


def _fits(meta: torch.Tensor, value: torch.Tensor) -> bool:
    return tuple(meta.shape) == tuple(value.shape) and meta.dtype == value.dtype and not value.is_meta


def _root(tensor: torch.Tensor) -> torch.Tensor:
    base = tensor._base
    return tensor if base is None else base


def _one(dtype: torch.dtype) -> bool | int | float:
    """The value assumed for one element: True for a flag, 1 for a count or index, 1.0 for a number."""
    if dtype == torch.bool:
        return True
    return 1.0 if dtype.is_floating_point or dtype.is_complex else 1


def _call_text(name: str) -> str:
    return {"item": "Tensor.item()", "int": "int()", "float": "float()", "index": "its use as an index"}[name]


def _shape_text(tensor: torch.Tensor) -> str:
    """``3 × 4``, ``4-element``, ``one-element``."""
    if tensor.dim() == 0:
        return "one-element"
    if tensor.dim() == 1:
        return f"{tensor.shape[0]}-element"
    return " × ".join(str(s) for s in tensor.shape)


def _all_indices(shape: tuple[int, ...], *, as_tuple: bool) -> Any:
    """``torch.nonzero`` of a tensor of `shape` whose every element is non-zero."""
    full = torch.ones(shape, dtype=torch.bool, device="cpu")  # the pass runs under the meta device
    return torch.nonzero(full, as_tuple=True) if as_tuple else torch.nonzero(full)


def _value_index(index: Any, values: Values) -> Any:
    """An index whose meta tensors the meta device cannot index with, made of their values (None: none such).

    A boolean mask becomes the indices of its true elements: computed from its shadow when it has
    one, else assumed to be all of them (recorded). A one-element integer tensor (``weight[expert]``)
    becomes its value: computed, else assumed 0, the first (recorded).
    """
    items = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(i, torch.Tensor) and i.is_meta and (i.dtype == torch.bool or i.dim() == 0) for i in items):
        return None
    out: list[Any] = []
    for item in items:
        if not isinstance(item, torch.Tensor) or not item.is_meta:
            out.append(item)
            continue
        known = values.shadow(item)
        if item.dtype == torch.bool:
            if known is None:
                values._record("which elements a boolean index selects (tensor[mask])", "all of them")
            found = torch.nonzero(known, as_tuple=True) if known is not None else None
            out.extend(values._mirror(found if found is not None else _all_indices(tuple(item.shape), as_tuple=True)))
        elif item.dim() == 0 and not item.dtype.is_floating_point:
            if known is None:
                values._record("the value of a one-element tensor used as an index (tensor[i])", "0 (the first)")
            out.append(int(known) if known is not None else 0)
        else:
            out.append(item)
    return tuple(out)


def _asker() -> tuple[str, str]:
    """The model's line that asked for a value: the innermost frame outside torch and modeldoc."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_SKIPPED_ROOTS):
        frame = frame.f_back
    if frame is None:
        return "", ""
    filename, line = frame.f_code.co_filename, frame.f_lineno
    return f"{short_path(filename)}:{line}", linecache.getline(filename, line).strip()


def short_path(filename: str) -> str:
    """`filename` relative to the longest entry of ``sys.path`` that holds it (``transformers/models/...``)."""
    best = ""
    for entry in sys.path:
        root = str(Path(entry).absolute() if entry else Path.cwd())
        if filename.startswith(root + os.sep) and len(root) > len(best):
            best = root
    return filename[len(best) + 1 :] if best else Path(filename).name
