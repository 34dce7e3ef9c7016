"""modeldoc.probe.ops: op names, where ops live, and their arguments by name."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from modeldoc.probe import ops


def test_op_names_and_targets() -> None:
    assert (ops.op_name(F.relu), ops.op_target(F.relu, "relu")) == ("relu", "torch.nn.functional.relu")
    assert (ops.op_name(torch.flatten), ops.op_target(torch.flatten, "flatten")) == ("flatten", "torch.flatten")
    assert (ops.op_name(torch.Tensor.view), ops.op_target(torch.Tensor.view, "view")) == ("view", "Tensor.view")
    assert ops.op_name(torch.Tensor.__getitem__) == "getitem"
    assert ops.op_name(torch.Tensor.__iadd__) == "add_"
    assert ops.op_name(torch.Tensor.__truediv__) == "div"
    assert ops.bind(None, "transpose", (0, 1, 2), {}) == {"input": 0, "dim0": 1, "dim1": 2}
    assert ops.bind(None, "view", ("x", 2, 3), {}) == {"input": "x", "shape": (2, 3)}
    assert ops.bind(None, "view", ("x", (2, 3)), {}) == {"input": "x", "shape": (2, 3)}
    pooled = ops.bind(F.max_pool2d, "max_pool2d", ("x", 2), {})
    assert (pooled["kernel_size"], pooled["stride"], pooled["padding"], pooled["ceil_mode"]) == (2, None, 0, False)


def test_the_short_text_of_an_ops_arguments_leaves_out_tensors_and_defaults() -> None:
    x = torch.ones(2, 3, 8, 8)
    assert ops.args_text(F.max_pool2d, "max_pool2d", (x, 2), {}) == "kernel_size=2"
    assert ops.args_text(F.max_pool2d, "max_pool2d", (x, 2), {"stride": 1, "ceil_mode": True}) == (
        "kernel_size=2, stride=1, ceil_mode=True"
    )
    assert ops.args_text(torch.Tensor.__getitem__, "getitem", (x, (slice(None), -1)), {}) == "[:, -1]"
    assert ops.args_text(None, "transpose", (x, 1, 2), {}) == "dim0=1, dim1=2"


def test_plain_arguments_keep_what_json_can_hold() -> None:
    x = torch.ones(2, 3)
    got = ops.plain_arguments(
        {"input": x, "dims": (x, 1), "dtype": torch.float16, "s": slice(1, None, 2), "e": Ellipsis, "o": object()}
    )
    assert got == {"dims": [{"tensor": [2, 3]}, 1], "dtype": "float16", "s": {"slice": [1, None, 2]}, "e": "..."}
    assert ops.plain_arguments(ops.bind(None, "reshape", (x, -1, torch.Size([4])), {})) == {"shape": [-1, [4]]}


def test_tensor_leaves_finds_the_tensors_inside_nested_arguments() -> None:
    x, y = torch.ones(1), torch.zeros(2)
    assert [t is s for t, s in zip(ops.tensor_leaves(((x, 1), {"a": [y]})), (x, y), strict=True)] == [True, True]
