"""Describe against torchinfo for whichever modeldoc is on ``PYTHONPATH``: the before/after of a change.

    cd /tmp && PYTHONPATH=/path/to/checkout:/path/to/modeldoc/benchmarks \\
        /path/to/modeldoc/.venv/bin/python /path/to/modeldoc/benchmarks/describe_versus.py

Run it from a folder outside any checkout (the current folder comes first on ``sys.path``), once
per checkout, alternating, in one session. It prints one JSON line: the modeldoc it imported, and
for GPT-2 small and the 80-block LLaMA of ``bench_models.py``, built on the meta device (a meta
input, the issue's measure) and on the CPU (random weights, a real input), the median seconds of
``pipeline.describe_module`` and of ``torchinfo.summary`` on the same module object, called in
turn round after round (wall time, and process time as ``... cpu``), the median of their ratio
in each round (``... ratio``), and the load average at the start and at the end.
``DESCRIBE_VERSUS_REPS`` sets the rounds (5 unless given).
"""

from __future__ import annotations

import json
import os
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

REPS = int(os.environ.get("DESCRIBE_VERSUS_REPS", "5"))
"""Rounds per measurement (``DESCRIBE_VERSUS_REPS``): more make the medians steadier on a noisy machine."""


def medians(calls: dict[str, Callable[[], Any]], reps: int = REPS) -> dict[str, float]:
    """Median wall seconds of each call, and median process seconds (``NAME cpu``), over `reps` rounds.

    One untimed call of each first; then each round calls every one in turn, so a change in the
    machine's load falls on all of them alike. ``ratio`` is the median over the rounds of the
    first call's wall time over the second's, taken in the same round: a slow spell of the
    machine falls on both halves of a ratio. (`run.py` has a twin of the wall median, but
    importing it puts this checkout first on ``sys.path``.)
    """
    for call in calls.values():
        call()
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(reps):
        for name, call in calls.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    first, second = list(wall.values())[:2]
    return {
        **{name: statistics.median(times) for name, times in wall.items()},
        **{f"{name} cpu": statistics.median(times) for name, times in cpu.items()},
        "ratio": statistics.median(a / b for a, b in zip(first, second, strict=True)),
    }


def measure(name: str) -> dict[str, float]:
    """Describe and torchinfo on one model of `bench_models.py`, built on meta and on the CPU."""
    options = model_options({"target": f"bench_models:make_{name}", "input_shape": "1,64", "input_dtype": "long"})
    with torch.device("meta"):
        meta = FACTORIES[name]()
    cpu = FACTORIES[name]().eval()
    on_meta = torch.zeros(1, 64, dtype=torch.long, device="meta")
    on_cpu = torch.zeros(1, 64, dtype=torch.long)
    on_meta_calls = {
        "describe": lambda: pipeline.describe_module(meta, options),
        "torchinfo": lambda: str(torchinfo.summary(meta, input_data=[on_meta], depth=3, verbose=0, device="meta")),
    }
    on_cpu_calls = {
        "describe": lambda: pipeline.describe_module(cpu, options),
        "torchinfo": lambda: str(torchinfo.summary(cpu, input_data=[on_cpu], depth=3, verbose=0, device="cpu")),
    }
    return {
        **{f"meta {key}": value for key, value in medians(on_meta_calls).items()},
        **{f"cpu {key}": value for key, value in medians(on_cpu_calls).items()},
    }


def main() -> None:
    load = os.getloadavg()[0]
    results = {name: measure(name) for name in ("gpt2", "llama")}
    print(json.dumps({"modeldoc": modeldoc.__file__, "load": [load, os.getloadavg()[0]], **results}))


if __name__ == "__main__":
    main()
