"""``modeldoc knowledge check``: a project's entries against the schema and against live layers (knowledge_check)."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result

GATED = "modeldoc.examples.gated:GatedNet"
MODEL = ["--input-shape", "1,16", "--input-dtype", "long"]

GOOD = """
modeldoc.examples.gated.GatedMLP:
  summary: "A gated block from {{ dim }} to {{ hidden }} features and back."
  args:
    dim: {kind: data-dependent, source: previous-layer, dim: "in0:-1", reason: "the incoming width ({{ dim }})"}
    hidden: {reason: "the gated width ({{ hidden }})"}
  params:
    gate_up: {axes: ["2 × hidden", "dim"], meaning: "W_gate and W_up"}
    down: {axes: ["dim", "hidden"], meaning: "W_down"}
  example: {args: [8, 12], input: [2, 5, 8]}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Path]:
    """A working folder with a knowledge folder ``knowledge/`` holding ``gated.yaml`` with the given text."""
    monkeypatch.chdir(tmp_path)

    def write(text: str) -> Path:
        folder = tmp_path / "knowledge"
        folder.mkdir(exist_ok=True)
        path = folder / "gated.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


def lines(result: Result) -> list[str]:
    return result.stdout.splitlines()


def test_good_entries_pass_with_a_summary(cli: Callable[..., Result], project: Callable[[str], Path]) -> None:
    project(GOOD)
    result = cli("knowledge", "check", "--knowledge", "knowledge")
    assert result.exit_code == 0, result.output
    assert lines(result) == ["checked 1 knowledge entry (1 built from its example): no problems"]
    result = cli("knowledge", "check", "--knowledge", "knowledge", GATED, *MODEL)
    assert result.exit_code == 0, result.output
    assert lines(result) == [f"checked 1 knowledge entry (1 built from its example, 1 layer of {GATED}): no problems"]


def test_the_bundled_example_entries_pass(cli: Callable[..., Result], project: Callable[[str], Path]) -> None:
    result = cli("knowledge", "check", "--knowledge", "modeldoc.examples.knowledge", GATED, *MODEL)
    assert result.exit_code == 0, result.output
    assert lines(result) == [f"checked 1 knowledge entry (1 built from its example, 1 layer of {GATED}): no problems"]


def test_a_wrong_axes_count_and_a_wrong_dim_are_one_line_each(
    cli: Callable[..., Result], project: Callable[[str], Path]
) -> None:
    path = project(GOOD.replace('axes: ["dim", "hidden"]', 'axes: ["dim"]').replace("in0:-1", "in0:-2"))
    result = cli("knowledge", "check", "--knowledge", "knowledge")
    assert result.exit_code == 1
    entry = "modeldoc.examples.gated.GatedMLP"
    shown = path.relative_to(path.parent.parent)
    assert lines(result) == [
        f"{shown}: {entry}.params.down: 1 axis for a tensor of shape [8, 12]",
        f"{shown}: {entry}.args.dim.dim: in0:-2 is 5 in input 0 (2, 5, 8), but dim = 8",
    ]
    assert result.stderr == (
        "Error: 2 problems in knowledge entries (listed above); fix them and run modeldoc knowledge check again\n"
    )
    # the layers of a model are checked the same way, each line naming the layer
    result = cli("knowledge", "check", "--knowledge", "knowledge", GATED, *MODEL)
    assert result.exit_code == 1
    assert f"{shown}: {entry}.params.down: 1 axis for a tensor of shape [64, 172] (layer mlp)" in lines(result)
    assert f"{shown}: {entry}.args.dim.dim: in0:-2 is 16 in input 0 (1, 16, 64), but dim = 64 (layer mlp)" in lines(
        result
    )


def test_a_dim_that_names_a_missing_tensor_or_axis(cli: Callable[..., Result], project: Callable[[str], Path]) -> None:
    path = project(
        GOOD.replace('"in0:-1"', '"in1:-1"').replace(
            '{reason: "the gated width', '{dim: "out0:5", reason: "the gated width'
        )
    )
    result = cli("knowledge", "check", "--knowledge", "knowledge")
    assert result.exit_code == 1
    shown = path.relative_to(path.parent.parent)
    assert lines(result) == [
        f"{shown}: modeldoc.examples.gated.GatedMLP.args.dim.dim: in1:-1 names input 1, but the layer's first call "
        "had 1 input",
        f"{shown}: modeldoc.examples.gated.GatedMLP.args.hidden.dim: out0:5 names an axis that output 0 (2, 5, 8) "
        "does not have (3 axes)",
    ]


