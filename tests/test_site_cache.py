"""site.cache: `modeldoc build --cache` reuses a saved description while the model is unchanged, never a stale one."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.run import run
from tests.helpers.sites import article, docs_project, plugin_yml, text_of

MODEL = '''
from pathlib import Path

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


def build(folder: Path, *extra: str) -> str:
    done = run("modeldoc", "build", "counted.py:Counted", "--input-shape", "2,4", "--no-diagrams", *extra, cwd=folder)
    assert done.returncode == 0, done.stderr
    page = (folder / "site" / "counted" / "index.html").read_text(encoding="utf-8")
    return text_of(article(page))


def times_built(folder: Path) -> int:
    return (folder / "built.log").read_text(encoding="utf-8").count("built")


@pytest.mark.slow
def test_cache_reuses_an_unchanged_model_and_describes_a_changed_or_damaged_one_afresh(tmp_path):
    write_model(tmp_path, 3)
    first = build(tmp_path, "--cache")
    assert times_built(tmp_path) == 1
    entries = sorted((tmp_path / ".modeldoc-cache").glob("*.record.json"))
    assert len(entries) == 1
    second = build(tmp_path, "--cache")
    assert times_built(tmp_path) == 1, "the unchanged model was not built again"
    assert (
        "Linear(in_features=4, out_features=3, bias=True)" in first
        and "Linear(in_features=4, out_features=3, bias=True)" in second
    )
    # the source changes: the saved description is stale
    write_model(tmp_path, 5)
    changed = build(tmp_path, "--cache")
    assert times_built(tmp_path) == 2
    assert (
        "Linear(in_features=4, out_features=5, bias=True)" in changed
        and "Linear(in_features=4, out_features=3, bias=True)" not in changed
    )
    # a damaged entry is never shown: it is described afresh and replaced
    for data in (tmp_path / ".modeldoc-cache").glob("*.json"):
        if not data.name.endswith(".record.json"):
            data.write_text('{"schema": "modeldoc/1", "model": {"name": "Fake"}}', encoding="utf-8")
    repaired = build(tmp_path, "--cache")
    assert times_built(tmp_path) == 3
    assert "Linear(in_features=4, out_features=5, bias=True)" in repaired and "Fake" not in repaired
    build(tmp_path, "--cache")
    assert times_built(tmp_path) == 3, "the replaced entry is reused"


@pytest.mark.slow
def test_without_cache_nothing_is_saved_or_reused(tmp_path):
    write_model(tmp_path, 3)
    build(tmp_path)
    build(tmp_path)
    assert times_built(tmp_path) == 2
    assert not (tmp_path / ".modeldoc-cache").exists()


@pytest.mark.slow
def test_the_plugin_reuses_a_saved_description_with_cache_on(tmp_path):
    write_model(tmp_path, 3)
    docs_project(tmp_path)
    yml = plugin_yml("counted:Counted").replace(
        "  - modeldoc:\n", "  - modeldoc:\n      cache: true\n      paths: ['.']\n"
    )
    (tmp_path / "mkdocs.yml").write_text(yml, encoding="utf-8")
    for _ in range(2):
        done = run("mkdocs", "build", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
    assert times_built(tmp_path) == 1
    assert len(list((tmp_path / ".modeldoc-cache").glob("*.record.json"))) == 1
    page = next((tmp_path / "site").rglob("counted/index.html")).read_text(encoding="utf-8")
    assert "Linear(in_features=4, out_features=3, bias=True)" in text_of(article(page))
