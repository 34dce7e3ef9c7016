"""Options: every path absolute once made, every shape validated, the same rules from every source.

No torch here: these also run on the lowest and highest supported Python (make test).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from modeldoc.errors import ConfigError
from modeldoc.options import (
    MAX_INPUT_ELEMENTS,
    SiteOptions,
    absolute,
    model_options,
    parse_shape,
    read_pyproject,
    site_options,
)

pytestmark = pytest.mark.notorch


@pytest.mark.parametrize("out", ["site", "./site", "sub/dir/site", "../elsewhere/site", "a/../site"])
def test_site_options_make_relative_paths_absolute(tmp_path, monkeypatch, out):
    monkeypatch.chdir(tmp_path)
    options = SiteOptions(models=(), out=Path(out), custom_templates=Path("tpl"), mkdocs_config=Path("mkdocs.yml"))
    assert options.out.is_absolute()
    assert options.out == Path(os.path.normpath(tmp_path / out))
    assert options.custom_templates == tmp_path / "tpl"
    assert options.mkdocs_config == tmp_path / "mkdocs.yml"


def test_the_default_out_is_site_in_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert SiteOptions(models=()).out == tmp_path / "site"


def test_absolute_keeps_a_symlink_as_the_last_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert absolute("link") == tmp_path / "link"  # not resolved to real/, so the symlink check still sees it


def test_pyproject_paths_are_resolved_against_its_folder(tmp_path):
    (tmp_path / "tpl").mkdir()
    table = {"out": "public", "custom_templates": "tpl", "models": [{"target": "a:B"}]}
    options = site_options(table, where="pyproject.toml", base=tmp_path)
    assert options.out == tmp_path / "public"
    assert options.custom_templates == tmp_path / "tpl"


def test_pyproject_templates_folder_must_exist(tmp_path):
    with pytest.raises(ConfigError, match=r"custom_templates 'nope' in pyproject\.toml is not a folder"):
        site_options({"custom_templates": "nope", "models": []}, where="pyproject.toml", base=tmp_path)


def test_read_pyproject_reads_the_table(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.modeldoc]\nout = "x"\n[[tool.modeldoc.models]]\ntarget = "a:B"\ninput_shape = [1, "L=4"]\n')
    table = read_pyproject(path)
    assert table == {"out": "x", "models": [{"target": "a:B", "input_shape": [1, "L=4"]}]}


def test_read_pyproject_names_a_syntax_error(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.modeldoc\n")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        read_pyproject(path)


def test_parse_shape_names_axes_and_keywords():
    shape = parse_shape("input_ids:1,L=16")
    assert shape.shape == (1, 16)
    assert shape.axis_names == ("N", "L")
    assert shape.keyword == "input_ids"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"inputs": [{"shape": 5}]}, "has shape 5, which is not a list of sizes"),
        ({"inputs": [{"shape": {"a": 1}}]}, "which is not a list of sizes"),
        ({"inputs": [{"shape": [1, 2.5]}]}, "has 2.5, which is not a whole number"),
        ({"inputs": [{"shape": [1, True]}]}, "has True, which is not a whole number"),
        ({"inputs": [{"shape": [1, None]}]}, "has None, which is not a whole number"),
        ({"inputs": [{"shape": [[1, 2]]}]}, "which is not a whole number"),
        ({"inputs": [{"shape": []}]}, "is empty"),
        ({"inputs": [{"shape": [1, -3]}]}, "has size -3; every size must be 1 or more"),
        ({"inputs": [{"shape": [1, 2], "name": "not a name"}]}, "input name 'not a name'"),
        ({"inputs": [{"dtype": "float32"}]}, "write each input as {shape: [...]"),
        ({"inputs": 5}, "has inputs 5, which is not a list"),
        ({"inputs": "1,2"}, "which is not a list"),
        ({"input_shapes": 5}, "has input_shapes 5, which is not a list of shapes"),
        ({"input_shape": 5}, "has input shape 5"),
        ({"input_shape": [1, 2**63]}, "does not fit a 64-bit integer"),
        ({"input_shape": "1," + "9" * 30}, "a size of 30 digits, which does not fit a 64-bit integer"),
        ({"input_shape": "1," + "9" * 5000}, "a size of 5000 digits"),
        ({"input_shape": [100_000, 100_000, 100_000]}, "1,000,000,000,000,000 elements, more than the 10,000,000,000"),
        ({"input_shape": [2, 3], "input_dtype": "complex"}, "unknown input dtype 'complex'"),
        ({"input_shapes": [[1], [2]], "input_dtype": ["long", "long", "long"]}, "3 input dtypes for 2 inputs"),
        ({"kwargs": [1, 2]}, "kwargs of a:B in pyproject.toml is not a mapping"),
        ({"kwargs": {1: 2}}, "kwargs of a:B in pyproject.toml is not a mapping of names to values"),
        ({"sections": "layers"}, "sections of a:B in pyproject.toml is 'layers', not a list of names"),
        ({"sections": ["layers", "nope"]}, "unknown section 'nope'"),
        ({"title": ["x"]}, "title of a:B in pyproject.toml is ['x'], not text"),
        ({"example": "no_colon"}, "example 'no_colon' of a:B in pyproject.toml is not of the form module:function"),
        ({"example": {"a": 1}}, "not text"),
        ({"depth": 0}, "depth of a:B in pyproject.toml is 0"),
        ({"depth": True}, "depth of a:B in pyproject.toml is True"),
        ({"page_size": "big"}, "page_size of a:B in pyproject.toml is 'big'"),
        ({"probe_device": "gpu"}, "probe_device 'gpu' of a:B"),
        ({"colour": "red"}, "unknown option 'colour'"),
    ],
)
def test_model_options_reject_malformed_entries_with_the_fix(entry, message):
    with pytest.raises(ConfigError) as caught:
        model_options({"target": "a:B", **entry}, where="pyproject.toml")
    assert message in str(caught.value)
    assert "; " in str(caught.value)  # what was wrong; how to fix it


def test_the_element_cap_allows_a_real_example():
    options = model_options({"target": "a:B", "input_shape": [64, 3, 224, 224]})
    assert options.inputs[0].shape == (64, 3, 224, 224)
    assert MAX_INPUT_ELEMENTS > 64 * 3 * 224 * 224


@pytest.mark.parametrize(
    "entry",
    [
        {"inputs": [{"shape": [1, "L=16"], "dtype": "long", "name": "input_ids"}]},
        {"inputs": [{"shape": "1,L=16", "dtype": "long", "name": "input_ids"}]},
    ],
)
def test_inputs_take_lists_and_strings(entry):
    (item,) = model_options({"target": "a:B", **entry}).inputs
    assert item.shape == (1, 16)
    assert item.axis_names == ("N", "L")
    assert item.keyword == "input_ids"
    assert item.dtype == "long"


def test_numbers_as_titles_are_taken_as_written():
    assert model_options({"target": "a:B", "title": 2024}).title == "2024"
