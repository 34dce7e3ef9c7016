"""site.cache: a build reuses a saved description while the model is unchanged, by default, never a stale one.

Every test has a cache folder of its own (``MODELDOC_CACHE_DIR``, set by the ``_own_cache_folder``
fixture in conftest.py). The model writes a line to ``built.log`` each time it is built, so a
test tells a reuse from a new description by the file, not by timing.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.run import Server, run
from tests.helpers.sites import article, docs_project, plugin_yml, text_of

MODEL = '''
from pathlib import Path
from typing import Any

import torch
from torch import nn


class Counted(nn.Module):
    """A model that notes each time it is built, so a test can tell a reuse from a new description."""

    def __init__(self) -> None:
        super().__init__()
        with Path("built.log").open("a") as log:
            log.write("built\\n")
        self.fc = nn.Linear(4, WIDTH)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)
'''


def write_model(folder: Path, width: int) -> None:
    (folder / "counted.py").write_text(MODEL.replace("WIDTH", str(width)), encoding="utf-8")


def build(folder: Path, *extra: str) -> tuple[str, str]:
    """`modeldoc build` of the counted model in `folder`: the model page's HTML and the command's stderr."""
    done = run("modeldoc", "build", "counted.py:Counted", "--input-shape", "2,4", "--no-diagrams", *extra, cwd=folder)
    assert done.returncode == 0, done.stderr
    return (folder / "site" / "counted" / "index.html").read_text(encoding="utf-8"), done.stderr


def shown(page: str) -> str:
    return text_of(article(page))


def times_built(folder: Path) -> int:
    return (folder / "built.log").read_text(encoding="utf-8").count("built")


def entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("*.record.json"))


@pytest.mark.slow
def test_a_second_build_reuses_the_description_by_default_and_shows_the_same_site(
    tmp_path: Path, _own_cache_folder: Path
) -> None:
    write_model(tmp_path, 3)
    first, _ = build(tmp_path)
    assert times_built(tmp_path) == 1
    assert len(entries(_own_cache_folder)) == 1
    second, said = build(tmp_path, "-v")
    assert times_built(tmp_path) == 1, "the unchanged model was not built again"
    assert "reusing the saved description of counted.py:Counted" in said
    assert second == first, "the reused description builds the very same page"
    assert "Linear(in_features=4, out_features=3, bias=True)" in shown(second)
    # the cache lives in modeldoc's folder: the working folder holds the user's files and the site only
    assert {p.name for p in tmp_path.iterdir()} <= {"counted.py", "built.log", "site", "__pycache__"}


@pytest.mark.slow
def test_a_changed_source_is_described_afresh(tmp_path: Path, _own_cache_folder: Path) -> None:
    write_model(tmp_path, 3)
    build(tmp_path)
    write_model(tmp_path, 5)
    changed, _ = build(tmp_path)
    assert times_built(tmp_path) == 2
    assert "Linear(in_features=4, out_features=5, bias=True)" in shown(changed)
    assert "out_features=3" not in changed
    build(tmp_path)
    assert times_built(tmp_path) == 2, "the entry of the changed source is reused in turn"


def _fake_description(data: Path, record: Path) -> None:
    data.write_text('{"schema": "modeldoc/1", "model": {"name": "Fake"}}', encoding="utf-8")


def _truncated(data: Path, record: Path) -> None:
    data.write_bytes(data.read_bytes()[:100])


def _record_not_json(data: Path, record: Path) -> None:
    record.write_text("{not json", encoding="utf-8")


def _other_format(data: Path, record: Path) -> None:
    saved = json.loads(record.read_text(encoding="utf-8"))
    record.write_text(json.dumps({**saved, "format": "modeldoc-cache/0"}), encoding="utf-8")


def _consistent_lie(data: Path, record: Path) -> None:
    """A description whose checksum matches but whose sources were recorded other than they are."""
    saved = json.loads(record.read_text(encoding="utf-8"))
    saved["sources"] = dict.fromkeys(saved["sources"], "0" * 40)
    record.write_text(json.dumps(saved), encoding="utf-8")


def _data_gone(data: Path, record: Path) -> None:
    data.unlink()


class _Planted:
    """What a hostile pickle holds: loading it would make the folder ``planted`` (if it were ever run)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.folder / "planted"),))


def _code_with_its_checksum(data: Path, record: Path) -> None:
    """A pickle that runs code when loaded, with the record's checksum made to match it."""
    raw = pickle.dumps(_Planted(data.parent))
    data.write_bytes(raw)
    saved = json.loads(record.read_text(encoding="utf-8"))
    record.write_text(json.dumps({**saved, "checksum": hashlib.sha256(raw).hexdigest()}), encoding="utf-8")


@pytest.mark.slow
def test_a_corrupt_or_stale_entry_is_described_afresh_and_replaced_never_shown(
    tmp_path: Path, _own_cache_folder: Path
) -> None:
    write_model(tmp_path, 3)
    build(tmp_path)
    built = 1
    damages = (_fake_description, _truncated, _record_not_json, _other_format, _consistent_lie, _data_gone)
    for damage in (*damages, _code_with_its_checksum):
        [record] = entries(_own_cache_folder)
        damage(record.with_name(record.name.replace(".record.json", ".pickle")), record)
        page, _ = build(tmp_path)
        built += 1
        assert times_built(tmp_path) == built, f"{damage.__name__}: the damaged entry was used"
        assert "Linear(in_features=4, out_features=3, bias=True)" in shown(page), damage.__name__
        assert "Fake" not in page
        assert len(entries(_own_cache_folder)) == 1, "the entry was replaced, not added to"
    assert not (_own_cache_folder / "planted").exists(), "reading an entry runs no code"
    build(tmp_path)
    assert times_built(tmp_path) == built, "the replaced entry is reused"


