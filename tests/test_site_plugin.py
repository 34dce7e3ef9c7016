"""site.plugin: the MkDocs plugin, tested through real MkDocs configs and real builds in temporary projects.

Blocks inside admonitions, tabs and lists are in test_embedding.py; ``mkdocs serve`` in test_preview.py.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest
from mkdocs.commands.build import build
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import Abort

from modeldoc import options
from modeldoc.probe import loader
from modeldoc.site import plugin
from tests.helpers import FASHION, REPO
from tests.helpers.run import the_error
from tests.helpers.sites import article, docs_project, mkdocs_config, plugin_yml, site_page, text_of

BLOCK_PAGE = """# Our classifier

Text before the model.

::: modeldoc modeldoc.examples.fashion:Network
    input_shape: [1, 1, 28, 28]
    sections: [overview, diagram, layers]
    depth: 2
    title: The tutorial CNN

Text after the model.

```markdown
::: modeldoc this.is.not:Loaded
    input_shape: [1]
```
"""


def snapshot(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes()) for p in folder.rglob("*")}


def test_config_is_validated_by_mkdocs_and_maps_onto_the_cli_options(tmp_path: Path) -> None:
    docs_project(tmp_path)
    (tmp_path / "tpl").mkdir()
    entry = {"target": FASHION, "input_shape": [1, 1, 28, 28], "title": "CNN", "depth": 3, "sections": ["layers"]}
    cfg = mkdocs_config(tmp_path, {"models": [entry], "custom_templates": "tpl"})
    modeldoc = cfg.plugins["modeldoc"]
    assert isinstance(modeldoc, plugin.ModeldocPlugin)
    assert modeldoc.config.custom_templates == str(tmp_path / "tpl")
    modeldoc.on_config(cfg)
    assert modeldoc.models == (options.model_options(entry),)
    assert modeldoc.models[0].inputs[0].shape == (1, 1, 28, 28)
    assert "attr_list" in cfg.markdown_extensions
    assert "md_in_html" in cfg.markdown_extensions
    assert plugin.ASSET in cfg.extra_css


@pytest.mark.parametrize(
    ("modeldoc", "message"),
    [
        ({"models": [{"input_shape": [1, 4]}]}, "Required configuration not provided"),
        ({"models": [{"target": FASHION, "probe_device": "gpu"}]}, "Expected one of: ('meta', 'cpu')"),
        ({"models": [{"target": FASHION, "sections": ["pictures"]}]}, "Expected one of"),
        ({"custom_templates": "no/such/folder"}, "isn't an existing directory"),
        ({"diagrams": "sometimes"}, "Expected type: <class 'bool'>"),
    ],
)
def test_malformed_plugin_config_is_an_mkdocs_config_error(tmp_path: Path, modeldoc: Any, message: str) -> None:
    docs_project(tmp_path)
    cfg = MkDocsConfig(config_file_path=str(tmp_path / "mkdocs.yml"))
    cfg.load_dict({"site_name": "x", "plugins": [{"modeldoc": modeldoc}]})
    errors, _ = cfg.validate()
    assert errors, "the config should not validate"
    assert message in str(errors[0][1])


def test_unknown_model_key_is_a_warning_that_strict_mode_rejects(tmp_path: Path) -> None:
    docs_project(tmp_path)
    cfg = MkDocsConfig(config_file_path=str(tmp_path / "mkdocs.yml"))
    cfg.load_dict({"site_name": "x", "plugins": [{"modeldoc": {"models": [{"target": FASHION, "colour": "red"}]}}]})
    errors, warnings = cfg.validate()
    assert errors == []
    assert "colour" in str(warnings)


def test_a_block_renders_the_model_in_place_and_fenced_blocks_stay_code(tmp_path: Path) -> None:
    docs_project(tmp_path, {"index.md": BLOCK_PAGE})
    build(mkdocs_config(tmp_path, strict=True))
    page = site_page(tmp_path, "index.html")
    text = article(page)
    assert text.index("Text before the model.") < text.index("The tutorial CNN") < text.index("Text after the model.")
    # The model's sections are headings of this page, below the page's own title.
    assert re.search(r'<h2 id="the-tutorial-cnn"', page)
    for layer in ("conv1", "conv2", "fc1", "fc2", "out"):
        assert f'id="layer-{layer}"' in page
    assert "12 × 4 × 4 = 192" in text
    # The diagram is inline SVG whose nodes and the layer table link into this page.
    diagram = page[page.index('class="modeldoc-diagram"') :]
    assert 'href="#layer-fc1"' in diagram[: diagram.index("</svg>")]
    assert 'href="#layer-fc1"' in page[: page.index('class="modeldoc-diagram"')] or page.count('href="#layer-fc1"') > 1
    assert "index.md#" not in page
    # The block inside fenced code is shown as code, not loaded.
    assert "::: modeldoc this.is.not:Loaded" in text
    assert 'href="assets/modeldoc.css"' in page
    assert (tmp_path / "site" / "assets" / "modeldoc.css").is_file()


def test_heading_level_and_options_of_a_block(tmp_path: Path) -> None:
    block = "::: modeldoc tests.models:Tiny\n    input_shape: [2, 4]\n    heading_level: 3\n    sections: [layers]\n"
    page = f"# Title\n\n{block}"
    docs_project(tmp_path, {"index.md": page})
    build(mkdocs_config(tmp_path, strict=True))
    out = site_page(tmp_path, "index.html")
    assert re.search(r'<h3 id="tiny"', out)
    assert 'id="layer-fc1"' in out
    assert "modeldoc-diagram" not in out, "sections without diagram leave it out"


def test_two_models_on_one_page_get_distinct_ids_and_links(tmp_path: Path) -> None:
    blocks = [
        "::: modeldoc tests.models:Tiny\n    input_shape: [2, 4]\n",
        "::: modeldoc tests.models:make_tiny\n    input_shape: [2, 4]\n    kwargs: {width: 5}\n    title: Wide\n",
    ]
    docs_project(tmp_path, {"index.md": "# Two models\n\n" + "\n".join(blocks)})
    build(mkdocs_config(tmp_path, strict=True))
    page = site_page(tmp_path, "index.html")
    ids = re.findall(r' id="([^"]+)"', page)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, duplicates
    assert 'id="layer-fc1"' in page and 'id="m2-layer-fc1"' in page
    # Each model's diagrams and tables link to its own sections.
    content = page[page.index("<article") : page.index("</article>")]
    first, second = content[: content.index('id="wide"')], content[content.index('id="wide"') :]
    assert 'href="#layer-fc1"' in first and 'href="#m2-layer-' not in first
    assert 'href="#m2-layer-fc1"' in second[second.index("modeldoc-diagram") :]
    assert 'href="#layer-' not in second


def test_without_layer_sections_nothing_links_to_them(tmp_path: Path) -> None:
    block = "::: modeldoc tests.models:Tiny\n    input_shape: [2, 4]\n    sections: [overview, diagram, dataflow]\n"
    docs_project(tmp_path, {"index.md": "# Title\n\n" + block})
    build(mkdocs_config(tmp_path, strict=True))
    page = site_page(tmp_path, "index.html")
    assert "modeldoc-diagram" in page
    assert 'href="#layer-' not in page
    assert 'id="layer-' not in page


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("::: modeldoc no.such.module:Net\n", "cannot load 'no.such.module:Net': no module named 'no'"),
        ("::: modeldoc tests.models:Tiny\n    input_shape: [1, x]\n", "which is not a whole number"),
        ("::: modeldoc tests.models:Tiny\n    colour: red\n", "unknown option 'colour'"),
        ("::: modeldoc tests.models:Tiny\n    input_shape: [1, 4\n", "are not valid YAML"),
        ("::: modeldoc tests.models:Tiny\n    heading_level: 9\n", "give a whole number from 1 to 6"),
        ("::: modeldoc\n", "target None"),
    ],
)
def test_a_bad_block_stops_the_build_with_one_clear_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, block: str, message: str
) -> None:
    docs_project(tmp_path, {"guide/net.md": f"# Net\n\n{block}"})
    with caplog.at_level(logging.ERROR, logger="mkdocs"), pytest.raises(Abort):
        build(mkdocs_config(tmp_path))
    # MkDocs logs which page failed, then the plugin's one-line message.
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors[0] == "Error reading page 'guide/net.md':"
    assert len(errors) == 2, errors
    assert message in errors[1]
    assert "line 3 of guide/net.md" in errors[1]
    assert "\n" not in errors[1]


def test_models_get_generated_pages_in_the_nav_and_docs_is_untouched(tmp_path: Path) -> None:
    docs = docs_project(tmp_path, {"index.md": "# Home\n", "about.md": "# About\n"})
    before = snapshot(docs)
    models = [
        {"target": FASHION, "input_shape": [1, 1, 28, 28], "title": "Fashion CNN", "slug": "fashion"},
        {"target": "tests.models:TextLSTM", "input_shape": [1, "L=7"], "input_dtype": "long"},
    ]
    build(mkdocs_config(tmp_path, {"models": models}, strict=True))
    assert snapshot(docs) == before, "the plugin wrote into docs/"
    page = site_page(tmp_path, "models/fashion/index.html")
    assert 'id="layer-conv1"' in page
    assert "12 × 4 × 4 = 192" in article(page)
    assert 'href="../../assets/modeldoc.css"' in page
    assert 'id="layer-lstm"' in site_page(tmp_path, "models/textlstm/index.html")
    # One "Models" section after the user's pages, with the index of models first.
    home = site_page(tmp_path, "index.html")
    nav = re.findall(r'<a href="([^"]+)" class="md-nav__link', home)
    assert nav.index("about/") < nav.index("models/") < nav.index("models/fashion/") < nav.index("models/textlstm/")
    assert "Models" in text_of(home)
    index = article(site_page(tmp_path, "models/index.html"))
    assert "Fashion CNN" in index
    assert "32,998" in index


def test_an_explicit_nav_gets_the_models_section_appended(tmp_path: Path) -> None:
    docs_project(tmp_path, {"index.md": "# Home\n", "about.md": "# About\n"})
    models = [{"target": "tests.models:Tiny", "input_shape": [2, 4]}]
    cfg = mkdocs_config(
        tmp_path, {"models": models, "nav_section": "Architectures"}, nav=[{"Start": "index.md"}], strict=True
    )
    build(cfg)
    home = site_page(tmp_path, "index.html")
    nav = re.findall(r'<a href="([^"]+)" class="md-nav__link', home)
    assert "about/" not in nav, "pages the user left out of their nav stay out"
    assert "models/tiny/" in nav
    assert "Architectures" in text_of(home)


def test_generated_pages_may_not_replace_a_user_page(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    docs_project(tmp_path, {"index.md": "# Home\n", "models/tiny/index.md": "# Mine\n"})
    with caplog.at_level(logging.ERROR, logger="mkdocs"), pytest.raises(Abort):
        build(mkdocs_config(tmp_path, {"models": [{"target": "tests.models:Tiny"}]}))
    assert "the docs already hold models/tiny/index.md" in caplog.text


def test_models_fall_back_to_pyproject(tmp_path: Path) -> None:
    docs_project(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.modeldoc.models]]\ntarget = "tests.models:Tiny"\ntitle = "Tiny one"\ninput_shape = [2, 4]\n',
        encoding="utf-8",
    )
    build(mkdocs_config(tmp_path, strict=True))
    assert 'id="layer-fc2"' in site_page(tmp_path, "models/tiny-one/index.html")
    # An explicitly empty list means no generated pages at all.
    build(mkdocs_config(tmp_path, {"models": []}, strict=True))
    assert not (tmp_path / "site" / "models").exists()


def test_custom_templates_override_one_block(tmp_path: Path) -> None:
    docs_project(tmp_path, {"index.md": "# Home\n\n::: modeldoc tests.models:Tiny\n    input_shape: [2, 4]\n"})
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "layer.md.jinja").write_text(
        '{% extends "base/layer.md.jinja" %}\n{% block summary %}\nReviewed layer {{ layer.path|code }}.\n\n'
        "{{ super() }}{% endblock %}\n",
        encoding="utf-8",
    )
    build(mkdocs_config(tmp_path, {"custom_templates": "templates"}, strict=True))
    text = article(site_page(tmp_path, "index.html"))
    assert "Reviewed layer fc1 ." in text
    assert "Reviewed layer fc2 ." in text
    assert "in_features" in text, "the other blocks are the shipped ones"
    # Pages are reused across builds only while the templates are unchanged.
    (templates / "layer.md.jinja").write_text(
        '{% extends "base/layer.md.jinja" %}\n{% block summary %}\nChecked layer {{ layer.path|code }}.\n\n'
        "{{ super() }}{% endblock %}\n",
        encoding="utf-8",
    )
    build(mkdocs_config(tmp_path, {"custom_templates": "templates"}, strict=True))
    text = article(site_page(tmp_path, "index.html"))
    assert "Checked layer fc1 ." in text
    assert "Reviewed layer" not in text


def test_strict_build_fails_on_a_modeldoc_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    docs_project(
        tmp_path, {"index.md": "# Home\n\n::: modeldoc tests.models:Broken\n    input_shape: [1, 1, 28, 28]\n"}
    )
    with caplog.at_level(logging.WARNING, logger="mkdocs"), pytest.raises(Abort, match="in strict mode"):
        build(mkdocs_config(tmp_path, strict=True))
    warnings = [r for r in caplog.records if r.name == "mkdocs.plugins.modeldoc" and r.levelno == logging.WARNING]
    assert warnings
    # The warning names the page (relative to mkdocs.yml) and the line of the block.
    assert warnings[0].getMessage().startswith("docs/index.md:3: tests.models:Broken: ")
    # Without --strict the page is built, with the probe's error on it.
    caplog.clear()
    build(mkdocs_config(tmp_path))
    assert "Shape probe" in site_page(tmp_path, "index.html")


def _counting_loads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The targets modeldoc loads from now on (each load is a fresh description)."""
    calls: list[str] = []
    real = loader.load_model

    def counting(target: str, kwargs: Any = None) -> Any:
        calls.append(target)
        return real(target, kwargs)

    monkeypatch.setattr(loader, "load_model", counting)
    plugin.forget_descriptions()
    return calls


