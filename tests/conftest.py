"""The suite's fixtures and its one option; every shared function lives in tests/helpers/."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result

from tests.helpers import ARTIFACTS
from tests.helpers.golden import Golden
from tests.helpers.run import invoke


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/golden/* from current output")


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """Compares output with tests/golden/NAME; ``pytest --update-goldens`` rewrites the files instead."""
    return Golden(bool(request.config.getoption("--update-goldens")))


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run the modeldoc command in-process; returns click's Result."""
    return invoke


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/: screenshots the browser tests leave for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session", autouse=True)
def _session_cache_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Module-scoped fixtures build sites too: they save descriptions in the session's folder, not the user's cache."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MODELDOC_CACHE_DIR", str(tmp_path_factory.mktemp("modeldoc-cache-session")))
        yield


@pytest.fixture(autouse=True)
def _own_cache_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test saves descriptions in a fresh folder of its own, never in the user's cache (or another test's)."""
    folder = tmp_path_factory.mktemp("modeldoc-cache")
    monkeypatch.setenv("MODELDOC_CACHE_DIR", str(folder))
    return folder
