"""site.sources: which of the user's files a description rests on, so that live preview knows when to redo it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeldoc.site import sources

MODELS = """import json

import torch

from modeldoc.errors import ConfigError

from .blocks import Block


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
"""

BLOCKS = """import torch

WIDTH = 3


class Block(torch.nn.Linear):
    def __init__(self):
        super().__init__(4, WIDTH)
"""


@pytest.fixture
def package(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A package of the user's under tmp_path/src: models.py imports a Block from blocks.py."""
    name = f"user_{tmp_path.name.replace('-', '_')}"
    folder = tmp_path / "src" / name
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("", encoding="utf-8")
    (folder / "blocks.py").write_text(BLOCKS, encoding="utf-8")
    (folder / "models.py").write_text(MODELS, encoding="utf-8")
    yield name, folder
    sources.forget([n for n in sys.modules if n == name or n.startswith(name + ".")])


def test_recording_notes_what_was_imported_and_takes_its_paths_off_sys_path(package: tuple[str, Path]) -> None:
    name, folder = package
    before = list(sys.path)
    with sources.recording([folder.parent]) as found:
        assert str(folder.parent) in sys.path
        importlib.import_module(f"{name}.models")
    assert sys.path == before
    assert {name, f"{name}.models", f"{name}.blocks"} <= found.new


def test_the_users_modules_and_files_are_kept_and_installed_ones_left_out(package: tuple[str, Path]) -> None:
    name, folder = package
    with sources.recording([folder.parent]) as found:
        importlib.import_module(f"{name}.models")
    made = sources.sources_of(found.new)
    assert made.modules == (name, f"{name}.blocks", f"{name}.models")
    assert set(made.files) == {(folder / f).resolve() for f in ("__init__.py", "blocks.py", "models.py")}


def test_the_modules_a_models_class_refers_to_are_followed(package: tuple[str, Path]) -> None:
    name, folder = package
    with sources.recording([folder.parent]):
        importlib.import_module(f"{name}.models")
    made = sources.sources_of([], types=[f"{name}.models.Net"])
    assert made.modules == (f"{name}.blocks", f"{name}.models")  # Block's module, through the import


def test_an_edit_changes_the_sources_and_saving_the_same_bytes_does_not(package: tuple[str, Path]) -> None:
    name, folder = package
    with sources.recording([folder.parent]) as found:
        importlib.import_module(f"{name}.models")
    made = sources.sources_of(found.new)
    blocks = folder / "blocks.py"
    blocks.write_text(BLOCKS, encoding="utf-8")  # saved again, unchanged
    assert not made.changed()
    blocks.write_text(BLOCKS.replace("WIDTH = 3", "WIDTH = 5"), encoding="utf-8")
    assert made.changed()
    blocks.write_text(BLOCKS, encoding="utf-8")
    assert not made.changed()
    blocks.unlink()
    assert made.changed()


def test_a_saved_description_is_watched_itself(tmp_path: Path) -> None:
    saved = tmp_path / "fashion.json"
    saved.write_text("{}", encoding="utf-8")
    made = sources.sources_of([], files=[saved])
    assert set(made.files) == {saved} and made.modules == ()
    saved.write_text('{"schema": "modeldoc/1"}', encoding="utf-8")
    assert made.changed()


def test_user_files_are_the_python_files_outside_installed_packages(package: tuple[str, Path]) -> None:
    _, folder = package
    found = sources.user_files(
        [str(folder / "models.py"), sources.__file__, importlib.__file__, None, str(folder / "gone.py"), "x.pyc"]
    )
    assert found == {(folder / "models.py").resolve()}


def test_a_folder_digest_follows_its_files(tmp_path: Path) -> None:
    assert sources.folder_digest(None) == "" and sources.folder_digest(tmp_path / "none") == ""
    (tmp_path / "a.yaml").write_text("a: 1\n", encoding="utf-8")
    first = sources.folder_digest(tmp_path)
    assert sources.folder_digest(tmp_path) == first
    (tmp_path / "a.yaml").write_text("a: 2\n", encoding="utf-8")
    second = sources.folder_digest(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yaml").write_text("b: 1\n", encoding="utf-8")
    assert len({first, second, sources.folder_digest(tmp_path)}) == 3


def test_forgotten_modules_are_imported_afresh(package: tuple[str, Path]) -> None:
    name, folder = package
    with sources.recording([folder.parent]):
        first = importlib.import_module(f"{name}.blocks")
        sources.forget([f"{name}.blocks"])
        assert f"{name}.blocks" not in sys.modules
        # another size than before, so that a .pyc written in the same second is not taken for it
        (folder / "blocks.py").write_text(BLOCKS.replace("WIDTH = 3", "WIDTH = 17"), encoding="utf-8")
        again = importlib.import_module(f"{name}.blocks")
    assert again is not first and again.WIDTH == 17 and first.WIDTH == 3
