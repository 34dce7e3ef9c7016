"""Forward passes written by hand, op by op, for the derivation and diagram tests.

`TraceBuilder` records a `TraceSpec` the way the probe's resolver (`modeldoc.probe.resolve`)
writes one, so a test states the exact forward pass it explains or draws. The fixture traces
below pair a model's static description (`static`, no probe) with such a pass. Nothing here
imports torch when imported (the fixtures that build modules import it when called).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from modeldoc.derive.context import Outcome, RuleContext, TraceIndex
from modeldoc.derive.function_rules import FUNCTION_RULES
from modeldoc.derive.module_rules import MODULE_RULES
from modeldoc.spec import Dim, LayerSpec, ModelSpec, OpSpec, TensorInfo, TraceSpec

if TYPE_CHECKING:
    from torch import nn

Sizes = tuple[Dim, ...]
"""A tensor's sizes: numbers, or names of symbolic axes (``("N", 1, 28, 28)``)."""


class TraceBuilder:
    """Builds a `TraceSpec` op by op, as the probe records a forward pass.

    A size may be an axis name (``"N"``): the tensor's ``dims`` keep the name and its ``shape``
    holds 2 there. Inputs, parameters and constants have no producer. A module call's scope is
    its parent's path; a function's is the module it ran in (``scope=``, the root by default).
    An op's ``out`` is one tensor's sizes (the call returns its id) or a list of them (a tuple of ids).
    """

    def __init__(self) -> None:
        self.ops: list[OpSpec] = []
        self.tensors: list[TensorInfo] = []

    def input(self, name: str, dims: Sizes, *, dtype: str = "float32") -> int:
        """A model input named `name`."""
        tid = self._tensor(dims, None, dtype, name)
        self._append("input", name, "input", "", (), (tid,))
        return tid

    def parameter(self, name: str, dims: Sizes) -> int:
        """A parameter or buffer, by its qualified name (``"fc.weight"``)."""
        return self._tensor(dims, None, "float32", name)

    def constant(self, dims: Sizes) -> int:
        """A tensor made outside the recorded ops, without a name."""
        return self._tensor(dims, None, "float32", "")

    def module(self, path: str, *inputs: int, out: Sizes | list[Sizes], target: str = "torch.nn.Module") -> Any:
        """A call of the layer at `path` on `inputs`."""
        return self._call("module", path, target, path.rpartition(".")[0], inputs, out)

    def function(
        self,
        name: str,
        *inputs: int,
        out: Sizes | list[Sizes],
        scope: str = "",
        target: str = "",
        args: str = "",
        **arguments: Any,
    ) -> Any:
        """A torch function `name` on `inputs`; `args` is its arguments as the diagram shows them,
        `arguments` its non-tensor arguments by name, as the derivation rules read them."""
        return self._call(
            "function", name, target or f"torch.{name}", scope, inputs, out, args=args, arguments=arguments
        )

    def output(self, *inputs: int) -> None:
        """The model's output: the tensors `inputs`."""
        self._append("output", "output", "output", "", inputs, ())

    def trace(self, *, complete: bool = True, error: str = "", failed_in: str = "") -> TraceSpec:
        """The recorded pass (a failed one with `complete=False`, its `error` and where it `failed_in`)."""
        return TraceSpec(
            device="meta",
            ops=tuple(self.ops),
            tensors=tuple(self.tensors),
            complete=complete,
            error=error,
            failed_in=failed_in,
        )

    def spec(self, *layers: LayerSpec) -> ModelSpec:
        """A model ``M`` with `layers` (built by hand, as explain leaves them) and this pass."""
        root = LayerSpec(path="", type="M", type_name="M", repr="", depth=0, parent=None)
        return ModelSpec(name="M", type="M", root=root, layers=layers, trace=self.trace())

    def _call(
        self, kind: str, name: str, target: str, scope: str, inputs: tuple[int, ...], out: Any, **more: Any
    ) -> Any:
        index = len(self.ops)
        several = isinstance(out, list)
        outputs = tuple(self._tensor(dims, index, "float32", "") for dims in (out if several else [out]))
        self._append(kind, name, target, scope, inputs, outputs, **more)
        return outputs if several else outputs[0]

    def _append(
        self,
        kind: str,
        name: str,
        target: str,
        scope: str,
        inputs: tuple[int, ...],
        outputs: tuple[int, ...],
        **more: Any,
    ) -> None:
        self.ops.append(
            OpSpec(
                index=len(self.ops),
                kind=kind,  # type: ignore[arg-type]
                name=name,
                target=target,
                scope=scope,
                inputs=inputs,
                outputs=outputs,
                **more,
            )
        )

    def _tensor(self, dims: Sizes, producer: int | None, dtype: str, name: str) -> int:
        shape = tuple(2 if isinstance(d, str) else d for d in dims)
        tid = len(self.tensors)
        self.tensors.append(TensorInfo(id=tid, shape=shape, dims=dims, dtype=dtype, producer=producer, name=name))
        return tid


