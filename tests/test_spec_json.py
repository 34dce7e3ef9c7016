"""The modeldoc/1 JSON contract: it reads back exactly, fits the published schema, and is pinned by goldens.

Round trip: for every model of the corpus (the bundled examples, the fixtures of tests/models.py,
the hostile models, the random generator's models and Hugging Face models built from small
configs), ``ModelSpec.from_json(spec.to_json()) == spec`` after the JSON went through text, as
a saved file does, and the JSON fits ``modeldoc/schema/modeldoc-1.json``. (Every model the rest
of the suite describes through `tests.helpers.specs.spec_of` or ``modeldoc inspect --json`` is checked
the same way.)

Goldens: tests/golden/{fashion,text,transformer}.json are the descriptions of the bundled examples
as the project configures them; tests/golden/llama-70b-trimmed.json is the LLaMA shape trimmed to
its structure (the whole is 4 MB). Regenerate them all with one command:

    .venv/bin/python -m pytest tests/test_spec_json.py --update-goldens
"""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from torch import nn

from modeldoc import jsonmap
from modeldoc import spec as spec_module
from modeldoc.errors import ConfigError
from modeldoc.options import model_options
from modeldoc.pipeline import describe, describe_module
from modeldoc.spec import JSON_SCHEMA, SCHEMA, LayerSpec, ModelSpec
from tests import hostile
from tests.helpers import GOLDEN, REPO
from tests.helpers.run import Server
from tests.helpers.specs import (
    EXAMPLES,
    check_round_trip,
    configured,
    hyper_json,
    layer_json,
    schema_errors,
    spec_of,
)
from tests.random_models import describe_random, random_model


def json_text(data: Any) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def golden_json(name: str) -> dict[str, Any]:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- the round trip over the corpus

FIXTURES = [
    ("tests.models:Tiny", ["2,4"], {}),
    ("tests.models:make_tiny", ["2,4"], {"kwargs": {"width": 3}}),
    ("tests.models:TiedLM", [[2, 7]], {"input_dtype": "long"}),
    ("tests.models:SharedBlock", [[3, 8]], {}),
    ("tests.models:Branches", ["1,6"], {}),
    ("tests.models:FrozenBN", [[2, 3, 8, 8]], {}),
    ("tests.models:TextLSTM", ["N=2,L=7"], {"input_dtype": "long"}),
    ("tests.models:Attention", ["1,L=5,16"], {}),
    ("tests.models:Lazy", [], {}),
    ("tests.models:Lazy", [[2, 3, 4]], {}),
    ("tests.models:Hostile", [[2, 4]], {}),
    ("tests.models:Broken", ["1,1,12,12"], {}),
    ("tests.models:TwoInputs", [], {"example": "tests.models:two_inputs_example"}),
    ("tests.models:DictInput", [], {"example": "tests.models:dict_example"}),
    ("tests.models:NeedsValues", ["2,4"], {}),
    ("tests.models:PoolGeometry", ["1,2,15,15"], {}),
    ("tests.models:Heads", ["1,L=5,12"], {}),
    ("tests.models:Grouped", [[1, 6, 8, 8]], {}),
    ("tests.models:Parametrized", [[2, 8]], {}),
    ("tests.models:Scale", ["2,4"], {"kwargs": {"dim": 4}}),
    ("tests.models:SelfAttention", ["1,L=5,16"], {"kwargs": {"width": 16, "heads": 4}}),
    ("tests.models:ThirdParty", [], {}),
    ("tests.models:ThirdParty", [[2, 5, 8]], {}),
    ("tests.models:SequenceDims", ["N=2,L=5,4"], {}),
    ("tests.models:StridedConv", ["1,1,H=8,W=8"], {}),
    ("tests.models:FixedLength", ["N=2,L=6,2"], {}),
    ("tests.models:UsesConvBlock", [[1, 3, 8, 8]], {}),
    ("tests.models:meta_needs_values", ["2,4"], {}),
    ("tests.models:tiny_gpt2", ["input_ids:1,L=8"], {"input_dtype": "long"}),
    ("tests.models:tiny_bert", ["input_ids:N=1,L=8"], {"input_dtype": "long"}),
    ("tests.models:tiny_llama", ["input_ids:N=1,L=8"], {"input_dtype": "long"}),
    ("tests.models:meta_llama", ["input_ids:N=1,L=8"], {"input_dtype": "long"}),
]


