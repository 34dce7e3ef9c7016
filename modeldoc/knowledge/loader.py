"""The knowledge table: modeldoc's shipped entries, then installed packages', then a project's folders.

A `Knowledge` is built from a list of folders of YAML files, read in order: the shipped folder,
the folders that installed packages name under the ``modeldoc.knowledge`` entry point group,
then the folders a project configures (``knowledge`` in ``[tool.modeldoc]`` or the MkDocs
plugin, ``--knowledge`` on the command line). A later folder adds keys; it may build on any
earlier entry (``extends: Linear``) but replaces one only when it says ``replace: true``.
Tables are cached by their folders and the files' modification times.
"""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import metadata, resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import yaml

from modeldoc.knowledge.schema import LOAD_KEYS, NOT_INHERITED, Entry, KnowledgeError, Problems, read_entry

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable  # Python 3.11+; only a type here

ENTRY_POINT_GROUP = "modeldoc.knowledge"
"""The entry point group under which an installed package names its folder of entries."""
MESSAGES_FILE = "messages.yaml"
_PACKAGE = "modeldoc.knowledge"
YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (ten times faster), else the pure-Python one."""


@dataclass(frozen=True)
class Source:
    """One folder of entries and who provides it."""

    folder: Path | Traversable
    label: str
    """How messages name it: ``modeldoc``, ``entry point gated (mypkg)``, or the folder's path."""
    shipped: bool = False


@dataclass(frozen=True, eq=False)
class Knowledge:
    """Every concrete entry (bases merged in), by key, and the folders they came from."""

    entries: Mapping[str, Entry]
    sources: tuple[Source, ...] = ()
    _by_type: dict[tuple[str, str, tuple[str, ...]], Entry | None] = field(default_factory=dict, repr=False)

    def lookup(self, key: str) -> Entry | None:
        """The entry for a layer key (``"Conv2d"`` or a dotted type), or None."""
        return self.entries.get(key)

    def entry_for(self, type_: str, type_name: str, bases: Sequence[str] = ()) -> Entry | None:
        """The entry of a layer of type `type_`, or of its nearest ancestor in `bases` that has one."""
        cache_key = (type_, type_name, tuple(bases))
        if cache_key not in self._by_type:
            found = self.lookup(key_of(type_, type_name))
            for base in bases:
                if found is not None:
                    break
                found = self.lookup(key_of(base, base.rsplit(".", 1)[-1]))
            self._by_type[cache_key] = found
        return self._by_type[cache_key]

    @property
    def added(self) -> tuple[Entry, ...]:
        """The entries that are not modeldoc's own (from entry points and a project's folders), by key."""
        return tuple(entry for key, entry in sorted(self.entries.items()) if not entry.shipped)

    @property
    def folders(self) -> tuple[Path, ...]:
        """The folders added to the shipped one, in the order they are read."""
        return tuple(Path(str(s.folder)) for s in self.sources if not s.shipped)


def key_of(type_: str, type_name: str) -> str:
    """The table key of a layer type: the class name for torch.nn classes, the dotted type otherwise."""
    return type_name if type_ == f"torch.nn.{type_name}" else type_


def load(folders: Iterable[str | os.PathLike[str]] = (), *, entry_points: bool = True) -> Knowledge:
    """The table of the shipped entries, the entry points' folders (unless `entry_points` is False) and `folders`.

    Raises:
        KnowledgeError: a file or entry is malformed (the first problem; ``modeldoc knowledge
            check`` lists them all).

    """
    table, problems = read(folders, entry_points=entry_points)
    if problems:
        first = problems[0]
        if len(problems) > 1:
            more = f" (and {len(problems) - 1} more: modeldoc knowledge check lists them all)"
            raise KnowledgeError(first.where, first.problem + more, first.file)
        raise first
    return table


def read(
    folders: Iterable[str | os.PathLike[str]] = (), *, entry_points: bool = True
) -> tuple[Knowledge, tuple[KnowledgeError, ...]]:
    """Like `load`, but returns the table of every well-formed entry and the list of problems."""
    found = Problems()
    sources = [Source(resources.files(_PACKAGE), "modeldoc", shipped=True)]
    if entry_points:
        sources += _entry_point_sources(found)
    sources += [Source(Path(folder), _shown(Path(folder))) for folder in folders]
    table, problems = _build(tuple(sources), _stamp(sources))
    return table, (*found.found, *problems)


@cache
def shipped() -> Knowledge:
    """The shipped entries only (no entry points, no project folders)."""
    return load((), entry_points=False)


@cache
def default() -> Knowledge:
    """The table used when none is given: the shipped entries and installed packages' (read once per process)."""
    return load(())


_ACTIVE: ContextVar[Knowledge | None] = ContextVar("modeldoc_knowledge", default=None)


