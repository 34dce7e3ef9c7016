"""Random architectures, described and checked against the model itself and a real CPU forward.

Each model comes from a seeded generator: layers (Linear, Conv1d, BatchNorm, LayerNorm,
activations, Embedding, LSTM) placed in random nests of Sequential, ModuleList and ModuleDict,
with modules registered under two names, tied weights, frozen parameters, buffers, mixed
train/eval flags, the user's own forward hooks, and steps that only run with real values (so
the probe falls back to a real pass). After `modeldoc` describes a model, every parameter and
buffer must be the same object with the same device, dtype, requires_grad and values, and every
module's training flag, hooks and attributes must be as they were; the counts must equal torch's
and the shapes those of a real forward pass on the CPU.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
import torch
from torch import nn

from modeldoc import pipeline
from modeldoc.options import InputOption, ModelOptions
from modeldoc.spec import ModelSpec

FAST = 60
SLOW = 400


# --------------------------------------------------------------------------- the generator


@dataclass
class _Step:
    kind: str
    module: nn.Module | None = None


class RandomNet(nn.Module):
    """A model whose forward runs a generated program of steps over modules kept in `body`."""

    def __init__(self, body: nn.Module, program: list[_Step]) -> None:
        super().__init__()
        self.body = body
        self.program = program

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for step in self.program:
            x = _run_step(step, x)
        return x


def _run_step(step: _Step, x: torch.Tensor) -> torch.Tensor:
    module = step.module
    if step.kind == "call":
        assert module is not None
        return module(x)
    if step.kind == "channels":  # a layer that wants (N, C, L): BatchNorm1d or Conv1d on a sequence
        assert module is not None
        return module(x.transpose(1, 2)).transpose(1, 2)
    if step.kind == "lstm":
        assert module is not None
        return module(x)[0]
    if step.kind == "pool":
        return x.mean(dim=1)
    if step.kind == "residual":
        assert module is not None
        return x + module(x)
    if step.kind == "real":  # needs real values: fails on the meta device
        return x * (2.0 if float(x.float().mean().item()) > -1e9 else 1.0)
    raise AssertionError(step.kind)


class _Builder:
    """Builds one random model from a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.containers: list[nn.Module] = []
        self.program: list[_Step] = []
        self.square: list[nn.Linear] = []
        self.names = 0

    def container(self) -> nn.Module:
        kind = self.rng.choice(["seq", "list", "dict"])
        return {"seq": nn.Sequential, "list": nn.ModuleList, "dict": nn.ModuleDict}[kind]()

    def place(self, module: nn.Module) -> None:
        """Register `module` in a random container (a new nested one now and then)."""
        if self.rng.random() < 0.25:
            nested = self.container()
            self.place(nested)
            self.containers.append(nested)
        holder = self.rng.choice(self.containers)
        self.names += 1
        if isinstance(holder, nn.ModuleDict):
            holder[f"m{self.names}"] = module
        elif isinstance(holder, nn.ModuleList):
            holder.append(module)
        else:
            holder.add_module(str(len(holder)), module)

    def build(self) -> tuple[RandomNet, InputOption]:
        rng = self.rng
        body = self.container()
        self.containers = [body]
        tokens = rng.random() < 0.35
        width = rng.choice([3, 4, 6, 8])
        if tokens:
            embed = nn.Embedding(rng.choice([5, 11]), width)
            self.place(embed)
            self.program.append(_Step("call", embed))
            rank, shape = 3, (2, rng.choice([3, 5]))
        else:
            rank = rng.choice([2, 3])
            shape = (2, width) if rank == 2 else (2, rng.choice([3, 5]), width)
        for _ in range(rng.randint(2, 9)):
            width, rank = self.step(width, rank)
        self.extras()
        model = RandomNet(body, self.program)
        names = ("N",) + ("",) * (len(shape) - 1) if rng.random() < 0.3 else ("",) * len(shape)
        return model, InputOption(shape=shape, dtype="long" if tokens else "float32", axis_names=names)

    def step(self, width: int, rank: int) -> tuple[int, int]:  # noqa: PLR0911 - one return per kind of step
        rng = self.rng
        choice = rng.choice(
            ["linear", "linear", "norm", "bn", "act", "act", "conv", "lstm", "shared", "tied", "pool", "real"]
        )
        if choice == "linear":
            out = rng.choice([2, 3, 4, 6, 8])
            layer = nn.Linear(width, out, bias=rng.random() < 0.7)
            self.place(layer)
            self.program.append(_Step("call", layer))
            return out, rank
        if choice == "norm":
            norm = nn.LayerNorm(width, elementwise_affine=rng.random() < 0.8)
            self.place(norm)
            self.program.append(_Step("call", norm))
            return width, rank
        if choice == "bn":
            bn = nn.BatchNorm1d(width, track_running_stats=rng.random() < 0.8)
            with torch.no_grad():
                if bn.running_mean is not None:
                    bn.running_mean.uniform_(-1, 1)
            self.place(bn)
            self.program.append(_Step("call" if rank == 2 else "channels", bn))
            return width, rank
        if choice == "act":
            act = rng.choice([nn.ReLU, nn.GELU, nn.Tanh, nn.SiLU, nn.Identity, lambda: nn.Dropout(0.2)])()
            self.place(act)
            self.program.append(_Step("call", act))
            return width, rank
        if choice == "conv" and rank == 3:
            out, kernel = rng.choice([2, 4, 6]), rng.choice([1, 3])
            conv = nn.Conv1d(width, out, kernel, padding=kernel // 2)
            self.place(conv)
            self.program.append(_Step("channels", conv))
            return out, rank
        if choice == "lstm" and rank == 3:
            hidden, both = rng.choice([2, 3, 4]), rng.random() < 0.5
            lstm = nn.LSTM(width, hidden, num_layers=rng.choice([1, 2]), batch_first=True, bidirectional=both)
            self.place(lstm)
            self.program.append(_Step("lstm", lstm))
            return hidden * (2 if both else 1), rank
        if choice == "shared":  # one module registered under two names and called twice
            square = nn.Linear(width, width)
            self.place(square)
            self.place(square)
            self.square.append(square)
            self.program += [_Step("residual", square), _Step("call", square)]
            return width, rank
        if choice == "tied":
            first, second = nn.Linear(width, width), nn.Linear(width, width, bias=False)
            second.weight = first.weight
            self.place(first)
            self.place(second)
            self.program += [_Step("call", first), _Step("call", second)]
            return width, rank
        if choice == "pool" and rank == 3:
            self.program.append(_Step("pool"))
            return width, 2
        if choice == "real":
            self.program.append(_Step("real"))
            return width, rank
        return width, rank

    def extras(self) -> None:
        """Frozen parameters, buffers, mixed train/eval flags and the user's own hooks."""
        rng = self.rng
        modules = list(self.containers[0].modules())
        for module in modules:
            for parameter in module.parameters(recurse=False):
                if rng.random() < 0.2:
                    parameter.requires_grad_(False)
            if rng.random() < 0.15:
                module.register_buffer(f"extra{self.names}", torch.randn(3), persistent=rng.random() < 0.5)
            if rng.random() < 0.3:
                module.train(rng.random() < 0.5)
            if rng.random() < 0.15:
                module.register_forward_hook(_user_hook)
            if rng.random() < 0.1:
                module.register_forward_pre_hook(_user_pre_hook)


USER_CALLS: list[str] = []


def _user_hook(module: nn.Module, args: Any, output: Any) -> None:
    USER_CALLS.append(type(module).__name__)


def _user_pre_hook(module: nn.Module, args: Any) -> None:
    USER_CALLS.append("pre " + type(module).__name__)


def random_model(seed: int) -> tuple[RandomNet, InputOption]:
    """The random model and example input of `seed`."""
    return _Builder(seed).build()


# --------------------------------------------------------------------------- what "untouched" means


_HOOKS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_pre_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)


