"""The curated zoo (issue 11): 36 architectures nobody here wrote, checked for wrong statements.

    python benchmarks/zoo_curated.py                        # every curated model, tiny sizes
    python benchmarks/zoo_curated.py --size full            # the configs' default sizes, built on meta
    python benchmarks/zoo_curated.py --only llama,unet2d
    python benchmarks/zoo_curated.py --summarize benchmarks/results/curated-before.jsonl
    python benchmarks/zoo_curated.py --summarize AFTER.jsonl --compare benchmarks/results/curated-before.jsonl

Each model of ``zoo_models.MODELS`` is built (tiny: random weights on the CPU; full: the config's
defaults on the meta device), described by modeldoc in-process with all the inputs its forward
takes, and checked: whether it built, the probe's device and outcome, whether an exception
escaped modeldoc (a crash), the knowledge gaps (``zoo_checks.measure``), and the findings of the
seven wrong-statement detectors (``zoo_checks.wrong_statements``). Models run in worker processes
with a time and a memory limit (``zoo_runner``). The table (printed, and written next to the output
as ``.md``) has one row per model; the findings follow, by class and model, so a fix can target them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import zoo_runner  # noqa: E402
from zoo import RESULTS, error_line, header, load, versions, where  # noqa: E402
from zoo_checks import CLASSES, markdown_table  # noqa: E402

SHOWN = 4
"""Findings listed per model and class in the summary (the JSON lines keep up to `KEPT`)."""
KEPT = 40


def describe_curated(job: dict[str, Any]) -> dict[str, Any]:
    """Build one curated model at the job's size, describe it and run the checks (runs in a worker)."""
    from zoo_checks import count_formulas, measure, wrong_statements
    from zoo_models import MODELS

    from modeldoc.options import model_options
    from modeldoc.pipeline import describe_module

    curated = MODELS[job["name"]]
    row: dict[str, Any] = {"family": curated.family, "size": job["size"], "builds": False}
    start = time.perf_counter()
    try:
        model = curated.build(job["size"])
        inputs = curated.inputs(model)
    except Exception as err:
        row["build_error"] = error_line(err)
        return row
    row.update(
        builds=True,
        cls=type(model).__name__,
        build_s=round(time.perf_counter() - start, 3),
        example=[f"{i['name']}: {' × '.join(str(s) for s in i['shape'])} {i['dtype']}" for i in inputs],
    )
    unique = sum(p.numel() for p in model.parameters())
    options = model_options({"target": f"zoo_models:{curated.name}", "inputs": inputs, "title": curated.name})
    start = time.perf_counter()
    try:
        spec = describe_module(model, options)
    except Exception as err:  # an exception escaping modeldoc: a crash
        row.update(probe="crashed", crash=error_line(err), crash_at=where(err))
        row["describe_s"] = round(time.perf_counter() - start, 3)
        return row
    row["describe_s"] = round(time.perf_counter() - start, 3)
    row.update(measure(spec))
    row["params_exact"] = spec.total_params == unique
    doc = spec.to_json()
    findings = wrong_statements(doc)
    row["wrong"] = {key: len(found) for key, found in findings.items()}
    row["findings"] = {key: found[:KEPT] for key, found in findings.items() if found}
    row["formulas"], row["formulas_checked"] = count_formulas(doc)
    return row


def worker() -> None:
    """The worker process: import the heavy libraries once, then serve jobs."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    import diffusers
    import torch
    import transformers

    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    zoo_runner.serve(describe_curated)


# --------------------------------------------------------------------------- summary


def outcome(row: dict[str, Any]) -> str:
    """``build failed``, ``crashed`` (modeldoc raised, or the worker died), or the probe's outcome."""
    if "killed" in row:
        return f"crashed ({row['killed']})"
    if "harness_error" in row:
        return "harness error"
    if not row.get("builds"):
        return "build failed"
    return str(row.get("probe", ""))


