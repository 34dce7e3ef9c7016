"""Every command the README and docs/ show for a bundled example runs as written, from an empty folder.

The commands come from the ```bash / ```console / ```sh / ```shell blocks of README.md and
docs/*.md (a ``$ `` prompt is dropped, ``\\`` continues a line, ``#`` starts a comment). The
rule for each command:

- **run**: a ``modeldoc`` command whose target is a bundled example (``modeldoc.examples.…``),
  or one that takes no target and ends by itself (``-h``, ``--version``), ``modeldoc
  knowledge check`` on bundled knowledge (``--knowledge modeldoc.examples.…``), or a ``build`` or
  ``inspect`` of a saved description (``fashion.json``) that an earlier command of the same
  page writes (``modeldoc inspect … --json > fashion.json``): that command runs first;
- **skipped**, as documentation of the reader's own project: a target that is a placeholder
  (``pkg.…``, ``path/to/…``), a ``build``/``serve`` without a target (the project's configured
  models), a ``knowledge check`` of a placeholder folder, and commands that are not ``modeldoc``'s
  (``pip``, ``make``, ``python -m http.server``);
- anything else **fails** the test: a bundled example in a command this test cannot run (such as
  ``modeldoc serve``, which never ends), or a target that is neither.

Each command runs through the installed ``modeldoc`` console script in a fresh empty working
folder, and must exit 0 and deliver what it promises: the site's index page, the Markdown
pages, JSON that parses, the table. The Python blocks of README.md and docs/python-api.md run
as scripts the same way. Then a new command in the docs is tested by being written down.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import REPO
from tests.helpers.run import run

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"^```(?:bash|console|sh|shell)[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
PYTHON_BLOCK = re.compile(r"^```python[ \t]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
PLACEHOLDERS = ("pkg.", "path/to/")
BUNDLED = "modeldoc.examples."
OPTIONS_WITH_VALUES = {
    "--input-shape",
    "--input-dtype",
    "--kwargs",
    "--example",
    "--probe-device",
    "--title",
    "--depth",
    "--out",
    "--site-name",
    "--templates",
    "--docs-dir",
    "--dev-addr",
    "--knowledge",
}


@dataclass(frozen=True)
class Command:
    source: str
    """``README.md:42``: where it is written."""
    text: str
    args: tuple[str, ...]
    stdout_to: str = ""
    """The file a ``> FILE`` at the end sends stdout to."""
    needs: Command | None = None
    """The earlier command of the page that writes the saved description this one reads."""

    @property
    def subcommand(self) -> str:
        return next((a for a in self.args[1:] if not a.startswith("-")), "")

    @property
    def target(self) -> str:
        rest = list(self.args[1:])
        if self.subcommand in rest:
            rest = rest[rest.index(self.subcommand) + 1 :]
        if self.subcommand == "knowledge" and "check" in rest:  # a command group: the target follows its command
            rest = rest[rest.index("check") + 1 :]
        i = 0
        while i < len(rest):
            if rest[i] in OPTIONS_WITH_VALUES:
                i += 2
                continue
            if not rest[i].startswith("-"):
                return rest[i]
            i += 1
        return ""

    def option(self, name: str) -> str | None:
        return self.args[self.args.index(name) + 1] if name in self.args else None

    def options(self, name: str) -> list[str]:
        return [self.args[i + 1] for i, arg in enumerate(self.args[:-1]) if arg == name]


def shell_commands(path: Path) -> list[Command]:
    """The commands of every shell block in `path`."""
    text = path.read_text(encoding="utf-8")
    found = []
    for block in SHELL_BLOCK.finditer(text):
        first_line = text.count("\n", 0, block.start(1)) + 1
        pending, start = "", 0
        for offset, raw in enumerate(block.group(1).splitlines()):
            line = raw.strip()
            if not pending:
                start = first_line + offset
                if line.startswith("$ "):
                    line = line[2:]
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = pending + line
            pending = ""
            args = tuple(shlex.split(line, comments=True))
            stdout_to = ""
            if len(args) > 2 and args[-2] == ">":
                args, stdout_to = args[:-2], args[-1]
            if args:
                writer = next((c for c in reversed(found) if c.stdout_to and c.stdout_to in args), None)
                found.append(Command(f"{path.relative_to(REPO)}:{start}", line, args, stdout_to, writer))
    return found


def classify(command: Command) -> str:  # noqa: PLR0911, PLR0912 - one return per rule of the docstring
    """``run``, ``skip`` or ``fail: why`` by the rule in this module's docstring."""
    args = command.args
    if args[0] != "modeldoc":
        if any(BUNDLED in a for a in args):
            return "fail: a bundled example in a command that is not modeldoc's, which this test cannot run"
        return "skip"
    target = command.target
    if target.startswith(PLACEHOLDERS):
        return "skip"
    if not command.subcommand:
        return "run"  # modeldoc -h, modeldoc --version
    if {"-h", "--help"} & set(args):
        return "run"
    if not target and command.subcommand in ("build", "serve"):
        return "skip"
    if command.subcommand == "knowledge":
        folders = command.options("--knowledge")
        if any(f.startswith(PLACEHOLDERS) for f in [*folders, target]):
            return "skip"
        if folders and all(f.startswith(BUNDLED) for f in folders) and (not target or target.startswith(BUNDLED)):
            return "run"
        return "fail: modeldoc knowledge check on knowledge that is neither bundled nor a placeholder"
    if command.subcommand == "serve":
        return "fail: modeldoc serve does not end; write it with a placeholder target"
    if target.startswith(BUNDLED) and command.subcommand in ("build", "inspect"):
        return "run"
    if target.endswith(".json") and command.subcommand in ("build", "inspect"):
        if command.needs is not None and command.needs.stdout_to == target and classify(command.needs) == "run":
            return "run"
        return f"fail: no earlier command of the page writes the saved description {target!r}"
    return f"fail: target {target!r} is neither a bundled example nor a placeholder ({', '.join(PLACEHOLDERS)})"


