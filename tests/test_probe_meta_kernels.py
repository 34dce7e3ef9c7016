"""modeldoc.probe.meta_kernels: kernels answered from shapes on the meta device, and the dtype checks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from modeldoc.probe import meta_kernels


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.LSTM(4, 5, num_layers=2, bidirectional=True, proj_size=3, batch_first=True),
        lambda: nn.LSTM(4, 5),
        lambda: nn.GRU(4, 6, num_layers=3, bidirectional=True),
        lambda: nn.RNN(4, 6, nonlinearity="relu", batch_first=True),
        lambda: nn.RNN(4, 6),
    ],
)
@pytest.mark.filterwarnings("ignore:LSTM with projections is not supported with oneDNN:UserWarning")
def test_recurrent_kernels_on_meta_give_the_shapes_the_real_kernel_gives(make):
    module = make()
    x = torch.zeros(2, 7, 4)
    real = module(x)
    with torch.device("meta"):
        meta_module = make()
    seen = []

    class Spy(torch.overrides.TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            answer = meta_kernels.meta_rnn(func, args, kwargs or {})
            if answer is not None:
                seen.append(answer)
            return func(*args, **(kwargs or {}))

    with Spy():
        expected = meta_module(x.to("meta"))
    (answer,) = seen
    flat_real = [real[0], *(real[1] if isinstance(real[1], tuple) else (real[1],))]
    flat_expected = [expected[0], *(expected[1] if isinstance(expected[1], tuple) else (expected[1],))]
    assert [t.shape for t in answer] == [t.shape for t in flat_expected] == [t.shape for t in flat_real]
    assert all(t.is_meta for t in answer)


@pytest.mark.parametrize(
    ("data", "weight", "bias"),
    [((8,), (4, 8), (4,)), ((2, 8), (4, 8), None), ((3, 2, 8), (4, 8), (4,)), ((2, 8), (4, 8), ())],
)
def test_linear_on_meta_is_answered_from_shapes_as_the_cpu_kernel_would(data, weight, bias) -> None:
    def make(device: str) -> tuple[torch.Tensor, ...]:
        tensors = [torch.ones(data, device=device), torch.ones(weight, device=device)]
        return (*tensors, torch.ones(bias, device=device)) if bias is not None else tuple(tensors)

    fast = meta_kernels.meta_linear(F.linear, make("meta"), {})
    assert fast is not None and fast.is_meta
    assert fast.shape == F.linear(*make("cpu")).shape


def test_linear_on_meta_with_mismatched_widths_fails_with_the_cpu_message() -> None:
    x, w = torch.empty(3, 2, 8, device="meta"), torch.empty(4, 7, device="meta")
    with pytest.raises(RuntimeError) as fast:
        meta_kernels.meta_linear(F.linear, (x, w), {})
    with pytest.raises(RuntimeError) as real:
        F.linear(torch.ones(3, 2, 8), torch.ones(4, 7))
    assert str(fast.value) == str(real.value) == "mat1 and mat2 shapes cannot be multiplied (6x8 and 7x4)"


def test_linear_with_anything_unusual_takes_the_normal_path() -> None:
    meta = torch.empty(2, 8, device="meta")
    assert meta_kernels.meta_linear(F.linear, (meta, torch.empty(8, device="meta")), {}) is None  # 1-D weight
    assert meta_kernels.meta_linear(F.linear, (torch.ones(2, 8), torch.ones(4, 8)), {}) is None  # not meta
    assert meta_kernels.meta_linear(torch.matmul, (meta, meta.T), {}) is None


def _meta(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return torch.ones(*shape, dtype=dtype, device="meta")


def test_a_dtype_mix_the_cpu_kernel_rejects_is_caught_with_the_fix() -> None:
    with pytest.raises(RuntimeError):  # the CPU kernel rejects the mix the meta kernel would let through
        F.linear(torch.ones(2, 4, dtype=torch.long), torch.ones(3, 4))
    with pytest.raises(meta_kernels.DtypeRejected) as mixed:
        meta_kernels.check_dtypes(F.linear, (_meta(2, 4, dtype=torch.long), _meta(3, 4)), {})
    assert str(mixed.value) == (
        "linear received input as int64 and weight as float32; its real kernel needs one dtype for both "
        "(the meta device does not check dtypes)"
    )
    assert mixed.value.fix.startswith("integer inputs such as token ids go to an Embedding first")
    with pytest.raises(meta_kernels.DtypeRejected) as half:
        meta_kernels.check_dtypes(F.linear, (_meta(2, 4, dtype=torch.float16), _meta(3, 4)), {})
    assert half.value.fix == "pass --input-dtype float32 to match the model's weights"


def test_an_integer_input_to_a_floating_only_kernel_is_caught() -> None:
    with pytest.raises(RuntimeError, match="not implemented for 'Long'"):
        F.softmax(torch.ones(2, 4, dtype=torch.long), dim=-1)
    with pytest.raises(meta_kernels.DtypeRejected, match="softmax received a tensor of dtype int64"):
        meta_kernels.check_dtypes(F.softmax, (_meta(2, 4, dtype=torch.long),), {"dim": -1})


def test_dtypes_the_cpu_kernels_accept_pass() -> None:
    assert meta_kernels.check_dtypes(F.linear, (_meta(2, 4), _meta(3, 4)), {}) is None
    assert meta_kernels.check_dtypes(torch.add, (_meta(2, 4, dtype=torch.long), _meta(2, 4)), {}) is None  # promotes
    assert meta_kernels.check_dtypes(F.softmax, (_meta(2, 4),), {"dim": -1}) is None
