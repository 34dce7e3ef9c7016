"""Hostile input at the command line: each case ends in exactly one line, the right exit code, and
no file outside modeldoc's output touched.

Every case runs in a fresh working folder holding one file of the user's; afterwards that folder
holds exactly what the case expects (nothing new after a failure). The option cases need no
torch and also run on Python 3.10 and 3.13 (the notorch marker).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from modeldoc import cli as cli_module
from modeldoc.errors import OutputError
from modeldoc.site import build as site
from tests.helpers import FASHION, LLAMA
from tests.helpers.run import MODELDOC, invoke, run, run_python, the_error

LONG = "x" * 300


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working folder with one file of the user's in it."""
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    monkeypatch.chdir(folder)
    return folder


def outcome(*args: str) -> tuple[int, str, str]:
    """Run the command in-process; exit code, stdout and stderr."""
    result = invoke(*args)
    return result.exit_code, result.stdout, result.stderr


def untouched(folder: Path, *also: str) -> None:
    """Only the user's file (and `also`) is in `folder`, and it is as it was."""
    assert sorted(p.name for p in folder.iterdir()) == sorted(["notes.txt", *also])
    assert (folder / "notes.txt").read_text() == "keep me"


# --------------------------------------------------------------------------- bad options: exit 2


BAD_OPTIONS = [
    (
        ["build", "x:Y", "--probe-device", "gpu"],
        "Invalid value for '--probe-device': 'gpu' is not one of 'meta', 'cpu'; see 'modeldoc build -h'",
    ),
    (
        ["build", "x:Y", "--depth", "0"],
        "Invalid value for '--depth': 0 is not in the range x>=1; see 'modeldoc build -h'",
    ),
    (
        ["build", "x:Y", "--depth", "x"],
        "Invalid value for '--depth': 'x' is not a valid integer range; see 'modeldoc build -h'",
    ),
    (["build", "x:Y", "--out"], "Option '--out' requires an argument"),
    (
        ["build", "x:Y", "--bogus"],
        "No such option '--bogus'. (Did you mean one of: '--out', '--verbose'?); see 'modeldoc build -h'",
    ),
    (
        ["build", "x:Y", "--markdown-only", "--docs-dir", "notes.txt"],
        "Invalid value for '--docs-dir': Directory 'notes.txt' is a file; see 'modeldoc build -h'",
    ),
    (["frobnicate"], "No such command 'frobnicate'; see 'modeldoc -h'"),
    (
        ["inspect", "x:Y", "--title", "T"],
        "No such option '--title'. Did you mean '--strict'?; see 'modeldoc inspect -h'",
    ),
    (["serve", "x:Y", "--strict"], "No such option '--strict'. Did you mean '--title'?; see 'modeldoc serve -h'"),
    (
        ["build", "x:Y", "--templates", "/nonexistent/templates"],
        "Invalid value for '--templates': Directory '/nonexistent/templates' does not exist; see 'modeldoc build -h'",
    ),
    (
        ["build", "x:Y", "--templates", "notes.txt"],
        "Invalid value for '--templates': Directory 'notes.txt' is a file; see 'modeldoc build -h'",
    ),
    (
        ["build", "x:Y", "--kwargs", "{width: 2}"],
        "--kwargs is not valid JSON (Expecting property name enclosed in double quotes); "
        "write it like --kwargs '{\"width\": 64}'",
    ),
    (["build", "x:Y", "--kwargs", "[1]"], "--kwargs is not a JSON object; write it like --kwargs '{\"width\": 64}'"),
    (
        ["build", "x:Y", "--input-shape", "1,x,28"],
        "--input-shape '1,x,28' has 'x', which is not a whole number; give the sizes separated by commas, "
        "e.g. 1,1,28,28 (name a symbolic axis as L=16)",
    ),
    (["build", "x:Y", "--input-shape", "1,0"], "--input-shape '1,0' has size 0; every size must be 1 or more"),
    (
        ["build", "x:Y", "--input-shape", "99999999999999999999,1"],
        "--input-shape '99999999999999999999,1' has a size of 20 digits, which does not fit a 64-bit integer; "
        "use a smaller example (a batch of 1 documents the same model)",
    ),
    (
        ["build", "x:Y", "--input-shape", "100000,100000,100000"],
        "--input-shape '100000,100000,100000' has 100000 × 100000 × 100000 = 1,000,000,000,000,000 elements, "
        "more than the 10,000,000,000 an example input may have; use a smaller example (a batch of 1 documents "
        "the same model)",
    ),
    (
        ["build", "x:Y", "--input-shape", "bad-name:1,2"],
        "input name 'bad-name' in 'bad-name:1,2' is not a Python identifier; write NAME:SHAPE, e.g. input_ids:1,16",
    ),
    (
        ["build", "x:Y", "--input-shape", "L-=3,4"],
        "axis name 'L-' in --input-shape 'L-=3,4' is not a plain name; use letters, e.g. L=16",
    ),
    (
        ["build", "x:Y", "--input-shape", "2,4", "--input-dtype", "complex"],
        "unknown input dtype 'complex'; use one of float32, float64, float16, bfloat16, long, int64, int32, bool",
    ),
    (
        [
            "build",
            "x:Y",
            "--input-shape",
            "2,4",
            "--input-dtype",
            "long",
            "--input-dtype",
            "long",
            "--input-dtype",
            "long",
        ],
        "the command line (x:Y) has 3 input dtypes for 1 inputs; give one dtype for all inputs or one per input",
    ),
    (
        ["build", "x:Y", "--example", "nocolon"],
        "example 'nocolon' of x:Y is not of the form module:function; name a function that returns the example "
        "inputs, e.g. pkg.models:make_inputs",
    ),
    (
        ["build", "justaname"],
        "target 'justaname' in the command line is not of the form module:Name; give it as package.module:Name "
        "or path/to/file.py:Name",
    ),
    (["build", "x:Y", "-q", "-v"], "--quiet and --verbose contradict each other; give one of them"),
    (
        ["build", "x:Y", "--markdown-only"],
        "--markdown-only needs --docs-dir; name the folder to write, e.g. --docs-dir docs/models",
    ),
    (
        ["build", "x:Y", "--docs-dir", "d"],
        "--docs-dir only applies to --markdown-only; add --markdown-only, or use --out for a site",
    ),
    (
        ["build", "x:Y", "--markdown-only", "--docs-dir", "d", "--out", "s"],
        "--out does not apply to --markdown-only; name the folder with --docs-dir",
    ),
    (["inspect"], "inspect needs a TARGET; pass one such as package.module:Net"),
    (
        ["inspect", "x:Y", "--depth", "2", "--json"],
        "--depth shapes the table; --json always lists every layer; leave out one of them",
    ),
    (
        ["build", "--input-shape", "1,2"],
        "--input-shape needs a TARGET, and building pyproject.toml's [tool.modeldoc] models takes its models from "
        "there; pass a TARGET, or set the option in that configuration",
    ),
    (
        ["build"],
        "no TARGET given and pyproject.toml has no [tool.modeldoc] models; pass a target such as "
        "package.module:Net, or list models under [[tool.modeldoc.models]]",
    ),
]


