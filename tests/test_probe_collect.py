"""modeldoc.probe.collect: the static walk and the probe's results merged into the raw ModelSpec."""

from __future__ import annotations

import modeldoc
from modeldoc.options import model_options
from modeldoc.probe import collect, guard, static
from tests import hostile, models


def test_without_an_input_the_spec_is_the_static_walk_and_says_what_is_missing() -> None:
    model = models.Tiny()
    spec = collect.collect(model, model_options({"target": "tests.models:Tiny"}))
    read = static.read_model(model, guard.walk(model))
    assert (spec.root, spec.layers) == (read.root, read.layers)
    assert spec.trace is None and spec.inputs == ()
    assert spec.probe_error == collect.NO_INPUT
    assert spec.warnings == ()  # a missing input is not a warning
    assert (spec.name, spec.title, spec.target, spec.total_params) == (
        "Tiny",
        "Tiny",
        "tests.models:Tiny",
        4 * 8 + 8 + 8 * 3 + 3,
    )


def test_with_an_input_each_layer_gets_what_the_probe_saw() -> None:
    model = models.SharedBlock()
    spec = collect.collect(model, model_options({"target": "x:SharedBlock", "input_shape": "N=2,8", "title": "Shared"}))
    block = spec.layer("block")
    assert (block.calls, block.order, block.input_dims, block.output_dims) == (2, 1, (("N", 8),), (("N", 8),))
    assert block.macs == 2 * 2 * 8 * 8  # both calls count
    assert spec.root.calls == 1 and spec.root.macs == spec.macs == 2 * 2 * 8 * 8 + 2 * 8 * 2
    assert spec.title == "Shared"
    assert spec.trace is not None and spec.trace.complete and spec.probe_error == ""


def test_lazy_parameters_get_the_shapes_of_the_first_call_in_layers_and_totals() -> None:
    model = models.Lazy()
    before = collect.collect(model, model_options({"target": "x:Lazy"}))
    after = collect.collect(model, model_options({"target": "x:Lazy", "input_shape": "1,3,4"}))
    assert (before.total_params, after.total_params, after.trainable_params) == (0, 52, 52)
    assert (after.root.total_params, after.layer("fc").own_params) == (52, 52)
    assert after.bytes_by_dtype == {"float32": 52 * 4}
    assert model.fc.has_uninitialized_params()


def test_a_model_whose_own_modules_method_raises_is_described_through_the_python_api() -> None:
    """The module count for the progress line comes from the guarded walk, not from ``model.modules()``."""
    doc = modeldoc.describe(hostile.NO_NAMED_MODULES, input_shape=(2, 4))
    assert [lay.path for lay in doc.spec.layers] == ["fc", "out"]
    assert doc.spec.trace is not None and doc.spec.trace.complete
