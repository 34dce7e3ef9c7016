"""Time modeldoc against torchinfo and torchview on the same models, in one run.

    python benchmarks/run.py                 # every model
    python benchmarks/run.py fashion gpt2    # some of them
    python benchmarks/run.py --reps 5 --cli-reps 3 --json out.json

For each model: modeldoc's collection step in-process (``modeldoc.pipeline.describe``, with
the tracing probe), ``modeldoc inspect --json`` end to end as a user runs it (a fresh Python
process that imports torch and builds the model), the module-tree and data-flow DOT text
(``modeldoc.diagrams``), ``torchinfo.summary`` (and its text table) and ``torchview.draw_graph``
(the graph object, not rendered to an image). Every timing is the median of several
repetitions after one warm-up call; the table gives seconds and modeldoc / peer ratios, then
the errors of any tool that failed on a model.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))

import bench_models  # noqa: E402
import torch  # noqa: E402

from modeldoc import diagrams, pipeline  # noqa: E402
from modeldoc.options import model_options  # noqa: E402


@dataclass(frozen=True)
class Case:
    """One model and its example input."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"
    reps: int = 5

    def tensor(self) -> torch.Tensor:
        """The example input for the peers (real memory, CPU)."""
        if self.dtype == "long":
            return torch.zeros(self.shape, dtype=torch.long)
        return torch.randn(self.shape)


CASES = (
    Case("fashion", (1, 1, 28, 28)),
    Case("lstm", (1, 64), "long"),
    Case("encoder", (1, 64), "long"),
    Case("resnet", (1, 3, 224, 224)),
    Case("gpt2", (1, 64), "long", reps=3),
    Case("llama", (1, 64), "long", reps=3),
)
TOOLS = ("modeldoc", "modeldoc CLI", "diagrams", "torchinfo", "torchview")


@dataclass
class Result:
    """Timings (seconds, median) and errors of one model."""

    case: Case
    modules: int = 0
    params: int = 0
    build: float = 0.0
    seconds: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def median_time(fn: Callable[[], Any], reps: int, warmup: int = 1) -> float:
    """Median wall time of `fn` over `reps` calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def modeldoc_options(case: Case, target: str) -> Any:
    """The options a user would pass: the target, one input shape and its dtype."""
    return model_options({"target": target, "input_shape": ",".join(map(str, case.shape)), "input_dtype": case.dtype})


def run_case(case: Case, reps: int | None, cli_reps: int, tools: Collection[str] = TOOLS) -> Result:
    """Time every tool of `tools` on one model."""
    n = reps or case.reps
    start = time.perf_counter()
    model = getattr(bench_models, case.name)  # built once; every tool gets this instance
    result = Result(case, build=time.perf_counter() - start)
    result.modules = sum(1 for _ in model.modules())
    result.params = sum(p.numel() for p in model.parameters())
    options = modeldoc_options(case, f"bench_models:{case.name}")

    def attempt(tool: str, fn: Callable[[], Any], count: int, warmup: int = 1) -> None:
        if tool not in tools:
            return
        try:
            result.seconds[tool] = median_time(fn, count, warmup)
        except Exception as err:  # a peer failing on a model is a result, not a crash
            message = str(err).strip().splitlines()
            result.errors[tool] = f"{type(err).__name__}: {message[0] if message else ''}"[:160]
            if os.environ.get("BENCH_TRACEBACK"):
                traceback.print_exc()

    attempt("modeldoc", lambda: pipeline.describe(options), n)
    spec = pipeline.describe(options) if "modeldoc" in result.seconds and "diagrams" in tools else None
    if spec is not None:
        attempt(
            "diagrams",
            lambda: (diagrams.tree_dot(spec, "", 2, _href), diagrams.flow_dot(spec, "", 2, _href)),
            n,
        )
    attempt("modeldoc CLI", lambda: _cli(case), cli_reps, warmup=0)
    attempt("torchinfo", lambda: str(_torchinfo(model, case)), n)
    attempt("torchview", lambda: _torchview(model, case), n)
    return result


def _href(path: str) -> str:
    return f"#{path}"


def _cli(case: Case) -> None:
    """``modeldoc inspect --json`` in a fresh process, building the model from its factory."""
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [
        str(Path(sys.executable).with_name("modeldoc")),
        "inspect",
        f"{HERE / 'bench_models.py'}:make_{case.name}",
        "--input-shape",
        ",".join(map(str, case.shape)),
        "--input-dtype",
        case.dtype,
        "--json",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, env=env)
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise RuntimeError(lines[-1] if lines else f"exit code {done.returncode}")
    json.loads(done.stdout)


def _torchinfo(model: torch.nn.Module, case: Case) -> Any:
    import torchinfo

    return torchinfo.summary(model, input_data=[case.tensor()], depth=3, verbose=0, device="cpu")


def _torchview(model: torch.nn.Module, case: Case) -> Any:
    import torchview

    return torchview.draw_graph(model, input_data=[case.tensor()], device="cpu", depth=3)


def table(results: list[Result]) -> str:
    """The results as a Markdown table, then the failures."""
    head = (
        "| model | modules | params | modeldoc s | CLI s | diagrams s | torchinfo s | torchview s "
        "| modeldoc / torchinfo | modeldoc / torchview | CLI / torchinfo | CLI / torchview |"
    )
    lines = [head, "|" + "---|" * 12]
    for r in results:
        s = r.seconds

        def cell(tool: str, s: dict[str, float] = s) -> str:
            return f"{s[tool]:.3f}" if tool in s else "failed"

        def ratio(a: str, b: str, s: dict[str, float] = s) -> str:
            return f"{s[a] / s[b]:.2f}×" if a in s and b in s and s[b] > 0 else "–"

        lines.append(
            f"| {r.case.name} | {r.modules:,} | {r.params / 1e6:.1f} M | {cell('modeldoc')} | "
            f"{cell('modeldoc CLI')} | {cell('diagrams')} | {cell('torchinfo')} | {cell('torchview')} | "
            f"{ratio('modeldoc', 'torchinfo')} | {ratio('modeldoc', 'torchview')} | "
            f"{ratio('modeldoc CLI', 'torchinfo')} | {ratio('modeldoc CLI', 'torchview')} |"
        )
    failures = [(r.case.name, tool, err) for r in results for tool, err in r.errors.items()]
    lines.append("")
    if failures:
        lines.append("Failures:")
        lines += [f"- {tool} on {name}: {err}" for name, tool, err in failures]
    else:
        lines.append("Failures: none.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", choices=[[], *[c.name for c in CASES]], metavar="MODEL")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per in-process timing")
    parser.add_argument("--cli-reps", type=int, default=3, help="repetitions of the CLI run")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    chosen = [c for c in CASES if not args.models or c.name in args.models]
    print(
        f"# modeldoc benchmark: Python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs; median seconds of {args.reps or 'per-model'} repetitions; "
        f"load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    results = []
    began = time.perf_counter()
    for case in chosen:
        print(f"- {case.name} ...", end=" ", flush=True)
        results.append(run_case(case, args.reps, args.cli_reps))
        print(f"done ({time.perf_counter() - began:.0f}s so far)", flush=True)
    print(f"\nLoad average at the end: {os.getloadavg()[0]:.1f} (other work on the machine inflates the timings).\n")
    print(table(results))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "model": r.case.name,
                        "modules": r.modules,
                        "params": r.params,
                        **r.seconds,
                        "errors": r.errors,
                    }
                    for r in results
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
