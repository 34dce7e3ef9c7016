"""How the pages name the user's classes, modules and dtypes: one place for each name.

``torch.nn.Conv2d`` for a torch.nn class, ``gate.Gate`` for a class of a file target (its file
imported as ``modeldoc_user_gate_<digest>``), ``float32`` for ``torch.float32``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import torch
from torch import nn

_FILE_MODULE = re.compile(r"^modeldoc_user_(?P<stem>.+)_[0-9a-f]{10}$")


def file_module(path: Path) -> str:
    """The name a file target's module is imported under: unique per file, so two ``model.py`` never meet."""
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    return f"modeldoc_user_{path.stem}_{digest}"


def module_label(name: str) -> str:
    """A module's name as the pages show it: a file target's module as its file's stem.

    A file is imported under a unique name (``modeldoc_user_gate_8788238090``, see `file_module`)
    so that two files with one name never meet in ``sys.modules``; a reader knows it as ``gate``.
    """
    match = _FILE_MODULE.match(name)
    return match["stem"] if match else name


def is_torch_nn(cls: type) -> bool:
    """True for a class torch.nn exports (``nn.Conv2d``), false for a user's or a library's class."""
    return getattr(nn, cls.__name__, None) is cls


def public_type(cls: type) -> str:
    """``torch.nn.Conv2d`` for torch.nn classes, ``module.QualName`` for the rest."""
    if is_torch_nn(cls):
        return f"torch.nn.{cls.__name__}"
    return f"{module_label(cls.__module__)}.{cls.__qualname__}"


def target_name(cls: type) -> str:
    """``module:QualName``: how a target names `cls` (a live module's stand-in for a target)."""
    return f"{module_label(cls.__module__)}:{cls.__qualname__}"


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float32`` becomes ``"float32"``."""
    return str(dtype).removeprefix("torch.")


__all__ = ["dtype_name", "file_module", "is_torch_nn", "module_label", "public_type", "target_name"]