def all_modules(model: nn.Module) -> list[nn.Module]:
    """Every module reachable through `_modules`, once (unlike ``modules()``, safe on odd trees)."""
    found: dict[int, nn.Module] = {}
    stack = [model]
    while stack:
        module = stack.pop()
        if id(module) in found:
            continue
        found[id(module)] = module
        stack.extend(child for _, child in vars(module)["_modules"].items() if isinstance(child, nn.Module))
    return list(found.values())


@dataclass
class Snapshot:
    """Everything about a model that describing it must leave as it was."""

    slots: list[tuple[int, str, str, torch.Tensor | None, dict[str, Any]]] = field(default_factory=list)
    modules: list[tuple[nn.Module, bool, frozenset[str], dict[str, list[tuple[int, Any]]]]] = field(
        default_factory=list
    )

    @classmethod
    def take(cls, model: nn.Module) -> Snapshot:
        snap = cls()
        for module in all_modules(model):
            for store in ("_parameters", "_buffers", "_modules"):
                for name, value in getattr(module, store).items():
                    facts: dict[str, Any] = {}
                    if isinstance(value, torch.Tensor):
                        facts = {
                            "device": value.device,
                            "dtype": value.dtype,
                            "requires_grad": value.requires_grad,
                            "type": type(value),
                            "values": value.detach().clone(),
                        }
                    snap.slots.append((id(module), store, name, value, facts))
            hooks = {name: list(getattr(module, name).items()) for name in _HOOKS if hasattr(module, name)}
            snap.modules.append((module, module.training, frozenset(vars(module)), hooks))
        return snap

    def problems(self, model: nn.Module) -> list[str]:
        """What differs now from when the snapshot was taken (empty when nothing)."""
        out = []
        by_id = {id(m): m for m in all_modules(model)}
        for module_id, store, name, value, facts in self.slots:
            module = by_id.get(module_id)
            now = dict(getattr(module, store).items()).get(name, "missing") if module is not None else "module gone"
            if now is not value:
                out.append(f"{store}[{name!r}] of {type(module).__name__} is another object")
                continue
            if isinstance(value, torch.Tensor):
                if value.device != facts["device"] or value.dtype != facts["dtype"] or type(value) is not facts["type"]:
                    out.append(f"{name}: device, dtype or type changed")
                if value.requires_grad != facts["requires_grad"]:
                    out.append(f"{name}: requires_grad changed")
                same_place = value.device == facts["values"].device and not value.is_meta
                if same_place and not torch.equal(value.detach(), facts["values"]):
                    out.append(f"{name}: values changed")
        for module, training, attrs, hooks in self.modules:
            if module.training != training:
                out.append(f"{type(module).__name__}: training flag changed")
            if frozenset(vars(module)) != attrs:
                out.append(f"{type(module).__name__}: attributes {sorted(frozenset(vars(module)) ^ attrs)} changed")
            for hook_name, items in hooks.items():
                if list(getattr(module, hook_name).items()) != items:
                    out.append(f"{type(module).__name__}: {hook_name} changed")
        return out


