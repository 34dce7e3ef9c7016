"""Golden files: output pinned in tests/golden, so that every change to it is a reviewed diff.

A test hands its output to the ``golden`` fixture (tests/conftest.py); ``pytest --update-goldens``
rewrites the files from the current output instead of comparing, and ``git diff tests/golden``
shows what changed. Only what varies between machines is normalised: the repository's absolute
path and trailing spaces.
"""

from __future__ import annotations

import pytest

from tests.helpers import GOLDEN, REPO


def normalise(text: str) -> str:
    """`text` without what varies between runs: the repository's absolute path and trailing spaces."""
    text = text.replace(str(REPO), "<repo>")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


class Golden:
    """Compares text with a file in tests/golden; with `update`, rewrites the file instead."""

    folder = GOLDEN

    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, name: str, text: str) -> None:
        """`text` (normalised) equals tests/golden/`name`."""
        path = GOLDEN / name
        text = normalise(text)
        if self.update or not path.exists():
            if not self.update:
                pytest.fail(f"golden file {path} is missing; run pytest --update-goldens to create it")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert text == path.read_text(encoding="utf-8"), f"{name} differs; rerun with --update-goldens if intended"

    def check_folder(self, name: str, files: dict[str, str]) -> None:
        """Each of `files` (path to text) equals tests/golden/`name`/path, and that folder holds no others."""
        folder = GOLDEN / name
        pinned = (
            {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()
        )
        if self.update:
            for stale in pinned - set(files):
                (folder / stale).unlink()
        else:
            assert pinned <= set(files), f"tests/golden/{name}/ holds {sorted(pinned - set(files))}, no longer made"
        for path, text in files.items():
            self.check(f"{name}/{path}", text)