@pytest.mark.parametrize(("target", "shapes", "entry"), FIXTURES, ids=[f"{t}{s}" for t, s, _ in FIXTURES])
def test_every_fixture_model_reads_back_equal(target: str, shapes: list[Any], entry: dict[str, Any]) -> None:
    spec = describe(model_options({"target": target, "input_shapes": shapes, **entry}))
    assert check_round_trip(spec) is spec


@pytest.mark.parametrize("slug", list(EXAMPLES.values()))
def test_every_bundled_example_reads_back_equal(slug: str) -> None:
    check_round_trip(describe(configured(slug)))


HOSTILE = [
    "SHARED_TWICE",
    "CACHES",
    "NEEDS_VALUES",
    "CONTAINS_ITSELF",
    "CALLS_ITSELF",
    "NESTED",
    "NOT_A_MODULE_INSIDE",
    "NO_NAMED_MODULES",
    "WITH_BAD_LEAF",
    "PROPERTY_RAISES",
    "GETATTR_RAISES",
    "EXITS",
    "RAISES_BASE",
    "STRANGE",
    "ReprRaises",
    "DocRaises",
    "EmptyKey",
    "Softmax",
    "TokenIdsIntoLinear",
    "quantised_on_meta",
    "ibert_on_meta",
]


@pytest.mark.parametrize("name", HOSTILE)
def test_every_hostile_model_reads_back_equal(name: str) -> None:
    found = getattr(hostile, name)
    model = found if isinstance(found, nn.Module) else found()
    options = model_options({"target": "tests.hostile:Model", "input_shapes": ["2,4"], "probe_timeout": 30})
    check_round_trip(describe_module(model, options))


@pytest.mark.parametrize("seed", range(30))
def test_random_models_read_back_equal(seed: int) -> None:
    model, option = random_model(seed)
    check_round_trip(describe_random(model, option))


def test_the_python_apis_json_fits_the_schema_and_reads_back() -> None:
    import torch

    import modeldoc
    from tests.models import TextLSTM

    doc = modeldoc.describe(TextLSTM(), example_inputs=torch.ones(2, 6, dtype=torch.long), title="LSTM")
    data = doc.to_json()
    assert schema_errors(data) == []
    assert ModelSpec.from_json(data) == doc.spec
    assert data["model"]["title"] == "LSTM" and data["model"]["target"] == "tests.models:TextLSTM"


@pytest.mark.slow
def test_the_llama_70b_shape_reads_back_equal() -> None:
    check_round_trip(describe(configured("llama-70b")))


def test_the_round_trip_restores_what_the_json_writes_otherwise() -> None:
    """Tuples, the root layer, symbolic dims and op arguments come back as they were, not as JSON has them."""
    spec = spec_of("tests.models:StridedConv", "1,1,H=8,W=8")
    back = ModelSpec.from_json(json.loads(json.dumps(spec.to_json())))
    assert back.root == spec.root and back.root.path == "" and back.root.parent is None
    layer = next(layer for layer in back.layers if layer.input_dims)
    assert isinstance(layer.input_dims[0], tuple) and "N" in layer.input_dims[0] and "H" in layer.input_dims[0]
    assert back.trace is not None and spec.trace is not None
    assert [op.arguments for op in back.trace.ops] == [op.arguments for op in spec.trace.ops]
    assert back.title == spec.title and back.layers == spec.layers


# --------------------------------------------------------------------------- every field has its key