def test_each_model_is_described_once_and_reused_by_later_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = _counting_loads(monkeypatch)
    block = "::: modeldoc tests.models:Tiny\n    input_shape: [2, 4]\n    sections: [{}]\n"
    docs_project(
        tmp_path, {"index.md": "# A\n\n" + block.format("layers"), "b.md": "# B\n\n" + block.format("overview")}
    )
    models = {"models": [{"target": "tests.models:Tiny", "input_shape": [2, 4]}]}
    build(mkdocs_config(tmp_path, models, strict=True))
    assert calls == ["tests.models:Tiny"]
    with caplog.at_level(logging.INFO, logger="mkdocs.plugins.modeldoc"):
        build(mkdocs_config(tmp_path, models, strict=True))
    assert calls == ["tests.models:Tiny"], "a later build reuses the description: its sources did not change"
    reused = [r.getMessage() for r in caplog.records if "reused the description" in r.getMessage()]
    assert reused == ["modeldoc: reused the description of tests.models:Tiny; its sources did not change"]
    assert 'id="layer-fc1"' in site_page(tmp_path, "models/tiny/index.html")
    # Other inputs are another description.
    build(mkdocs_config(tmp_path, {"models": [{"target": "tests.models:Tiny", "input_shape": [3, 4]}]}, strict=True))
    assert calls == ["tests.models:Tiny", "tests.models:Tiny"]


