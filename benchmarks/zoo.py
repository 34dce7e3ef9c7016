"""The Hugging Face transformers zoo: every model type built from its default config on meta, described.

    python benchmarks/zoo.py                                  # every model type (long: run it with nice)
    python benchmarks/zoo.py --only llama,t5,whisper          # some types
    python benchmarks/zoo.py --limit 40 --out /tmp/zoo.jsonl  # the first 40 types
    python benchmarks/zoo.py --summarize benchmarks/results/zoo-before.jsonl
    python benchmarks/zoo.py --summarize AFTER.jsonl --compare benchmarks/results/zoo-before.jsonl

Every model type of ``transformers``' AutoModel mapping (base models) is built from its default
config (``AutoConfig.for_model``) under ``torch.device("meta")``, as one builds a model too big
for memory, then described by modeldoc in-process (``pipeline.describe_module``) with
the example input modeldoc itself chooses from the model's ``main_input_name``, its config and its first
layers (`modeldoc.probe.hf_example`, as for a config target built without ``--input-shape``).
Only that main input is given, as a user typing one ``--input-shape`` would.

Each model runs in a worker process (``zoo_runner``) under a memory limit and a time limit, so a
crash or a hang ends that model's row, not the run. Each row of the JSON-lines output says whether
the model built, how far the probe got (complete / partial / failed / crashed), where and why it
stopped, the cause class (``zoo_checks.cause``), the time, peak memory, and the knowledge gaps.
The summary (printed, and written next to the output as ``.md``) gives the totals, the share of
complete probes, the crashes and the table of causes.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import traceback
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(ROOT))

import zoo_runner  # noqa: E402
from zoo_checks import CAUSES, cause, markdown_table  # noqa: E402

COMMON = 20
"""Rows in the summary's tables of frequent errors and knowledge gaps."""


# --------------------------------------------------------------------------- what runs in the worker


def model_types() -> list[str]:
    """Every model type AutoModel maps to a base-model class, in the mapping's order."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return list(MODEL_MAPPING_NAMES)


def example_input(model: Any, config: Any) -> Any:
    """The example input modeldoc chooses for `model` from `config` (``modeldoc.probe.hf_example.choose``)."""
    from modeldoc.probe import hf_example

    return hf_example.choose(model, config)


def describe_type(job: dict[str, Any]) -> dict[str, Any]:
    """Build one model type on meta and describe it (runs in a worker)."""
    import torch
    from transformers import AutoConfig, AutoModel
    from zoo_checks import measure

    from modeldoc.options import model_options
    from modeldoc.pipeline import describe_module

    model_type = job["name"]
    row: dict[str, Any] = {"builds": False}
    start = time.perf_counter()
    try:
        config = AutoConfig.for_model(model_type)
        with torch.device("meta"):
            model = AutoModel.from_config(config)
    except Exception as err:
        row["build_error"] = error_line(err)
        row["build_s"] = round(time.perf_counter() - start, 3)
        return row
    row.update(builds=True, cls=type(model).__name__, build_s=round(time.perf_counter() - start, 3))
    try:
        chosen = example_input(model, config)
    except Exception as err:
        row.update(probe="failed", error=f"no example input: {error_line(err)}", cause="other")
        return row
    row.update(example=chosen.shape_text(), example_read=list(chosen.reads))
    options = model_options({"target": f"transformers:{type(model).__name__}", "title": model_type})
    options = replace(options, inputs=(chosen.input,), example_chosen=chosen.sentence())
    start = time.perf_counter()
    try:
        spec = describe_module(model, options)
    except Exception as err:  # an exception escaping modeldoc: the crash issue 14 counts
        row.update(
            probe="crashed",
            crash=error_line(err),
            crash_at=where(err),
            cause=cause(error_line(err)),
            describe_s=round(time.perf_counter() - start, 3),
        )
        return row
    row["describe_s"] = round(time.perf_counter() - start, 3)
    row.update(measure(spec))
    if row["probe"] == "not-run":  # no trace: the page's probe error says why (an internal error, no input)
        row["error"] = spec.probe_error
    if row["probe"] != "complete":
        row["cause"] = cause(row["error"])
    return row


def error_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def where(err: BaseException) -> str:
    """The innermost frame of a traceback that is modeldoc's own code (else the innermost frame)."""
    frames = traceback.extract_tb(err.__traceback__)
    ours = [f for f in frames if "/modeldoc/" in f.filename] or frames
    if not ours:
        return ""
    frame = ours[-1]
    return f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"