@pytest.mark.slow
def test_no_cache_neither_saves_nor_reuses(tmp_path: Path, _own_cache_folder: Path) -> None:
    write_model(tmp_path, 3)
    build(tmp_path, "--no-cache")
    build(tmp_path, "--no-cache")
    assert times_built(tmp_path) == 2
    assert list(_own_cache_folder.iterdir()) == []
    build(tmp_path)  # on again: describes (nothing was saved), then saves
    build(tmp_path)
    assert times_built(tmp_path) == 3


@pytest.mark.slow
def test_the_plugin_reuses_a_saved_description_by_default_and_not_with_cache_false(
    tmp_path: Path, _own_cache_folder: Path
) -> None:
    write_model(tmp_path, 3)
    docs_project(tmp_path)
    yml = plugin_yml("counted:Counted").replace("  - modeldoc:\n", "  - modeldoc:\n      paths: ['.']\n")
    (tmp_path / "mkdocs.yml").write_text(yml, encoding="utf-8")
    for _ in range(2):
        done = run("mkdocs", "build", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert times_built(tmp_path) == 1
    assert len(entries(_own_cache_folder)) == 1
    page = next((tmp_path / "site").rglob("counted/index.html")).read_text(encoding="utf-8")
    assert "Linear(in_features=4, out_features=3, bias=True)" in shown(page)
    off = yml.replace("  - modeldoc:\n", "  - modeldoc:\n      cache: false\n")
    (tmp_path / "mkdocs.yml").write_text(off, encoding="utf-8")
    done = run("mkdocs", "build", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert times_built(tmp_path) == 2, "cache: false describes afresh"


@pytest.mark.slow
def test_serve_starts_from_the_saved_description_and_a_docs_only_edit_reuses_it(
    tmp_path: Path, _own_cache_folder: Path
) -> None:
    write_model(tmp_path, 3)
    page = "# Home\n\nFirst words.\n\n::: modeldoc counted:Counted\n    input_shape: [2, 4]\n"
    docs_project(tmp_path, {"index.md": page})
    yml = "site_name: Serve\ntheme:\n  name: material\n  font: false\nplugins:\n  - search\n  - modeldoc:\n"
    (tmp_path / "mkdocs.yml").write_text(yml + "      paths: ['.']\n", encoding="utf-8")
    done = run("modeldoc", "build", cwd=tmp_path)  # the project's own build saves the description
    assert done.returncode == 0, done.stderr
    assert times_built(tmp_path) == 1
    with Server("mkdocs", cwd=tmp_path) as server:
        server.wait_for("Serving on")
        assert "out_features=3" in server.get()
        assert times_built(tmp_path) == 1, "serve's first build reused the saved description"
        assert any("reused the saved description of counted:Counted" in line for line in server.lines)
        (tmp_path / "docs" / "index.md").write_text(page.replace("First words.", "Second words."))
        server.wait_until(lambda: server.builds() >= 2)
        server.wait_until(lambda: "Second words." in server.get(), timeout=30)
        assert "out_features=3" in server.get()
        assert times_built(tmp_path) == 1, "a docs-only edit rebuilds without describing the model"
        write_model(tmp_path, 7)
        server.wait_until(lambda: "out_features=7" in server.get(), timeout=60)
        time.sleep(1)
        assert times_built(tmp_path) == 2, "a changed source is described afresh, once"


def test_compiled_templates_are_kept_reused_and_never_run_when_damaged(tmp_path: Path) -> None:
    from jinja2 import Environment, FileSystemLoader

    from modeldoc.site.compiled import TEMPLATES, use_compiled_templates

    (tmp_path / "pages").mkdir()
    (tmp_path / "pages" / "page.html").write_text("{% for x in items %}<{{ x }}>{% endfor %}\n", encoding="utf-8")

    def render(**settings: Any) -> str:
        env = Environment(loader=FileSystemLoader(str(tmp_path / "pages")), autoescape=True, **settings)
        use_compiled_templates(env, tmp_path / "cache")
        return env.get_template("page.html").render(items=["a", "<b>"])

    assert render() == "<a><&lt;b&gt;>"
    compiled = sorted((tmp_path / "cache" / TEMPLATES).glob("*.jinja"))
    assert len(compiled) == 1, "the compiled template was saved"
    stamp = compiled[0].stat().st_mtime_ns
    assert render() == "<a><&lt;b&gt;>"
    assert compiled[0].stat().st_mtime_ns == stamp, "reused, not compiled and written again"
    compiled[0].write_bytes(b"\0" * 32 + b"not bytecode")  # damaged: its digest no longer matches
    assert render() == "<a><&lt;b&gt;>"
    assert compiled[0].read_bytes() != b"\0" * 32 + b"not bytecode", "compiled afresh and replaced"
    # Other settings compile the same source to other code (here: keep its last newline), kept apart
    assert render(keep_trailing_newline=True) == "<a><&lt;b&gt;>\n"
    assert len(list((tmp_path / "cache" / TEMPLATES).glob("*.jinja"))) == 2
    # The source changed: Jinja compiles it afresh
    (tmp_path / "pages" / "page.html").write_text("{{ items | length }}", encoding="utf-8")
    assert render() == "2"
