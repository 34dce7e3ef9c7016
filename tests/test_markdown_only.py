"""``modeldoc build --markdown-only``: plain pages that MkDocs and Zensical both build without the plugin."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

from tests.helpers.run import run
from tests.helpers.sites import article, article_html

FASHION = ["modeldoc.examples.fashion:Network", "--input-shape", "1,1,28,28"]

MKDOCS_YML = """site_name: Plain pages
theme:
  name: material
  font: false
plugins:
  - search
extra_css: [models/assets/modeldoc.css]
markdown_extensions: [admonition, attr_list, md_in_html, tables]
"""


@pytest.fixture
def user_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of the user's: their own home page and mkdocs.yml, no modeldoc plugin."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Our docs\n\nSee [the CNN](models/network/index.md).\n")
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _check_site(site: Path) -> None:
    page = (site / "models" / "network" / "index.html").read_text(encoding="utf-8")
    body = article_html(page)
    text = article(page)
    for layer in ("conv1", "conv2", "fc1", "fc2", "out"):
        assert f'id="layer-{layer}"' in body
    assert "12 × 4 × 4 = 192" in text
    assert "filters × depth × height × width" in text
    diagram = body[body.index('class="modeldoc-diagram"') :]
    assert 'href="#layer-conv1"' in diagram[: diagram.index("</svg>")]
    assert re.search(r'<link[^>]+href="[./]*(models/)?assets/modeldoc\.css"', page), "the stylesheet is linked"
    assert (site / "models" / "assets" / "modeldoc.css").is_file()
    home = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="models/network/"' in home


def test_markdown_pages_build_with_mkdocs_and_with_zensical(cli: Callable[..., Result], user_project: Path) -> None:
    result = cli("build", *FASHION, "--markdown-only", "--docs-dir", "docs/models")
    assert result.exit_code == 0, result.output
    assert "extra_css: [models/assets/modeldoc.css]" in result.output
    assert (user_project / "docs" / "index.md").read_text().startswith("# Our docs")
    written = sorted(
        p.relative_to(user_project / "docs" / "models").as_posix()
        for p in (user_project / "docs" / "models").rglob("*")
        if p.is_file()
    )
    assert written == [".modeldoc-output", "assets/modeldoc.css", "index.md", "network/index.md"]
    assert "<svg" in (user_project / "docs" / "models" / "network" / "index.md").read_text()

    mkdocs = run("mkdocs", "build", "--strict", "--site-dir", "site-mkdocs", cwd=user_project)
    assert mkdocs.returncode == 0, mkdocs.stderr
    _check_site(user_project / "site-mkdocs")

    # Zensical reads the same mkdocs.yml and writes to its site_dir ("site").
    zensical = run("zensical", "build", "--clean", cwd=user_project)
    assert zensical.returncode == 0, zensical.stdout + zensical.stderr
    _check_site(user_project / "site")


def test_markdown_only_rewrites_its_own_folder_and_nothing_else(cli: Callable[..., Result], user_project: Path) -> None:
    assert cli("build", *FASHION, "--markdown-only", "--docs-dir", "docs/models").exit_code == 0
    tiny = ["tests.models:Tiny", "--input-shape", "2,4"]
    models = user_project / "docs" / "models"
    result = cli("build", *tiny, "--markdown-only", "--docs-dir", "docs/models")
    assert result.exit_code == 0, result.output
    assert (models / "tiny" / "index.md").is_file()
    assert not (models / "network").exists(), "the previous pages were replaced, not merged"
    assert (user_project / "docs" / "index.md").read_text().startswith("# Our docs")
    assert sorted(p.name for p in (user_project / "docs").iterdir()) == ["index.md", "models"]


def test_markdown_only_refuses_a_folder_it_did_not_write(cli: Callable[..., Result], user_project: Path) -> None:
    mine = user_project / "docs" / "guide"
    mine.mkdir()
    (mine / "page.md").write_text("# Mine\n")
    result = cli("build", *FASHION, "--markdown-only", "--docs-dir", "docs/guide")
    assert result.exit_code == 1
    assert "docs/guide already holds files that modeldoc did not write" in result.output
    assert [p.name for p in mine.iterdir()] == ["page.md"]
    assert (mine / "page.md").read_text() == "# Mine\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--markdown-only"], "--markdown-only needs --docs-dir"),
        (["--docs-dir", "docs/models"], "--docs-dir only applies to --markdown-only"),
    ],
)
def test_markdown_only_flags_go_together(
    cli: Callable[..., Result], user_project: Path, args: list[str], message: str
) -> None:
    result = cli("build", *FASHION, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert not (user_project / "docs" / "models").exists()