def summary(rows: list[dict[str, Any]], *, title: str, meta: dict[str, Any] | None = None) -> str:
    """The per-model table, the totals per class, and the findings by class and model."""
    keys = list(CLASSES)
    lines = [f"# {title}", ""]
    if meta:
        lines += [", ".join(f"{k} {v}" for k, v in meta.items()), ""]
    lines += ["Classes: " + "; ".join(f"**{k.split('_')[0]}** {v}" for k, v in CLASSES.items()) + ".", ""]
    table = []
    for row in rows:
        wrong = row.get("wrong", {})
        table.append(
            [
                row["name"],
                row.get("family", ""),
                "yes" if row.get("builds") else "no",
                row.get("probe_device", "") + (" (fallback)" if row.get("probe_note") else ""),
                outcome(row),
                row.get("layers", ""),
                row.get("no_entry_layers", ""),
                row.get("unknown_kind_args", ""),
                *[wrong.get(k, "") for k in keys],
            ]
        )
    head = ["model", "family", "builds", "probe device", "probe", "layers", "no entry", "unknown kind"]
    lines += [markdown_table([*head, *(k.split("_")[0] for k in keys)], table), ""]
    described = [r for r in rows if "wrong" in r]
    built = sum(1 for r in rows if r.get("builds"))
    crashed = sum(1 for r in rows if outcome(r).startswith("crashed"))
    complete = sum(1 for r in rows if r.get("probe") == "complete")
    lines += [
        f"{len(rows)} models, {built} built, {complete} probes complete, {crashed} crashed; "
        f"parameter totals exact on {sum(1 for r in described if r.get('params_exact'))} of {len(described)}; "
        f"{sum(r.get('formulas_checked', 0) for r in described)} of "
        f"{sum(r.get('formulas', 0) for r in described)} printed formulas hold arithmetic that was evaluated.",
        "",
        markdown_table(
            ["class", "what the detector counts", "findings", "models"],
            [
                [
                    k.split("_")[0],
                    CLASSES[k],
                    sum(r["wrong"][k] for r in described),
                    sum(bool(r["wrong"][k]) for r in described),
                ]
                for k in keys
            ],
        ),
        "",
    ]
    problems = [r for r in rows if outcome(r) not in ("complete",)]
    if problems:
        lines += ["## Builds, crashes and probes that did not complete", ""]
        for r in problems:
            detail = r.get("build_error") or r.get("crash") or r.get("error") or r.get("stderr_tail", "")
            at = r.get("crash_at") or r.get("failed_in") or ""
            lines.append(f"- **{r['name']}**: {outcome(r)}{f' in {at}' if at else ''}: {detail}")
        lines.append("")
    lines += ["## Findings by class", ""]
    for k in keys:
        hits = [r for r in described if r["wrong"][k]]
        lines += [f"### {k.split('_')[0]}: {CLASSES[k]}", ""]
        if not hits:
            lines += ["None found.", ""]
            continue
        for r in hits:
            shown = r["findings"][k][:SHOWN]
            more = r["wrong"][k] - len(shown)
            lines.append(
                f"- **{r['name']}** ({r['wrong'][k]}): "
                + "; ".join(f"`{f}`" for f in shown)
                + (f"; and {more} more" if more > 0 else "")
            )
        lines.append("")
    gaps: dict[str, int] = {}
    for r in described:
        for type_name, count in r.get("no_entry_types", {}).items():
            gaps[type_name] = gaps.get(type_name, 0) + count
    if gaps:
        top = sorted(gaps.items(), key=lambda kv: (-kv[1], kv[0]))[:40]
        lines += ["## Layer types with no knowledge entry (most instances first)", ""]
        lines += [", ".join(f"{t} ({n})" for t, n in top), ""]
    return "\n".join(lines)


def comparison(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> str:
    """Before/after per model: probe outcome, knowledge gaps and findings per class."""
    old = {r["name"]: r for r in before}
    keys = list(CLASSES)
    rows = []
    for r in after:
        b = old.get(r["name"], {})

        def pair(field: str, a: dict[str, Any] = r, b: dict[str, Any] = b) -> str:
            return f"{b.get(field, '–')} → {a.get(field, '–')}"

        wrong = [f"{b.get('wrong', {}).get(k, '–')} → {r.get('wrong', {}).get(k, '–')}" for k in keys]
        rows.append(
            [
                r["name"],
                f"{outcome(b) if b else '–'} → {outcome(r)}",
                pair("probe_device"),
                pair("no_entry_layers"),
                pair("unknown_kind_args"),
                *wrong,
            ]
        )
    head = ["model", "probe", "device", "no entry", "unknown kind", *(k.split("_")[0] for k in keys)]
    return markdown_table(head, rows)


# --------------------------------------------------------------------------- main


def main() -> None:
    """Run the curated models (or summarise a recorded run) and print the table."""
    from zoo_models import MODELS, SIZES

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=SIZES, default="tiny", help="tiny configs (default) or the defaults on meta")
    parser.add_argument("--only", help="comma-separated model names (see zoo_models.MODELS)")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes at once (default 1)")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per model (default 180)")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit per worker (default 6)")
    parser.add_argument("--out", type=Path, help="JSON-lines output (default results/curated-<size>.jsonl)")
    parser.add_argument("--summarize", type=Path, help="print the table of a recorded run instead of running")
    parser.add_argument("--compare", type=Path, help="with --summarize: a 'before' run to compare against")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker()
        return
    if args.summarize:
        recorded = load(args.summarize)
        print(summary(recorded, title=f"Curated zoo: {args.summarize.name}", meta=header(args.summarize)))
        if args.compare:
            print()
            print(comparison(load(args.compare), recorded))
        return
    names = list(MODELS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = [n for n in names if n not in MODELS]
        if unknown:
            sys.exit(f"zoo_curated.py: unknown model {unknown[0]!r}; choose from {', '.join(MODELS)}")
    out = args.out or RESULTS / f"curated-{args.size}.jsonl"
    meta = {**versions(), "size": args.size, "models": len(names), "timeout_s": args.timeout}
    meta["started"] = time.strftime("%Y-%m-%d %H:%M:%S")
    out.parent.mkdir(parents=True, exist_ok=True)
    print(f"{len(names)} models ({args.size}), load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows: list[dict[str, Any]] = []
    with out.open("w", encoding="utf-8") as stream:
        stream.write(json.dumps(meta) + "\n")

        def record(row: dict[str, Any]) -> None:
            rows.append(row)
            stream.write(json.dumps(row) + "\n")
            stream.flush()
            print(f"[{len(rows)}/{len(names)}] {row['name']}: {outcome(row)} {row.get('wrong', '')}", file=sys.stderr)

        limits = zoo_runner.Limits(timeout=args.timeout, memory_gb=args.memory_gb)
        command = [sys.executable, str(Path(__file__).resolve()), "--worker"]
        jobs = ({"name": n, "size": args.size} for n in names)
        zoo_runner.run(jobs, command, limits, record, workers=args.jobs)
    order = {n: i for i, n in enumerate(names)}
    rows.sort(key=lambda r: order.get(r["name"], len(order)))
    meta["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
    text = summary(rows, title=f"Curated zoo: {out.name}", meta=meta)
    out.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
