"""Quicker paths for each call of a pass, each the same description as the long way.

- `record.DIRECT_CALLS`: torch's own C calls that construct nothing, on plain tensors, are made
  at once rather than through the default device's mode, when no other mode is in effect;
- `run.DIRECT_HOOKS`: the recorder's hooks go straight into each module's hook tables;
- `resolve.FAST_SPECS`: op and tensor specs are made without their frozen ``__init__``;
- `meta_kernels.REMEMBER_LAYOUTS`: an elementwise op's answer on operands of sizes, strides
  and dtypes seen before is the one worked out then;
- `values.EMPTY_AT_ONCE`: an op whose outputs are all empty (a generation cache's first keys)
  gets empty shadows without running it on the CPU;
- `record.FUNCTION_FACTS`: what the recorder reads of each torch function (its name, where it
  lives, whether its dtypes are checked, whether it may be called at once) is worked out once;
- `record.METADATA_AT_ONCE`: a read of a plain tensor's sizes, dtype or device is made at once
  (it makes no tensor, so nothing of it is recorded either way).

Each model is described with every switch off and on, and the JSON must be equal byte for byte;
the tests after that show each switch takes effect, and where it must not (a tensor subclass
with its own handler, a function mode of the user's).
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils import _device

from modeldoc.probe import meta_kernels, record, resolve, run, values
from tests.helpers.compare import bench_model
from tests.helpers.specs import describe_live, spec_of
from tests.test_probe_bookkeeping import LLAMA, MadeInside, assert_same
from tests.test_probe_meta_references import make_binary, make_pow, make_rotary, make_unary

SWITCHES = (
    (record, "DIRECT_CALLS"),
    (run, "DIRECT_HOOKS"),
    (resolve, "FAST_SPECS"),
    (meta_kernels, "REMEMBER_LAYOUTS"),
    (values, "EMPTY_AT_ONCE"),
    (record, "FUNCTION_FACTS"),
    (record, "METADATA_AT_ONCE"),
)


def switched(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    for module, name in SWITCHES:
        monkeypatch.setattr(module, name, on)
    meta_kernels._LAYOUTS.clear()
    record._FUNCTIONS.clear()


def both(describe: Any, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """The JSON description the long way, then with every quicker path."""
    texts = []
    for on in (False, True):
        switched(on, monkeypatch)
        texts.append(json.dumps(describe().to_json(), sort_keys=True))
    return texts[0], texts[1]


class Hooked(nn.Module):
    """Blocks with hooks of the model's own: a pre-hook that computes, a hook that changes the output;
    a frozen block, and an output layer tied to the embedding."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(40, 12)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(12, 24), nn.GELU(), nn.Linear(24, 12)) for _ in range(4))
        self.blocks[2].requires_grad_(False)
        self.head = nn.Linear(12, 40, bias=False)
        self.head.weight = self.embed.weight
        self.blocks[1].register_forward_pre_hook(lambda module, args: (args[0] * 2,))
        self.blocks[3].register_forward_hook(lambda module, args, output: output.tanh())

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        for block in self.blocks:
            x = x + block(x)
        return self.head(x)


