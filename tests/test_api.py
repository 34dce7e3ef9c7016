"""The Python API: modeldoc.describe on live modules and targets, its JSON, sites and pages.

Its Jupyter display (``_repr_html_``) is tested in test_pages_notebook.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import modeldoc
from modeldoc.errors import ConfigError, ModelLoadError
from tests.helpers import FASHION, REPO
from tests.helpers.run import run_python


@pytest.mark.notorch
def test_importing_modeldoc_imports_no_torch():
    code = "import sys, modeldoc; print(sorted(m for m in ('torch', 'mkdocs', 'jinja2') if m in sys.modules))"
    result = run_python(code)
    assert result.stdout.strip() == "[]"
    assert result.stderr == ""


@pytest.mark.notorch
def test_the_api_is_exported_and_typed():
    assert modeldoc.__all__ == ["Description", "ModeldocError", "__version__", "describe"]
    assert (Path(modeldoc.__file__).parent / "py.typed").is_file()


@pytest.mark.notorch
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"input_shape": (1, 0)}, "modeldoc.describe() (x:Y) has size 0"),
        ({"input_shape": 5}, "input shape 5 is not a sequence of sizes"),
        ({"input_dtype": "complex", "input_shape": (1, 2)}, "unknown input dtype 'complex'"),
        ({"probe_device": "gpu"}, "probe_device 'gpu' of x:Y in modeldoc.describe()"),
        ({"example_inputs": (1,), "input_shape": (1, 2)}, "give example_inputs or input shapes, not both"),
    ],
)
def test_bad_arguments_raise_config_error_before_loading(kwargs, message):
    with pytest.raises(ConfigError) as caught:
        modeldoc.describe("x:Y", **kwargs)
    assert message in str(caught.value)


def test_describe_a_target():
    doc = modeldoc.describe(FASHION, input_shape=(1, 1, 28, 28))
    assert isinstance(doc, modeldoc.Description)
    data = doc.to_json()
    assert data["schema"] == "modeldoc/1"
    assert data["model"]["total_params"] == 32998
    assert data["layers"][2]["hyperparameters"][0]["formula"] == "12 × 4 × 4 = 192"
    assert json.loads(json.dumps(data)) == data
    assert repr(doc) == "<modeldoc.Description of modeldoc.examples.fashion.Network: 32,998 parameters, 5 modules>"


def test_describe_a_live_module_with_example_inputs_leaves_it_as_it_was():
    import torch

    from modeldoc.examples.fashion import Network

    model = Network()
    model.train()
    before = {name: (t, t.clone(), t.requires_grad, t.device) for name, t in model.state_dict(keep_vars=True).items()}
    doc = modeldoc.describe(model, example_inputs=torch.randn(3, 1, 28, 28), title="My CNN")
    assert doc.spec.title == "My CNN"
    assert doc.spec.target == "modeldoc.examples.fashion:Network"
    assert [(i.name, i.shape) for i in doc.spec.inputs] == [("t", (3, 1, 28, 28))]
    assert doc.spec.layer("out").output_shapes == ((3, 10),)
    assert model.training
    after = model.state_dict(keep_vars=True)
    for name, (tensor, values, grad, device) in before.items():
        assert after[name] is tensor
        assert torch.equal(after[name], values)
        assert after[name].requires_grad == grad
        assert after[name].device == device


def test_example_inputs_as_args_and_kwargs():
    import torch

    doc = modeldoc.describe(
        "modeldoc.examples.transformer:EncoderClassifier",
        example_inputs=((torch.ones(2, 7, dtype=torch.long),), {}),
    )
    assert doc.spec.inputs[0].shape == (2, 7)
    assert doc.spec.outputs[0].shape == (2, 2)


def test_a_target_with_constructor_kwargs(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(REPO))
    doc = modeldoc.describe("tests.models:make_tiny", kwargs={"width": 6}, input_shape="2,4")
    assert doc.spec.layer("fc1").parameters[0].shape == (6, 4)


def test_kwargs_with_a_live_module_are_refused():
    from modeldoc.examples.fashion import Network

    with pytest.raises(ConfigError, match="kwargs build a model from a target"):
        modeldoc.describe(Network(), kwargs={"width": 2})


def test_something_that_is_not_a_module_is_refused():
    with pytest.raises(ConfigError, match=r"got a int, not an nn\.Module"):
        modeldoc.describe(42)  # type: ignore[arg-type]


def test_a_target_that_cannot_load_raises_model_load_error():
    with pytest.raises(ModelLoadError, match="no module named 'nosuch'"):
        modeldoc.describe("nosuch.module:Net")


def test_str_is_the_inspect_table():
    doc = modeldoc.describe(FASHION, input_shape=(1, 1, 28, 28))
    text = str(doc)
    assert text.splitlines()[0] == "modeldoc.examples.fashion.Network: 32,998 parameters (32,998 trainable)"
    assert "in_features  = 192  data-dependent, fixed by the previous layer: 12 × 4 × 4 = 192" in text
    assert doc.summary(depth=1) == text  # a flat model: depth 1 is everything


def test_build_site_and_write_markdown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    doc = modeldoc.describe(FASHION, input_shape=(1, 1, 28, 28))
    out = doc.build_site("site", site_name="From the API")
    assert out == tmp_path / "site"
    assert "From the API" in (out / "index.html").read_text()
    assert "12 × 4 × 4 &#61; 192" in (out / "network" / "index.html").read_text()
    docs = doc.write_markdown("docs/models", diagrams=False)
    assert docs == tmp_path / "docs" / "models"
    assert "192" in (docs / "network" / "index.md").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "site"]


def test_build_site_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    doc = modeldoc.describe(FASHION)
    with pytest.raises(modeldoc.ModeldocError, match="already holds files that modeldoc did not write"):
        doc.build_site(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["mine.txt"]


def test_weights_load_into_a_target_and_show_their_statistics(tmp_path, monkeypatch):
    from safetensors import safe_open

    checkpoint = REPO / "modeldoc" / "examples" / "digits.safetensors"
    doc = modeldoc.describe("modeldoc.examples.digits:Network", input_shape=(1, 1, 8, 8), weights=str(checkpoint))
    data = doc.to_json()
    assert data["checkpoint"]["loaded"] == data["checkpoint"]["tensors"] == 10
    weight = next(p for layer in data["layers"] for p in layer["parameters"] if p["name"] == "conv1.weight")
    with safe_open(str(checkpoint), "pt") as file:
        stored = file.get_tensor("conv1.weight")
    assert weight["stats"]["max"] == pytest.approx(float(stored.max()))  # the file's values, not the init's
    assert weight["stats"]["mean"] == pytest.approx(float(stored.mean()), abs=1e-6)
    monkeypatch.chdir(tmp_path)
    site = doc.build_site("site")
    assert list(Path(site).rglob("*.png")), "the weights' pictures are written into the site"


def test_show_weights_on_a_live_module_and_weights_refused_for_it():
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, 0.0]]))
    data = modeldoc.describe(model, input_shape=(1, 3), show_weights=True).to_json()
    stats = next(p for p in data["layers"][0]["parameters"] if p["local_name"] == "weight")["stats"]
    assert (stats["min"], stats["max"], stats["zeros"]) == (-1.0, 2.0, 0.5)
    with pytest.raises(ConfigError, match="weights are loaded only into a model modeldoc builds"):
        modeldoc.describe(model, input_shape=(1, 3), weights="w.safetensors")