def test_a_template_that_fails_on_the_live_layer_is_named(
    cli: Callable[..., Result], project: Callable[[str], Path]
) -> None:
    path = project(GOOD.replace("{{ hidden }} features and back", "{{ hiden }} features and back"))
    result = cli("knowledge", "check", "--knowledge", "knowledge")
    assert result.exit_code == 1
    assert lines(result) == [
        f"{path.relative_to(path.parent.parent)}: modeldoc.examples.gated.GatedMLP.summary: UndefinedError: "
        "'hiden' is undefined"
    ]


def test_every_schema_problem_is_listed(cli: Callable[..., Result], project: Callable[[str], Path]) -> None:
    path = project(
        """
        mypkg.One: {summary: "{{ x ", colour: red}
        mypkg.Two: {extends: Linaer}
        """
    )
    result = cli("knowledge", "check", "--knowledge", "knowledge")
    assert result.exit_code == 1
    shown = path.relative_to(path.parent.parent)
    assert lines(result) == [
        f"{shown}: mypkg.One: unknown field colour; the fields are abstract, args, brief, example, extends, formula, "
        "let, notes, params, replace, signature, size_rule, summary, vars",
        f"{shown}: mypkg.One.summary: template syntax error: unexpected end of template, expected 'end of print "
        "statement'. (line 1)",
        f"{shown}: mypkg.Two: extends unknown entry 'Linaer'; did you mean 'Linear'?",
    ]


def test_an_example_that_cannot_be_built_or_called(cli: Callable[..., Result], project: Callable[[str], Path]) -> None:
    path = project(
        """
        modeldoc.examples.gated.GatedMLP: {example: {args: [8], input: [2, 8]}}
        modeldoc.examples.gated.GatedNet: {example: {input: [2, 8]}}
        modeldoc.examples.gated.Missing: {example: {}}
        """
    )
    result = cli("knowledge", "check", "--knowledge", "knowledge")
    assert result.exit_code == 1
    shown = path.relative_to(path.parent.parent)
    found = lines(result)
    assert found[0] == (
        f"{shown}: modeldoc.examples.gated.GatedMLP.example: cannot load 'modeldoc.examples.gated:GatedMLP': "
        "building it from the example raised TypeError: GatedMLP.__init__() missing 1 required positional argument: "
        "'hidden'; fix the example's args"
    )
    assert found[1].startswith(
        f"{shown}: modeldoc.examples.gated.GatedNet.example: calling the layer with (2, 8) failed: the forward pass "
        "failed in embedding (Embedding)"
    )
    assert found[2] == (
        f"{shown}: modeldoc.examples.gated.Missing.example: cannot load 'modeldoc.examples.gated:Missing': "
        "modeldoc.examples.gated has no attribute 'Missing'; check the name after the colon"
    )
    assert len(found) == 3


def test_notes_for_entries_without_example_and_layers_the_table_does_not_know(
    cli: Callable[..., Result], project: Callable[[str], Path]
) -> None:
    project("mypkg.layers.Other: {summary: 'not in this model'}\n")
    result = cli("knowledge", "check", "--knowledge", "knowledge", GATED, *MODEL)
    assert result.exit_code == 0, result.output
    assert lines(result) == [
        "note: mypkg.layers.Other has no example, so it was checked against the schema only; add example: to build it",
        f"note: 1 layer type of {GATED} is not in the table and will be described by inference: "
        "modeldoc.examples.gated.GatedMLP",
        f"checked 1 knowledge entry (0 built from their examples, 0 layers of {GATED}): no problems",
    ]


def test_the_folders_of_pyproject_are_checked_by_default(
    cli: Callable[..., Result], project: Callable[[str], Path], tmp_path: Path
) -> None:
    project(GOOD)
    (tmp_path / "pyproject.toml").write_text('[tool.modeldoc]\nknowledge = "knowledge"\n', encoding="utf-8")
    result = cli("knowledge", "check")
    assert result.exit_code == 0, result.output
    assert lines(result) == ["checked 1 knowledge entry (1 built from its example): no problems"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            (),
            "Error: there are no knowledge entries to check; pass --knowledge DIR (a folder of YAML entries), or set "
            "knowledge in pyproject.toml's [tool.modeldoc]\n",
        ),
        (
            ("--knowledge", "nowhere"),
            "Error: knowledge folder 'nowhere' in --knowledge is not a folder (nor an "
            "installed package); create it or fix the path\n",
        ),
        (
            ("--input-shape", "1,16"),
            "Error: --input-shape describes a model, and no TARGET was given; pass the TARGET whose layers to check, "
            "or leave the option out\n",
        ),
        (
            ("--probe-timeout", "5"),
            "Error: --probe-timeout describes a model, and no TARGET was given; pass the TARGET whose layers to "
            "check, or leave the option out\n",
        ),
    ],
)
def test_bad_options_exit_2_with_one_line(
    cli: Callable[..., Result], project: Callable[[str], Path], args: tuple[str, ...], message: str
) -> None:
    result = cli("knowledge", "check", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", message)
