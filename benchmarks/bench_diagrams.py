"""How long a build spends on its diagrams: the LLaMA example's pages, with and without them.

    python benchmarks/bench_diagrams.py            # 3 repetitions, medians
    python benchmarks/bench_diagrams.py --reps 5

The bundled LLaMA-shaped example (``modeldoc.examples.llama:make_llama_70b``, 80 blocks on the
meta device, input ``1,L=16`` of token ids) is described once. Then, in the same run:

- ``pages``: `render_pages` without diagrams, and with them (DOT for every page, then SVG);
- ``dot``: the very same DOT texts drawn one `dot` process after another (what the renderer
  did before `render_svgs`), and by `render_svgs` (a bounded pool of `dot` processes).

Each line is the median of the repetitions; the ratio column is against the first line of its
group. The machine's load average is printed at the start and the end: compare ratios.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from modeldoc import diagrams, pipeline
from modeldoc.options import model_options
from modeldoc.pages import render

TARGET = "modeldoc.examples.llama:make_llama_70b"


def median_seconds(work: Callable[[], object], reps: int) -> float:
    """The median wall time of `reps` runs of `work`."""
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    """Describe the example, time its pages and diagrams, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}; CPUs: {os.cpu_count()}")
    options = model_options({"target": TARGET, "input_shapes": [[1, "L=16"]], "input_dtype": "long"})
    spec = pipeline.describe(options)
    env = render.make_env()

    dots: list[str] = []
    batch = diagrams.render_svgs

    def capture(texts: list[str]) -> list[str]:
        dots.extend(texts)
        return batch(texts)

    diagrams.render_svgs = capture  # type: ignore[assignment]  # the renderer calls it through the package
    render.render_pages(spec, render.RenderSettings(options=options, diagrams=True), env)
    diagrams.render_svgs = batch

    rows = [
        (
            "pages",
            "without diagrams",
            lambda: render.render_pages(spec, render.RenderSettings(options=options, diagrams=False), env),
        ),
        ("pages", "with diagrams", lambda: render.render_pages(spec, render.RenderSettings(options=options), env)),
        ("dot", f"{len(dots)} diagrams, one dot after another", lambda: [diagrams.render_svg(d) for d in dots]),
        ("dot", f"{len(dots)} diagrams, render_svgs", lambda: diagrams.render_svgs(dots)),
    ]
    print("\n| group | what | median s | ratio |\n|---|---|---|---|")
    first: dict[str, float] = {}
    for group, what, work in rows:
        seconds = median_seconds(work, args.reps)
        base = first.setdefault(group, seconds)
        print(f"| {group} | {what} | {seconds:.2f} | {seconds / base:.2f} |")
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
