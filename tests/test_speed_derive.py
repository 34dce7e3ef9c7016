"""The shortcuts of the derivations change nothing a description says.

`reuse.QUICK_STEPS` asks the rules once per function-op key for a step or a birth (a ``view``
that splits heads, a ``cat`` that joins halves) and puts each op's own scope and inputs into
that answer. Each model here is described with it on and off, and the two ``modeldoc/1`` JSON
texts, written as the CLI writes them, must be equal to the byte; with it on, the templates
must have answered some sizes (`reuse.TAKEN`), with it off none.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable

import pytest
import torch
from torch import nn

from modeldoc.derive import provenance, reuse
from modeldoc.derive.context import Outcome, Step
from modeldoc.spec import ModelSpec, OpSpec
from tests.helpers import compare
from tests.helpers.compare import CONFIGS, LLAMA, bench_model, from_config, live
from tests.helpers.snapshot import Snapshot
from tests.test_speed_static import Stack

SWITCHES = [(reuse, "QUICK_STEPS"), (reuse, "QUICK_CHOICES"), (provenance, "QUICK_ROOTS")]
CLEAR = [reuse.TAKEN.clear]


def both_ways(describe: Callable[[], ModelSpec]) -> tuple[str, str, Counter[str], Counter[str]]:
    """The JSON of `describe()` with the shortcuts on, then off, and how many sizes each answered each time."""
    with compare.switched(SWITCHES, True, clear=CLEAR):
        fast = compare.as_written(describe())
        taken = Counter(reuse.TAKEN)
    with compare.switched(SWITCHES, False, clear=CLEAR):
        slow = compare.as_written(describe())
        untaken = Counter(reuse.TAKEN)
    return fast, slow, taken, untaken


def same(describe: Callable[[], ModelSpec], shortcuts: tuple[str, ...] = ("steps", "choices", "roots")) -> ModelSpec:
    """The description, the same both ways, with each of `shortcuts` taken on and none taken off."""
    fast, slow, taken, untaken = both_ways(describe)
    assert fast == slow
    assert all(taken[name] > 0 for name in shortcuts), taken
    assert sum(untaken.values()) == 0, untaken
    return ModelSpec.from_json(json.loads(fast))


def steps_of(spec: ModelSpec, path: str, name: str) -> list[str]:
    """The texts of the derivation of argument `name` of the layer at `path`."""
    h = next(h for h in spec.layer(path).hyperparameters if h.name == name)
    return [step.text for step in h.derivation]


class Attention(nn.Module):
    """Heads split by a view, moved by a transpose, joined by a reshape."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (y.view(b, t, self.heads, d // self.heads).transpose(1, 2) for y in (q, k, v))
        y = torch.softmax(q @ k.transpose(-1, -2), dim=-1) @ v
        return x + self.out(y.transpose(1, 2).reshape(b, t, d))


