"""modeldoc.probe.values: indexing by a mask or a one-element tensor, and splitting by counted rows, on meta.

The meta device cannot index with a boolean mask or a one-element tensor (both need values), nor
split by sizes that came from values it assumed. Values the example inputs fix are computed (no
assumption); values the weights fix are assumed on the common path and recorded with the line.
"""

from __future__ import annotations

import pytest

from tests import routing_models
from tests.helpers.specs import marked_line, spec_of

WHY = "it depends on the weights, which the meta device does not hold"


def line(marker: str) -> tuple[str, str]:
    """(``tests/routing_models.py:LINE``, the source line) of the line marked ``# asks: <marker>``."""
    return marked_line(routing_models, f"# asks: {marker}")


def test_a_weight_picked_by_a_one_element_tensor_of_known_value_needs_no_assumption_of_its_own() -> None:
    spec = spec_of("tests.routing_models:meta_expert_table", "6,8", probe_memory=0)
    assert spec.trace is not None and (spec.trace.device, spec.trace.complete) == ("meta", True)
    # only the experts hit are assumed (all of them); the index of each is then known
    assert [a.question for a in spec.trace.assumptions] == [
        "which elements of a 4-element tensor are non-zero (torch.nonzero)"
    ]
    assert [(o.name, o.dims) for o in spec.outputs] == [("output", ("N", 8))]


def test_a_mask_the_token_ids_fix_selects_and_updates_rows_with_nothing_assumed() -> None:
    spec = spec_of("tests.routing_models:meta_token_types", "1,L=12", input_dtype="long", probe_memory=0)
    assert spec.trace is not None and (spec.trace.device, spec.trace.complete) == ("meta", True)
    assert spec.trace.assumptions == ()
    # token id 3 is not in the example (all 1): no row is audio, every one of the N·L rows is text
    assert spec.layer("audio").input_dims == ((0, 8),)
    assert spec.layer("text").input_dims == (("N·L", 8),)


def test_a_split_by_assumed_counts_shares_the_rows_evenly_and_says_so() -> None:
    spec = spec_of("tests.routing_models:meta_count_split", "6,8", probe_memory=0)
    assert spec.trace is not None and (spec.trace.device, spec.trace.complete) == ("meta", True)
    assumed = spec.to_json()["trace"]["assumptions"]
    assert [(a["where"], a["code"], a["question"], a["assumed"], a["why"]) for a in assumed] == [
        (*line("counts"), "the values of a 4-element tensor (Tensor.tolist())", "every value is 1", WHY),
        (
            *line("split"),
            "how many of 6 rows each of 4 parts takes (torch.split by sizes from values assumed before)",
            "an even share (2, 2, 1, 1)",
            WHY,
        ),
    ]
    assert [spec.layer(f"experts.{i}").input_dims for i in range(4)] == [((2, 8),), ((2, 8),), ((1, 8),), ((1, 8),)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("target", "assumed"),
    [
        ("meta_jetmoe", {"the first 2 (as if all were equal)"}),
        ("meta_higgs_audio", set()),
        ("meta_privacy_filter", {"the first 4 (as if all were equal)"}),
    ],
)
def test_transformers_models_that_index_or_split_by_values_complete_on_meta(target: str, assumed: set[str]) -> None:
    pytest.importorskip("transformers")
    spec = spec_of(f"tests.routing_models:{target}", "1,L=16", input_dtype="long", probe_memory=0)
    assert spec.trace is not None
    assert (spec.trace.device, spec.trace.complete, spec.probe_error) == ("meta", True, "")
    assert assumed <= {a.assumed for a in spec.trace.assumptions}
    assert all(a.where.startswith("transformers/models/") for a in spec.trace.assumptions)


def test_a_router_picks_the_first_k_experts_and_only_those_run() -> None:
    spec = spec_of("tests.routing_models:meta_top_two", "5,8", probe_memory=0)
    assert spec.trace is not None and (spec.trace.device, spec.trace.complete) == ("meta", True)
    assumed = spec.to_json()["trace"]["assumptions"]
    assert [(a["where"], a["code"], a["question"], a["assumed"]) for a in assumed] == [
        (
            *line("topk"),
            "which 2 of the values along axis 1 of a 5 × 8 tensor are the largest (torch.topk)",
            "the first 2 (as if all were equal)",
        )
    ]
    # every token goes to experts 0 and 1; the other six never run
    ran = [i for i in range(8) if spec.layer(f"experts.{i}").input_dims]
    assert ran == [0, 1]
    assert spec.layer("experts.0").input_dims == (("N", 8),)


def test_a_count_given_as_a_one_element_tensor_of_known_value_is_used_with_nothing_assumed() -> None:
    spec = spec_of("tests.routing_models:meta_grid_repeat", "4,8", probe_memory=0)
    assert spec.trace is not None and (spec.trace.device, spec.trace.complete) == ("meta", True)
    assert spec.trace.assumptions == ()
    # the grid's frame counts are 0 and 3: 0 · N rows, then 3 · N rows
    assert [(o.name, o.dims) for o in spec.outputs] == [("output", ("3·N", 8))]