@pytest.mark.notorch
@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS, ids=[" ".join(a)[:60] for a, _ in BAD_OPTIONS])
def test_a_bad_option_is_one_line_and_exit_2(workdir, args, message):
    code, stdout, stderr = outcome(*args)
    assert code == 2
    assert the_error(stderr) == message
    assert stdout == ""
    untouched(workdir)


PYPROJECT_ENTRIES = [
    ("inputs = [{shape = 5}]", "has shape 5, which is not a list of sizes; write it as [1, 1, 28, 28] or '1,1,28,28'"),
    ("input_shapes = 5", "has input_shapes 5, which is not a list of shapes"),
    ("input_shape = [1, 1e30]", "has 1e+30, which is not a whole number"),
    ("input_shape = [1, 99999999999999999]", "= 99,999,999,999,999,999 elements, more than the 10,000,000,000"),
    ("inputs = 'x'", "has inputs 'x', which is not a list"),
    ("sections = 'layers'", "is 'layers', not a list of names; write sections as a list"),
    ("kwargs = [1]", "is not a mapping of names to values"),
]


@pytest.mark.notorch
@pytest.mark.parametrize(("line", "message"), PYPROJECT_ENTRIES, ids=[line for line, _ in PYPROJECT_ENTRIES])
def test_a_malformed_pyproject_entry_is_one_line_and_exit_2(workdir, line, message):
    (workdir / "pyproject.toml").write_text(f"[[tool.modeldoc.models]]\ntarget = 'x:Y'\n{line}\n")
    code, _, stderr = outcome("build")
    assert code == 2
    error = the_error(stderr)
    assert f"models[0] in {workdir / 'pyproject.toml'}" in error
    assert message in error
    untouched(workdir, "pyproject.toml")


