"""The shortcuts of the static reading and of the config measurement change nothing a description says.

Five switches turn them off: `arguments.MEMOIZE` (a class's constructor signature and read
rules worked out once per class, attribute reads without the template engine), `static.MEMOIZE`
(parameter counts summed bottom-up in one pass, a class's type names and docstring worked out once),
`ops.MEMOIZE` (each op name's row of the argument tables looked up once), `ops.FAST_LEAVES`
(the tensors in an op's plain lists, tuples and dicts found without pytree) and
`configs.SHORTCUTS` (the rebuilds on the meta device skip their random weight fills, the
arguments they compare are read without their records). Each model here is described with all
of them on and all off, and the two ``modeldoc/1`` JSON texts, written as the CLI writes them,
must be equal to the byte; the model handed over must leave as it came.
"""

from __future__ import annotations

import gc
import json
import weakref
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

import pytest
import torch
from torch import nn

from modeldoc import knowledge
from modeldoc.probe import arguments, configs, guard, loader, ops, static
from modeldoc.spec import ModelSpec
from tests import hostile
from tests.helpers import compare
from tests.helpers.compare import CONFIGS, LLAMA, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot

transformers = pytest.importorskip("transformers")


SWITCHES = [
    (arguments, "MEMOIZE"),
    (static, "MEMOIZE"),
    (ops, "MEMOIZE"),
    (ops, "FAST_LEAVES"),
    (configs, "SHORTCUTS"),
]
CLEAR = [arguments._PLANS.clear, static._FACTS.clear]
"""The memos of classes, emptied before and after each way."""


def shortcuts(on: bool) -> AbstractContextManager[None]:
    """This file's shortcuts on or off for the block (the memos of classes emptied first and after)."""
    return compare.switched(SWITCHES, on, clear=CLEAR)


def both_ways(describe: Callable[[], ModelSpec]) -> tuple[str, str]:
    """The JSON of `describe()` with this file's shortcuts on, then off."""
    return compare.both_ways(describe, SWITCHES, clear=CLEAR)


@pytest.mark.parametrize(
    "name", [pytest.param(name, marks=[pytest.mark.slow] if name == "deepseek_v3" else []) for name in CONFIGS]
)
def test_a_model_built_from_a_config_is_described_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    fast, slow = both_ways(from_config(target, "1,8", **kwargs))
    assert fast == slow
    spec = ModelSpec.from_json(json.loads(fast))
    # the comparison is of a description that measured the keys: not of an empty Config section
    assert spec.config is not None and spec.config.measured and spec.config.reads


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_described_the_same(name: str) -> None:
    model = bench_model(name)
    snapshot = Snapshot.take(model)
    fast, slow = both_ways(live(model, "1,64"))
    assert fast == slow
    assert snapshot.problems(model) == []
    spec = ModelSpec.from_json(json.loads(fast))
    assert spec.config is not None and spec.config.reads and spec.inputs


def test_a_live_transformers_model_is_described_the_same_and_left_untouched() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA)).eval()
    model.model.layers[2].requires_grad_(False)  # a frozen block among the repeated ones
    snapshot = Snapshot.take(model)
    fast, slow = both_ways(live(model, "1,8"))
    assert fast == slow
    assert snapshot.problems(model) == []
    spec = ModelSpec.from_json(json.loads(fast))
    assert spec.config is not None and "model.layers.4.self_attn.q_proj.out_features" in spec.config.reads
    assert spec.frozen_params > 0


def test_a_gpt2_with_tied_weights_is_described_the_same() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(GPT2Config(n_embd=32, n_head=4, n_layer=4, vocab_size=100)).eval()
    assert model.lm_head.weight is model.transformer.wte.weight
    snapshot = Snapshot.take(model)
    fast, slow = both_ways(live(model, "1,8"))
    assert fast == slow
    assert snapshot.problems(model) == []
    head = ModelSpec.from_json(json.loads(fast)).layer("lm_head").parameters[0]
    assert head.tied_with == ("transformer.wte.weight",)


