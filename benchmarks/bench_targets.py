"""Issue 12's targets in one run: frontier-size sites end to end, and describe against torchinfo.

    python benchmarks/bench_targets.py                  # what `make bench` runs
    python benchmarks/bench_targets.py --reps 5 --markdown targets.md --json targets.json
    python benchmarks/bench_targets.py --sites-only     # the two sites, no describe / torchinfo

Sites: ``modeldoc build`` of the bundled LLaMA-2-70B-shaped example and of DeepSeek-V3 (from its
published config), both on the meta device with the input ``1,L=16`` (long), each in a fresh
process as a user runs it: Python start-up, importing torch, building the model, describing it,
rendering, diagrams, MkDocs, the process's exit. Every cold build gets a cache folder
(``MODELDOC_CACHE_DIR``) without descriptions, so it describes the model and saves the
description as the first build of a model does; from the second cold build on, the folder holds
the compiled page and theme templates of the build before (as it does for any build after a
user's very first; a checkout without a ``templates`` folder there, such as an older modeldoc,
compiles them each time). The warm build after them is the second build of the unchanged model,
which reuses the saved description. The wall time is measured around the process, the peak
resident size by ``/usr/bin/time``, and the phases are read from ``-v``.

Describe: modeldoc's in-process describe against ``torchinfo.summary`` on the same module object,
GPT-2 small and the 80-block LLaMA of ``benchmarks/bench_models.py``, medians after a warm-up: as
the issue measures it, both on the model built on the meta device (a meta input); and both on the
model built on the CPU (random weights, a real input; ``benchmarks/run.py``'s cases).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
MODELDOC = Path(sys.executable).with_name("modeldoc")
PHASE = re.compile(r"^(?P<text>\S.*) \((?P<seconds>[0-9.]+)s\)$")
"""A phase line of ``modeldoc build -v``: ``probing 1,125 modules: ... (5.4s)``."""


@dataclass(frozen=True)
class Site:
    """One site to build, and the issue's goal for it."""

    name: str
    target: str
    goal_seconds: float
    goal_rss_mb: float = 1024


SITES = (
    Site("LLaMA-2-70B", "modeldoc.examples.llama:make_llama_70b", 6.0),
    Site("DeepSeek-V3", "modeldoc.examples.frontier:make_deepseek_v3", 10.0),
)
DESCRIBE_GOAL = 1.0
"""In-process describe / torchinfo on GPT-2 and the LLaMA model."""


@dataclass
class Run:
    """One ``modeldoc build`` process."""

    seconds: float
    rss_mb: float
    pages: int
    phases: dict[str, float] = field(default_factory=dict)


def build(site: Site, folder: Path, cache: Path, command: list[str], env: dict[str, str]) -> Run:
    """One fresh-process ``modeldoc build -v`` of `site` into `folder`/site, saving descriptions in `cache`."""
    out = folder / "site"
    args = [site.target, "--input-shape", "1,L=16", "--input-dtype", "long", "--out", str(out), "-v"]
    timed = ["/usr/bin/time", "-f", "maxrss_kb=%M", *command, "build", *args]
    environ = {**os.environ, **env, "MODELDOC_CACHE_DIR": str(cache), "NO_MKDOCS_2_WARNING": "1"}
    start = time.perf_counter()
    done = subprocess.run(timed, cwd=folder, env=environ, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"modeldoc build {site.target} failed:\n{done.stderr[-3000:]}")
    lines = done.stderr.splitlines()
    rss = [int(line.split("=")[1]) for line in lines if line.startswith("maxrss_kb=")]
    phases: dict[str, float] = {}
    for line in lines:
        found = PHASE.match(line.strip())
        if found and not found["text"].startswith("built "):
            name = found["text"].split(":")[0].split(" ")[0]
            phases[name] = phases.get(name, 0.0) + float(found["seconds"])
    pages = sum(1 for page in out.rglob("*.html") if page.name != "404.html")
    return Run(seconds, rss[-1] / 1024 if rss else 0.0, pages, phases)