@pytest.mark.notorch
@pytest.mark.parametrize("command", [[], ["build"], ["serve"], ["inspect"]])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help_everywhere(workdir, command, flag):
    code, stdout, stderr = outcome(*command, flag)
    assert code == 0
    assert stdout.startswith(f"Usage: modeldoc {' '.join(command)}".rstrip() + " ")
    assert "-h, --help" in stdout
    assert stderr == ""


@pytest.mark.notorch
def test_no_arguments_print_the_help(workdir):
    code, stdout, _ = outcome()
    assert code == 0
    assert "Commands:" in stdout


@pytest.mark.notorch
@pytest.mark.parametrize("flag", ["-V", "--version"])
def test_version(workdir, flag):
    code, stdout, _ = outcome(flag)
    assert code == 0
    assert stdout == "modeldoc, version 0.1.0\n"


@pytest.mark.notorch
def test_help_imports_no_torch(workdir):
    code = "import sys; from modeldoc.cli import main; sys.argv = ['modeldoc', 'build', '-h']\n"
    code += "try:\n    main()\nexcept SystemExit:\n    pass\nprint('torch' in sys.modules)"
    assert run_python(code).stdout.strip().endswith("False")


# --------------------------------------------------------------------------- output folders: exit 1


def _out_is_a_file(folder: Path) -> list[str]:
    return ["--out", "notes.txt"]


def _parent_is_a_file(folder: Path) -> list[str]:
    return ["--out", "notes.txt/site"]


def _grandparent_is_a_file(folder: Path) -> list[str]:
    return ["--out", "notes.txt/a/site"]


def _out_is_a_symlink(folder: Path) -> list[str]:
    (folder.parent / "elsewhere").mkdir()
    (folder / "link").symlink_to(folder.parent / "elsewhere")
    return ["--out", "link"]


def _out_holds_foreign_files(folder: Path) -> list[str]:
    (folder / "public").mkdir()
    (folder / "public" / "mine.html").write_text("mine")
    return ["--out", "public"]


def _name_too_long(folder: Path) -> list[str]:
    return ["--out", LONG]


def _inner_name_too_long(folder: Path) -> list[str]:
    return ["--out", f"sub/{LONG}/site"]


def _docs_dir_parent_is_a_file(folder: Path) -> list[str]:
    return ["--markdown-only", "--docs-dir", "notes.txt/models"]


OUTPUT_CASES = [
    (_out_is_a_file, "{w}/notes.txt exists and is not a folder; choose another --out", ()),
    (
        _parent_is_a_file,
        "cannot create {w}/notes.txt/site: {w}/notes.txt is a file, not a folder; choose another --out",
        (),
    ),
    (
        _grandparent_is_a_file,
        "cannot create {w}/notes.txt/a/site: {w}/notes.txt is a file, not a folder; choose another --out",
        (),
    ),
    (_out_is_a_symlink, "{w}/link exists and is not a folder; choose another --out", ("link",)),
    (
        _out_holds_foreign_files,
        "{w}/public already holds files that modeldoc did not write; "
        "choose another --out, or empty that folder yourself",
        ("public",),
    ),
    (
        _name_too_long,
        "the name xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxx has 300 bytes and the file system "
        "allows 255; choose a shorter --out",
        (),
    ),
    (_inner_name_too_long, "has 300 bytes and the file system allows 255; choose a shorter --out", ()),
    (_docs_dir_parent_is_a_file, "cannot create {w}/notes.txt/models: {w}/notes.txt is a file, not a folder", ()),
]


