"""modeldoc.probe.values: values on the meta device, computed from the example inputs or assumed and recorded."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import torch

from modeldoc.options import model_options
from modeldoc.pages import render
from modeldoc.probe import values
from modeldoc.spec import Assumption
from tests import probe_models
from tests.helpers.specs import marked_line, spec_of

WHY = "it depends on the weights, which the meta device does not hold"


def branch(marker: str) -> tuple[str, str]:
    """(``tests/probe_models.py:LINE``, the source line) of the line marked ``# branch: <marker>``."""
    return marked_line(probe_models, f"# branch: {marker}")


def assumption(marker: str, question: str, assumed: str) -> Assumption:
    where, code = branch(marker)
    return Assumption(where=where, code=code, question=question, assumed=assumed, why=WHY)


def test_a_branch_on_the_weights_is_assumed_with_the_line_that_asked() -> None:
    spec = spec_of("tests.probe_models:meta_weight_gate", "2,4", probe_memory=0)
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.materialised) == ("meta", True, False)
    assert spec.trace.assumptions == (assumption("weights", "the truth value of a tensor", "True"),)
    assert spec.layer("out").input_dims == (("N", 4),)  # the branch taken: relu, then out
    assert spec.trace.note == (
        "the meta-device pass had to assume 1 value that depends on the weights, and no real pass ran: its "
        "weights take 120 B, more than the probe's memory budget of 0 B (raise it with --probe-memory to run a "
        "real pass on a materialised copy)"
    )
    assert spec.to_json()["trace"]["assumptions"] == [
        {
            "where": branch("weights")[0],
            "code": "if self.fc.weight.sum() > -1e9:  # branch: weights",
            "question": "the truth value of a tensor",
            "assumed": "True",
            "why": WHY,
            "count": 1,
        }
    ]


def test_every_kind_of_value_question_is_answered_on_the_common_path_and_recorded() -> None:
    spec = spec_of("tests.probe_models:meta_every_question", "2,4", probe_memory=0)
    assert spec.trace is not None and spec.trace.complete and spec.trace.device == "meta"
    assert spec.trace.assumptions == (
        assumption("nonzero", "which elements of a 3 × 4 tensor are non-zero (torch.nonzero)", "all of them"),
        assumption("mask", "which elements a boolean index selects (tensor[mask])", "all of them"),
        assumption("unique", "the distinct values of a 3 × 4 tensor (torch.unique)", "every value is distinct"),
        assumption("isinf", "which values are infinite (torch.isinf)", "none"),
        assumption("item", "the value of a one-element tensor (Tensor.item())", "1"),
        assumption("tolist", "the values of a 4-element tensor (Tensor.tolist())", "every value is 1"),
        assumption("contains", "whether a tensor contains a value (`in`)", "True"),
        assumption("format", "the value of a one-element tensor (its use in a formatted string)", "1"),
    )
    # the shapes follow the answers: all 12 elements kept, 1 + 4 from item() and tolist()
    assert [o.dims for o in spec.outputs] == [("N", 3), (12, 2), (12,), (12,), (5,)]


def test_a_branch_on_the_example_inputs_is_computed_not_assumed() -> None:
    """Token ids of ones hold no padding: the meta pass sees that, as a real pass would, and assumes nothing."""
    spec = spec_of("tests.probe_models:meta_padding_check", "1,L=6", input_dtype="long")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.assumptions) == ("meta", True, ())
    assert spec.trace.note == ""
    assert spec.output_dims == (("N", "L", 4),)


def test_a_value_read_from_a_real_models_buffer_is_computed_on_meta_not_assumed() -> None:
    """The buffer's real values are the shadows of its meta stand-in: no value is assumed, and no real pass runs."""
    spec = spec_of("tests.probe_models:BufferCount", "2,6")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.assumptions) == ("meta", True, ())
    assert spec.trace.note == ""
    assert spec.output_dims == (("N", 3),)  # 1 + 0 + 2 features kept


def test_a_real_model_with_a_branch_on_its_weights_is_traced_for_real() -> None:
    spec = spec_of("tests.probe_models:WeightGate", "2,4")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.assumptions) == ("cpu", True, ())
    assert spec.trace.note == (
        "the meta-device pass had to assume 1 value that depends on the weights, so this trace comes from a "
        "real pass on cpu with the model's weights"
    )


def test_the_page_lists_each_assumption_with_its_file_and_line() -> None:
    spec = spec_of("tests.probe_models:meta_weight_gate", "2,4", probe_memory=0)
    options = model_options({"target": "tests.probe_models:meta_weight_gate", "input_shape": "2,4"})
    page = render.render_pages(spec, render.RenderSettings(options=options, diagrams=False), render.make_env())
    text = html.unescape(page["index.md"])
    where, _ = branch("weights")
    assert '!!! warning "Values the probe assumed"' in text
    assert (
        f"    - at <code>{where}</code> (<code>if self.fc.weight.sum() > -1e9:  # branch: weights</code>): "
        "the truth value of a tensor, assumed True\n"
    ) in text


