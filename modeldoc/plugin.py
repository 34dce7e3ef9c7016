"""The MkDocs plugin: ``plugins: [search, modeldoc]``.

It does two things, both through MkDocs' own machinery (nothing is written into ``docs/``):

- a ``::: modeldoc pkg.models:Net`` line, with options as indented YAML below it, is replaced by
  that model's documentation, rendered in place (fenced code is left alone);
- the models listed in the plugin's ``models:`` (or, when that is left out, in pyproject.toml's
  ``[tool.modeldoc]``) get whole generated pages, added to the nav under one section.

Every entry is validated twice: its shape by MkDocs' ``config_options``, its meaning by
:func:`modeldoc.options.model_options`, the same function the CLI uses.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files, file_sort_key
from mkdocs.utils import nest_paths

from modeldoc import options as opts
from modeldoc import progress
from modeldoc.errors import ConfigError, ModeldocError
from modeldoc.site import MARKDOWN_EXTENSIONS

if TYPE_CHECKING:
    from jinja2 import Environment
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.livereload import LiveReloadServer
    from mkdocs.structure.pages import Page

    from modeldoc.spec import ModelSpec

log = logging.getLogger("mkdocs.plugins.modeldoc")

ASSET = "assets/modeldoc.css"
"""The stylesheet every page with modeldoc content needs."""
BLOCK_ONLY_KEYS = ("heading_level",)

_BLOCK = re.compile(r"^::: modeldoc(?:[ \t]+(?P<target>\S+))?[ \t]*$")
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")

_LOADED_SOURCES: dict[Path, float] = {}
"""Model source files imported so far and their modification times when they were imported.

Module state on purpose: MkDocs builds a fresh config (and may build a fresh plugin) for every
rebuild of ``mkdocs serve``, while Python keeps the imported modules.
"""


class ModelEntry(base.Config):
    """One entry of ``models:``; every key is optional here and defaulted in `modeldoc.options`."""

    target = c.Type(str)
    kwargs = c.Optional(c.Type(dict))
    input_shape = c.Optional(c.Type((list, str)))
    input_shapes = c.Optional(c.Type(list))
    input_dtype = c.Optional(c.Type((str, list)))
    inputs = c.Optional(c.Type(list))
    example = c.Optional(c.Type(str))
    probe_device = c.Optional(c.Choice(opts.PROBE_DEVICES))
    title = c.Optional(c.Type(str))
    slug = c.Optional(c.Type(str))
    depth = c.Optional(c.Type(int))
    sections = c.Optional(c.ListOfItems(c.Choice(opts.SECTIONS)))
    page_size = c.Optional(c.Type(int))


class ModeldocConfig(base.Config):
    """The plugin's options in mkdocs.yml."""

    models = c.Optional(c.ListOfItems(c.SubConfig(ModelEntry)))
    """Models that get whole pages; left out, pyproject.toml's ``[tool.modeldoc]`` models do."""
    custom_templates = c.Optional(c.Dir(exists=True))
    """A folder of templates searched before the shipped ones."""
    diagrams = c.Type(bool, default=True)
    """Draw the Graphviz diagrams (needs ``dot``)."""
    folder = c.Type(str, default="models")
    """Folder (URL prefix) of the generated pages; ``""`` puts them at the root."""
    nav_section = c.Type(str, default="Models")
    """Title of the nav section that holds the generated pages; ``""`` adds them at the top level."""


@dataclasses.dataclass(frozen=True)
class _Described:
    spec: ModelSpec
    source: Path | None