def current() -> Knowledge:
    """The table in use: the one `using` made active, else `default`."""
    return _ACTIVE.get() or default()


@contextmanager
def using(table: Knowledge) -> Iterator[Knowledge]:
    """Make `table` the one `current` returns while the block runs (the probe reads entries through it)."""
    token = _ACTIVE.set(table)
    try:
        yield table
    finally:
        _ACTIVE.reset(token)


def folder_of(obj: Any) -> Path:
    """The folder an entry point's object names: a package, a path, or a function returning a path.

    Raises:
        ValueError: `obj` is none of these.

    """
    if isinstance(obj, ModuleType):
        paths = list(getattr(obj, "__path__", []))
        if not paths:
            raise ValueError(f"names the module {obj.__name__}, not a package (a folder of YAML files)")
        return Path(paths[0])
    if callable(obj):
        obj = obj()
    if isinstance(obj, str | os.PathLike):
        return Path(obj)
    raise ValueError(
        f"gives {type(obj).__name__} {obj!r}, not a folder (a path, a package, or a function returning a path)"
    )


def _entry_point_sources(problems: Problems) -> list[Source]:
    """The folders installed packages name under `ENTRY_POINT_GROUP`; what was wrong with one goes to `problems`.

    Finding them reads every installed package's metadata (a few milliseconds, on every
    description): so what was found is kept while every folder on ``sys.path`` stays as it was
    (`_installed_stamp`): installing or removing a package changes its folder.
    """
    stamp = _installed_stamp()
    kept = _SCANNED.get(stamp) if KEEP_SCAN else None
    if kept is None:
        scanned = Problems()
        kept = (tuple(_scan_entry_points(scanned)), tuple(scanned.found))
        _SCANNED.clear()
        _SCANNED[stamp] = kept
    sources, found = kept
    problems.found.extend(found)
    return list(sources)


KEEP_SCAN = True
"""Keep the entry points found while ``sys.path``'s folders are unchanged (tests turn it off to compare)."""
_SCANNED: dict[tuple[tuple[str, int | None], ...], tuple[tuple[Source, ...], tuple[KnowledgeError, ...]]] = {}


def _installed_stamp() -> tuple[tuple[str, int | None], ...]:
    """Each folder (or zip file) on ``sys.path`` with its modification time (None when it is not there)."""
    out: list[tuple[str, int | None]] = []
    for entry in sys.path:
        where = Path(entry or ".").absolute()
        try:
            out.append((str(where), where.stat().st_mtime_ns))
        except (OSError, ValueError):
            out.append((str(where), None))
    return tuple(out)


def _scan_entry_points(problems: Problems) -> list[Source]:
    found = sorted(
        metadata.entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: (ep.dist.name if ep.dist else "", ep.name),
    )
    sources = []
    for ep in found:
        who = f"entry point {ep.name} ({ep.dist.name})" if ep.dist else f"entry point {ep.name}"
        try:
            folder = folder_of(ep.load())
        except Exception as err:  # an installed package's code: any failure is reported, not raised
            problems.add(
                "",
                f"the {ENTRY_POINT_GROUP} {who} = {ep.value!r} cannot be used: {type(err).__name__}: {err}; "
                "fix or uninstall that package",
                "",
            )
            continue
        sources.append(Source(folder, who))
    return sources


def _stamp(sources: Sequence[Source]) -> tuple[tuple[str, int, int], ...]:
    """What the added folders' files are now: a table is read again when one changes."""
    out = []
    for source in sources:
        if source.shipped or not isinstance(source.folder, Path) or not source.folder.is_dir():
            continue
        for path in _yaml_files(source.folder):
            stat = path.stat()
            out.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(out)


@lru_cache(maxsize=8)
def _build(sources: tuple[Source, ...], stamp: object) -> tuple[Knowledge, tuple[KnowledgeError, ...]]:
    del stamp  # part of the cache key only
    problems = Problems()
    raw = _Raw(problems)
    for source in sources:
        raw.read_source(source)
    entries = {}
    for key in raw.data:
        if key.startswith("_"):
            continue
        merged = raw.merged(key)
        if merged is not None:
            origin, shipped = raw.origin[key], raw.shipped[key]
            # the pieces were compiled as each entry was read; merging adds no template
            entry = read_entry(key, merged, problems, origin=origin, shipped=shipped, compile_templates=False)
            if entry is not None:
                entries[key] = entry
    return Knowledge(entries=entries, sources=sources), tuple(problems.found)


