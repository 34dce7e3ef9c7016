"""The built site as a person uses it: real CLI builds, served on 127.0.0.1, opened in Chromium.

One module fixture builds two sites with the real ``modeldoc`` command: the repository's own site
(config mode: its mkdocs.yml with the plugin and the example models) and a standalone site for
the hostile fixture model. Every test reads those two builds.
"""

from __future__ import annotations

import functools
import re
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest

from tests.helpers import REPO
from tests.helpers.browser import chromium, contrast, over, serve_folder
from tests.helpers.run import run

pytestmark = pytest.mark.browser

FASHION = "site/models/fashion/"
HOSTILE_KEY = "<img src=x onerror=alert(1)>"
HOSTILE_DOC = '<script>alert("docstring")</script>'


@dataclass
class Sites:
    """The two built sites, served from one folder."""

    base: str
    folder: Path
    browser: Any
    build_seconds: dict[str, float] = field(default_factory=dict)
    crawls: dict[str, dict[str, Visit]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return urljoin(self.base, path)


def _build(args: list[str], out: Path) -> float:
    started = time.perf_counter()
    result = run("modeldoc", "build", *args, "--out", str(out), cwd=REPO, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return time.perf_counter() - started


# Module scope: Playwright's sync API allows one running instance, and other modules start theirs.
@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    folder = tmp_path_factory.mktemp("browser")
    seconds = {
        "repository site (config mode)": _build([], folder / "site"),
        "hostile model": _build(["tests.models:Hostile", "--input-shape", "1,4"], folder / "hostile"),
    }
    with serve_folder(folder) as base, chromium() as browser:
        yield Sites(base=base, folder=folder, browser=browser, build_seconds=seconds)


@dataclass
class Visit:
    """What one page load showed."""

    status: int
    errors: list[str]
    links: list[str]
    ids: set[str]
    text: str
    """What a reader sees of the page's content."""


_LINKS = """() => Array.from(document.querySelectorAll('a'))
    .map(a => a.getAttribute('href') ?? a.getAttributeNS('http://www.w3.org/1999/xlink', 'href'))
    .filter(h => h !== null).map(h => new URL(h, location.href).href)"""
_IDS = "() => Array.from(document.querySelectorAll('[id], [name]')).map(e => e.id || e.name)"
_TEXT = "() => document.querySelector('article')?.innerText ?? ''"


def _crawl(sites: Sites, start: str) -> dict[str, Visit]:
    """Visit every HTML page reachable from `start` inside its folder, in one browser tab (once per module)."""
    if start in sites.crawls:
        return sites.crawls[start]
    root = sites.url(start)
    seen: dict[str, Visit] = sites.crawls.setdefault(start, {})
    queue = [root]
    errors: list[str] = []
    page = sites.browser.new_page()
    page.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda err: errors.append(f"page error: {err}"))
    # ERR_ABORTED is a request cut short by moving on to the next page, not a failure of this one.
    page.on(
        "requestfailed",
        lambda req: errors.append(f"request failed: {req.url} {req.failure}") if "ABORTED" not in req.failure else None,
    )
    page.on("response", lambda res: errors.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 else None)
    try:
        while queue:
            url = queue.pop()
            if url in seen:
                continue
            errors.clear()
            response = page.goto(url, wait_until="load")
            links = page.evaluate(_LINKS)
            ids = set(page.evaluate(_IDS))
            status = response.status if response else 0
            seen[url] = Visit(status=status, errors=list(errors), links=links, ids=ids, text=page.evaluate(_TEXT))
            for link in links:
                target, _ = urldefrag(link)
                if target.startswith(root) and _is_page(target) and target not in seen:
                    queue.append(target)
        page.wait_for_load_state("networkidle")  # late errors of the last page (the search worker)
        seen[url].errors.extend(errors)
    finally:
        page.close()
    return seen


def _is_page(url: str) -> bool:
    path = urlsplit(url).path
    return path.endswith(("/", ".html"))


@functools.cache
def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code


@pytest.mark.parametrize("start", ["site/", "hostile/"])
def test_every_page_loads_cleanly_and_every_internal_link_resolves(sites: Sites, start: str) -> None:
    visits = _crawl(sites, start)
    root = sites.url(start)
    assert sites.url(start) in visits
    problems = [f"{url}: {error}" for url, visit in visits.items() for error in visit.errors]
    problems += [f"{url}: HTTP {visit.status}" for url, visit in visits.items() if visit.status != 200]
    for url, visit in visits.items():
        for link in visit.links:
            target, fragment = urldefrag(link)
            if not target.startswith(sites.base):
                continue
            if _is_page(target) and target in visits:
                if fragment and fragment not in visits[target].ids:
                    problems.append(f"{url}: link to missing anchor {link}")
            elif _status(target) != 200:
                problems.append(f"{url}: broken link {link}")
    assert not problems, "\n".join(problems)
    print(f"\ncrawled {len(visits)} pages from {root}; builds took {sites.build_seconds}")
    if start == "site/":
        # The repository's site: home, the docs pages, and every example model's pages.
        assert sites.url(FASHION) in visits
        assert sites.url("site/embedding/") in visits
        assert len(visits) > 10


_ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


@pytest.mark.parametrize("start", ["site/", "hostile/"])
def test_model_pages_show_no_escape_codes_as_text(sites: Sites, start: str) -> None:
    """Escaped once: a reader sees ``'`` and ``<``, never ``&#x27;`` or ``&lt;``."""
    leaks = {}
    for url, visit in _crawl(sites, start).items():
        if "/models/" in url or start == "hostile/":
            found = sorted({m.group(0) for m in _ENTITY.finditer(visit.text)})
            if found:
                where = _ENTITY.search(visit.text)
                assert where is not None
                leaks[url] = f"{found}, e.g. {visit.text[max(0, where.start() - 40) : where.end() + 20]!r}"
    assert not leaks, "escape codes shown as text:\n" + "\n".join(f"{u}: {v}" for u, v in leaks.items())


def test_search_finds_a_layer_by_its_attribute_path(sites: Sites) -> None:
    page = sites.browser.new_page()
    try:
        page.goto(sites.url(FASHION))
        search = page.locator("input.md-search__input")
        search.click()
        search.press_sequentially("conv1")
        result = page.locator(".md-search-result a[href*='models/fashion/'][href$='#layer-conv1']").first
        result.wait_for(state="attached", timeout=15_000)
        if not result.is_visible():  # sections of a page can be folded under "more results"
            page.locator(".md-search-result__more summary").first.click()
        result.click()
        page.wait_for_url(re.compile(r"/models/fashion/(\?[^#]*)?#layer-conv1$"))
        heading = page.locator("#layer-conv1")
        assert "conv1" in heading.inner_text()
        assert _in_viewport(page, "#layer-conv1")
    finally:
        page.close()


def _in_viewport(page: Any, selector: str) -> bool:
    return bool(
        page.evaluate(
            """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                          return r.bottom > 0 && r.top < window.innerHeight; }""",
            selector,
        )
    )


_NODE_LINKS = """() => Array.from(document.querySelectorAll('.modeldoc-diagram svg a')).map(a =>
    a.getAttribute('href') ?? a.getAttributeNS('http://www.w3.org/1999/xlink', 'href'))"""


@pytest.mark.parametrize("path", [FASHION, "site/embedding/"], ids=["model-page", "embedded-block"])
def test_clicking_each_diagram_node_lands_on_its_layer(sites: Sites, path: str) -> None:
    """Every linked node of every diagram on the page (the module tree, the data flow, ...)."""
    page = sites.browser.new_page()
    try:
        page.goto(sites.url(path))
        hrefs = page.evaluate(_NODE_LINKS)  # nodes of operations and edges carry a tooltip only
        linked = [i for i, href in enumerate(hrefs) if href]
        assert len(linked) >= 6, "the module tree alone has the root and five layers"
        clicked = []
        for i in linked:
            page.goto(sites.url(path))
            expected = urljoin(sites.url(path), hrefs[i])
            page.locator(".modeldoc-diagram svg a").nth(i).click()
            page.wait_for_url(expected)
            fragment = urldefrag(expected).fragment
            assert fragment.startswith("layer-"), hrefs[i]
            assert page.locator(f"[id='{fragment}']").count() == 1, f"{hrefs[i]} has no target"
            assert _in_viewport(page, f"[id='{fragment}']"), f"clicking {hrefs[i]} did not show its section"
            clicked.append(fragment)
        assert {"layer-conv1", "layer-conv2", "layer-fc1", "layer-fc2", "layer-out"} <= set(clicked)
    finally:
        page.close()


_TEXT_COLOURS = """() => {
  const rgba = (css) => {
    const m = css.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const shapes = new Set(['polygon', 'path', 'ellipse', 'rect', 'circle']);
  const out = [];
  for (const text of document.querySelectorAll('.modeldoc-diagram svg text')) {
    if (!text.textContent.trim()) continue;
    text.scrollIntoView({block: 'center'});
    const box = text.getBoundingClientRect();
    const style = getComputedStyle(text);
    const fg = rgba(style.fill);
    if (fg) fg[3] *= Number(style.fillOpacity) * Number(style.opacity);
    const layers = [];
    for (const el of document.elementsFromPoint(box.x + box.width / 2, box.y + box.height / 2)) {
      if (el === text || text.contains(el)) continue;
      const s = getComputedStyle(el);
      const tag = el.tagName.toLowerCase();
      const colour = shapes.has(tag) ? rgba(s.fill) : (el instanceof SVGElement ? null : rgba(s.backgroundColor));
      if (!colour || colour[3] === 0) continue;
      if (shapes.has(tag)) colour[3] *= Number(s.fillOpacity);
      layers.push(colour);
      if (colour[3] >= 1) break;
    }
    out.push({text: text.textContent.trim(), fg, layers});
  }
  return out;
}"""


@pytest.mark.parametrize(("scheme", "palette"), [("light", "default"), ("dark", "slate")])
def test_diagram_text_is_readable_in_both_palettes(sites: Sites, scheme: str, palette: str) -> None:
    context = sites.browser.new_context(color_scheme=scheme)
    page = context.new_page()
    try:
        page.goto(sites.url(FASHION))
        assert page.evaluate("() => document.body.getAttribute('data-md-color-scheme')") == palette
        texts = page.evaluate(_TEXT_COLOURS)
        assert len(texts) >= 12, "every node names its attribute path and type"
        poor = []
        for item in texts:
            assert item["fg"] is not None, item
            background: tuple[float, float, float] = (255, 255, 255)
            for colour in reversed(item["layers"]):
                background = over(tuple(colour), background)
            ratio = contrast(over(tuple(item["fg"]), background), background)
            if ratio < 4.5:
                poor.append(f"{item['text']!r}: {ratio:.2f}")
        assert not poor, f"diagram text below WCAG AA contrast (4.5) in the {scheme} palette: {poor}"
    finally:
        context.close()


def test_hostile_names_show_as_text_and_run_no_script(sites: Sites) -> None:
    context = sites.browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    try:
        for path in ("hostile/", "hostile/hostile/"):
            page.goto(sites.url(path))
            page.wait_for_load_state("networkidle")
        text = page.locator("article").inner_text()
        assert HOSTILE_KEY in text
        assert HOSTILE_DOC in text
        assert "a|b`c" in text
        assert page.locator("article img").count() == 0
        assert page.evaluate("() => Array.from(document.scripts).some(s => s.text.includes('docstring'))") is False
        # The probe worked, so this is the model page with its diagram, not an error page.
        assert page.locator(".modeldoc-diagram svg").count() >= 1
        assert dialogs == []
    finally:
        context.close()


def test_full_page_screenshot_of_the_tutorial_cnn(sites: Sites, artifacts: Path) -> None:
    page = sites.browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(sites.url(FASHION))
        page.wait_for_load_state("networkidle")
        shot = artifacts / "fashion-cnn-page.png"
        page.screenshot(path=str(shot), full_page=True)
        height = page.evaluate("() => document.documentElement.scrollHeight")
    finally:
        page.close()
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width_px, height_px = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width_px == 1280
    assert height_px == height > 2000, "the whole page, not the first screen"


_STYLES_OF = """(selector) => Array.from(document.querySelectorAll(selector)).map(el => {
  const style = getComputedStyle(el);
  return Array.from(style).map(name => `${name}: ${style.getPropertyValue(name)}`).join('; ');
})"""
_HOST_CELLS = "article table:not(.modeldoc table) td, article table:not(.modeldoc table) td *"
_OWN_CODE = ".modeldoc td:first-child code"


def test_the_stylesheet_leaves_the_host_pages_own_tables_alone(sites: Sites) -> None:
    """The embedding page holds the host's own option tables and a ::: block with modeldoc's tables."""
    page = sites.browser.new_page()
    try:
        page.goto(sites.url("site/embedding/"))
        host, own = page.evaluate(_STYLES_OF, _HOST_CELLS), page.evaluate(_STYLES_OF, _OWN_CODE)
        sheet = page.locator("link[href$='assets/modeldoc.css']")
        assert sheet.count() == 1
        sheet.evaluate("link => link.remove()")
        host_without, own_without = page.evaluate(_STYLES_OF, _HOST_CELLS), page.evaluate(_STYLES_OF, _OWN_CODE)
    finally:
        page.close()
    assert len(host) > 20, "the page's own tables (the option tables) are there"
    assert own, "the ::: block's tables are there"
    changed = [i for i, (a, b) in enumerate(zip(host, host_without, strict=True)) if a != b]
    assert not changed, f"{len(changed)} cells of the host's tables are styled by modeldoc.css"
    assert own != own_without, "modeldoc's own tables are styled by it (the comparison can see a change)"


_DIAGRAM_TEXT = """() => Array.from(document.querySelectorAll('.modeldoc-diagram svg')).map(svg => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const sizes = Array.from(svg.querySelectorAll('text[font-size]'))
    .map(t => parseFloat(t.getAttribute('font-size')) * scale * t.getScreenCTM().a / svg.getScreenCTM().a);
  const box = svg.closest('.modeldoc-diagram');
  const before = box.scrollLeft;
  box.scrollLeft = box.scrollWidth;
  const scrolled = box.scrollLeft - before;
  box.scrollLeft = before;
  return {smallest: Math.min(...sizes), texts: sizes.length, overflow: getComputedStyle(box).overflowX,
          wider: box.scrollWidth > box.clientWidth, scrolled, fits: box.clientWidth <= window.innerWidth};
})"""


@pytest.mark.parametrize("path", [FASHION, "site/models/transformer/"])
def test_diagrams_stay_legible_on_a_phone(sites: Sites, path: str) -> None:
    """At 390 px wide, diagram text keeps at least 8 px; a wider diagram scrolls inside its box."""
    context = sites.browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1)
    page = context.new_page()
    try:
        page.goto(sites.url(path))
        diagrams = page.evaluate(_DIAGRAM_TEXT)
        page_width = page.evaluate("() => document.documentElement.scrollWidth")
    finally:
        context.close()
    assert len(diagrams) >= 2
    for diagram in diagrams:
        assert diagram["texts"] > 0
        assert diagram["smallest"] >= 8, diagram
        assert diagram["overflow"] == "auto"
        assert diagram["fits"], "the box is as wide as the screen at most; the diagram scrolls inside it"
        if diagram["wider"]:
            assert diagram["scrolled"] > 0
    assert page_width <= 390, "the page itself does not scroll sideways"
    if "transformer" in path:
        assert any(d["wider"] for d in diagrams), "the transformer's module tree is wider than a phone"
