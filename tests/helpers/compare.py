"""Descriptions made with shortcuts on and off, and the models the comparisons describe (needs torch).

A shortcut is a module-level switch (``static.FAST_SPECS``): `switched` turns a list of them on
or off for a block, emptying the memos they fill first and after (`clear`), and `both_ways`
describes a model with them on, then off, as the JSON text ``modeldoc inspect --json`` writes
(`as_written`); `counted_calls` counts the calls a shortcut saves or makes, and `raw_bench` gives a
benchmark model's description before the interpret stage. `from_config`,
`live` and `bench_model` make the descriptions compared;
`CONFIGS`, `LLAMA` and `GEMMA2` are small transformers configs with repeated blocks.
"""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.options import model_options
from modeldoc.spec import ModelSpec
from tests.helpers import REPO

Switch = tuple[Any, str]
"""A module and the name of its switch: ``(static, "FAST_SPECS")``."""


@contextmanager
def switched(switches: Sequence[Switch], on: bool, *, clear: Sequence[Callable[[], Any]] = ()) -> Iterator[None]:
    """Every switch in `switches` set to `on` for the block, then put back; the `clear` calls made before and after."""
    before = [getattr(module, name) for module, name in switches]
    for empty in clear:
        empty()
    for module, name in switches:
        setattr(module, name, on)
    try:
        yield
    finally:
        for (module, name), value in zip(switches, before, strict=True):
            setattr(module, name, value)
        for empty in clear:
            empty()


@contextmanager
def counted_calls(
    functions: Sequence[Switch], *, seen: Callable[[str, Any, Counter[str]], None] | None = None
) -> Iterator[Counter[str]]:
    """How often each of `functions` (an owner and a name, as a switch is given) ran while the block ran.

    `seen(name, result, counts)`, when given, is told each call's result and may count more.
    """
    counts: Counter[str] = Counter()
    with pytest.MonkeyPatch.context() as patch:
        for owner, name in functions:
            real = getattr(owner, name)

            def wrapper(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                counts[_name] += 1
                got = _real(*args, **kwargs)
                if seen is not None:
                    seen(_name, got, counts)
                return got

            patch.setattr(owner, name, wrapper)
        yield counts


def as_written(spec: ModelSpec) -> str:
    """The description's JSON as ``modeldoc inspect --json`` writes it."""
    return "".join(json.JSONEncoder(indent=1, ensure_ascii=False).iterencode(spec.to_json()))


def both_ways(
    describe: Callable[[], ModelSpec], switches: Sequence[Switch], *, clear: Sequence[Callable[[], Any]] = ()
) -> tuple[str, str]:
    """The JSON of `describe()` with `switches` on, then off."""
    with switched(switches, True, clear=clear):
        fast = as_written(describe())
    with switched(switches, False, clear=clear):
        slow = as_written(describe())
    return fast, slow


def from_config(target: str, shape: str | None = None, **kwargs: Any) -> Callable[[], ModelSpec]:
    """A description of the model modeldoc builds from a transformers config (its rebuilds measured)."""
    from modeldoc.pipeline import describe

    entry: dict[str, Any] = {"target": target, "kwargs": kwargs}
    if shape:
        entry.update(input_shape=shape, input_dtype="long")
    return lambda: describe(model_options(entry))


def live(model: nn.Module, shape: str | None = None, dtype: str = "long") -> Callable[[], ModelSpec]:
    """A description of a live module handed over (a transformers one is rebuilt from a copy of its config)."""
    from modeldoc.pipeline import describe_module

    entry: dict[str, Any] = {"target": "tests:Model"}
    if shape:
        entry.update(input_shape=shape, input_dtype=dtype)
    return lambda: describe_module(model, model_options(entry))


def bench_model(name: str, **arguments: Any) -> nn.Module:
    """A model of the benchmark (``benchmarks/bench_models.py``), built on the meta device as issue 12 times it."""
    spec = importlib.util.spec_from_file_location("bench_models_for_tests", REPO / "benchmarks" / "bench_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with torch.device("meta"):
        return module.FACTORIES[name](**arguments)  # type: ignore[no-any-return]


LLAMA = {
    "hidden_size": 64,
    "intermediate_size": 64,
    "num_hidden_layers": 5,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 100,
    "max_position_embeddings": 32,
}

GEMMA2 = {
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 8,
    "vocab_size": 100,
}
"""A tiny Gemma2 (sliding and full attention layers) for the on/off comparisons."""

CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {
    "gpt2": ("transformers:GPT2LMHeadModel", {"n_embd": 32, "n_head": 4, "n_layer": 5, "vocab_size": 100}),
    "llama": ("transformers:LlamaForCausalLM", LLAMA),
    "bert": (
        "transformers:BertConfig",
        {"hidden_size": 32, "num_attention_heads": 4, "num_hidden_layers": 4, "intermediate_size": 48},
    ),
    "t5": (
        "transformers:T5Config",
        {"d_model": 32, "d_kv": 8, "num_heads": 4, "d_ff": 48, "num_layers": 4, "vocab_size": 100},
    ),
    "mixtral": (
        "transformers:MixtralConfig",
        {
            "hidden_size": 32,
            "intermediate_size": 48,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "num_local_experts": 4,
            "vocab_size": 100,
        },
    ),
    "deepseek_v3": (
        "transformers:DeepseekV3Config",
        {
            "hidden_size": 64,
            "intermediate_size": 96,
            "moe_intermediate_size": 24,
            "num_hidden_layers": 5,
            "first_k_dense_replace": 1,
            "num_attention_heads": 4,
            "num_key_value_heads": 4,
            "n_routed_experts": 4,
            "num_experts_per_tok": 2,
            "n_group": 2,
            "topk_group": 1,
            "kv_lora_rank": 16,
            "q_lora_rank": 40,
            "qk_rope_head_dim": 8,
            "qk_nope_head_dim": 12,
            "v_head_dim": 20,
            "vocab_size": 100,
        },
    ),
}


def raw_bench(name: str, **arguments: Any) -> tuple[ModelSpec, knowledge.Knowledge]:
    """A benchmark model's description as it reaches `pipeline.interpret` (built on meta, as issue 12 times it), and the
    knowledge table it is interpreted with: what the interpret stage's comparisons start from."""
    from modeldoc import pipeline

    captured: list[tuple[ModelSpec, knowledge.Knowledge | None]] = []
    interpret = pipeline.interpret

    def capture(spec: ModelSpec, table: knowledge.Knowledge | None = None) -> ModelSpec:
        captured.append((spec, table))
        return interpret(spec, table)

    options = model_options({"target": f"bench_models:make_{name}", "input_shape": "1,64", "input_dtype": "long"})
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(pipeline, "interpret", capture)
        pipeline.describe_module(bench_model(name, **arguments), options)
    spec, table = captured[-1]
    return spec, table or knowledge.current()
