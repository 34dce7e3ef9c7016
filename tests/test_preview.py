"""Live preview with real servers: ``mkdocs serve`` and ``modeldoc serve`` as subprocesses.

An edit to any of the user's modules that the model imports rebuilds the page with the change,
once; an edit to the docs alone rebuilds without describing the model again; ``modeldoc serve``
previews a target without any mkdocs.yml and writes nothing into the working folder; SIGTERM
leaves no temporary folder behind. (What serve writes is tested without a server in
test_site_serve.py; the files it watches in test_site_sources.py.)
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from tests.helpers import TESTS
from tests.helpers.run import Server
from tests.helpers.sites import docs_project

pytestmark = pytest.mark.slow

LAYERS = '''"""Building blocks, imported by models.py (not the target's own file)."""

from torch import nn

WIDTH = {width}


def head():
    return nn.Linear(4, WIDTH)
'''

MODELS = '''"""The documented model."""

from torch import nn

from .layers import head


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = head()

    def forward(self, x):
        return self.head(x)
'''

MODELS_WITH_EXTRA = '''"""The documented model, now with a second helper module."""

from torch import nn

from . import extra
from .layers import head


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = head()
        self.tail = nn.Linear(self.head.out_features, extra.WIDTH)

    def forward(self, x):
        return self.tail(self.head(x))
'''

MKDOCS_YML = """site_name: Preview
theme:
  name: material
  font: false
plugins:
  - search
  - modeldoc:
      paths: [src]
"""


def test_mkdocs_serve_follows_edits_to_any_module_the_model_imports(tmp_path: Path) -> None:
    package = tmp_path / "src" / f"preview_{tmp_path.name.replace('-', '_')}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "layers.py").write_text(LAYERS.format(width=10))
    (package / "models.py").write_text(MODELS)
    docs = tmp_path / "docs"
    docs.mkdir()
    page = f"# Home\n\nFirst words.\n\n::: modeldoc {package.name}.models:Net\n    input_shape: [1, 4]\n"
    (docs / "index.md").write_text(page)
    (tmp_path / "mkdocs.yml").write_text(MKDOCS_YML)
    with Server("mkdocs", cwd=tmp_path) as server:
        server.wait_for("Serving on")
        assert "out_features=10" in server.get()
        assert server.builds() == 1
        # The helper module, not the target's file: the page shows the new width.
        (package / "layers.py").write_text(LAYERS.format(width=7))
        server.wait_until(lambda: server.builds() >= 2)
        server.wait_until(lambda: "out_features=7" in server.get(), timeout=30)
        assert "out_features=10" not in server.get()
        time.sleep(3)
        assert server.builds() == 2, "one edit, one rebuild"
        # A docs-only edit rebuilds the page and reuses the description.
        (docs / "index.md").write_text(page.replace("First words.", "Second words."))
        server.wait_until(lambda: server.builds() >= 3)
        server.wait_until(lambda: "Second words." in server.get(), timeout=30)
        assert "out_features=7" in server.get()
        reused = [line for line in server.lines if "reused the description" in line]
        assert reused == [
            f"INFO    -  modeldoc: reused the description of {package.name}.models:Net; its sources did not change"
        ]
        # The reuse came after the third build started, not before.
        third = [i for i, line in enumerate(server.lines) if "Building documentation" in line][2]
        assert server.lines.index(reused[0]) > third
        # A new helper that fails to import: the rebuild fails; fixing that file (which never
        # imported, so only the failed import could have named it) rebuilds again.
        (package / "extra.py").write_text("WIDTH = (\n")
        (package / "models.py").write_text(MODELS_WITH_EXTRA)
        server.wait_until(lambda: any("was never closed" in line for line in server.lines))
        time.sleep(3)
        builds = server.builds()
        (package / "extra.py").write_text("WIDTH = 3\n")
        server.wait_until(lambda: server.builds() > builds)
        server.wait_until(lambda: "out_features=3" in server.get(), timeout=30)


def test_modeldoc_serve_removes_its_temporary_folder_on_sigterm(tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    work = tmp_path / "work"
    work.mkdir()
    # The server's temporary folders go to TMPDIR, here where the test can see them.
    target = f"{TESTS / 'models.py'}:Tiny"
    with Server("modeldoc", target, "--input-shape", "2,4", cwd=work, env={"TMPDIR": str(scratch)}) as server:
        server.wait_for("Serving on")
        ours = sorted(p.name for p in scratch.iterdir() if p.name.startswith(("modeldoc-serve-", "mkdocs_")))
        assert len(ours) == 2, ours
        server.process.send_signal(signal.SIGTERM)
        code = server.process.wait(timeout=30)
    assert code == 0, "\n".join(server.lines)
    left = sorted(p.name for p in scratch.iterdir() if p.name.startswith(("modeldoc-serve-", "mkdocs_")))
    assert left == [], left
    assert list(work.iterdir()) == []
    assert any("Shutting down" in line for line in server.lines)


NET_SOURCE = '''"""A model file the serve test edits."""

from torch import nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, {out})

    def forward(self, x):
        return self.fc(x)
'''


@pytest.mark.slow
def test_mkdocs_serve_rebuilds_once_when_the_model_file_changes(tmp_path: Path) -> None:
    model = tmp_path / "net.py"
    model.write_text(NET_SOURCE.format(out=10), encoding="utf-8")
    docs_project(tmp_path, {"index.md": f"# Home\n\n::: modeldoc {model}:Net\n    input_shape: [1, 4]\n"})
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: Serve test\ntheme:\n  name: material\n  font: false\nplugins:\n  - search\n  - modeldoc\n",
        encoding="utf-8",
    )
    with Server("mkdocs", cwd=tmp_path) as server:
        server.wait_for("Serving on")
        assert "out_features=10" in server.get()
        time.sleep(3)
        assert server.builds() == 1, "the build must not trigger another one"
        model.write_text(NET_SOURCE.format(out=7), encoding="utf-8")
        server.wait_until(lambda: server.builds() >= 2, timeout=30)
        assert server.builds() == 2, "\n".join(server.lines)
        time.sleep(3)
        assert server.builds() == 2, "one change, one rebuild"
        assert "out_features=7" in server.get(), "the rebuild imported the model afresh"


@pytest.mark.slow
def test_modeldoc_serve_previews_a_target_without_any_mkdocs_yml(tmp_path: Path) -> None:
    with Server("modeldoc", f"{TESTS / 'models.py'}:Tiny", "--input-shape", "2,4", cwd=tmp_path) as server:
        server.wait_for("Serving on")
        home = server.get()
        assert 'href="tiny/"' in home
        page = server.get("tiny/")
        assert 'id="layer-fc1"' in page
        assert "modeldoc.css" in page
        assert list(tmp_path.iterdir()) == [], "serve writes nothing into the working folder"
