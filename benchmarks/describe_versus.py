"""Describe against torchinfo for whichever modeldoc is on ``PYTHONPATH``: the before/after of a change.

    cd /tmp && PYTHONPATH=/path/to/checkout:/path/to/modeldoc/benchmarks \\
        /path/to/modeldoc/.venv/bin/python /path/to/modeldoc/benchmarks/describe_versus.py

Run it from a folder outside any checkout (the current folder comes first on ``sys.path``), once
per checkout, alternating, in one session. It prints one JSON line: the modeldoc it imported, and
for GPT-2 small and the 80-block LLaMA of ``bench_models.py``, built on the meta device (a meta
input, the issue's measure) and on the CPU (random weights, a real input), the median seconds of
``pipeline.describe_module`` and of ``torchinfo.summary`` on the same module object.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torchinfo
from bench_models import FACTORIES

import modeldoc
from modeldoc import pipeline
from modeldoc.options import model_options


def median_time(call: Callable[[], Any], reps: int = 5) -> float:
    """Median wall time of `call` over `reps` calls, after one untimed call.

    (`run.py` has its twin, but importing it puts this checkout first on ``sys.path``.)
    """
    call()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str) -> dict[str, float]:
    """Describe and torchinfo on one model of `bench_models.py`, built on meta and on the CPU."""
    options = model_options({"target": f"bench_models:make_{name}", "input_shape": "1,64", "input_dtype": "long"})
    with torch.device("meta"):
        meta = FACTORIES[name]()
    cpu = FACTORIES[name]().eval()
    on_meta = torch.zeros(1, 64, dtype=torch.long, device="meta")
    on_cpu = torch.zeros(1, 64, dtype=torch.long)
    return {
        "meta describe": median_time(lambda: pipeline.describe_module(meta, options)),
        "meta torchinfo": median_time(
            lambda: str(torchinfo.summary(meta, input_data=[on_meta], depth=3, verbose=0, device="meta"))
        ),
        "cpu describe": median_time(lambda: pipeline.describe_module(cpu, options)),
        "cpu torchinfo": median_time(
            lambda: str(torchinfo.summary(cpu, input_data=[on_cpu], depth=3, verbose=0, device="cpu"))
        ),
    }


def main() -> None:
    print(json.dumps({"modeldoc": modeldoc.__file__, **{name: measure(name) for name in ("gpt2", "llama")}}))


if __name__ == "__main__":
    main()
