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

import torch
from torch import nn

from modeldoc import costs
from modeldoc.options import ModelOptions
from modeldoc.probe import extra_inputs, guard, hf_example
from modeldoc.probe.deadline import Budget
from modeldoc.probe.inputs import Example, example_for
from modeldoc.probe.materialise import Refused, default_budget, materialise
from modeldoc.probe.record import Calls, Dims
from modeldoc.probe.resolve import Built
from modeldoc.probe.run import Materialised, Runner, has_lazy, tensors_of
from modeldoc.probe.symbolic import label_dims
from modeldoc.probe.values import WHY_WEIGHTS
from modeldoc.spec import BoundaryTensor, MadeUpInput, TraceSpec


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


NO_CACHE = "use_cache"
"""The forward parameter that turns a transformers model's generation cache off."""


def probe(module: nn.Module, options: ModelOptions, tree: guard.Tree | None = None) -> ProbeResult:
    """Trace one forward pass of `module` on the example input `options` describes.

    The trace, shapes and costs up to a failure are kept; the failure becomes `error`. All
    passes share the time budget ``options.probe_timeout``. `tree` is `module`'s walk, when
    the caller has it.
    """
    tree = tree if tree is not None else guard.walk(module)
    budget = Budget(options.probe_timeout)
    example = example_for(options, weights_dtype(tree))
    lazy = has_lazy(tree)
    on_meta = any(t.is_meta for t in tensors_of(tree))
    plan = _Plan(module, tree, options, example, lazy=lazy, on_meta=on_meta, budget=budget)
    runner, base, note, skipped = plan.run()
    example = plan.example
    labelled = label_dims(base, runner, example, budget)
    error = labelled.sentence()
    if skipped:
        error = f"{error}; {skipped}" if error else ""
    if example.float_dtype:
        dtype_note = (
            f"the floating example inputs were made in {example.float_dtype}, the dtype of the model's weights "
            "(float32 inputs would not match them)"
        )
        note = f"{dtype_note}; {note}" if note else dtype_note
    if example.flags:
        flags = ", ".join(f"{k}={v!r}" for k, v in example.flags.items())
        flag_note = (
            f"the forward was called with {flags} (no generation cache): called as configured, it stopped sooner"
        )
        note = f"{flag_note}; {note}" if note else flag_note
    made_up = tuple(
        MadeUpInput(name=item.name, shape=tensor.shape, dtype=tensor.dtype, what=item.what)
        for item in example.made_up
        for tensor in labelled.inputs
        if tensor.name == item.name
    )
    trace = replace(labelled.trace, error=error, note=note, made_up=made_up, example_chosen=options.example_chosen)
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


class _Plan:
    """Which passes run, in order, and which one the page describes.

    On the meta device first (no memory, no compute; values the weights decide are assumed and
    recorded). When that pass had to assume values or failed, a pass with real values follows
    if one can run: on the model's own weights, or, for a model on the meta device, on a
    materialised copy of its weights within the memory budget (`modeldoc.probe.materialise`).
    The real pass is taken when it completes (or fails somewhere else than the meta pass did);
    otherwise the meta pass stays, with a note that says why no real pass describes the model.
    """

    def __init__(
        self,
        module: nn.Module,
        tree: guard.Tree,
        options: ModelOptions,
        example: Example,
        *,
        lazy: bool,
        on_meta: bool,
        budget: Budget,
    ) -> None:
        self.module = module
        self.tree = tree
        self.options = options
        self.example = example
        self.lazy = lazy
        self.on_meta = on_meta
        self.budget = budget

    def run(self) -> tuple[Runner, Built, str, str]:  # noqa: PLR0911 - one return per way the passes end
        """The runner and pass the page describes, the note on how it was made, and why a real pass was skipped."""
        if self.options.probe_device == "cpu":
            real = self._real_runner()
            if isinstance(real, Refused):
                meta = self._runner("meta")
                return meta, meta.build(self.example, self.example.sizes), "", _no_real_pass(real, self.on_meta)
            return real, self._first(real), _real_note(real, ""), ""
        runner = self._runner("meta")
        base = self._first(runner)
        if not _real_may_help(base) or self.budget.expired:
            return runner, base, "", ""
        why = _why_real(base)
        real = self._real_runner()
        if isinstance(real, Refused):
            note = f"{why}, and no real pass ran: {real.reason}" if base.trace.complete else ""
            skipped = "" if base.trace.complete else _no_real_pass(real, self.on_meta)
            return runner, base, note, skipped
        rerun = real.build(self.example, self.example.sizes)
        failure = rerun.failure
        if failure is not None and not failure.ran:
            if base.trace.complete:
                return runner, base, f"{why}, and no real pass ran: {failure.message}", ""
            return runner, base, "", f"it was not rerun with real weights: {failure.message}"
        # A failure the real pass repeats at the same place is the model's, not the meta device's.
        if rerun.trace.complete or (not base.trace.complete and rerun.trace.failed_in != base.trace.failed_in):
            return real, rerun, _real_note(real, why), ""
        if base.trace.complete:
            failed = failure.brief() if failure is not None else ""
            return runner, base, f"{why}; a real pass on {_weights_text(real)} failed ({failed}), so it stays", ""
        return runner, base, "", ""

    def _first(self, runner: Runner) -> Built:
        """The first pass, with the inputs the model requires made up; again with its usual companions if it failed.

        The pass with the companions (`modeldoc.probe.extra_inputs`) is kept when it got further,
        and the example it ran on becomes the plan's; when it did not, a pass with only the companions
        of the given inputs' kind (no made-up image, audio or region features) is tried once more;
        a pass that still fails is tried once without the generation cache (`_without_cache`).
        """
        given = guard.attempt(lambda: self.example.given(self.module), "binding the example inputs")
        names = given if isinstance(given, list) else []
        required = extra_inputs.made_up(self.module, names, optional=False)
        self.example = self.example.with_made_up(self.module, required)
        base = runner.build(self.example, self.example.sizes)
        if self._final(base):
            return base
        more = extra_inputs.made_up(self.module, names + [m.name for m in required], optional=True)
        for companions in (more, extra_inputs.same_modality(more)) if more else ():
            if not companions or self.budget.expired:
                break
            extended = self.example.with_made_up(self.module, companions)
            retry = runner.build(extended, extended.sizes)
            if _further(retry, base):
                self.example, base = extended, retry
                if self._final(base):
                    return base
                break
        return self._without_cache(runner, base, names)

    def _final(self, built: Built) -> bool:
        """True when no other pass may get further than `built`: it completed, or its failure was certain."""
        failure = built.failure
        return failure is None or not failure.ran or failure.timed_out or failure.certain or self.budget.expired

    def _without_cache(self, runner: Runner, base: Built, given: list[str]) -> Built:
        """`base`, or a pass with ``use_cache=False`` when the forward takes it and that pass got further.

        A transformers model builds a generation cache by default; some configs cannot build one (a
        model of linear-attention layers only), and a single pass does not need it. The note says so.
        """
        if NO_CACHE not in hf_example.forward_parameters(self.module) or NO_CACHE in given:
            return base
        plain = self.example.with_flags({NO_CACHE: False})
        retry = runner.build(plain, plain.sizes)
        if _further(retry, base):
            self.example = plain
            return retry
        return base

    def _runner(self, device: str, weights: dict[int, torch.Tensor] | None = None) -> Runner:
        return Runner(self.module, self.tree, device=device, lazy=self.lazy, budget=self.budget, weights=weights)

    def _real_runner(self) -> Runner | Refused:
        """A runner for a pass with real values: the model's own weights, or a materialised copy of them."""
        if not self.on_meta:
            return self._runner("cpu")
        limit = self.options.probe_memory if self.options.probe_memory is not None else default_budget()
        extra = self.example.nbytes(self.example.sizes)
        weights = materialise(self.module, self.tree, limit=limit, extra=extra, budget=self.budget)
        if isinstance(weights, Refused):
            return weights
        return self._runner("cpu", weights)


