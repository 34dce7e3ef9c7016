"""Checkpoints: a huge safetensors file described from its header, and the weights' statistics' memory.

    python benchmarks/bench_checkpoints.py                 # a 12 GB sparse file, then the small LLaMA
    python benchmarks/bench_checkpoints.py --size-gb 140   # the whole LLaMA-2-70B tensor list in bf16
    python benchmarks/bench_checkpoints.py --json checkpoints.json

Part 1 writes a sparse safetensors file (its header lists LLaMA-2-70B's tensors in bf16, in
order, until they add up to ``--size-gb``; the data region is a hole the file system does not
store) and the bundled 59 KB digits checkpoint, and times ``pipeline.describe`` on each in a fresh
process, after one untimed warm-up (median of ``--reps``); the ``modeldoc inspect FILE --json``
wall time is given too, start-up included. Header-only means the two times are close.

Part 2 builds the LLaMA-shaped example at its small default size (4 blocks, 512 wide, real
random weights) and reads every tensor's values (``--show-weights``): once from the live model
and once from the same weights saved as safetensors, each in a fresh process. The peak resident
size of the process (``ru_maxrss``) is given before and after reading, beside the size of the
weights: the statistics stream tensor by tensor in chunks, so the growth stays well below it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODELDOC = Path(sys.executable).with_name("modeldoc")

_DESCRIBE = """
import json, resource, sys, time
from modeldoc.options import model_options
from modeldoc.pipeline import describe
options = model_options({"target": sys.argv[1]})
describe(options)
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    spec = describe(options)
    times.append(time.perf_counter() - start)
print(json.dumps({"times": times, "tensors": sum(len(l.parameters) for l in spec.layers),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

_WEIGH = """
import json, resource, sys, time
import torch
from modeldoc.examples.llama import Llama
from modeldoc.options import model_options
from modeldoc.pipeline import describe, describe_module
torch.manual_seed(0)
source = sys.argv[1]
if source == "live":
    model = Llama()
    weight_bytes = sum(p.numel() * p.element_size() for p in model.state_dict().values())
    options = model_options({"target": "modeldoc.examples.llama:Llama", "input_shapes": [[1, 16]],
                             "input_dtype": "long", "show_weights": True})
else:
    import os
    weight_bytes = os.path.getsize(source)
    options = model_options({"target": source, "show_weights": True})
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
spec = describe_module(model, options) if source == "live" else describe(options)
seconds = time.perf_counter() - start
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
weighed = sum(1 for l in spec.layers for p in l.parameters if p.stats is not None)
print(json.dumps({"seconds": seconds, "weight_mb": weight_bytes / 2**20, "rss_before_mb": before,
                  "rss_peak_mb": after, "tensors_weighed": weighed}))
"""


def write_sparse_safetensors(path: Path, size_gb: float) -> int:
    """LLaMA-2-70B's tensors in bf16 until `size_gb` is reached; the data region is left a hole."""
    from modeldoc.examples.llama import make_llama_70b

    header: dict[str, Any] = {"__metadata__": {"format": "pt", "written_by": "benchmarks/bench_checkpoints.py"}}
    offset = 0
    for name, tensor in make_llama_70b().state_dict().items():
        size = tensor.numel() * 2
        header[name] = {"dtype": "BF16", "shape": list(tensor.shape), "data_offsets": [offset, offset + size]}
        offset += size
        if offset >= size_gb * 1e9:
            break
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        f.truncate(8 + len(raw) + offset)
    return offset


def python(code: str, *args: str) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False, cwd=ROOT)
    if result.returncode:
        sys.exit(result.stderr)
    return dict(json.loads(result.stdout.splitlines()[-1]))


def cli_seconds(file: Path) -> float:
    start = time.perf_counter()
    subprocess.run([str(MODELDOC), "inspect", str(file), "--json"], capture_output=True, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=12.0)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from modeldoc.examples.digits import WEIGHTS

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "llama-70b-prefix.safetensors"
        data_bytes = write_sparse_safetensors(big, args.size_gb)
        stored = big.stat().st_blocks * 512
        print(f"part 1: header-only ({big.stat().st_size / 1e9:.1f} GB file, {stored / 1e6:.1f} MB on disk)")
        print(f"  {'file':<28} {'size':>10} {'tensors':>8} {'describe (median)':>18} {'CLI wall':>9}")
        for label, file in (("digits.safetensors", WEIGHTS), ("sparse LLaMA-2-70B prefix", big)):
            timed = python(_DESCRIBE, str(file), str(args.reps))
            wall = cli_seconds(file)
            median = statistics.median(timed["times"])
            size = file.stat().st_size
            print(f"  {label:<28} {size / 1e9:>8.2f}GB {timed['tensors']:>8,} {median:>17.3f}s {wall:>8.2f}s")
            results[label] = {"bytes": size, "tensors": timed["tensors"], "describe_s": median, "cli_s": wall}
        results["sparse_data_bytes"] = data_bytes

        print("part 2: statistics and pictures of the small LLaMA (real weights), peak resident size")
        import torch
        from safetensors.torch import save_file

        from modeldoc.examples.llama import Llama

        torch.manual_seed(0)
        saved = Path(tmp) / "llama-small.safetensors"
        save_file({k: v.contiguous() for k, v in Llama().state_dict().items()}, str(saved))
        print(f"  {'source':<22} {'weights':>9} {'tensors':>8} {'seconds':>8} {'RSS before':>11} {'RSS peak':>9}")
        for label, source in (("live model", "live"), ("safetensors file", str(saved))):
            row = python(_WEIGH, source)
            print(
                f"  {label:<22} {row['weight_mb']:>7.0f}MB {row['tensors_weighed']:>8} {row['seconds']:>8.2f}"
                f" {row['rss_before_mb']:>9.0f}MB {row['rss_peak_mb']:>7.0f}MB"
            )
            results[label] = row
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
