"""How modeldoc scales with the number of sibling modules: time and peak memory, as a curve.

    python benchmarks/bench_siblings.py                  # 100, 1,000 and 10,000 siblings
    python benchmarks/bench_siblings.py 100 1000 --json out.json

The model is ``nn.Sequential`` of N ``nn.Linear(8, 8)`` layers, all siblings of the root,
chained in the forward pass (``make`` below is the target). For each N, two commands run as a
user runs them, each in a fresh process: ``modeldoc inspect --json`` (describe only) and
``modeldoc build`` (describe, pages, diagrams with Graphviz, MkDocs). The table gives wall
time, the process's peak resident memory, the pages built and the most layer sections on one
page. Time per module should stay flat as N grows (linear work); the last lines say so.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from torch import nn

HERE = Path(__file__).resolve()
DEFAULT_SIZES = (100, 1000, 10000)


def make(n: int = 100) -> nn.Module:
    """N Linear(8, 8) layers, siblings in one Sequential."""
    return nn.Sequential(*[nn.Linear(8, 8) for _ in range(n)])


def _run(args: list[str], stdout: Path) -> tuple[float, int, int]:
    """Wall seconds, peak RSS in MiB and the exit code of ``python -m modeldoc ARGS``."""
    with stdout.open("w", encoding="utf-8") as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "modeldoc", *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            err.seek(0)
            sys.stderr.write(err.read().decode("utf-8", "replace"))
    return elapsed, usage.ru_maxrss // 1024, process.returncode


def _sections_per_page(site: Path) -> int:
    """The most layer sections on one built page of the model."""
    most = 0
    for page in site.rglob("*.html"):
        if page.parent == site or "search" in page.parts:
            continue
        most = max(most, len(re.findall(r'<h[1-6] id="layer-', page.read_text(encoding="utf-8"))))
    return most


def measure(n: int, work: Path) -> dict[str, Any]:
    """Time and memory of inspect and build for N siblings."""
    target = f"{HERE}:make"
    common = [target, "--kwargs", json.dumps({"n": n}), "--input-shape", "2,8"]
    inspect_time, inspect_mib, code = _run(["inspect", *common, "--json"], work / f"inspect-{n}.json")
    if code:
        raise SystemExit(f"inspect failed for n={n}")
    site = work / f"site-{n}"
    build_out = work / f"build-{n}.txt"
    build_time, build_mib, code = _run(["build", *common, "--out", str(site)], build_out)
    if code:
        raise SystemExit(f"build failed for n={n}")
    pages = re.search(r"built (\d+) pages", build_out.read_text(encoding="utf-8"))
    return {
        "n": n,
        "inspect_s": round(inspect_time, 2),
        "inspect_peak_mib": inspect_mib,
        "build_s": round(build_time, 2),
        "build_peak_mib": build_mib,
        "pages": int(pages.group(1)) if pages else 0,
        "max_sections_per_page": _sections_per_page(site),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=list(DEFAULT_SIZES))
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for n in args.sizes:
            rows.append(measure(n, Path(folder)))
            print(f"  measured n={n}", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.1f}\n")
    print("| siblings | inspect s | inspect peak MiB | build s | build peak MiB | pages | most sections on a page |")
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['n']:,} | {row['inspect_s']:.1f} | {row['inspect_peak_mib']} | {row['build_s']:.1f} | "
            f"{row['build_peak_mib']} | {row['pages']} | {row['max_sections_per_page']} |"
        )
    print("\nseconds per 1,000 more modules between consecutive sizes (flat = linear):")
    for before, after in itertools.pairwise(rows):
        added = (after["n"] - before["n"]) / 1000
        print(
            f"  {before['n']:,} -> {after['n']:,}: inspect {(after['inspect_s'] - before['inspect_s']) / added:.1f} s, "
            f"build {(after['build_s'] - before['build_s']) / added:.1f} s"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
