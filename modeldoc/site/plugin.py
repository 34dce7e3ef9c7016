"""The MkDocs plugin: ``plugins: [search, modeldoc]``.

It does two things, both through MkDocs' own machinery (nothing is written into ``docs/``):

- a ``::: modeldoc pkg.models:Net`` line, with options as indented YAML below it, is replaced by
  that model's documentation, rendered in place, also inside admonitions, content tabs and list
  items (fenced code and HTML comments are left alone);
- the models listed in the plugin's ``models:`` (or, when that is left out, in pyproject.toml's
  ``[tool.modeldoc]``) get whole generated pages, added to the nav under one section.

Every entry is validated twice: its shape by MkDocs' ``config_options``, its meaning by
:func:`modeldoc.options.model_options`, the same function the CLI uses.

A block is rendered where its line is known (so errors and warnings name the page and line)
and left in the page as a placeholder line at the block's indentation. A Markdown block
processor swaps the placeholder for the rendered Markdown while Python-Markdown parses the
page, so it lands inside whatever container (admonition, tab, list item) holds it. A
placeholder that no block processor met (inside raw HTML, say) is reported, never left silently.
"""

from __future__ import annotations

import dataclasses
import html
import logging
import re
import secrets
import textwrap
import traceback
import xml.etree.ElementTree as etree
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from markdown import Extension, Markdown
from markdown.blockparser import BlockParser
from markdown.blockprocessors import BlockProcessor
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.exceptions import PluginError
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files, file_sort_key
from mkdocs.utils import nest_paths

from modeldoc import options as opts
from modeldoc import progress
from modeldoc.errors import ConfigError, ModeldocError
from modeldoc.site import sources
from modeldoc.site.build import MARKDOWN_EXTENSIONS, MARKER
from modeldoc.spec import is_description_file

if TYPE_CHECKING:
    from jinja2 import Environment
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.livereload import LiveReloadServer
    from mkdocs.structure.pages import Page

    from modeldoc.pages.render import RenderSettings
    from modeldoc.spec import ModelSpec

log = logging.getLogger("mkdocs.plugins.modeldoc")

ASSET = "assets/modeldoc.css"
"""The stylesheet every page with modeldoc content needs."""
BLOCK_ONLY_KEYS = ("heading_level",)

_BLOCK = re.compile(r"^(?P<indent>[ \t]*)::: modeldoc(?:[ \t]+(?P<target>\S+))?[ \t]*$")
_DIFF_BLOCK = re.compile(r"^(?P<indent>[ \t]*)::: modeldoc-diff[ \t]+(?P<old>\S+)[ \t]+(?P<new>\S+)[ \t]*$")
"""``::: modeldoc-diff OLD NEW``: what changed between two models, as a section of the page."""
_DIFF_MALFORMED = re.compile(r"^(?P<indent>[ \t]*)::: modeldoc-diff\b")
"""A ``::: modeldoc-diff`` line without exactly two models: an error, never left as text."""
_STRAY = re.compile(r"^[ \t]*(?:[>|*+-]|\d+[.)])[ \t>|*+\-.)\d]*::: modeldoc\b")
"""A block behind a quote, table or list marker, where it cannot be expanded."""
_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+).+?\1")

_DESCRIBED: dict[str, _Described] = {}
"""Descriptions kept across the builds of one process, keyed by what was described.

Module state on purpose: ``mkdocs serve`` loads a fresh config for every rebuild while Python
keeps the imported modules. A description is reused while the user's source files it rests on
are unchanged; a docs-only edit of a big model then rebuilds in the time MkDocs takes.
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
    probe_timeout = c.Optional(c.Type((int, float)))
    probe_memory = c.Optional(c.Type((int, float, str)))


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
    paths = c.ListOfItems(c.Dir(exists=True), default=[])
    """Folders (relative to mkdocs.yml) put on ``sys.path`` while the targets are imported."""
    knowledge = c.Optional(c.Type((str, list)))
    """A folder or a list of folders of knowledge entries (relative to mkdocs.yml, or installed packages'
    names); left out, pyproject.toml's ``[tool.modeldoc]`` knowledge next to mkdocs.yml."""
    cache = c.Type(bool, default=True)
    """Save each model's description in modeldoc's cache folder and reuse it while the model is unchanged."""
    cache_dir = c.Optional(c.Type(str))
    """The cache folder (relative to mkdocs.yml); left out, modeldoc's own (``~/.cache/modeldoc``, or
    ``$MODELDOC_CACHE_DIR``)."""


