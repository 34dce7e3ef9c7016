"""Random architectures from a seeded generator, for tests/test_random_models.py (and the JSON round trip).

Layers (Linear, Conv1d, BatchNorm, LayerNorm, activations, Embedding, LSTM) placed in random nests
of Sequential, ModuleList and ModuleDict, with modules registered under two names, tied weights,
frozen parameters, buffers, mixed train/eval flags, the user's own forward hooks, and steps that
only run with real values (so the probe falls back to a real pass).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from modeldoc import pipeline
from modeldoc.options import InputOption, ModelOptions
from modeldoc.spec import ModelSpec

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


# --------------------------------------------------------------------------- a real forward, for reference


def real_forward(model: nn.Module, example: torch.Tensor) -> tuple[dict[str, tuple[int, ...]], tuple[int, ...]] | None:
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


def example_tensor(option: InputOption) -> torch.Tensor:
    if option.dtype == "long":
        return torch.ones(option.shape, dtype=torch.long)
    return torch.randn(option.shape)


def describe_random(model: nn.Module, option: InputOption) -> ModelSpec:
    options = ModelOptions(target="tests.random_models:RandomNet", inputs=(option,), probe_timeout=0)
    return pipeline.describe_module(model, options)