def weights_dtype(tree: guard.Tree) -> torch.dtype | None:
    """The dtype of the model's floating parameters when they share one (None for none, or for a mix)."""
    dtypes = {
        t.dtype
        for sub in tree.modules()
        for _, t in guard.own_tensors(sub, "_parameters")
        if t.dtype.is_floating_point and not nn.parameter.is_lazy(t)
    }
    return dtypes.pop() if len(dtypes) == 1 else None


def _further(retry: Built, base: Built) -> bool:
    """True when `retry` got further than `base`: it completed, or ran more ops before failing."""
    if retry.trace.complete != base.trace.complete:
        return retry.trace.complete
    if retry.failure is not None and not retry.failure.ran:
        return False

    def ran(built: Built) -> int:
        return sum(1 for op in built.trace.ops if op.kind in ("module", "function") and op.outputs)

    return ran(retry) > ran(base)


def _real_may_help(base: Built) -> bool:
    """True when a pass with real values may describe the model better than the meta pass `base`.

    It may when the meta pass assumed values, or failed in a torch kernel (which the meta device
    may have raised for want of values); not when it completed without assuming anything, nor
    when the real kernel would reject the same dtypes, nor when the model's own Python code
    raised with no assumed value before it (it raises the same with real values).
    """
    failure = base.failure
    if failure is None:
        return bool(base.trace.assumptions)
    if failure.certain or failure.timed_out or not failure.ran:
        return False
    return failure.kernel or bool(base.trace.assumptions)


def _why_real(base: Built) -> str:
    """Why a pass with real values was wanted after the meta pass."""
    if base.failure is not None:
        return f"the meta-device pass failed ({base.failure.brief()})"
    count = sum(a.count for a in base.trace.assumptions)
    if all(a.why == WHY_WEIGHTS for a in base.trace.assumptions):
        values = "1 value that depends" if count == 1 else f"{count} values that depend"
        return f"the meta-device pass had to assume {values} on the weights"
    return f"the meta-device pass had to assume {count} value{'' if count == 1 else 's'} it could not compute"


def _weights_text(runner: Runner) -> str:
    if runner.weights is not None:
        return "a materialised copy of the model's weights (random values on the CPU, dropped afterwards)"
    return f"{runner.real_device} with the model's weights"


def _real_note(runner: Runner, why: str) -> str:
    """How a trace from a pass with real values was made."""
    where = _weights_text(runner)
    if not why:
        return f"this trace comes from a real pass on {where}" if runner.weights is not None else ""
    return f"{why}, so this trace comes from a real pass on {where}"


def _no_real_pass(refused: Refused, on_meta: bool) -> str:
    """The end of the error sentence when a failed meta pass could not be followed by a real one."""
    if on_meta:
        return f"the model's weights are on the meta device and were not materialised for a real pass: {refused.reason}"
    return f"no real pass ran: {refused.reason}"
