"""modeldoc.probe.inputs: example inputs from the input options or from the user's factory."""

from __future__ import annotations

import pytest
import torch

from modeldoc.errors import ConfigError, ProbeError
from modeldoc.options import model_options
from modeldoc.probe import inputs
from tests.helpers.specs import spec_of


def test_several_positional_and_keyword_inputs() -> None:
    spec = spec_of("tests.models:TwoInputs", "2,3,9,9", "2,5", "meta:2,7")
    assert [(i.name, i.dims) for i in spec.inputs] == [
        ("image", ("N", 3, 9, 9)),
        ("side", ("N", 5)),
        ("meta", ("N", 7)),
    ]
    assert spec.trace is not None and spec.trace.complete
    assert [op.name for op in spec.trace.ops if op.kind == "input"] == ["image", "side", "meta"]
    assert spec.output_dims == (("N", 2),)


def test_example_factory_returning_args_and_kwargs() -> None:
    spec = spec_of("tests.models:TwoInputs", example="tests.models:two_inputs_example")
    assert [(i.name, i.shape) for i in spec.inputs] == [("image", (2, 3, 9, 9)), ("side", (2, 5)), ("meta", (2, 7))]
    assert spec.inputs[0].dims == ("N", 3, 9, 9)
    assert spec.output_dims == (("N", 2),)


def test_example_factory_with_a_dict_of_token_ids() -> None:
    spec = spec_of("tests.models:DictInput", example="tests.models:dict_example")
    assert [(i.name, i.dtype, i.dims) for i in spec.inputs] == [
        ("batch['ids']", "int64", ("N", "L")),  # token ids: their axis 1 is a length, tried at others
        ("batch['extra']", "float32", ("N", 3)),
    ]
    assert spec.trace is not None and spec.trace.complete
    assert spec.layer("embed").input_dims == (("N", "L"),)


def test_a_failing_factory_is_a_probe_error_with_the_fix() -> None:
    with pytest.raises(
        ProbeError, match=r"example-input factory tests\.models:raises raised ValueError: width must be even"
    ):
        spec_of("tests.models:Tiny", example="tests.models:raises")


def test_inputs_from_options_are_built_at_any_size_of_the_named_axes() -> None:
    options = model_options(
        {"target": "x:Y", "input_shapes": ["N=2,L=5", "meta:2,3"], "input_dtype": ["long", "float32"]}
    )
    example = inputs.example_for(options)
    assert example.sizes == {"N": 2, "L": 5}
    args, kwargs = example.make("meta", {"L": 7})
    assert [(t.shape, t.dtype, t.device.type) for t in args] == [((2, 7), torch.long, "meta")]
    assert [(k, t.shape, t.device.type) for k, t in kwargs.items()] == [("meta", (2, 3), "meta")]
    (ids,), first = example.make("cpu", {"N": 3})
    _, again = example.make("cpu", {"N": 3})
    assert ids.shape == (3, 5) and torch.equal(ids, torch.ones(3, 5, dtype=torch.long))  # valid token ids
    assert torch.equal(first["meta"], again["meta"]) and first["meta"].std() > 0  # seeded random floats
    assert example.nbytes({"N": 2, "L": 5}) == 2 * 5 * 8 + 2 * 3 * 4


def test_a_shape_no_tensor_can_have_is_a_bad_option() -> None:
    example = inputs.example_for(model_options({"target": "x:Y", "input_shape": "N=1,8"}))
    with pytest.raises(ConfigError, match="more than any tensor can hold"):
        example.make("meta", {"N": 2**62})


def test_what_a_factory_may_return() -> None:
    one = torch.ones(2)
    assert inputs._split_example(one) == ((one,), {})
    assert inputs._split_example([1, 2]) == ((1, 2), {})
    assert inputs._split_example({"ids": one}) == ((), {"ids": one})
    assert inputs._split_example(([1], {"mask": one})) == ((1,), {"mask": one})
