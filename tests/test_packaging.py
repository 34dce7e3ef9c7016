"""The wheel ships the templates and the knowledge the package needs at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_wheel_contains_the_templates(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("modeldoc-*.whl")
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
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "modeldoc = modeldoc.cli:main" in text
    assert "modeldoc = modeldoc.plugin:ModeldocPlugin" in text
