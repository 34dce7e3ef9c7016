"""pages.summary: the table ``modeldoc inspect`` prints (and ``str(Description)``): the tree, arguments, totals."""

from __future__ import annotations

from dataclasses import replace

import pytest

from modeldoc.pages.summary import kind_text, summary_lines
from modeldoc.spec import Hyperparam, LayerSpec, ModelSpec
from tests.helpers.specs import hp, layer, spec_of


@pytest.fixture(scope="module")
def branches() -> ModelSpec:
    return spec_of("tests.models:Branches", "1,6")


def test_the_table_draws_the_tree_with_each_layers_arguments_under_it(branches: ModelSpec) -> None:
    lines = summary_lines(branches)
    assert lines[:3] == [
        "tests.models.Branches: 83 parameters (83 trainable)",
        "input  x: N × 6 (float32)",
        "output output: N × 2 (float32)",
    ]
    assert lines[5:18] == [
        "─" * 52,
        "Branches                  N × 2                   83",
        "├─ branches (ModuleDict)  -                       63",
        "│  ├─ left (Linear)       N × 4                   28",
        "│  │      in_features  = 6  data-dependent, fixed by the input: x.shape[1] = 6",
        "│  │      out_features = 4  hyperparameter",
        "│  └─ right (Linear)      N × 5                   35",
        "│         in_features  = 6  data-dependent, fixed by the input: x.shape[1] = 6",
        "│         out_features = 5  hyperparameter",
        "└─ merge (Linear)         N × 2                   20",
        "       in_features  = 9  data-dependent, fixed by the previous layer: 4 + 5 = 9",
        "       out_features = 2  data-dependent, fixed by the target: output.shape[1] = 2",
        "─" * 52,
    ]
    assert lines[18:23] == [
        "Total params: 83 (332 B float32)",
        "Trainable params: 83",
        "Frozen params: 0",
        "Modules: 4 below the root",
        "One forward pass: 72 multiply-adds, 155 FLOPs, 80 B of activations",
    ]
    assert lines[23] == "3 arguments left at their defaults are not listed."  # the three bias=True


def test_depth_cuts_the_tree_and_counts_only_the_arguments_of_the_rows_shown(branches: ModelSpec) -> None:
    lines = summary_lines(branches, depth=1)
    assert "├─ branches (ModuleDict)  -                       63" in lines
    assert not [line for line in lines if "left (Linear)" in line or "right (Linear)" in line]
    # merge's bias only ("1 arguments", sic: the grammar is the table's, not pinned here)
    assert [line.split()[0] for line in lines if "left at their defaults are not listed" in line] == ["1"]
    assert [line for line in lines if line.startswith("Total")] == ["Total params: 83 (332 B float32)"]


def test_all_arguments_lists_the_defaults_too(branches: ModelSpec) -> None:
    lines = summary_lines(branches, all_arguments=True)
    assert "       bias         = True  hyperparameter" in lines
    assert not [line for line in lines if "left at their defaults" in line]


def test_a_layer_called_twice_says_so_and_one_never_called_says_that() -> None:
    shared = summary_lines(spec_of("tests.models:SharedBlock", "1,8"))
    assert "├─ block (Linear)  N × 8 (×2 calls)            72" in shared
    never = summary_lines(spec_of("tests.models:UsesConvBlock", [1, 3, 8, 8]))
    assert [line.split()[:3] for line in never if "spare" in line] == [["├─", "spare", "(Linear)"]]
    assert any("spare (Linear)" in line and "not called" in line for line in never)


def test_the_kind_says_where_a_data_dependent_size_came_from_and_what_is_uncertain() -> None:
    chosen = hp("out_features", 4)
    assert kind_text(chosen) == "hyperparameter"
    derived = replace(hp("in_features", 192, "in0:-1", "data-dependent"), formula="12 × 4 × 4 = 192")
    assert kind_text(derived) == "data-dependent, fixed by the previous layer: 12 × 4 × 4 = 192"
    assert kind_text(replace(derived, source="input", formula="")) == "data-dependent, fixed by the input"
    assert kind_text(replace(chosen, inferred=True)) == "hyperparameter (inferred)"
    wrong = replace(derived, error="the incoming tensor has 191 at axis -1")
    assert kind_text(wrong).endswith("[does not fit the data: the incoming tensor has 191 at axis -1]")


def test_names_with_terminal_escapes_are_shown_not_sent() -> None:
    evil = "evil\x1b[2J\u202e"
    root = LayerSpec(path="", type="m.Net", type_name="Net", repr="", depth=0, parent=None, children=(evil,))
    child = layer(evil, "Linear", [Hyperparam(name="in_features", value=4, kind="hyperparameter", source="chosen")])
    spec = ModelSpec(name="Net", type="m.Net", root=root, layers=(child,), probe_error="failed\x1b]0;title\x07 here")
    lines = summary_lines(spec)
    assert not [line for line in lines if "\x1b" in line or "\u202e" in line]
    assert any(r"evil\x1b[2J\u202e (Linear)" in line for line in lines)
    assert r"no shapes past the probe: failed\x1b]0;title\x07 here" in lines
