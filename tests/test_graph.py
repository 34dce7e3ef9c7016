"""The module-tree and data-flow diagrams: DOT text, and SVG from the real `dot` binary."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc.diagrams import graph
from modeldoc.errors import GraphvizNotFound, ModeldocError
from modeldoc.examples.fashion import Network
from modeldoc.options import ModelOptions
from modeldoc.probe.collect import collect
from modeldoc.spec import BoundaryTensor, Dim, ModelSpec, OpSpec, TensorInfo, TraceSpec
from tests import models
from tests.conftest import spec_of

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"
HOSTILE = ("<img src=x onerror=alert(1)>", 'a|b\\`c"d', "\\N\\G &amp; &lt;x&gt; '")


def href(path: str) -> str:
    return f"#{path}"


def static(module: nn.Module) -> ModelSpec:
    """The static description of `module` (no probe), to pair with a hand-built trace."""
    return collect(module, ModelOptions(target="tests"))


class TraceBuilder:
    """Builds a TraceSpec op by op, the way the tracer records a forward pass."""

    def __init__(self) -> None:
        self.ops: list[OpSpec] = []
        self.tensors: list[TensorInfo] = []

    def _op(
        self, kind: str, name: str, target: str, scope: str, inputs: tuple[int, ...], outs: list[Any], **more: Any
    ) -> Any:
        index = len(self.ops)
        outputs = tuple(self._tensor(dims, index, more.pop("dtype", "float32")) for dims in outs)
        self.ops.append(
            OpSpec(
                index=index, kind=kind, name=name, target=target, scope=scope, inputs=inputs, outputs=outputs, **more
            )
        )
        return outputs[0] if len(outputs) == 1 else outputs

    def _tensor(self, dims: tuple[Dim, ...], producer: int, dtype: str) -> int:
        shape = tuple(2 if isinstance(d, str) else d for d in dims)
        self.tensors.append(TensorInfo(id=len(self.tensors), shape=shape, dims=dims, dtype=dtype, producer=producer))
        return len(self.tensors) - 1

    def input(self, name: str, dims: tuple[Dim, ...], dtype: str = "float32") -> int:
        return self._op("input", name, "input", "", (), [dims], dtype=dtype)

    def module(self, path: str, *inputs: int, out: Any) -> Any:
        outs = out if isinstance(out, list) else [out]
        parent = path.rsplit(".", 1)[0] if "." in path else ""
        return self._op("module", path, "torch.nn.Module", parent, inputs, outs)

    def fn(self, name: str, scope: str, *inputs: int, out: Any, args: str = "") -> Any:
        outs = out if isinstance(out, list) else [out]
        return self._op("function", name, f"torch.{name}", scope, inputs, outs, args=args)

    def output(self, *inputs: int) -> None:
        self._op("output", "output", "output", "", inputs, [])

    def trace(self, *, complete: bool = True, error: str = "", failed_in: str = "") -> TraceSpec:
        return TraceSpec(
            device="meta",
            ops=tuple(self.ops),
            tensors=tuple(self.tensors),
            complete=complete,
            error=error,
            failed_in=failed_in,
        )


# --- fixture models with hand-built traces --------------------------------------------


def fashion_trace() -> TraceSpec:
    b = TraceBuilder()
    x = b.input("t", ("N", 1, 28, 28))
    for conv, size, pooled, channels in (("conv1", 24, 12, 6), ("conv2", 8, 4, 12)):
        x = b.module(conv, x, out=("N", channels, size, size))
        x = b.fn("relu", "", x, out=("N", channels, size, size))
        x = b.fn("max_pool2d", "", x, out=("N", channels, pooled, pooled), args="kernel_size=2, stride=2")
    x = b.fn("reshape", "", x, out=("N", 192), args="-1, 192")
    x = b.fn("relu", "", b.module("fc1", x, out=("N", 120)), out=("N", 120))
    x = b.fn("relu", "", b.module("fc2", x, out=("N", 60)), out=("N", 60))
    b.output(b.module("out", x, out=("N", 10)))
    return b.trace()


class Attn(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)


class Block(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(d)
        self.attn = Attn(d)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))


class Stack(nn.Module):
    """A GPT-shaped stack: embedding, identical residual blocks, a head."""

    def __init__(self, n: int = 6, d: int = 16) -> None:
        super().__init__()
        self.embed = nn.Embedding(100, d)
        self.rotary = nn.Identity()
        self.blocks = nn.ModuleList(Block(d) for _ in range(n))
        self.head = nn.Linear(d, 100)


def stack_trace(n: int = 6, *, side: bool = False) -> TraceSpec:
    """The trace of Stack; with `side`, every block also reads one tensor made before them all."""
    b = TraceBuilder()
    x = b.module("embed", b.input("ids", ("N", "L"), dtype="int64"), out=("N", "L", 16))
    angles = b.module("rotary", x, out=("L", 16)) if side else None
    for i in range(n):
        p = f"blocks.{i}"
        h = b.module(f"{p}.norm", x, out=("N", "L", 16))
        qkv = b.module(f"{p}.attn.qkv", h, out=("N", "L", 48))
        q, k, v = b.fn("split", f"{p}.attn", qkv, out=[("N", "L", 16)] * 3, args="16, dim=-1")
        qkv_in = (q, k, v) if angles is None else (q, k, v, angles)
        a = b.fn("scaled_dot_product_attention", f"{p}.attn", *qkv_in, out=("N", "L", 16))
        x = b.fn("add", p, x, b.module(f"{p}.attn.proj", a, out=("N", "L", 16)), out=("N", "L", 16))
        m = b.module(f"{p}.mlp.0", x, out=("N", "L", 64))
        m = b.module(f"{p}.mlp.2", b.module(f"{p}.mlp.1", m, out=("N", "L", 64)), out=("N", "L", 16))
        x = b.fn("add", p, x, m, out=("N", "L", 16))
    b.output(b.module("head", x, out=("N", "L", 100)))
    return b.trace()


def stack_spec(n: int = 6) -> ModelSpec:
    return replace(static(Stack(n)), trace=stack_trace(n))


def nodes(dot: str) -> dict[str, str]:
    """DOT node name to its statement."""
    return {m.group(1): m.group(0) for m in re.finditer(r"^\s*(n\d+) \[.*$", dot, re.MULTILINE)}


def edges(dot: str) -> list[tuple[str, str, str]]:
    """(tail title, head title, label) of every edge, by the bold titles of its nodes."""
    titles = {name: re.search(r"<B>(.*?)</B>", stmt).group(1) for name, stmt in nodes(dot).items()}  # type: ignore[union-attr]
    found = re.findall(r"^\s*(n\d+) -> (n\d+) \[.*?label=<(.*?)>", dot, re.MULTILINE)
    return [(titles[a], titles[b], label) for a, b, label in found]


def titled(dot: str, title: str) -> str:
    """The statement of the node whose bold title is `title`."""
    [stmt] = [s for s in nodes(dot).values() if f"<B>{title}</B>" in s]
    return stmt


def label_of(stmt: str) -> str:
    """The HTML-like label of a node statement."""
    return re.search(r"label=<(.*?)>, ", stmt).group(1)  # type: ignore[union-attr]


def svg_tree(dot: str) -> ET.Element:
    return ET.fromstring(graph.render_svg(dot))


# --- key hyperparameters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "expected"),
    [
        (nn.Conv2d(1, 6, 5), "1→6, 5×5"),
        (nn.Conv2d(3, 8, 3, stride=2, padding=1, groups=1), "3→8, 3×3, stride 2, pad 1"),
        (nn.Conv1d(8, 8, 3, padding="same", groups=8), "8→8, 3, pad same, groups 8"),
        (nn.Conv2d(3, 8, (1, 3), padding=(0, 1)), "3→8, 1×3, pad 0×1"),
        (nn.Linear(192, 120), "192→120"),
        (nn.Embedding(50257, 768), "50257 ids → 768"),
        (nn.LSTM(12, 10, num_layers=2, bidirectional=True), "12→10, 2 layers, bidirectional"),
        (nn.MultiheadAttention(16, 4), "16, 4 heads"),
        (nn.MaxPool2d(2), "2"),
        (nn.MaxPool2d(3, stride=1), "3, stride 1"),
        (nn.LayerNorm(768), "768"),
        (nn.BatchNorm2d(8), "8"),
        (nn.GroupNorm(4, 32), "32 in 4 groups"),
        (nn.AdaptiveAvgPool2d(1), "→ 1"),
        (nn.Dropout(0.1), "p=0.1"),
        (nn.ReLU(), ""),
    ],
)
def test_brief_names_the_key_hyperparameters(module: nn.Module, expected: str) -> None:
    assert graph.brief(static(module).root) == expected


# --- the module tree ------------------------------------------------------------------


def test_tree_names_path_type_and_hyperparameters(golden: Any) -> None:
    dot = graph.tree_dot(static(Network()), "", 2, href)
    golden.check("fashion_tree.dot", dot)
    assert '<B>conv1</B><BR/><FONT POINT-SIZE="9">Conv2d 1→6, 5×5</FONT>' in dot
    assert 'URL="#conv1"' in titled(dot, "conv1")
    assert "32,998 parameters" in titled(dot, "Network")


def test_tree_collapses_modules_below_depth_with_a_more_hint() -> None:
    spec = static(Stack(2))
    deep = graph.tree_dot(spec, "", 3, href)
    shallow = graph.tree_dot(spec, "", 1, href)
    assert "<B>norm</B>" in deep
    assert "<B>norm</B>" not in shallow
    blocks = titled(shallow, "blocks")
    assert "ModuleList · 2 × Block" in blocks
    assert 'class="modeldoc-block"' in blocks
    assert 'URL="#blocks"' in blocks
    assert "Attn · 2 × Linear" in titled(graph.tree_dot(spec, "blocks.0", 1, href), "attn")
    assert "Sequential · +3 more" in titled(graph.tree_dot(spec, "blocks.0", 1, href), "mlp")


class Llama(nn.Module):
    """LLaMA-shaped: 80 decoder blocks of attention, gated MLP and two norms."""

    def __init__(self, blocks: int = 80, d: int = 8) -> None:
        super().__init__()
        self.embed_tokens = nn.Embedding(32, d)
        self.layers = nn.ModuleList(LlamaBlock(d) for _ in range(blocks))
        self.norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, 32, bias=False)


class LlamaAttention(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.q_proj, self.k_proj, self.v_proj, self.o_proj = (nn.Linear(d, d, bias=False) for _ in range(4))


class LlamaMLP(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.gate_proj, self.up_proj = nn.Linear(d, 2 * d), nn.Linear(d, 2 * d)
        self.down_proj = nn.Linear(2 * d, d)
        self.act_fn = nn.SiLU()


class LlamaBlock(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.self_attn = LlamaAttention(d)
        self.mlp = LlamaMLP(d)
        self.input_layernorm, self.post_attention_layernorm = nn.LayerNorm(d), nn.LayerNorm(d)


def test_tree_of_a_1000_module_model_stays_small_and_narrow() -> None:
    with torch.device("meta"):
        spec = static(Llama())
    assert len(spec.layers) >= 1000
    for root, depth in (("", 2), ("", 4), ("layers", 2)):
        dot = graph.tree_dot(spec, root, depth, href)
        assert len(nodes(dot)) <= 30, (root, depth)
        svg = svg_tree(dot)
        assert float(svg.get("width", "0pt").removesuffix("pt")) < 900
    dot = graph.tree_dot(spec, "layers", 2, href)
    fold = titled(dot, "1 … 78")
    assert "78 more × LlamaBlock" in fold
    assert 'class="modeldoc-fold"' in fold
    assert "<B>0</B>" in dot
    assert "<B>79</B>" in dot


def test_tree_shows_the_first_children_of_a_very_wide_module() -> None:
    wide = nn.Sequential(*[nn.Linear(2, 2) if i % 2 else nn.ReLU() for i in range(40)])
    dot = graph.tree_dot(static(wide), "", 2, href)
    assert len(nodes(dot)) == graph.MAX_CHILDREN
    more = titled(dot, f"+{40 - graph.MAX_CHILDREN + 2} more")
    assert 'class="modeldoc-more"' in more


# --- the data flow --------------------------------------------------------------------


def test_flow_of_the_tutorial_cnn(golden: Any) -> None:
    dot = graph.flow_dot(replace(static(Network()), trace=fashion_trace()), "", 2, href)
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
    deep = graph.flow_dot(spec, "", 4, href)
    assert "subgraph cluster_" in deep
    assert '<B>blocks.0.attn</B><BR/><FONT POINT-SIZE="9">Attn</FONT>' in deep  # a cluster label
    assert ("blocks.0.attn.qkv", "split", "N × L × 48") in edges(deep)
    assert ("split", "scaled_dot_product_attention", "N × L × 16 (×3)") in edges(deep)
    assert ("ids", "embed", "N × L · int64") in edges(deep)

    shallow = graph.flow_dot(spec, "", 1, href)
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


def test_flow_folds_chains_of_identical_blocks(golden: Any) -> None:
    dot = graph.flow_dot(stack_spec(), "", 2, href)
    golden.check("stack_flow_depth2.dot", dot)
    assert [t for t, _, _ in edges(dot)] == ["ids", "embed", "blocks.0", "blocks.1 … blocks.4", "blocks.5", "head"]
    fold = titled(dot, "blocks.1 … blocks.4")
    assert "4 more × Block" in fold
    assert 'URL="#blocks.1"' in fold

    expanded = graph.flow_dot(stack_spec(), "blocks", 2, href)
    assert "<B>0.norm</B>" in expanded  # the first block is drawn in full, in its cluster
    assert "<B>5.norm</B>" in expanded
    assert "<B>3.norm</B>" not in expanded
    assert "<B>1 … 4</B>" in expanded


def test_flow_of_a_submodule_shows_where_data_comes_from_and_goes() -> None:
    dot = graph.flow_dot(stack_spec(), "blocks.2", 2, href)
    assert ("from blocks.1", "norm", "N × L × 16") in edges(dot)
    assert ("from blocks.1", "add", "N × L × 16") in edges(dot)
    assert ("add", "to blocks.3", "N × L × 16") in edges(dot)
    assert 'URL="#blocks.1"' in titled(dot, "from blocks.1")
    assert "embed" not in dot
    assert "<B>output</B>" not in dot  # the model output is made outside this block
    last = graph.flow_dot(stack_spec(), "head", 1, href)
    assert ("head", "output", "N × L × 100") in edges(last)


def test_flow_of_a_submodule_draws_a_shared_side_input_once() -> None:
    spec = replace(static(Stack()), trace=stack_trace(side=True))
    dot = graph.flow_dot(spec, "blocks.2", 2, href)
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
    x = b.module("block", b.fn("relu", "", x, out=("N", 8)), out=("N", 8))
    b.output(b.module("out", x, out=("N", 2)))
    dot = graph.flow_dot(replace(static(models.SharedBlock()), trace=b.trace()), "", 2, href)
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
    joined = b.fn("cat", "", left, right, out=("N", 9), args="dim=-1")
    b.output(b.module("merge", joined, out=("N", 2)))
    spec = replace(static(models.Branches()), trace=b.trace())
    dot = graph.flow_dot(spec, "", 2, href)
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
    collapsed = graph.flow_dot(spec, "", 1, href)
    assert ("x", "branches", "N × 6") in edges(collapsed)
    assert ("branches", "cat", "N × 4") in edges(collapsed)
    assert ("branches", "cat", "N × 5") in edges(collapsed)


def test_flow_of_a_partial_trace_marks_the_failure(golden: Any) -> None:
    b = TraceBuilder()
    x = b.module("conv", b.input("x", ("N", 1, 28, 28)), out=("N", 12, 24, 24))
    x = b.fn("max_pool2d", "", x, out=("N", 12, 12, 12), args="2")
    b.fn("flatten", "", x, out=("N", 1728), args="1")
    error = "fc1 expects 100 input features but receives 1728; check the input shape"
    spec = replace(static(models.Broken()), trace=b.trace(complete=False, error=error, failed_in="fc1"))
    dot = graph.flow_dot(spec, "", 2, href)
    golden.check("broken_flow.dot", dot)
    failure = titled(dot, "✗ failed in fc1")
    assert 'class="modeldoc-failure"' in failure
    assert 'URL="#fc1"' in failure
    assert "receives 1728" in failure
    assert ("flatten", "✗ failed in fc1", "N × 1728") in edges(dot)
    assert "<B>output</B>" not in dot


def test_flow_marks_a_recorded_call_that_failed() -> None:
    b = TraceBuilder()
    x = b.fn("flatten", "", b.input("x", ("N", 1, 28, 28)), out=("N", 784), args="1")
    b.module("fc1", x, out=[])
    spec = replace(static(models.Broken()), trace=b.trace(complete=False, error="shape mismatch", failed_in="fc1"))
    dot = graph.flow_dot(spec, "", 2, href)
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
    dot = graph.flow_dot(spec, "", 2, href)
    assert edges(dot) == [("x", "linear", "N × 4")]
    assert 'id="flow-input-x"' in dot


def test_flow_without_a_trace_is_empty() -> None:
    assert graph.flow_dot(static(Network()), "", 2, href) == ""


def test_flow_draws_big_graphs_a_level_shallower() -> None:
    b = TraceBuilder()
    x = b.input("x", ("N", 8))
    for i in range(40):  # no two neighbours alike, so nothing folds
        p = f"{i}"
        y = b.module(f"{p}.0", x, out=("N", 8))
        y = b.fn("relu" if i % 2 else "tanh", p, y, out=("N", 8))
        x = b.module(f"{p}.2", y, out=("N", 8))
    b.output(x)
    spec = replace(
        static(nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8)) for _ in range(40)])),
        trace=b.trace(),
    )
    dot = graph.flow_dot(spec, "", 2, href)
    assert len(nodes(dot)) <= graph.MAX_FLOW_NODES
    assert "<B>0.0</B>" not in dot


def test_dot_text_is_deterministic() -> None:
    assert graph.flow_dot(stack_spec(), "", 2, href) == graph.flow_dot(stack_spec(), "", 2, href)
    spec = static(Stack())
    assert graph.tree_dot(spec, "", 3, href) == graph.tree_dot(spec, "", 3, href)


# --- SVG from the real dot ------------------------------------------------------------


def test_svg_has_classes_ids_and_links_to_sections() -> None:
    spec = replace(static(Network()), trace=fashion_trace())
    svg = svg_tree(graph.flow_dot(spec, "", 2, lambda p: f"../page/#layer-{p}", id_prefix="m1-"))
    groups = {g.get("id"): g for g in svg.iter(f"{SVG}g")}
    assert svg.find(f"{SVG}g").get("class") == "graph modeldoc-flow"  # type: ignore[union-attr]
    conv1 = groups["m1-flow-layer-conv1"]
    assert conv1.get("class") == "node modeldoc-layer"
    assert conv1.find(f".//{SVG}a").get(f"{XLINK}href") == "../page/#layer-conv1"  # type: ignore[union-attr]
    classes = {g.get("class") for g in groups.values()}
    assert {"node modeldoc-op", "node modeldoc-io modeldoc-input", "edge modeldoc-edge"} <= classes
    labels = [t.text for t in svg.iter(f"{SVG}text")]
    assert "N × 6 × 24 × 24" in labels
    tree = svg_tree(graph.tree_dot(spec, "", 2, href, id_prefix="m1-"))
    assert {g.get("id") for g in tree.iter(f"{SVG}g")}.isdisjoint(groups)  # two diagrams on one page


def hostile_spec() -> ModelSpec:
    module = nn.Module()
    module.blocks = nn.ModuleDict({key: nn.Linear(4, 4) for key in HOSTILE})
    b = TraceBuilder()
    x = b.input('in"put\\N', ("N", "<L>"))
    for key in HOSTILE:
        x = b.module(f"blocks.{key}", x, out=("N", "<L>"))
    x = b.fn("</B>op\\G", "", x, out=("N", "<L>"), args='dim="<b>" \\ &amp;')
    b.output(x)
    return replace(static(module), trace=b.trace(complete=False, error="<script>alert(1)</script> \\N"))


@pytest.mark.parametrize("kind", ["tree", "flow"])
def test_hostile_names_reach_the_svg_as_text(kind: str) -> None:
    spec = hostile_spec()
    link = lambda p: f'#"><script>alert(1)</script>{p}'  # noqa: E731 - a hostile href callback
    dot = graph.tree_dot(spec, "", 2, link) if kind == "tree" else graph.flow_dot(spec, "", 2, link)
    svg = svg_tree(dot)  # parses: nothing broke out of an attribute or a text node
    assert {el.tag.removeprefix(SVG) for el in svg.iter()} <= {
        "svg",
        "g",
        "title",
        "text",
        "a",
        "path",
        "polygon",
        "ellipse",
    }
    texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    tips = [a.get(f"{XLINK}title") or "" for a in svg.iter(f"{SVG}a")]
    links = [a.get(f"{XLINK}href") or "" for a in svg.iter(f"{SVG}a")]
    for key in HOSTILE:
        assert key in texts
        assert any(key in tip for tip in tips)
    assert all("<" not in link and '"' not in link for link in links)
    assert "%3Cscript%3E" in links[0]
    if kind == "flow":
        assert "</B>op\\G" in texts
        assert 'dim="<b>" \\ &amp;' in texts
        assert 'in"put\\N' in texts
        assert "N × <L>" in texts
        assert any("<script>alert(1)</script> \\N" in tip for tip in tips)


def test_render_svg_without_dot_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GraphvizNotFound, match="install Graphviz"):
        graph.render_svg("digraph { a }")


def test_render_svg_reports_what_dot_rejected() -> None:
    with pytest.raises(ModeldocError, match="Graphviz failed on a diagram"):
        graph.render_svg("digraph { a -> }")


# --- real traces ----------------------------------------------------------------------


def test_real_trace_of_the_tutorial_cnn_matches_the_hand_built_one() -> None:
    real = graph.flow_dot(spec_of("modeldoc.examples.fashion:Network", "1,1,28,28"), "", 2, href)
    hand = graph.flow_dot(replace(static(Network()), trace=fashion_trace()), "", 2, href)
    assert edges(real) == edges(hand)
    pools = [stmt for stmt in nodes(real).values() if "<B>max_pool2d</B>" in stmt]
    assert all("kernel_size=2, stride=2" in label_of(stmt) for stmt in pools)
    relus = [stmt for stmt in nodes(real).values() if "<B>relu</B>" in stmt]
    assert all("inplace" not in label_of(stmt) for stmt in relus)  # switched-off flags stay out of the box


def test_real_trace_of_gpt2_clusters_and_collapses_blocks() -> None:
    spec = spec_of("tests.models:tiny_gpt2", "input_ids:N=1,L=8", input_dtype="long")
    dot = graph.flow_dot(spec, "", 2, href)
    assert '<B>transformer</B><BR/><FONT POINT-SIZE="9">GPT2Model</FONT>' in dot
    h = titled(dot, "transformer.h")
    assert "ModuleList · 2 × GPT2Block" in h
    assert 'class="modeldoc-block"' in h
    assert ("transformer.wte", "add", "N × L × 32") in edges(dot)
    assert ("transformer.h", "transformer.ln_f", "N × L × 32") in edges(dot)
    assert edges(dot)[-1] == ("lm_head", "output", "N × L × 100")
    assert "device" not in label_of(titled(dot, "arange"))  # the meta device of the probe is no part of the model
    assert graph.flow_blocks(spec, "", 2) == ("transformer.h",)

    blocks = graph.flow_dot(spec, "transformer.h", 2, href)
    assert ("from transformer.drop", "0.ln_1", "N × L × 32") in edges(blocks)
    assert ("add", "to transformer.ln_f", "N × L × 32") in edges(blocks)
    assert "GPT2Attention · +4 more" in titled(blocks, "0.attn")
    attn = graph.flow_dot(spec, "transformer.h.0.attn", 2, href)
    assert "scaled_dot_product_attention" in attn
    assert "<B>c_attn</B>" in attn
    svg_tree(blocks)
    svg_tree(attn)


def test_real_trace_of_a_shared_module_and_of_branches() -> None:
    shared = graph.flow_dot(spec_of("tests.models:SharedBlock", "1,8"), "", 2, href)
    assert [e[:2] for e in edges(shared)] == [
        ("x", "block"),
        ("block", "relu"),
        ("relu", "block"),
        ("block", "out"),
        ("out", "output"),
    ]
    branches = graph.flow_dot(spec_of("tests.models:Branches", "1,6"), "", 2, href)
    assert ("branches.left", "cat", "N × 4") in edges(branches)
    assert ("branches.right", "cat", "N × 5") in edges(branches)
    lstm = graph.flow_dot(spec_of("tests.models:TextLSTM", "1,5", input_dtype="long"), "", 2, href)
    assert ("embed", "lstm", "N × 5 × 12") in edges(lstm)
    assert ("lstm", "getitem", "N × 5 × 20") in edges(lstm)


def test_real_partial_trace_marks_the_layer_that_failed() -> None:
    spec = spec_of("tests.models:Broken", "1,1,28,28")
    assert spec.trace is not None and not spec.trace.complete
    dot = graph.flow_dot(spec, "", 2, href)
    fc1 = titled(dot, "fc1")
    assert 'class="modeldoc-failure modeldoc-layer"' in fc1
    assert "1728" in fc1
    assert ("flatten", "fc1", "N × 1728") in edges(dot)
    assert "<B>output</B>" not in dot
    svg_tree(dot)


def test_real_trace_of_hostile_names_reaches_the_svg_as_text() -> None:
    spec = spec_of("tests.models:Hostile", "1,4")
    svg = svg_tree(graph.flow_dot(spec, "", 2, href))
    texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert "blocks.<img src=x onerror=alert(1)>" in texts
    assert "blocks.a|b`c" in texts
    assert not [el for el in svg.iter() if el.tag.removeprefix(SVG) in ("img", "script")]
