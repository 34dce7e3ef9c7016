"""No text from a model or an option ever runs as script: every entry point, every built page, in Chromium.

Each entry point that hands a string to MkDocs gets a site of its own, built for real by the
``modeldoc`` or ``mkdocs`` command: hostile ModuleDict keys on blocks big enough for pages of
their own (so they land in the nav of every page), ``--title``, ``--site-name`` (standalone and
config mode), the plugin's ``models: - title:`` and ``nav_section``, and ``:::`` blocks of a
model with hostile names. Every HTML file of each site, 404.html included, is opened with a
dialog handler; nothing may fire, no injected element may exist, and the text shows as written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import TESTS
from tests.helpers.browser import chromium, serve_folder
from tests.helpers.run import run

pytestmark = pytest.mark.browser

TINY = f"{TESTS / 'models.py'}:Tiny"
WORD_JOINER = "\u2060"
"""modeldoc puts one after an escaped ``<`` that could open a tag; it is invisible."""

KEYS = ("<img src=x onerror=alert('key')>", "</title><img src=x onerror=alert('title-key')>", '"><svg onload=alert(7)>')
TITLE = "<img src=x onerror=alert('title')>"
SITE_NAME = "</title><script>alert('site')</script><img src=x onerror=alert('site')>"
PLUGIN_TITLE = "<img src=x onerror=alert('plugin-title')>"
NAV_SECTION = "<img src=x onerror=alert('nav-section')> & more"

HOSTILE_MODEL = f'''"""A model whose block names are markup: each block is big enough for a page of its own.

