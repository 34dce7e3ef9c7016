"""The shape probe: which forward passes run, and what they saw, as a `ProbeResult`.

`probe` runs the user's model on the example input: on the meta device by default (no memory,
no compute). When the meta pass fails (code that needs real values) it is rerun on the model's
own device with real weights, unless that would fail the same way (a dtype the real kernel
rejects) or the inputs would take too much memory. The symbolic passes then label the sizes
that follow the named axes. All passes share the time budget of ``options.probe_timeout``.

Its parts: `modeldoc.probe.inputs` (the example inputs), `modeldoc.probe.run` (one pass, with
the model restored), `modeldoc.probe.record` (what a pass records), `modeldoc.probe.resolve`
(records to specs), `modeldoc.probe.symbolic` (symbolic sizes). `modeldoc.probe.collect`
puts the result into the layers of the spec.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from torch import nn

from modeldoc import costs
from modeldoc.options import ModelOptions
from modeldoc.probe import guard
from modeldoc.probe.deadline import Budget
from modeldoc.probe.inputs import example_for
from modeldoc.probe.record import Calls, Dims
from modeldoc.probe.run import Materialised, Runner, has_lazy, tensors_of
from modeldoc.probe.symbolic import label_dims
from modeldoc.spec import BoundaryTensor, TraceSpec


@dataclass(frozen=True)
class ProbeResult:
    """What the probe saw: the trace, each module's calls and shapes, costs and symbolic dims."""

    inputs: tuple[BoundaryTensor, ...]
    trace: TraceSpec | None
    calls: Mapping[str, Calls] = field(default_factory=dict)
    error: str = ""
    output_dims: tuple[Dims, ...] = ()
    outputs: tuple[BoundaryTensor, ...] = ()
    macs: int = 0
    flops: int = 0
    activation_bytes: int = 0
    costs: Mapping[str, costs.Cost] = field(default_factory=dict)
    lazy: Mapping[str, Materialised] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def probe(module: nn.Module, options: ModelOptions, tree: guard.Tree | None = None) -> ProbeResult:
    """Trace one forward pass of `module` on the example input `options` describes.

    The trace, shapes and costs up to a failure are kept; the failure becomes `error`. All
    passes share the time budget ``options.probe_timeout``. `tree` is `module`'s walk, when
    the caller has it.
    """
    tree = tree if tree is not None else guard.walk(module)
    budget = Budget(options.probe_timeout)
    example = example_for(options)
    lazy = has_lazy(tree)
    on_meta = any(t.is_meta for t in tensors_of(tree))
    plan = ["cpu"] if options.probe_device == "cpu" else (["meta"] if on_meta else ["meta", "cpu"])
    note = ""
    skipped = ""
    runner = Runner(module, tree, device=plan[0], lazy=lazy, budget=budget)
    base = runner.build(example, example.sizes)
    certain = base.failure is not None and base.failure.certain
    if not base.trace.complete and len(plan) > 1 and not budget.expired and not certain:
        real = Runner(module, tree, device=plan[1], lazy=lazy, budget=budget)
        rerun = real.build(example, example.sizes)
        failure = rerun.failure
        if failure is not None and not failure.ran:
            skipped = f"it was not rerun with real weights: {failure.message}"
        # A failure the real pass repeats at the same place is the model's, not the meta device's.
        elif rerun.trace.complete or rerun.trace.failed_in != base.trace.failed_in:
            note = (
                f"the meta-device pass failed ({base.failure.brief() if base.failure else ''}), so this trace comes "
                f"from a real pass on {real.real_device} with the model's weights"
            )
            runner, base = real, rerun
    labelled = label_dims(base, runner, example, budget)
    error = labelled.sentence()
    if skipped:
        error = f"{error}; {skipped}"
    if not base.trace.complete and on_meta and plan == ["meta"]:
        error = (
            f"{error}; the model's weights are on the meta device, so it cannot be rerun with real values: "
            "build it with real weights (not under torch.device('meta')) to trace further"
        )
    trace = replace(labelled.trace, error=error, note=note)
    summary = costs.summarize(trace)
    total = summary.get("", costs.ZERO)
    return ProbeResult(
        inputs=labelled.inputs,
        trace=trace,
        calls=labelled.calls,
        error=error,
        output_dims=tuple(o.dims for o in labelled.outputs),
        outputs=labelled.outputs,
        macs=total.macs,
        flops=total.flops,
        activation_bytes=total.activation_bytes,
        costs=summary,
        lazy=runner.materialised(),
        warnings=labelled.warnings,
    )