@pytest.mark.notorch
@pytest.mark.parametrize(("setup", "message", "left"), OUTPUT_CASES, ids=[s.__name__ for s, _, _ in OUTPUT_CASES])
def test_an_output_folder_that_cannot_be_written_is_one_line_before_any_work(workdir, setup, message, left):
    args = setup(workdir)
    # A target that would fail to load: the folder is checked first, so it is never imported.
    code, stdout, stderr = outcome("build", "no_such_module_anywhere:Net", *args)
    assert code == 1
    assert message.format(w=workdir) in the_error(stderr)
    assert stdout == ""
    untouched(workdir, *left)
    if left == ("public",):
        assert [p.name for p in (workdir / "public").iterdir()] == ["mine.html"]


@pytest.mark.notorch
@pytest.mark.parametrize(
    ("err", "message"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full; free some space or choose another --out"),
        (
            OSError(errno.EDQUOT, "Disk quota exceeded"),
            "the disk quota is used up; free some space or choose another --out",
        ),
        (OSError(errno.EROFS, "Read-only file system"), "the file system is read-only; choose another --out"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission denied; choose another --out"),
        (OSError(errno.EPERM, "Operation not permitted"), "permission denied; choose another --out"),
        (
            OSError(errno.ENAMETOOLONG, "File name too long"),
            "a name is too long for the file system; choose a shorter --out",
        ),
        (OSError(errno.ENOTDIR, "Not a directory"), "part of the path is a file, not a folder; choose another --out"),
        (OSError(errno.EIO, "Input/output error"), "Input/output error; choose another --out"),
    ],
)
def test_write_errors_become_one_line_with_the_fix(tmp_path, err, message):
    out = tmp_path / "site"
    assert str(site.write_error(out, err)) == f"cannot write {out}: {message}"


@pytest.mark.notorch
def test_a_folder_that_cannot_be_made_for_staging_is_one_line_and_leaves_no_parent(tmp_path, monkeypatch):
    # As root every folder is writable, so the refusal is simulated where it happens: making the staging folder.
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "a" / "b"))

    monkeypatch.setattr(site.tempfile, "mkdtemp", refuse)
    out = tmp_path / "a" / "b" / "site"
    with pytest.raises(OutputError, match="permission denied; choose another --out"), site.staging(out):
        pass
    assert list(tmp_path.iterdir()) == []  # a/ and a/b/ were made for the build and removed again


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[Callable[[str, str], Path]]:
    """Mount a small tmpfs (root only), unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    points: list[Path] = []

    def mount(name: str, options: str) -> Path:
        point = tmp_path / name
        point.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True, check=False
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
        points.append(point)
        return point

    yield mount
    for point in points:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.notorch
def test_a_read_only_file_system_is_one_line(workdir, mounted):
    point = mounted("ro", "ro,size=64k")
    code, _, stderr = outcome("build", "no_such_module_anywhere:Net", "--out", str(point / "site"))
    assert code == 1
    assert the_error(stderr) == f"cannot write in {point}: it is on a read-only file system; choose another --out"
    assert list(point.iterdir()) == []


@pytest.mark.notorch
def test_a_full_disk_is_one_line_before_any_work(workdir, mounted):
    point = mounted("full", "size=8k")
    with (point / "filler").open("wb") as fd, pytest.raises(OSError, match="No space left"):
        fd.write(b"\0" * 65536)
        fd.flush()
    code, _, stderr = outcome("build", "no_such_module_anywhere:Net", "--out", str(point / "site"))
    assert code == 1
    assert the_error(stderr) == f"cannot write in {point}: the disk is full; free some space or choose another --out"
    assert [p.name for p in point.iterdir()] == ["filler"]


@pytest.mark.slow
def test_a_disk_that_fills_up_during_the_build_is_one_line_and_leaves_nothing(workdir, mounted):
    point = mounted("small", "size=256k")  # room to start, not for a whole site (~2 MiB)
    out = point / "sub" / "site"
    code, _, stderr = outcome("build", FASHION, "--input-shape", "1,1,28,28", "--out", str(out))
    assert code == 1
    assert the_error(stderr) == f"cannot write {out}: the disk is full; free some space or choose another --out"
    assert list(point.iterdir()) == []  # no staging folder, and sub/ (made for this build) removed


# --------------------------------------------------------------------------- user code: exit 1, no site


HOSTILE_CODE = [
    ("import sys\nsys.exit()\n", "Net", "running hostile.py called sys.exit()"),
    ("import sys\nsys.exit(3)\n", "Net", "running hostile.py called sys.exit(3)"),
    ("import sys\nsys.exit('bye')\n", "Net", "running hostile.py called sys.exit('bye')"),
    (
        "class Stop(BaseException):\n    pass\nraise Stop('at import')\n",
        "Net",
        "running hostile.py raised Stop: at import; fix the error in that file",
    ),
    ("raise GeneratorExit()\n", "Net", "running hostile.py raised GeneratorExit; fix the error in that file"),
    ("import no_such_dependency_xyz\n", "Net", "running hostile.py raised ModuleNotFoundError: No module named"),
    ("raise ValueError('\\x1b]0;pwned\\x07\\x1b[31mred')\n", "Net", r"raised ValueError: \x1b]0;pwned\x07\x1b[31mred"),
    ("raise RuntimeError('line one\\nline two')\n", "Net", "raised RuntimeError: line one; fix the error"),
    (
        "import sys\nfrom torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        sys.exit(4)\n",
        "Net",
        "building it called sys.exit(4); check --kwargs and the constructor",
    ),
    (
        "from torch import nn\nclass Stop(BaseException):\n    pass\n"
        "class Net(nn.Module):\n    def __init__(self):\n        raise Stop('in the constructor')\n",
        "Net",
        "building it raised Stop: in the constructor; check --kwargs and the constructor",
    ),
    (
        "from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        raise SystemExit\n",
        "Net",
        "building it called sys.exit(); check --kwargs",
    ),
    ("def make():\n    return 42\n", "make", "calling it returned an object of type int, not an nn.Module"),
    ("class Net:\n    pass\n", "Net", "Net is a class but not an nn.Module subclass"),
    ("X = 1\n", "Net", "hostile.py has no attribute 'Net'; check the name after the colon"),
    ("Nett = 1\n", "Net", "hostile.py has no attribute 'Net'; did you mean 'Nett'?"),
]


@pytest.mark.parametrize(
    ("code", "name", "message"), HOSTILE_CODE, ids=[c.splitlines()[-1][:40] for c, _, _ in HOSTILE_CODE]
)
@pytest.mark.parametrize("command", ["build", "inspect"])
def test_user_code_that_exits_or_raises_anything_is_one_line_and_no_site(workdir, code, name, message, command):
    (workdir / "hostile.py").write_text(code)
    code_, stdout, stderr = outcome(command, f"hostile.py:{name}", "--input-shape", "1,4")
    assert code_ == 1
    error = the_error(stderr)
    assert error.startswith(f"cannot load 'hostile.py:{name}': ")
    assert message in error
    assert stdout == ""
    untouched(workdir, "hostile.py")
    assert "modeldoc_user_hostile" not in error


def test_a_constructor_that_raises_keyboard_interrupt_is_an_interruption(workdir):
    (workdir / "hostile.py").write_text(
        "from torch import nn\nclass Net(nn.Module):\n    def __init__(self):\n        raise KeyboardInterrupt\n"
    )
    code, _, stderr = outcome("build", "hostile.py:Net")
    assert code == 130
    assert the_error(stderr) == "interrupted; the previous output is unchanged"
    untouched(workdir, "hostile.py")


def test_a_module_target_that_calls_sys_exit_is_one_line(workdir, monkeypatch):
    name = f"hostile_{os.getpid()}_{time.monotonic_ns()}"
    (workdir / f"{name}.py").write_text("import sys\nsys.exit(0)\n")
    monkeypatch.syspath_prepend(str(workdir))
    code, _, stderr = outcome("build", f"{name}:Net")
    assert code == 1
    assert the_error(stderr) == (
        f"cannot load '{name}:Net': importing {name} called sys.exit(0); guard script code with "
        "if __name__ == '__main__': so that importing the file does not run it"
    )
    untouched(workdir, f"{name}.py")


STRANGE = """
import sys
import torch
from torch import nn

