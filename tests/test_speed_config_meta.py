"""The rebuilds of a config measurement share their plain arithmetic on meta tensors, and no description changes.

`configs.META_RESULTS` gives the rebuilds of one measurement one `loader.MetaResults`: a call of
plain arithmetic (a rotary embedding's ``1.0 / (base ** (torch.arange(0, dim, 2) / dim))``) made
before with arguments alike gets a new meta tensor of the shape, stride and dtype the first gave.
Each model here is described with the switch on and off: the two ``modeldoc/1`` JSON texts,
written as the CLI writes them, must be equal to the byte, and the calls answered from what was
kept are counted, so that the switch is seen to work where a model has such arithmetic. The
tensors handed back are compared with those the calls make.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.probe import configs, loader
from modeldoc.spec import ModelSpec
from tests import models
from tests.helpers.compare import CONFIGS, GEMMA2, LLAMA, as_written, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot

transformers = pytest.importorskip("transformers")


@contextmanager
def counted_reuse() -> Iterator[list[int]]:
    """How many calls the builds of `configs` answered from what they kept, while the block runs (one item)."""
    counts: list[int] = []
    real = configs._sharing_results

    @contextmanager
    def sharing() -> Iterator[None]:
        with real():
            yield
            if configs._shared:
                counts.append(configs._shared[-1].reused)

    configs._sharing_results = sharing  # type: ignore[assignment]
    try:
        yield counts
    finally:
        configs._sharing_results = real  # type: ignore[assignment]


def both_ways(describe: Callable[[], ModelSpec]) -> tuple[str, str, int]:
    """The JSON of `describe()` with `META_RESULTS` on, then off, and the calls answered from what was kept."""
    before = configs.META_RESULTS
    try:
        configs.META_RESULTS = True
        with counted_reuse() as reused:
            fast = as_written(describe())
        configs.META_RESULTS = False
        with counted_reuse() as none:
            slow = as_written(describe())
    finally:
        configs.META_RESULTS = before
    assert none == []  # switched off: nothing shared
    return fast, slow, sum(reused)


def measured(text: str) -> tuple[str, ...]:
    spec = ModelSpec.from_json(json.loads(text))
    assert spec.config is not None and spec.config.reads
    return spec.config.measured


TARGETS: dict[str, tuple[str, dict[str, Any]]] = {
    **CONFIGS,
    "gemma2": ("transformers:Gemma2ForCausalLM", GEMMA2),
    "mixtral_causal": ("transformers:MixtralForCausalLM", CONFIGS["mixtral"][1]),
}
ROTARY = {"llama", "mixtral", "mixtral_causal", "gemma2", "deepseek_v3"}


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=[pytest.mark.slow] if name == "deepseek_v3" else []) for name in TARGETS]
)
def test_a_model_built_from_a_config_is_described_the_same(name: str) -> None:
    target, kwargs = TARGETS[name]
    fast, slow, reused = both_ways(from_config(target, "1,8", **kwargs))
    assert fast == slow
    assert len(measured(fast)) >= 8
    if name in ROTARY:  # a rotary embedding's frequencies, worked out again at each rebuild
        assert reused > 0


LIVE: dict[str, Callable[[], nn.Module]] = {
    "whisper": models.tiny_whisper,
    "t5": models.tiny_t5,
    "falcon": models.tiny_falcon,
    "gpt_neox": models.tiny_gpt_neox,
    "llama": models.tiny_llama,
}


@pytest.mark.parametrize("name", list(LIVE))
def test_a_transformers_model_handed_over_is_described_the_same(name: str) -> None:
    model = LIVE[name]()
    snapshot = Snapshot.take(model)
    fast, slow, _ = both_ways(live(model))
    assert fast == slow
    assert snapshot.problems(model) == []
    assert measured(fast)


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_described_the_same(name: str) -> None:
    model = bench_model(name)
    snapshot = Snapshot.take(model)
    fast, slow, reused = both_ways(live(model, "1,64"))
    assert fast == slow
    assert snapshot.problems(model) == []
    assert measured(fast) and (reused > 0) is (name == "llama")


def test_a_llama_with_a_frozen_block_and_one_other_argument_is_described_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    model.model.layers[2].requires_grad_(False)
    model.model.layers[3].input_layernorm.variance_epsilon = 1e-3
    fast, slow, reused = both_ways(live(model, "1,8"))
    assert fast == slow and reused > 0


def test_a_diffusers_model_is_described_the_same() -> None:
    diffusers = pytest.importorskip("diffusers")
    model = diffusers.UNet2DModel(
        sample_size=16,
        block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        layers_per_block=1,
        norm_num_groups=8,
        attention_head_dim=8,
    )
    fast, slow, _ = both_ways(live(model))
    assert fast == slow and measured(fast)


# --------------------------------------------------------------------------- what is handed back


def made(block: Callable[[], Any], results: loader.MetaResults | None) -> Any:
    with loader._MetaSkippingFills(torch.device("meta"), results):
        return block()


def like(tensor: torch.Tensor) -> tuple[Any, ...]:
    return (
        type(tensor),
        tensor.device,
        tuple(tensor.shape),
        tensor.stride(),
        tensor.storage_offset(),
        tensor.dtype,
        tensor.requires_grad,
        tensor._base is None,
        tensor.is_inference(),
    )


def rotary(dim: int, base: float) -> torch.Tensor:
    return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float) / dim))


CALLS: list[Callable[[], Any]] = [
    lambda: rotary(32, 10000.0),
    lambda: rotary(64, 10000.0),
    lambda: rotary(32, 500000.0),
    lambda: torch.arange(5),  # the default integer dtype
    lambda: torch.arange(5.0),
    lambda: torch.arange(0, 1, 0.25, dtype=torch.float64),
    lambda: torch.empty(3, 4).t() * 2,  # a transposed tensor's strides carried over
    lambda: torch.empty(3, 4, dtype=torch.float16) / 3,
    lambda: torch.empty(4, dtype=torch.int64) * 0.5,  # the default float dtype
    lambda: torch.empty(2, 3).div(torch.empty(3), rounding_mode="floor"),
    lambda: torch.pow(torch.empty(2, 1), torch.empty(1, 5)),  # broadcast
    lambda: torch.reciprocal(torch.empty(6)[2:]),  # an offset input, a new output
]


def test_each_call_answered_from_what_was_kept_gives_a_tensor_like_the_call_makes() -> None:
    results = loader.MetaResults()
    first = [made(call, results) for call in CALLS]
    kept = results.reused
    again = [made(call, results) for call in CALLS]
    plain = [made(call, None) for call in CALLS]
    assert results.reused > kept + len(CALLS)  # each call of the rotary ones and the others answered
    assert [like(t) for t in again] == [like(t) for t in plain] == [like(t) for t in first]
    assert all(a is not b for a, b in zip(again, first, strict=True))  # each its own tensor


def test_a_default_dtype_changed_between_two_calls_is_a_call_of_its_own() -> None:
    results = loader.MetaResults()
    made(lambda: torch.arange(5.0), results)
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        again = made(lambda: torch.arange(5.0), results)
    finally:
        torch.set_default_dtype(before)
    assert again.dtype == torch.float64 and results.reused == 0


def test_calls_of_other_kinds_run_as_they_would() -> None:
    results = loader.MetaResults()
    grad = nn.Parameter(torch.empty(3, device="meta"))

    def calls() -> list[Any]:
        return [
            torch.arange(4, device="cpu"),  # values: never kept
            grad * 2,  # a tensor that needs grad: its result has a grad_fn
            torch.empty(3, 4).reshape(4, 3),  # a view: not arithmetic
            torch.empty(3).float(),  # the tensor itself
            torch.arange(4, requires_grad=False, layout=torch.strided),  # a layout: an argument of another kind
        ]

    first, again = made(calls, results), made(calls, results)
    assert results.reused == 0 and not results.made
    assert torch.equal(again[0], torch.arange(4)) and again[1].grad_fn is not None
    assert again[2]._base is not None and first[3] is not again[3]


def test_a_call_that_raises_raises_again() -> None:
    results = loader.MetaResults()
    for _ in range(2):
        with pytest.raises(RuntimeError):
            made(lambda: torch.empty(2, 3) * torch.empty(4), results)
    assert results.reused == 0