def worker() -> None:
    """The worker process: import the heavy libraries once, then serve jobs."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    import torch
    import transformers

    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    zoo_runner.serve(describe_type)


# --------------------------------------------------------------------------- summary


def load(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines results file (its header line, if any, left out)."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if "name" in r]


def header(path: Path) -> dict[str, Any]:
    """The first line of a results file when it is the run's header (versions, options)."""
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    data = json.loads(first) if first.strip() else {}
    return data if "name" not in data else {}


def outcome(row: dict[str, Any]) -> str:
    """``build failed``, ``complete``, ``partial``, ``failed`` or ``crashed`` (a killed worker counts as crashed)."""
    if "killed" in row:
        return "crashed"
    if "harness_error" in row:
        return "harness error"
    if not row.get("builds"):
        return "build failed"
    return str(row.get("probe", "failed"))


def causes(rows: list[dict[str, Any]]) -> Counter[str]:
    """How many probes that did not complete fall in each cause class (crashes as ``crash: <cause>``).

    The class is computed again from each row's error text, so runs recorded at different times
    are counted by the same rules.
    """
    counted: Counter[str] = Counter()
    for row in rows:
        state = outcome(row)
        if state in ("partial", "failed", "not-run"):
            counted[cause(row.get("error", ""))] += 1
        elif state == "crashed":
            counted["crash: " + ("killed" if "killed" in row else cause(row.get("crash", "")))] += 1
    return counted


def summary(rows: list[dict[str, Any]], *, title: str, meta: dict[str, Any] | None = None) -> str:
    """The Markdown summary: totals, the share of complete probes, crashes, causes and the slowest models."""
    states = Counter(outcome(r) for r in rows)
    built = len(rows) - states["build failed"]
    complete = states["complete"]
    lines = [f"# {title}", ""]
    if meta:
        lines += [", ".join(f"{k} {v}" for k, v in meta.items()), ""]
    lines += [
        markdown_table(
            ["model types", "built", "complete", "partial", "failed", "not run", "crashed", "complete share of built"],
            [
                [
                    len(rows),
                    built,
                    complete,
                    states["partial"],
                    states["failed"],
                    states["not-run"],
                    states["crashed"],
                    f"{complete / built:.1%}" if built else "–",
                ]
            ],
        ),
        "",
        "Causes of the probes that did not complete:",
        "",
    ]
    counted = causes(rows)
    order = [c for c in CAUSES if c in counted] + sorted(c for c in counted if c not in CAUSES)
    lines += [markdown_table(["cause", "models"], [[c, counted[c]] for c in order]), ""]
    crashed = [r for r in rows if outcome(r) == "crashed"]
    if crashed:
        lines += ["Crashes:", ""]
        lines += [
            markdown_table(
                ["model", "crash", "at"],
                [[r["name"], r.get("crash") or r.get("killed", ""), r.get("crash_at", "")] for r in crashed],
            ),
            "",
        ]
    failed_builds = Counter((r.get("build_error") or "")[:90] for r in rows if outcome(r) == "build failed")
    if failed_builds:
        lines += ["Build failures (the model type cannot be built from its default config here):", ""]
        lines += [markdown_table(["error", "models"], failed_builds.most_common()), ""]
    errors: dict[str, list[str]] = {}
    classes: dict[str, str] = {}
    for r in rows:
        if outcome(r) in ("partial", "failed"):
            key = _normalised(r.get("error", ""))
            errors.setdefault(key, []).append(r["name"])
            classes.setdefault(key, cause(r.get("error", "")))
    if errors:
        common = sorted(errors.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:COMMON]
        lines += ["Most frequent probe errors (numbers and names in the message replaced by #):", ""]
        lines += [
            markdown_table(
                ["error", "cause", "models", "for example"],
                [[text, classes[text], len(names), ", ".join(names[:4])] for text, names in common],
            ),
            "",
        ]
    described = [r for r in rows if "describe_s" in r]
    gaps: Counter[str] = Counter()
    for r in described:
        gaps.update(r.get("no_entry_types", {}).keys())
    if gaps:
        lines += ["Layer types with no knowledge entry, by the number of model types that have them:", ""]
        lines += [", ".join(f"{t} ({n})" for t, n in gaps.most_common(COMMON)), ""]
    if described:
        times = sorted(r["describe_s"] for r in described)
        rss = sorted(r.get("peak_rss_mb", 0) for r in described)
        lines += [
            f"Describe time: median {times[len(times) // 2]:.1f} s, max {times[-1]:.1f} s; "
            f"peak RSS median {rss[len(rss) // 2]:.0f} MB, max {rss[-1]:.0f} MB; "
            f"layers with no knowledge entry: {sum(r.get('no_entry_layers', 0) for r in described)}, "
            f"arguments with an unknown kind: {sum(r.get('unknown_kind_args', 0) for r in described)} "
            f"(over {len(described)} described models).",
            "",
        ]
    return "\n".join(lines)


