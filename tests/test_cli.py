"""The command line: targets of every kind, and one clear line for every kind of bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers import LLAMA, REPO
from tests.helpers.run import inspect_json, run, the_error


@pytest.mark.parametrize(
    ("target", "extra", "name"),
    [
        ("tests.models:Tiny", [], "Tiny"),
        ("tests.models:make_tiny", ["--kwargs", '{"width": 6}'], "Tiny"),
        ("tests.models:TINY_INSTANCE", [], "Tiny"),
        ("tests/models.py:Tiny", [], "Tiny"),
    ],
)
def test_every_kind_of_target_loads(target, extra, name):
    data = inspect_json(target, *extra, "--input-shape", "2,4")
    assert data["schema"] == "modeldoc/1"
    assert data["model"]["name"] == name
    assert [layer["path"] for layer in data["layers"]] == ["fc1", "fc2"]
    assert data["layers"][1]["output_shapes"] == [[2, 3]]


def test_kwargs_reach_the_constructor():
    data = inspect_json("tests.models:make_tiny", "--kwargs", '{"width": 6}')
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
    line = the_error(result.stderr)
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
    env = {"PATH": str(Path(sys.executable).parent)}  # python and modeldoc, no dot
    out = tmp_path / "site"
    result = run("modeldoc", "build", "tests.models:Tiny", "--out", str(out), cwd=REPO, env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Graphviz 'dot' binary was not found" in lines[0]
    assert "apt-get install graphviz" in lines[0]
    assert not out.exists()


def test_no_diagrams_builds_without_dot(tmp_path):
    env = {"PATH": str(Path(sys.executable).parent)}
    out = tmp_path / "site"
    result = run("modeldoc", "build", "tests.models:Tiny", "--no-diagrams", "--out", str(out), cwd=REPO, env=env)
    assert result.returncode == 0, result.stderr
    assert "modeldoc-diagram" not in (out / "tiny" / "index.html").read_text()


def test_refuses_to_overwrite_a_folder_it_did_not_write(cli, tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    mine = out / "notes.txt"
    mine.write_text("keep me")
    result = cli("build", "tests.models:Tiny", "--out", str(out))
    assert result.exit_code == 1
    assert "already holds files that modeldoc did not write" in the_error(result.stderr)
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
    assert "no TARGET given" in the_error(result.stderr)


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


# --------------------------------------------------------------------------- relative paths, as a person types them

FASHION = ["modeldoc.examples.fashion:Network", "--input-shape", "1,1,28,28", "--no-diagrams"]


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ([], "site"),
        (["--out", "site"], "site"),
        (["--out", "./site"], "site"),
        (["--out", "sub/dir/site"], "sub/dir/site"),
    ],
)
def test_a_relative_or_default_out_builds_in_the_working_folder(cli, tmp_path, monkeypatch, args, where):
    monkeypatch.chdir(tmp_path)
    result = cli("build", *FASHION, *args)
    assert result.exit_code == 0, result.output
    assert (tmp_path / where / "index.html").is_file()
    assert (tmp_path / where / "network" / "index.html").is_file()
    assert f"into {tmp_path / where} in " in result.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == [where.split("/")[0]]  # no staging folder left


def test_a_failed_build_into_new_folders_removes_them(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "layer.md.jinja").write_text("{{ layer.no_such_field }}")
    result = cli("build", *FASHION, "--templates", "broken", "--out", "sub/dir/site")
    assert result.exit_code == 1
    assert "has no attribute 'no_such_field'; fix the template or remove the override" in the_error(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken"]  # not even sub/dir


def test_relative_templates_docs_dir_and_file_target(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-templates").mkdir()
    (tmp_path / "my-templates" / "layer.md.jinja").write_text(
        '{% extends "base/layer.md.jinja" %}{% block summary %}{{ super() }}Reviewed by us.{% endblock %}'
    )
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "gate.py").write_text(
        "from torch import nn\n\n\nclass Gate(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.proj = nn.Linear(4, 2)\n\n    def forward(self, x):\n        return self.proj(x)\n"
    )
    result = cli(
        "build",
        "models/gate.py:Gate",
        "--input-shape",
        "1,4",
        "--templates",
        "my-templates",
        "--markdown-only",
        "--docs-dir",
        "docs/models",
        "--no-diagrams",
    )
    assert result.exit_code == 0, result.output
    page = (tmp_path / "docs" / "models" / "gate" / "index.md").read_text()
    assert "Reviewed by us." in page
    assert "gate.Gate" in page
    assert "modeldoc_user" not in page
    table = cli("inspect", "models/gate.py:Gate", "--input-shape", "1,4")
    assert table.stdout.startswith("gate.Gate: 10 parameters (10 trainable)")
    data = inspect_json("models/gate.py:Gate")
    assert data["model"]["type"] == "gate.Gate"


@pytest.mark.slow
def test_markdown_only_prints_the_whole_nav(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli(
        "build",
        *LLAMA,
        "--markdown-only",
        "--docs-dir",
        "docs/llm",
        "--no-diagrams",
        "--title",
        "LLaMA",
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:5] == [
        "the pages need, in mkdocs.yml:",
        "  extra_css: [llm/assets/modeldoc.css]",
        "  markdown_extensions: [admonition, attr_list, md_in_html, tables]",
        "  # and in the nav, where the pages belong (titles as written; paths relative to docs/):",
        "  nav:",
    ]
    nav_text = "\n".join(line[2:] for line in lines[4:] if line.startswith("  "))
    import yaml

    nav = yaml.safe_load(nav_text)["nav"]
    (models,) = nav
    section = models["Models"]
    assert section[0] == "llm/index.md"
    (llama,) = section[1:]
    pages = []

    def walk(entry):
        if isinstance(entry, str):
            pages.append(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                walk(value)
        else:
            for value in entry:
                walk(value)

    walk(nav)
    written = sorted(p.relative_to(tmp_path / "docs").as_posix() for p in (tmp_path / "docs").rglob("*.md"))
    assert sorted(pages) == written  # every page written is in the nav, and only those
    assert len(pages) > 80  # a page per block of the 80-block model
    assert "LLaMA" in llama


def test_inspect_depth_limits_the_table(cli):
    full = cli(
        "inspect", "modeldoc.examples.transformer:EncoderClassifier", "--input-shape", "1,L=16", "--input-dtype", "long"
    )
    short = cli(
        "inspect",
        "modeldoc.examples.transformer:EncoderClassifier",
        "--input-shape",
        "1,L=16",
        "--input-dtype",
        "long",
        "--depth",
        "1",
    )
    assert full.exit_code == short.exit_code == 0
    assert "self_attn (MultiheadAttention)" in full.stdout
    assert "self_attn" not in short.stdout
    assert "└─ head (Linear)" in short.stdout
    assert "├─ encoder (TransformerEncoder)  N × L × 64          66,944" in short.stdout
    assert short.stdout.splitlines()[-6:-2] == full.stdout.splitlines()[-6:-2]  # the same totals
