"""Checkpoint files read: their tensor lists (headers only), their tensors one by one, their values loaded.

Loaded, that is, into a model modeldoc built from a target (``--weights``).

Two formats: safetensors (through the ``safetensors`` package: `safe_open` reads only the header,
so a 100 GB file lists its tensors in the time of a small one) and ``torch.save`` state dicts
(through ``torch.load(weights_only=True, mmap=True)``: no code in the file ever runs, and the
tensors' data stay on disk until a value is asked for). A sharded checkpoint is named by its
index file (``model.safetensors.index.json``, ``pytorch_model.bin.index.json``). Every failure
becomes a `CheckpointError` that names the file, what is wrong and what to do.
"""

from __future__ import annotations

import json
import math
import pickle
import re
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from modeldoc.checkpoints import TensorEntry
from modeldoc.errors import CheckpointError
from modeldoc.probe.names import dtype_name
from modeldoc.spec import CheckpointSpec, ShapeMismatch

SAFETENSORS_DTYPES = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U64": ("uint64", 8),
    "U32": ("uint32", 4),
    "U16": ("uint16", 2),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
}
"""safetensors' dtype codes, as modeldoc names dtypes, with their sizes in bytes."""
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "module", "net", "network")
"""Keys under which a ``torch.save`` dictionary (a training checkpoint) keeps the model's tensors."""
_UNSUPPORTED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
_NATURAL = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint file opened for reading: what it holds, and where each tensor lives."""

    spec: CheckpointSpec
    tensors: tuple[TensorEntry, ...]
    shard_of: Mapping[str, Path]
    """The file each tensor is in (the file itself for an unsharded checkpoint)."""
    notes: tuple[str, ...] = ()
    """What the reader left out (entries of a ``torch.save`` dictionary that are not tensors)."""


def natural_key(name: str) -> list[Any]:
    """A sort key that puts ``layers.2`` before ``layers.10``."""
    return [int(part) if part.isdigit() else part for part in _NATURAL.split(name)]


def is_index(path: Path) -> bool:
    """True for a sharded checkpoint's index file."""
    return path.name.endswith(".index.json")


def is_safetensors(path: Path) -> bool:
    """True for a safetensors file, or the index of sharded ones."""
    return path.name.endswith((".safetensors", ".safetensors.index.json"))


def open_checkpoint(file: str) -> Checkpoint:
    """Read what the checkpoint `file` holds, without reading the tensors' data where the format allows.

    Raises:
        CheckpointError: The file is missing, truncated, corrupt, or holds something other than tensors.

    """
    path = Path(file)
    if not path.is_file():
        raise CheckpointError(file, "no such file", "check the path (a checkpoint is named by its file)")
    shards = _shards(path, file) if is_index(path) else {path: None}
    tensors: list[TensorEntry] = []
    shard_of: dict[str, Path] = {}
    notes: list[str] = []
    metadata: dict[str, str] = {}
    entry = ""
    for shard, wanted in shards.items():
        if is_safetensors(path):
            found, meta = _safetensors_header(shard, file)
            metadata.update(meta)
        else:
            found, entry, skipped = _torch_header(shard, file)
            notes += skipped
        for tensor in found:
            if wanted is not None and tensor.name not in wanted:
                continue
            if tensor.name in shard_of:
                raise CheckpointError(
                    file, f"the tensor {tensor.name!r} is in two shards", "fix the index so each tensor has one file"
                )
            tensors.append(tensor)
            shard_of[tensor.name] = shard
    if not tensors:
        raise CheckpointError(file, "it holds no tensors", "give a checkpoint of a model's weights")
    if is_safetensors(path):
        # safetensors lists its tensors sorted by name; numbered blocks read better in number order
        tensors.sort(key=lambda t: natural_key(t.name))
    spec = CheckpointSpec(
        file=file,
        format="safetensors" if is_safetensors(path) else "torch",
        size=sum(shard.stat().st_size for shard in shards),
        tensors=len(tensors),
        shards=len(shards),
        entry=entry,
        metadata=metadata,
    )
    return Checkpoint(spec=spec, tensors=tuple(tensors), shard_of=shard_of, notes=tuple(notes))


def _shards(index: Path, file: str) -> dict[Path, set[str] | None]:
    """The shard files an index names, each with the tensors it is to hold."""
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        problem = f"the index cannot be read as JSON ({err})"
        raise CheckpointError(file, problem, "give the checkpoint's index") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
        raise CheckpointError(
            file, 'the index has no "weight_map" of tensor names to files', "give a sharded checkpoint's index file"
        )
    shards: dict[Path, set[str] | None] = {}
    for name, shard in weight_map.items():
        shard_path = index.parent / shard
        if Path(shard).is_absolute() or ".." in Path(shard).parts:
            raise CheckpointError(file, f"the index names {shard!r}, outside its folder", "fix the index")
        wanted = shards.setdefault(shard_path, set())
        assert wanted is not None
        wanted.add(name)
    missing = [str(p.name) for p in shards if not p.is_file()]
    if missing:
        raise CheckpointError(
            file, f"the shard {missing[0]} it names is missing", "put every shard beside the index file"
        )
    return shards