class _Raw:
    """The entries of every file as read, before `extends` is merged in."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.data: dict[str, dict[str, Any]] = {}
        self.origin: dict[str, str] = {}
        self.shipped: dict[str, bool] = {}
        self.bad: set[str] = set()
        """Keys whose own fields have problems (already reported; entries built on them are skipped)."""

    def read_source(self, source: Source) -> None:
        folder = source.folder
        if not folder.is_dir():
            self.problems.add("", "is not a folder", source.label)
            return
        for item in _yaml_files(folder):
            if source.shipped and item.name == MESSAGES_FILE:
                continue
            shown = f"modeldoc/knowledge/{item.name}" if source.shipped else _shown(Path(str(item)))
            try:
                content = _shipped_file(item.name) if source.shipped else _yaml(item.read_text(encoding="utf-8"))
            except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
                self.problems.add("", f"cannot be read as YAML ({_first_line(err)})", shown)
                continue
            if content is None:
                continue
            if not isinstance(content, dict):
                self.problems.add("", "must hold a mapping of layer keys to entries", shown)
                continue
            for key, data in content.items():
                self.add(str(key), data, shown, shipped=source.shipped)

    def add(self, key: str, data: Any, origin: str, *, shipped: bool) -> None:
        before = len(self.problems)
        # this entry's own fields; modeldoc's own templates are compiled by its tests, not at every start
        read_entry(key, data, self.problems, origin=origin, shipped=shipped, compile_templates=not shipped)
        if len(self.problems) > before:
            if key not in self.data:
                self.bad.add(key)
            return
        replacing = data.get("replace", False)
        if key in self.data and not replacing:
            self.problems.add(
                key,
                f"is already defined in {self.origin[key]}; add replace: true to replace that entry "
                f"(with extends: {key} to change only some of its fields), or use a key of its own",
                origin,
            )
            return
        if replacing and key not in self.data:
            self.problems.add(key, "says replace: true, but no earlier entry has this key; remove replace", origin)
            self.bad.add(key)
            return
        data = dict(data)
        bases = _bases(data)
        if replacing and key in bases:
            # `extends` of its own key builds on the entry it replaces: keep that one under a private key
            kept = f"_{key} before {origin}"
            self.data[kept], self.origin[kept], self.shipped[kept] = self.data[key], self.origin[key], self.shipped[key]
            data["extends"] = [kept if base == key else base for base in bases]
        self.data[key], self.origin[key], self.shipped[key] = data, origin, shipped

    def merged(self, key: str, seen: tuple[str, ...] = ()) -> dict[str, Any] | None:
        """The entry with its `extends` chain merged in (its own keys win, per arg and param); None on a problem."""
        if key in seen:
            self.problems.add(seen[0], f"extends itself through {' → '.join((*seen, key))}", self.origin[seen[0]])
            return None
        if key in self.bad:
            return None
        if key not in self.data:
            where = seen[-1]
            hint = difflib.get_close_matches(key, [k for k in self.data if not k.startswith("_")], n=1)
            self.problems.add(
                where,
                f"extends unknown entry {key!r}" + (f"; did you mean {hint[0]!r}?" if hint else ""),
                self.origin[where],
            )
            return None
        entry = self.data[key]
        out: dict[str, Any] = {}
        for base in _bases(entry):
            inherited = self.merged(base, (*seen, key))
            if inherited is None:
                return None
            _merge_into(out, {k: v for k, v in inherited.items() if k not in NOT_INHERITED})
        _merge_into(out, {k: v for k, v in entry.items() if k not in LOAD_KEYS})
        return out


def _yaml(text: str) -> Any:
    return yaml.load(text, Loader=YAML_LOADER)


@cache
def _shipped_file(name: str) -> Any:
    """A shipped file's content, parsed once per process (a table is built again for every new set of folders)."""
    return _yaml(resources.files(_PACKAGE).joinpath(name).read_text(encoding="utf-8"))


def _bases(entry: Mapping[str, Any]) -> list[str]:
    bases = entry.get("extends") or []
    return [bases] if isinstance(bases, str) else list(bases)


def _merge_into(out: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for name, value in extra.items():
        if name in ("args", "params", "vars", "let") and isinstance(out.get(name), dict) and value is not None:
            merged = dict(out[name])
            for sub, rule in value.items():
                if rule is None:
                    merged.pop(sub, None)  # `name: null` in a child removes what a base said
                elif isinstance(rule, dict) and isinstance(merged.get(sub), dict):
                    merged[sub] = {**merged[sub], **rule}
                else:
                    merged[sub] = rule
            out[name] = merged
        else:
            out[name] = value


def _yaml_files(folder: Path | Traversable) -> list[Any]:
    return sorted((p for p in folder.iterdir() if p.name.endswith((".yaml", ".yml"))), key=lambda p: p.name)


def _shown(path: Path) -> str:
    """A path as messages show it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def _first_line(err: Exception) -> str:
    return " ".join(str(err).split())
