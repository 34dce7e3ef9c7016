"""diagrams.model: the plain data between the diagram steps, and how layer paths relate."""

from __future__ import annotations

import dataclasses

import pytest

from modeldoc.diagrams.model import Box, FlowCluster, FlowGraph, FlowStep, parent, relative, within

pytestmark = pytest.mark.notorch


def test_within_relative_and_parent_read_dotted_layer_paths() -> None:
    assert within("h.0.attn", "h") and within("h", "h") and within("anything", "")
    assert not within("head", "h")  # a prefix of the name is not a parent
    assert relative("transformer.h.0", "transformer") == "h.0"
    assert relative("transformer", "transformer") == "transformer" and relative("fc", "") == "fc"
    assert parent("h.0.attn") == "h.0" and parent("fc") == ""


def _step(key: str, order: int, cluster: str | None, kind: str = "layer", path: str = "") -> FlowStep:
    return FlowStep(
        key=key,
        kind=kind,
        path=path or key,
        layer_type="Linear",
        cluster=cluster,
        order=order,
        title=key,  # type: ignore[arg-type]
    )


def test_the_items_of_a_cluster_come_in_trace_order_with_a_cluster_where_its_first_step_is() -> None:
    clusters = (
        FlowCluster(path="enc", parent=None, layer_type="Encoder", layer_repr=None, signature=1),
        FlowCluster(path="enc.0", parent="enc", layer_type="Block", layer_repr=None, signature=2),
    )
    steps = (
        _step("x", 0, None, kind="input"),
        _step("enc.0.fc", 2, "enc.0"),
        _step("enc.norm", 3, "enc"),
        _step("enc.pre", 1, "enc"),
        _step("head", 4, None),
    )
    graph = FlowGraph(model_name="Net", root="", depth=3, steps=steps, edges=(), clusters=clusters)
    items = graph.items()
    assert [i if isinstance(i, str) else i.key for i in items[None]] == ["x", "enc", "head"]
    assert [i if isinstance(i, str) else i.key for i in items["enc"]] == ["enc.pre", "enc.0", "enc.norm"]
    assert [i.key for i in items["enc.0"]] == ["enc.0.fc"]  # type: ignore[union-attr]


def test_blocks_are_the_collapsed_and_folded_layers_once_each() -> None:
    steps = (
        _step("a", 0, None, kind="block", path="blocks"),
        _step("b", 1, None, kind="fold", path="layers.1"),
        _step("c", 2, None, kind="block", path="blocks"),
        _step("d", 3, None, kind="op", path=""),
    )
    graph = FlowGraph(model_name="Net", root="", depth=1, steps=steps, edges=(), clusters=())
    assert graph.blocks == ("blocks", "layers.1")
    assert graph.name("blocks") == "blocks" and graph.name("") == "Net"
    below = dataclasses.replace(graph, root="blocks")
    assert below.name("blocks.3.fc") == "3.fc" and below.name("blocks") == "blocks"


def test_the_data_is_frozen() -> None:
    box = Box(key="n1", kind="layer", title="fc1", element="layer-fc1", tooltip="fc1: Linear")
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.title = "changed"  # type: ignore[misc]