def _safetensors_header(path: Path, file: str) -> tuple[list[TensorEntry], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            entries = []
            for name in handle.keys():  # noqa: SIM118 - a safe_open handle is not a mapping
                part = handle.get_slice(name)
                code = part.get_dtype()
                dtype, size = SAFETENSORS_DTYPES.get(code, (code.lower(), 0))
                shape = tuple(int(s) for s in part.get_shape())
                entries.append(TensorEntry(name, shape, dtype, math.prod(shape) * size))
    except SafetensorError as err:
        raise CheckpointError(
            _name(path, file),
            f"not a readable safetensors file ({_first_line(err)})",
            "it may be truncated or corrupt: download or save it again",
        ) from None
    except OSError as err:
        raise CheckpointError(_name(path, file), f"cannot be read ({err.strerror or err})", "check the file") from None
    return entries, metadata


def _torch_load(path: Path, file: str) -> Any:
    """``torch.load`` with ``weights_only=True`` (no code in the file runs) and, where it can, ``mmap=True``."""
    try:
        try:
            return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as err:
            if "mmap can only be used" not in str(err):
                raise
            # the legacy format (before torch 1.6) cannot be mapped: read it, still with weights_only
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = _UNSUPPORTED_GLOBAL.search(str(err))
        what = f"an object of class {found[1]}" if found else "objects other than tensors"
        raise CheckpointError(
            _name(path, file),
            f"it holds {what}, and modeldoc loads checkpoints with weights_only=True, which never runs a file's code",
            "save the state dict instead: torch.save(model.state_dict(), FILE) (or safetensors)",
        ) from None
    except (RuntimeError, EOFError, ValueError, OSError) as err:
        raise CheckpointError(
            _name(path, file),
            f"not a readable torch.save file ({_first_line(err)})",
            "it may be truncated or corrupt: save it again with torch.save(model.state_dict(), FILE)",
        ) from None
    except Exception as err:  # safetensors' own error when torch meets a safetensors file, and its kin
        raise CheckpointError(
            _name(path, file),
            f"not a readable torch.save file ({type(err).__name__}: {_first_line(err)})",
            "a .safetensors file must end in .safetensors; save a state dict with torch.save(model.state_dict(), FILE)",
        ) from None


def _state_dict(loaded: Any, path: Path, file: str) -> tuple[dict[str, torch.Tensor], str, list[str]]:
    """The tensors of what ``torch.load`` returned: a state dict, or one inside a training checkpoint."""
    if not isinstance(loaded, Mapping):
        raise CheckpointError(
            _name(path, file),
            f"it holds a {type(loaded).__name__}, not a dictionary of tensors",
            "save the state dict: torch.save(model.state_dict(), FILE)",
        )
    entry = ""
    if not any(isinstance(v, torch.Tensor) for v in loaded.values()):
        entry = next((k for k in STATE_DICT_KEYS if isinstance(loaded.get(k), Mapping)), "")
        if not entry:
            raise CheckpointError(
                _name(path, file),
                "it holds no tensors at its top level, nor a state dict under "
                + ", ".join(repr(k) for k in STATE_DICT_KEYS),
                "save the state dict: torch.save(model.state_dict(), FILE)",
            )
        loaded = loaded[entry]
    tensors = {str(k): v for k, v in loaded.items() if isinstance(v, torch.Tensor)}
    skipped = [str(k) for k, v in loaded.items() if not isinstance(v, torch.Tensor)]
    notes = []
    if skipped:
        shown = ", ".join(repr(s) for s in skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
        notes.append(f"{_name(path, file)} also holds entries that are not tensors ({shown}); they are left out")
    return tensors, entry, notes


def _torch_header(path: Path, file: str) -> tuple[list[TensorEntry], str, list[str]]:
    tensors, entry, notes = _state_dict(_torch_load(path, file), path, file)
    found = [
        TensorEntry(name, tuple(t.shape), dtype_name(t.dtype), t.numel() * t.element_size())
        for name, t in tensors.items()
    ]
    return found, entry, notes


def _name(path: Path, file: str) -> str:
    return file if Path(file) == path else f"{file} (shard {path.name})"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return text if len(text) <= 160 else text[:157] + "..."


class TensorReader:
    """The tensors of an opened checkpoint, read one at a time (each shard opened once, while reading)."""

    def __init__(self, checkpoint: Checkpoint) -> None:
        self.checkpoint = checkpoint
        self._stack = ExitStack()
        self._handles: dict[Path, Any] = {}

    def __enter__(self) -> TensorReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handles.clear()
        self._stack.close()

    def tensor(self, name: str) -> torch.Tensor:
        """The tensor `name`, read from its file (a torch file's data are mapped, not read whole)."""
        path = self.checkpoint.shard_of[name]
        file = self.checkpoint.spec.file
        handle = self._handles.get(path)
        if handle is None:
            if self.checkpoint.spec.format == "safetensors":
                from safetensors import safe_open

                handle = self._stack.enter_context(safe_open(str(path), framework="pt"))
            else:
                handle = _state_dict(_torch_load(path, file), path, file)[0]
            self._handles.clear()  # one shard at a time: a torch shard's mapping goes when the next opens
            self._handles[path] = handle
        try:
            if isinstance(handle, dict):
                return handle[name]
            return handle.get_tensor(name)  # type: ignore[no-any-return]
        except Exception as err:  # safetensors raises its own error for data it cannot read
            raise CheckpointError(
                _name(path, file),
                f"the data of {name!r} cannot be read ({_first_line(err)})",
                "the file may be truncated or corrupt: download or save it again",
            ) from None


@contextmanager
def reading(checkpoint: Checkpoint) -> Iterator[TensorReader]:
    """A `TensorReader` for `checkpoint`, its files closed at the end."""
    with TensorReader(checkpoint) as reader:
        yield reader


def load_into(module: nn.Module, file: str) -> CheckpointSpec:
    """Load the tensors of `file` into `module` (one modeldoc built itself), strictly by name and shape.

    Tensors whose name and shape match are loaded (cast to the model's dtype; a tensor on the meta
    device is replaced by a real one). The rest are reported, not guessed at: the model's tensors
    the file lacks (`missing`), the file's tensors the model lacks (`unexpected`), and tensors whose
    shapes differ (`mismatched`). Tied tensors are loaded once, under whichever name the file holds.

    Raises:
        CheckpointError: The file cannot be read, or holds none of the model's tensors.

    """
    checkpoint = open_checkpoint(file)
    slots = _slots(module)
    in_file = {t.name: t for t in checkpoint.tensors}
    mismatched = [
        ShapeMismatch(name=name, model_shape=tuple(slots[name][2].shape), file_shape=in_file[name].shape)
        for name in slots
        if name in in_file and tuple(slots[name][2].shape) != in_file[name].shape
    ]
    bad = {m.name for m in mismatched}
    matched = [name for name in slots if name in in_file and name not in bad]
    if not matched:
        theirs = ", ".join(list(in_file)[:3])
        ours = ", ".join(list(slots)[:3])
        raise CheckpointError(
            file,
            f"it holds none of the model's tensors by name and shape (the file has {theirs}, ...; "
            f"the model has {ours}, ...)",
            "give the checkpoint saved from this model's state_dict()",
        )
    loaded_ids = {id(slots[name][2]) for name in matched}
    # a tied tensor (lm_head.weight is wte.weight) is loaded through whichever of its names the file holds
    missing = [name for name in slots if name not in in_file and id(slots[name][2]) not in loaded_ids]
    with reading(checkpoint) as reader, torch.no_grad():
        done: dict[int, torch.Tensor] = {}
        for name in matched:
            owner, local, current = slots[name]
            key = id(current)
            if key in done:
                _put(owner, local, done[key])
                continue
            value = reader.tensor(name)
            done[key] = _assign(owner, local, current, value)
        # the other names of a tied tensor that was replaced follow it
        for name, (owner, local, current) in slots.items():
            if id(current) in done and name not in matched:
                _put(owner, local, done[id(current)])
    return replace(
        checkpoint.spec,
        loaded=len(matched),
        missing=tuple(missing),
        unexpected=tuple(name for name in in_file if name not in slots),
        mismatched=tuple(mismatched),
    )


def _slots(module: nn.Module) -> dict[str, tuple[nn.Module, str, torch.Tensor]]:
    """Every tensor the model's state dict would hold, by name: (its module, its local name, the tensor)."""
    slots: dict[str, tuple[nn.Module, str, torch.Tensor]] = {}
    for path, sub in module.named_modules(remove_duplicate=False):
        skip: set[str] = getattr(sub, "_non_persistent_buffers_set", set())
        for store in ("_parameters", "_buffers"):
            for local, tensor in getattr(sub, store, {}).items():
                if tensor is None or (store == "_buffers" and local in skip):
                    continue
                slots.setdefault(f"{path}.{local}" if path else local, (sub, local, tensor))
    return slots


def _assign(owner: nn.Module, local: str, current: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Put `value` into the slot that holds `current`: copied in, or (on the meta device) in its place."""
    if not current.is_meta:
        current.copy_(value)
        return current
    real = value.to(dtype=current.dtype).clone()
    new: torch.Tensor = nn.Parameter(real, requires_grad=current.requires_grad) if local in owner._parameters else real
    _put(owner, local, new)
    return new


def _put(owner: nn.Module, local: str, tensor: torch.Tensor) -> None:
    if local in owner._parameters:
        owner._parameters[local] = tensor  # type: ignore[assignment]
    else:
        owner._buffers[local] = tensor