# --------------------------------------------------------------------------- the rules of one op


def rule_context(spec: ModelSpec, tid: int, axis: int) -> RuleContext:
    """The context the rule of tensor `tid`'s producer receives for `axis`."""
    index = TraceIndex(spec)
    tensor = index.tensors[tid]
    assert tensor.producer is not None
    return RuleContext(index, index.ops[tensor.producer], tensor, axis)


def rule_outcome(spec: ModelSpec, tid: int, axis: int) -> Outcome | None:
    """What the rule registered for `tid`'s producer (its layer's size rule, or its op name) says about `axis`."""
    ctx = rule_context(spec, tid, axis)
    if ctx.op.kind == "module":
        assert ctx.layer is not None
        return MODULE_RULES[ctx.layer.size_rule](ctx)
    return FUNCTION_RULES[ctx.name](ctx)


# --------------------------------------------------------------------------- fixture models with hand-built traces

HOSTILE = ("<img src=x onerror=alert(1)>", 'a|b\\`c"d', "\\N\\G &amp; &lt;x&gt; '")
"""ModuleDict keys that are markup, DOT escapes and entities at once."""


def static(module: nn.Module) -> ModelSpec:
    """The static description of `module` (no probe), explained as the pipeline does (the boxes
    show the knowledge's brief labels), to pair with a hand-built trace."""
    from modeldoc import explain
    from modeldoc.options import ModelOptions
    from modeldoc.probe.collect import collect

    return explain.annotate(collect(module, ModelOptions(target="tests")))


def fashion_trace() -> TraceSpec:
    """The forward pass of the tutorial CNN (`modeldoc.examples.fashion.Network`)."""
    b = TraceBuilder()
    x = b.input("t", ("N", 1, 28, 28))
    for conv, size, pooled, channels in (("conv1", 24, 12, 6), ("conv2", 8, 4, 12)):
        x = b.module(conv, x, out=("N", channels, size, size))
        x = b.function("relu", x, out=("N", channels, size, size))
        x = b.function("max_pool2d", x, out=("N", channels, pooled, pooled), args="kernel_size=2, stride=2")
    x = b.function("reshape", x, out=("N", 192), args="-1, 192")
    x = b.function("relu", b.module("fc1", x, out=("N", 120)), out=("N", 120))
    x = b.function("relu", b.module("fc2", x, out=("N", 60)), out=("N", 60))
    b.output(b.module("out", x, out=("N", 10)))
    return b.trace()


def stack_trace(n: int = 6, *, side: bool = False) -> TraceSpec:
    """The forward pass of `tests.models.Stack`; with `side`, every block also reads one tensor made before them all."""
    b = TraceBuilder()
    x = b.module("embed", b.input("ids", ("N", "L"), dtype="int64"), out=("N", "L", 16))
    angles = b.module("rotary", x, out=("L", 16)) if side else None
    for i in range(n):
        p = f"blocks.{i}"
        h = b.module(f"{p}.norm", x, out=("N", "L", 16))
        qkv = b.module(f"{p}.attn.qkv", h, out=("N", "L", 48))
        q, k, v = b.function("split", qkv, out=[("N", "L", 16)] * 3, scope=f"{p}.attn", args="16, dim=-1")
        qkv_in = (q, k, v) if angles is None else (q, k, v, angles)
        a = b.function("scaled_dot_product_attention", *qkv_in, out=("N", "L", 16), scope=f"{p}.attn")
        x = b.function("add", x, b.module(f"{p}.attn.proj", a, out=("N", "L", 16)), out=("N", "L", 16), scope=p)
        m = b.module(f"{p}.mlp.0", x, out=("N", "L", 64))
        m = b.module(f"{p}.mlp.2", b.module(f"{p}.mlp.1", m, out=("N", "L", 64)), out=("N", "L", 16))
        x = b.function("add", x, m, out=("N", "L", 16), scope=p)
    b.output(b.module("head", x, out=("N", "L", 100)))
    return b.trace()


def stack_spec(n: int = 6) -> ModelSpec:
    """`tests.models.Stack` with its hand-built trace."""
    from tests.models import Stack

    return replace(static(Stack(n)), trace=stack_trace(n))


def hostile_spec() -> ModelSpec:
    """Linear layers under the `HOSTILE` keys, and a trace whose input, op, arguments and error are hostile too."""
    from torch import nn

    module = nn.Module()
    module.blocks = nn.ModuleDict({key: nn.Linear(4, 4) for key in HOSTILE})
    b = TraceBuilder()
    x = b.input('in"put\\N', ("N", "<L>"))
    for key in HOSTILE:
        x = b.module(f"blocks.{key}", x, out=("N", "<L>"))
    x = b.function("</B>op\\G", x, out=("N", "<L>"), args='dim="<b>" \\ &amp;')
    b.output(x)
    return replace(static(module), trace=b.trace(complete=False, error="<script>alert(1)</script> \\N"))
