"""Hand-built traces and fixture models for the diagram tests.

`TraceBuilder` records a `TraceSpec` op by op, the way the tracer does, so a diagram test can
state the exact forward pass it draws. The fixtures pair a model's static description
(`static`, no probe) with such a trace.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from torch import nn

from modeldoc import explain
from modeldoc.options import ModelOptions
from modeldoc.probe.collect import collect
from modeldoc.spec import Dim, ModelSpec, OpSpec, TensorInfo, TraceSpec

HOSTILE = ("<img src=x onerror=alert(1)>", 'a|b\\`c"d', "\\N\\G &amp; &lt;x&gt; '")


def static(module: nn.Module) -> ModelSpec:
    """The static description of `module` (no probe), explained as the pipeline does (the boxes
    show the knowledge's brief labels), to pair with a hand-built trace."""
    return explain.annotate(collect(module, ModelOptions(target="tests")))


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


# --- fixture models with hand-built traces ---------------------------------------------


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
