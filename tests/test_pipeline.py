"""pipeline: the collection step for one model (the probe, then the knowledge and the derivations)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from typing import Any

from modeldoc import pipeline
from modeldoc.options import model_options
from modeldoc.probe.collect import collect
from modeldoc.probe.loader import load_model
from tests.helpers import GOLDEN, TESTS
from tests.helpers.specs import hyper

TINY = {"target": "tests.models:Tiny", "input_shape": [2, 4]}


def test_a_target_is_loaded_probed_and_interpreted_and_its_file_named() -> None:
    spec, source = pipeline.describe_with_source(model_options(TINY))
    assert source == (TESTS / "models.py").resolve()
    fc1 = hyper(spec, "fc1", "in_features")
    assert (fc1.kind, fc1.source, fc1.formula) == ("data-dependent", "input", "x.shape[1] = 4")
    assert spec.layer("fc1").summary.startswith("A fully connected layer")


def test_interpret_adds_the_knowledge_and_the_derivations_to_the_raw_spec() -> None:
    options = model_options(TINY)
    raw = collect(load_model("tests.models:Tiny", {}).module, options)
    assert raw.layer("fc1").summary == ""
    assert [(h.kind, h.formula) for h in raw.layer("fc1").hyperparameters[:1]] == [("hyperparameter", "")]
    interpreted = pipeline.interpret(raw)
    assert interpreted.layer("fc1").summary.startswith("A fully connected layer")
    assert hyper(interpreted, "fc1", "in_features").formula == "x.shape[1] = 4"
    assert interpreted == pipeline.describe(options)  # describe is exactly this


def test_a_saved_description_is_read_back_with_the_title_asked_for(tmp_path) -> None:
    saved = tmp_path / "fashion.json"
    shutil.copy(GOLDEN / "fashion.json", saved)
    spec, source = pipeline.describe_with_source(model_options({"target": str(saved), "title": "Read back"}))
    assert source == saved and spec.title == "Read back"
    assert spec.total_params == 32998
    again = pipeline.describe(model_options({"target": str(saved)}))
    assert again.title == "Fashion-MNIST CNN" and replace(again, title="Read back") == spec


def test_describing_hands_the_garbage_collector_back_as_it_was() -> None:
    import gc

    assert gc.isenabled() and gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    spec = pipeline.describe(model_options(TINY))
    assert spec.layers  # described, with the objects that existed before frozen meanwhile
    assert gc.isenabled() and gc.get_freeze_count() == 0  # and every one of them handed back
    assert gc.get_threshold() == thresholds  # the full runs, put off meanwhile, are due again as they were
    gc.freeze()  # a process that freezes objects itself keeps them frozen, however many there are
    try:
        frozen = gc.get_freeze_count()
        pipeline.describe(model_options(TINY))
        # still frozen (unfreezing would empty it; a few frozen objects may be freed meanwhile)
        assert gc.get_freeze_count() > 0.9 * frozen
    finally:
        gc.unfreeze()


def test_the_collectors_runs_wait_while_the_description_is_made() -> None:
    import gc

    import torch
    from torch import nn

    from tests.helpers.specs import describe_live

    seen: list[tuple[int, int, int]] = []

    class Watching(nn.Linear):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            seen.append(gc.get_threshold())
            return super().forward(x)

    thresholds = gc.get_threshold()
    describe_live(Watching(4, 2), "N=1,4")
    # the young objects are collected less often, the full runs not at all
    during = (max(thresholds[0], pipeline._YOUNG_RUN), thresholds[1])
    assert seen and all(t[:2] == during and t[2] > 10**8 for t in seen)
    assert gc.get_threshold() == thresholds


def test_a_failed_pass_on_real_values_lets_its_tensors_go_before_describing_goes_on(monkeypatch: Any) -> None:
    """Its traceback holds the model's frames in a garbage cycle: freed after the pass, not at the end."""
    import weakref

    import torch
    from torch import nn

    from modeldoc.probe import collect as collect_module
    from tests.helpers.specs import describe_live

    made: list[weakref.ref[torch.Tensor]] = []

    class FailsLate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            held = torch.zeros(256, 1024)  # a local of the frame the traceback keeps
            made.append(weakref.ref(held))
            raise RuntimeError("fails after making a tensor")

    alive_after_probe: list[bool] = []
    read_model = collect_module.read_model

    def reading(*args: Any, **kwargs: Any) -> Any:
        alive_after_probe.append(any(ref() is not None for ref in made))
        return read_model(*args, **kwargs)

    monkeypatch.setattr(collect_module, "read_model", reading)
    spec = describe_live(FailsLate(), "N=2,4", probe_device="cpu")
    assert spec.trace is not None and not spec.trace.complete
    assert made and alive_after_probe == [False]
