"""transformers' norm and drop-path layers: each entry's base is what the class computes.

`tests/hf_norms.py` classifies every ``*RMSNorm``, ``*LayerNorm`` and ``*DropPath`` class of the
installed transformers by comparing its output on random numbers with each base's formula; the
shipped ``transformers_norms.yaml`` must be exactly what it writes now.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from modeldoc import knowledge
from tests import hf_norms

pytest.importorskip("transformers")

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_shipped_entries_are_what_the_classes_compute() -> None:
    found = hf_norms.verdicts()
    assert sum(1 for v in found if v.base) >= 250
    written = (REPO / hf_norms.FILE).read_text(encoding="utf-8")
    assert written == hf_norms.render(found), "run: python -m tests.hf_norms > " + hf_norms.FILE


@pytest.mark.parametrize(
    ("path", "base"),
    [
        ("transformers.models.llama.modeling_llama.LlamaRMSNorm", "_hf_rms_norm"),
        ("transformers.models.t5.modeling_t5.T5LayerNorm", "_hf_rms_norm"),
        ("transformers.models.deepseek_v3.modeling_deepseek_v3.DeepseekV3RMSNorm", "_hf_rms_norm"),
        ("transformers.models.gemma.modeling_gemma.GemmaRMSNorm", "_hf_rms_norm_offset"),
        ("transformers.models.cohere.modeling_cohere.CohereLayerNorm", "_hf_mean_norm"),
        ("transformers.models.convnext.modeling_convnext.ConvNextLayerNorm", "_hf_channels_layer_norm"),
        ("transformers.models.swin.modeling_swin.SwinDropPath", "_hf_drop_path"),
    ],
)
def test_a_class_is_matched_by_the_formula_it_computes(path: str, base: str) -> None:
    module, _, name = path.rpartition(".")
    cls = getattr(__import__(module, fromlist=[name]), name)
    assert hf_norms.classify(path, cls).base == base


def test_gemma_scales_by_one_plus_its_weight_and_the_page_says_so() -> None:
    from transformers.models.gemma.modeling_gemma import GemmaRMSNorm
    from transformers.models.llama.modeling_llama import LlamaRMSNorm

    x = torch.randn(2, 3, 6)
    gemma, llama = GemmaRMSNorm(6), LlamaRMSNorm(6)
    with torch.no_grad():
        gemma.weight.zero_()  # weight 0: a scale of 1 + 0
        llama.weight.zero_()  # weight 0: everything multiplied by 0
    rms = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
    assert torch.allclose(gemma(x), rms, atol=1e-5)
    assert torch.equal(llama(x), torch.zeros_like(x))
    table = knowledge.shipped()
    assert "(1 + γ)" in table.entries["transformers.models.gemma.modeling_gemma.GemmaRMSNorm"].summary
    assert "(1 + γ)" not in table.entries["transformers.models.llama.modeling_llama.LlamaRMSNorm"].summary
