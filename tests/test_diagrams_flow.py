"""The data-flow diagram: the traced forward pass as steps, clusters and sized edges."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import replace
from typing import Any

import pytest
from torch import nn

from modeldoc import diagrams
from modeldoc.diagrams.model import Box, Cluster, Edge, FlowGraph, Rank
from modeldoc.examples.fashion import Network
from modeldoc.spec import BoundaryTensor, OpSpec, TensorInfo, TraceSpec
from tests import models
from tests.helpers.diagrams import SVG, edges, href, label_of, nodes, svg_tree, titled
from tests.helpers.specs import spec_of
from tests.helpers.traces import TraceBuilder, fashion_trace, stack_spec, stack_trace, static


def test_flow_of_the_tutorial_cnn(golden: Any) -> None:
    dot = diagrams.flow_dot(replace(static(Network()), trace=fashion_trace()), "", 2, href)
    golden.check("fashion_flow.dot", dot)
    assert edges(dot) == [
        ("t", "conv1", "N × 1 × 28 × 28"),
        ("conv1", "relu", "N × 6 × 24 × 24"),
        ("relu", "max_pool2d", "N × 6 × 24 × 24"),
        ("max_pool2d", "conv2", "N × 6 × 12 × 12"),
        ("conv2", "relu", "N × 12 × 8 × 8"),
        ("relu", "max_pool2d", "N × 12 × 8 × 8"),
        ("max_pool2d", "reshape", "N × 12 × 4 × 4"),
        ("reshape", "fc1", "N × 192"),
        ("fc1", "relu", "N × 120"),
        ("relu", "fc2", "N × 120"),
        ("fc2", "relu", "N × 60"),
        ("relu", "out", "N × 60"),
        ("out", "output", "N × 10"),
    ]
    assert "Conv2d 1→6, 5×5" in titled(dot, "conv1")
    assert 'class="modeldoc-op"' in titled(dot, "reshape")
    assert 'class="modeldoc-io modeldoc-input"' in titled(dot, "t")


def test_flow_clusters_containers_and_collapses_below_depth(golden: Any) -> None:
    spec = stack_spec()
    deep = diagrams.flow_dot(spec, "", 4, href)
    assert "subgraph cluster_" in deep
    assert '<B>blocks.0.attn</B><BR/><FONT POINT-SIZE="9">Attn</FONT>' in deep  # a cluster label
    assert ("blocks.0.attn.qkv", "split", "N × L × 48") in edges(deep)
    assert ("split", "scaled_dot_product_attention", "N × L × 16 (×3)") in edges(deep)
    assert ("ids", "embed", "N × L · int64") in edges(deep)

    shallow = diagrams.flow_dot(spec, "", 1, href)
    golden.check("stack_flow_depth1.dot", shallow)
    assert edges(shallow) == [
        ("ids", "embed", "N × L · int64"),
        ("embed", "blocks", "N × L × 16"),
        ("blocks", "head", "N × L × 16"),
        ("head", "output", "N × L × 100"),
    ]
    blocks = titled(shallow, "blocks")
    assert 'class="modeldoc-block"' in blocks
    assert "ModuleList · 6 × Block" in blocks
    assert 'URL="#blocks"' in blocks


def test_flow_of_a_submodule_shows_where_data_comes_from_and_goes() -> None:
    dot = diagrams.flow_dot(stack_spec(), "blocks.2", 2, href)
    assert ("from blocks.1", "norm", "N × L × 16") in edges(dot)
    assert ("from blocks.1", "add", "N × L × 16") in edges(dot)
    assert ("add", "to blocks.3", "N × L × 16") in edges(dot)
    assert 'URL="#blocks.1"' in titled(dot, "from blocks.1")
    assert "embed" not in dot
    assert "<B>output</B>" not in dot  # the model output is made outside this block
    last = diagrams.flow_dot(stack_spec(), "head", 1, href)
    assert ("head", "output", "N × L × 100") in edges(last)


def test_flow_of_a_submodule_draws_a_shared_side_input_once() -> None:
    spec = replace(static(models.Stack()), trace=stack_trace(side=True))
    dot = diagrams.flow_dot(spec, "blocks.2", 2, href)
    outside = sorted(label_of(s) for s in nodes(dot).values() if "modeldoc-io" in s)
    assert [re.search(r"<B>(.*?)</B>", o).group(1) for o in outside] == [  # type: ignore[union-attr]
        "from blocks.1",
        "from rotary",
        "to blocks.3",
    ]
    assert ("from rotary", "scaled_dot_product_attention", "L × 16") in edges(dot)


def test_flow_draws_each_call_of_a_shared_module() -> None:
    b = TraceBuilder()
    x = b.module("block", b.input("x", ("N", 8)), out=("N", 8))
    x = b.module("block", b.function("relu", x, out=("N", 8)), out=("N", 8))
    b.output(b.module("out", x, out=("N", 2)))
    dot = diagrams.flow_dot(replace(static(models.SharedBlock()), trace=b.trace()), "", 2, href)
    calls = [s for s in nodes(dot).values() if "<B>block</B>" in s]
    assert len(calls) == 2
    assert "call 1 of 2" in calls[0]
    assert "call 2 of 2" in calls[1]
    assert all('URL="#block"' in s for s in calls)
    assert [e[:2] for e in edges(dot)] == [
        ("x", "block"),
        ("block", "relu"),
        ("relu", "block"),
        ("block", "out"),
        ("out", "output"),
    ]
    svg = svg_tree(dot)  # laid out as a chain, not a cycle
    ids = [g.get("id") for g in svg.iter(f"{SVG}g") if "modeldoc-layer" in (g.get("class") or "")]
    assert ids == ["flow-layer-block", "flow-layer-block-2", "flow-layer-out"]


def test_flow_draws_branches_and_concatenation() -> None:
    b = TraceBuilder()
    x = b.input("x", ("N", 6))
    left = b.module("branches.left", x, out=("N", 4))
    right = b.module("branches.right", x, out=("N", 5))
    joined = b.function("cat", left, right, out=("N", 9), args="dim=-1")
    b.output(b.module("merge", joined, out=("N", 2)))
    spec = replace(static(models.Branches()), trace=b.trace())
    dot = diagrams.flow_dot(spec, "", 2, href)
    assert sorted(edges(dot)) == sorted(
        [
            ("x", "branches.left", "N × 6"),
            ("x", "branches.right", "N × 6"),
            ("branches.left", "cat", "N × 4"),
            ("branches.right", "cat", "N × 5"),
            ("cat", "merge", "N × 9"),
            ("merge", "output", "N × 2"),
        ]
    )
    assert 'id="flow-cluster-layer-branches"' in dot
    collapsed = diagrams.flow_dot(spec, "", 1, href)
    assert ("x", "branches", "N × 6") in edges(collapsed)
    assert ("branches", "cat", "N × 4") in edges(collapsed)
    assert ("branches", "cat", "N × 5") in edges(collapsed)


def test_flow_of_a_partial_trace_marks_the_failure(golden: Any) -> None:
    b = TraceBuilder()
    x = b.module("conv", b.input("x", ("N", 1, 28, 28)), out=("N", 12, 24, 24))
    x = b.function("max_pool2d", x, out=("N", 12, 12, 12), args="2")
    b.function("flatten", x, out=("N", 1728), args="1")
    error = "fc1 expects 100 input features but receives 1728; check the input shape"
    spec = replace(static(models.Broken()), trace=b.trace(complete=False, error=error, failed_in="fc1"))
    dot = diagrams.flow_dot(spec, "", 2, href)
    golden.check("broken_flow.dot", dot)
    failure = titled(dot, "✗ failed in fc1")
    assert 'class="modeldoc-failure"' in failure
    assert 'URL="#fc1"' in failure
    assert "receives 1728" in failure
    assert ("flatten", "✗ failed in fc1", "N × 1728") in edges(dot)
    assert "<B>output</B>" not in dot


def test_flow_marks_a_recorded_call_that_failed() -> None:
    b = TraceBuilder()
    x = b.function("flatten", b.input("x", ("N", 1, 28, 28)), out=("N", 784), args="1")
    b.module("fc1", x, out=[])
    spec = replace(static(models.Broken()), trace=b.trace(complete=False, error="shape mismatch", failed_in="fc1"))
    dot = diagrams.flow_dot(spec, "", 2, href)
    fc1 = titled(dot, "fc1")
    assert 'class="modeldoc-failure modeldoc-layer"' in fc1
    assert "shape mismatch" in fc1
    assert "✗" not in dot


def test_flow_takes_inputs_without_an_op_and_leaves_parameters_out() -> None:
    tensors = (
        TensorInfo(id=0, shape=(2, 4), dims=("N", 4), dtype="float32", producer=None, name="x"),
        TensorInfo(id=1, shape=(3, 4), dims=(3, 4), dtype="float32", producer=None, name="fc.weight"),
        TensorInfo(id=2, shape=(2, 3), dims=("N", 3), dtype="float32", producer=0),
    )
    ops = (
        OpSpec(
            index=0,
            kind="function",
            name="linear",
            target="torch.nn.functional.linear",
            scope="",
            inputs=(0, 1),
            outputs=(2,),
        ),
    )
    spec = replace(
        static(nn.Linear(4, 3)),
        inputs=(BoundaryTensor(name="x", shape=(2, 4), dtype="float32"),),
        trace=TraceSpec(device="meta", ops=ops, tensors=tensors),
    )
    dot = diagrams.flow_dot(spec, "", 2, href)
    assert edges(dot) == [("x", "linear", "N × 4")]
    assert 'id="flow-input-x"' in dot


def test_flow_without_a_trace_is_empty() -> None:
    assert diagrams.flow_dot(static(Network()), "", 2, href) == ""


def test_flow_draws_big_graphs_a_level_shallower() -> None:
    b = TraceBuilder()
    x = b.input("x", ("N", 8))
    for i in range(40):  # no two neighbours alike, so nothing folds
        p = f"{i}"
        y = b.module(f"{p}.0", x, out=("N", 8))
        y = b.function("relu" if i % 2 else "tanh", y, out=("N", 8), scope=p)
        x = b.module(f"{p}.2", y, out=("N", 8))
    b.output(x)
    spec = replace(
        static(nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)) for _ in range(40)])),
        trace=b.trace(),
    )
    dot = diagrams.flow_dot(spec, "", 2, href)
    assert len(nodes(dot)) <= diagrams.MAX_FLOW_NODES
    assert "<B>0.0</B>" not in dot


def test_real_trace_of_the_tutorial_cnn_matches_the_hand_built_one() -> None:
    real = diagrams.flow_dot(spec_of("modeldoc.examples.fashion:Network", "1,1,28,28"), "", 2, href)
    hand = diagrams.flow_dot(replace(static(Network()), trace=fashion_trace()), "", 2, href)
    assert edges(real) == edges(hand)
    pools = [stmt for stmt in nodes(real).values() if "<B>max_pool2d</B>" in stmt]
    assert all("kernel_size=2, stride=2" in label_of(stmt) for stmt in pools)
    relus = [stmt for stmt in nodes(real).values() if "<B>relu</B>" in stmt]
    assert all("inplace" not in label_of(stmt) for stmt in relus)  # switched-off flags stay out of the box


def test_real_trace_of_gpt2_clusters_and_collapses_blocks() -> None:
    spec = spec_of("tests.models:tiny_gpt2", "input_ids:N=1,L=8", input_dtype="long")
    dot = diagrams.flow_dot(spec, "", 2, href)
    assert '<B>transformer</B><BR/><FONT POINT-SIZE="9">GPT2Model</FONT>' in dot
    h = titled(dot, "transformer.h")
    assert "ModuleList · 2 × GPT2Block" in h
    assert 'class="modeldoc-block"' in h
    assert ("transformer.wte", "add", "N × L × 32") in edges(dot)
    assert ("transformer.h", "transformer.ln_f", "N × L × 32") in edges(dot)
    assert edges(dot)[-1] == ("lm_head", "output", "N × L × 100")
    assert "device" not in label_of(titled(dot, "arange"))  # the meta device of the probe is no part of the model
    assert diagrams.flow_blocks(spec, "", 2) == ("transformer.h",)

    blocks = diagrams.flow_dot(spec, "transformer.h", 2, href)
    assert ("from transformer.drop", "0.ln_1", "N × L × 32") in edges(blocks)
    assert ("add", "to transformer.ln_f", "N × L × 32") in edges(blocks)
    assert "GPT2Attention · +4 more" in titled(blocks, "0.attn")
    attn = diagrams.flow_dot(spec, "transformer.h.0.attn", 2, href)
    assert "scaled_dot_product_attention" in attn
    assert "<B>c_attn</B>" in attn
    svg_tree(blocks)
    svg_tree(attn)


def test_real_trace_of_a_shared_module_and_of_branches() -> None:
    shared = diagrams.flow_dot(spec_of("tests.models:SharedBlock", "1,8"), "", 2, href)
    assert [e[:2] for e in edges(shared)] == [
        ("x", "block"),
        ("block", "relu"),
        ("relu", "block"),
        ("block", "out"),
        ("out", "output"),
    ]
    branches = diagrams.flow_dot(spec_of("tests.models:Branches", "1,6"), "", 2, href)
    assert ("branches.left", "cat", "N × 4") in edges(branches)
    assert ("branches.right", "cat", "N × 5") in edges(branches)
    lstm = diagrams.flow_dot(spec_of("tests.models:TextLSTM", "1,5", input_dtype="long"), "", 2, href)
    assert ("embed", "lstm", "N × 5 × 12") in edges(lstm)
    assert ("lstm", "getitem", "N × 5 × 20") in edges(lstm)


def test_real_partial_trace_marks_the_layer_that_failed() -> None:
    spec = spec_of("tests.models:Broken", "1,1,28,28")
    assert spec.trace is not None and not spec.trace.complete
    dot = diagrams.flow_dot(spec, "", 2, href)
    fc1 = titled(dot, "fc1")
    assert 'class="modeldoc-failure modeldoc-layer"' in fc1
    assert "1728" in fc1
    assert ("flatten", "fc1", "N × 1728") in edges(dot)
    assert "<B>output</B>" not in dot
    svg_tree(dot)


def test_real_trace_of_hostile_names_reaches_the_svg_as_text() -> None:
    spec = spec_of("tests.models:Hostile", "1,4")
    svg = svg_tree(diagrams.flow_dot(spec, "", 2, href))
    texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert "blocks.<img src=x onerror=alert(1)>" in texts
    assert "blocks.a|b`c" in texts
    assert not [el for el in svg.iter() if el.tag.removeprefix(SVG) in ("img", "script")]


def test_the_flow_graph_is_frozen_plain_data_that_names_its_collapsed_blocks() -> None:
    spec = stack_spec()
    graph = diagrams.flow_graph(spec, "", 1)
    assert isinstance(graph, FlowGraph)
    assert [s.title for s in sorted(graph.steps, key=lambda s: s.order)] == ["ids", "embed", "blocks", "head", "output"]
    assert graph.blocks == ("blocks",) == diagrams.flow_blocks(spec, "", 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        graph.steps[0].title = "changed"  # type: ignore[misc]
    assert diagrams.flow_graph(static(Network()), "", 2) is None


def test_the_flow_drawing_puts_inputs_first_outputs_last_and_edges_after_the_boxes() -> None:
    graph = diagrams.flow_graph(stack_spec(), "", 3)
    assert graph is not None
    drawing = diagrams.draw_flow(graph)
    kinds = [type(s) for s in drawing.statements]
    assert kinds.index(Edge) > max(i for i, k in enumerate(kinds) if k in (Box, Cluster, Rank))
    ranks = {s.side: s.keys for s in drawing.statements if isinstance(s, Rank)}
    titles = {s.key: s.title for s in graph.steps}
    assert [titles[k] for k in ranks["min"]] == ["ids"]
    assert [titles[k] for k in ranks["max"]] == ["output"]
    [blocks] = [s for s in drawing.statements if isinstance(s, Cluster)]
    assert blocks.title == "blocks"
    assert blocks.lines == ("ModuleList",)
    inside = [(type(s).__name__, s.title) for s in blocks.statements if isinstance(s, Box | Cluster)]
    assert inside == [("Cluster", "blocks.0"), ("Box", "blocks.1 … blocks.4"), ("Cluster", "blocks.5")]