@pytest.mark.parametrize("device", ["meta", "cpu"])
@pytest.mark.parametrize("make", [MadeInside, Hooked], ids=["made-inside", "hooked"])
def test_a_live_model_is_described_the_same(device: str, make: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    torch.manual_seed(0)
    model = make().eval()
    before, after = both(
        lambda: describe_live(model, "ids:1,L=6", input_dtype="long", probe_device=device), monkeypatch
    )
    assert_same(before, after)
    assert json.loads(after)["trace"]["complete"]


@pytest.mark.parametrize("name", ["llama", "gpt2", "resnet", "lstm"])
def test_the_benchmark_models_on_meta_are_described_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    model = bench_model(name, layers=6) if name == "llama" else bench_model(name)
    shape, dtype = ("1,3,64,64", "float32") if name == "resnet" else ("1,L=16", "long")
    before, after = both(lambda: describe_live(model, shape, input_dtype=dtype), monkeypatch)
    assert_same(before, after)
    assert json.loads(after)["trace"]["complete"]


@pytest.mark.parametrize(
    ("target", "config"),
    [
        pytest.param("transformers:LlamaConfig", LLAMA, id="llama"),
        pytest.param("transformers:GPT2Config", {"n_embd": 32, "n_layer": 3, "n_head": 4, "vocab_size": 64}, id="gpt2"),
        pytest.param(
            "transformers:MixtralConfig", {**LLAMA, "num_local_experts": 4, "num_experts_per_tok": 2}, id="mixtral"
        ),
        pytest.param("transformers:T5Config", {"d_model": 32, "d_ff": 48, "num_layers": 2, "num_heads": 4}, id="t5"),
    ],
)
def test_a_transformers_model_is_described_the_same(
    target: str, config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("transformers")
    before, after = both(lambda: spec_of(target, "input_ids:1,L=8", input_dtype="long", kwargs=config), monkeypatch)
    assert_same(before, after)
    assert json.loads(after)["trace"]["complete"]


def counted_device_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    seen = {"calls": 0}
    real = _device.DeviceContext.__torch_function__

    def counted(self: Any, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        seen["calls"] += 1
        return real(self, func, types, args, kwargs)

    monkeypatch.setattr(_device.DeviceContext, "__torch_function__", counted)
    return seen


def test_direct_calls_skip_the_devices_mode_but_not_its_constructors(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = counted_device_calls(monkeypatch)
    model = MadeInside().eval()
    counts = []
    for on in (False, True):
        monkeypatch.setattr(record, "DIRECT_CALLS", on)
        seen["calls"] = 0
        spec = describe_live(model, "ids:1,L=6", input_dtype="long", probe_device="meta")
        counts.append(seen["calls"])
    before, after = counts
    assert after < before
    assert after > 0  # torch.arange, torch.zeros, torch.ones still get the pass's device from it
    assert spec.trace.complete


class Marked(torch.Tensor):
    """A tensor subclass with a handler of its own: it counts the calls it sees."""

    calls = 0

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        cls.calls += 1
        return super().__torch_function__(func, types, args, kwargs or {})


class TakesMarked(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.as_subclass(Marked)
        return self.proj(y.transpose(0, 1).reshape(4, 8).contiguous())


def test_a_tensor_subclass_with_its_own_handler_still_sees_its_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    model = TakesMarked().eval()
    counts, texts = [], []
    for on in (False, True):
        monkeypatch.setattr(record, "DIRECT_CALLS", on)
        Marked.calls = 0
        texts.append(json.dumps(describe_live(model, "x:4,8", probe_device="meta").to_json(), sort_keys=True))
        counts.append(Marked.calls)
    assert counts[0] == counts[1] > 0
    assert_same(*texts)


class Doubling(TorchFunctionMode):
    """A user's mode that changes what transposes return: a direct call would skip it."""

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        return out * 2 if func is torch.Tensor.transpose else out


def test_a_function_mode_of_the_users_turns_the_direct_calls_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "DIRECT_CALLS", True)
    entered: list[bool] = []
    real_enter = record.Recorder.__enter__

    def enter(self: record.Recorder) -> record.Recorder:
        made = real_enter(self)
        entered.append(self.direct)
        return made

    monkeypatch.setattr(record.Recorder, "__enter__", enter)
    model = TakesMarked().eval()
    describe_live(model, "x:4,8", probe_device="meta")
    assert entered and all(entered)  # alone under the device's mode: direct
    entered.clear()
    with Doubling():
        describe_live(model, "x:4,8", probe_device="meta")
    assert entered and not any(entered)


def hook_tables(model: nn.Module) -> Iterator[tuple[str, dict[int, Any]]]:
    for path, sub in model.named_modules():
        for name in run._HOOK_TABLES:
            yield f"{path}.{name}", sub.__dict__[name]


def test_direct_hooks_leave_every_hook_table_as_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run, "DIRECT_HOOKS", True)
    model = Hooked().eval()
    before = {place: (table, dict(table)) for place, table in hook_tables(model)}
    assert any(entries for _, entries in before.values())  # the model's own hooks are there
    for device in ("meta", "cpu"):
        describe_live(model, "ids:1,L=6", input_dtype="long", probe_device=device)
        for place, table in hook_tables(model):
            was, entries = before[place]
            assert table is was and list(table.items()) == list(entries.items()), place


def test_direct_hooks_run_first_and_last_as_registered_hooks_do() -> None:
    """The recorder's hooks put straight in: its pre-hook before the model's own, its hook after."""
    order: list[str] = []
    layer = nn.Linear(2, 2)
    layer.register_forward_pre_hook(lambda module, args: order.append("own pre"))
    layer.register_forward_hook(lambda module, args, output: order.append("own post"))
    handles: list[Any] = []
    placed: list[tuple[dict[int, Any], int]] = []
    run._hook(
        [layer],
        lambda module, args, kwargs: order.append("pre"),
        lambda module, args, kwargs, output: order.append("post"),
        handles,
        placed,
    )
    layer(torch.zeros(1, 2))
    assert order == ["pre", "own pre", "own post", "post"]
    assert not handles and len(placed) == 4
    for table, key in placed:
        del table[key]
    order.clear()
    layer(torch.zeros(1, 2))
    assert order == ["own pre", "own post"]


def test_fast_specs_are_the_specs_their_init_makes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolve, "FAST_SPECS", True)
    spec = describe_live(Hooked().eval(), "ids:1,L=6", input_dtype="long", probe_device="meta")
    made = [*spec.trace.ops, *spec.trace.module_calls, *spec.trace.tensors]
    assert len(made) > 50
    for item in made:
        names = {f.name for f in dataclasses.fields(item)}
        assert set(vars(item)) == names
        assert item == type(item)(**vars(item))


def test_a_remembered_elementwise_answer_is_what_torchs_meta_path_gives() -> None:
    """Each call twice (the second answered from what the first worked out), against torch's meta path."""
    meta_kernels._LAYOUTS.clear()
    rng = random.Random("remembered")
    answered = calls = 0
    for make in (make_binary, make_pow, make_unary, make_rotary) * 100:
        func, args, kwargs = make(rng)
        try:
            real = func(*args, **kwargs)
        except RuntimeError:
            real = None
        for _ in range(2):
            calls += 1
            answer = meta_kernels.answer_from_shapes(func, args, kwargs)
            if real is None:
                assert answer is None
            elif answer is not None:
                answered += 1
                got = (answer.shape, answer.stride(), answer.dtype, answer.device)
                assert got == (real.shape, real.stride(), real.dtype, real.device)
    assert answered >= 300
    assert 0 < len(meta_kernels._LAYOUTS) < calls / 2  # the second calls were remembered ones


class RegistersItsOwnWay(nn.Linear):
    """Counts the hooks registered on it (a wrapper that forwards them elsewhere would too)."""

    registered = 0

    def register_forward_pre_hook(self, hook: Any, **kwargs: Any) -> Any:
        type(self).registered += 1
        return super().register_forward_pre_hook(hook, **kwargs)


def test_a_module_that_registers_hooks_its_own_way_is_hooked_through_its_own_call(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run, "DIRECT_HOOKS", True)
    RegistersItsOwnWay.registered = 0
    spec = describe_live(nn.Sequential(nn.Linear(4, 4), RegistersItsOwnWay(4, 2)), "N=2,4", probe_device="meta")
    assert spec.trace is not None and spec.trace.complete
    assert RegistersItsOwnWay.registered >= 1  # once per pass


def test_an_empty_output_gets_an_empty_shadow_without_running_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[Any] = []
    real = values.with_modes

    def counted(func: Any, /, *args: Any, **kwargs: Any) -> Any:
        ran.append(func)
        return real(func, *args, **kwargs)

    monkeypatch.setattr(values, "with_modes", counted)
    for at_once in (False, True):
        monkeypatch.setattr(values, "EMPTY_AT_ONCE", at_once)
        ran.clear()
        known = values.Values()

        def on_meta() -> torch.Tensor:
            return torch.tensor([], dtype=torch.bfloat16, device="meta")

        out = known.call(torch.tensor, ([],), {"dtype": torch.bfloat16}, on_meta)
        shadow = known.shadow(out)
        assert shadow is not None and not shadow.is_meta
        assert (tuple(shadow.shape), shadow.dtype) == ((0,), torch.bfloat16)
        assert ran == ([] if at_once else [torch.tensor])


def test_each_functions_facts_are_worked_out_once_and_are_those_of_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "FUNCTION_FACTS", True)
    record._FUNCTIONS.clear()
    worked_out: list[Any] = []
    real = record._facts_of

    def counted(func: Any) -> record.FunctionFacts:
        worked_out.append(func)
        return real(func)

    asked: list[Any] = []
    real_ask = record.function_facts

    def ask(func: Any) -> record.FunctionFacts:
        asked.append(func)
        return real_ask(func)

    monkeypatch.setattr(record, "_facts_of", counted)
    monkeypatch.setattr(record, "function_facts", ask)
    model = Hooked().eval()
    spec = describe_live(model, "ids:1,L=6", input_dtype="long", probe_device="meta")
    assert spec.trace is not None and spec.trace.complete
    # each function once, though the four blocks call linear, gelu and add again and again
    assert len(worked_out) == len(set(worked_out)) == len(record._FUNCTIONS) > 3
    assert len(asked) > 2 * len(worked_out)
    assert set(asked) == set(worked_out)
    for func, facts in record._FUNCTIONS.items():
        assert facts == real(func)
        assert facts.checked == meta_kernels.dtypes_checked(facts.name)
    assert record._FUNCTIONS[F.linear].checked  # linear's operands must share a dtype
    assert not record._FUNCTIONS[torch.Tensor.add].checked


def test_the_kept_facts_are_emptied_when_full_and_an_unhashable_function_is_worked_out_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(record, "FUNCTION_FACTS", True)
    monkeypatch.setattr(record, "_MOST_FUNCTIONS", 3)
    record._FUNCTIONS.clear()
    for func in (torch.add, torch.mul, torch.sub):
        record.function_facts(func)
    assert len(record._FUNCTIONS) == 3
    assert record.function_facts(torch.div).name == "div"
    assert list(record._FUNCTIONS) == [torch.div]

    class Unhashable:
        __hash__ = None  # type: ignore[assignment]
        __name__ = "odd_"

        def __call__(self) -> None: ...

    assert record.function_facts(Unhashable()).name == "odd_"
    assert list(record._FUNCTIONS) == [torch.div]
    record._FUNCTIONS.clear()


def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The reads `Recorder.__torch_function__` made at once, as they happen (the function of each)."""
    made: list[Any] = []
    real = record._metadata_arguments

    def counted(args: tuple[Any, ...]) -> bool:
        plain = real(args)
        if plain:
            made.append(args)
        return plain

    monkeypatch.setattr(record, "_metadata_arguments", counted)
    return made


def test_reads_of_sizes_dtypes_and_devices_are_made_at_once_on_the_meta_device(monkeypatch: pytest.MonkeyPatch) -> None:
    made = counted_reads(monkeypatch)
    monkeypatch.setattr(record, "METADATA_AT_ONCE", True)
    spec = describe_live(bench_model("gpt2"), "1,L=8", input_dtype="long")
    assert spec.trace is not None and spec.trace.complete
    assert len(made) > 20  # GPT-2's Conv1D reads x.size() in every call
    made.clear()
    monkeypatch.setattr(record, "METADATA_AT_ONCE", False)
    describe_live(bench_model("gpt2"), "1,L=8", input_dtype="long")
    assert made == []


class ReadsBadAxis(nn.Module):
    """A forward that asks for an axis its input does not have: the failure is recorded as before."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).reshape(x.size(0), x.size(5))


def test_a_read_that_raises_is_recorded_as_the_failure_it_was(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = []
    for on in (False, True):
        monkeypatch.setattr(record, "METADATA_AT_ONCE", on)
        spec = describe_live(ReadsBadAxis().eval(), "x:2,4", probe_device="meta")
        assert spec.trace is not None and not spec.trace.complete
        assert "size" in spec.trace.error
        texts.append(json.dumps(spec.to_json(), sort_keys=True))
    assert_same(*texts)


def test_reads_by_a_tensor_subclass_or_under_a_users_mode_take_the_long_way(monkeypatch: pytest.MonkeyPatch) -> None:
    made = counted_reads(monkeypatch)
    monkeypatch.setattr(record, "METADATA_AT_ONCE", True)
    recorder = record.Recorder({}, {}, meta=True)
    marked = torch.empty(2, 3, device="meta").as_subclass(Marked)
    with recorder:
        Marked.calls = 0
        assert marked.shape == (2, 3)
    assert Marked.calls == 1 and made == []  # the subclass's own handler still saw its read
    with Doubling(), record.Recorder({}, {}, meta=True) as inner:
        assert not inner.reads_at_once
        assert torch.empty(2, 3, device="meta").size(1) == 3
    assert made == []
