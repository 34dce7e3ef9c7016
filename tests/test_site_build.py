"""site.build: titles made safe for the theme, the nav of a model's pages, the Markdown wrapper, whole builds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from torch import nn

from modeldoc import pipeline
from modeldoc.options import SiteOptions, model_options
from modeldoc.probe.collect import collect
from modeldoc.site import build as site
from tests.helpers.specs import spec_of


@pytest.mark.parametrize(
    ("text", "html"),
    [
        ("Fashion CNN", "Fashion CNN"),
        ("<img src=x onerror=alert(1)>", "&lt;\u2060img src=x onerror=alert(1)&gt;"),
        ("</title><b>", "&lt;\u2060/title&gt;&lt;\u2060b&gt;"),
        ("a \" b ' c & d", "a &quot; b &#x27; c &amp; d"),
        ("x < 3 and <= 4", "x &lt; 3 and &lt;= 4"),
    ],
)
def test_theme_text_is_html_that_shows_the_text_even_after_striptags(text, html):
    from markupsafe import Markup

    from modeldoc.site.build import plain_text, theme_text

    assert theme_text(text) == html
    assert plain_text(theme_text(text)) == text
    # Material's <title>{{ page.title | striptags }} unescapes: what comes out opens no tag.
    assert not re.search(r"<[A-Za-z/!?]", Markup(theme_text(text)).striptags())


def test_every_nav_title_goes_through_theme_text():
    from torch import nn

    from modeldoc.site.build import model_nav

    key = "<i onmouseover=alert(1)>k</i>"
    module = nn.ModuleDict({key: nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4))})
    spec = collect(module, model_options({"target": "x:Net"}))
    nav = model_nav(spec, "net", page_size=2)

    def titles(entry):
        if isinstance(entry, dict):
            for title, value in entry.items():
                yield title
                yield from titles(value)
        elif isinstance(entry, list):
            for item in entry:
                yield from titles(item)

    found = list(titles(nav))
    shown = "&lt;\u2060i onmouseover=alert(1)&gt;k&lt;\u2060/i&gt;"
    assert found == ["Overview", f"{shown} · part 2 of 3", f"{shown} · part 3 of 3"]


def test_contained_keeps_the_title_heading_outside_the_modeldoc_div():
    from modeldoc.site.build import contained

    page = contained("# Net\n\nSome text.\n\n| a |\n|---|\n| b |\n")
    assert page.startswith('# Net\n\n<div class="modeldoc" markdown="1">\n\nSome text.')
    assert page.endswith("| b |\n\n</div>\n")
    assert contained("No heading.\n").startswith('<div class="modeldoc" markdown="1">')


def test_a_built_site_links_every_continuation_page(tmp_path: Path) -> None:
    model = nn.Sequential(*[nn.Linear(4, 4) for _ in range(25)])
    options = model_options({"target": "x:Wide", "input_shape": [2, 4], "page_size": 10})
    spec = pipeline.describe_module(model, options)
    built = site.build_site(SiteOptions(models=(options,), out=tmp_path / "site", diagrams=False), (spec,))
    assert built.pages == 1 + 3  # the home page, and the model's three
    folder = tmp_path / "site" / "wide"
    main = (folder / "index.html").read_text(encoding="utf-8")
    links = re.findall(r'href="(blocks/[^"#]+-part\d/)"', main)
    assert len(set(links)) == 2
    for link in set(links):
        part = (folder / link / "index.html").read_text(encoding="utf-8")
        assert "More children of" in part
        assert len(re.findall(r'<h[1-6] id="layer-', part)) <= 10


def test_the_docs_tree_holds_each_models_pages_the_stylesheet_and_the_home_page(tmp_path: Path) -> None:
    options = model_options({"target": "tests.models:Tiny", "input_shape": [2, 4], "title": "Tiny one"})
    spec = spec_of("tests.models:Tiny", [2, 4], title="Tiny one")
    nav, count = site.write_docs((spec,), SiteOptions(models=(options,), diagrams=False, site_name="Ours"), tmp_path)
    assert nav == [{"Home": "index.md"}, {"Tiny one": [{"Overview": "tiny-one/index.md"}]}]
    assert count == 2
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()) == [
        "assets/modeldoc.css",
        "index.md",
        "tiny-one/index.md",
    ]
    page = (tmp_path / "tiny-one" / "index.md").read_text(encoding="utf-8")
    assert page.startswith('# Tiny one\n\n<div class="modeldoc" markdown="1">\n') and page.endswith("</div>\n")
    home = (tmp_path / "index.md").read_text(encoding="utf-8")
    assert home.startswith("# Ours\n")
    assert "| [Tiny one](tiny-one/index.md) | <code>tests.models.Tiny</code> | 67 | 2 |" in home