The blocks differ in their hidden width, so none shares a page with another (repeated blocks of
one structure share one page, which lists the others' names).
"""

from torch import nn

KEYS = {KEYS!r}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleDict(
            {{key: nn.Sequential(nn.Linear(4, 5 + i), nn.ReLU(), nn.Linear(5 + i, 4)) for i, key in enumerate(KEYS)}}
        )

    def forward(self, x):
        for block in self.blocks.values():
            x = block(x)
        return x
'''

SHARED_KEYS = (*KEYS, "a`<img src=x onerror=alert('tick')>`b")
SHARED_MODEL = f'''"""Identical blocks under markup names: they share one "× 4" page that lists every name."""

from torch import nn

KEYS = {SHARED_KEYS!r}


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleDict({{key: nn.Sequential(nn.Linear(4, 4), nn.ReLU()) for key in KEYS}})

    def forward(self, x):
        for block in self.blocks.values():
            x = block(x)
        return x
'''

PYPROJECT = """[tool.modeldoc]
out = "site"

[[tool.modeldoc.models]]
target = "hostile.py:Net"
input_shape = [1, 4]
page_size = 2
"""

MKDOCS_YML = """site_name: Host site
theme:
  name: material
  font: false
markdown_extensions: [admonition]
plugins:
  - search
  - modeldoc:
"""


@dataclass(frozen=True)
class Entry:
    """One way a string reaches MkDocs, and where its text must show."""

    name: str
    command: tuple[str, ...]
    texts: tuple[str, ...]
    plugin: str = ""
    """The modeldoc plugin's options in the project's mkdocs.yml (YAML, indented); none without."""
    page: str = ""
    """docs/index.md of the project, when it has one."""


def _yaml(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


ENTRIES = (
    Entry("modeldict-key", ("modeldoc", "build"), KEYS),
    Entry("shared-block-keys", ("modeldoc", "build"), SHARED_KEYS),
    Entry("title", ("modeldoc", "build", TINY, "--input-shape", "2,4", "--title", TITLE, "--out", "site"), (TITLE,)),
    Entry(
        "site-name",
        ("modeldoc", "build", TINY, "--input-shape", "2,4", "--site-name", SITE_NAME, "--out", "site"),
        (SITE_NAME,),
    ),
    Entry(
        "plugin-title",
        ("mkdocs", "build"),
        (PLUGIN_TITLE,),
        plugin=f"      models:\n        - target: {TINY}\n          input_shape: [2, 4]\n"
        f"          title: {_yaml(PLUGIN_TITLE)}\n",
        page="# Home\n",
    ),
    Entry(
        "nav-section",
        ("mkdocs", "build"),
        (NAV_SECTION,),
        plugin=f"      nav_section: {_yaml(NAV_SECTION)}\n      models:\n        - target: {TINY}\n"
        "          input_shape: [2, 4]\n",
        page="# Home\n",
    ),
    Entry(
        "config-mode-site-name",
        ("modeldoc", "build", "--site-name", SITE_NAME),
        (SITE_NAME,),
        plugin=f"      models:\n        - target: {TINY}\n          input_shape: [2, 4]\n",
        page="# Home\n",
    ),
    Entry(
        "block",
        ("mkdocs", "build"),
        KEYS,
        plugin="      models: []\n",
        page="# Home\n\n::: modeldoc hostile.py:Net\n    input_shape: [1, 4]\n\n"
        "!!! note\n\n    ::: modeldoc hostile.py:Net\n        input_shape: [1, 4]\n",
    ),
)


def _build(entry: Entry, folder: Path) -> Path:
    folder.mkdir()
    (folder / "hostile.py").write_text(HOSTILE_MODEL, encoding="utf-8")
    (folder / "shared.py").write_text(SHARED_MODEL, encoding="utf-8")
    if entry.name == "modeldict-key":
        (folder / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
    if entry.name == "shared-block-keys":
        (folder / "pyproject.toml").write_text(PYPROJECT.replace("hostile.py", "shared.py"), encoding="utf-8")
    if entry.plugin:
        (folder / "mkdocs.yml").write_text(MKDOCS_YML + entry.plugin, encoding="utf-8")
        (folder / "docs").mkdir()
        (folder / "docs" / "index.md").write_text(entry.page, encoding="utf-8")
    result = run(*entry.command, cwd=folder, timeout=600)
    assert result.returncode == 0, f"{entry.name}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return folder / "site"


@dataclass
class Built:
    base: str
    folder: Path
    browser: Any


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    folder = tmp_path_factory.mktemp("hostile-sites")
    for entry in ENTRIES:
        _build(entry, folder / entry.name)
    with serve_folder(folder) as base, chromium() as browser:
        yield Built(base=base, folder=folder, browser=browser)


_INJECTED = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      if (attr.name.startsWith('on') && attr.value.includes('alert')) found.push(el.outerHTML.slice(0, 120));
    }
  }
  for (const img of document.querySelectorAll('img')) {
    if (img.getAttribute('src') === 'x') found.push(img.outerHTML);
  }
  for (const script of document.scripts) {
    if (script.text.includes('alert(')) found.push(script.outerHTML.slice(0, 120));
  }
  return found;
}"""

_TEXT = """() => ({
  title: document.title,
  nav: Array.from(document.querySelectorAll('.md-nav--primary, .md-header__topic'))
    .map(e => e.textContent).join('\\n'),
  article: document.querySelector('article')?.innerText ?? '',
})"""


def _pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


def _shown(text: str) -> str:
    return " ".join(text.replace(WORD_JOINER, "").split())


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_no_page_runs_a_script_and_the_text_shows_as_written(built: Built, entry: Entry) -> None:
    site = built.folder / entry.name / "site"
    pages = _pages(site)
    assert "404.html" in pages
    if entry.name == "modeldict-key":
        # Each hostile block has a page of its own, so its name is in the nav of every page.
        # each key's block (itself and 3 layers) takes two pages at page_size 2: the block and its continuation
        assert sum(p.startswith("net/blocks/") for p in pages) == 2 * len(KEYS)
    if entry.name == "shared-block-keys":
        # one structure: a single page (with its continuation) stands for all four blocks and names each
        assert [p for p in pages if p.startswith("net/blocks/") and "part" not in p] == [
            next(p for p in pages if p.startswith("net/blocks/sequential-"))
        ], pages
    dialogs: list[str] = []
    context = built.browser.new_context()
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(f"{dialog.message}"), dialog.dismiss()))
    injected: dict[str, list[str]] = {}
    seen = {text: [] for text in entry.texts}
    try:
        for path in pages:
            page.goto(f"{built.base}{entry.name}/site/{path}", wait_until="load")
            page.wait_for_load_state("networkidle")  # a failing <img src=x> would fire by now
            if found := page.evaluate(_INJECTED):
                injected[path] = found
            shown = page.evaluate(_TEXT)
            for text in entry.texts:
                if any(_shown(text) in _shown(part) for part in shown.values()):
                    seen[text].append(path)
    finally:
        context.close()
    assert dialogs == [], f"{entry.name}: a script ran: {dialogs}"
    assert injected == {}, f"{entry.name}: markup from a name became elements: {injected}"
    missing = [text for text, where in seen.items() if not where]
    assert not missing, f"{entry.name}: these never showed as written: {missing}"
    if entry.name in ("modeldict-key", "site-name", "config-mode-site-name", "nav-section"):
        # Nav titles and the site name are on every page, 404 included.
        for text, where in seen.items():
            assert sorted(where) == pages, f"{text!r} is missing from {sorted(set(pages) - set(where))}"


def test_the_page_title_of_a_hostile_block_page_holds_the_text(built: Built) -> None:
    site = built.folder / "modeldict-key" / "site"
    context = built.browser.new_context()
    page = context.new_page()
    titles = []
    try:
        for path in _pages(site):
            if path.startswith("net/blocks/"):
                page.goto(f"{built.base}modeldict-key/site/{path}")
                titles.append(_shown(page.evaluate("() => document.title")))
    finally:
        context.close()
    # The browser's <title> text: the block's name, ended by the site name, not by a "</title>" in the key.
    assert f"blocks.{KEYS[1]} - Model documentation" in titles, titles


def test_search_results_show_hostile_names_as_text(built: Built) -> None:
    dialogs: list[str] = []
    context = built.browser.new_context()
    page = context.new_page()
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        page.goto(f"{built.base}modeldict-key/site/")
        search = page.locator("input.md-search__input")
        search.click()
        search.press_sequentially("onerror")
        results = page.locator(".md-search-result__item")
        results.first.wait_for(state="attached", timeout=15_000)
        page.wait_for_load_state("networkidle")
        text = _shown(page.locator(".md-search-result").inner_text())
        injected = page.evaluate(_INJECTED)
    finally:
        context.close()
    assert "blocks.<img src=x onerror=alert('key')>" in text
    assert injected == []
    assert dialogs == []
