"""Shared fixtures: fixture-model descriptions, golden files, the CLI runner, built sites."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modeldoc.cli import main
from modeldoc.options import model_options
from modeldoc.spec import ModelSpec

TESTS = Path(__file__).parent
GOLDEN = TESTS / "golden"
ARTIFACTS = TESTS.parent / "test-artifacts"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/golden/* from current output")


def spec_of(target: str, *shapes: Any, **entry: Any) -> ModelSpec:
    """Describe a fixture model (``tests.models:Tiny``) with example input shapes."""
    from modeldoc.pipeline import describe  # imports torch: not at collection, for the notorch runs

    return describe(model_options({"target": target, "input_shapes": list(shapes), **entry}))


@pytest.fixture
def describe_model() -> Callable[..., ModelSpec]:
    return spec_of


class Golden:
    """Compares text with a file in tests/golden; ``--update-goldens`` rewrites the file."""

    def __init__(self, update: bool) -> None:
        self.update = update

    def check(self, name: str, text: str) -> None:
        path = GOLDEN / name
        text = normalise(text)
        if self.update or not path.exists():
            if not self.update:
                pytest.fail(f"golden file {path} is missing; run pytest --update-goldens to create it")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return
        assert text == path.read_text(encoding="utf-8"), f"{name} differs; rerun with --update-goldens if intended"


def normalise(text: str) -> str:
    """Drop what varies between runs: absolute paths and trailing spaces."""
    text = text.replace(str(TESTS.parent), "<repo>")
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    return Golden(bool(request.config.getoption("--update-goldens")))


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Run the modeldoc command in-process; returns click's Result."""

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


def inspect_json(run: Callable[..., Result], *args: str) -> dict[str, Any]:
    result = run("inspect", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def text_of(html: str) -> str:
    """Visible-ish text of an HTML page: tags dropped, whitespace folded, entities kept."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
