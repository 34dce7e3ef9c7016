"""Shared fixtures: fixture-model descriptions, golden files, the CLI runner, built sites."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from modeldoc.cli import main
from modeldoc.options import model_options
from modeldoc.spec import JSON_SCHEMA, ModelSpec

TESTS = Path(__file__).parent
GOLDEN = TESTS / "golden"
ARTIFACTS = TESTS.parent / "test-artifacts"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="rewrite tests/golden/* from current output")


def spec_of(target: str, *shapes: Any, **entry: Any) -> ModelSpec:
    """Describe a fixture model (``tests.models:Tiny``) with example input shapes."""
    from modeldoc.pipeline import describe  # imports torch: not at collection, for the notorch runs

    return check_round_trip(describe(model_options({"target": target, "input_shapes": list(shapes), **entry})))


@cache
def _schema_validator() -> Any:
    import jsonschema  # a dev dependency: not at collection, for the notorch runs (which have none)

    schema = json.loads(JSON_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def schema_errors(data: Any) -> list[str]:
    """What the published modeldoc/1 JSON Schema finds wrong with `data`, one line each (empty: valid)."""
    found = sorted(_schema_validator().iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message[:200]}" for e in found]


def check_description(data: Any) -> dict[str, Any]:
    """`data` after checking it is a valid modeldoc/1 description that reads back to the same JSON."""
    errors = schema_errors(data)
    assert not errors, "the description does not fit modeldoc/1's schema:\n" + "\n".join(errors[:10])
    assert ModelSpec.from_json(data).to_json() == data, "the description does not read back to the same JSON"
    return data


def check_round_trip(spec: ModelSpec) -> ModelSpec:
    """`spec` after checking that its JSON (through text, as saved) fits the schema and reads back equal."""
    data = json.loads(json.dumps(spec.to_json(), ensure_ascii=False))
    check_description(data)
    assert ModelSpec.from_json(data) == spec, f"{spec.target}: ModelSpec.from_json(spec.to_json()) != spec"
    return spec


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
    """What ``modeldoc inspect ARGS --json`` printed, checked against the modeldoc/1 schema and read back."""
    result = run("inspect", *args, "--json")
    assert result.exit_code == 0, result.output
    return check_description(json.loads(result.stdout))


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def text_of(html: str) -> str:
    """Visible-ish text of an HTML page: tags dropped, whitespace folded, entities kept."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
