"""``:::`` blocks where a writer puts them (admonitions, content tabs, lists, comments), the
``paths:`` option, and config-mode builds that alternate with ``mkdocs build`` on one ``site/``.

Every site here is built for real: MkDocs' ``build`` with Material and pymdown-extensions, and
the ``mkdocs`` / ``modeldoc`` commands as subprocesses where the command matters.
"""

from __future__ import annotations

import logging
import re
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from mkdocs.commands.build import build
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort

from modeldoc.site.build import MARKER
from tests.helpers import TESTS
from tests.helpers.run import run
from tests.helpers.sites import article_html, docs_project, mkdocs_config, plugin_yml, site_page

TINY = "tests.models:Tiny"


def extensions() -> list[Any]:
    """Material's usual extensions for admonitions, collapsible blocks and content tabs (a new list:
    MkDocs consumes it)."""
    return ["admonition", "pymdownx.details", "pymdownx.superfences", {"pymdownx.tabbed": {"alternate_style": True}}]


def build_page(root: Path, page: str, modeldoc: dict[str, Any] | None = None, *, strict: bool = True) -> str:
    """Build a one-page project with `page` as docs/index.md; returns the page's <article> HTML."""
    docs_project(root, {"index.md": page})
    build(mkdocs_config(root, modeldoc, site_name="Embedding", markdown_extensions=extensions(), strict=strict))
    return article_html(site_page(root, "index.html"))


class _Tree(HTMLParser):
    """The element tree of an HTML fragment, as (tag, classes, id, children, text)."""

    VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "col", "path", "polygon", "ellipse", "stop"})

    def __init__(self) -> None:
        super().__init__()
        self.root: dict[str, Any] = {"tag": "root", "class": "", "id": "", "children": [], "text": ""}
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        node = {"tag": tag, "class": found.get("class") or "", "id": found.get("id") or "", "children": [], "text": ""}
        self.stack[-1]["children"].append(node)
        if tag not in self.VOID:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for node in self.stack:
            node["text"] += data


def tree(fragment: str) -> dict[str, Any]:
    parser = _Tree()
    parser.feed(fragment)
    return parser.root


def find(node: dict[str, Any], css_class: str) -> list[dict[str, Any]]:
    """Every element below `node` that has `css_class`."""
    out = []
    for child in node["children"]:
        if css_class in child["class"].split():
            out.append(child)
        out += find(child, css_class)
    return out


def ids_in(node: dict[str, Any]) -> set[str]:
    return {node["id"]} - {""} | {i for child in node["children"] for i in ids_in(child)}


def block(indent: str, *options: str, target: str = TINY) -> str:
    lines = [f"{indent}::: modeldoc {target}", *(f"{indent}    {o}" for o in ("input_shape: [2, 4]", *options))]
    return "\n".join(lines) + "\n"


def test_a_block_inside_an_admonition_renders_inside_it(tmp_path: Path) -> None:
    page = '# Page\n\n!!! note "The model"\n    Before.\n\n' + block("    ") + "\n    After.\n\nOutside.\n"
    article = build_page(tmp_path, page)
    (note,) = find(tree(article), "admonition")
    assert "note" in note["class"]
    # The whole model, with its sections and diagram, sits in the admonition, between its lines.
    (model,) = find(note, "modeldoc")
    assert {"layer-fc1", "layer-fc2", "overview", "module-tree"} <= ids_in(model)
    assert find(model, "modeldoc-diagram")
    assert note["text"].index("Before.") < note["text"].index("in_features") < note["text"].index("After.")
    assert "Outside." not in note["text"]
    assert "::: modeldoc" not in article


def test_blocks_inside_content_tabs_render_in_their_tab(tmp_path: Path) -> None:
    page = (
        '# Page\n\n=== "Layers"\n\n'
        + block("    ", "sections: [layers]")
        + '\n=== "Diagram"\n\n'
        + block("    ", "sections: [diagram]")
        + '\n=== "Prose"\n\n    Just words.\n'
    )
    article = build_page(tmp_path, page)
    tabs = find(tree(article), "tabbed-block")
    assert len(tabs) == 3
    first, second, third = tabs
    assert "layer-fc1" in ids_in(first)
    assert not find(first, "modeldoc-diagram")
    assert find(second, "modeldoc-diagram")
    assert "m2-layer-fc1" not in ids_in(second), "the diagram tab has no layer sections"
    assert "Just words." in third["text"]
    assert not find(third, "modeldoc")