print("printed at import")


class Net(nn.Module):
    \"\"\"A net whose names and errors carry terminal escapes.\"\"\"

    def __init__(self):
        super().__init__()
        self.blocks = nn.ModuleDict({"\\x1b[31mred\\x1b]0;title\\x07": nn.Linear(4, 4), "plain": nn.Linear(4, 2)})

    def forward(self, x):
        print("printed in forward")
        x = self.blocks["\\x1b[31mred\\x1b]0;title\\x07"](x)
        if x.shape[-1] != 4:
            raise ValueError("\\x1b[2Jcleared the screen")
        return self.blocks["plain"](x)
"""


def test_inspect_json_prints_only_json_and_the_models_prints_go_to_stderr(workdir):
    (workdir / "strange.py").write_text(STRANGE)
    code, stdout, stderr = outcome("inspect", "strange.py:Net", "--input-shape", "2,4", "--json")
    assert code == 0, stderr
    data = json.loads(stdout)  # nothing but the JSON
    assert data["model"]["type"] == "strange.Net"
    assert "printed at import" in stderr
    assert "printed in forward" in stderr
    assert "printed" not in stdout
    assert "\x1b" not in stdout
    assert "\\u001b[31mred" in stdout  # the name is there, escaped as JSON does
    assert [layer["path"] for layer in data["layers"]][:2] == ["blocks", "blocks.\x1b[31mred\x1b]0;title\x07"]


@pytest.mark.slow
def test_inspect_json_stdout_is_only_json_at_the_file_descriptor_too(workdir):
    (workdir / "strange.py").write_text(
        STRANGE.replace('print("printed at import")', 'import os\nos.write(1, b"raw\\n")')
    )
    result = run("modeldoc", "inspect", "strange.py:Net", "--input-shape", "2,4", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    json.loads(result.stdout)
    assert "raw" in result.stderr


def test_the_table_shows_names_with_escapes_made_visible(workdir):
    (workdir / "strange.py").write_text(STRANGE)
    code, stdout, stderr = outcome("inspect", "strange.py:Net", "--input-shape", "2,4")
    assert code == 0, stderr
    assert "\x1b" not in stdout + stderr
    assert r"\x1b[31mred\x1b]0;title\x07 (Linear)" in stdout
    assert stdout.startswith("strange.Net: 30 parameters (30 trainable)")


def test_an_error_from_forward_is_a_terminal_safe_warning(workdir):
    (workdir / "strange.py").write_text(STRANGE.replace("!= 4", "== 4"))
    code, _, stderr = outcome("build", "strange.py:Net", "--input-shape", "2,4", "--out", "site", "--no-diagrams")
    assert code == 0
    warnings = [line for line in stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert r"\x1b[2Jcleared the screen" in warnings[0]
    assert "\x1b" not in stderr
    assert " below" not in warnings[0]  # the terminal has no "below"
    assert "the derivations on the model's page point at" in warnings[0]
    untouched(workdir, "strange.py", "site")


def test_strict_fails_on_a_warning_and_writes_nothing(workdir):
    (workdir / "strange.py").write_text(STRANGE.replace("!= 4", "== 4"))
    code, stdout, stderr = outcome("build", "strange.py:Net", "--input-shape", "2,4", "--strict")
    assert code == 1
    lines = [line for line in stderr.splitlines() if line.strip() and "printed" not in line]
    assert lines[0].startswith("warning: strange.py:Net: the forward pass failed")
    assert lines[1:] == [
        "Error: --strict: 1 warning (above); nothing was written; fix what they say, or leave out --strict"
    ]
    assert stdout == ""
    untouched(workdir, "strange.py")


def test_strict_inspect_prints_nothing_on_a_warning(workdir):
    (workdir / "strange.py").write_text(STRANGE.replace("!= 4", "== 4"))
    code, stdout, _ = outcome("inspect", "strange.py:Net", "--input-shape", "2,4", "--json", "--strict")
    assert code == 1
    assert stdout == ""


def test_strict_passes_a_clean_model(workdir):
    code, stdout, stderr = outcome("build", FASHION, "--input-shape", "1,1,28,28", "--strict", "--no-diagrams")
    assert code == 0, stderr
    assert stdout.startswith("built 2 pages for 1 model(s) into ")
    assert (workdir / "site" / "index.html").is_file()


@pytest.mark.parametrize(
    ("raised", "code", "message"),
    [
        (SystemExit(0), 1, "code that modeldoc ran (the model's?) called sys.exit(0); remove that call or guard it"),
        (SystemExit(None), 1, "called sys.exit(); remove that call"),
        (RuntimeError("boom"), 1, "modeldoc failed unexpectedly (RuntimeError: boom); please report it at "),
        (type("Odd", (BaseException,), {})("odd"), 1, "modeldoc failed unexpectedly (Odd: odd)"),
        (MemoryError(), 1, "modeldoc failed unexpectedly (MemoryError: )"),
        (KeyboardInterrupt(), 130, "interrupted; the previous output is unchanged"),
        (cli_module.Terminated(signal.SIGTERM), 143, "stopped by SIGTERM; the previous output is unchanged"),
    ],
)
@pytest.mark.notorch
def test_whatever_escapes_a_command_is_one_line(workdir, monkeypatch, raised, code, message):
    def describe(*args, **kwargs):
        raise raised

    monkeypatch.setattr(cli_module, "_describe_all", describe)
    code_, stdout, stderr = outcome("build", "x:Y", "--out", "site")
    assert code_ == code
    assert message in the_error(stderr)
    assert stdout == ""
    untouched(workdir)


# --------------------------------------------------------------------------- subprocess: signals, numpy


def _not_installed(tmp_path: Path, name: str) -> dict[str, str]:
    """The environment of a Python where importing the package `name` fails as if it were not installed."""
    shim = tmp_path / f"no-{name}" / name
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(f"raise ModuleNotFoundError(\"No module named '{name}'\", name='{name}')\n")
    return {"PYTHONPATH": str(shim.parent)}


@pytest.mark.slow
def test_torchs_numpy_warning_never_reaches_the_user(workdir, tmp_path):
    env = _not_installed(tmp_path, "numpy")
    result = run("modeldoc", "inspect", FASHION, "--input-shape", "1,1,28,28", cwd=workdir, env=env)
    assert result.returncode == 0, result.stderr
    assert "NumPy" not in result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("modeldoc.examples.fashion.Network: 32,998 parameters")


def _interruptible() -> None:
    """SIGINT as a terminal delivers it, also when the tests run in the background (which ignores it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_build(workdir: Path) -> tuple[subprocess.Popen[str], Path]:
    """Start a build of the LLaMA example (long enough to be stopped) and wait for its staging folder."""
    process = subprocess.Popen(
        [str(MODELDOC), "build", *LLAMA, "--out", "site"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_interruptible,  # noqa: PLW1509 - no other thread runs while the test starts the build
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        staging = [p for p in workdir.iterdir() if p.name.startswith(".site.modeldoc-")]
        if staging and (staging[0] / "docs").is_dir():
            return process, staging[0]
        if process.poll() is not None:
            pytest.fail(
                f"the build ended before it could be stopped: {process.stderr.read() if process.stderr else ''}"
            )
        time.sleep(0.02)
    process.kill()
    pytest.fail("no staging folder appeared")


def _old_site(workdir: Path) -> dict[str, bytes]:
    result = run(
        "modeldoc", "build", FASHION, "--input-shape", "1,1,28,28", "--out", "site", "--no-diagrams", cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    return {str(p.relative_to(workdir)): p.read_bytes() for p in (workdir / "site").rglob("*") if p.is_file()}


def _files(workdir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(workdir)): p.read_bytes() for p in (workdir / "site").rglob("*") if p.is_file()}


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_mid_build_keeps_the_old_site_and_leaves_no_staging_folder(workdir, signum):
    before = _old_site(workdir)
    process, _ = _start_build(workdir)
    # Held still while the signal is sent, so a build that renders fast cannot finish first.
    process.send_signal(signal.SIGSTOP)
    assert process.poll() is None, "the build ended before it could be stopped"
    process.send_signal(signum)
    process.send_signal(signal.SIGCONT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    name = signal.Signals(signum).name
    expected = "interrupted" if signum == signal.SIGINT else f"stopped by {name}"
    assert the_error(stderr) == f"{expected}; the previous output is unchanged"
    assert _files(workdir) == before
    untouched(workdir, "site")


@pytest.mark.slow
def test_after_sigkill_the_next_build_removes_the_stale_staging_folder(workdir):
    before = _old_site(workdir)
    process, staging = _start_build(workdir)
    process.kill()
    process.communicate(timeout=60)
    assert staging.is_dir(), "SIGKILL leaves the staging folder behind"
    assert _files(workdir) == before
    other = workdir / ".other.modeldoc-1-abcd"  # a stale folder for another --out is not this build's
    other.mkdir()
    (other / ".modeldoc-staging").write_text("")
    result = run(
        "modeldoc", "build", FASHION, "--input-shape", "1,1,28,28", "--out", "site", "--no-diagrams", cwd=workdir
    )
    assert result.returncode == 0, result.stderr
    assert not staging.exists()
    assert other.is_dir()
    other.joinpath(".modeldoc-staging").unlink()
    other.rmdir()
    untouched(workdir, "site")


@pytest.mark.notorch
def test_a_stale_folder_of_a_live_process_or_without_the_marker_is_kept(tmp_path):
    out = tmp_path / "site"
    live = tmp_path / f".site.modeldoc-{os.getppid()}-live"
    dead_unmarked = tmp_path / ".site.modeldoc-999999999-xyz"
    dead_marked = tmp_path / ".site.modeldoc-999999998-xyz"
    for folder in (live, dead_unmarked, dead_marked):
        folder.mkdir()
    (live / ".modeldoc-staging").write_text("")
    (dead_marked / ".modeldoc-staging").write_text("")
    assert site.remove_stale(out) == [dead_marked]
    assert live.is_dir()
    assert dead_unmarked.is_dir()


@pytest.mark.notorch
def test_without_torch_describing_is_one_line_and_help_still_works(workdir, tmp_path):
    env = _not_installed(tmp_path, "torch")
    result = run("modeldoc", "inspect", FASHION, "--input-shape", "1,1,28,28", cwd=workdir, env=env)
    assert result.returncode == 1
    assert the_error(result.stderr) == (
        "PyTorch is not installed in this Python environment, and describing a model needs it; "
        "install it (pip install torch) and run modeldoc again"
    )
    assert run("modeldoc", "build", "-h", cwd=workdir, env=env).returncode == 0
    untouched(workdir)


BLOCK_OPTIONS = [
    ("inputs: [{shape: 5}]", "input 0 has shape 5, which is not a list of sizes"),
    ("input_shape: [1, 99999999999999999999]", "which does not fit a 64-bit integer"),
    ("input_shape: [100000, 100000, 100000]", "= 1,000,000,000,000,000 elements, more than the 10,000,000,000"),
    ("inputs: {shape: [1, 2]}", "is not a list; write inputs as a list"),
    ("sections: layers", "is 'layers', not a list of names"),
]


@pytest.mark.parametrize(("line", "message"), BLOCK_OPTIONS, ids=[line for line, _ in BLOCK_OPTIONS])
def test_a_malformed_block_in_a_page_is_one_line_and_exit_2(workdir, line, message):
    (workdir / "mkdocs.yml").write_text("site_name: t\nplugins:\n  - modeldoc\n")
    (workdir / "docs").mkdir()
    (workdir / "docs" / "index.md").write_text(f"# Hi\n\n::: modeldoc {FASHION}\n    {line}\n")
    code, stdout, stderr = outcome("build", "--no-diagrams")
    assert code == 2
    error = the_error(stderr)
    assert error.startswith(f"MkDocs could not build {workdir / 'mkdocs.yml'}: Error reading page 'index.md': ")
    assert "the ::: modeldoc block on line 3 of index.md" in error
    assert message in error
    assert stdout == ""
    untouched(workdir, "mkdocs.yml", "docs")