def measure_site(site: Site, reps: int, command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """`reps` cold builds (each with an empty cache folder), then one warm build that reuses the last one's."""
    with tempfile.TemporaryDirectory(prefix="bench-targets-") as raw:
        folder = Path(raw)
        cold = []
        for i in range(reps):
            cache = folder / f"cache-{i}"
            compiled = folder / f"cache-{i - 1}" / "templates"
            if i and compiled.is_dir():  # modeldoc's compiled templates, as any build after a user's first finds them
                shutil.copytree(compiled, cache / "templates")
            cold.append(build(site, folder, cache, command, env))
            print(f"  {site.name} cold build {i + 1}/{reps}: {cold[-1].seconds:.1f}s", file=sys.stderr, flush=True)
        warm = build(site, folder, cache, command, env)
        print(f"  {site.name} warm build: {warm.seconds:.1f}s", file=sys.stderr, flush=True)
    names = list(dict.fromkeys(name for run in cold for name in run.phases))
    return {
        "site": site.name,
        "target": site.target,
        "seconds": statistics.median(run.seconds for run in cold),
        "runs": [round(run.seconds, 2) for run in cold],
        "rss_mb": max(run.rss_mb for run in cold),
        "pages": cold[-1].pages,
        "phases": {name: statistics.median(run.phases.get(name, 0.0) for run in cold) for name in names},
        "warm_seconds": warm.seconds,
        "warm_rss_mb": warm.rss_mb,
        "goal_seconds": site.goal_seconds,
        "goal_rss_mb": site.goal_rss_mb,
    }


def measure_describe(reps: int) -> list[dict[str, Any]]:
    """In-process describe and torchinfo on GPT-2 and the LLaMA model, built on meta and on the CPU.

    On meta (the issue's measure): both tools get the same module built on the meta device and a
    meta input. On the CPU: ``benchmarks/run.py``'s cases (random weights, a real input).
    """
    sys.path.insert(0, str(HERE))
    import run as peers  # benchmarks/run.py

    rows = []
    for case in (c for c in peers.CASES if c.name in ("gpt2", "llama")):
        seconds, modules, errors = _on_meta(case, reps, peers)
        rows.append({"model": case.name, "device": "meta", "modules": modules, **seconds, "errors": errors})
        print(f"  describe {case.name} on meta: {seconds} {errors}", file=sys.stderr, flush=True)
        result = peers.run_case(case, reps, 0, tools=("modeldoc", "torchinfo"))
        rows.append(
            {
                "model": case.name,
                "device": "cpu",
                "modules": result.modules,
                "describe": result.seconds.get("modeldoc"),
                "torchinfo": result.seconds.get("torchinfo"),
                "errors": result.errors,
            }
        )
        print(f"  describe {case.name} on the CPU: {result.seconds}", file=sys.stderr, flush=True)
    return rows


def _on_meta(case: Any, reps: int, peers: Any) -> tuple[dict[str, float | None], int, dict[str, str]]:
    """Median seconds of describe and torchinfo on one module built on the meta device."""
    import torch
    import torchinfo
    from bench_models import FACTORIES

    from modeldoc import pipeline

    with torch.device("meta"):
        model = FACTORIES[case.name]()
    options = peers.modeldoc_options(case, f"bench_models:make_{case.name}")
    example = torch.zeros(case.shape, dtype=torch.long, device="meta")
    tools = {
        "describe": lambda: pipeline.describe_module(model, options),
        "torchinfo": lambda: str(torchinfo.summary(model, input_data=[example], depth=3, verbose=0, device="meta")),
    }
    seconds: dict[str, float | None] = {}
    errors: dict[str, str] = {}
    for name, call in tools.items():
        try:
            seconds[name] = peers.median_time(call, reps)
        except Exception as err:  # a tool failing on a model is a result, not a crash
            seconds[name] = None
            errors[name] = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"[:160]
    return seconds, sum(1 for _ in model.modules()), errors


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(sites: list[dict[str, Any]], describe: list[dict[str, Any]]) -> str:
    """The target table, then where each site's time goes."""
    lines = ["| target | goal | measured (median) | runs | peak RSS | met |", "|---|---|---:|---|---:|---|"]
    for row in sites:
        ok = row["seconds"] <= row["goal_seconds"] and row["rss_mb"] <= row["goal_rss_mb"]
        lines.append(
            f"| {row['site']} site, fresh `modeldoc build` ({row['pages']} pages) "
            f"| ≤ {row['goal_seconds']:.0f} s, ≤ {row['goal_rss_mb'] / 1024:.0f} GB "
            f"| {row['seconds']:.1f} s | {', '.join(f'{s:.1f}' for s in row['runs'])} "
            f"| {row['rss_mb']:.0f} MB | {_met(ok)} |"
        )
    for row in describe:
        where = "built on meta (the issue's measure)" if row["device"] == "meta" else "built on the CPU"
        if row["describe"] is None or row["torchinfo"] is None:
            lines.append(f"| describe / torchinfo, {row['model']} {where} | ≤ 1.0× | failed: {row['errors']} | | | – |")
            continue
        ratio = row["describe"] / row["torchinfo"]
        met = _met(ratio <= DESCRIBE_GOAL)
        lines.append(
            f"| describe / torchinfo, {row['model']} ({row['modules']:,} modules) {where} | ≤ {DESCRIBE_GOAL:.1f}× "
            f"| {ratio:.2f}× ({row['describe']:.3f} s / {row['torchinfo']:.3f} s) | | | {met} |"
        )
    if sites:
        names = list(dict.fromkeys(name for row in sites for name in row["phases"]))
        lines += [
            "",
            "Where a cold build's time goes (median seconds of each phase as `modeldoc build -v` prints it; "
            "the rest of the wall time is Python's start-up, imports before the first phase and the exit), "
            "and the warm build (the same command again: the saved description is reused):",
            "",
            "| site | " + " | ".join(names) + " | phases total | wall | warm build | warm peak RSS |",
            "|---|" + "---:|" * (len(names) + 4),
        ]
        for row in sites:
            cells = " | ".join(f"{row['phases'].get(name, 0.0):.1f}" for name in names)
            total = sum(row["phases"].values())
            lines.append(
                f"| {row['site']} | {cells} | {total:.1f} | {row['seconds']:.1f} "
                f"| {row['warm_seconds']:.1f} s | {row['warm_rss_mb']:.0f} MB |"
            )
    return "\n".join(lines)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="cold builds per site; the median is reported")
    parser.add_argument("--describe-reps", type=int, default=3, help="repetitions of describe and torchinfo")
    parser.add_argument("--sites-only", action="store_true", help="leave out describe / torchinfo")
    parser.add_argument(
        "--command",
        default=str(MODELDOC),
        help="the modeldoc command to time, split on spaces (e.g. another checkout's 'python -m modeldoc')",
    )
    parser.add_argument("--pythonpath", default="", help="PYTHONPATH for the timed builds (another checkout)")
    parser.add_argument("--markdown", type=Path, help="also write the tables (with the load average) here")
    parser.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args()
    env = {"PYTHONPATH": args.pythonpath} if args.pythonpath else {}
    started = load()
    head = (
        f"# modeldoc targets (issue 12): Python {platform.python_version()}, {os.cpu_count()} CPUs; "
        f"{args.reps} cold builds per site; load average at the start {started}"
    )
    print(head, flush=True)
    sites = [measure_site(site, args.reps, args.command.split(), env) for site in SITES]
    describe = [] if args.sites_only else measure_describe(args.describe_reps)
    ended = load()
    text = f"{head}, at the end {ended}\n\n{table(sites, describe)}\n"
    print("\n" + text)
    if args.markdown:
        args.markdown.write_text(text, encoding="utf-8")
    if args.json:
        data = {"load_start": started, "load_end": ended, "sites": sites, "describe": describe}
        args.json.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
