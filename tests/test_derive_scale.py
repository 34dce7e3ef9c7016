"""Derivations at depth: linear work, bounded listings, and a budget that stops the rest with a clear message.

The models live in ``tests/deep_models.py``: a TimeSformer-shaped video transformer whose
blocks split and merge the token axis (the step lists used to multiply by each block, ~4× per
block, until memory ran out at 10 blocks), a stack of gated convolutions whose gates' derivations
grow one step per layer, and Hugging Face's TimesformerModel itself.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

import pytest
from click.testing import Result

from modeldoc.derive import attach, provenance
from modeldoc.derive.provenance import MAX_SHOWN, Provenance
from modeldoc.errors import DerivationTooLarge
from modeldoc.options import model_options
from modeldoc.spec import DerivationStep, Hyperparam, ModelSpec
from tests.helpers.sites import markdown_pages
from tests.helpers.specs import spec_of

VIDEO = "1,4,3,32,32"


def space_time(depth: int) -> ModelSpec:
    return spec_of("tests.deep_models:make_space_time", VIDEO, kwargs={"depth": depth})


def hyper(spec: ModelSpec, path: str, name: str) -> Hyperparam:
    return next(h for h in spec.layer(path).hyperparameters if h.name == name)


def derived(spec: ModelSpec) -> list[tuple[str, Hyperparam]]:
    return [(layer.path, h) for layer in spec.all_layers for h in layer.hyperparameters if h.derivation]


def trace_size(spec: ModelSpec) -> int:
    """What the work budget is proportional to: recorded ops plus tensor axes."""
    assert spec.trace is not None
    return len(spec.trace.ops) + sum(len(t.shape) for t in spec.trace.tensors)


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"\d+", text)]


def check_chain(steps: Sequence[DerivationStep], value: int) -> None:
    """The steps end in `value`, each formula evaluates to its step's value, and each step starts from earlier values.

    Merges and joins start from sizes earlier steps produced (every operand), splits and
    window arithmetic (convolution, pooling) from one such size. A listing names a sentence
    once, so a split or an input stands for every size it names; an entry that sums up
    earlier steps carries the size they produced.
    """
    assert steps, "no steps"
    assert steps[-1].value == value, [s.text for s in steps]
    seen: list[int] = []
    for step in steps:
        results = re.findall(r"= (\d+)", step.formula)
        if results:
            assert int(results[-1]) == step.value, step
        if " earlier steps" in step.text:
            assert len(seen) == sum(" earlier steps" in s.text for s in steps[: len(seen)]), "summaries come first"
        elif " merges " in step.text or " joins " in step.text:
            operands = _numbers(step.formula.split(" = ")[0])
            assert operands and all(n in seen for n in operands), (step, seen)
        elif " splits " in step.text:
            assert _numbers(step.formula)[0] in seen, (step, seen)
            seen.extend(_numbers(step.text.rsplit(" into ", 1)[1]))
        elif step.text.startswith("the input "):
            seen.extend(_numbers(step.text.rsplit(" is ", 1)[1]))
        elif " turns " in step.text:
            assert int(re.search(r" turns (\d+) into", step.text).group(1)) in seen, (step, seen)  # type: ignore[union-attr]
        seen.append(step.value)


# --------------------------------------------------------------------------- TimeSformer-shaped, plain torch


@pytest.fixture(scope="module")
def blocks6() -> ModelSpec:
    return space_time(6)


@pytest.fixture(scope="module")
def blocks12() -> ModelSpec:
    return space_time(12)


def test_twelve_divided_blocks_describe_with_bounded_lists_and_linear_totals(
    blocks6: ModelSpec, blocks12: ModelSpec
) -> None:
    for spec in (blocks6, blocks12):
        assert spec.trace is not None and spec.trace.complete
        for path, h in derived(spec):
            assert len(h.derivation) <= MAX_SHOWN, (path, h.name)
    stored6 = sum(len(h.derivation) for _, h in derived(blocks6))
    stored12 = sum(len(h.derivation) for _, h in derived(blocks12))
    assert 0 < stored12 <= 2 * stored6
    # Every argument's steps in both models within 2 units of work per op and tensor axis: linear.
    for spec in (blocks6, blocks12):
        attach(spec, budget=2 * trace_size(spec))


def test_the_divided_blocks_arguments_are_still_derived_right(blocks12: ModelSpec) -> None:
    for path, h in derived(blocks12):
        assert not h.error, path
        check_chain(h.derivation, h.value if isinstance(h.value, int) else h.value[-1])
    mlp = hyper(blocks12, "blocks.11.mlp.2", "in_features")
    assert (mlp.value, mlp.formula) == (128, "blocks.11.mlp.0.out_features = 128")
    head = hyper(blocks12, "head", "out_features")
    assert (head.source, head.value) == ("target", 10)


def test_the_token_axis_is_one_step_list_per_block_not_one_per_path(blocks12: ModelSpec) -> None:
    """The output's token axis (1 + P·T = 65) rests on every block's split and merge, each listed once."""
    flow = Provenance(blocks12)
    assert blocks12.trace is not None
    tokens = next(op for op in blocks12.trace.ops if op.kind == "output").inputs[1]
    origin = flow.origin(tokens, 1)
    full = origin.ordered()
    check_chain(full, 65)
    assert full[-1].text == "cat joins 1 + 64 = 65"
    for block in range(12):
        # keep 1: of 65, split 64 into 4×4×4, merge 4×4, split 16, merge 4×4×4, the class token, the join
        assert sum(1 for s in full if s.where.startswith(f"blocks.{block}:")) == 7, block
    assert flow.total(origin.node) == len(full)  # type: ignore[arg-type]
    listing = flow.derivation(origin)
    assert len(listing.steps) <= MAX_SHOWN
    shown = {s.text for s in full}
    assert sum(1 for s in listing.steps if s.text in shown) + listing.omitted == len(full)
    check_chain(listing.steps, 65)


@pytest.mark.slow
def test_hugging_face_timesformer_with_12_layers_describes() -> None:
    pytest.importorskip("transformers")
    spec = spec_of("tests.deep_models:timesformer", "pixel_values:1,8,3,224,224", kwargs={"layers": 12})
    assert spec.trace is not None and spec.trace.complete and spec.trace.device == "meta"
    assert len(spec.layer("encoder").children) == 1 and len(spec.layer("encoder.layer").children) == 12
    for path, h in derived(spec):
        assert len(h.derivation) <= MAX_SHOWN, (path, h.name)
        check_chain(h.derivation, h.value if isinstance(h.value, int) else h.value[-1])
    dense = hyper(spec, "encoder.layer.11.temporal_attention.output.dense", "in_features")
    assert dense.formula == "12 × 64 = 768"
    assert [s.text for s in dense.derivation] == [
        "encoder.layer.11.temporal_attention.attention.qkv (Linear) has out_features = 2304, chosen by the designer",
        "reshape in encoder.layer.11.temporal_attention.attention splits 2304 into 3 × 12 × 64",
        "reshape in encoder.layer.11.temporal_attention.attention merges 12 × 64 into 768",
    ]
    attach(spec, budget=2 * trace_size(spec))


# --------------------------------------------------------------------------- long derivations are cut


@pytest.fixture(scope="module")
def gated() -> ModelSpec:
    return spec_of("tests.deep_models:GatedStack", "1,4,64")


def test_short_derivations_are_listed_whole(gated: ModelSpec) -> None:
    gate = hyper(gated, "gates.10", "in_features")
    assert len(gate.derivation) == 12 and gate.derivation_omitted == 0 and not gate.derivation_continues
    assert gate.derivation[0].text == "the input `x` is N × 4 × 64"
    check_chain(gate.derivation, 42)
    assert "derivation_omitted" not in gate.to_json()


def test_a_long_derivation_keeps_the_nearest_steps_and_points_to_an_earlier_argument(gated: ModelSpec) -> None:
    gate = hyper(gated, "gates.19", "in_features")
    assert len(gate.derivation) == MAX_SHOWN
    first = gate.derivation[0]
    assert first.text == "10 earlier steps give 46: see the derivation of gates.8.in_features"
    assert (first.value, first.where, first.formula) == (46, "gates.8", "")
    assert [s.where for s in gate.derivation[1:]] == [f"convs.{i}" for i in range(9, 20)]
    check_chain(gate.derivation, 24)
    assert (gate.derivation_omitted, gate.derivation_continues) == (10, "gates.8.in_features")
    assert gate.to_json()["derivation_omitted"] == 10
    assert gate.to_json()["derivation_continues"] == "gates.8.in_features"
    # The argument pointed at lists exactly the steps left out, ending in the size handed on.
    earlier = hyper(gated, "gates.8", "in_features")
    assert len(earlier.derivation) == 10 and earlier.derivation_omitted == 0
    assert earlier.derivation[-1].value == 46


def test_following_the_pointers_reaches_the_input_and_adds_up(gated: ModelSpec) -> None:
    """head.in_features = 4 × 24 rests on the input and 20 convolutions: 23 steps across the pointers."""
    h = hyper(gated, "head", "in_features")
    assert h.formula == "4 × 24 = 96" and h.derivation[-1].text == "flatten merges 4 × 24 into 96"
    flow = Provenance(gated)
    assert gated.trace is not None
    call = next(op for op in gated.trace.ops if op.name == "head")
    full = flow.origin(call.inputs[0], 1).ordered()
    assert len(full) == 23
    listed = 0
    while True:
        check_chain(h.derivation, h.value)
        listed += len(h.derivation) - (1 if h.derivation_omitted else 0)
        if not h.derivation_omitted:
            break
        path, name = h.derivation_continues.rsplit(".", 1)
        assert h.derivation[0].where == path
        h = hyper(gated, path, name)
    assert h.derivation[0].text == "the input `x` is N × 4 × 64"
    assert listed == len(full)


def test_the_page_links_the_summed_up_steps_to_where_they_are_listed(gated: ModelSpec) -> None:
    pages = markdown_pages(gated, model_options({"target": "tests.deep_models:GatedStack"}))
    text = html.unescape("\n".join(pages.values()))
    line = next(x for x in text.splitlines() if "10 earlier steps give 46" in x)
    assert line.startswith("1. 10 earlier steps give 46: see the derivation of gates.8.in_features")
    assert re.search(r"\(\[gates\.8\]\([^)]*gates-8[^)]*\)\)$", line), line


# --------------------------------------------------------------------------- the budget


def test_a_derivation_over_budget_stops_naming_the_argument(gated: ModelSpec) -> None:
    with pytest.raises(DerivationTooLarge) as caught:
        attach(gated, budget=50)
    message = str(caught.value)
    assert re.fullmatch(
        r"deriving \S+\.\w+ \(of layer \S+\) needs more than 50 units of work, the budget for a trace this size; "
        r"describe a configuration with fewer layers, and report the model to modeldoc so its derivations can be fixed",
        message,
    ), message
    where = re.match(r"deriving (\S+)\.(\w+) \(of layer (\S+)\)", message)
    assert where is not None and where.group(1) == where.group(3)
    assert where.group(2) in {h.name for h in gated.layer(where.group(3)).hyperparameters}


def test_the_cli_reports_an_exhausted_budget_in_one_line_and_writes_nothing(
    cli: Callable[..., Result], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(provenance, "MIN_WORK", 50)
    monkeypatch.setattr(provenance, "WORK_PER_ITEM", 0)
    result = cli("inspect", "tests.deep_models:GatedStack", "--input-shape", "1,4,64", "--json")
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: deriving ") and "needs more than 50 units" in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""
    monkeypatch.chdir(tmp_path)
    result = cli("build", "tests.deep_models:GatedStack", "--input-shape", "1,4,64", "--out", "site", "--no-diagrams")
    assert result.exit_code == 1 and "needs more than 50 units" in result.stderr
    assert list(tmp_path.iterdir()) == []