class Heads(nn.Module):
    """Five attention blocks: one with other heads, one frozen, two sharing a weight; views at the root too."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(40, 24)
        self.blocks = nn.ModuleList([Attention(24, 3 if i == 2 else 4) for i in range(5)])
        self.blocks[1].requires_grad_(False)
        self.blocks[4].out.weight = self.blocks[3].out.weight
        self.head = nn.Linear(48, 40)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for block in self.blocks:
            x = block(x)
        b, t, d = x.shape
        halves = x.view(b, t, 2, d // 2)  # a split at the root, where an op has no scope
        return self.head(torch.cat([halves[:, :, 0], halves[:, :, 1], x], dim=-1))


@pytest.mark.parametrize("name", [pytest.param("gpt2"), pytest.param("llama", marks=pytest.mark.slow)])
def test_the_benchmark_models_are_derived_the_same(name: str) -> None:
    spec = same(live(bench_model(name), "1,64"))
    assert spec.trace is not None and spec.trace.complete


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_a_model_built_from_a_config_is_derived_the_same(name: str) -> None:
    target, kwargs = CONFIGS[name]
    spec = same(from_config(target, "1,8", **kwargs))
    assert spec.layers


def test_a_split_of_heads_names_the_scope_of_its_own_block() -> None:
    target, kwargs = CONFIGS["llama"]
    spec = same(from_config(target, "1,8", **kwargs))
    for i in range(LLAMA["num_hidden_layers"]):
        steps = steps_of(spec, f"model.layers.{i}.self_attn.o_proj", "in_features")
        assert f"view in model.layers.{i}.self_attn splits 64 into 4 × 16" in steps
        assert not [s for s in steps if "model.layers." in s and f"model.layers.{i}." not in s]


def test_a_live_llama_with_a_frozen_block_another_argument_and_tied_weights_is_derived_the_same() -> None:
    from transformers import LlamaConfig, LlamaForCausalLM

    model = LlamaForCausalLM(LlamaConfig(**LLAMA, tie_word_embeddings=True)).eval()
    model.model.layers[2].requires_grad_(False)
    model.model.layers[3].mlp.down_proj = nn.Linear(LLAMA["intermediate_size"], LLAMA["hidden_size"], bias=True)
    snapshot = Snapshot.take(model)
    spec = same(live(model, "1,8"))
    assert snapshot.problems(model) == []
    assert [h.value for h in spec.layer("model.layers.3.mlp.down_proj").hyperparameters if h.name == "bias"] == [True]
    assert spec.layer("lm_head").parameters[0].tied_with == ("model.embed_tokens.weight",)


def test_blocks_unlike_each_other_and_a_root_without_scope_are_derived_the_same() -> None:
    model = Heads()
    snapshot = Snapshot.take(model)
    spec = same(live(model, "2,6"))
    assert snapshot.problems(model) == []
    # the block with three heads splits its width its own way; the others four ways
    assert "view in blocks.2 splits 24 into 3 × 8" in steps_of(spec, "blocks.2.out", "in_features")
    assert "view in blocks.4 splits 24 into 4 × 6" in steps_of(spec, "blocks.4.out", "in_features")
    assert any(step.startswith("cat joins 12 + 12 + 24") for step in steps_of(spec, "head", "in_features"))


def test_a_hand_written_stack_is_derived_the_same() -> None:
    fast, slow, _, untaken = both_ways(live(Stack(), "2,5"))
    assert fast == slow
    assert sum(untaken.values()) == 0


# --------------------------------------------------------------------------- the template on its own


def op(scope: str, name: str = "view", arguments: dict[str, object] | None = None) -> OpSpec:
    return OpSpec(
        index=3, kind="function", name=name, target=f"Tensor.{name}", scope=scope, inputs=(1, 2), outputs=(5,),
        arguments=arguments or {},
    )  # fmt: skip


def split(asked: OpSpec) -> Outcome:
    """A rule's answer as `label` and `where` would make it, from the op it is asked about."""
    label = f"{asked.name} in {asked.scope}" if asked.scope else asked.name
    where = f"{asked.scope}: {asked.name}" if asked.scope else asked.name
    return Outcome.computed(Step(f"{label} splits 64 into 4 × 16", 4, where), [(asked.inputs[1], 2)])


def test_a_template_puts_in_each_ops_scope_and_inputs() -> None:
    first = op("blocks.0.attn")
    template = reuse.Template.made(first, split(first), split)
    assert template is not None
    other = OpSpec(**{**op("blocks.7.attn").__dict__, "inputs": (9, 8)})
    got = template.applied(other)
    assert got == split(other)
    assert got.step is not None and got.step.text == "view in blocks.7.attn splits 64 into 4 × 16"
    assert got.sources == ((8, 2),)


def test_no_template_is_made_where_the_placeholder_could_come_from_elsewhere() -> None:
    for odd in (op("a", name="view\x00"), op("a", arguments={"mode": "x\x00y"})):
        assert reuse.Template.made(odd, split(odd), split) is None

    def elsewhere(asked: OpSpec) -> Outcome:  # a source that is not one of the op's inputs
        return Outcome.computed(Step("made", 4, asked.scope), [(11, 0)])

    def chosen(asked: OpSpec) -> Outcome:  # a layer's choice names a path: asked for each op
        return Outcome.born(Step("chosen", 4, asked.scope), "chosen", ("layer", "width"))

    def scoped_formula(asked: OpSpec) -> Outcome:
        from modeldoc.arithmetic import Formula

        return Outcome.computed(Step("x", 4, "", Formula(asked.scope, 4)), [(asked.inputs[0], 0)])

    first = op("blocks.0")
    for answer in (elsewhere, chosen, scoped_formula):
        assert reuse.Template.made(first, answer(first), answer) is None
    # an answer the template cannot give back for the op it was made from
    assert reuse.Template.made(first, split(op("blocks.1")), split) is None
