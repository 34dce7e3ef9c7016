"""Hand-built specs and traces for the derivation tests (derive imports no torch; neither do these).

`Trace` records ops the way the tracer does; `layer` / `linear` / `hp` build the layers and
arguments explain would. Kept in one module so that merging this builder with the graph
tests' `TraceBuilder` later is one import change in the test files.
"""

from __future__ import annotations

from typing import Any

from modeldoc.derive.context import Outcome, RuleContext, TraceIndex
from modeldoc.derive.function_rules import FUNCTION_RULES
from modeldoc.derive.module_rules import MODULE_RULES
from modeldoc.spec import Hyperparam, LayerSpec, ModelSpec, OpSpec, TensorInfo, TraceSpec


def hp(name: str, value: Any, dim: str = "", kind: str = "hyperparameter") -> Hyperparam:
    source = "chosen" if kind == "hyperparameter" else "previous-layer"
    return Hyperparam(name=name, value=value, kind=kind, source=source, dim=dim)  # type: ignore[arg-type]


def linear(path: str, n_in: int, n_out: int) -> LayerSpec:
    return layer(
        path,
        "Linear",
        [hp("in_features", n_in, "in0:-1", "data-dependent"), hp("out_features", n_out, "out0:-1")],
        params=n_in * n_out,
        size_rule="linear",
    )


def layer(path: str, type_name: str, hps: list[Hyperparam], *, params: int = 1, size_rule: str = "") -> LayerSpec:
    """A torch.nn layer as explain leaves it; `size_rule` is what its knowledge entry names."""
    return LayerSpec(
        path=path,
        type=f"torch.nn.{type_name}",
        type_name=type_name,
        repr="",
        depth=path.count(".") + 1,
        parent="",
        hyperparameters=tuple(hps),
        total_params=params,
        own_params=params,
        size_rule=size_rule,
    )


class Trace:
    """Builds a TraceSpec op by op, as the tracer would record it."""

    def __init__(self) -> None:
        self.ops: list[OpSpec] = []
        self.tensors: list[TensorInfo] = []
        self.scope = ""
        """The scope of the function ops recorded next (the module they run inside)."""

    def _tensor(self, shape: tuple[int, ...], producer: int | None, name: str = "") -> int:
        self.tensors.append(
            TensorInfo(id=len(self.tensors), shape=shape, dims=shape, dtype="float32", producer=producer, name=name)
        )
        return len(self.tensors) - 1

    def _op(self, kind: str, name: str, ins: list[int], outs: list[tuple[int, ...]], **arguments: Any) -> list[int]:
        index = len(self.ops)
        ids = [self._tensor(shape, index if kind in ("module", "function") else None) for shape in outs]
        self.ops.append(
            OpSpec(
                index=index,
                kind=kind,  # type: ignore[arg-type]
                name=name,
                target=name,
                scope=self.scope if kind == "function" else "",
                inputs=tuple(ins),
                outputs=tuple(ids),
                arguments=arguments,
            )
        )
        return ids

    def input(self, name: str, shape: tuple[int, ...]) -> int:
        index = len(self.ops)
        tid = self._tensor(shape, None, name)
        self.ops.append(OpSpec(index=index, kind="input", name=name, target="input", scope="", outputs=(tid,)))
        return tid

    def module(self, path: str, ins: list[int], *outs: tuple[int, ...]) -> list[int]:
        return self._op("module", path, ins, list(outs))

    def function(self, name: str, ins: list[int], *outs: tuple[int, ...], **arguments: Any) -> list[int]:
        return self._op("function", name, ins, list(outs), **arguments)

    def parameter(self, name: str, shape: tuple[int, ...]) -> int:
        return self._tensor(shape, None, name)

    def constant(self, shape: tuple[int, ...]) -> int:
        return self._tensor(shape, None)

    def output(self, *ids: int) -> None:
        self.ops.append(
            OpSpec(index=len(self.ops), kind="output", name="output", target="output", scope="", inputs=ids)
        )

    def spec(self, *layers: LayerSpec) -> ModelSpec:
        root = LayerSpec(path="", type="M", type_name="M", repr="", depth=0, parent=None)
        trace = TraceSpec(device="meta", ops=tuple(self.ops), tensors=tuple(self.tensors))
        return ModelSpec(name="M", type="M", root=root, layers=layers, trace=trace)


def hyper(spec: ModelSpec, path: str, name: str) -> Hyperparam:
    return next(h for h in spec.layer(path).hyperparameters if h.name == name)


def context(spec: ModelSpec, tid: int, axis: int) -> RuleContext:
    """The context the rule of tensor `tid`'s producer receives for `axis`."""
    index = TraceIndex(spec)
    tensor = index.tensors[tid]
    assert tensor.producer is not None
    return RuleContext(index, index.ops[tensor.producer], tensor, axis)


def rule_outcome(spec: ModelSpec, tid: int, axis: int) -> Outcome | None:
    """What the rule registered for `tid`'s producer (its layer's size rule, or its op name) says about `axis`."""
    ctx = context(spec, tid, axis)
    if ctx.op.kind == "module":
        assert ctx.layer is not None
        return MODULE_RULES[ctx.layer.size_rule](ctx)
    return FUNCTION_RULES[ctx.name](ctx)
