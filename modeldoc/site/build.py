"""Write the generated docs tree and build it with MkDocs.

Output is written to a temporary folder beside the destination and moved into place only
when the build succeeded, so a failed build leaves no half-written site. modeldoc only ever
replaces a folder it wrote itself (it leaves a marker file in it) or an empty one.
"""

from __future__ import annotations

import errno
import html
import json
import logging
import os
import re
import shutil
import signal
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modeldoc import progress
from modeldoc.errors import ConfigError, ModeldocError, OutputError
from modeldoc.options import SiteOptions, read_pyproject
from modeldoc.pages import layout, render
from modeldoc.pages.weights import PICTURES
from modeldoc.spec import ModelSpec

log = logging.getLogger(__name__)

MARKER = ".modeldoc-output"
"""File that marks a folder as written by modeldoc, so a later build may replace it."""
ASSETS = ("assets/modeldoc.css",)
MARKDOWN_EXTENSIONS = ("admonition", "attr_list", "md_in_html", "tables")
"""The Markdown extensions modeldoc's pages use (notes, heading ids, HTML blocks, tables)."""


@dataclass(frozen=True)
class Built:
    """What a build produced."""

    out: Path
    specs: tuple[ModelSpec, ...]
    pages: int


def write_docs(
    specs: tuple[ModelSpec, ...],
    site: SiteOptions,
    docs_dir: Path,
    *,
    with_index: bool = True,
    directory_urls: bool = True,
    cache: Path | None = None,
) -> tuple[list[Any], int]:
    """Write every model's Markdown pages (and the shared assets) into `docs_dir`.

    Returns the MkDocs nav for them and the number of pages written. The compiled templates are
    kept in the `cache` folder, when there is one.
    """
    env = render.make_env(site.custom_templates)
    if cache is not None:
        from modeldoc.site.compiled import use_compiled_templates

        use_compiled_templates(env, cache)
    nav: list[Any] = []
    count = 0
    entries = []
    for spec, options in zip(specs, site.models, strict=True):
        settings = render.RenderSettings(
            options=options, diagrams=site.diagrams, directory_urls=directory_urls, base=f"{options.slug}/"
        )
        pages = render.render_pages(spec, settings, env)
        for name, text in pages.items():
            _write(docs_dir / options.slug / name, contained(text))
        for name, data in picture_files(spec).items():
            _write_bytes(docs_dir / options.slug / name, data)
        count += len(pages)
        nav.append(nav_entry(spec.title, model_nav(spec, options.slug, options.page_size)))
        entries.append((spec, f"{options.slug}/index.md"))
    for asset in ASSETS:
        _write(docs_dir / asset, asset_text(asset, site.custom_templates))
    if with_index:
        _write(docs_dir / "index.md", render.render_index(entries, site.site_name, env))
        nav.insert(0, nav_entry("Home", "index.md"))
        count += 1
    return nav, count


def asset_text(name: str, custom_templates: Path | None) -> str:
    """A shipped asset, or the user's copy of it from their templates folder."""
    for folder in (custom_templates, render.shipped_templates()):
        if folder is not None and (folder / name).is_file():
            return (folder / name).read_text(encoding="utf-8")
    raise ModeldocError(f"the shipped asset {name} is missing; reinstall modeldoc")


_TAG_START = re.compile(r"&lt;(?=[A-Za-z/!?])")


def theme_text(text: str) -> str:
    """`text` as every string modeldoc hands to MkDocs must be: HTML that shows it as written.

    MkDocs' theme templates do not autoescape: Material prints nav titles, page titles and the
    site name raw, so a ModuleDict key ``<img src=x onerror=...>`` would run. Escaping is not
    quite enough either: Material's ``<title>{{ page.title | striptags }}`` unescapes, and a
    ``</title>`` would then close the element. An invisible word joiner (U+2060) after each
    escaped ``<`` that could open a tag keeps even the unescaped text from being markup.
    """
    return _TAG_START.sub("&lt;\u2060", html.escape(str(text), quote=True))


def plain_text(text: str) -> str:
    """The text a `theme_text` string (or a site name from mkdocs.yml, which is HTML) shows."""
    return html.unescape(text).replace("\u2060", "")


