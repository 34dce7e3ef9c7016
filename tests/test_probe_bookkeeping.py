"""The recorder's bookkeeping runs with torch's function modes off (`modeldoc.probe.ops.bookkeeping`).

On the meta device the pass runs inside ``torch.device("meta")``, a function mode; the
recorder's own reads of shapes and strides no longer go through it, while the model's calls
still do (`with_modes`). Each model here is described with the switch off and on, and the two
JSON descriptions must be equal byte for byte; one test counts the calls the device's mode
sees, so the comparison is not of two identical runs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils import _device

from modeldoc.probe import ops
from tests.helpers.specs import describe_live, spec_of


def both(describe: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The JSON description with the bookkeeping's modes on (as before), then off."""
    texts = []
    for quiet in (False, True):
        monkeypatch.setattr(ops, "QUIET_BOOKKEEPING", quiet)
        texts.append(json.dumps(describe().to_json(), sort_keys=True))
    return texts[0], texts[1]


def assert_same(before: str, after: str) -> None:
    if before != after:
        at = next(i for i, (a, b) in enumerate(zip(before, after, strict=False)) if a != b)
        raise AssertionError(
            f"the descriptions differ at {at}:\n{before[at - 200 : at + 200]}\n---\n{after[at - 200 : at + 200]}"
        )


class MadeInside(nn.Module):
    """Makes tensors with no device named (they follow the pass's device) and asks values of them."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.attn = nn.MultiheadAttention(16, 4, batch_first=True)  # its forward is Python that makes masks
        self.head = nn.Linear(16, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        positions = torch.arange(length)  # no device: the pass's
        x = self.embed(ids) + torch.zeros(length, 16) * positions[:, None]
        mask = torch.triu(torch.ones(length, length, dtype=torch.bool), diagonal=1)
        x, _ = self.attn(x, x, x, attn_mask=mask, need_weights=False)
        keep = int(positions[-1].item()) + 1  # a value handed to Python: computed beside the pass
        return self.head(x[:, :keep].mean(dim=1))


LLAMA = {
    "hidden_size": 32,
    "intermediate_size": 48,
    "num_hidden_layers": 3,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "vocab_size": 64,
}


@pytest.mark.parametrize("device", ["meta", "cpu"])
def test_a_model_that_makes_tensors_and_reads_values_is_described_the_same(
    device: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    model = MadeInside().eval()
    plain, quiet = both(lambda: describe_live(model, "ids:1,L=6", input_dtype="long", probe_device=device), monkeypatch)
    assert_same(plain, quiet)
    spec = json.loads(quiet)
    assert spec["trace"]["complete"]
    assert spec["output_dims"] == [["N", 3]]
    assert not spec["trace"].get("assumptions")  # the item() was computed beside the pass, not assumed


@pytest.mark.parametrize(
    ("target", "config"),
    [
        pytest.param("transformers:LlamaConfig", LLAMA, id="llama"),
        pytest.param("transformers:GPT2Config", {"n_embd": 32, "n_layer": 3, "n_head": 4, "vocab_size": 64}, id="gpt2"),
        pytest.param(
            "transformers:MixtralConfig",
            {**LLAMA, "num_local_experts": 4, "num_experts_per_tok": 2, "probe_memory": 0},
            id="mixtral-on-meta",
        ),
    ],
)
def test_a_transformers_model_is_described_the_same(
    target: str, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    config = dict(config)
    entry = {"probe_memory": config.pop("probe_memory")} if "probe_memory" in config else {}
    plain, quiet = both(
        lambda: spec_of(target, "input_ids:1,L=8", input_dtype="long", kwargs=config, **entry), monkeypatch
    )
    assert_same(plain, quiet)
    assert json.loads(quiet)["trace"]["complete"]


def test_the_bookkeeping_no_longer_goes_through_the_devices_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """The device's mode sees the model's calls only: far fewer calls with the switch on."""
    seen = {"calls": 0}
    real = _device.DeviceContext.__torch_function__

    def counted(self: Any, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        seen["calls"] += 1
        return real(self, func, types, args, kwargs)

    monkeypatch.setattr(_device.DeviceContext, "__torch_function__", counted)
    model = MadeInside().eval()
    counts = []
    for quiet in (False, True):
        monkeypatch.setattr(ops, "QUIET_BOOKKEEPING", quiet)
        seen["calls"] = 0
        describe_live(model, "ids:1,L=6", input_dtype="long", probe_device="meta")
        counts.append(seen["calls"])
    loud, quiet_count = counts
    assert quiet_count > 0  # the model's own calls still reach it (its tensors are made on meta)
    assert quiet_count * 2 < loud