@dataclasses.dataclass(frozen=True)
class _Described:
    spec: ModelSpec
    sources: sources.Sources
    pages: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)
    """Rendered pages, by render settings and templates; they go when the description goes."""


@dataclasses.dataclass
class _Block:
    """A rendered ``:::`` block waiting for its placeholder to be met."""

    markdown: str
    where: str
    """``docs/page.md:12``"""
    original: str
    expanded: bool = False


class ModeldocPlugin(BasePlugin[ModeldocConfig]):
    """Document PyTorch models inside any MkDocs site."""

    def __init__(self) -> None:
        self._models: tuple[opts.ModelOptions, ...] = ()
        self._env: Environment | None = None
        self._server: LiveReloadServer | None = None
        self._command = ""
        self._dirty = False
        self._mark_site = False
        self._used: set[str] = set()
        self._blocks: dict[str, _Block] = {}
        self._nonce = secrets.token_hex(6)
        self._templates_stamp = ""
        self._knowledge: tuple[Path, ...] = ()
        self._search: list[dict[str, str]] = []
        """Search entries of the paths documented on shared pages, added to the index after the build."""
        self._root = Path.cwd()
        """The folder of mkdocs.yml."""

    def on_startup(self, *, command: str, dirty: bool) -> None:
        """Remember how MkDocs runs; defining this also keeps the instance across `mkdocs serve` rebuilds.

        So the server it was handed can watch model files first met in a later build.
        """
        self._command = command
        self._dirty = dirty

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        """Validate the models, and make sure the Markdown features the pages use are on."""
        self._root = Path(config.config_file_path or ".").resolve().parent

        _forget_stale_descriptions()
        self._used = set()
        self._blocks = {}
        self._search = []
        try:
            self._knowledge = self._knowledge_folders(config)
            self._models = self._configured_models(config)
        except ModeldocError as err:
            raise PluginError(str(err)) from err
        self._env = self._make_env()
        self._templates_stamp = sources.folder_digest(_path(self.config.custom_templates))
        names = {str(ext).rsplit(".", 1)[-1] for ext in config.markdown_extensions}
        config.markdown_extensions.extend(ext for ext in MARKDOWN_EXTENSIONS if ext not in names)
        config.markdown_extensions.append(_BlockExtension(self._blocks))  # type: ignore[arg-type]
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

    def _knowledge_folders(self, config: MkDocsConfig) -> tuple[Path, ...]:
        root = Path(config.config_file_path or ".").resolve().parent
        if self.config.knowledge is not None:
            where = "plugins.modeldoc.knowledge in mkdocs.yml"
            return opts.knowledge_folders(self.config.knowledge, where=where, base=root)
        table = opts.read_pyproject(root / "pyproject.toml") or {}
        return opts.knowledge_folders(table.get("knowledge"), where=str(root / "pyproject.toml"), base=root)

    def on_pre_build(self, *, config: MkDocsConfig) -> None:
        """Decide whether the finished site may carry modeldoc's marker (see `on_post_build`)."""
        self._mark_site = self._command != "serve" and _only_mkdocs_will_be_left(Path(config.site_dir), self._dirty)

    @event_priority(-100)  # after the search plugin has written its index
    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Add the search entries of the paths documented on shared pages; mark the site as modeldoc's.

        The marker lets ``modeldoc build`` replace the site later, and is written only when
        everything in it is what this build wrote: MkDocs empties the folder before building,
        except for hidden entries, so a folder with hidden entries of someone else's (a ``.git``
        of a gh-pages checkout) stays unmarked, and modeldoc keeps refusing it.
        """
        from modeldoc.site import build as site

        site.add_search_entries(Path(config.site_dir), self._search)
        if self._mark_site:
            (Path(config.site_dir) / MARKER).write_text("written by MkDocs with modeldoc; modeldoc may replace it\n")

    def on_files(self, files: Files, config: MkDocsConfig) -> Files:
        """Add the stylesheet and every configured model's pages as generated files, and nav them."""
        from modeldoc.pages import render
        from modeldoc.site import build as site

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
                progress.phase(f"rendering {options.target}")
                settings = render.RenderSettings(
                    options=options,
                    diagrams=self.config.diagrams,
                    base=f"{prefix}{options.slug}/",
                    directory_urls=config.use_directory_urls,
                )
                spec, pages = self._render(settings)
                self._search += render.search_entries(spec, settings)
                for warning in spec.warnings:
                    log.warning(f"{options.target}: {warning}")
                for name, text in pages.items():
                    uri = f"{prefix}{options.slug}/{name}"
                    if files.get_file_from_path(uri) is not None:
                        raise ConfigError(
                            f"the docs already hold {uri}, where modeldoc would generate {options.target}'s page",
                            "rename or move that file, or set the plugin's folder: option to another folder",
                        )
                    files.append(File.generated(config, uri, content=site.contained(text)))
                    ours.append(uri)
                for name, data in site.picture_files(spec).items():
                    files.append(File.generated(config, f"{prefix}{options.slug}/{name}", content=data))
                entries.append((spec, f"{options.slug}/index.md"))
                model_navs.append(
                    site.nav_entry(spec.title, site.model_nav(spec, options.slug, options.page_size, prefix))
                )
        except ModeldocError as err:
            raise PluginError(str(err)) from err
        index = f"{prefix}index.md"
        if files.get_file_from_path(index) is None:
            title = self.config.nav_section or site.plain_text(config.site_name)
            files.append(
                File.generated(config, index, content=render.render_index(entries, title, self._environment()))
            )
            ours.append(index)
        home = index if prefix else site.nav_entry("Home", index)
        self._add_to_nav(config, files, [home, *model_navs], set(ours))
        return files

    def _add_to_nav(self, config: MkDocsConfig, files: Files, section: list[Any], ours: set[str]) -> None:
        from modeldoc.site import build as site

        if config.nav is None:
            # MkDocs would build the nav from the files; do the same for the user's pages, then
            # add ours as one section instead of as a folder tree.
            pages = sorted((f for f in files.documentation_pages() if f.src_uri not in ours), key=file_sort_key)
            config.nav = nest_paths(f.src_uri for f in pages if f.inclusion.is_in_nav())
        elif _mentions(config.nav, ours):
            return  # the user placed the generated pages in their nav themselves
        if self.config.nav_section:
            config.nav.append(site.nav_entry(self.config.nav_section, section))
        else:
            config.nav.extend(section)

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Render each ``::: modeldoc`` block, leaving a placeholder line where it goes."""
        if "::: modeldoc" not in markdown:
            return markdown
        try:
            return "".join(self._expand(markdown, page.file.src_uri, _page_path(page, config), config))
        except ModeldocError as err:
            raise PluginError(str(err)) from err

    def _expand(self, markdown: str, src_uri: str, shown: str, config: MkDocsConfig) -> Iterator[str]:
        lines = markdown.splitlines(keepends=True)
        blocks = 0
        done = 0
        for start, end, match in _scan(lines):
            yield from lines[done:start]
            done = end
            if match is None:
                log.warning(
                    f"{shown}:{start + 1}: this ::: modeldoc line is left as text; start the block on a line "
                    "of its own, indented to sit inside an admonition, a content tab or a list item"
                )
                yield lines[start]
                continue
            where = f"the ::: modeldoc block on line {start + 1} of {src_uri}"
            if match.re is _DIFF_MALFORMED:
                raise ConfigError(
                    f"the ::: modeldoc-diff line on line {start + 1} of {src_uri} does not name two models",
                    "write ::: modeldoc-diff OLD NEW, each a target, a checkpoint file or a saved description",
                )
            try:
                # The second and later models on a page get their own section ids.
                prefix = f"m{blocks + 1}-" if blocks else ""
                options_text = "".join(lines[start + 1 : end])
                if match.re is _DIFF_BLOCK:
                    text = self._render_diff(match["old"], match["new"], options_text, where)
                else:
                    text = self._render_block(match["target"], options_text, where, config, prefix)
            except ModeldocError as err:
                if where in str(err):
                    raise
                raise ModeldocError(f"{where}: {err}") from err
            for warning in text.warnings:
                log.warning(f"{shown}:{start + 1}: {text.target}: {warning}")
            blocks += 1
            token = f"modeldocblock{self._nonce}n{len(self._blocks)}"
            self._blocks[token] = _Block(text.markdown, f"{shown}:{start + 1}", "".join(lines[start:end]))
            yield f"\n{match['indent']}{token}\n\n"
        yield from lines[done:]

    def _render_block(
        self, target: str | None, options_text: str, where: str, config: MkDocsConfig, anchor_prefix: str
    ) -> _Rendered:
        from modeldoc.pages import render
        from modeldoc.site import build as site

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
        spec, pages = self._render(settings)
        text = pages["index.md"]
        return _Rendered(site.contained(text.strip("\n")) + "\n", options.target, spec.warnings)

    def _render_diff(self, old: str, new: str, options_text: str, where: str) -> _Rendered:
        """A ``::: modeldoc-diff`` block: each model described (and kept) as a ``:::`` block's is, then compared."""
        from modeldoc import diff
        from modeldoc.pages import diff as shown
        from modeldoc.site import build as site
        from modeldoc.spec import is_checkpoint_file, is_description_file

        entry = _block_options(options_text, where)
        heading_level = entry.pop("heading_level", 2)
        if isinstance(heading_level, bool) or not isinstance(heading_level, int) or not 1 <= heading_level <= 6:
            raise ConfigError(f"heading_level in {where} is {heading_level!r}", "give a whole number from 1 to 6")
        specs = []
        for target in (old, new):
            saved = is_description_file(target) or is_checkpoint_file(target)
            options = opts.model_options({"target": target} if saved else {**entry, "target": target}, where=where)
            specs.append(self._describe(options).spec)
        result = diff.diff(specs[0], specs[1], old_name=old, new_name=new)
        text = shown.markdown(result, heading="#" * heading_level)
        warnings = tuple(f"{name}: {w}" for name, spec in zip((old, new), specs, strict=True) for w in spec.warnings)
        return _Rendered(site.contained(text.strip("\n")) + "\n", f"{old} → {new}", warnings)

    def on_page_content(self, html_text: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Report a block whose placeholder no block processor met, and show its text instead."""
        for token, block in self._blocks.items():
            if not block.expanded and token in html_text:
                log.warning(
                    f"{block.where}: this ::: modeldoc block cannot be expanded where it stands (inside raw "
                    "HTML or a table?); move it to a line of its own in Markdown"
                )
                html_text = html_text.replace(token, html.escape(block.original))
                block.expanded = True
        return html_text

    def _render(self, settings: RenderSettings) -> tuple[ModelSpec, dict[str, str]]:
        """The model's description and its pages, both reused while nothing they rest on changed."""
        from modeldoc.pages import render

        options = settings.options
        described = self._describe(options)
        spec = dataclasses.replace(described.spec, title=options.title or described.spec.title)
        # Drawing the diagrams is most of the rendering; the same settings and templates draw the same.
        key = repr((settings, self._templates_stamp))
        pages = described.pages.get(key)
        if pages is None:
            pages = described.pages[key] = render.render_pages(spec, settings, self._environment())
        return spec, pages

    def _describe(self, options: opts.ModelOptions) -> _Described:
        """The model's description: collected once, reused while its sources are unchanged."""
        options = dataclasses.replace(options, knowledge=self._knowledge)
        # Only the target, its arguments and inputs (and the knowledge files) change what is collected.
        key = repr(
            (
                dataclasses.replace(options, title="", slug="", depth=1, sections=(), page_size=1),
                self._paths,
                [sources.folder_digest(folder) for folder in self._knowledge],
            )
        )
        found = _DESCRIBED.get(key)
        if found is None or found.sources.changed():
            found = _DESCRIBED[key] = self._collect(options)
        elif key not in self._used:
            log.info(f"modeldoc: reused the description of {options.target}; its sources did not change")
        self._used.add(key)
        return found

    def _collect(self, options: opts.ModelOptions) -> _Described:
        from modeldoc import pipeline
        from modeldoc.site import cache

        saved = cache.Cache(self._cache_dir) if self._cache_dir is not None else None
        if saved is not None and not is_description_file(options.target):
            hit = saved.load(options, self._paths)
            if hit is not None:
                log.info(f"modeldoc: reused the saved description of {options.target}; its sources did not change")
                self._watch(hit.sources.files)
                return _Described(hit.spec, hit.sources)
        untitled = dataclasses.replace(options, title="")  # the page's title is put in when rendering
        try:
            with sources.recording(self._paths) as imported:
                spec, source = pipeline.describe_with_source(untitled)
        except ModeldocError as err:
            # Watch what the failed import touched, so fixing it rebuilds; import it afresh then.
            partial = sources.sources_of(imported.new)
            sources.forget(partial.modules)
            self._watch([*partial.files, *sources.user_files(_traceback_files(err))])
            raise
        used = sources.sources_of(imported.new, [source] if source else [], (layer.type for layer in spec.all_layers))
        self._watch(used.files)
        if saved is not None and not is_description_file(options.target):
            saved.store(options, spec, used, imported.new, self._paths)
        return _Described(spec, used)

    @property
    def _cache_dir(self) -> Path | None:
        if not self.config.cache:
            return None
        if self.config.cache_dir:
            return self._root / self.config.cache_dir
        from modeldoc.site.cache import default_folder

        return default_folder()

    @property
    def _paths(self) -> list[Path]:
        return [Path(p) for p in self.config.paths]

    def _watch(self, files: Iterable[Path]) -> None:
        if self._server is not None:
            for path in files:
                self._server.watch(str(path), recursive=False)

    def _environment(self) -> Environment:

        if self._env is None:
            self._env = self._make_env()
        return self._env

    def _make_env(self) -> Environment:
        from modeldoc.pages import render

        env = render.make_env(_path(self.config.custom_templates))
        if self._cache_dir is not None:
            from modeldoc.site.compiled import use_compiled_templates

            use_compiled_templates(env, self._cache_dir)
        return env

    def on_env(self, env: Environment, *, config: MkDocsConfig, files: Files) -> Environment:
        """Keep the theme's compiled templates in the cache folder (when the cache is on)."""
        if self._cache_dir is not None:
            from modeldoc.site.compiled import use_compiled_templates

            use_compiled_templates(env, self._cache_dir)
        return env

    def on_serve(self, server: LiveReloadServer, *, config: MkDocsConfig, builder: Any) -> LiveReloadServer:
        """Rebuild when a source file of a documented model or a custom template changes."""
        self._server = server
        for described in _DESCRIBED.values():
            self._watch(described.sources.files)
        if self.config.custom_templates:
            server.watch(self.config.custom_templates)
        for folder in self._knowledge:
            server.watch(str(folder))
        return server

    @property
    def models(self) -> tuple[opts.ModelOptions, ...]:
        """The validated models that get whole pages in this build."""
        return self._models


@dataclasses.dataclass(frozen=True)
class _Rendered:
    markdown: str
    target: str
    warnings: tuple[str, ...]


class _BlockProcessor(BlockProcessor):
    """Replaces a placeholder block with the rendered Markdown of its ``:::`` block."""

    def __init__(self, parser: BlockParser, blocks: dict[str, _Block]) -> None:
        super().__init__(parser)
        self._blocks = blocks

    def test(self, parent: etree.Element, block: str) -> bool:
        return block.split("\n", 1)[0].strip() in self._blocks

    def run(self, parent: etree.Element, blocks: list[str]) -> None:
        first, _, rest = blocks.pop(0).partition("\n")
        if rest.strip():
            blocks.insert(0, rest)
        found = self._blocks[first.strip()]
        found.expanded = True
        md = self.parser.md
        lines = found.markdown.split("\n")
        # The page's preprocessors have run already; raw HTML blocks (the diagrams) need them.
        for name in ("normalize_whitespace", "html_block"):
            if name in md.preprocessors:
                lines = md.preprocessors[name].run(lines)
        self.parser.parseChunk(parent, "\n".join(lines))


class _BlockExtension(Extension):
    def __init__(self, blocks: dict[str, _Block]) -> None:
        super().__init__()
        self._blocks = blocks

    def extendMarkdown(self, md: Markdown) -> None:
        """Register the placeholder processor before the paragraph and list processors."""
        md.parser.blockprocessors.register(_BlockProcessor(md.parser, self._blocks), "modeldoc", 75)


def _scan(lines: list[str]) -> Iterator[tuple[int, int, re.Match[str] | None]]:
    """Where the blocks are: (first line, line after its options, match), outside code and comments.

    A line that holds ``::: modeldoc`` behind a quote, table or list marker comes as
    (line, line + 1, None): it cannot be expanded there.
    """
    fence = ""
    comment = False
    i = 0
    while i < len(lines):
        line = lines[i]
        found = _FENCE.match(line)
        if comment:
            comment = _in_comment(line, inside=True)
        elif fence:
            if found and found["fence"].startswith(fence) and not line.strip().strip(fence[0]):
                fence = ""  # a closing fence: the same character, at least as long, nothing else
        elif found:
            fence = found["fence"]
        elif match := _BLOCK.match(line.rstrip("\r\n")) or _DIFF_BLOCK.match(line.rstrip("\r\n")):
            depth = _width(match["indent"])
            end = i + 1
            # Like mkdocstrings: the options are the lines indented below it, up to a blank line.
            while end < len(lines) and lines[end].strip() and _width(lines[end]) > depth:
                end += 1
            yield i, end, match
            i = end
            continue
        elif match := _DIFF_MALFORMED.match(line):
            yield i, i + 1, match
        elif _STRAY.match(line):
            yield i, i + 1, None
        else:
            comment = _in_comment(line, inside=False)
        i += 1


def _in_comment(line: str, *, inside: bool) -> bool:
    """Whether an HTML comment is still open after `line`, given whether one was open before it."""
    rest = line if inside else _CODE_SPAN.sub("", line)
    while True:
        if inside:
            end = rest.find("-->")
            if end < 0:
                return True
            rest, inside = rest[end + 3 :], False
        else:
            start = rest.find("<!--")
            if start < 0:
                return False
            rest, inside = rest[start + 4 :], True


def _width(line: str) -> int:
    """The indentation of `line`, tabs counted to the next multiple of four as Markdown does."""
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def _only_mkdocs_will_be_left(site_dir: Path, dirty: bool) -> bool:
    """True when, after an MkDocs build, `site_dir` will hold only what that build wrote (or our marker)."""
    if site_dir.is_symlink() or (site_dir.exists() and not site_dir.is_dir()):
        return False
    if not site_dir.exists() or (site_dir / MARKER).is_file():
        return True
    entries = list(site_dir.iterdir())
    # MkDocs keeps hidden entries when it empties the folder, and a dirty build keeps everything.
    return not entries or (not dirty and not any(e.name.startswith(".") for e in entries))


def _page_path(page: Page, config: MkDocsConfig) -> str:
    """The page's file as the user names it: relative to mkdocs.yml (``docs/guide.md``)."""
    root = Path(config.config_file_path).resolve().parent if config.config_file_path else Path.cwd()
    source = page.file.abs_src_path
    if source:
        path = Path(source).resolve()
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return page.file.src_uri


def _traceback_files(err: BaseException) -> list[str]:
    """The files named by `err`, its causes and their tracebacks (a syntax error's file included)."""
    files: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, SyntaxError) and current.filename:
            files.append(current.filename)
        files += [frame.filename for frame in traceback.extract_tb(current.__traceback__)]
        current = current.__cause__ or current.__context__
    return files


def forget_descriptions() -> None:
    """Drop every kept description; the next build describes each model afresh."""
    _DESCRIBED.clear()


def _forget_stale_descriptions() -> None:
    """Drop descriptions whose sources changed, and their modules, so this build imports them afresh."""
    for key, described in list(_DESCRIBED.items()):
        if described.sources.changed():
            del _DESCRIBED[key]
            sources.forget(described.sources.modules)


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