def _mapped_classes() -> list[type[jsonmap.JsonMapped]]:
    return [
        cls
        for cls in vars(spec_module).values()
        if isinstance(cls, type) and issubclass(cls, jsonmap.JsonMapped) and cls is not jsonmap.JsonMapped
    ]


def test_every_field_of_the_spec_is_written_to_the_json() -> None:
    """A field added without a key would be lost on the way to JSON and back."""
    classes = _mapped_classes()
    assert len(classes) >= 10
    for cls in classes:
        keyed = {key.field for key in cls.json_layout if not key.copy}
        flags = {key.when for key in cls.json_layout} - {jsonmap.ALWAYS, jsonmap.SET}
        # fields computed from others (init=False, such as Hyperparam.axis_ref from dim) are remade on reading
        # and fields marked metadata={"json": False} (ModelSpec.pictures: images for the site only) stay out
        stored = {f.name for f in dataclasses.fields(cls) if f.init and f.metadata.get("json", True)}  # type: ignore[arg-type]
        missing = stored - keyed - flags
        assert not missing, f"{cls.__name__}.json_layout has no key for {sorted(missing)}"


SCHEMA_DEFS = {
    "DerivationStep": "derivationStep",
    "Hyperparam": "hyperparameter",
    "UnknownArgument": "unknownArgument",
    "Bookkeeping": "bookkeeping",
    "ParamSpec": "parameter",
    "LayerSpec": "layer",
    "BoundaryTensor": "boundaryTensor",
    "TensorInfo": "tensor",
    "OpSpec": "op",
    "TraceSpec": "trace",
    "ConfigSource": "configSource",
    "ModelConfig": "modelConfig",
    "TensorStats": "tensorStats",
    "ShapeMismatch": "shapeMismatch",
    "CheckpointSpec": "checkpoint",
    "StructureSpec": "structure",
    "Difference": "difference",
    "Assumption": "assumption",
    "MadeUpInput": "madeUpInput",
}


def _schema() -> dict[str, Any]:
    return json.loads(JSON_SCHEMA.read_text(encoding="utf-8"))


def _schema_objects(cls: type[jsonmap.JsonMapped]) -> dict[str, dict[str, Any]]:
    """The schema object of each JSON object a class writes (ModelSpec writes the top level and ``model``)."""
    schema = _schema()
    if cls is ModelSpec:
        return {"": schema, "model": schema["$defs"]["model"]}
    return {"": schema["$defs"][SCHEMA_DEFS[cls.__name__]]}


def test_the_schema_types_every_key_the_layouts_write_and_requires_the_ones_always_written() -> None:
    assert {cls.__name__ for cls in _mapped_classes()} == {*SCHEMA_DEFS, "ModelSpec"}
    for cls in _mapped_classes():
        objects = _schema_objects(cls)
        written: dict[str, set[str]] = {name: set() for name in objects}
        required: dict[str, set[str]] = {name: set() for name in objects}
        for key in cls.json_layout:
            outer, _, last = key.key.rpartition(".")
            written[outer].add(last)
            if key.when == jsonmap.ALWAYS and key.fallback is None:
                required[outer].add(last)
        if cls is ModelSpec:
            written[""] |= {"schema", "model"}
            required[""] |= {"schema", "model"}
        for name, obj in objects.items():
            where = f"{cls.__name__} {name or '(top)'}"
            assert written[name] <= set(obj["properties"]), f"{where}: untyped {written[name] - set(obj['properties'])}"
            assert set(obj["required"]) == required[name], where


def test_the_schema_is_a_valid_draft_2020_12_schema_with_a_stable_id() -> None:
    import jsonschema

    schema = _schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/modeldoc/schema/modeldoc-1.json")
    assert schema["properties"]["schema"] == {"const": SCHEMA}


