"""Describe time and memory against depth: a curve that shows the derivations grow linearly.

    python benchmarks/bench_depth.py                          # TimeSformer-shaped model, 6 12 24 48 blocks
    python benchmarks/bench_depth.py --depths 6 12 24 48 96
    python benchmarks/bench_depth.py --model timesformer      # Hugging Face TimesformerModel, default config
    python benchmarks/bench_depth.py --json depth.json

Each depth runs in a fresh Python process (so one depth's memory cannot hide another's),
under an address-space limit (``--limit-gb``, 8 by default) so that a regression ends in a
MemoryError on that row instead of taking the machine down. The process builds the model on
the meta device, traces and annotates it, then times the derivation step (``derive.attach``)
on its own, and once more under ``tracemalloc`` for the peak of Python memory it allocates.
The table also gives the whole ``pipeline.describe`` time, the process's peak resident size,
the number of derivation entries stored over all arguments, and the per-op ratios: for a
linear step, the ratio columns stay flat as the depth grows.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

MODELS = {
    "space-time": ("tests.deep_models:make_space_time", "depth", "1,4,3,32,32"),
    "timesformer": ("tests.deep_models:timesformer", "layers", "pixel_values:1,8,3,224,224"),
}


def measure(model: str, depth: int) -> dict[str, Any]:
    """Describe `model` at `depth` in this process and return the numbers."""
    sys.path.insert(0, str(ROOT))
    warnings.simplefilter("ignore")
    from modeldoc import derive, explain, pipeline
    from modeldoc.options import model_options
    from modeldoc.probe import loader
    from modeldoc.probe.collect import collect

    target, keyword, shape = MODELS[model]
    options = model_options({"target": target, "kwargs": {keyword: depth}, "input_shapes": [shape]})
    start = time.perf_counter()
    pipeline.describe(options)
    describe_seconds = time.perf_counter() - start

    raw = explain.annotate(collect(loader.load_model(options.target, options.kwargs).module, options))
    start = time.perf_counter()
    spec = derive.attach(raw)
    derive_seconds = time.perf_counter() - start
    tracemalloc.start()
    derive.attach(raw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert spec.trace is not None
    lengths = [len(h.derivation) for layer in spec.all_layers for h in layer.hyperparameters if h.derivation]
    return {
        "model": model,
        "depth": depth,
        "ops": len(spec.trace.ops),
        "describe_s": describe_seconds,
        "derive_s": derive_seconds,
        "derive_peak_mb": peak / 2**20,
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "arguments": len(lengths),
        "steps": sum(lengths),
        "longest": max(lengths, default=0),
        "omitted": sum(getattr(h, "derivation_omitted", 0) for layer in spec.all_layers for h in layer.hyperparameters),
    }


def run_child(model: str, depth: int, limit_gb: float, timeout: float) -> dict[str, Any]:
    """`measure` in a fresh process under an address-space limit; a failure becomes the row's error."""
    limit = int(limit_gb * 2**30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    command = [sys.executable, __file__, "--child", model, str(depth)]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, preexec_fn=cap, cwd=ROOT, check=False
        )
    except subprocess.TimeoutExpired:
        return {"model": model, "depth": depth, "error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        return {"model": model, "depth": depth, "error": last[:160]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, with per-op ratios."""
    head = (
        "| depth | ops | describe s | derive s | derive µs/op | derive peak MB | KB/op | max RSS MB "
        "| arguments | steps stored | longest | omitted |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in rows:
        if "error" in row:
            lines.append(f"| {row['depth']} | – | failed: {row['error']} |" + " – |" * 9)
            continue
        ops = row["ops"]
        lines.append(
            f"| {row['depth']} | {ops} | {row['describe_s']:.2f} | {row['derive_s']:.3f} "
            f"| {row['derive_s'] / ops * 1e6:.0f} | {row['derive_peak_mb']:.1f} "
            f"| {row['derive_peak_mb'] * 1024 / ops:.1f} | {row['max_rss_mb']:.0f} "
            f"| {row['arguments']} | {row['steps']} | {row['longest']} | {row['omitted']} |"
        )
    return "\n".join(lines)


def main() -> None:
    """Run every depth in its own process and print the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(MODELS), default="space-time")
    parser.add_argument("--depths", type=int, nargs="+", default=[6, 12, 24, 48])
    parser.add_argument("--limit-gb", type=float, default=8.0, help="address-space limit per depth (GB)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per depth")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    parser.add_argument("--child", nargs=2, metavar=("MODEL", "DEPTH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    print(f"{args.model}: {MODELS[args.model][0]}, load average {os.getloadavg()[0]:.2f}")
    rows = []
    for depth in args.depths:
        rows.append(run_child(args.model, depth, args.limit_gb, args.timeout))
        print(f"  depth {depth}: {rows[-1].get('error') or 'done'}", file=sys.stderr)
    print(table(rows))
    print(f"load average {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