def test_a_block_in_a_list_item_and_in_a_collapsible_block(tmp_path: Path) -> None:
    page = (
        "# Page\n\n1. First step.\n\n"
        + block("    ", "sections: [layers]")
        + '\n2. Second step.\n\n??? example "Folded"\n\n'
        + block("    ", "sections: [overview]")
    )
    article = build_page(tmp_path, page)
    (root,) = tree(article)["children"]  # the <article>
    (ordered,) = [n for n in root["children"] if n["tag"] == "ol"]
    items = [n for n in ordered["children"] if n["tag"] == "li"]
    assert len(items) == 2, "the block did not break the list"
    assert "layer-fc1" in ids_in(items[0])
    assert "Second step." in items[1]["text"]
    (details,) = [n for n in root["children"] if n["tag"] == "details"]
    assert "Parameters" in details["text"] and find(details, "modeldoc")


@pytest.mark.parametrize(
    "comment",
    [
        "<!-- ::: modeldoc no.such:Model -->\n",
        "<!--\n::: modeldoc no.such:Model\n    input_shape: [1]\n-->\n",
        "<!-- a note\n\n::: modeldoc no.such:Model\n\nstill the note -->\n",
        "Text <!-- starts here\n::: modeldoc no.such:Model\nand ends --> here.\n",
    ],
    ids=["one-line", "multi-line", "with-blank-lines", "inline-start"],
)
def test_a_block_inside_an_html_comment_is_left_alone(tmp_path: Path, comment: str) -> None:
    page = f"# Page\n\n{comment}\n" + block("")
    article = build_page(tmp_path, page)
    # The commented block was not loaded (it would fail: no such module); the real one was.
    assert "layer-fc1" in article
    assert "no.such" not in re.sub(r"<!--.*?-->", "", article, flags=re.DOTALL)


def test_a_comment_opener_in_inline_code_opens_no_comment(tmp_path: Path) -> None:
    article = build_page(tmp_path, "# Page\n\nWrite `<!--` to start a comment.\n\n" + block(""))
    assert "layer-fc1" in article


@pytest.mark.parametrize(
    ("page", "line"),
    [
        ("# Page\n\n> ::: modeldoc tests.models:Tiny\n", 3),
        ("# Page\n\n- ::: modeldoc tests.models:Tiny\n", 3),
        ("# Page\n\n| a |\n|---|\n| ::: modeldoc tests.models:Tiny |\n", 5),
    ],
    ids=["blockquote", "list-marker-line", "table"],
)
def test_a_block_where_it_cannot_be_expanded_fails_strict_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, page: str, line: int
) -> None:
    with caplog.at_level(logging.WARNING, logger="mkdocs"), pytest.raises(Abort, match="in strict mode"):
        build_page(tmp_path, page)
    warnings = [r.getMessage() for r in caplog.records if r.name == "mkdocs.plugins.modeldoc"]
    assert warnings == [
        f"docs/index.md:{line}: this ::: modeldoc line is left as text; start the block on a line of its own, "
        "indented to sit inside an admonition, a content tab or a list item"
    ]


def test_a_block_inside_raw_html_fails_strict_mode_and_shows_as_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    page = '# Page\n\n<div class="box">\n' + block("") + "</div>\n"
    with caplog.at_level(logging.WARNING, logger="mkdocs"), pytest.raises(Abort, match="in strict mode"):
        build_page(tmp_path, page)
    warnings = [r.getMessage() for r in caplog.records if r.name == "mkdocs.plugins.modeldoc"]
    assert warnings == [
        "docs/index.md:4: this ::: modeldoc block cannot be expanded where it stands (inside raw HTML or a "
        "table?); move it to a line of its own in Markdown"
    ]
    caplog.clear()
    article = build_page(tmp_path, page, strict=False)
    assert "::: modeldoc tests.models:Tiny" in article, "shown as the text it was, not as a placeholder"
    assert "modeldocblock" not in article


