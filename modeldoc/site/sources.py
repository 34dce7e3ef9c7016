"""Which of the user's source files a model's description rests on, for live preview.

Loading a target imports the user's modules. :func:`recording` notes which modules appear in
``sys.modules`` while it runs; :func:`sources_of` adds the modules those refer to (a model
file that does ``from .blocks import Block``) and keeps the ones that are the user's own:
not the standard library, not an installed package, not modeldoc. The plugin watches their
files, reuses a description while they are unchanged, and :func:`forget` drops them from
``sys.modules`` when one changed, so that the next build imports them afresh.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import site
import sys
import sysconfig
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType

_Stamp = str
"""A digest of a file's bytes: saving it unchanged (or touching it) keeps the description."""


@dataclass(frozen=True)
class Sources:
    """The user's modules a description rests on, and their files as they were when it was made."""

    modules: tuple[str, ...] = ()
    files: Mapping[Path, _Stamp] = field(default_factory=dict)
    """Each file and the digest of its bytes when the description was made."""

    def changed(self) -> bool:
        """True when one of the files was edited, replaced or removed since."""
        return any(_stamp(path) != stamp for path, stamp in self.files.items())


@dataclass
class Recording:
    """The module names that appeared in ``sys.modules`` during a `recording` block."""

    new: set[str] = field(default_factory=set)


@contextmanager
def recording(paths: Iterable[Path] = ()) -> Iterator[Recording]:
    """Note the modules imported inside the block, with `paths` on ``sys.path`` meanwhile."""
    added = [str(p) for p in paths if str(p) not in sys.path]
    sys.path[:0] = added
    before = set(sys.modules)
    found = Recording()
    try:
        yield found
    finally:
        found.new = set(sys.modules) - before
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)


def sources_of(names: Iterable[str], files: Iterable[Path] = (), types: Iterable[str] = ()) -> Sources:
    """The user's modules among `names`, the modules of `files` and `types`, and all they refer to.

    A file of `files` that is not Python (a saved description) is watched itself.
    """
    wanted = set(files)
    stems = {path.name for path in wanted}
    roots = [n for n in names if _user_file(sys.modules.get(n))]
    for name, module in list(sys.modules.items()):
        raw = getattr(module, "__file__", None)
        if isinstance(raw, str) and Path(raw).name in stems and _file(module) in wanted:
            roots.append(name)
    roots += [n for n in (_module_of(t) for t in types) if n and _user_file(sys.modules.get(n))]
    seen: set[str] = set()
    while roots:
        name = roots.pop()
        if name in seen:
            continue
        seen.add(name)
        roots += _referenced(sys.modules[name])
    stamps = {path: _stamp(path) for path in wanted if path.suffix != ".py"}  # a saved description.json
    for name in seen:
        path = _file(sys.modules[name])
        if path is not None:
            stamps[path] = _stamp(path)
    return Sources(modules=tuple(sorted(seen)), files=stamps)


def user_files(paths: Iterable[str | None]) -> set[Path]:
    """The user's own ``.py`` files among `paths` (e.g. the files of a traceback)."""
    out = set()
    for raw in paths:
        if raw and raw.endswith(".py") and Path(raw).is_file():
            path = Path(raw).resolve()
            if not _installed(path):
                out.add(path)
    return out


def folder_digest(folder: Path | None) -> str:
    """A digest of the names and bytes of every file in `folder` (``""`` for none)."""
    if folder is None or not folder.is_dir():
        return ""
    digest = hashlib.sha1()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + _stamp(path).encode())
    return digest.hexdigest()


def forget(modules: Iterable[str]) -> None:
    """Drop `modules` from ``sys.modules``; the next import runs their code again."""
    for name in modules:
        sys.modules.pop(name, None)


def _referenced(module: ModuleType) -> list[str]:
    """The user's modules that `module`'s globals are, or whose classes and functions they hold."""
    names = []
    for value in list(vars(module).values()):
        if isinstance(value, ModuleType):
            name = value.__name__
        elif inspect.isclass(value) or inspect.isfunction(value):
            name = getattr(value, "__module__", None) or ""
        else:
            continue
        if name != module.__name__ and _user_file(sys.modules.get(name)):
            names.append(name)
    return names


def _module_of(dotted: str) -> str:
    """The longest prefix of a dotted type name that is an imported module."""
    parts = dotted.split(".")
    for end in range(len(parts) - 1, 0, -1):
        name = ".".join(parts[:end])
        if name in sys.modules:
            return name
    return ""


def _file(module: ModuleType | None) -> Path | None:
    raw = getattr(module, "__file__", None)
    if not isinstance(raw, str) or not raw.endswith(".py"):
        return None
    path = Path(raw).resolve()
    return path if path.is_file() else None  # torch.ops claims a "_ops.py" that is nowhere


def _user_file(module: ModuleType | None) -> bool:
    raw = getattr(module, "__file__", None)
    if not isinstance(raw, str) or not raw.endswith(".py") or _installed_folder(raw.rpartition(os.sep)[0]):
        return False  # most modules a model imports are installed: one look-up per folder, not per file
    path = _file(module)
    return path is not None and not _installed(path)


@cache
def _installed_folder(folder: str) -> bool:
    """True when `folder` (as a module's file names it) is in the standard library or an installed package."""
    return _installed(Path(folder).resolve())


def _installed(path: Path) -> bool:
    """True for the standard library, installed packages and modeldoc itself."""
    return any(path.is_relative_to(root) for root in _installed_roots())


@cache
def _installed_roots() -> tuple[Path, ...]:
    roots = {Path(__file__).resolve().parents[1]}  # modeldoc itself
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        if value := sysconfig.get_paths().get(key):
            roots.add(Path(value).resolve())
    for value in [*site.getsitepackages(), site.getusersitepackages()]:
        roots.add(Path(value).resolve())
    return tuple(roots)


def _stamp(path: Path) -> _Stamp:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"