class ModeldocPlugin(BasePlugin[ModeldocConfig]):
    """Document PyTorch models inside any MkDocs site."""

    def __init__(self) -> None:
        self._models: tuple[opts.ModelOptions, ...] = ()
        self._cache: dict[str, _Described] = {}
        self._env: Environment | None = None
        self._server: LiveReloadServer | None = None

    # MkDocs keeps a plugin that has on_startup across `mkdocs serve` rebuilds, so the
    # server it was handed can watch model files first met in a later build.
    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Nothing to set up; defined so that the instance lives across rebuilds."""

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        """Validate the models, and make sure the Markdown features the pages use are on."""
        from modeldoc import render

        _forget_changed_sources()
        self._cache = {}
        try:
            self._models = self._configured_models(config)
        except ModeldocError as err:
            raise PluginError(str(err)) from err
        self._env = render.make_env(_path(self.config.custom_templates))
        names = {str(ext).rsplit(".", 1)[-1] for ext in config.markdown_extensions}
        config.markdown_extensions.extend(ext for ext in MARKDOWN_EXTENSIONS if ext not in names)
        if ASSET not in config.extra_css:
            config.extra_css.append(ASSET)
        return config

    def _configured_models(self, config: MkDocsConfig) -> tuple[opts.ModelOptions, ...]:
        entries = [{k: v for k, v in entry.items() if v is not None} for entry in self.config.models or []]
        where = "plugins.modeldoc.models in mkdocs.yml"
        if self.config.models is None:
            root = Path(config.config_file_path or ".").resolve().parent
            table = opts.read_pyproject(root / "pyproject.toml")
            found = (table or {}).get("models") or []
            where = f"[tool.modeldoc] models in {root / 'pyproject.toml'}"
            if not isinstance(found, list):
                raise ConfigError(f"{where} is not a list", "write [[tool.modeldoc.models]] tables")
            entries = found
        return opts.unique_slugs(opts.model_options(e, where=f"{where}, entry {i}") for i, e in enumerate(entries))

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        """Add the stylesheet and every configured model's pages as generated files, and nav them."""
        from modeldoc import render, site

        folder = self.config.folder.strip("/")
        prefix = f"{folder}/" if folder else ""
        try:
            if files.get_file_from_path(ASSET) is None:
                text = site.asset_text(ASSET, _path(self.config.custom_templates))
                files.append(File.generated(config, ASSET, content=text))
            if not self._models:
                return files
            ours: list[str] = []
            entries = []
            model_navs: list[Any] = []
            for options in self._models:
                spec = self._describe(options)
                progress.phase(f"rendering {options.target}")
                settings = render.RenderSettings(
                    options=options,
                    diagrams=self.config.diagrams,
                    base=f"{prefix}{options.slug}/",
                    directory_urls=config.use_directory_urls,
                )
                for name, text in render.render_pages(spec, settings, self._environment()).items():
                    uri = f"{prefix}{options.slug}/{name}"
                    if files.get_file_from_path(uri) is not None:
                        raise ConfigError(
                            f"the docs already hold {uri}, where modeldoc would generate {options.target}'s page",
                            "rename or move that file, or set the plugin's folder: option to another folder",
                        )
                    files.append(File.generated(config, uri, content=text))
                    ours.append(uri)
                entries.append((spec, f"{options.slug}/index.md"))
                model_navs.append({spec.title: site.model_nav(spec, options.slug, options.page_size, prefix)})
        except ModeldocError as err:
            raise PluginError(str(err)) from err
        index = f"{prefix}index.md"
        if files.get_file_from_path(index) is None:
            title = self.config.nav_section or config.site_name
            files.append(
                File.generated(config, index, content=render.render_index(entries, title, self._environment()))
            )
            ours.append(index)
        self._add_to_nav(config, files, [{"Home": index} if not prefix else index, *model_navs], set(ours))
        return files

    def _add_to_nav(self, config: MkDocsConfig, files: Files, section: list[Any], ours: set[str]) -> None:
        if config.nav is None:
            # MkDocs would build the nav from the files; do the same for the user's pages, then
            # add ours as one section instead of as a folder tree.
            pages = sorted((f for f in files.documentation_pages() if f.src_uri not in ours), key=file_sort_key)
            config.nav = nest_paths(f.src_uri for f in pages if f.inclusion.is_in_nav())
        elif _mentions(config.nav, ours):
            return  # the user placed the generated pages in their nav themselves
        if self.config.nav_section:
            config.nav.append({self.config.nav_section: section})
        else:
            config.nav.extend(section)

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Replace each ``::: modeldoc`` block with the model's documentation."""
        if "::: modeldoc" not in markdown:
            return markdown
        try:
            return "".join(self._expand(markdown, page.file.src_uri, config))
        except ModeldocError as err:
            raise PluginError(str(err)) from err

    def _expand(self, markdown: str, src_uri: str, config: MkDocsConfig) -> Iterator[str]:
        lines = markdown.splitlines(keepends=True)
        fence = ""
        blocks = 0
        i = 0
        while i < len(lines):
            line = lines[i]
            found = _FENCE.match(line)
            if fence:
                if found and found["fence"].startswith(fence) and not line.strip().strip(fence[0]):
                    fence = ""  # a closing fence: the same character, at least as long, nothing else
            elif found:
                fence = found["fence"]
            elif match := _BLOCK.match(line.rstrip("\r\n")):
                end = i + 1
                # Like mkdocstrings: the options are the indented lines right below, up to a blank line.
                while end < len(lines) and lines[end][:1] in (" ", "\t") and lines[end].strip():
                    end += 1
                where = f"the ::: modeldoc block on line {i + 1} of {src_uri}"
                try:
                    # The second and later models on a page get their own section ids.
                    prefix = f"m{blocks + 1}-" if blocks else ""
                    yield self._render_block(match["target"], "".join(lines[i + 1 : end]), where, config, prefix)
                    blocks += 1
                except ModeldocError as err:
                    if where in str(err):
                        raise
                    raise ModeldocError(f"{where}: {err}") from err
                i = end
                continue
            yield line
            i += 1

    def _render_block(
        self, target: str | None, options_text: str, where: str, config: MkDocsConfig, anchor_prefix: str
    ) -> str:
        from modeldoc import render

        entry = _block_options(options_text, where)
        if target:
            entry["target"] = target
        heading_level = entry.pop("heading_level", 2)
        if isinstance(heading_level, bool) or not isinstance(heading_level, int) or not 1 <= heading_level <= 6:
            raise ConfigError(f"heading_level in {where} is {heading_level!r}", "give a whole number from 1 to 6")
        options = opts.model_options(entry, where=where)
        settings = render.RenderSettings(
            options=options,
            diagrams=self.config.diagrams,
            directory_urls=config.use_directory_urls,
            single_page=True,
            heading_level=heading_level,
            anchor_prefix=anchor_prefix,
        )
        text = render.render_pages(self._describe(options), settings, self._environment())["index.md"]
        return "\n" + text.strip("\n") + "\n\n"

    def _describe(self, options: opts.ModelOptions) -> ModelSpec:
        """The model's description, collected once per build whatever asks for it."""
        # Only the target, its arguments and inputs change what is collected.
        key = repr(dataclasses.replace(options, title="", slug="", depth=1, sections=(), page_size=1))
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = _collect(options)
            for warning in found.spec.warnings:
                log.warning(f"{options.target}: {warning}")
            if found.source is not None and self._server is not None:
                self._server.watch(str(found.source), recursive=False)
        return dataclasses.replace(found.spec, title=options.title or found.spec.title)

    def _environment(self) -> Environment:
        from modeldoc import render

        if self._env is None:
            self._env = render.make_env(_path(self.config.custom_templates))
        return self._env

    def on_serve(self, server: LiveReloadServer, *, config: MkDocsConfig, builder: Any) -> LiveReloadServer:
        """Rebuild when a documented model's source file or a custom template changes."""
        self._server = server
        for described in self._cache.values():
            if described.source is not None:
                server.watch(str(described.source), recursive=False)
        if self.config.custom_templates:
            server.watch(self.config.custom_templates)
        return server

    @property
    def models(self) -> tuple[opts.ModelOptions, ...]:
        """The validated models that get whole pages in this build."""
        return self._models


