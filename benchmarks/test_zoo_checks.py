"""Tests of the zoo harness itself: the wrong-statement detectors, the cause classes, the worker pool.

Run with ``.venv/bin/python -m pytest benchmarks/test_zoo_checks.py`` (the project's suite collects
``tests/`` only). The detectors are tested on small hand-written ``modeldoc/1`` documents, each
with the wrong statement and with the right one, so the tests hold whatever modeldoc says about
real models; one test describes a real plain CNN, where no detector may find anything.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import zoo_runner  # noqa: E402
from zoo_checks import (  # noqa: E402
    cause,
    checkable,
    evaluate,
    failure_message,
    formula_mismatch,
    slice_mismatch,
    wrong_statements,
)

# --------------------------------------------------------------------------- building documents


class Doc:
    """A tiny ``modeldoc/1`` document: layers with arguments, and a trace built op by op."""

    def __init__(self) -> None:
        self.layers: list[dict[str, Any]] = []
        self.ops: list[dict[str, Any]] = []
        self.tensors: list[dict[str, Any]] = []
        self.complete = True

    def layer(self, path: str, *args: dict[str, Any], params: int = 0) -> None:
        self.layers.append({"path": path, "type": "x", "hyperparameters": list(args), "total_params": params})

    def tensor(self, shape: list[int], producer: int | None = None, name: str = "") -> int:
        self.tensors.append({"id": len(self.tensors), "shape": shape, "producer": producer, "name": name})
        return len(self.tensors) - 1

    def op(self, kind: str, name: str, inputs: list[int], shapes: list[list[int]], **extra: Any) -> list[int]:
        index = len(self.ops)
        outputs = [self.tensor(s, index) for s in shapes]
        self.ops.append({"index": index, "kind": kind, "name": name, "inputs": inputs, "outputs": outputs, **extra})
        return outputs

    def json(self) -> dict[str, Any]:
        return {
            "model": {"type": "x", "hyperparameters": []},
            "layers": self.layers,
            "trace": {"complete": self.complete, "ops": self.ops, "tensors": self.tensors},
        }


def arg(name: str, value: Any, kind: str = "hyperparameter", source: str = "chosen", **extra: Any) -> dict[str, Any]:
    return {"name": name, "value": value, "kind": kind, "source": source, **extra}


def residual_block(o_proj_kind: str, o_proj_source: str) -> dict[str, Any]:
    """Embedding (width 8) then x + o_proj(up(x)): o_proj.out_features is tied to the embedding."""
    d = Doc()
    d.layer("embed", arg("embedding_dim", 8, dim="out0:-1"))
    d.layer(
        "up",
        arg("in_features", 8, "data-dependent", "previous-layer", dim="in0:-1"),
        arg("out_features", 16, dim="out0:-1"),
    )
    d.layer(
        "o_proj",
        arg("in_features", 16, "data-dependent", "previous-layer", dim="in0:-1"),
        arg("out_features", 8, o_proj_kind, o_proj_source, dim="out0:-1"),
    )
    (ids,) = d.op("input", "input_ids", [], [[1, 4]])
    (x,) = d.op("module", "embed", [ids], [[1, 4, 8]])
    (h,) = d.op("module", "up", [x], [[1, 4, 16]])
    (h,) = d.op("module", "o_proj", [h], [[1, 4, 8]])
    (y,) = d.op("function", "add", [x, h], [[1, 4, 8]])
    d.op("output", "output", [y], [])
    return d.json()


# --------------------------------------------------------------------------- class 1


def test_residual_detector_flags_a_chosen_width_tied_by_an_add() -> None:
    found = wrong_statements(residual_block("hyperparameter", "chosen"))["c1_residual"]
    assert found == ["o_proj.out_features = 8 is chosen, but add in (root) ties it to embed.embedding_dim"]


def test_residual_detector_accepts_a_data_dependent_width() -> None:
    assert wrong_statements(residual_block("data-dependent", "previous-layer"))["c1_residual"] == []


def test_residual_detector_follows_a_transpose_and_ignores_the_cat_axis() -> None:
    d = Doc()
    d.layer("stem", arg("out_channels", 8, dim="out0:1"))
    d.layer("proj", arg("out_features", 8, dim="out0:-1"))
    d.layer("side", arg("out_features", 8, dim="out0:-1"))
    (x,) = d.op("input", "x", [], [[1, 3, 4]])
    (c,) = d.op("module", "stem", [x], [[1, 8, 4]])
    (t,) = d.op("function", "transpose", [c], [[1, 4, 8]])  # the width moves to the last axis
    (p,) = d.op("module", "proj", [t], [[1, 4, 8]])
    (s,) = d.op("module", "side", [t], [[1, 4, 8]])
    (joined,) = d.op("function", "cat", [t, s], [[1, 4, 16]], arguments={"dim": -1})  # widths add: no tie
    (y,) = d.op("function", "add", [t, p], [[1, 4, 8]])
    d.op("output", "output", [y, joined], [])
    assert wrong_statements(d.json())["c1_residual"] == [
        "proj.out_features = 8 is chosen, but add in (root) ties it to stem.out_channels"
    ]


def test_residual_detector_lets_the_input_fix_the_width() -> None:
    d = Doc()
    d.layer("f", arg("out_features", 5, dim="out0:-1"))
    (x,) = d.op("input", "x", [], [[2, 5]])
    (h,) = d.op("module", "f", [x], [[2, 5]])
    (y,) = d.op("function", "mul", [x, h], [[2, 5]])
    d.op("output", "output", [y], [])
    assert wrong_statements(d.json())["c1_residual"] == [
        "f.out_features = 5 is chosen, but mul in (root) ties it to input x"
    ]


# --------------------------------------------------------------------------- classes 2 to 4


def test_constant_tensor_detector() -> None:
    d = Doc()
    step = {"text": "a constant tensor has 32 at axis 0", "value": 32, "where": "constant", "formula": ""}
    d.layer("head", arg("in_features", 32, "data-dependent", "previous-layer", derivation=[step]))
    d.layer(
        "tail",
        arg(
            "in_features",
            32,
            "data-dependent",
            "previous-layer",
            derivation=[{**step, "text": "the tensor `cls_token` has 32 at axis 2"}],
        ),
    )
    assert wrong_statements(d.json())["c2_constant"] == ["head.in_features = 32"]


def test_error_on_complete_counts_only_when_the_probe_completed() -> None:
    d = Doc()
    d.layer("norm", arg("normalized_shape", [8], "data-dependent", "previous-layer", error="expects 8, got 4"))
    assert wrong_statements(d.json())["c3_error_on_complete"] == ["norm.normalized_shape = [8]: expects 8, got 4"]
    d.complete = False
    assert wrong_statements(d.json())["c3_error_on_complete"] == []


def test_positions_are_not_a_vocabulary() -> None:
    d = Doc()
    d.layer("embeddings.word_embeddings", arg("num_embeddings", 100, "data-dependent", "input"))
    d.layer("embeddings.position_embeddings", arg("num_embeddings", 512, "data-dependent", "input"))
    d.layer("transformer.wpe", arg("num_embeddings", 1024, "hyperparameter", "chosen"))
    d.layer(
        "vision.position_embedding",
        arg(
            "num_embeddings",
            50,
            "data-dependent",
            "input",
            derivation=[{"text": "(224 / 32)² + 1", "value": 50, "where": "input", "formula": "(224 / 32)² + 1 = 50"}],
        ),
    )
    assert wrong_statements(d.json())["c4_positions_vocab"] == ["embeddings.position_embeddings.num_embeddings = 512"]


# --------------------------------------------------------------------------- class 5


def head_model(*, normalised: bool) -> dict[str, Any]:
    d = Doc()
    d.layer("head", arg("out_features", 10, "data-dependent", "target", dim="out0:-1"), params=90)
    (x,) = d.op("input", "x", [], [[1, 9]])
    (y,) = d.op("module", "head", [x], [[1, 10]])
    bias = d.tensor([10], name="bias")
    (y,) = d.op("function", "add", [y, bias], [[1, 10]])
    if normalised:
        (n,) = d.op("function", "norm", [y], [[1, 1]])
        (y,) = d.op("function", "div", [y, n], [[1, 10]])
        (t,) = d.op("function", "t", [y], [[10, 1]])
        (y,) = d.op("function", "matmul", [y, t], [[1, 1]])
    d.op("output", "output", [y], [])
    return d.json()


def test_target_is_right_for_a_head_whose_output_is_the_models() -> None:
    assert wrong_statements(head_model(normalised=False))["c5_target"] == []


def test_target_is_wrong_for_a_projection_the_model_normalises_and_contracts() -> None:
    assert wrong_statements(head_model(normalised=True))["c5_target"] == [
        "head.out_features = 10: its output is not a model output",
        "head.out_features = 10: the model contracts it in matmul in (root)",
    ]


# --------------------------------------------------------------------------- class 6


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12 × 4 × 4", 192),
        ("⌊(12 + 2·0 − 1·(5 − 1) − 1) / 1⌋ + 1", 8),
        ("⌈7 / 2⌉", 4),
        ("(224 / 32)² + 1", 50),
        ("3000 / 2", 1500),
        ("−3 + 5", 2),
    ],
)
def test_evaluate_reads_the_notation_the_pages_print(text: str, value: int) -> None:
    assert evaluate(text) == value


def test_evaluate_refuses_what_is_not_arithmetic() -> None:
    assert evaluate("transformer.wte.embedding_dim") is None
    assert evaluate("__import__('os').system('true')") is None
    assert evaluate("2 ** 100000") is None


def test_formula_mismatch_finds_wrong_arithmetic_and_wrong_values() -> None:
    assert formula_mismatch("73 − 0 = 71") == "'73 − 0 = 71': 73 − 0 is 73, not 71"
    assert formula_mismatch("73 − 2 = 71") is None
    assert formula_mismatch("12 × 4 × 4 = 192", 192) is None
    assert formula_mismatch("x.out_features = 24", 16) == "'x.out_features = 24': states 24 but the value is 16"
    assert formula_mismatch("logits.shape[2] = 100", 100) is None
    assert checkable("12 × 4 = 48") and not checkable("fc1.out_features = 48")


def test_slice_formula_must_start_from_the_size_it_counts_from() -> None:
    assert slice_mismatch("getitem in attn keeps :-2 of 73", "71 − 0 = 71") == (
        "'71 − 0 = 71' for 'keeps :-2 of 73' leaves out the size 73 the slice counts from"
    )
    assert slice_mismatch("getitem in attn keeps :-2 of 73", "73 − 2 = 71") is None
    assert slice_mismatch("getitem in attn keeps 0:4 of 10", "4 − 0 = 4") is None


def test_arithmetic_detector_reads_arguments_and_derivation_steps() -> None:
    d = Doc()
    steps = [{"text": "slice", "value": 71, "where": "qkv", "formula": "73 − 0 = 71"}]
    d.layer("attn", arg("num_heads", 71, "data-dependent", "previous-layer", formula="73 − 2 = 71", derivation=steps))
    assert wrong_statements(d.json())["c6_arithmetic"] == ["attn.num_heads = 71: '73 − 0 = 71': 73 − 0 is 73, not 71"]


# --------------------------------------------------------------------------- class 7


def waveform_model(through_layer: bool) -> dict[str, Any]:
    d = Doc()
    d.layer("norm")
    d.layer("conv0", arg("in_channels", 1, "data-dependent", "previous-layer", dim="in0:1"))
    (x,) = d.op("input", "input_values", [], [[1, 160]])
    if through_layer:
        (x,) = d.op("module", "norm", [x], [[1, 160]])
    (x,) = d.op("function", "getitem", [x], [[1, 1, 160]])
    (y,) = d.op("module", "conv0", [x], [[1, 4, 31]])
    d.op("output", "output", [y], [])
    return d.json()


def test_first_layer_reading_the_input_is_not_fed_by_a_previous_layer() -> None:
    assert wrong_statements(waveform_model(through_layer=False))["c7_first_layer"] == ["conv0.in_channels = 1"]
    assert wrong_statements(waveform_model(through_layer=True))["c7_first_layer"] == []


# --------------------------------------------------------------------------- a real model


def test_no_detector_finds_anything_in_a_plain_cnn() -> None:
    from zoo_checks import count_formulas, measure
    from zoo_models import MODELS

    from modeldoc.options import model_options
    from modeldoc.pipeline import describe_module

    lenet = MODELS["lenet5"]
    model = lenet.build("tiny")
    spec = describe_module(model, model_options({"target": "zoo_models:lenet5", "inputs": lenet.inputs(model)}))
    doc = spec.to_json()
    assert all(found == [] for found in wrong_statements(doc).values())
    formulas, checked = count_formulas(doc)
    assert checked > 0 and formulas >= checked  # the conv and pool arithmetic is evaluated, and holds
    assert measure(spec)["probe"] == "complete"


# --------------------------------------------------------------------------- causes


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ("RuntimeError: Tensor.item() cannot be called on meta tensors", "value-dependent control flow"),
        ("RuntimeError: Expected inputs of BF16 type but got mat_a.dtype=torch.float32", "meta kernel dtype"),
        ("ValueError: You have to specify pixel_values", "missing extra input"),
        ("AttributeError: 'NoneType' object has no attribute 'shape'", "missing extra input"),
        ("AttributeError: 'NoneType' object has no attribute 'dtype'", "missing extra input"),
        ("TypeError: Blip2Model.forward() missing 1 required positional argument: 'input_ids'", "missing extra input"),
        ("RuntimeError: mat1 and mat2 shapes cannot be multiplied (16x128 and 17x128)", "shape of the example input"),
        ("TypeError: embedding(): argument 'indices' (position 2) must be Tensor, not NoneType", "missing extra input"),
        ("TypeError: topk(): argument 'k' must be int, not NoneType", "other"),
        ("BarkModel defines no forward (its parts are called on their own, ...)", "no forward (not applicable)"),
    ],
)
def test_cause_classes(error: str, expected: str) -> None:
    assert cause(error) == expected


def test_failure_message_takes_the_exception_out_of_the_sentence() -> None:
    sentence = (
        "the forward pass failed in decoder (T5Stack), which received N × L × 512, with ValueError: You must "
        "specify exactly one of input_ids or inputs_embeds; change the example input (shape, dtype or names) to "
        "what the model expects, or fix the layer arguments the derivations below point at"
    )
    assert failure_message(sentence) == "ValueError: You must specify exactly one of input_ids or inputs_embeds"


# --------------------------------------------------------------------------- the worker pool


def selftest_handler(job: dict[str, Any]) -> dict[str, Any]:
    if job["do"] == "sleep":
        time.sleep(60)
    if job["do"] == "abort":
        import os

        os.abort()
    if job["do"] == "raise":
        raise ValueError("broken harness")
    if job["do"] == "memory":
        bytearray(3 * 2**30)  # beyond the worker's 1 GB address-space limit: MemoryError
    print("noise on stdout must not break the protocol")
    return {"value": job["name"]}


def test_worker_pool_survives_hangs_crashes_and_memory_limits() -> None:
    jobs = [{"name": n, "do": n.split("-")[0]} for n in ("ok-1", "sleep", "ok-2", "abort", "raise", "memory", "ok-3")]
    results: list[dict[str, Any]] = []
    limits = zoo_runner.Limits(timeout=3, memory_gb=1, batch=2, startup=30)
    command = [sys.executable, str(Path(__file__).resolve()), "--selftest-worker"]
    zoo_runner.run(jobs, command, limits, results.append)
    by_name = {r["name"]: r for r in results}
    assert [r["name"] for r in results] == [j["name"] for j in jobs]
    assert [by_name[n].get("value") for n in ("ok-1", "ok-2", "ok-3")] == ["ok-1", "ok-2", "ok-3"]
    assert by_name["sleep"]["killed"] == "timed out after 3 s"
    assert by_name["abort"]["killed"].startswith("aborted (SIGABRT")
    assert by_name["raise"]["harness_error"] == "ValueError: broken harness"
    assert by_name["memory"]["harness_error"].startswith("MemoryError")
    assert all(r["peak_rss_mb"] > 0 for r in results if "value" in r)


def test_worker_pool_runs_jobs_side_by_side() -> None:
    jobs = [{"name": n, "do": n.split("-")[0]} for n in ("ok-1", "sleep", "ok-2", "ok-3", "ok-4")]
    results: list[dict[str, Any]] = []
    limits = zoo_runner.Limits(timeout=3, memory_gb=1, batch=10, startup=30)
    command = [sys.executable, str(Path(__file__).resolve()), "--selftest-worker"]
    start = time.monotonic()
    zoo_runner.run(jobs, command, limits, results.append, workers=2)
    assert sorted(r["name"] for r in results) == sorted(j["name"] for j in jobs)
    assert next(r for r in results if r["name"] == "sleep")["killed"] == "timed out after 3 s"
    # the other worker went on while one waited for the time limit
    assert [r["name"] for r in results][-1] == "sleep"
    assert time.monotonic() - start < 20


if __name__ == "__main__" and "--selftest-worker" in sys.argv:
    zoo_runner.serve(selftest_handler)
