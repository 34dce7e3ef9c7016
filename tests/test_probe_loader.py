"""modeldoc.probe.loader: a target to a live module, the only place that imports the user's code."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from modeldoc.errors import ModelLoadError
from modeldoc.probe import loader, names

GATE = '''
from torch import nn


class Gate(nn.Module):
    """A gate."""

    def __init__(self, width=4):
        super().__init__()
        self.fc = nn.Linear(width, 2)
'''


@pytest.fixture
def gate_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "gate.py").write_text(GATE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return tmp_path / "gate.py"


def test_a_file_target_is_built_with_kwargs_and_named_after_its_file(gate_file: Path) -> None:
    loaded = loader.load_model("gate.py:Gate", {"width": 6})
    assert loaded.source_file == gate_file
    assert isinstance(loaded.module.fc, nn.Linear) and loaded.module.fc.in_features == 6
    cls = type(loaded.module)
    assert cls.__module__ == names.file_module(gate_file)
    assert (names.public_type(cls), names.target_name(cls)) == ("gate.Gate", "gate:Gate")


@pytest.mark.parametrize(
    ("target", "kwargs", "message"),
    [
        ("gate.py:Gat", {}, "cannot load 'gate.py:Gat': gate.py has no attribute 'Gat'; did you mean 'Gate'?"),
        (
            "gate.py:Gate",
            {"depth": 1},
            "cannot load 'gate.py:Gate': its arguments do not fit (Gate.__init__() got an unexpected keyword "
            "argument 'depth'); check the names and values in --kwargs",
        ),
        (
            "gate",
            {},
            "cannot load 'gate': it is not of the form module:Name; write package.module:Name or path/to/file.py:Name",
        ),
        (
            "tests.models:TINY_INSTANCE",
            {"width": 2},
            "cannot load 'tests.models:TINY_INSTANCE': it is a module instance, which takes no kwargs; drop --kwargs",
        ),
        (
            "tests.models:NOT_A_MODULE",
            {},
            "cannot load 'tests.models:NOT_A_MODULE': it is of type int, not an nn.Module; point at an nn.Module "
            "subclass, a function returning one, or a module instance",
        ),
    ],
)
def test_a_target_that_cannot_be_loaded_says_why_and_the_fix(
    gate_file: Path, target: str, kwargs: dict[str, int], message: str
) -> None:
    with pytest.raises(ModelLoadError) as raised:
        loader.load_model(target, kwargs)
    assert str(raised.value) == message


def test_a_lent_callable_is_loadable_only_while_lent() -> None:
    with loader.lend(lambda: 5, "example_inputs") as target:
        assert target.startswith("<example_inputs>:")
        assert loader.load_callable(target)() == 5
    with pytest.raises(ModelLoadError, match="no module named '<example_inputs>'"):
        loader.load_callable(target)


def test_is_module_takes_instances_only() -> None:
    assert loader.is_module(nn.Linear(2, 2))
    assert not loader.is_module(nn.Linear)
    assert not loader.is_module(torch.ones(2))
