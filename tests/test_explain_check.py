"""explain.check: what does not fit between a knowledge entry and a live layer it describes (pure)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from modeldoc import knowledge
from modeldoc.explain.check import check_layer
from modeldoc.spec import Hyperparam, LayerSpec, ParamSpec


def table(tmp_path: Path, text: str) -> knowledge.Knowledge:
    folder = tmp_path / "knowledge"
    folder.mkdir(parents=True)
    (folder / "gate.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
    return knowledge.load([folder], entry_points=False)


def gate(value: object = 8, *, probed: bool = True) -> LayerSpec:
    return LayerSpec(
        path="g",
        type="mypkg.Gate",
        type_name="Gate",
        repr="Gate()",
        depth=1,
        parent="",
        hyperparameters=(Hyperparam(name="width", value=value, kind="hyperparameter", source="chosen"),),
        parameters=(
            ParamSpec(name="g.w", local_name="w", shape=(8, 8), dtype="float32", numel=64, nbytes=256, trainable=True),
        ),
        input_shapes=((2, 5, 8),) if probed else (),
        output_shapes=((2, 5, 8),) if probed else (),
    )


ENTRY = """
mypkg.Gate:
  summary: "gates {{ width }} features"
  args:
    width: {kind: data-dependent, source: previous-layer, dim: "DIM", reason: "the width ({{ width }})"}
  params:
    w: {axes: [width, width], meaning: "the gate", use: "multiplies by it"}
"""


def problems(tmp_path: Path, layer: LayerSpec, dim: str = "in0:-1", entry: str = ENTRY) -> list[str]:
    found = check_layer(layer, table(tmp_path, entry.replace("DIM", dim)))
    return [f"{p.where}: {p.problem}" for p in found]


def test_a_layer_that_fits_its_entry_has_no_problems(tmp_path: Path) -> None:
    assert problems(tmp_path, gate()) == []


def test_a_layer_no_entry_describes_is_not_checked(tmp_path: Path) -> None:
    other = LayerSpec(path="x", type="mypkg.Other", type_name="Other", repr="", depth=1, parent="")
    assert check_layer(other, table(tmp_path, ENTRY.replace("DIM", "in0:-1"))) == []


def test_each_way_a_dim_can_miss(tmp_path: Path) -> None:
    assert problems(tmp_path / "a", gate(9)) == [
        "mypkg.Gate.args.width.dim: in0:-1 is 8 in input 0 (2, 5, 8), but width = 9"
    ]
    assert problems(tmp_path / "b", gate(), "in1:-1") == [
        "mypkg.Gate.args.width.dim: in1:-1 names input 1, but the layer's first call had 1 input"
    ]
    assert problems(tmp_path / "c", gate(), "in0:-4") == [
        "mypkg.Gate.args.width.dim: in0:-4 names an axis that input 0 (2, 5, 8) does not have (3 axes)"
    ]
    assert problems(tmp_path / "d", gate([5, 8]), "in0:-2,-1") == []
    assert problems(tmp_path / "e", gate(True)) == [
        "mypkg.Gate.args.width.dim: in0:-1 ties width to a size, but its value is True"
    ]
    # a dim template that renders to something else than an axis reference (a literal one fails when read)
    assert problems(tmp_path / "f", gate(), "in{{ 0 }}:last") == [
        "mypkg.Gate.args.width.dim: 'in0:last' is not an axis reference; write in0:-1 (input 0, last axis), out0:1 "
        "or in0:-2,-1 (several axes)"
    ]
    # without probed shapes there is nothing to check a dim against
    assert problems(tmp_path / "g", gate(9, probed=False), "in0:-1") == []


def test_templates_axes_and_use_are_checked_and_named_once(tmp_path: Path) -> None:
    entry = (
        ENTRY.replace("gates {{ width }}", "gates {{ widht }}")
        .replace("axes: [width, width]", "axes: [width]")
        .replace("multiplies by it", "{{ 1 // 0 }}")
    )
    assert problems(tmp_path, gate(), entry=entry.replace("DIM", "in0:-1")) == [
        "mypkg.Gate.params.w: 1 axis for a tensor of shape [8, 8]",
        "mypkg.Gate.summary: UndefinedError: 'widht' is undefined",
        "mypkg.Gate.params.w.use: ZeroDivisionError: integer division or modulo by zero",
    ]


def test_a_layer_path_is_named_when_asked(tmp_path: Path) -> None:
    found = check_layer(gate(9), table(tmp_path, ENTRY.replace("DIM", "in0:-1")), where="layer blocks.0.g")
    assert [str(p) for p in found] == [
        "knowledge entry mypkg.Gate.args.width.dim: in0:-1 is 8 in input 0 (2, 5, 8), but width = 9 "
        "(layer blocks.0.g) "
        f"(in {tmp_path / 'knowledge' / 'gate.yaml'}; fix the entry there)"
    ]