ALL = [command for path in DOCUMENTS for command in shell_commands(path)]
RUN = [command for command in ALL if classify(command) == "run"]


def test_every_command_is_run_or_skipped_by_the_rule():
    failing = [f"{c.source}: {c.text} -> {classify(c)}" for c in ALL if classify(c).startswith("fail")]
    assert not failing, "\n".join(failing)
    assert any(c.source.startswith("README.md") for c in RUN), "the README shows no runnable example command"
    assert any(c.source.startswith("docs/cli.md") for c in RUN)


def test_the_rule_sorts_commands_as_documented():
    def sort(line: str) -> str:
        return classify(Command("x", line, tuple(shlex.split(line, comments=True))))

    assert sort("modeldoc build modeldoc.examples.fashion:Network --input-shape 1,1,28,28") == "run"
    assert sort("modeldoc inspect --input-shape 1,2 modeldoc.examples.text:TextClassifier --json") == "run"
    assert sort("modeldoc --version") == "run"
    assert sort("modeldoc build pkg.models:Net --out site") == "skip"
    assert sort("modeldoc build path/to/my_model.py:Net") == "skip"
    assert sort("modeldoc build") == "skip"
    assert sort("pip install .") == "skip"
    assert sort("modeldoc serve modeldoc.examples.fashion:Network").startswith("fail")
    assert sort("python -m modeldoc build modeldoc.examples.fashion:Network").startswith("fail")
    assert sort("modeldoc build mypackage.models:Net").startswith("fail")
    assert sort("modeldoc knowledge check --knowledge modeldoc.examples.knowledge") == "run"
    assert (
        sort("modeldoc knowledge check --knowledge modeldoc.examples.knowledge modeldoc.examples.gated:GatedNet")
        == "run"
    )
    assert sort("modeldoc knowledge check --knowledge path/to/knowledge") == "skip"
    assert sort("modeldoc knowledge check --knowledge knowledge").startswith("fail")
    assert sort("modeldoc knowledge check").startswith("fail")
    assert sort("modeldoc build fashion.json").startswith("fail: no earlier command")
    saving = "modeldoc inspect modeldoc.examples.fashion:Network --input-shape 1,1,28,28 --json > fashion.json"
    writer = Command("x", saving, tuple(shlex.split(saving))[:-2], "fashion.json")
    assert classify(writer) == "run"
    assert (
        classify(Command("x", "modeldoc build fashion.json", ("modeldoc", "build", "fashion.json"), "", writer))
        == "run"
    )


@pytest.mark.slow
@pytest.mark.parametrize("command", RUN, ids=[c.source for c in RUN])
def test_the_command_runs_as_written_from_an_empty_folder(command, tmp_path):
    if command.needs is not None:
        assert _run(command.needs, tmp_path).returncode == 0, f"{command.needs.source}: {command.needs.text}"
    result = _run(command, tmp_path)
    assert result.returncode == 0, f"{command.source}: {command.text}\n{result.stderr}"
    assert "Traceback" not in result.stderr
    args = command.args
    if "-h" in args or "--help" in args:
        assert result.stdout.startswith("Usage: modeldoc")
    elif "--version" in args or "-V" in args:
        assert result.stdout.startswith("modeldoc, version ")
    elif command.subcommand == "knowledge":
        assert result.stdout.splitlines()[-1].startswith("checked ")
        assert result.stdout.splitlines()[-1].endswith(": no problems")
    elif command.subcommand == "inspect" and "--json" in args:
        assert json.loads(result.stdout)["schema"] == "modeldoc/1"
    elif command.subcommand == "inspect":
        assert re.match(r"^\S+: [\d,]+ parameters \([\d,]+ trainable\)$", result.stdout.splitlines()[0])
        assert "Total params: " in result.stdout
    elif "--markdown-only" in args:
        docs = tmp_path / (command.option("--docs-dir") or "")
        assert (docs / "index.md").is_file()
        assert (docs / ".modeldoc-output").is_file()
        assert "the pages need, in mkdocs.yml:" in result.stdout
    else:
        site = tmp_path / (command.option("--out") or "site")
        assert (site / "index.html").is_file()
        assert (site / ".modeldoc-output").is_file()
        assert result.stdout.startswith("built ")
    stray = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert not stray, f"left behind: {stray}"


def _run(command: Command, folder: Path) -> subprocess.CompletedProcess[str]:
    """Run `command` through the installed console script in `folder`, its ``> FILE`` included."""
    result = run("modeldoc", *command.args[1:], cwd=folder, timeout=600)
    if command.stdout_to:
        (folder / command.stdout_to).write_text(result.stdout, encoding="utf-8")
    return result


PYTHON_DOCUMENTS = [REPO / "README.md", REPO / "docs" / "python-api.md"]


@pytest.mark.slow
@pytest.mark.parametrize("path", PYTHON_DOCUMENTS, ids=[p.name for p in PYTHON_DOCUMENTS])
def test_the_python_examples_run_as_written_from_an_empty_folder(path, tmp_path):
    blocks = [m.group(1) for m in PYTHON_BLOCK.finditer(path.read_text(encoding="utf-8"))]
    assert blocks, f"{path.name} has no Python example"
    script = tmp_path / "example.py"
    script.write_text("\n".join(blocks), encoding="utf-8")
    result = run("python", str(script), cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    if "build_site(" in script.read_text():
        assert (tmp_path / "site" / "index.html").is_file()
