"""Pages and sites for tests: Markdown rendered in memory, sites built for real, and what they show.

`markdown_pages` renders a description's pages as the site does (no MkDocs); `build_site_of`
builds a whole site with the real MkDocs; `docs_project` and `mkdocs_config` set up a user's
MkDocs project for the plugin. The rest reads built HTML back: `section`, `article` and
`text_of` give a page's parts and the text a reader sees.
"""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path
from typing import TYPE_CHECKING, Any

from modeldoc.options import ModelOptions, SiteOptions, model_options
from modeldoc.spec import ModelSpec

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig


def markdown_pages(spec: ModelSpec, options: ModelOptions | None = None, *, diagrams: bool = False) -> dict[str, str]:
    """The Markdown pages of `spec` by file name (``index.md`` first), rendered as the site renders them."""
    from modeldoc.pages import render

    options = options or model_options({"target": spec.target or "x:Model"})
    settings = render.RenderSettings(options=options, diagrams=diagrams)
    return render.render_pages(spec, settings, render.make_env())


def build_site_of(spec: ModelSpec, options: ModelOptions, out: Path, *, diagrams: bool = True) -> Path:
    """Build the site of one described model into `out` with the real MkDocs; the folder of its pages."""
    from modeldoc.site.build import build_site

    build_site(SiteOptions(models=(options,), out=out, diagrams=diagrams), (spec,))
    return out / options.slug


def model_pages_html(site: Path) -> str:
    """The HTML of every page of the model(s) in a built site (not its home page, 404 or search), joined."""
    pages = [p for p in site.rglob("*.html") if p.parent != site and "search" not in p.parts]
    assert pages, f"{site} holds no model pages"
    return "".join(p.read_text(encoding="utf-8") for p in sorted(pages))


# --------------------------------------------------------------------------- a user's MkDocs project


def docs_project(root: Path, pages: dict[str, str] | None = None) -> Path:
    """A docs folder in `root` holding `pages` (file name to Markdown; a home page by default)."""
    docs = root / "docs"
    docs.mkdir(parents=True, exist_ok=True)
    for name, text in (pages or {"index.md": "# Home\n\nWelcome.\n"}).items():
        (docs / name).parent.mkdir(parents=True, exist_ok=True)
        (docs / name).write_text(text, encoding="utf-8")
    return docs


def plugin_yml(target: str) -> str:
    """The mkdocs.yml of a project whose modeldoc plugin documents one model, `target` with input [2, 4]."""
    return (
        "site_name: Config mode\ntheme:\n  name: material\n  font: false\nplugins:\n  - search\n  - modeldoc:\n"
        f"      models:\n        - target: {target}\n          input_shape: [2, 4]\n"
    )


def mkdocs_config(root: Path, modeldoc: dict[str, Any] | None = None, **extra: Any) -> MkDocsConfig:
    """A real MkDocs config for the project in `root` (Material, search and the modeldoc plugin with the
    options `modeldoc`), validated by MkDocs without errors or warnings; `extra` sets other keys."""
    from mkdocs.config.defaults import MkDocsConfig

    cfg = MkDocsConfig(config_file_path=str(root / "mkdocs.yml"))
    cfg.load_dict(
        {
            "site_name": "Test site",
            "docs_dir": "docs",
            "site_dir": "site",
            "theme": {"name": "material", "font": False},
            "plugins": ["search", {"modeldoc": modeldoc or {}}],
            **extra,
        }
    )
    assert cfg.validate() == ([], [])
    return cfg


def site_page(root: Path, path: str) -> str:
    """The HTML of `path` in the site built into `root`/site."""
    return (root / "site" / path).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- reading built pages


def text_of(html: str) -> str:
    """Visible-ish text of HTML: tags dropped, whitespace folded, entities kept."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def article_html(page: str) -> str:
    """The page's content: its ``<article>`` element (no nav, no scripts)."""
    return page[page.index("<article") : page.index("</article>")]


def article(page: str) -> str:
    """The visible text of a built page's content, entities decoded."""
    return unescape(text_of(article_html(page)))


def section(page: str, anchor: str) -> str:
    """The HTML from the heading with `anchor` up to the next heading of any level."""
    match = re.search(rf'<h(\d) id="{anchor}".*?(?=<h\d |</article>)', page, re.DOTALL)
    assert match, f"no section {anchor}"
    return match.group(0)


def section_text(page: str, anchor: str) -> str:
    """The visible text of `section`, entities decoded."""
    return unescape(text_of(section(page, anchor)))