def test_the_docs_site_publishes_the_schema_at_schema_modeldoc_1_json() -> None:
    """The repository's MkDocs site copies docs/schema/modeldoc-1.json (the package's file) to that URL."""
    from mkdocs.config import load_config
    from mkdocs.structure.files import get_files

    files = get_files(load_config(config_file=str(REPO / "mkdocs.yml")))
    published = files.get_file_from_path("schema/modeldoc-1.json")
    assert published is not None and not published.is_documentation_page()
    assert published.dest_uri == "schema/modeldoc-1.json"
    assert Path(published.abs_src_path).read_bytes() == JSON_SCHEMA.read_bytes()
    assert "](schema/modeldoc-1.json)" in (REPO / "docs" / "json.md").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- the schema rejects what is broken


BROKEN = {
    "a kind that is not one": (
        lambda d: hyper_json(layer_json(d, "conv1"), "out_channels").update(kind="chosen"),
        True,
    ),
    "a source that is not one": (
        lambda d: hyper_json(layer_json(d, "conv1"), "in_channels").update(source="dataset"),
        True,
    ),
    "no layers": (lambda d: d.pop("layers"), True),
    "no model": (lambda d: d.pop("model"), True),
    "a layer without its path": (lambda d: layer_json(d, "fc1").pop("path"), True),
    "an op kind that is not one": (lambda d: d["trace"]["ops"][0].update(kind="layer"), True),
    "a size that is text": (lambda d: layer_json(d, "conv1")["input_shapes"][0].__setitem__(2, "28"), True),
    "a count that is text": (lambda d: d["model"].update(total_params="32998"), True),
    "a flag that is not a boolean": (lambda d: layer_json(d, "conv1")["parameters"][0].update(trainable="yes"), True),
    "another schema": (lambda d: d.update(schema="modeldoc/2"), True),
    "a parent that is a number": (lambda d: layer_json(d, "conv1").update(parent=0), True),
    "a device that is not one": (lambda d: d["trace"].update(device="cuda"), False),
    "a negative count": (lambda d: d["model"].update(total_params=-1), False),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_the_schema_and_from_json_reject_a_broken_description(name: str) -> None:
    data = golden_json("fashion.json")
    assert schema_errors(data) == []
    change, from_json_too = BROKEN[name]
    change(data)
    assert schema_errors(data), f"the schema accepts {name}"
    if from_json_too:
        with pytest.raises(ConfigError, match=r"^the JSON (is not a modeldoc/1 description|is a )"):
            ModelSpec.from_json(data)


def test_keys_the_schema_does_not_know_are_allowed_everywhere() -> None:
    data = golden_json("fashion.json")
    expected = ModelSpec.from_json(data)
    data["added_later"] = {"x": 1}
    data["model"]["added_later"] = 1
    layer_json(data, "conv1")["label_in_a_later_version"] = "6 filters 5×5"
    layer_json(data, "conv1")["hyperparameters"][0]["added_later"] = [1]
    data["trace"]["ops"][0]["added_later"] = None
    assert schema_errors(data) == []
    assert ModelSpec.from_json(data) == expected


ROOT_DEFAULTS = LayerSpec(path="", type="", type_name="", repr="", depth=0, parent=None)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_a_description_written_before_the_added_keys_still_reads(name: str) -> None:
    """``root``, ``model.title``, ``type_name``, ``local_name`` and ``docstring`` came with from_json."""
    data = golden_json(f"{name}.json")
    full = ModelSpec.from_json(data)
    older = copy.deepcopy(data)
    del older["root"], older["model"]["title"]
    for layer in older["layers"]:
        del layer["type_name"]
        layer.pop("docstring", None)
        for param in layer["parameters"]:
            del param["local_name"]
    assert schema_errors(older) == []
    spec = ModelSpec.from_json(older)
    assert spec.title == spec.name
    # what older descriptions never held of the root (the reason `root` was added) stays at its default
    lost = ("unknown_arguments", "notes", "bases", "summary", "doc_url", "formula", "size_rule", "inferred", "evidence")
    assert spec.root == replace(full.root, **{name: getattr(spec.root, name) for name in lost})
    assert all(getattr(spec.root, name) == getattr(ROOT_DEFAULTS, name) for name in lost)
    assert [replace(layer, docstring="") for layer in spec.layers] == [
        replace(layer, docstring="") for layer in full.layers
    ]


# --------------------------------------------------------------------------- goldens of the bundled examples


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_description_of_each_bundled_example_is_its_golden(name: str, golden: Any) -> None:
    spec = check_round_trip(describe(configured(EXAMPLES[name])))
    golden.check(f"{name}.json", json_text(spec.to_json()))


def trimmed(data: dict[str, Any]) -> dict[str, Any]:
    """The LLaMA description's structure: the model, the layers outside the blocks and in the first and
    last block, and the size of the rest."""
    blocks = layer_json(data, "layers")["children"]
    dropped = set(blocks[1:-1])
    layers = [layer for layer in data["layers"] if ".".join(layer["path"].split(".")[:2]) not in dropped]
    trace = data["trace"]
    return {
        "schema": data["schema"],
        "model": {k: v for k, v in data["model"].items() if k != "print"},
        "input": data["input"],
        "output": data["output"],
        "warnings": data["warnings"],
        "layers": layers,
        "counts": {
            "layers": len(data["layers"]),
            "ops": len(trace["ops"]),
            "tensors": len(trace["tensors"]),
            "module_calls": len(trace["module_calls"]),
        },
    }


@pytest.mark.slow
def test_the_llama_70b_shape_has_its_trimmed_golden(golden: Any) -> None:
    spec = describe(configured("llama-70b"))
    golden.check("llama-70b-trimmed.json", json_text(trimmed(spec.to_json())))


# --------------------------------------------------------------------------- a saved description builds the same site


def test_the_site_of_a_saved_description_is_the_site_of_the_live_model(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = ["modeldoc.examples.transformer:EncoderClassifier", "--input-shape", "1,L=16", "--input-dtype", "long"]
    saved = cli("inspect", *target, "--json")
    assert saved.exit_code == 0, saved.output
    # named as the live model's page is (its slug comes from the file name, its title from inside)
    (tmp_path / "encoderclassifier.json").write_text(saved.stdout, encoding="utf-8")
    assert cli("build", *target, "--out", "live").exit_code == 0
    assert cli("build", "encoderclassifier.json", "--out", "saved").exit_code == 0
    live = {p.relative_to(tmp_path / "live") for p in (tmp_path / "live").rglob("*") if p.is_file()}
    rebuilt = {p.relative_to(tmp_path / "saved") for p in (tmp_path / "saved").rglob("*") if p.is_file()}
    assert live == rebuilt
    pages = sorted(p for p in live if p.suffix in (".html", ".json"))
    assert Path("encoderclassifier/index.html") in pages and Path("search/search_index.json") in pages
    for page in pages:
        assert (tmp_path / "saved" / page).read_bytes() == (tmp_path / "live" / page).read_bytes(), page


@pytest.mark.slow
def test_serve_previews_a_saved_description_and_rebuilds_when_it_is_written_anew(tmp_path: Path) -> None:
    description = tmp_path / "fashion.json"
    description.write_text((GOLDEN / "fashion.json").read_text(encoding="utf-8"), encoding="utf-8")
    with Server("modeldoc", "fashion.json", cwd=tmp_path) as server:
        server.wait_for("Serving on")
        assert "Fashion-MNIST CNN" in server.get("fashion/")
        data = json.loads(description.read_text(encoding="utf-8"))
        data["model"]["title"] = "Saved again"
        description.write_text(json.dumps(data), encoding="utf-8")
        server.wait_until(lambda: server.builds() >= 2, timeout=30)
        assert server.builds() == 2, "\n".join(server.lines)
        assert "Saved again" in server.get("fashion/")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["fashion.json"], "serve writes nothing beside it"
