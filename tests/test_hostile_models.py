"""Hostile models: each case ends with its exact outcome, no traceback, no hang, and the model untouched.

The models live in `tests.hostile`. In-process cases describe a live model as the Python API does and
check the description; CLI cases run ``modeldoc`` as a user does and check the one-line
message, the exit code and whether a site was written. Cases that could hang (a forward that
sleeps or loops) run in a subprocess with a generous bound, so a regression fails instead of
stalling the suite.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from torch import nn

from modeldoc.options import model_options
from modeldoc.probe import values
from modeldoc.spec import ModelSpec
from tests import hostile
from tests.helpers import REPO
from tests.helpers.run import run
from tests.helpers.sites import markdown_pages, model_pages_html
from tests.helpers.snapshot import Snapshot, untouched
from tests.helpers.specs import describe_live

describe = partial(describe_live, target="tests.hostile:Model", probe_timeout=30)
"""Describe a live hostile model, as the plugin and the Python API do (a hang fails after 30 s)."""


def layer(spec: ModelSpec, path: str) -> Any:
    return spec.layer(path)


# --------------------------------------------------------------------------- the model is left as it came


def test_a_module_registered_twice_keeps_its_weights() -> None:
    model = hostile.SHARED_TWICE
    shared = model.seq[0]
    weight = shared.weight
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert shared.weight is weight and model.seq[2].weight is weight
    assert type(weight) is nn.Parameter and weight.device.type == "cpu" and weight.requires_grad
    assert spec.trainable_params == 4 * 4 + 4
    assert layer(spec, "seq.0").aliases == ("seq.2",)
    assert layer(spec, "seq.0").calls == 2


def test_what_forward_caches_on_the_model_is_undone() -> None:
    model = hostile.CACHES
    memo, history, kinds = model.memo, model.history, model.kinds
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert not hasattr(model, "last") and "seen" not in model._buffers and "extra" not in model._modules
    assert model.memo is memo and model.history is history and model.kinds is kinds
    assert (memo, history, kinds) == ({}, [], set())  # emptied in place again
    assert model.out.weight.requires_grad
    assert spec.trace is not None and spec.trace.complete


def test_hooks_a_forward_registers_are_removed_so_a_second_description_is_the_same() -> None:
    model = hostile.INSTALLS_HOOKS
    first = untouched(model, lambda: describe(model, "2,4"))
    assert not model.fc._forward_hooks and not hasattr(model, "installed")
    second = describe(model, "2,4")
    assert json.dumps(first.to_json(), sort_keys=True) == json.dumps(second.to_json(), sort_keys=True)
    assert [op.name for op in first.trace.ops if op.name == "cat"] == ["cat"]  # the hook ran, once


def test_a_model_that_needs_real_values_runs_on_the_cpu_and_is_untouched() -> None:
    model = hostile.NEEDS_VALUES
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert spec.trace is not None and spec.trace.complete and spec.trace.device == "cpu"
    assert spec.trace.note == (
        "the meta-device pass had to assume 1 value that depends on the weights, so this trace comes from a "
        "real pass on cpu with the model's weights"
    )
    assert spec.outputs[0].shape == (2, 2)


# --------------------------------------------------------------------------- odd module trees


def test_a_module_that_contains_itself_is_documented_once() -> None:
    model = hostile.CONTAINS_ITSELF
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert [lay.path for lay in spec.layers] == ["fc", "out"]
    assert spec.print_text.startswith("(print(model) failed: RecursionError")
    assert any("contain one of their own ancestors (first: again)" in w for w in spec.warnings)
    assert any("Its child 'again' is the model itself again" in note for note in spec.root.notes)
    assert spec.trace is not None and spec.trace.complete  # its forward does not use the loop


def test_a_module_that_calls_itself_is_a_probe_failure_naming_the_recursion_limit() -> None:
    model = hostile.CALLS_ITSELF
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert "with RecursionError: maximum recursion depth exceeded" in spec.probe_error
    assert "Python's recursion limit" in spec.probe_error and "sys.setrecursionlimit" in spec.probe_error


def test_a_500_deep_model_is_described_without_recursion() -> None:
    model = hostile.NESTED
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert len(spec.layers) == 500
    assert spec.print_text.startswith("(print(model) failed: RecursionError: maximum recursion depth exceeded")
    assert "RecursionError" in spec.probe_error  # the real forward nests too deep as well
    assert layer(spec, ".".join(["0"] * 500)).type_name == "Linear"


def test_a_value_in_modules_that_is_not_a_module_is_skipped() -> None:
    model = hostile.NOT_A_MODULE_INSIDE
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert [lay.path for lay in spec.layers] == ["fc", "out"]


def test_named_modules_overridden_to_raise_is_not_needed() -> None:
    model = hostile.NO_NAMED_MODULES
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert [lay.path for lay in spec.layers] == ["fc", "out"]
    assert spec.trace is not None and spec.trace.complete


# --------------------------------------------------------------------------- the model's code raises when read


def test_repr_and_extra_repr_that_raise_are_shown_as_failures() -> None:
    model = hostile.WITH_BAD_LEAF
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert layer(spec, "fc").repr == "(repr(fc) failed: ValueError: extra_repr exploded)"
    assert layer(spec, "block").repr == "(block.extra_repr() failed: TypeError: returned int, not str)"
    assert spec.print_text == "(print(model) failed: ValueError: extra_repr exploded)"
    assert any("repr(fc) raised ValueError: extra_repr exploded" in note for note in layer(spec, "fc").notes)
    assert any(w.startswith("the model's own code raised while modeldoc read it") for w in spec.warnings)
    assert spec.trace is not None and spec.trace.complete


def test_the_whole_model_repr_that_raises() -> None:
    spec = describe(hostile.ReprRaises(), "2,4")
    assert spec.print_text == "(print(model) failed: RuntimeError: repr exploded)"
    assert [lay.repr for lay in spec.layers] == [
        "Linear(in_features=4, out_features=4, bias=True)",
        "Linear(in_features=4, out_features=2, bias=True)",
    ]


def test_a_property_that_raises_is_an_unknown_argument_with_the_reason() -> None:
    model = hostile.PROPERTY_RAISES
    spec = untouched(model, lambda: describe(model, "2,4"))
    (width,) = spec.root.unknown_arguments
    assert (width.name, width.has_default, width.default) == ("width", True, 4)
    assert width.reason == "reading it raised RuntimeError: property exploded"
    assert spec.to_json()["model"]["name"] == "PropertyRaises"


def test_a_getattr_that_raises_keyerror_is_read_safely() -> None:
    model = hostile.GETATTR_RAISES
    spec = untouched(model, lambda: describe(model, "2,4"))
    (depth,) = spec.root.unknown_arguments
    assert depth.reason == "reading it raised KeyError: 'no depth here'"
    assert spec.trace is not None and spec.trace.complete


def test_a_docstring_that_raises() -> None:
    spec = describe(hostile.DocRaises(), "2,4")
    assert spec.docstring == ""
    assert any("reading the docstring of the model raised RuntimeError: docstring exploded" in w for w in spec.warnings)


def test_a_repr_that_calls_item_on_the_meta_device() -> None:
    model = hostile.quantised_on_meta()
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert layer(spec, "act").repr == "(repr(act) failed: RuntimeError: Tensor.item() cannot be called on meta tensors)"
    assert spec.trace is not None and spec.trace.complete


def test_hugging_face_ibert_on_the_meta_device() -> None:
    model = hostile.ibert_on_meta()
    spec = untouched(model, lambda: describe(model, "input_ids:1,8", input_dtype="long"))
    failed = [lay.path for lay in spec.layers if lay.repr.startswith("(repr(")]
    assert "embeddings.embeddings_act1" in failed
    assert spec.print_text == "(print(model) failed: RuntimeError: Tensor.item() cannot be called on meta tensors)"
    assert len(spec.layers) > 20


# --------------------------------------------------------------------------- the forward pass


def test_sys_exit_in_forward_is_a_probe_failure() -> None:
    model = hostile.EXITS
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert spec.probe_error == (
        "the forward pass failed in the model (Exits), which received N × 4, with SystemExit: 3 "
        "(the model's code called sys.exit()); remove the sys.exit() call from forward (modeldoc went on "
        "without exiting)"
    )


def test_a_base_exception_in_forward_is_a_probe_failure() -> None:
    model = hostile.RAISES_BASE
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert "with Boom: boom (a BaseException that is not an Exception)" in spec.probe_error
    assert layer(spec, "fc").calls == 1  # the trace up to the failure is kept


def test_keyboard_interrupt_still_stops_modeldoc_and_the_model_is_restored() -> None:
    model = hostile.INTERRUPTS
    snapshot = Snapshot.take(model)
    with pytest.raises(KeyboardInterrupt):
        describe(model, "2,4")
    assert snapshot.problems(model) == []


@pytest.mark.parametrize(
    ("model", "dtype", "expected"),
    [
        (
            hostile.TokenIdsIntoLinear(),
            "long",
            "linear received input as int64 and weight as float32; its real kernel needs one dtype for both "
            "(the meta device does not check dtypes); integer inputs such as token ids go to an Embedding first; "
            "for other inputs pass --input-dtype float32",
        ),
        (
            hostile.TokenIdsIntoLinear(),
            "float64",
            "linear received input as float64 and weight as float32; its real kernel needs one dtype for both "
            "(the meta device does not check dtypes); pass --input-dtype float32 to match the model's weights",
        ),
        (
            hostile.Softmax(),
            "long",
            "softmax received a tensor of dtype int64, which its real kernel does not accept",
        ),
    ],
)
def test_dtypes_the_real_kernel_rejects_are_caught_on_the_meta_device(
    model: nn.Module, dtype: str, expected: str
) -> None:
    spec = untouched(model, lambda: describe(model, "2,4", input_dtype=dtype))
    assert spec.trace is not None and not spec.trace.complete
    assert expected in spec.probe_error


def test_dtypes_the_real_kernel_accepts_pass() -> None:
    spec = describe(hostile.Small(), "2,4", input_dtype="float32")
    assert spec.trace is not None and spec.trace.complete


# --------------------------------------------------------------------------- time limits


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("tests.hostile:Sleeps", marks=pytest.mark.slow),
        "tests.hostile:Spins",
        pytest.param("tests.hostile:TorchLoop", marks=pytest.mark.slow),
    ],
)
def test_a_forward_that_sleeps_or_loops_is_stopped_by_the_probe_timeout(target: str) -> None:
    # the real command in a subprocess, bounded so that a hang fails the test
    done = run(
        "modeldoc", "inspect", target, "--input-shape", "2,4", "--probe-timeout", "0.5", "--json", cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, done.stderr
    assert "by the probe timeout of 0.5 s (a forward pass that sleeps, waits or loops)" in warnings[0]
    assert "raise --probe-timeout (0 turns the limit off)" in warnings[0]
    data = json.loads(done.stdout)
    assert [lay["path"] for lay in data["layers"]] == ["fc", "out"]


@pytest.mark.slow
def test_the_probe_timeout_works_outside_the_main_thread() -> None:
    """MkDocs may build in a thread: no SIGALRM there, the watchdog raises in the probing thread."""
    got: dict[str, ModelSpec] = {}
    model = hostile.SPINS
    snapshot = Snapshot.take(model)
    worker = threading.Thread(target=lambda: got.update(spec=describe(model, "2,4", probe_timeout=0.5)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the spinning forward was not stopped"
    assert "by the probe timeout of 0.5 s" in got["spec"].probe_error
    assert snapshot.problems(model) == []


@pytest.mark.slow
def test_the_symbolic_passes_share_the_time_budget() -> None:
    sleeper = hostile.Sleeps()
    sleeper.seconds = 1.0
    spec = describe(sleeper, "N=2,L=4", probe_timeout=2.5)
    # the first pass finishes; the passes at other sizes of N and L would need more than the second left
    assert spec.trace is not None and spec.trace.complete
    assert any(
        "the probe timeout of 2.5 s ran out, so the sizes that follow the named axes (N, L)" in w for w in spec.warnings
    )


# --------------------------------------------------------------------------- sizes


def test_a_shape_that_overflows_int64_is_a_bad_option(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli(
        "build", "tests.hostile:Small", "--input-shape", "100000000000,100000000000", "--out", str(tmp_path / "s")
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: --input-shape '100000000000,100000000000' has 100000000000 × 100000000000 = "
        "10,000,000,000,000,000,000,000 elements, more than the 10,000,000,000 an example input may have; "
        "use a smaller example (a batch of 1 documents the same model)"
    )
    assert not (tmp_path / "s").exists()


def test_the_cpu_rerun_is_not_made_for_inputs_over_the_cap() -> None:
    model = hostile.NeedsValuesAnySize()
    spec = untouched(model, lambda: describe(model, "1,600000000"))
    assert spec.trace is not None and spec.trace.device == "meta" and spec.trace.complete
    # 2.2 GiB of inputs are not made on the CPU beside the meta pass either: their values are assumed too
    assert [(a.question, a.assumed, a.why) for a in spec.trace.assumptions] == [
        ("the value of a one-element tensor (Tensor.item())", "1.0", values.WHY_UNKNOWN)
    ]
    assert spec.trace.note == (
        "the meta-device pass had to assume 1 value it could not compute, and no real pass ran: the example inputs "
        "need 2.2 GiB on cpu, more than the 2.0 GiB a pass with real values may allocate for them"
    )


def test_a_cpu_probe_over_the_cap_is_not_run() -> None:
    spec = describe(hostile.Small(), "1,600000000", probe_device="cpu")
    assert spec.probe_error.startswith(
        "the forward pass was not run: the example inputs need 2.2 GiB on cpu, more than the 2.0 GiB"
    )
    assert spec.layers[0].calls == 0


def test_a_huge_input_on_the_meta_device_needs_no_memory() -> None:
    # 40 GB of float32 on the CPU; nothing on meta (the options cap inputs at 10**10 elements)
    spec = describe(hostile.Small(), "100000,25000,4")
    assert spec.trace is not None and spec.trace.complete
    assert spec.outputs[0].shape == (100000, 25000, 2)


# --------------------------------------------------------------------------- the command line, end to end


def _site(tmp_path: Path) -> Path:
    return tmp_path / "site"


@pytest.mark.parametrize(
    ("target", "shape", "warning"),
    [
        ("tests.hostile:CONTAINS_ITSELF", "2,4", "contain one of their own ancestors (first: again)"),
        ("tests.hostile:EXITS", "2,4", "with SystemExit: 3 (the model's code called sys.exit())"),
        ("tests.hostile:RAISES_BASE", "2,4", "with Boom: boom (a BaseException that is not an Exception)"),
        ("tests.hostile:WITH_BAD_LEAF", "2,4", "repr(fc) raised ValueError: extra_repr exploded"),
        ("tests.hostile:PROPERTY_RAISES", "2,4", "reading width raised RuntimeError: property exploded"),
    ],
)
def test_the_cli_warns_in_one_line_and_still_builds_the_site(
    cli: Callable[..., Any], tmp_path: Path, target: str, shape: str, warning: str
) -> None:
    model = getattr(hostile, target.split(":")[1])
    snapshot = Snapshot.take(model)
    result = cli("build", target, "--input-shape", shape, "--out", str(_site(tmp_path)), "--no-diagrams")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert any(warning in line for line in lines), result.stderr
    assert (_site(tmp_path) / "index.html").is_file()
    assert snapshot.problems(model) == []


def test_a_failed_repr_reads_as_such_on_the_page(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli("build", "tests.hostile:WITH_BAD_LEAF", "--input-shape", "2,4", "--out", str(_site(tmp_path)))
    assert result.exit_code == 0, result.output
    page = model_pages_html(_site(tmp_path))
    assert "(repr(fc) failed: ValueError: extra_repr exploded)" in page
    assert "(print(model) failed: ValueError: extra_repr exploded)" in page


def test_an_exiting_example_factory_is_one_error_line(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli(
        "build", "tests.hostile:Small", "--example", "tests.hostile:exiting_example", "--out", str(_site(tmp_path))
    )
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: the example-input factory tests.hostile:exiting_example raised SystemExit: no inputs for you; "
        "fix the factory so that it returns the example inputs (args, or (args, kwargs))"
    )
    assert not _site(tmp_path).exists()


@pytest.mark.parametrize("value", ["-1", "nan", "soon"])
def test_a_bad_probe_timeout_is_a_bad_option(cli: Callable[..., Any], value: str) -> None:
    result = cli("inspect", "tests.hostile:Small", "--probe-timeout", value)
    assert result.exit_code == 2
    assert re.search(r"probe[-_]timeout", result.stderr), result.stderr


@pytest.mark.parametrize("value", [-1, float("nan"), "soon", True])
def test_a_bad_probe_timeout_in_configuration_is_a_config_error(value: Any) -> None:
    from modeldoc.errors import ConfigError

    with pytest.raises(ConfigError, match="give probe_timeout in seconds, 0 or more"):
        model_options({"target": "tests.hostile:Small", "probe_timeout": value})


# --------------------------------------------------------------------------- names Graphviz and the pages must carry


def test_every_strange_name_reaches_the_site_through_real_dot(cli: Callable[..., Any], tmp_path: Path) -> None:
    model = hostile.STRANGE
    snapshot = Snapshot.take(model)
    result = cli("build", "tests.hostile:STRANGE", "--input-shape", "2,4", "--out", str(_site(tmp_path)))
    assert result.exit_code == 0, result.output
    assert snapshot.problems(model) == []
    html = model_pages_html(_site(tmp_path))
    assert html.count("<svg") >= 2, "the module tree and the data flow were drawn"
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "\\ud800" in html  # a lone surrogate, written as its escape
    assert "a" * 200 in html


def test_an_empty_moduledict_key_is_drawn(cli: Callable[..., Any], tmp_path: Path) -> None:
    result = cli("build", "tests.hostile:EmptyKey", "--input-shape", "2,4", "--out", str(_site(tmp_path)))
    assert result.exit_code == 0, result.output
    page = model_pages_html(_site(tmp_path))
    assert re.search(r"<text[^>]*>&#39;&#39;</text>", page), "the empty name is shown quoted in the diagram"


def test_the_plugin_accepts_probe_timeout(tmp_path: Path) -> None:
    from mkdocs.config.defaults import MkDocsConfig

    (tmp_path / "docs").mkdir()
    cfg = MkDocsConfig(config_file_path=str(tmp_path / "mkdocs.yml"))
    entry = {"target": "tests.hostile:Small", "input_shape": [2, 4], "probe_timeout": 2.5}
    cfg.load_dict({"site_name": "x", "plugins": [{"modeldoc": {"models": [entry]}}]})
    assert cfg.validate() == ([], [])
    modeldoc = cfg.plugins["modeldoc"]
    modeldoc.on_config(cfg)  # type: ignore[attr-defined]
    assert modeldoc.models[0].probe_timeout == 2.5  # type: ignore[attr-defined]


def test_a_torchscript_module_inside_a_model(cli: Callable[..., Any], tmp_path: Path) -> None:
    model = hostile.scripted()
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert [lay.path for lay in spec.layers] == ["0", "0.fc", "0.out", "1"]
    assert spec.total_params == 4 * 4 + 4 + 4 * 2 + 2
    assert spec.trace is not None and spec.trace.complete and spec.trace.device == "cpu"
    assert layer(spec, "1").output_shapes == ((2, 2),)
    options = model_options({"target": "tests.hostile:scripted", "input_shape": [2, 4]})
    text = markdown_pages(spec, options)["index.md"]
    assert text.count("A TorchScript module (or part of one): the probe cannot hook into it") == 3
    assert "Not called in the recorded forward pass" not in text


def test_a_module_that_refuses_setattr_is_probed_and_restored() -> None:
    model = hostile.RefusesSetattr()
    assert model.training  # as constructed
    spec = untouched(model, lambda: describe(model, "2,4"))
    assert spec.trace is not None and spec.trace.complete
    assert model.training


def test_a_dtype_failure_is_not_rerun_with_real_values() -> None:
    """The real kernel would fail the same way, so the probe does not spend a CPU pass to learn it."""
    hostile.DEVICES_SEEN.clear()
    spec = describe(hostile.RecordsDevices(), "2,4", input_dtype="long")
    assert "dtypes the real kernel rejects" in spec.probe_error
    assert hostile.DEVICES_SEEN and set(hostile.DEVICES_SEEN) == {"meta"}
