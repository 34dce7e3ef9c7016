"""The shortcuts of the static reading's specs change nothing a description says.

Four switches turn them off: `static.FAST_SPECS` (each layer's and tensor's spec made without its
frozen ``__init__``, a leaf's line read without asking for its children, a tensor with one name
and a module with one path taken as such), `static.TENSOR_TABLE` (each module's tensors listed
once up front, the parameter counts summed child by child where nothing is held twice),
`arguments.KEEP_COLLECTED` (the records of a layer's constructor arguments made once for each
class and values read, in one reading of a model) and `arguments.QUICK_READS` (a module's
children read for its parametrizations without a copy, a value of exactly a scalar type taken as
plain at once). Each model here is described with all on and all off, and the two ``modeldoc/1``
JSON texts, written as the CLI writes them, must be equal to the byte; the model handed over must
leave as it came.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.probe import arguments, guard, static
from modeldoc.spec import Hyperparam, LayerSpec, ModelSpec, ParamSpec
from tests import hostile
from tests.helpers import compare
from tests.helpers.compare import CONFIGS, LLAMA, as_written, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot
from tests.test_speed_static import Stack, odd_tensors

SWITCHES = [(static, "FAST_SPECS"), (static, "TENSOR_TABLE"), (arguments, "KEEP_COLLECTED"), (arguments, "QUICK_READS")]


def shortcuts(on: bool) -> AbstractContextManager[None]:
    """This file's shortcuts on or off for the block."""
    return compare.switched(SWITCHES, on)


def same_and_untouched(model: nn.Module, shape: str | None = None, dtype: str = "long") -> ModelSpec:
    """The description of `model`, the same both ways, the model left as it came."""
    snapshot = Snapshot.take(model)
    with shortcuts(True):
        fast = as_written(live(model, shape, dtype)())
    with shortcuts(False):
        slow = as_written(live(model, shape, dtype)())
    assert fast == slow
    assert snapshot.problems(model) == []
    return ModelSpec.from_json(json.loads(fast))


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_described_the_same(name: str) -> None:
    spec = same_and_untouched(bench_model(name), "1,64")
    assert spec.trace is not None and spec.macs > 0 and spec.config is not None and spec.config.reads


@pytest.mark.parametrize("name", ["gpt2", "llama", "bert", "t5", "mixtral"])
def test_a_model_built_from_a_config_is_described_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    with shortcuts(True):
        fast = as_written(from_config(target, "1,8", **kwargs)())
    with shortcuts(False):
        slow = as_written(from_config(target, "1,8", **kwargs)())
    assert fast == slow
    assert ModelSpec.from_json(json.loads(fast)).layers


def test_a_llama_with_a_frozen_block_is_described_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    model.model.layers[2].requires_grad_(False)
    spec = same_and_untouched(model, "1,8")
    assert spec.frozen_params > 0
    # each block keeps its own layer_idx, though the other arguments of its attention are alike
    idx = {layer.path: h.value for layer in spec.layers for h in layer.hyperparameters if h.name == "layer_idx"}
    idx |= {layer.path: b.value for layer in spec.layers for b in layer.bookkeeping if b.name == "layer_idx"}
    assert idx["model.layers.3.self_attn"] == 3 and idx["model.layers.4.self_attn"] == 4


def test_a_gpt2_with_tied_weights_is_described_the_same() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_head=4, n_layer=4, vocab_size=100)).eval()
    spec = same_and_untouched(model, "1,8")
    assert spec.layer("lm_head").parameters[0].tied_with == ("transformer.wte.weight",)