def test_a_warning_names_the_page_and_line_of_each_block_that_uses_the_model(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = block("", target="tests.models:Broken").replace("[2, 4]", "[1, 1, 28, 28]")
    nested = block("    ", target="tests.models:Broken").replace("[2, 4]", "[1, 1, 28, 28]")
    page = f"# Page\n\n{broken}\n!!! note\n\n{nested}"
    with caplog.at_level(logging.WARNING, logger="mkdocs"):
        build_page(tmp_path, page, strict=False)
    warnings = [r.getMessage() for r in caplog.records if r.name == "mkdocs.plugins.modeldoc"]
    assert [w.split(": ", 2)[:2] for w in warnings] == [
        ["docs/index.md:3", "tests.models:Broken"],
        ["docs/index.md:8", "tests.models:Broken"],
    ]
    assert all("the forward pass failed in fc1" in w for w in warnings)


PACKAGE_MODEL = '''"""A model in a package under src/, which is not importable from the project folder."""

from torch import nn

from .parts import WIDTH


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, WIDTH)

    def forward(self, x):
        return self.fc(x)
'''


def _src_package(root: Path, name: str) -> None:
    package = root / "src" / name
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "parts.py").write_text("WIDTH = 13\n")
    (package / "models.py").write_text(PACKAGE_MODEL)


def test_paths_put_folders_on_sys_path_for_the_import_only(tmp_path: Path) -> None:
    name = f"pkg_{tmp_path.name.replace('-', '_')}"
    _src_package(tmp_path, name)
    before = list(sys.path)
    article = build_page(tmp_path, block("", target=f"{name}.models:Net"), {"paths": ["src"]})
    assert "out_features=13" in article
    assert sys.path == before, "the folder is taken off sys.path after the import"


def test_without_paths_the_target_cannot_be_imported(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    name = f"pkg_{tmp_path.name.replace('-', '_')}"
    _src_package(tmp_path, name)
    with caplog.at_level(logging.ERROR, logger="mkdocs"), pytest.raises(Abort):
        build_page(tmp_path, block("", target=f"{name}.models:Net"))
    assert f"no module named '{name}'" in caplog.text


def test_a_paths_folder_that_does_not_exist_is_a_config_error(tmp_path: Path) -> None:
    cfg = MkDocsConfig(config_file_path=str(tmp_path / "mkdocs.yml"))
    cfg.load_dict({"site_name": "x", "plugins": [{"modeldoc": {"paths": ["nowhere"]}}]})
    errors, _ = cfg.validate()
    assert errors
    assert "isn't an existing directory" in str(errors[0][1])


# Config mode: `modeldoc build` (no target, the project's mkdocs.yml) and `mkdocs build` on one site/.


@pytest.fixture
def plugin_project(tmp_path: Path) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "index.md").write_text("# Home\n\nWelcome.\n")
    (tmp_path / "mkdocs.yml").write_text(plugin_yml(f"{TESTS / 'models.py'}:Tiny"))
    return tmp_path


def _built_by(root: Path, command: str) -> None:
    site = root / "site"
    assert (site / "models" / "tiny" / "index.html").is_file(), f"{command} built no model page"
    assert "Welcome." in (site / "index.html").read_text()
    assert (site / MARKER).is_file(), f"{command} left the site unmarked"


@pytest.mark.slow
@pytest.mark.parametrize("order", [("mkdocs", "modeldoc"), ("modeldoc", "mkdocs")], ids="-then-".join)
def test_modeldoc_build_and_mkdocs_build_alternate_on_one_site(plugin_project: Path, order: tuple[str, str]) -> None:
    for command in (*order, *order):
        result = run(command, "build", cwd=plugin_project)
        assert result.returncode == 0, f"{command} build failed:\n{result.stdout}\n{result.stderr}"
        _built_by(plugin_project, command)


@pytest.mark.slow
def test_mkdocs_build_leaves_a_site_with_hidden_files_of_someone_else_unmarked(
    plugin_project: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = plugin_project / "site"
    site.mkdir()
    (site / ".git").write_text("gitdir: ../.git/worktrees/gh-pages\n")
    result = run("mkdocs", "build", cwd=plugin_project)
    assert result.returncode == 0, result.stderr
    assert (site / "models" / "tiny" / "index.html").is_file()
    assert not (site / MARKER).exists(), "a folder that holds someone else's files is not marked"
    monkeypatch.chdir(plugin_project)
    refused = cli("build")
    assert refused.exit_code == 1
    assert "already holds files that modeldoc did not write" in refused.output
    assert (site / ".git").read_text() == "gitdir: ../.git/worktrees/gh-pages\n"


def test_mkdocs_build_marks_a_new_site_folder(plugin_project: Path) -> None:
    from mkdocs.config import load_config

    cfg = load_config(config_file=str(plugin_project / "mkdocs.yml"))
    build(cfg)
    assert (plugin_project / "site" / MARKER).is_file()
