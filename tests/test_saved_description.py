"""A saved description (``modeldoc inspect TARGET --json > NAME.json``) builds its site without torch.

The description is tests/golden/fashion.json, the tutorial CNN's golden (tests/test_spec_json.py
keeps it current). Everything here runs without torch: ``make test-compat`` also runs it on
Python 3.10 and 3.13 in venvs that have no torch at all, and where torch is installed the build
runs under ``python -X importtime`` to show that it is never imported.
"""

from __future__ import annotations

import html as html_lib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from tests.helpers import GOLDEN
from tests.helpers.run import run
from tests.helpers.sites import section_text, text_of

pytestmark = pytest.mark.notorch

DESCRIPTION = GOLDEN / "fashion.json"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder holding only fashion.json, as a user has after saving it."""
    shutil.copy(DESCRIPTION, tmp_path / "fashion.json")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def imported_modules(importtime_log: str) -> set[str]:
    """The modules a ``python -X importtime`` run imported, from its log on stderr."""
    found = re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", importtime_log, re.MULTILINE)
    assert found, "no -X importtime log"
    return set(found)


def test_build_from_a_saved_description_makes_the_real_site_without_importing_torch(workdir: Path) -> None:
    result = run("python", "-X", "importtime", "-m", "modeldoc", "build", "fashion.json", "--out", "site", cwd=workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("built 2 pages for 1 model(s) into ")
    modules = imported_modules(result.stderr)
    assert {"modeldoc.cli", "modeldoc.site.build", "mkdocs", "jinja2"} <= modules, "the log lists the build's imports"
    assert not {m for m in modules if m == "torch" or m.startswith("torch.")}, "the build imported torch"
    assert not {m for m in modules if m.startswith("modeldoc.probe.") and m != "modeldoc.probe.sources"}

    site = workdir / "site"
    assert (site / ".modeldoc-output").is_file()
    page = (site / "fashion" / "index.html").read_text(encoding="utf-8")
    assert re.search(r"<h1 [^>]*>Fashion-MNIST CNN", page), "the saved title"
    conv1 = section_text(page, "layer-conv1")
    assert "filters × depth × height × width" in conv1
    assert "6 × 1 × 5 × 5" in conv1
    assert re.search(r"in_channels\s+1\s+data-dependent\s+input", conv1)
    assert "N × 1 × 28 × 28" in conv1 and "N × 6 × 24 × 24" in conv1
    fc1 = section_text(page, "layer-fc1")
    assert "12 × 4 × 4 = 192" in fc1
    assert re.search(r"in_features .*?data-dependent\s+previous-layer", fc1)
    assert "⌊" in fc1, "the derivation's size formulas"
    assert re.search(r"<div class=\"modeldoc-diagram\".*?<svg", page, re.DOTALL), "the diagrams, drawn by dot"
    assert sorted(p.name for p in workdir.iterdir()) == ["fashion.json", "site"]


def test_inspect_prints_the_table_and_the_same_json_of_a_saved_description(
    workdir: Path, cli: Callable[..., Result]
) -> None:
    table = cli("inspect", "fashion.json")
    assert table.exit_code == 0, table.output
    assert table.stdout.startswith("modeldoc.examples.fashion.Network: 32,998 parameters (32,998 trainable)\n")
    assert "title  Fashion-MNIST CNN" in table.stdout
    assert re.search(r"├─ fc1 \(Linear\)\s+N × 120\s+23,160", table.stdout)
    assert re.search(r"in_features\s+= 192\s+data-dependent", table.stdout)
    as_json = cli("inspect", "fashion.json", "--json")
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout) == json.loads(DESCRIPTION.read_text(encoding="utf-8"))


def test_title_and_depth_apply_to_a_saved_description(workdir: Path, cli: Callable[..., Result]) -> None:
    result = cli("build", "fashion.json", "--title", "My CNN", "--depth", "1", "--no-diagrams", "--out", "site")
    assert result.exit_code == 0, result.output
    page = (workdir / "site" / "my-cnn" / "index.html").read_text(encoding="utf-8")
    assert re.search(r"<h1 [^>]*>My CNN", page)
    assert "modeldoc-diagram" not in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--input-shape", "1,1,28,28"],
            "--input-shape does not apply to the saved description fashion.json, which holds what the probe found",
        ),
        (["--kwargs", "{}"], "--kwargs does not apply to the saved description fashion.json"),
        (["--probe-device", "cpu"], "--probe-device does not apply to the saved description fashion.json"),
        (["--example", "pkg:inputs"], "--example does not apply to the saved description fashion.json"),
    ],
)
def test_probe_flags_beside_a_saved_description_are_refused(
    workdir: Path, cli: Callable[..., Result], args: list[str], message: str
) -> None:
    for command in ("build", "inspect"):
        result = cli(command, "fashion.json", *args)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"Error: {message}")
        assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in workdir.iterdir()) == ["fashion.json"], "nothing written"


def _broken(workdir: Path, text: str) -> None:
    (workdir / "broken.json").write_text(text, encoding="utf-8")


def _without_layers(workdir: Path) -> None:
    data = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    del data["layers"]
    _broken(workdir, json.dumps(data))


def _with_a_text_size(workdir: Path) -> None:
    data = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    data["layers"][1]["parameters"][0]["shape"][1] = "6"
    _broken(workdir, json.dumps(data))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda w: _broken(w, '{"schema": "modeldoc/1",\n "model": }'),
            "broken.json is not a modeldoc/1 description: it is not valid JSON "
            "(Expecting value at line 2, column 11); give a file written by modeldoc inspect TARGET --json",
        ),
        (
            lambda w: _broken(w, "[1, 2]"),
            "broken.json is not a modeldoc/1 description: it holds a list, not an object; "
            "write it with modeldoc inspect TARGET --json (or Description.to_json())",
        ),
        (
            lambda w: _broken(w, '{"name": "Net"}'),
            'broken.json is not a modeldoc/1 description: it has no "schema" key',
        ),
        (
            lambda w: _broken(w, '{"schema": "modeldoc/2"}'),
            "broken.json is a 'modeldoc/2' description, and this modeldoc reads 'modeldoc/1'; "
            "read it with the modeldoc version that wrote it, or write it anew with this one",
        ),
        (_without_layers, "broken.json is not a modeldoc/1 description: the required key 'layers' is missing;"),
        (
            _with_a_text_size,
            'broken.json is not a modeldoc/1 description: expected a whole number, got a string "6" '
            "at layers[1].parameters[0].shape[1];",
        ),
        (
            lambda w: (w / "broken.json").write_bytes(b"\xff\xfe{}"),
            "broken.json is not a modeldoc/1 description: it is not UTF-8 text",
        ),
        (lambda w: (w / "broken.json").mkdir(), "cannot read the description broken.json: Is a directory"),
        (
            lambda w: None,
            "the description broken.json does not exist; give a file written by modeldoc inspect TARGET --json",
        ),
    ],
)
def test_a_file_that_is_not_a_description_is_one_line_and_exit_2(
    workdir: Path, cli: Callable[..., Result], make: Callable[[Path], Any], message: str
) -> None:
    make(workdir)
    before = sorted(p.name for p in workdir.iterdir())
    for command in (
        ["build", "broken.json", "--out", "site"],
        ["inspect", "broken.json"],
        ["inspect", "broken.json", "--json"],
    ):
        result = cli(*command)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        assert result.stderr.startswith(f"Error: {message}"), result.stderr
        assert result.stderr.count("\n") == 1
    assert sorted(p.name for p in workdir.iterdir()) == before, "nothing written"


def test_the_python_api_reads_a_saved_description_and_builds_its_site(workdir: Path) -> None:
    import modeldoc

    doc = modeldoc.describe("fashion.json", title="From the API")
    assert doc.spec.title == "From the API"
    assert doc.spec.total_params == 32998
    saved = json.loads(DESCRIPTION.read_text(encoding="utf-8"))
    assert {**doc.to_json(), "model": {**doc.to_json()["model"], "title": "Fashion-MNIST CNN"}} == saved
    out = doc.build_site("site", diagrams=False)
    assert "12 × 4 × 4 = 192" in section_text(
        (out / "from-the-api" / "index.html").read_text(encoding="utf-8"), "layer-fc1"
    )
    with pytest.raises(
        modeldoc.errors.ConfigError, match=r"^input_shapes of fashion.json in modeldoc.describe\(\) does not apply"
    ):
        modeldoc.describe("fashion.json", input_shape=(1, 1, 28, 28))


def test_a_project_embeds_a_saved_description_with_the_plugin(workdir: Path, cli: Callable[..., Result]) -> None:
    (workdir / "docs").mkdir()
    (workdir / "docs" / "index.md").write_text("# Home\n\n::: modeldoc fashion.json\n", encoding="utf-8")
    (workdir / "mkdocs.yml").write_text(
        "site_name: Saved\ntheme:\n  name: material\n  font: false\nplugins:\n  - search\n"
        "  - modeldoc:\n      models:\n        - target: fashion.json\n          slug: cnn\n",
        encoding="utf-8",
    )
    result = cli("build")
    assert result.exit_code == 0, result.output
    home = (workdir / "site" / "index.html").read_text(encoding="utf-8")
    assert "12 × 4 × 4 = 192" in html_lib.unescape(text_of(home)), "the ::: block"
    page = (workdir / "site" / "models" / "cnn" / "index.html").read_text(encoding="utf-8")
    assert "12 × 4 × 4 = 192" in section_text(page, "layer-fc1"), "the plugin's model page"