def test_shadows_follow_factories_views_and_in_place_updates() -> None:
    known = values.Values()
    ids = torch.empty(1, 5, dtype=torch.long, device="meta")
    known.know(ids, torch.tensor([[1, 1, 0, 1, 1]]))

    def call(func: object, *args: object, **kwargs: object) -> object:
        return known.call(func, args, kwargs, lambda: func(*args, **kwargs))  # type: ignore[operator]

    with torch.device("meta"):
        mask = call(torch.Tensor.__eq__, ids, 0)
        assert call(torch.Tensor.__bool__, call(torch.Tensor.any, mask)) is True  # computed: there is padding
        positions = call(torch.arange, 5)
        assert positions.is_meta and known.shadow(positions).tolist() == [0, 1, 2, 3, 4]
        view = call(torch.Tensor.__getitem__, positions, slice(1, 3))
        assert known.shadow(view).tolist() == [1, 2]
        weight = torch.empty(5, dtype=torch.long, device="meta")  # no shadow: like a weight
        call(torch.Tensor.add_, positions, weight)  # an update from unknown values
        assert known.shadow(positions) is None and known.shadow(view) is None
    assert known.assumed == []


def test_the_line_that_asked_is_the_first_frame_outside_torch_and_modeldoc() -> None:
    assert values.short_path(str(Path(probe_models.__file__))) == "tests/probe_models.py"
    assert values.short_path(torch.__file__).startswith("torch/")


# --------------------------------------------------------------------------- Hugging Face models that stopped part-way


SWITCH = "transformers/models/switch_transformers/modeling_switch_transformers.py"


def _source_line(relative: str, code: str) -> str:
    """``relative:LINE`` of the line of the installed file that holds `code`."""
    import transformers

    path = Path(transformers.__file__).parent.parent / relative
    lines = path.read_text(encoding="utf-8").splitlines()
    return f"{relative}:{next(n for n, line in enumerate(lines, 1) if code in line)}"


def test_a_seq2seq_model_checking_its_inputs_for_padding_completes_on_meta_without_assuming() -> None:
    """BART's decoder inputs are input_ids shifted right, checked on values: computed from the example."""
    pytest.importorskip("transformers")
    spec = spec_of("tests.probe_models:meta_bart", "1,L=8", input_dtype="long")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.assumptions, spec.probe_error) == ("meta", True, (), "")
    assert spec.output_dims[0] == ("N", "L", 32)


def test_mixture_of_experts_routing_is_assumed_with_the_routers_lines_when_no_real_pass_may_run() -> None:
    pytest.importorskip("transformers")
    target = "tests.probe_models:meta_switch"
    spec = spec_of(target, "1,L=8", input_dtype="long", probe_memory=0)
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.probe_error) == ("meta", True, "")
    hit = "expert_hit = torch.greater(expert_mask.sum(dim=(-1, -2)), 0).nonzero()"
    tokens = "idx, top_x = torch.where(expert_mask[expert_idx].squeeze(0))"
    # 2 + 2 sparse layers; each routes its 8 tokens, and every expert is taken to get some of them
    assert [(a.where, a.code, a.question, a.assumed, a.count) for a in spec.trace.assumptions] == [
        (
            _source_line(SWITCH, hit),
            hit,
            "which elements of a 4-element tensor are non-zero (torch.nonzero)",
            "all of them",
            4,
        ),
        (
            _source_line(SWITCH, tokens),
            tokens,
            "which elements of a 1 × 8 tensor are non-zero (torch.where)",
            "all of them",
            16,
        ),
    ]
    assert spec.output_dims[0] == ("N", "L", 32)
    options = model_options({"target": target, "input_shape": "1,8", "input_dtype": "long", "probe_memory": 0})
    page = render.render_pages(spec, render.RenderSettings(options=options, diagrams=False), render.make_env())
    text = html.unescape(page["index.md"])
    assert f"    - at <code>{_source_line(SWITCH, hit)}</code> (<code>{hit}</code>): which elements" in text
    assert "assumed all of them (16 times)" in text


def test_mixture_of_experts_routing_runs_for_real_on_a_materialised_copy_when_it_fits() -> None:
    pytest.importorskip("transformers")
    spec = spec_of("tests.probe_models:meta_switch", "1,L=8", input_dtype="long")
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.trace.materialised, spec.trace.assumptions) == (
        "cpu",
        True,
        True,
        (),
    )
    assert spec.trace.note.startswith("the meta-device pass had to assume 20 values that depend on the weights, so ")
    assert [m.name for m in spec.trace.made_up][:1] == ["decoder_input_ids"]