class Block(nn.Module):
    """A residual block of a Linear and a LayerNorm."""

    def __init__(self, width: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.norm(self.fc(x))


class Stack(nn.Module):
    """Six repeated blocks, one with another argument and one frozen, and a head tied to the embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.blocks = nn.ModuleList([Block(16, eps=1e-3 if i == 3 else 1e-5) for i in range(6)])
        self.blocks[1].requires_grad_(False)
        self.shared = nn.Linear(16, 16)
        self.again = self.shared  # one module under two names
        self.head = nn.Linear(16, 50, bias=False)
        self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        return self.head(self.again(self.shared(x)))


def test_a_hand_written_model_with_one_block_unlike_the_others_is_described_the_same() -> None:
    model = Stack()
    snapshot = Snapshot.take(model)
    fast, slow = both_ways(live(model, "2,5"))
    assert fast == slow
    assert snapshot.problems(model) == []
    spec = ModelSpec.from_json(json.loads(fast))
    eps = {layer.path: h.value for layer in spec.layers for h in layer.hyperparameters if h.name == "eps"}
    assert eps["blocks.3.norm"] == 1e-3 and eps["blocks.2.norm"] == 1e-5
    assert spec.layer("blocks.1").total_params == spec.layer("blocks.2").total_params == 16 * 16 + 16 + 2 * 16
    assert spec.layer("").total_params == spec.total_params == 50 * 16 + 6 * (16 * 16 + 16 + 32) + 16 * 16 + 16


@pytest.mark.parametrize(
    "make",
    [hostile.PropertyRaises, hostile.GetattrRaises, hostile.SharedTwice, hostile.ContainsItself, hostile.DocRaises],
    ids=lambda make: make.__name__,
)
def test_a_model_whose_own_code_raises_while_read_is_described_the_same(make: Callable[[], nn.Module]) -> None:
    model = make()
    fast, slow = both_ways(live(model))
    assert fast == slow


def test_an_argument_read_by_a_rule_is_read_the_same_with_and_without_the_template_engine() -> None:
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaDecoderLayer

    layer = LlamaDecoderLayer(LlamaConfig(**LLAMA), layer_idx=0)
    del layer.input_layernorm.variance_epsilon  # the rule's first choice missing: the template engine decides
    got = {}
    for on in (True, False):
        with shortcuts(on), knowledge.using(knowledge.load(())):
            got[on] = [(path, arguments.collect_all(sub, path)) for path, sub in guard.walk(layer).paths.items()]
    assert got[True] == got[False]
    norm = dict(got[True])["input_layernorm"]
    assert {h.name: h.value for h in dict(got[True])["post_attention_layernorm"].hyperparameters}["eps"] == 1e-6
    assert "eps" not in {h.name for h in norm.hyperparameters}  # neither variance_epsilon nor eps is there


def test_a_class_plan_is_worked_out_again_for_another_table_or_another_constructor() -> None:
    class Layer(nn.Module):
        def __init__(self, width: int = 3) -> None:
            super().__init__()
            self.width = width

    with shortcuts(True), knowledge.using(knowledge.load(())):
        first = arguments.class_plan(Layer)
        assert arguments.class_plan(Layer) is first  # kept
        assert [name for name, *_ in first.readings] == ["width"]

        def init(self: nn.Module, depth: int = 2) -> None:
            nn.Module.__init__(self)
            self.depth = depth

        Layer.__init__ = init  # type: ignore[method-assign]
        assert [name for name, *_ in arguments.class_plan(Layer).readings] == ["depth"]
        assert [h.name for h in arguments.collect(Layer())] == ["depth"]


def test_a_class_read_once_is_not_kept_alive_by_its_plan() -> None:
    def make() -> type[nn.Module]:
        class Layer(nn.Module):
            def __init__(self, width: int = 3) -> None:
                super().__init__()  # a __class__ cell: the __init__ holds the class
                self.width = width

        return Layer

    with shortcuts(True), knowledge.using(knowledge.load(())):
        layer = make()
        arguments.collect(layer())
        assert layer in arguments._PLANS
        gone = weakref.ref(layer)
        del layer
        gc.collect()
        assert gone() is None


# --------------------------------------------------------------------------- the fills skipped on meta


def build_both_ways(make: Callable[[], nn.Module]) -> tuple[nn.Module, nn.Module]:
    return loader.build_on_meta(lambda _: make(), None, skip_fills=True), loader.build_on_meta(lambda _: make(), None)


def test_skipping_the_fills_builds_the_same_meta_model_with_its_ties() -> None:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(n_embd=32, n_head=4, n_layer=2, vocab_size=100)
    fast, slow = build_both_ways(lambda: GPT2LMHeadModel(config))
    assert fast.lm_head.weight is fast.transformer.wte.weight
    assert [(n, t.shape, t.dtype, t.device, t.requires_grad) for n, t in fast.state_dict(keep_vars=True).items()] == [
        (n, t.shape, t.dtype, t.device, t.requires_grad) for n, t in slow.state_dict(keep_vars=True).items()
    ]


def test_a_fill_with_arguments_the_fill_refuses_still_raises() -> None:
    with torch.device("meta"), loader.SkipRandomFills():
        weight = torch.empty(4, 3)
        assert nn.init.normal_(weight, std=0.5) is weight  # skipped, and returns what the fill returns
        with pytest.raises(RuntimeError, match="std"):
            nn.init.normal_(weight, std=-1.0)
        with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
            nn.init.kaiming_uniform_(torch.empty(5))
        with pytest.raises(ValueError, match="Mode"):
            nn.init.kaiming_uniform_(weight, mode="sideways")  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="Unsupported nonlinearity"):
            nn.init.kaiming_uniform_(weight, nonlinearity="wobble")  # type: ignore[arg-type]
        leaf = nn.Parameter(torch.empty(2, 2))
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            leaf.uniform_(0, 1)  # autograd's refusal is not skipped


def test_a_fill_off_the_meta_device_is_a_real_fill() -> None:
    torch.manual_seed(0)
    with loader.SkipRandomFills():
        weight = nn.init.normal_(torch.zeros(3, 3))
    assert weight.abs().sum() > 0  # filled: only meta tensors are skipped


class OwnNamedParameters(nn.Linear):
    """A layer whose own named_parameters lists only its weight."""

    def named_parameters(self, *args: Any, **kwargs: Any) -> Iterator[tuple[str, nn.Parameter]]:  # type: ignore[override]
        yield "weight", self.weight


def odd_tensors() -> nn.Module:
    """Tensor slots with a None, one tensor under two names, a buffer, and a class with its own named_parameters."""
    model = nn.Sequential(nn.Linear(3, 4), OwnNamedParameters(4, 2), nn.BatchNorm1d(2))
    first = model[0]
    first.register_parameter("missing", None)
    first.register_parameter("again", first.weight)
    first.register_buffer("scale", torch.ones(4))
    return model


@pytest.mark.parametrize(
    "make",
    [
        Stack,
        odd_tensors,
        lambda: nn.MultiheadAttention(8, 2, kdim=4, vdim=8),
        lambda: nn.TransformerEncoderLayer(16, 4, dim_feedforward=32),
        lambda: nn.LSTM(4, 8, num_layers=2),
        hostile.PropertyRaises,
        hostile.GetattrRaises,
    ],
    ids=["stack", "odd_tensors", "mha", "encoder_layer", "lstm", "property_raises", "getattr_raises"],
)
def test_the_arguments_configs_compares_are_read_the_same_without_their_records(
    make: Callable[[], nn.Module],
) -> None:
    model = make()
    got = {}
    for on in (True, False):
        with shortcuts(on), knowledge.using(knowledge.load(())):
            got[on] = configs._arguments(model)
            # the values alone are what collect_all reads, name for name, in its order
            for path, sub in guard.walk(model).paths.items():
                assert arguments.values_of(sub, path) == [
                    (hp.name, hp.value) for hp in arguments.collect_all(sub, path).hyperparameters
                ]
    assert got[True] == got[False]
    assert got[True]  # something was read


def test_the_tensors_configs_reads_are_those_torch_names() -> None:
    model = odd_tensors()
    with shortcuts(True):
        for sub in model.modules():
            expected = [*sub.named_parameters(recurse=False), *sub.named_buffers(recurse=False)]
            assert [(n, id(t)) for n, t in configs._own_tensors(sub)] == [(n, id(t)) for n, t in expected]
    assert [n for n, _ in configs._own_tensors(model[0])] == ["weight", "bias", "scale"]  # None and the repeat left out
    assert [n for n, _ in configs._own_tensors(model[1])] == ["weight"]  # its own method asked


def test_a_docstring_changed_between_two_readings_is_read_again() -> None:
    class Documented(nn.Module):
        """First words."""

    with shortcuts(True), knowledge.using(knowledge.load(())):
        model = Documented()
        assert static.read_model(model, guard.walk(model)).root.docstring == "First words."
        Documented.__doc__ = "  Second words,\n    indented."
        assert static.read_model(model, guard.walk(model)).root.docstring == "Second words,\nindented."


class Pair(NamedTuple):
    first: Any
    second: Any


class Marked(torch.Tensor):
    """A tensor subclass: pytree takes it as a leaf, and so must the walk."""


def leaf_cases() -> list[Any]:
    from transformers.modeling_outputs import BaseModelOutput

    a, b, c = torch.ones(2), torch.zeros(3, device="meta"), nn.Parameter(torch.ones(1))
    marked = torch.ones(2).as_subclass(Marked)
    return [
        a,
        None,
        3,
        ((a, 1), {"x": b, "y": [c, None, "s"]}),
        (Pair(a, (b, c)), OrderedDict(z=c, a=a), defaultdict(list, k=[b])),
        [torch.Size([2, 3]), slice(0, 2), ..., torch.float32, torch.device("meta"), 2.5, True],
        {"nested": {"deeper": [(a,), deque([b, c])]}, 1: marked},
        (BaseModelOutput(last_hidden_state=a, hidden_states=(b, c)), [marked, (marked, a)]),
        ((), [], {}),
    ]


@pytest.mark.parametrize("index", range(len(leaf_cases())))
def test_the_tensors_of_an_ops_arguments_are_pytrees_tensors_in_order(index: int) -> None:
    value = leaf_cases()[index]
    with shortcuts(True):
        fast = ops.tensor_leaves(value)
    with shortcuts(False):
        slow = ops.tensor_leaves(value)
    assert [id(t) for t in fast] == [id(t) for t in slow]
    assert fast or index in (1, 2, 5, 8)  # the cases without a tensor find none


class Unhashable:
    """A callable that dispatches through torch's function modes and cannot be hashed."""

    __hash__ = None  # type: ignore[assignment]

    def __call__(self, tensor: torch.Tensor) -> torch.Tensor:
        if torch.overrides.has_torch_function_unary(tensor):
            return torch.overrides.handle_torch_function(self, (tensor,), tensor)  # type: ignore[no-any-return]
        return tensor * 2


def test_a_function_that_cannot_be_hashed_runs_as_it_would() -> None:
    with loader.SkipRandomFills():
        assert Unhashable()(torch.ones(2)).tolist() == [2.0, 2.0]
