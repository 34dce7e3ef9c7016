"""Hugging Face transformers models built from tiny configs (no download): traced on the meta device.

GPT-2, BERT and the LLaMA-style decoder all trace on the meta device in transformers 5.x; none
needs the CPU fallback. The LLaMA built under ``torch.device("meta")`` has no real weights at
all and traces just the same.
"""

from __future__ import annotations

import pytest

from modeldoc.spec import Hyperparam, ModelSpec
from tests.helpers.specs import spec_of

pytest.importorskip("transformers")

TOKENS = {"input_dtype": "long"}


def hyper(spec: ModelSpec, path: str, name: str) -> Hyperparam:
    return next(h for h in spec.layer(path).hyperparameters if h.name == name)


@pytest.fixture(scope="module")
def gpt2() -> ModelSpec:
    return spec_of("tests.models:tiny_gpt2", "input_ids:N=1,L=8", **TOKENS)


@pytest.fixture(scope="module")
def bert() -> ModelSpec:
    return spec_of("tests.models:tiny_bert", "input_ids:N=1,L=8", **TOKENS)


@pytest.fixture(scope="module")
def llama() -> ModelSpec:
    return spec_of("tests.models:tiny_llama", "input_ids:N=1,L=8", **TOKENS)


def test_gpt2_traces_on_meta_with_batch_and_sequence_dims(gpt2: ModelSpec) -> None:
    assert gpt2.trace is not None
    assert (gpt2.trace.device, gpt2.trace.complete, gpt2.probe_error) == ("meta", True, "")
    assert [(o.name, o.dims) for o in gpt2.outputs] == [("logits", ("N", "L", 100))]
    assert gpt2.layer("transformer.h.0.attn.c_attn").output_dims == (("N", "L", 96),)
    assert gpt2.layer("transformer.wpe").input_dims == ((1, "L"),)
    attention = [op for op in gpt2.trace.ops if op.name == "scaled_dot_product_attention"]
    assert len(attention) == 2
    assert gpt2.trace.tensors[attention[0].outputs[0]].dims == ("N", 4, "L", 8)
    assert attention[0].scope == "transformer.h.0.attn"


def test_gpt2_derivations(gpt2: ModelSpec) -> None:
    head = hyper(gpt2, "lm_head", "out_features")
    assert (head.value, head.kind, head.source) == (100, "data-dependent", "target")
    width = hyper(gpt2, "lm_head", "in_features")
    assert width.formula == "transformer.wte.embedding_dim = 32"
    assert width.source == "previous-layer"
    norm = hyper(gpt2, "transformer.h.1.ln_2", "normalized_shape")
    assert norm.derivation[-1].where == "transformer.wte"
    # Conv1D is described by its knowledge entry; its input width is derived from the trace
    nx = hyper(gpt2, "transformer.h.0.mlp.c_proj", "nx")
    assert nx.formula == "transformer.h.0.mlp.c_fc.nf = 128"


def test_gpt2_costs_count_projections_and_attention(gpt2: ModelSpec) -> None:
    c_attn = gpt2.layer("transformer.h.0.attn.c_attn")
    assert c_attn.macs == 8 * 32 * 96
    attention = gpt2.layer("transformer.h.0.attn")
    scores = 4 * 8 * 8
    assert attention.macs == 8 * 32 * 96 + scores * (8 + 8) + 8 * 32 * 32
    assert gpt2.macs == gpt2.root.macs > 0


def test_bert_traces_with_two_outputs_and_derives_the_feed_forward(bert: ModelSpec) -> None:
    assert bert.trace is not None and bert.trace.complete and bert.trace.device == "meta"
    assert [(o.name, o.dims) for o in bert.outputs] == [
        ("last_hidden_state", ("N", "L", 32)),
        ("pooler_output", ("N", 32)),
    ]
    down = hyper(bert, "encoder.layer.0.output.dense", "in_features")
    assert down.formula == "encoder.layer.0.intermediate.dense.out_features = 64"
    merged = hyper(bert, "encoder.layer.0.attention.output.dense", "in_features")
    assert merged.formula == "4 × 8 = 32"
    # the pooler keeps the hidden width: chosen, not fixed by a target
    assert hyper(bert, "pooler.dense", "out_features").source == "chosen"


def test_llama_grouped_query_attention_heads_times_head_dim(llama: ModelSpec) -> None:
    assert llama.trace is not None and llama.trace.complete and llama.trace.device == "meta"
    assert llama.output_dims == (("N", "L", 100),)
    o_proj = hyper(llama, "model.layers.0.self_attn.o_proj", "in_features")
    assert o_proj.formula == "4 × 8 = 32"
    texts = [s.text for s in o_proj.derivation]
    assert "view in model.layers.0.self_attn splits 16 into 2 × 8" in texts  # key/value heads × head dim
    assert hyper(llama, "lm_head", "out_features").source == "target"
    assert (
        hyper(llama, "model.layers.0.mlp.down_proj", "in_features").formula
        == "model.layers.0.mlp.gate_proj.out_features = 64"
    )
    assert llama.layer("model.layers.0.self_attn.k_proj").output_dims == (("N", "L", 16),)


def test_llama_with_weights_on_the_meta_device_traces_the_same(llama: ModelSpec) -> None:
    meta = spec_of("tests.models:meta_llama", "input_ids:N=1,L=8", **TOKENS)
    assert meta.trace is not None and meta.trace.complete and meta.trace.device == "meta"
    assert [(op.kind, op.name) for op in meta.trace.ops] == [(op.kind, op.name) for op in llama.trace.ops]  # type: ignore[union-attr]
    assert meta.macs == llama.macs