HELPER = """from torch import nn


def make_layer():
    return nn.Linear(4, {out})
"""

USES_HELPER = """from torch import nn

from {helper} import make_layer


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = make_layer()

    def forward(self, x):
        return self.fc(x)
"""


def test_an_edited_helper_module_is_imported_afresh_and_the_model_described_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_loads(monkeypatch)
    helper = f"helper_{tmp_path.name.replace('-', '_')}"
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / f"{helper}.py").write_text(HELPER.format(out=10), encoding="utf-8")
    (tmp_path / "src" / "net.py").write_text(USES_HELPER.format(helper=helper), encoding="utf-8")
    target = f"{tmp_path / 'src' / 'net.py'}:Net"
    docs_project(tmp_path, {"index.md": f"# Home\n\n::: modeldoc {target}\n    input_shape: [1, 4]\n"})
    build(mkdocs_config(tmp_path, strict=True))
    assert "out_features=10" in site_page(tmp_path, "index.html")
    (tmp_path / "docs" / "index.md").write_text(f"# Home again\n\n::: modeldoc {target}\n    input_shape: [1, 4]\n")
    build(mkdocs_config(tmp_path, strict=True))
    assert calls == [target], "a docs-only edit reuses the description"
    assert "Home again" in site_page(tmp_path, "index.html")
    # The model file did not change, only the module it imports.
    (tmp_path / "src" / f"{helper}.py").write_text(HELPER.format(out=7), encoding="utf-8")
    build(mkdocs_config(tmp_path, strict=True))
    assert calls == [target, target]
    page = site_page(tmp_path, "index.html")
    assert "out_features=7" in page
    assert "out_features=10" not in page


