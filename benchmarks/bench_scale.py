"""Site build time and page count against the number of blocks: a curve that shows cost grows with structures.

    python benchmarks/bench_scale.py                          # LLaMA-70B-shaped model, 10 20 40 80 160 blocks
    python benchmarks/bench_scale.py --blocks 10 80 --reps 3
    python benchmarks/bench_scale.py --json scale.json --markdown scale.md

Each row runs ``modeldoc build`` on the LLaMA-2-70B shape (8192 wide, 64 query heads, 8
key/value heads, on the meta device) with N blocks, in a fresh process, as a user runs it:
Python start-up, importing torch, building the model, describing it, drawing the diagrams and
the MkDocs build. The table gives the median wall time, the peak resident size of the process
(``/usr/bin/time``), the number of HTML pages the site has, and the number of Markdown pages of
the model. Repeated blocks of one structure share one page, so the page count stays flat and the
time grows only with what is done per instance (building and tracing the model).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MODELDOC = Path(sys.executable).with_name("modeldoc")


def make_llama(n_layers: int = 80) -> Any:
    """The LLaMA-2-70B shape with `n_layers` blocks, on the meta device."""
    import torch

    from modeldoc.examples.llama import Llama

    with torch.device("meta"):
        return Llama(vocab_size=32000, dim=8192, n_layers=n_layers, n_heads=64, n_kv_heads=8, hidden_dim=28672)


def build_once(blocks: int, folder: Path) -> dict[str, Any]:
    """One cold, fresh-process ``modeldoc build`` (no saved description) of `blocks` blocks into `folder`/site."""
    site = folder / "site"
    shutil.rmtree(site, ignore_errors=True)
    command = [
        "/usr/bin/time",
        "-f",
        "maxrss_kb=%M",
        str(MODELDOC),
        "build",
        f"{Path(__file__).resolve()}:make_llama",
        "--kwargs",
        json.dumps({"n_layers": blocks}),
        "--input-shape",
        "1,L=16",
        "--input-dtype",
        "long",
        "--out",
        str(site),
        "--quiet",
        "--no-cache",
    ]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"modeldoc build failed for {blocks} blocks:\n{done.stderr}")
    rss = [line for line in done.stderr.splitlines() if line.startswith("maxrss_kb=")]
    html = list(site.rglob("index.html"))
    model_pages = [page for page in html if page.parent != site and "search" not in page.parts]
    return {
        "seconds": seconds,
        "rss_mb": int(rss[-1].split("=")[1]) / 1024 if rss else None,
        "html_pages": len(html),
        "model_pages": len(model_pages),
    }


def measure(blocks: int, reps: int) -> dict[str, Any]:
    """The median of `reps` builds at `blocks` blocks, with the page counts of the last."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as raw:
        runs = [build_once(blocks, Path(raw)) for _ in range(reps)]
    return {
        "blocks": blocks,
        "seconds": statistics.median(run["seconds"] for run in runs),
        "runs": [round(run["seconds"], 2) for run in runs],
        "rss_mb": max(run["rss_mb"] or 0 for run in runs),
        "html_pages": runs[-1]["html_pages"],
        "model_pages": runs[-1]["model_pages"],
    }


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, with the time per block relative to the first row."""
    first = rows[0]
    lines = [
        "| blocks | build (s, median) | runs | × first row | peak RSS (MB) | HTML pages | model pages |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['blocks']} | {row['seconds']:.1f} | {', '.join(f'{s:.1f}' for s in row['runs'])} "
            f"| {row['seconds'] / first['seconds']:.2f} | {row['rss_mb']:.0f} | {row['html_pages']} "
            f"| {row['model_pages']} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, nargs="+", default=[10, 20, 40, 80, 160])
    parser.add_argument("--reps", type=int, default=1, help="builds per size; the median is reported")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--markdown", type=Path, help="also write the table (with the load average) here")
    args = parser.parse_args()
    rows = []
    for blocks in args.blocks:
        row = measure(blocks, args.reps)
        rows.append(row)
        print(f"{blocks} blocks: {row['seconds']:.1f}s, {row['html_pages']} HTML pages", file=sys.stderr)
    load = os.getloadavg()
    loads = " ".join(f"{value:.2f}" for value in load)
    text = table(rows) + f"\n\nload average at the end: {loads}; cpus: {os.cpu_count()}\n"
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "load": load}, indent=1) + "\n")
    if args.markdown:
        args.markdown.write_text(text)


if __name__ == "__main__":
    main()