class Values(nn.Module):
    """Layers whose arguments compare equal and are not the same: 0.0 and -0.0, 1 and True, a list."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Dropout(0.0)
        self.b = nn.Dropout(-0.0)
        self.c = nn.Softmax(dim=1)
        self.d = nn.Softmax(dim=True)  # type: ignore[arg-type]
        self.e = nn.Conv1d(2, 2, 3)
        self.f = nn.Conv1d(2, 2, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.c(self.a(self.b(x)))
        return self.f(self.e(self.d(y)))


@pytest.mark.parametrize(
    "make",
    [
        Stack,
        odd_tensors,
        Values,
        lambda: nn.TransformerEncoder(
            nn.TransformerEncoderLayer(16, 4, 32, batch_first=True), 3, enable_nested_tensor=False
        ),
        lambda: nn.LSTM(4, 8, num_layers=2),
        lambda: nn.utils.parametrizations.weight_norm(nn.Linear(3, 4)),
        hostile.PropertyRaises,
        hostile.GetattrRaises,
        hostile.SharedTwice,
        hostile.ContainsItself,
        hostile.DocRaises,
        hostile.ReprRaises,
        lambda: nn.Sequential(hostile.ExtraReprRaises(3, 4), hostile.ExtraReprRaises(3, 4)),
    ],
    ids=[
        "stack",
        "odd_tensors",
        "values",
        "encoder",
        "lstm",
        "weight_norm",
        "property_raises",
        "getattr_raises",
        "shared_twice",
        "contains_itself",
        "doc_raises",
        "repr_raises",
        "extra_repr_raises",
    ],
)
def test_an_odd_model_is_described_the_same(make: Callable[[], nn.Module]) -> None:
    same_and_untouched(make())


def test_the_values_that_compare_equal_keep_their_own_records() -> None:
    spec = same_and_untouched(Values(), "2,2,5", "float32")
    value = {layer.path: {h.name: h.value for h in layer.hyperparameters} for layer in spec.layers}
    assert repr(value["a"]["p"]) == "0.0" and repr(value["b"]["p"]) == "-0.0"
    assert value["c"]["dim"] is not True and value["d"]["dim"] is True
    assert value["e"]["padding"] == [0] and value["f"]["padding"] == [1]


def test_a_lazy_model_is_described_the_same() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.LazyLinear(5), nn.LazyLinear(5))
    with shortcuts(True):
        fast = as_written(live(model, "2,3", "float32")())
    with shortcuts(False):
        slow = as_written(live(model, "2,3", "float32")())
    assert fast == slow
    spec = ModelSpec.from_json(json.loads(fast))
    assert spec.layer("1").parameters[0].lazy and spec.layer("1").parameters[0].shape == (5, 4)
    assert not spec.layer("0").parameters[0].lazy
    assert isinstance(model[1].weight, nn.UninitializedParameter)  # the model is still lazy


def test_a_layer_whose_argument_raises_on_one_instance_only_is_read_as_it_would_be() -> None:
    class Flaky(nn.Module):
        def __init__(self, width: int, broken: bool = False) -> None:
            super().__init__()
            self.broken = broken
            self._width = width

        @property
        def width(self) -> int:
            if self.broken:
                raise RuntimeError("no width here")
            return self._width

    model = nn.Sequential(Flaky(3), Flaky(3), Flaky(3, broken=True), Flaky(3))
    for on in (True, False):
        with shortcuts(on), knowledge.using(knowledge.load(())):
            layers = {layer.path: layer for layer in static.read_model(model, guard.walk(model)).layers}
        assert [h.name for h in layers["1"].hyperparameters] == ["width", "broken"]
        assert [u.name for u in layers["2"].unknown_arguments] == ["width"]
        assert "2.width" in layers["2"].notes[0]  # the failure names its own layer
    with shortcuts(True), knowledge.using(knowledge.load(())):
        kept: dict[object, object] = {}
        first, second = (arguments.collect_kept(model[i], str(i), kept) for i in (0, 1))
        records = [key for key in kept if isinstance(key, tuple)]
        assert first is second and len(records) == 1  # two alike: one record
        assert arguments.collect_kept(model[2], "2", kept).failures
        assert [key for key in kept if isinstance(key, tuple)] == records  # a failure is not kept


def test_a_spec_made_without_its_init_equals_one_made_with_it() -> None:
    fields = {"name": "w", "local_name": "w", "shape": (2,), "dtype": "float32", "numel": 2, "nbytes": 8}
    with shortcuts(True):
        fast = static._new(ParamSpec, trainable=True, **fields)
        layer = static._new(LayerSpec, path="", type="t", type_name="T", repr="T()", depth=0, parent=None)
    assert fast == ParamSpec(trainable=True, **fields) and hash(fast) == hash(ParamSpec(trainable=True, **fields))
    assert layer == LayerSpec(path="", type="t", type_name="T", repr="T()", depth=0, parent=None)
    with shortcuts(True), pytest.raises(TypeError, match="trainable"):
        static._new(ParamSpec, **fields)  # a field without a default left out
    with shortcuts(True), pytest.raises(TypeError, match="colour"):
        static._new(ParamSpec, trainable=True, colour="red", **fields)
    with shortcuts(True), pytest.raises(TypeError, match="__post_init__"):
        static._new(Hyperparam, name="x", value=1, kind="hyperparameter", source="chosen")  # type: ignore[type-var]


@pytest.mark.parametrize(
    ("make", "plain"),
    [
        (lambda: nn.Sequential(nn.Linear(3, 4), nn.Sequential(nn.Linear(4, 4), nn.LazyLinear(2))), True),
        (hostile.ContainsItself, True),
        (odd_tensors, True),  # one parameter under two names in one module: not summed
        (Stack, False),  # one module under two names
        (hostile.SharedTwice, False),
    ],
    ids=["lazy", "contains_itself", "odd_tensors", "stack", "shared_twice"],
)
def test_the_counts_summed_child_by_child_are_those_of_each_subtree(make: Callable[[], nn.Module], plain: bool) -> None:
    model = make()
    tree = guard.walk(model)
    table = static._Table.read(tree)
    assert table.plain is plain
    names_of = table.names(tree)
    assert names_of == tree.tensor_names()
    sums = table.subtree_sums(tree, names_of)
    totals = static._subtree_totals(tree, static._own_lister(tree))
    if make is odd_tensors or not plain:
        assert sums is None
    else:
        assert sums == totals and sums[id(model)] > 0
    assert static._totals(tree, table.lister(), table) == static._totals(tree, static._own_lister(tree))


def test_a_gpt2_with_tied_weights_is_not_summed_child_by_child() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=100))
    tree = guard.walk(model)
    table = static._Table.read(tree)
    assert table.plain and table.subtree_sums(tree, table.names(tree)) is None  # lm_head's weight is wte's
    untied = GPT2LMHeadModel(GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=100, tie_word_embeddings=False))
    tree = guard.walk(untied)
    table = static._Table.read(tree)
    assert table.subtree_sums(tree, table.names(tree)) == static._subtree_totals(tree, static._own_lister(tree))