def contained(page: str) -> str:
    """`page`'s Markdown with everything below its first heading in a ``div.modeldoc``.

    The stylesheet styles only what is inside that container, so the host site's own tables
    keep their look; the heading stays outside so that MkDocs still takes the page title from it.
    """
    head, _, body = page.partition("\n")
    if not head.startswith("#"):
        head, body = "", page
    body = body.strip("\n")
    return f'{head}\n\n<div class="modeldoc" markdown="1">\n\n{body}\n\n</div>\n'.lstrip("\n")


def nav_entry(title: str, target: Any) -> dict[str, Any]:
    """One titled entry of an MkDocs nav; the title goes through `theme_text`."""
    return {theme_text(title): target}


def model_nav(spec: ModelSpec, slug: str, page_size: int, prefix: str = "") -> list[Any]:
    """The MkDocs nav of one model's pages, which live in ``{prefix}{slug}/``."""
    pages = layout.plan_pages(spec, page_size)
    by_root = {page.root: page for page in pages}

    def entry(root: str) -> Any:
        page = by_root[root]
        file = f"{prefix}{slug}/{page.file}"
        if not page.subpages:
            return nav_entry(page.title, file) if root else file
        # The page itself gets a title too: without one, MkDocs and the theme take it from the
        # page's heading, past theme_text.
        pages = [nav_entry(page.title, file), *(entry(sub) for sub in page.subpages)]
        return nav_entry(page.title, pages) if root else file

    main = by_root[""]
    return [nav_entry("Overview", entry("")), *(entry(sub) for sub in main.subpages)]


def mkdocs_config(site: SiteOptions, nav: list[Any], docs_dir: Path, site_dir: Path) -> dict[str, Any]:
    """The mkdocs.yml of a standalone site: mkdocs-material, offline-safe, light and dark."""
    return {
        "site_name": theme_text(site.site_name),
        # Absolute: MkDocs reads relative paths from the folder of the mkdocs.yml, not the working one.
        "docs_dir": str(docs_dir.resolve()),
        "site_dir": str(site_dir.resolve()),
        "use_directory_urls": True,
        "nav": nav,
        "theme": {
            "name": "material",
            # Google Fonts would be fetched from the network otherwise.
            "font": False,
            "features": ["navigation.sections", "navigation.top", "search.highlight", "toc.follow"],
            "palette": [
                {
                    "media": "(prefers-color-scheme: light)",
                    "scheme": "default",
                    "toggle": {"icon": "material/weather-night", "name": "Switch to dark mode"},
                },
                {
                    "media": "(prefers-color-scheme: dark)",
                    "scheme": "slate",
                    "toggle": {"icon": "material/weather-sunny", "name": "Switch to light mode"},
                },
            ],
        },
        "plugins": ["search"],
        "markdown_extensions": [*MARKDOWN_EXTENSIONS, {"toc": {"permalink": True}}],
        "extra_css": list(ASSETS),
    }


def build_site(site: SiteOptions, specs: tuple[ModelSpec, ...], cache: Path | None = None) -> Built:
    """Render `specs` and build a complete mkdocs-material site into ``site.out``.

    Compiled templates (modeldoc's and the theme's) are kept in the `cache` folder, when there is one.
    """
    check_destination(site.out)
    with staging(site.out) as stage:
        docs_dir = stage / "docs"
        progress.phase("rendering")
        nav, count = write_docs(specs, site, docs_dir, cache=cache)
        built_dir = stage / "site"
        config = mkdocs_config(site, nav, docs_dir, built_dir)
        with progress.mkdocs_pages("MkDocs: building the site", count):
            run_mkdocs(config, stage / "mkdocs.yml", cache)
        add_search_entries(built_dir, search_entries(specs, site))
        publish(built_dir, site.out)
    return Built(out=site.out, specs=specs, pages=count)


def search_entries(specs: tuple[ModelSpec, ...], site: SiteOptions, prefix: str = "") -> list[dict[str, str]]:
    """The search entries of every model's paths documented on a shared page (see `render.search_entries`)."""
    entries = []
    for spec, options in zip(specs, site.models, strict=True):
        settings = render.RenderSettings(options=options, diagrams=False, base=f"{prefix}{options.slug}/")
        entries += render.search_entries(spec, settings)
    return entries


