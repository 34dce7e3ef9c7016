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


SHAPES = [(), (1,), (3,), (2, 3, 4), (1, 3, 1), (2, 1, 4), (4,), (1, 64, 1), (1, 64, 256), (256,)]
DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.int64]


def _layout(t: torch.Tensor) -> tuple[object, ...]:
    return tuple(t.shape), t.dtype, t.stride(), t.device.type


@pytest.mark.parametrize("func", [torch.add, torch.Tensor.mul, torch.Tensor.__sub__, torch.Tensor.__rmul__, torch.pow])
def test_elementwise_ops_on_meta_are_answered_as_torchs_meta_path_answers(func) -> None:
    answered = 0
    for left in SHAPES:
        for right in [*SHAPES, 3, 0.5]:
            for dtype in DTYPES:
                a = torch.empty(left, dtype=dtype, device="meta")
                b = torch.empty(right, dtype=torch.float16, device="meta") if isinstance(right, tuple) else right
                try:
                    expected = _layout(func(a, b))
                except RuntimeError:
                    expected = None  # shapes that do not broadcast, a power the dtype refuses
                got = meta_kernels.answer_from_shapes(func, (a, b), {})
                if got is not None:
                    answered += 1
                    assert _layout(got) == expected, (left, right, dtype)
    assert answered > 100  # the common cases are answered, not all sent down the normal path


def test_unary_elementwise_ops_and_what_takes_the_normal_path() -> None:
    x = torch.empty(2, 3, 4, device="meta")
    for func in (torch.rsqrt, torch.Tensor.neg, torch.Tensor.__neg__, torch.sigmoid, torch.Tensor.exp):
        got = meta_kernels.answer_from_shapes(func, (x,), {})
        assert got is not None and _layout(got) == _layout(func(x))
    strided = x.transpose(0, 2)  # the output's layout follows a strided operand's, as torch's path lays it out
    got = meta_kernels.answer_from_shapes(torch.Tensor.mul, (strided, 2.0), {})
    assert got is not None and _layout(got) == _layout(strided * 2.0) and got.stride() == (1, 4, 12)
    mixed = meta_kernels.answer_from_shapes(torch.Tensor.mul, (strided, x.transpose(0, 2).half()), {})
    assert mixed is None  # an operand of another dtype is converted first, and its layout then is torch's to say
    assert meta_kernels.answer_from_shapes(torch.add, (x, x), {"alpha": 2}) is None
    assert meta_kernels.answer_from_shapes(torch.add, (x, torch.ones(2, 3, 4)), {}) is None  # one on the CPU
    assert meta_kernels.answer_from_shapes(torch.rsqrt, (x.long(),), {}) is None  # an integer the op turns float
    assert meta_kernels.answer_from_shapes(torch.add, (x, torch.empty(5, device="meta")), {}) is None


def _attention_calls() -> list[tuple[tuple[torch.Tensor, ...], dict[str, object]]]:
    def meta(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.empty(shape, dtype=dtype, device="meta")

    calls: list[tuple[tuple[torch.Tensor, ...], dict[str, object]]] = []
    for batch in [(), (2,), (2, 3)]:
        for heads_q, heads_k in [(4, 4), (4, 2), (4, 3)]:
            for length, source, width, value_width in [(5, 6, 7, 9), (5, 5, 8, 8)]:
                for mask in [None, (length, source), (1, 1, length, source), (length, source + 1)]:
                    for mask_dtype in [torch.bool, torch.float32, torch.float16]:
                        for causal in [False, True]:
                            for grouped in [False, True]:
                                kwargs: dict[str, object] = {"is_causal": causal, "enable_gqa": grouped}
                                if mask is not None:
                                    kwargs["attn_mask"] = meta(*mask, dtype=mask_dtype)
                                q = meta(*batch, heads_q, length, width)
                                k = meta(*batch, heads_k, source, width)
                                v = meta(*batch, heads_k, source, value_width)
                                calls.append(((q, k, v), kwargs))
    calls.append(((meta(3, 5, 7), meta(3, 6, 8), meta(3, 6, 9)), {}))  # widths that do not match
    calls.append(((meta(2, 4, 5, 8), meta(2, 4, 6, 8), meta(2, 4, 6, 8, dtype=torch.float16)), {}))
    return calls


def test_attention_on_meta_is_answered_as_torchs_meta_path_answers_and_calls_it_refuses_are_left_to_it() -> None:
    answered = 0
    for args, kwargs in _attention_calls():
        try:
            expected = _layout(F.scaled_dot_product_attention(*args, **kwargs))
        except RuntimeError:
            expected = None
        got = meta_kernels.answer_from_shapes(F.scaled_dot_product_attention, args, kwargs)
        if got is not None:
            answered += 1
            assert _layout(got) == expected, ([a.shape for a in args], kwargs)
    assert answered > 50
