"""Saved descriptions, so that building an unchanged model again skips describing it.

Describing a model (importing it and torch, building it, tracing it) is most of a build. A
description is saved in a cache folder that modeldoc owns (`default_folder`:
``$MODELDOC_CACHE_DIR``, else the user's cache folder, ``~/.cache/modeldoc`` on Linux), never in
the user's project, under a key made of everything the description rests on:

- the options that shape it (target, constructor arguments, inputs, probe device and timeout,
  knowledge folders and the digests of their files) and the working folder targets resolve in;
- modeldoc's version and a digest of its own files (an edited checkout describes differently);
- the Python version.

The description is saved as a pickle of its `ModelSpec` (ten times quicker to write and read
than its ``modeldoc/1`` JSON, which is half a second to a second and a half of a big model's
first build) and read back by an unpickler that builds modeldoc's own data classes and nothing
else. Beside it a record lists the files of the user's modules the description was made from
(`modeldoc.site.sources`) with their digests, and the installed packages that code imported
(``transformers``, ``torch``) with the size and time of their ``__init__.py``. A later build
reuses the entry only while every one of those is unchanged, and only when the saved bytes
still have the checksum they were written with; a corrupt, stale or unreadable entry is
ignored, described afresh and replaced. Entries are written to a temporary file and renamed into place, so a build
that is stopped midway leaves no half-written entry; only entries (files named by a key) are
ever removed from the folder. Reuse is on by default; ``--no-cache`` (the plugin's
``cache: false``) describes afresh and saves nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import io
import json
import logging
import os
import pickle
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

from modeldoc import __version__, progress
from modeldoc.options import ModelOptions
from modeldoc.site import sources
from modeldoc.site.compiled import write_atomically
from modeldoc.spec import ModelSpec, is_checkpoint_file, is_description_file

log = logging.getLogger(__name__)

ENVIRONMENT = "MODELDOC_CACHE_DIR"
"""The environment variable that names the cache folder in place of the user's cache folder."""
FORMAT = "modeldoc-cache/2"
"""The form of an entry's record; another form is ignored (and replaced)."""
_MAX_ENTRIES = 32
"""Entries kept per folder; the ones read or written longest ago go first."""
_ENTRY = re.compile(r"^[0-9a-f]{32}(\.record\.json|\.pickle)$")
"""The names of an entry's two files: only these are ever removed from the folder."""


@dataclass(frozen=True)
class Hit:
    """A description read back from the cache, and the user's sources it rests on."""

    spec: ModelSpec
    sources: sources.Sources


