"""The command line: targets of every kind, and one clear line for every kind of bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import inspect_json

REPO = Path(__file__).resolve().parent.parent


def one_error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("target", "extra", "name"),
    [
        ("tests.models:Tiny", [], "Tiny"),
        ("tests.models:make_tiny", ["--kwargs", '{"width": 6}'], "Tiny"),
        ("tests.models:TINY_INSTANCE", [], "Tiny"),
        ("tests/models.py:Tiny", [], "Tiny"),
    ],
)
def test_every_kind_of_target_loads(cli, target, extra, name):
    data = inspect_json(cli, target, *extra, "--input-shape", "2,4")
    assert data["schema"] == "modeldoc/1"
    assert data["model"]["name"] == name
    assert [layer["path"] for layer in data["layers"]] == ["fc1", "fc2"]
    assert data["layers"][1]["output_shapes"] == [[2, 3]]


def test_kwargs_reach_the_constructor(cli):
    data = inspect_json(cli, "tests.models:make_tiny", "--kwargs", '{"width": 6}')
    fc1 = data["layers"][0]
    assert fc1["parameters"][0]["shape"] == [6, 4]
    assert data["model"]["total_params"] == 4 * 6 + 6 + 6 * 3 + 3


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["nosuch.module:Net"], "no module named 'nosuch'", 1),
        (["tests.models:Nope"], "has no attribute 'Nope'", 1),
        (["tests.models:Tny"], "did you mean 'Tiny'?", 1),
        (["tests.models:NOT_A_MODULE"], "it is of type int, not an nn.Module", 1),
        (["tests.models:raises"], "building it raised ValueError: width must be even", 1),
        (["tests.models:Tiny", "--kwargs", '{"depth": 2}'], "its arguments do not fit", 1),
        (["tests.models:Tiny", "--kwargs", "{width: 2}"], "--kwargs is not valid JSON", 2),
        (["tests.models:Tiny", "--input-shape", "1,x,28"], "which is not a whole number", 2),
        (["tests.models:Tiny", "--input-shape", "1,0"], "every size must be 1 or more", 2),
        (["tests.models:Tiny", "--input-shape", "2,4", "--input-dtype", "complex"], "unknown input dtype", 2),
        (["tests/nowhere.py:Net"], "there is no file", 1),
        (["justaname"], "not of the form module:Name", 2),
    ],
)
def test_bad_input_gets_one_clear_line(cli, tmp_path, args, message, code):
    out = tmp_path / "site"
    result = cli("build", *args, "--out", str(out))
    assert result.exit_code == code
    line = one_error_line(result)
    assert message in line
    assert not out.exists(), "a failed build must leave no output folder"
    assert not list(tmp_path.iterdir()), "a failed build must leave no staging folder"


def test_forward_that_rejects_the_input_still_builds_the_static_pages(cli, tmp_path):
    out = tmp_path / "site"
    result = cli("build", "tests.models:Tiny", "--input-shape", "2,5", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "warning: tests.models:Tiny:" in result.stderr
    assert "forward pass failed" in result.stderr
    page = (out / "tiny" / "index.html").read_text()
    assert "forward pass failed" in page
    assert "fc1.weight" in page  # the static part is there


def test_missing_dot_says_how_to_install_it(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))  # python and modeldoc, no dot
    out = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "modeldoc", "build", "tests.models:Tiny", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Graphviz 'dot' binary was not found" in lines[0]
    assert "apt-get install graphviz" in lines[0]
    assert not out.exists()


def test_no_diagrams_builds_without_dot(tmp_path):
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    out = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "modeldoc", "build", "tests.models:Tiny", "--no-diagrams", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "modeldoc-diagram" not in (out / "tiny" / "index.html").read_text()


def test_refuses_to_overwrite_a_folder_it_did_not_write(cli, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    mine = out / "notes.txt"
    mine.write_text("keep me")
    result = cli("build", "tests.models:Tiny", "--out", str(out))
    assert result.exit_code == 1
    assert "already holds files that modeldoc did not write" in one_error_line(result)
    assert mine.read_text() == "keep me"
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_rebuild_replaces_its_own_output(cli, tmp_path):
    out = tmp_path / "site"
    assert cli("build", "tests.models:Tiny", "--out", str(out)).exit_code == 0
    stale = out / "stale.html"
    stale.write_text("old")
    assert cli("build", "tests.models:Tiny", "--out", str(out)).exit_code == 0
    assert not stale.exists()
    assert (out / "tiny" / "index.html").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_a_broken_template_leaves_no_half_built_site(cli, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "layer.md.jinja").write_text("{{ layer.no_such_field }}")
    out = tmp_path / "site"
    result = cli("build", "tests.models:Tiny", "--templates", str(templates), "--out", str(out))
    assert result.exit_code != 0
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["templates"]


def test_inspect_prints_a_table_without_json(cli):
    result = cli("inspect", "tests.models:Tiny", "--input-shape", "2,4")
    assert result.exit_code == 0
    assert "tests.models.Tiny: 67 parameters" in result.stdout
    assert "fc2" in result.stdout


def test_bare_build_without_configuration_explains_what_to_do(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("build")
    assert result.exit_code == 2
    assert "no TARGET given" in one_error_line(result)


def test_bare_build_uses_tool_modeldoc_models(cli, tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.modeldoc]\nout = 'docs-site'\nsite_name = 'Mine'\n"
        "[[tool.modeldoc.models]]\ntarget = 'tests.models:Tiny'\ninput_shape = [2, 4]\n"
        "[[tool.modeldoc.models]]\ntarget = 'tests.models:make_tiny'\nkwargs = {width = 6}\n"
        "title = 'Wide tiny'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO))
    result = cli("build")
    assert result.exit_code == 0, result.output
    index = (tmp_path / "docs-site" / "index.html").read_text()
    assert "Wide tiny" in index
    assert (tmp_path / "docs-site" / "wide-tiny" / "index.html").is_file()


def test_json_is_valid_for_a_model_without_input(cli):
    result = cli("inspect", "tests.models:Tiny", "--json")
    data = json.loads(result.stdout)
    assert data["input"] == []
    assert "pass --input-shape" in data["probe_error"]
    assert data["layers"][0]["input_shapes"] == []