def test_the_repository_mkdocs_yml_uses_the_plugin() -> None:
    from mkdocs.config import load_config

    cfg = load_config(config_file=str(REPO / "mkdocs.yml"))
    assert "modeldoc" in cfg.plugins
    assert cfg.plugins["modeldoc"].config.models is None, "the models come from pyproject.toml"
    table = options.read_pyproject(REPO / "pyproject.toml")
    assert table is not None
    assert any(m["target"] == FASHION for m in table["models"])


def test_bare_build_builds_the_projects_mkdocs_yml(cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs_project(tmp_path)
    (tmp_path / "mkdocs.yml").write_text(plugin_yml("tests.models:Tiny"), encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text('[[tool.modeldoc.models]]\ntarget = "tests.models:Broken"\n')
    monkeypatch.chdir(tmp_path)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert f"from mkdocs.yml into {tmp_path / 'site'}" in result.output
    assert 'id="layer-fc1"' in site_page(tmp_path, "models/tiny/index.html")
    assert "Welcome." in site_page(tmp_path, "index.html"), "the project's own pages are part of the site"
    assert (tmp_path / "site" / ".modeldoc-output").is_file()
    assert cli("build", "--out", "elsewhere").exit_code == 0
    assert (tmp_path / "elsewhere" / "models" / "tiny" / "index.html").is_file()


def test_bare_build_refuses_a_site_folder_it_did_not_write(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs_project(tmp_path)
    (tmp_path / "mkdocs.yml").write_text(plugin_yml("tests.models:Tiny"), encoding="utf-8")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "notes.txt").write_text("mine")
    monkeypatch.chdir(tmp_path)
    result = cli("build")
    assert result.exit_code == 1
    assert "site already holds files that modeldoc did not write" in result.output
    assert [p.name for p in (tmp_path / "site").iterdir()] == ["notes.txt"]


def test_bare_build_reports_a_plugin_error_in_one_line(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs_project(tmp_path)
    (tmp_path / "mkdocs.yml").write_text(plugin_yml("tests.models:Nope"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = cli("build")
    assert result.exit_code == 1
    error = the_error(result.output)
    assert "MkDocs could not build" in error
    assert "has no attribute 'Nope'" in error
    assert not (tmp_path / "site").exists()


def test_bare_build_without_the_plugin_builds_the_pyproject_models(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "mkdocs.yml").write_text("site_name: Not ours\nplugins: [search]\n", encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.modeldoc]\nout = "built"\n\n[[tool.modeldoc.models]]\ntarget = "tests.models:Tiny"\n'
        "input_shape = [2, 4]\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    result = cli("build")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "built" / "tiny" / "index.html").is_file()
