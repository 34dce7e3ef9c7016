"""The wheel ships what the package needs at run time; the sdist what a packager needs to rebuild and test it."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest
import tomllib

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "build", "--sdist", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    return out


def test_wheel_contains_the_templates(dist):
    (wheel,) = dist.glob("modeldoc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {
        f"modeldoc/templates/{p.relative_to(REPO / 'templates').as_posix()}"
        for p in (REPO / "templates").rglob("*")
        if p.is_file()
    }
    assert shipped, "the templates folder is empty"
    assert shipped <= names, sorted(shipped - names)
    assert "modeldoc/templates/model.md.jinja" in names
    assert "modeldoc/templates/assets/modeldoc.css" in names
    assert "modeldoc/examples/digits.safetensors" in names  # the trained digits example's weights
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "modeldoc = modeldoc.cli:main" in text
    assert "modeldoc = modeldoc.site.plugin:ModeldocPlugin" in text


def test_wheel_is_typed_and_licensed(dist):
    (wheel,) = dist.glob("modeldoc-*.whl")
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    assert "modeldoc/py.typed" in names
    assert "modeldoc/knowledge/conv.yaml" in names
    assert "modeldoc/schema/modeldoc-1.json" in names  # the JSON Schema of modeldoc/1
    license_file = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
    assert archive.read(license_file).decode().startswith("MIT License\n\nCopyright (c) 2026 the modeldoc authors\n")
    metadata = Parser().parsestr(archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode())
    assert metadata["License-Expression"] == "MIT"
    assert metadata["License-File"] == "LICENSE"
    assert metadata["Requires-Python"] == "<3.14,>=3.10"
    assert "Homepage, https://github.com/modeldoc/modeldoc" in metadata.get_all("Project-URL")
    classifiers = metadata.get_all("Classifier")
    assert "Programming Language :: Python :: 3.10" in classifiers
    assert "Programming Language :: Python :: 3.13" in classifiers
    assert "Typing :: Typed" in classifiers
    requires = metadata.get_all("Requires-Dist")
    assert "torch<2.14,>=2.13" in requires
    assert "tomli>=1.1; python_version < '3.11'" in requires
    assert metadata.get_payload().startswith("# modeldoc\n")  # the README is the description


def test_sdist_has_the_docs_license_and_tests(dist):
    (sdist,) = dist.glob("modeldoc-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    docs = {p.relative_to(REPO).as_posix() for p in (REPO / "docs").glob("*.md")}
    assert "docs/python-api.md" in docs
    assert docs <= names, sorted(docs - names)
    assert {"LICENSE", "README.md", "mkdocs.yml", "pyproject.toml", "templates/model.md.jinja"} <= names
    assert "tests/test_docs_commands.py" in names


def test_readme_links_are_absolute():
    """On a package index, a relative link goes nowhere: every link of the README is a full URL."""
    import re

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert links
    assert all(link.startswith("https://") for link in links), [lnk for lnk in links if not lnk.startswith("https")]
    for link in links:
        if link.startswith("https://github.com/modeldoc/modeldoc/blob/main/"):
            assert (REPO / link.removeprefix("https://github.com/modeldoc/modeldoc/blob/main/")).is_file(), link


def test_the_torch_range_is_what_the_venv_runs():
    """Declared support is what the tests run: the torch that is installed satisfies the declared range."""
    import torch

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (declared,) = [r for r in project["dependencies"] if r.startswith("torch")]
    assert declared == "torch>=2.13,<2.14"
    major, minor = (int(part) for part in torch.__version__.split(".")[:2])
    assert (major, minor) == (2, 13)
