"""modeldoc.probe.trace: which passes run (meta, the fallback with real weights) and what a failure keeps."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from tests.helpers.specs import spec_of


def test_meta_failure_falls_back_to_a_real_pass() -> None:
    spec = spec_of("tests.probe_models:NoMetaKernel", "2,4")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.materialised) == ("cpu", True, False)
    assert spec.trace.note.startswith("the meta-device pass failed (in bincount: NotImplementedError: ")
    assert spec.trace.note.endswith("so this trace comes from a real pass on cpu with the model's weights")
    assert spec.output_dims == (("N", 3),)
    assert not spec.probe_error


def test_a_branch_on_the_example_inputs_needs_no_real_pass() -> None:
    """``if x.sum().item() > inf`` asks about the example input only: the meta pass computes it."""
    for target in ("tests.models:NeedsValues", "tests.models:meta_needs_values"):
        spec = spec_of(target, "2,4")
        assert spec.trace is not None
        assert (spec.trace.device, spec.trace.complete, spec.trace.assumptions, spec.trace.note) == (
            "meta",
            True,
            (),
            "",
        )
        assert spec.output_dims == (("N", 3),)


def test_probe_device_cpu_gives_the_same_trace_as_meta() -> None:
    meta = spec_of("modeldoc.examples.fashion:Network", "1,1,28,28")
    cpu = spec_of("modeldoc.examples.fashion:Network", "1,1,28,28", probe_device="cpu")
    assert cpu.trace is not None and meta.trace is not None
    assert (cpu.trace.device, meta.trace.device) == ("cpu", "meta")
    assert [(op.kind, op.name) for op in cpu.trace.ops] == [(op.kind, op.name) for op in meta.trace.ops]
    assert [t.dims for t in cpu.trace.tensors] == [t.dims for t in meta.trace.tensors]
    assert (cpu.macs, cpu.flops, cpu.activation_bytes) == (meta.macs, meta.flops, meta.activation_bytes)


def test_weights_on_meta_too_big_for_the_memory_budget_are_not_materialised_and_say_so() -> None:
    spec = spec_of("tests.probe_models:meta_no_meta_kernel", "2,4", probe_memory=0)
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.failed_in) == ("meta", False, "bincount")
    assert spec.trace.error.endswith(
        "the model's weights are on the meta device and were not materialised for a real pass: its weights take "
        "60 B, more than the probe's memory budget of 0 B (raise it with --probe-memory to run a real pass on a "
        "materialised copy)"
    )
    assert spec.warnings == (spec.probe_error,) == (spec.trace.error,)


def test_weights_on_meta_are_materialised_in_a_copy_for_a_real_pass() -> None:
    spec = spec_of("tests.probe_models:meta_no_meta_kernel", "2,4")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.materialised) == ("cpu", True, True)
    assert spec.trace.note.endswith(
        "so this trace comes from a real pass on a materialised copy of the model's weights (random values on "
        "the CPU, dropped afterwards)"
    )
    assert (spec.output_dims, spec.probe_error) == ((("N", 3),), "")


def test_partial_failure_still_builds_the_static_pages(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = cli("build", "tests.models:Broken", "--input-shape", "1,1,12,12", "--out", str(out), "--no-diagrams")
    assert result.exit_code == 0, result.output
    assert "warning: tests.models:Broken: the forward pass failed in fc1 (Linear)" in result.stderr
    pages = html.unescape("".join(p.read_text(encoding="utf-8") for p in out.rglob("*.html")))
    assert "fc1.weight" in pages
    assert "set in_features=192" in pages
