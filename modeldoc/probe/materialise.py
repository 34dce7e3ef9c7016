"""Real tensors for a model on the meta device: its weights materialised on the CPU, within a memory budget.

A model built under ``torch.device("meta")`` holds no values, so a pass that needs them cannot run
on it. When its parameters and buffers fit in the probe's memory budget (``--probe-memory``; by
default `default_budget`), each tensor object gets a CPU tensor of the same shape and dtype,
filled deterministically (seed 0, the caller's random state left as it was): small random numbers
first (N(0, 0.02) for parameters, zeros for buffers), then the model's own initialisation where it
has one (Hugging Face's ``initialize_weights``, which also sets buffers such as position ids and
rotary frequencies; ``reset_parameters`` of torch's own layers otherwise). A pass then runs on
them in place of the meta tensors (`modeldoc.probe.run.Runner` with ``weights``), and they are
dropped with that runner. The user's model keeps its meta tensors: the initialisation runs with
the CPU tensors lent into its slots, and every slot and attribute is put back afterwards.
"""

from __future__ import annotations

import contextlib
import os
import resource
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from modeldoc.probe import guard
from modeldoc.probe.deadline import Budget
from modeldoc.probe.run import lent, size_text, tensors_of

DEFAULT_BUDGET = 4 * 1024**3
"""The most a materialised copy may take by default (4 GiB), when the machine has that to spare."""
INIT_STD = 0.02
"""The standard deviation of the random parameters before the model's own initialisation."""


@dataclass(frozen=True)
class Refused:
    """Why a model's weights were not materialised: one phrase for the page."""

    reason: str


def default_budget() -> int:
    """The default memory budget: the smaller of 4 GiB and half of what this process may still use.

    What it may use is the memory the machine has available (``MemAvailable``) and, under an
    address-space limit (``ulimit -v``), what is left of that limit.
    """
    limits = [DEFAULT_BUDGET]
    available = _available_bytes()
    if available is not None:
        limits.append(available // 2)
    address, _ = resource.getrlimit(resource.RLIMIT_AS)
    used = _address_space_bytes()
    if address not in (resource.RLIM_INFINITY, -1) and used is not None:
        limits.append(max(0, address - used) // 2)
    return max(0, min(limits))


def weights_bytes(tree: guard.Tree) -> int:
    """The bytes of every parameter and buffer of `tree`, each tensor object once."""
    return sum(t.numel() * t.element_size() for t in tensors_of(tree))


def materialise(
    module: nn.Module, tree: guard.Tree, *, limit: int, extra: int, budget: Budget
) -> dict[int, torch.Tensor] | Refused:
    """A CPU tensor for each parameter and buffer of `module` (by the id of the meta tensor), or why not.

    `limit` is the memory budget in bytes and `extra` what the pass needs beside the weights
    (the example inputs). Nothing is allocated when the two do not fit.
    """
    need = weights_bytes(tree)
    if need + extra > limit:
        return Refused(
            f"its weights take {size_text(need)}, more than the probe's memory budget of {size_text(limit)} "
            "(raise it with --probe-memory to run a real pass on a materialised copy)"
        )
    tensors = tensors_of(tree)
    with _seeded():
        try:
            weights = {id(t): _filled(t) for t in tensors}
        except (MemoryError, RuntimeError) as err:
            return Refused(f"materialising its {size_text(need)} of weights failed ({guard.describe_error(err)})")
        initialised = _initialise(module, tree, weights, budget)
    if isinstance(initialised, Refused):
        return initialised
    return weights


def _filled(tensor: torch.Tensor) -> torch.Tensor:
    """A CPU tensor like `tensor`: N(0, 0.02) for a floating parameter, zeros otherwise."""
    real = torch.zeros(tuple(tensor.shape), dtype=tensor.dtype, device="cpu")
    if isinstance(tensor, nn.Parameter) and (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
        real.normal_(0.0, INIT_STD)
    return real


def _initialise(
    module: nn.Module, tree: guard.Tree, weights: dict[int, torch.Tensor], budget: Budget
) -> Refused | None:
    """Run the model's own initialisation on `weights` (lent into its slots), keeping what it wrote."""
    modules = tree.modules()
    initialise = getattr(type(module), "initialize_weights", None)
    with lent(modules, weights) as slots, torch.no_grad():
        for sub in modules:
            if getattr(sub, "__dict__", {}).get("_is_hf_initialized"):
                sub.__dict__["_is_hf_initialized"] = False  # put back with the rest when the slots are
        if callable(initialise):
            done = guard.attempt(lambda: _armed(budget, lambda: initialise(module)), "the model's initialize_weights()")
            if isinstance(done, guard.Failed):
                return Refused(f"its own initialisation failed: {done.sentence()}")
        else:
            for sub in modules:
                reset = getattr(sub, "reset_parameters", None)
                if type(sub).__module__.startswith("torch.nn.") and callable(reset):
                    guard.attempt(reset, "reset_parameters()")
        # The initialisation may have put new tensors in the slots rather than filled ours.
        for key, slot in slots.items():
            now = slot()
            if isinstance(now, torch.Tensor) and now.shape == weights[key].shape and not now.is_meta:
                weights[key] = now.detach()
    return None


def _armed(budget: Budget, call: object) -> None:
    with budget.armed():
        call()  # type: ignore[operator]


@contextlib.contextmanager
def _seeded() -> Iterator[None]:
    """Random numbers from seed 0, with the caller's random state put back afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        yield


def _available_bytes() -> int | None:
    """``MemAvailable`` from ``/proc/meminfo``, else the physical memory; None when neither is known."""
    try:
        with Path("/proc/meminfo").open(encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _address_space_bytes() -> int | None:
    """The virtual memory this process uses now (``VmSize``), when the system says."""
    try:
        with Path("/proc/self/status").open(encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