# --------------------------------------------------------------------------- a real forward, for reference


def _real_forward(model: nn.Module, example: torch.Tensor) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]] | None:
    """First-call output shapes by path and the output shape, from a CPU forward of a copy; None if it fails."""
    twin = copy.deepcopy(model)
    twin.eval()
    seen: dict[str, tuple[int, ...]] = {}
    handles = []
    for path, module in twin.named_modules():

        def record(module: nn.Module, args: Any, output: Any, path: str = path) -> None:
            tensor = output[0] if isinstance(output, tuple) else output
            if isinstance(tensor, torch.Tensor):
                seen.setdefault(path, tuple(tensor.shape))

        handles.append(module.register_forward_hook(record))
    try:
        with torch.no_grad():
            output = twin(example)
    except Exception:
        return None
    finally:
        for handle in handles:
            handle.remove()
    return seen, tuple(output.shape)


def _example_tensor(option: InputOption) -> torch.Tensor:
    if option.dtype == "long":
        return torch.ones(option.shape, dtype=torch.long)
    return torch.randn(option.shape)


def _describe(model: nn.Module, option: InputOption) -> ModelSpec:
    options = ModelOptions(target="tests.test_random_models:RandomNet", inputs=(option,), probe_timeout=0)
    return pipeline.describe_module(model, options)


def check_one(seed: int) -> None:
    """Describe the model of `seed` and check everything the module docstring promises."""
    model, option = random_model(seed)
    snapshot = Snapshot.take(model)
    spec = _describe(model, option)
    problems = snapshot.problems(model)
    assert not problems, f"seed {seed}: the model was changed: {problems[:5]}"
    unique = list(model.parameters())
    assert spec.total_params == sum(p.numel() for p in unique), seed
    assert spec.trainable_params == sum(p.numel() for p in unique if p.requires_grad), seed
    counted = sum(p.numel for layer in spec.all_layers for p in layer.parameters if p.counted and not p.is_buffer)
    assert counted == spec.total_params, seed
    reference = _real_forward(model, _example_tensor(option))
    assert reference is not None, f"seed {seed}: the generator made a model that does not run"
    shapes, output = reference
    assert spec.trace is not None and spec.trace.complete, (seed, spec.probe_error)
    assert spec.outputs[0].shape == output, seed
    assert {layer.path for layer in spec.all_layers if layer.calls} == set(shapes), seed
    for layer in spec.all_layers:
        if layer.calls:
            assert layer.output_shapes[0] == shapes[layer.path], (seed, layer.path)


def _fast_seeds() -> list[int]:
    return list(range(FAST))


@pytest.mark.parametrize("seed", _fast_seeds())
def test_random_model_is_untouched_and_matches_a_real_forward(seed: int) -> None:
    check_one(seed)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(FAST, SLOW))
def test_many_random_models_are_untouched_and_match_a_real_forward(seed: int) -> None:
    check_one(seed)


def test_the_generator_makes_every_hostile_feature() -> None:
    """The fast seeds cover shared modules, ties, frozen parameters, buffers, hooks, flags and fallbacks."""
    seen: dict[str, int] = {}
    for seed in _fast_seeds():
        model, option = random_model(seed)
        modules = list(model.modules())
        weights = [m.weight for m in modules if isinstance(m, nn.Linear)]
        found = {
            "registered twice": len(list(model.named_modules(remove_duplicate=False))) > len(modules),
            "tied": len({id(w) for w in weights}) < len(weights),
            "frozen": any(not p.requires_grad for p in model.parameters()),
            "buffers": any(True for _ in model.buffers()),
            "hooks": any(m._forward_hooks or m._forward_pre_hooks for m in modules),
            "train and eval": len({m.training for m in modules}) == 2,
            "needs real values": any(step.kind == "real" for step in model.program),
            "token ids": option.dtype == "long",
            "lstm": any(isinstance(m, nn.LSTM) for m in modules),
        }
        for name, present in found.items():
            seen[name] = seen.get(name, 0) + int(present)
    assert all(n >= 3 for n in seen.values()), seen