def _collect(options: opts.ModelOptions) -> _Described:
    from modeldoc import pipeline

    spec, source = pipeline.describe_with_source(options)
    if source is not None:
        _LOADED_SOURCES[source] = source.stat().st_mtime
    return _Described(spec, source)


def _forget_changed_sources() -> None:
    """Drop imported model modules whose file changed, so this build imports them afresh."""
    for source, mtime in list(_LOADED_SOURCES.items()):
        if source.is_file() and source.stat().st_mtime == mtime:
            continue
        del _LOADED_SOURCES[source]
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None)
            if file and Path(file).resolve() == source:
                del sys.modules[name]


def _block_options(text: str, where: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    try:
        data = yaml.safe_load(textwrap.dedent(text))
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())
        raise ConfigError(
            f"the options of {where} are not valid YAML ({problem})", "indent them as key: value lines"
        ) from err
    if not isinstance(data, dict):
        raise ConfigError(f"the options of {where} are not key: value pairs", "write them as indented key: value lines")
    return data


def _mentions(nav: Any, ours: set[str]) -> bool:
    """True when the user's nav already lists one of the generated pages."""
    if isinstance(nav, str):
        return nav in ours
    if isinstance(nav, dict):
        return any(_mentions(v, ours) for v in nav.values())
    if isinstance(nav, list):
        return any(_mentions(v, ours) for v in nav)
    return False


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None
