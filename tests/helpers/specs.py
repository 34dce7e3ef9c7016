"""Descriptions for tests: of fixture models, of live modules, of layers built by hand.

Every description `spec_of` returns has been checked against the published modeldoc/1 JSON
Schema and read back equal through `ModelSpec.from_json`, so the whole suite exercises the
JSON contract. Nothing here imports torch when imported (the probe is imported when a model
is described).
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from modeldoc.options import ModelOptions, model_options, read_pyproject, site_options
from modeldoc.spec import JSON_SCHEMA, Hyperparam, LayerSpec, ModelSpec
from tests.helpers import REPO

if TYPE_CHECKING:
    from torch import nn


def spec_of(target: str, *shapes: Any, **entry: Any) -> ModelSpec:
    """Describe a fixture model (``tests.models:Tiny``) with example input shapes, checking its JSON."""
    from modeldoc.pipeline import describe  # imports torch: not at collection, for the notorch runs

    return check_round_trip(describe(model_options({"target": target, "input_shapes": list(shapes), **entry})))


EXAMPLES = {"fashion": "fashion", "text": "lstm-text", "transformer": "transformer"}
"""The bundled examples the goldens pin: golden name to the example's slug in pyproject.toml's models."""


def configured(slug: str) -> ModelOptions:
    """The options pyproject.toml gives the bundled example with `slug` (what `modeldoc build` uses)."""
    table = read_pyproject(REPO / "pyproject.toml")
    assert table is not None
    site = site_options(table, where="pyproject.toml", base=REPO)
    return next(m for m in site.models if m.slug == slug)


def describe_live(model: nn.Module, *shapes: Any, target: str = "tests:Model", **entry: Any) -> ModelSpec:
    """Describe a live module, as the plugin and the Python API do (`target` only names it)."""
    from modeldoc.pipeline import describe_module

    return describe_module(model, model_options({"target": target, "input_shapes": list(shapes), **entry}))


# --------------------------------------------------------------------------- the modeldoc/1 contract


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


# --------------------------------------------------------------------------- layers built by hand


def hp(name: str, value: Any, dim: str = "", kind: str = "hyperparameter") -> Hyperparam:
    """A constructor argument as explain leaves it: chosen, or (`kind` data-dependent) fixed by the layer before."""
    source = "chosen" if kind == "hyperparameter" else "previous-layer"
    return Hyperparam(name=name, value=value, kind=kind, source=source, dim=dim)  # type: ignore[arg-type]


def layer(
    path: str,
    type_name: str,
    hps: Iterable[Hyperparam] = (),
    *,
    params: int = 1,
    size_rule: str = "",
    type: str = "",
    **more: Any,
) -> LayerSpec:
    """A layer as explain leaves it: a ``torch.nn`` class unless `type` names another, `params` weights,
    and the `size_rule` its knowledge entry names; `more` sets any other field."""
    return LayerSpec(
        path=path,
        type=type or f"torch.nn.{type_name}",
        type_name=type_name,
        repr="",
        depth=path.count(".") + 1,
        parent="",
        hyperparameters=tuple(hps),
        total_params=params,
        own_params=params,
        size_rule=size_rule,
        **more,
    )


def linear(path: str, n_in: int, n_out: int) -> LayerSpec:
    """An ``nn.Linear(n_in, n_out)`` whose in_features the data fixes."""
    return layer(
        path,
        "Linear",
        [hp("in_features", n_in, "in0:-1", "data-dependent"), hp("out_features", n_out, "out0:-1")],
        params=n_in * n_out,
        size_rule="linear",
    )


def lstm(
    path: str, input_size: int, hidden_size: int, num_layers: int = 1, *, bidirectional: bool = False
) -> LayerSpec:
    """An ``nn.LSTM`` whose input_size the data fixes."""
    return layer(
        path,
        "LSTM",
        [
            hp("input_size", input_size, "in0:-1", "data-dependent"),
            hp("hidden_size", hidden_size),
            hp("num_layers", num_layers),
            hp("bidirectional", bidirectional),
        ],
        size_rule="recurrent",
    )


def hyper(spec: ModelSpec, path: str, name: str) -> Hyperparam:
    """The argument `name` of the layer at `path`."""
    return next(h for h in spec.layer(path).hyperparameters if h.name == name)


# --------------------------------------------------------------------------- lookups in the JSON


def layer_json(doc: dict[str, Any], path: str) -> dict[str, Any]:
    """The layer at `path` in a description's JSON."""
    return next(layer for layer in doc["layers"] if layer["path"] == path)


def param_json(doc: dict[str, Any], name: str) -> dict[str, Any]:
    """The parameter or buffer `name` (``"fc.weight"``) in a description's JSON."""
    return next(p for p in layer_json(doc, name.rsplit(".", 1)[0])["parameters"] if p["name"] == name)


def hyper_json(layer: dict[str, Any], name: str) -> dict[str, Any]:
    """The argument `name` of a layer of a description's JSON."""
    return next(h for h in layer["hyperparameters"] if h["name"] == name)


def marked_line(module: ModuleType, marker: str) -> tuple[str, str]:
    """(``tests/<module>.py:LINE``, the source line) of the line in `module` that ends with `marker`."""
    lines, start = inspect.getsourcelines(module)
    for number, text in enumerate(lines, start=start or 1):
        if text.rstrip().endswith(marker):
            return f"tests/{Path(inspect.getfile(module)).name}:{number}", text.strip()
    raise AssertionError(marker)