def _normalised(error: str) -> str:
    """An error message with its numbers and quoted names masked, so the same failure in many models groups."""
    text = re.sub(r"'([^']*)'|`[^`]*`", lambda m: m.group(0) if m.group(1) == "NoneType" else "#", error)
    text = re.sub(r"\d+", "#", text)
    return text[:110]


def comparison(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Before/after table of outcomes and causes, over the model types both runs hold."""
    names = {r["name"] for r in before} & {r["name"] for r in after}
    before = [r for r in before if r["name"] in names]
    after = [r for r in after if r["name"] in names]
    rows = []
    for label, count in (
        ("complete", lambda rs: Counter(outcome(r) for r in rs)["complete"]),
        ("partial", lambda rs: Counter(outcome(r) for r in rs)["partial"]),
        ("failed", lambda rs: Counter(outcome(r) for r in rs)["failed"]),
        ("crashed", lambda rs: Counter(outcome(r) for r in rs)["crashed"]),
    ):
        rows.append([label, count(before), count(after)])
    b, a = causes(before), causes(after)
    for c in [*CAUSES, *sorted((set(b) | set(a)) - set(CAUSES))]:
        if b[c] or a[c]:
            rows.append([f"cause: {c}", b[c], a[c]])
    return f"Over the {len(names)} model types both runs hold:\n\n" + markdown_table(["", "before", "after"], rows)


# --------------------------------------------------------------------------- main


def versions() -> dict[str, str]:
    """The versions a run depends on."""
    from importlib.metadata import version

    out = {}
    for package in ("torch", "transformers", "diffusers", "modeldoc"):
        try:
            out[package] = version(package)
        except Exception:  # a package that is not installed is simply not listed
            continue
    return out


def main() -> None:
    """Run the zoo (or summarise a recorded run) and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="only the first N model types")
    parser.add_argument("--only", help="comma-separated model types (e.g. llama,t5)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes at once (default 1)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per model (default 60)")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit per worker (default 6)")
    parser.add_argument("--batch", type=int, default=25, help="models per worker before it is replaced")
    parser.add_argument("--out", type=Path, default=RESULTS / "zoo.jsonl", help="JSON-lines output")
    parser.add_argument("--summarize", type=Path, help="print the summary of a recorded run instead of running")
    parser.add_argument("--compare", type=Path, help="with --summarize: a 'before' run to compare against")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    if args.summarize:
        rows = load(args.summarize)
        print(summary(rows, title=f"Zoo: {args.summarize.name}", meta=header(args.summarize)))
        if args.compare:
            print()
            print(comparison(load(args.compare), rows))
        return
    run(args)


def run(args: argparse.Namespace) -> None:
    """Run the chosen model types and write the rows, then the summary."""
    types = _selected(args)
    meta = {**versions(), "models": len(types), "timeout_s": args.timeout, "memory_gb": args.memory_gb}
    meta["started"] = time.strftime("%Y-%m-%d %H:%M:%S")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(types)} model types, load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    with args.out.open("w", encoding="utf-8") as out:
        out.write(json.dumps(meta) + "\n")
        out.flush()

        def record(row: dict[str, Any]) -> None:
            rows.append(row)
            out.write(json.dumps(row) + "\n")
            out.flush()
            detail = row.get("cause") or row.get("killed") or row.get("build_error", "")[:60]
            print(f"[{len(rows)}/{len(types)}] {row['name']}: {outcome(row)} {detail}", file=sys.stderr)

        limits = zoo_runner.Limits(timeout=args.timeout, memory_gb=args.memory_gb, batch=args.batch)
        command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        zoo_runner.run(({"name": t} for t in types), command, limits, record, workers=args.jobs)
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    text = summary(rows, title=f"Zoo: {args.out.name}", meta=meta)
    args.out.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    print(text)


def _selected(args: argparse.Namespace) -> list[str]:
    everything = model_types()
    if args.only:
        wanted = [t.strip() for t in args.only.split(",") if t.strip()]
        unknown = [t for t in wanted if t not in everything]
        if unknown:
            sys.exit(f"zoo.py: unknown model type {unknown[0]!r}; see transformers' MODEL_MAPPING_NAMES")
        return wanted
    return everything[: args.limit] if args.limit else everything


if __name__ == "__main__":
    main()