class Cache:
    """One cache folder: descriptions by key, each with what must be unchanged for it to be reused."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def load(self, options: ModelOptions, paths: Iterable[Path] = ()) -> Hit | None:
        """The saved description for `options`, when there is one and nothing it rests on changed."""
        name = key(options, paths)
        record_path = self.folder / f"{name}.record.json"
        if not record_path.is_file():
            return None
        found = _read(record_path, self.folder / f"{name}.pickle", name)
        if isinstance(found, str):
            log.info(f"modeldoc: not reusing the saved description of {options.target}: {found}")
            return None
        _touch(record_path)
        return found

    def store(
        self,
        options: ModelOptions,
        spec: ModelSpec,
        used: sources.Sources,
        imported: Iterable[str],
        paths: Iterable[Path] = (),
    ) -> None:
        """Save `spec` for `options`, with the sources and installed packages it rests on.

        A folder that cannot be written only costs the reuse: the build goes on, and says why at
        info level.
        """
        name = key(options, paths)
        try:
            text = pickle.dumps(spec, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, TypeError, AttributeError) as err:
            log.info(f"modeldoc: the description of {options.target} was not saved: {err}")
            return
        record = {
            "format": FORMAT,
            "key": name,
            "target": options.target,
            "checksum": hashlib.sha256(text).hexdigest(),
            "modules": list(used.modules),
            "sources": {str(path): stamp for path, stamp in used.files.items()},
            "packages": packages(imported),
        }
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            write_atomically(self.folder / f"{name}.pickle", text)
            write_atomically(self.folder / f"{name}.record.json", json.dumps(record, indent=1).encode("utf-8"))
            self._trim()
        except OSError as err:
            log.info(f"modeldoc: the description of {options.target} was not saved in {self.folder}: {err}")

    def _trim(self) -> None:
        records = [path for path in self.folder.glob("*.record.json") if _ENTRY.match(path.name)]
        records.sort(key=lambda path: path.stat().st_mtime_ns)
        for old in records[:-_MAX_ENTRIES]:
            for path in (old, old.with_name(old.name.replace(".record.json", ".pickle"))):
                path.unlink(missing_ok=True)


def describe(options: ModelOptions, folder: Path | None) -> ModelSpec:
    """`pipeline.describe`, reusing the description saved in `folder` (None: no cache) while it is current.

    A description made here is saved there for the next build.
    """
    from modeldoc import pipeline

    # a checkpoint's tensors and weights' pictures are read from the files each time: described afresh
    weighed = is_checkpoint_file(options.target) or bool(options.weights) or options.show_weights
    if folder is None or is_description_file(options.target) or weighed:
        return pipeline.describe(options)
    saved = Cache(folder)
    hit = saved.load(options)
    if hit is not None:
        progress.phase(f"reusing the saved description of {options.target} (--no-cache describes afresh)")
        return replace(hit.spec, title=options.title or hit.spec.title)
    untitled = replace(options, title="")  # saved with the default title, whatever this build calls it
    with sources.recording() as imported:
        spec, source = pipeline.describe_with_source(untitled)
    used = sources.sources_of(imported.new, [source] if source else [], (layer.type for layer in spec.all_layers))
    saved.store(options, spec, used, imported.new)
    return replace(spec, title=options.title or spec.title)


def default_folder() -> Path:
    """The folder descriptions are saved in: ``$MODELDOC_CACHE_DIR``, else modeldoc's folder in the user's cache.

    That is ``$XDG_CACHE_HOME/modeldoc`` (``~/.cache/modeldoc``) on Linux and other Unixes,
    ``~/Library/Caches/modeldoc`` on macOS and ``modeldoc/Cache`` in ``%LOCALAPPDATA%`` on Windows.
    """
    chosen = os.environ.get(ENVIRONMENT)
    if chosen:
        return Path(chosen).expanduser().resolve()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "modeldoc" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "modeldoc"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "modeldoc"


def key(options: ModelOptions, paths: Iterable[Path] = ()) -> str:
    """The entry name of a description: a digest of everything it rests on besides the user's files.

    `paths` are the folders put on ``sys.path`` while the target is imported (the plugin's ``paths``).
    """
    parts = {
        "paths": [str(path) for path in paths],
        "modeldoc": __version__,
        "modeldoc_files": _own_digest(),
        "python": sys.version,
        "cwd": str(Path.cwd()),
        "target": options.target,
        "kwargs": options.kwargs,
        "inputs": [[list(i.shape), i.dtype, list(i.axis_names), i.keyword] for i in options.inputs],
        "example": options.example,
        "probe_device": options.probe_device,
        "probe_timeout": options.probe_timeout,
        "probe_memory": options.probe_memory,
        "knowledge": [[str(folder), sources.folder_digest(folder)] for folder in options.knowledge],
    }
    text = json.dumps(parts, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def packages(imported: Iterable[str]) -> dict[str, list[Any]]:
    """The installed packages among the modules `imported` (and torch, when loaded), with a stamp each.

    The stamp is the package's ``__init__.py`` with its size and modification time: reinstalling
    or upgrading the package changes them.
    """
    names = {name.partition(".")[0] for name in imported} | ({"torch"} if "torch" in sys.modules else set())
    out: dict[str, list[Any]] = {}
    for name in sorted(names):
        if name == "modeldoc" or name not in sys.modules:
            continue
        raw = getattr(sys.modules[name], "__file__", None)
        if not isinstance(raw, str) or not Path(raw).is_file() or sources.user_files([raw]):
            continue  # built in (no file), or a user's module (its file is a source)
        out[name] = [raw, *_file_stamp(Path(raw))]
    return out


def _read(record_path: Path, data_path: Path, name: str) -> Hit | str:
    """The entry at these paths, or why it cannot be used (unreadable, stale, damaged)."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        raw = data_path.read_bytes()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "its files cannot be read"
    problem = _stale(record, name) if isinstance(record, dict) else "its record is not an object"
    if problem:
        return problem
    if hashlib.sha256(raw).hexdigest() != record.get("checksum"):
        return "it is damaged (its checksum differs)"
    try:
        spec = _Unpickler(io.BytesIO(raw)).load()
    except Exception:  # whatever a damaged pickle raises: described afresh
        return "it does not read back as a description"
    if not isinstance(spec, ModelSpec):
        return "it does not read back as a description"
    files = {Path(path): stamp for path, stamp in record["sources"].items()}
    return Hit(spec, sources.Sources(modules=tuple(record["modules"]), files=files))


class _Unpickler(pickle.Unpickler):
    """Reads a saved description back, building modeldoc's own data classes and enums, and nothing else.

    Only classes of modules already imported: reading an entry imports nothing and runs no code
    (modeldoc's data classes have no ``__setstate__``), whatever the file holds.
    """

    def find_class(self, module: str, name: str) -> Any:
        """A class of modeldoc's that a description is made of; anything else is refused."""
        loaded = sys.modules.get(module) if module.startswith("modeldoc.") else None  # nothing is imported here
        found = getattr(loaded, name, None)
        if isinstance(found, type) and (dataclasses.is_dataclass(found) or issubclass(found, enum.Enum)):
            return found
        raise pickle.UnpicklingError(f"{module}.{name} is not part of a description")


def _stale(record: Mapping[str, Any], name: str) -> str:
    """Why a record cannot be used (``""`` when it can): another form, or something it rests on changed."""
    if record.get("format") != FORMAT or record.get("key") != name:
        return "it was written by another modeldoc"
    try:
        files = {Path(path): stamp for path, stamp in record["sources"].items()}
        installed = dict(record["packages"])
        list(record["modules"])
    except (KeyError, TypeError, AttributeError, ValueError):
        return "its record is incomplete"
    if sources.Sources(files=files).changed():
        return "a source file of the model changed"
    for package, (path, *stamp) in installed.items():
        if _file_stamp(Path(path)) != stamp:
            return f"the installed package {package} changed"
    return ""


def _file_stamp(path: Path) -> list[int]:
    try:
        found = path.stat()
    except OSError:
        return [-1, -1]
    return [found.st_size, found.st_mtime_ns]


@cache
def _own_digest() -> str:
    """A digest of modeldoc's own code and data files: an edited checkout keys its descriptions anew."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".yaml", ".json") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _touch(path: Path) -> None:
    """Mark an entry as just used (the folder keeps the most recently used entries)."""
    with contextlib.suppress(OSError):
        os.utime(path)
