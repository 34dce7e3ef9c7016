"""Checkpoints and --weights on the command line, and every bad file as one clear line with the right exit code.

Files are written by the tests: a truncated and a corrupt safetensors file, a pickle that
``weights_only`` refuses (it holds an instance of a class), a torch file cut in half, an index
whose shard is gone, and checkpoints that do not fit the model they are loaded into. Nothing may
be half-written: the output folder stays as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

from modeldoc.cli import main
from modeldoc.examples.digits import WEIGHTS
from modeldoc.examples.digits import Network as Digits


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def the_error(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in stderr, stderr
    return lines[0].removeprefix("Error: ")


class Pickled:
    """A class whose instance in a checkpoint makes weights_only refuse the whole file."""


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    good = Digits().state_dict()
    save_file(good, "good.safetensors")
    data = Path("good.safetensors").read_bytes()
    Path("truncated.safetensors").write_bytes(data[: len(data) - 100])
    Path("corrupt.safetensors").write_bytes(b"\xff" * 64)
    torch.save({"weight": torch.zeros(2), "helper": Pickled()}, "pickled.pt")
    torch.save(good, "good.pt")
    Path("cut.pt").write_bytes(Path("good.pt").read_bytes()[:300])
    weight_map = dict.fromkeys(good, "gone-00001.safetensors")
    Path("model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return tmp_path


BAD_FILES = {
    "truncated.safetensors": "not a readable safetensors file",
    "corrupt.safetensors": "not a readable safetensors file",
    "pickled.pt": "it holds an object of class tests.test_checkpoint_cli.Pickled, and modeldoc loads checkpoints "
    "with weights_only=True, which never runs a file's code; save the state dict instead",
    "cut.pt": "not a readable torch.save file",
    "model.safetensors.index.json": "the shard gone-00001.safetensors it names is missing",
    "absent.safetensors": "no such file",
}


@pytest.mark.parametrize("file", list(BAD_FILES))
def test_a_bad_checkpoint_is_one_line_exit_1_and_nothing_written(work, file):
    code, _, stderr = invoke("build", file, "--out", "site", "--no-diagrams")
    assert code == 1
    line = the_error(stderr)
    assert line.startswith(f"{file}: "), line
    assert BAD_FILES[file] in line
    assert not (work / "site").exists()


@pytest.mark.parametrize("file", ["truncated.safetensors", "pickled.pt", "cut.pt"])
def test_a_bad_weights_file_is_one_line_exit_1(work, file):
    code, _, stderr = invoke("inspect", "modeldoc.examples.digits:Network", "--weights", file)
    assert code == 1
    assert the_error(stderr).startswith(f"{file}: ")


def test_weights_that_do_not_fit_are_a_summary_and_a_list_on_the_terminal_and_the_page(work):
    state = Digits().state_dict()
    state["fc1.weight"] = torch.zeros(120, 32)
    del state["out.bias"]
    state["head.weight"] = torch.zeros(3)
    save_file(state, "off.safetensors")
    args = ("modeldoc.examples.digits:Network", "--input-shape", "1,1,8,8", "--weights", "off.safetensors")
    code, _, stderr = invoke("build", *args, "--out", "site", "--no-diagrams")
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if line.startswith("warning: ")]
    assert "do not match the model: 8 of 10 tensors loaded" in warnings[0]
    assert warnings[1:] == [
        "warning: modeldoc.examples.digits:Network: missing from off.safetensors: out.bias",
        "warning: modeldoc.examples.digits:Network: in off.safetensors but not in the model: head.weight",
        "warning: modeldoc.examples.digits:Network: another shape: fc1.weight is 120 × 48 in the model and "
        "120 × 32 in off.safetensors",
    ]
    page = (work / "site" / "network" / "index.html").read_text(encoding="utf-8")
    assert "The checkpoint does not match the model whole" in page
    for name in ("out.bias", "head.weight", "fc1.weight"):
        assert f"<code>{name.replace('_', '&#95;')}</code>" in page or f"<code>{name}</code>" in page
    code, _, stderr = invoke("build", *args, "--out", "site2", "--no-diagrams", "--strict")
    assert code == 1 and "--strict: 1 warning" in stderr
    assert not (work / "site2").exists()


def test_weights_with_none_of_the_model_s_tensors_stop_the_build(work):
    save_file({"unrelated.weight": torch.zeros(2, 2)}, "other.safetensors")
    code, _, stderr = invoke(
        "build", "modeldoc.examples.digits:Network", "--weights", "other.safetensors", "--out", "site"
    )
    assert code == 1
    assert "holds none of the model's tensors by name and shape" in the_error(stderr)
    assert not (work / "site").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("good.safetensors", "--weights", "good.pt"), "apply to a model built from its code"),
        (("good.safetensors", "--input-shape", "1,1,8,8"), "does not apply to a checkpoint"),
        (("modeldoc.examples.digits:Network", "--weights", "notes.txt"), "is not a checkpoint file"),
    ],
)
def test_checkpoint_options_that_make_no_sense_are_exit_2(work, args, message):
    code, _, stderr = invoke("inspect", *args)
    assert code == 2
    assert message in the_error(stderr)


def test_a_weights_only_build_writes_pictures_that_the_page_links(work):
    code, _, stderr = invoke("build", str(WEIGHTS), "--show-weights", "--out", "site", "--no-diagrams")
    assert code == 0, stderr
    folder = work / "site" / "digits-safetensors"
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "What a checkpoint alone cannot tell" in page
    assert "looks like a <strong>Conv2d</strong>" in page
    pictures = sorted(p.name for p in (folder / "weights").iterdir())
    assert pictures == ["conv1.weight.png", "conv2.weight.png", "fc1.weight.png", "fc2.weight.png", "out.weight.png"]
    for name in pictures:
        assert f'src="weights/{name}"' in page
    assert page.count('class="modeldoc-histogram"') == 10
