"""Write the generated docs tree and build it with MkDocs.

Output is written to a temporary folder beside the destination and moved into place only
when the build succeeded, so a failed build leaves no half-written site. modeldoc only ever
replaces a folder it wrote itself (it leaves a marker file in it) or an empty one.
"""

from __future__ import annotations

import html
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from modeldoc import layout, render
from modeldoc.errors import ConfigError, ModeldocError, OutputError
from modeldoc.options import SiteOptions, read_pyproject
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
) -> tuple[list[Any], int]:
    """Write every model's Markdown pages (and the shared assets) into `docs_dir`.

    Returns the MkDocs nav for them and the number of pages written.
    """
    env = render.make_env(site.custom_templates)
    nav: list[Any] = []
    count = 0
    entries = []
    for spec, options in zip(specs, site.models, strict=True):
        settings = render.RenderSettings(options=options, diagrams=site.diagrams, directory_urls=directory_urls)
        pages = render.render_pages(spec, settings, env)
        for name, text in pages.items():
            _write(docs_dir / options.slug / name, contained(text))
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
        return nav_entry(page.title, [file, *(entry(sub) for sub in page.subpages)]) if root else file

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


def build_site(site: SiteOptions, specs: tuple[ModelSpec, ...]) -> Built:
    """Render `specs` and build a complete mkdocs-material site into ``site.out``."""
    check_destination(site.out)
    with staging(site.out) as stage:
        docs_dir = stage / "docs"
        nav, count = write_docs(specs, site, docs_dir)
        built_dir = stage / "site"
        config = mkdocs_config(site, nav, docs_dir, built_dir)
        run_mkdocs(config, stage / "mkdocs.yml")
        publish(built_dir, site.out)
    return Built(out=site.out, specs=specs, pages=count)


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
) -> Built:
    """Build a project's own mkdocs.yml (which uses the modeldoc plugin) into `out`.

    `out` defaults to the config's ``site_dir``; the same ownership rules as a standalone
    build apply, and the other arguments override the config and the plugin's options.
    """
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    problems = _Problems()
    logging.getLogger("mkdocs").addHandler(problems)
    try:
        cfg = load_config(config_file=str(config_file), site_name=theme_text(site_name) if site_name else None)
        target = out or Path(cfg.site_dir)
        check_destination(target)
        plugin = cfg.plugins["modeldoc"]
        plugin.config.diagrams = diagrams
        if custom_templates is not None:
            plugin.config.custom_templates = str(custom_templates.resolve())
        with staging(target) as stage:
            cfg.site_dir = str(stage / "site")
            build(cfg)
            built_dir = Path(cfg.site_dir)
            pages = sum(1 for page in built_dir.rglob("*.html") if page.name != "404.html")
            publish(built_dir, target)
    except (MkDocsException, SystemExit) as err:  # MkDocs exits on config errors
        cause = problems.first or str(err)
        raise ModeldocError(f"MkDocs could not build {config_file}: {cause}") from err
    finally:
        logging.getLogger("mkdocs").removeHandler(problems)
    return Built(out=target, specs=(), pages=pages)


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
        return " ".join(found[0].split()) if found else ""


def run_mkdocs(config: Mapping[str, Any], config_file: Path) -> None:
    """Run a real MkDocs build of `config` (written to `config_file`), strict."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    config_file.write_text(yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True), encoding="utf-8")
    try:
        cfg = load_config(config_file=str(config_file), strict=True)
        build(cfg)
    except MkDocsException as err:
        raise ModeldocError(f"MkDocs could not build the site: {err}") from err
    except SystemExit as err:  # MkDocs exits on config errors
        raise ModeldocError(f"MkDocs could not build the site (exit {err.code}); see the messages above") from err


def check_destination(out: Path) -> None:
    """Refuse to write over a folder modeldoc did not create."""
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise OutputError(f"{out} exists and is not a folder", "choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise OutputError(
            f"{out} already holds files that modeldoc did not write",
            "choose another --out, or empty that folder yourself",
        )


@contextmanager
def staging(out: Path) -> Iterator[Path]:
    """A temporary folder beside `out`, removed whatever happens."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.modeldoc-", dir=out.parent))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def publish(built: Path, out: Path) -> None:
    """Mark a finished build as modeldoc's and move it into `out`, replacing the previous one."""
    (built / MARKER).write_text("written by modeldoc; the next build replaces this folder\n")
    check_destination(out)
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.modeldoc-old-{os.getpid()}")
        out.rename(old)
    built.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