def add_search_entries(site_dir: Path, entries: list[dict[str, str]]) -> None:
    """Add `entries` to the search index MkDocs wrote into `site_dir` (nothing when there is none)."""
    index = site_dir / "search" / "search_index.json"
    if not entries or not index.is_file():
        return
    data = json.loads(index.read_text(encoding="utf-8"))
    docs = data.get("docs") if isinstance(data, dict) else None
    if not isinstance(docs, list):
        return
    docs.extend(entries)
    index.write_text(json.dumps(data, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")


def write_markdown(
    site: SiteOptions, specs: tuple[ModelSpec, ...], docs_dir: Path, *, directory_urls: bool = True
) -> tuple[Built, list[Any]]:
    """Write plain Markdown + inline SVG pages into `docs_dir`, for any engine that reads mkdocs.yml.

    The pages need no plugin, only the Markdown extensions in `MARKDOWN_EXTENSIONS` and the
    stylesheet written beside them. Returns what was built and the nav of the pages, relative
    to `docs_dir`.
    """
    check_destination(docs_dir)
    with staging(docs_dir) as stage:
        pages = stage / "pages"
        progress.phase("rendering")
        nav, count = write_docs(specs, site, pages, directory_urls=directory_urls)
        publish(pages, docs_dir)
    return Built(out=docs_dir, specs=specs, pages=count), nav


def project_config(root: Path) -> Path | None:
    """The project's mkdocs.yml when it lists the modeldoc plugin (config mode), else None."""
    from mkdocs.utils.yaml import yaml_load

    table = read_pyproject(root / "pyproject.toml") or {}
    path = root / str(table.get("mkdocs_config") or "mkdocs.yml")
    if not path.is_file():
        return None
    try:
        with path.open(encoding="utf-8") as fd:
            data = yaml_load(fd)
    except Exception as err:  # MkDocs' loader raises YAML and its own errors alike
        raise ConfigError(f"{path} cannot be read ({' '.join(str(err).split())})", "fix its YAML syntax") from err
    plugins = data.get("plugins") if isinstance(data, dict) else None
    if isinstance(plugins, dict):
        names = list(plugins)
    elif isinstance(plugins, list):
        names = [next(iter(p), "") if isinstance(p, dict) else p for p in plugins]
    else:
        names = []
    return path if "modeldoc" in names else None


def build_project(
    config_file: Path,
    *,
    out: Path | None = None,
    site_name: str = "",
    custom_templates: Path | None = None,
    diagrams: bool = True,
    strict: bool = False,
    cache: bool = True,
) -> Built:
    """Build a project's own mkdocs.yml (which uses the modeldoc plugin) into `out`.

    `out` defaults to the config's ``site_dir``; the same ownership rules as a standalone
    build apply, and the other arguments override the config and the plugin's options
    (`strict` turns MkDocs' strict mode on: warnings fail the build; `cache=False` turns the
    plugin's saved descriptions off, whatever the config says).
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    problems = _Problems()
    logging.getLogger("mkdocs").addHandler(problems)
    try:
        cfg = load_config(
            config_file=str(config_file),
            site_name=theme_text(site_name) if site_name else None,
            strict=strict or None,
        )
        target = out or Path(cfg.site_dir)
        check_destination(target)
        plugin = cfg.plugins["modeldoc"]
        plugin.config.diagrams = diagrams
        plugin.config.cache = plugin.config.cache and cache
        if custom_templates is not None:
            plugin.config.custom_templates = str(custom_templates.resolve())
        with staging(target) as stage:
            cfg.site_dir = str(stage / "site")
            with progress.mkdocs_pages(f"MkDocs: building {config_file.name}"):
                build(cfg)
            built_dir = Path(cfg.site_dir)
            pages = sum(1 for page in built_dir.rglob("*.html") if page.name != "404.html")
            publish(built_dir, target)
    except (MkDocsException, SystemExit) as err:  # MkDocs exits on config errors
        text = f"MkDocs could not build {config_file}: {problems.first or err}"
        raise (_ConfigProblem if _caused_by(err, ConfigError) else ModeldocError)(text) from err
    finally:
        logging.getLogger("mkdocs").removeHandler(problems)
    return Built(out=target, specs=(), pages=pages)


class _ConfigProblem(ConfigError):
    """A malformed option met inside a MkDocs build (a ``:::`` block's): still exit code 2."""

    def __init__(self, text: str) -> None:
        ModeldocError.__init__(self, text)


class _Problems(logging.Handler):
    """Remembers the first error (or warning) MkDocs logs, for a one-line message."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        (self.errors if record.levelno >= logging.ERROR else self.warnings).append(record.getMessage())

    @property
    def first(self) -> str:
        found = self.errors or self.warnings
        if not found:
            return ""
        # MkDocs logs "Error reading page 'x.md':" and the reason as the next message.
        first = found[0] if not found[0].endswith(":") or len(found) < 2 else f"{found[0]} {found[1]}"
        return " ".join(first.split())


def _caused_by(err: BaseException, kind: type[BaseException]) -> bool:
    """True when `err` or any exception it was raised from or during is a `kind`."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [err]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        stack += [current.__cause__, current.__context__]
    return False


def run_mkdocs(config: Mapping[str, Any], config_file: Path, cache: Path | None = None) -> None:
    """Run a real MkDocs build of `config` (written to `config_file`), strict.

    The theme's compiled templates are kept in the `cache` folder, when there is one.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    config_file.write_text(yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), encoding="utf-8")
    try:
        cfg = load_config(config_file=str(config_file), strict=True)
        if cache is not None:
            cfg.plugins["modeldoc-templates"] = _compiled_templates_plugin(cache)
        build(cfg)
    except MkDocsException as err:
        raise ModeldocError(f"MkDocs could not build the site: {err}") from err
    except SystemExit as err:  # MkDocs exits on config errors
        raise ModeldocError(f"MkDocs could not build the site (exit {err.code}); see the messages above") from err


def _compiled_templates_plugin(cache: Path) -> Any:
    """A MkDocs plugin that keeps the theme's compiled templates in `cache` (see `compiled.use_compiled_templates`)."""
    from mkdocs.plugins import BasePlugin

    from modeldoc.site.compiled import use_compiled_templates

    class CompiledTemplates(BasePlugin):  # type: ignore[type-arg]
        def on_env(self, env: Any, *, config: Any, files: Any) -> Any:
            use_compiled_templates(env, cache)
            return env

    return CompiledTemplates()


def check_destination(out: Path) -> None:
    """Refuse to write over a folder modeldoc did not create, or where nothing can be written.

    Checked before any work is done, so that a wrong ``--out`` fails at once, and again just
    before the finished build replaces the folder.
    """
    try:
        _check_names(out)
        _check_folder(out)
    except OSError as err:  # a path the file system will not even look up
        raise write_error(out, err) from err


def _check_names(out: Path) -> None:
    """Every name in `out` fits the file system it would be created on."""
    parent = Path(out.anchor)
    parts = out.parts[1:]
    for i, part in enumerate(parts):
        name_max = _limit(parent, "PC_NAME_MAX", 255)
        too_long = [p for p in parts[i:] if len(os.fsencode(p)) > name_max]
        if too_long:
            raise OutputError(
                f"cannot create {_short(out)}: the name {_short(Path(too_long[0]))} has "
                f"{len(os.fsencode(too_long[0]))} bytes and the file system allows {name_max}",
                "choose a shorter --out",
            )
        if not (parent / part).is_dir():
            return
        parent = parent / part


def _check_folder(out: Path) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{out} exists and is not a folder", "choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise OutputError(
            f"{out} already holds files that modeldoc did not write",
            "choose another --out, or empty that folder yourself",
        )
    existing = out
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        existing = existing.parent
    if existing != out and not existing.is_dir():
        raise OutputError(f"cannot create {out}: {existing} is a file, not a folder", "choose another --out")
    folder = out.parent if existing == out else existing  # where the staging folder will be made
    stat = os.statvfs(folder)
    if stat.f_flag & os.ST_RDONLY:
        raise OutputError(f"cannot write in {folder}: it is on a read-only file system", "choose another --out")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write in {folder}: permission denied", "choose another --out")
    if stat.f_bavail == 0:
        raise OutputError(f"cannot write in {folder}: the disk is full", "free some space or choose another --out")


def _limit(folder: Path, name: str, default: int) -> int:
    try:
        return os.pathconf(folder, name)
    except (OSError, ValueError):
        return default


def _short(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 80 else f"{text[:40]}...{text[-20:]}"


STAGING_MARKER = ".modeldoc-staging"
"""File in every staging folder, so that a later build knows a stale one as modeldoc's own."""
_STAGING = re.compile(r"^\.(?P<name>.*)\.modeldoc-(?P<pid>[0-9]+)-")


def _staging_prefix(out: Path) -> str:
    # Kept short so that the staging name still fits where a long --out name does.
    return f".{out.name[:100]}.modeldoc-{os.getpid()}-"


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out`, removed whatever happens (a SIGTERM included).

    Folders created for `out`'s parent are removed again when the build fails. Staging
    folders of earlier builds into `out` whose process is gone (killed with SIGKILL) are
    removed first. An OSError while writing becomes an `OutputError` that names the fix.
    """
    created = _make_folder(out.parent, out)
    stage: Path | None = None
    try:
        remove_stale(out)
        stage = Path(tempfile.mkdtemp(prefix=_staging_prefix(out), dir=out.parent))
        (stage / STAGING_MARKER).write_text("a modeldoc build in progress; removed when it ends\n")
        yield stage
    except OSError as err:
        if not _writing(err, out):
            raise
        raise write_error(out, err) from err
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
        for folder in reversed(created):
            try:
                folder.rmdir()  # only empty ones: after a successful build the site is inside
            except OSError:
                break


def _make_folder(folder: Path, out: Path) -> list[Path]:
    """Create `folder` and its missing parents; return the ones created, outermost first."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    created: list[Path] = []
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        except OSError as err:
            for made in reversed(created):
                made.rmdir()
            raise write_error(out, err) from err
        created.append(path)
    return created


def remove_stale(out: Path) -> list[Path]:
    """Remove the staging folders of builds into `out` whose process no longer runs."""
    removed = []
    prefix = out.name[:100]
    for entry in out.parent.iterdir():
        match = _STAGING.match(entry.name)
        if match is None or match["name"] != prefix or not entry.is_dir() or entry.is_symlink():
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or _alive(pid):
            continue
        if not ((entry / STAGING_MARKER).is_file() or (entry / MARKER).is_file()):
            continue  # not one of ours after all
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


_WRITE_FIXES = {
    errno.ENOSPC: "the disk is full; free some space or choose another --out",
    errno.EDQUOT: "the disk quota is used up; free some space or choose another --out",
    errno.EROFS: "the file system is read-only; choose another --out",
    errno.EACCES: "permission denied; choose another --out",
    errno.EPERM: "permission denied; choose another --out",
    errno.ENAMETOOLONG: "a name is too long for the file system; choose a shorter --out",
    errno.ENOTDIR: "part of the path is a file, not a folder; choose another --out",
}


def _writing(err: OSError, out: Path) -> bool:
    """True when `err` came from writing the output (not, say, from reading a template)."""
    filenames = [name for name in (err.filename, err.filename2) if name is not None]
    inside = [os.fspath(name).startswith(os.fspath(out.parent)) for name in filenames]
    return err.errno in _WRITE_FIXES and (not filenames or any(inside))


def write_error(out: Path, err: OSError) -> OutputError:
    """An OSError met while writing the output for `out`, as one line that says what to do."""
    fix = _WRITE_FIXES.get(err.errno or 0, f"{err.strerror or err}; choose another --out")
    what, _, how = fix.partition("; ")
    return OutputError(f"cannot write {_short(out)}: {what}", how or "choose another --out")


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGTERM, SIGINT and SIGHUP for a moment that must not be cut in two."""
    held = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def publish(built: Path, out: Path) -> None:
    """Mark a finished build as modeldoc's and move it into `out`, replacing the previous one.

    The two renames happen with termination signals held, so the previous site is either
    still in place or replaced, never gone.
    """
    (built / MARKER).write_text("written by modeldoc; the next build replaces this folder\n")
    check_destination(out)
    old = None
    with _signals_held():
        if out.exists():
            old = out.with_name(f"{_staging_prefix(out)}old")
            out.rename(old)
        try:
            built.rename(out)
        except OSError:
            if old is not None:
                old.rename(out)
            raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def picture_files(spec: ModelSpec) -> dict[str, bytes]:
    """The pictures of a model's weights, by file path relative to the model's folder of pages."""
    return {f"{PICTURES}/{picture.file}": picture.data for picture in spec.pictures}


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
