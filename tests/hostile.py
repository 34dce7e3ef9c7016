"""Hostile fixture models: each breaks one assumption modeldoc could make about a model.

Module-level instances (upper case) let a test load the very object the CLI describes and
check afterwards that it was left as it came.
"""

from __future__ import annotations

import sys
import time

import torch
from torch import nn


class Small(nn.Module):
    """Two linear layers, the base of most cases below."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.out = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.fc(x)))


# --------------------------------------------------------------------------- the module tree


class ContainsItself(Small):
    """A module registered as its own child: named_modules(remove_duplicate=False) never ends."""

    def __init__(self) -> None:
        super().__init__()
        self._modules["again"] = self


class CallsItself(ContainsItself):
    """A module that contains itself and calls that child: infinite recursion in forward."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.again(x)


def nested(depth: int = 500) -> nn.Module:
    """A Linear inside `depth` Sequentials: print(model) exceeds the recursion limit."""
    module: nn.Module = nn.Linear(4, 4)
    for _ in range(depth):
        module = nn.Sequential(module)
    return module


class SharedTwice(nn.Module):
    """One Linear registered under two names in a Sequential (the case that lost its weights)."""

    def __init__(self) -> None:
        super().__init__()
        shared = nn.Linear(4, 4)
        self.seq = nn.Sequential(shared, nn.ReLU(), shared)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.seq(x)


class NotAModuleInside(Small):
    """`_modules` holding a value that is not a module."""

    def __init__(self) -> None:
        super().__init__()
        self._modules["junk"] = 5  # type: ignore[assignment]


class NoNamedModules(Small):
    """named_modules and modules overridden to raise."""

    def named_modules(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("named_modules is not for you")

    def modules(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("modules is not for you")


# --------------------------------------------------------------------------- reading the model


class ReprRaises(Small):
    """The model's own __repr__ raises."""

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


class ExtraReprRaises(nn.Linear):
    """A leaf whose extra_repr raises (so its repr does)."""

    def extra_repr(self) -> str:
        raise ValueError("extra_repr exploded")


class WithBadLeaf(Small):
    """A model with a leaf whose repr raises, a container whose extra_repr raises, and a bad _get_name."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = ExtraReprRaises(4, 4)
        self.block = BadHeader()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.block(self.fc(x))))


class BadHeader(nn.Module):
    """A container whose extra_repr returns no string and whose _get_name raises."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Identity()

    def extra_repr(self) -> str:
        return 42  # type: ignore[return-value]

    def _get_name(self) -> str:
        raise RuntimeError("no name")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x)


class PropertyRaises(nn.Module):
    """A constructor argument whose attribute is a property that raises."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.fc = nn.Linear(4, width)

    @property
    def width(self) -> int:
        raise RuntimeError("property exploded")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


class GetattrRaises(Small):
    """A __getattr__ that raises something other than AttributeError for unknown names."""

    def __init__(self, depth: int = 2) -> None:
        super().__init__()

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        try:
            return super().__getattr__(name)
        except AttributeError:
            raise KeyError(f"no {name} here") from None


class _DocProperty(type(nn.Module)):  # type: ignore[misc]
    @property
    def __doc__(cls) -> str:  # type: ignore[override]
        raise RuntimeError("docstring exploded")


class DocRaises(Small, metaclass=_DocProperty):
    pass


class QuantAct(nn.Module):
    """Like IBert's QuantAct: its repr calls .item() on a buffer, which fails on the meta device."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("x_min", torch.zeros(1))
        self.register_buffer("x_max", torch.zeros(1))

    def __repr__(self) -> str:
        return f"QuantAct(min={self.x_min.item():.2f}, max={self.x_max.item():.2f})"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class Quantised(Small):
    def __init__(self) -> None:
        super().__init__()
        self.act = QuantAct()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.act(self.fc(x)))


def quantised_on_meta() -> nn.Module:
    """`Quantised` built on the meta device, as a model too big for memory would be."""
    with torch.device("meta"):
        return Quantised()


def ibert_on_meta() -> nn.Module:
    """Hugging Face's IBertModel (quant mode) from a small config, built on the meta device."""
    from transformers import IBertConfig, IBertModel

    config = IBertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=24
    )
    config.quant_mode = True
    with torch.device("meta"):
        return IBertModel(config)


# --------------------------------------------------------------------------- names Graphviz and pages must carry

STRANGE_NAMES = [
    "",
    " ",
    "\t",
    "\\",
    "\\N",
    "<",
    "&amp;",
    "]",
    "]]>",
    "[x]",
    "a\nb",
    "a\x00b",
    "\x01",
    "\x7f",
    "\ud800",
    "é😀",
    '"',
    "'",
    "{}",
    "|",
    "->",
    ";",
    "%",
    "#",
    "..",
    "a" * 200,
    "<img src=x onerror=alert(1)>",
    "`x`",
    "$x$",
]


class StrangeNames(nn.Module):
    """A ModuleDict whose keys are every kind of name (set through _modules, as add_module refuses some)."""

    def __init__(self) -> None:
        super().__init__()
        self.d = nn.ModuleDict()
        for name in STRANGE_NAMES:
            self.d._modules[name] = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.d._modules.values():
            x = layer(x)
        return x


class EmptyKey(nn.Module):
    """A ModuleDict with an empty key."""

    def __init__(self) -> None:
        super().__init__()
        self.d = nn.ModuleDict()
        self.d._modules[""] = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.d[""](x)


# --------------------------------------------------------------------------- the forward pass


class Exits(Small):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sys.exit(3)


class Boom(BaseException):
    """A BaseException that is not an Exception."""


class RaisesBase(Small):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc(x)
        raise Boom("boom")


class Interrupts(Small):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.fc(x)
        raise KeyboardInterrupt


class Sleeps(Small):
    """A forward that sleeps (a model that waits on something)."""

    seconds = 3.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.seconds)
        return self.out(self.fc(x))


class Spins(Small):
    """A forward that loops forever in pure Python, with no torch call to stop at."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.fc(x)
        while True:
            pass


class TorchLoop(Small):
    """A forward that loops forever calling torch."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        while True:
            x = self.fc(x)


class NeedsValues(Small):
    """Control flow on its weights' values: assumed on the meta device, known on the CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(self.fc.weight.mean().item()) > -1e9:
            x = self.fc(x)
        return self.out(x)


class NeedsValuesAnySize(nn.Module):
    """Like NeedsValues, for any input width (flattens, then pools to 4)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if float(x.flatten()[0].item()) > -1e9:
            x = nn.functional.adaptive_avg_pool1d(x.reshape(1, 1, -1), 4).reshape(1, 4)
        return self.fc(x)


class Caches(Small):
    """A forward that caches things on the model: an attribute, a buffer, a new child, a replaced parameter,
    and entries in its own dict, list and set."""

    def __init__(self) -> None:
        super().__init__()
        self.memo: dict[str, torch.Tensor] = {}  # filled in place, as LeViT caches its attention biases
        self.history: list[tuple[int, ...]] = []
        self.kinds: set[str] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.memo[str(x.device)] = x * 2
        self.history.append(tuple(x.shape))
        self.kinds.add(x.device.type)
        self.last = x
        self.register_buffer("seen", torch.ones(1))
        self.extra = nn.Linear(4, 4)
        self.fc.bias = nn.Parameter(torch.zeros(4))
        self.out.weight.requires_grad_(False)
        return self.out(self.fc(x))


class InstallsHooks(Small):
    """A forward that registers a hook on a child on its first call, as transformers' output capturing does."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not getattr(self, "installed", False):
            self.fc.register_forward_hook(lambda module, args, out: torch.cat([out, out], dim=-1)[..., :4])
            self.installed = True
        return self.out(self.fc(x))


class TokenIdsIntoLinear(Small):
    """Token ids (long) straight into a Linear: the meta kernel accepts it, the CPU kernel does not."""


class Softmax(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(x, dim=-1)


def exiting_example() -> torch.Tensor:
    """An example-input factory that calls sys.exit()."""
    sys.exit("no inputs for you")


SHARED_TWICE = SharedTwice()
CONTAINS_ITSELF = ContainsItself()
CALLS_ITSELF = CallsItself()
NESTED = nested()
WITH_BAD_LEAF = WithBadLeaf()
PROPERTY_RAISES = PropertyRaises()
EXITS = Exits()
RAISES_BASE = RaisesBase()
INTERRUPTS = Interrupts()
SPINS = Spins()
NEEDS_VALUES = NeedsValues()
CACHES = Caches()
INSTALLS_HOOKS = InstallsHooks()
STRANGE = StrangeNames()
NOT_A_MODULE_INSIDE = NotAModuleInside()
NO_NAMED_MODULES = NoNamedModules()
GETATTR_RAISES = GetattrRaises()


def scripted() -> nn.Module:
    """A TorchScript module inside a model: it takes no hooks and keeps its slots in wrappers."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # deprecated, still used in the wild
        return nn.Sequential(torch.jit.script(Small()), nn.ReLU())


class RefusesSetattr(Small):
    """A module that refuses every attribute assignment after construction."""

    def __init__(self) -> None:
        super().__init__()
        self.__dict__["_frozen"] = True

    def __setattr__(self, name: str, value: object) -> None:
        if self.__dict__.get("_frozen"):
            raise AttributeError(f"{type(self).__name__} is frozen")
        super().__setattr__(name, value)


DEVICES_SEEN: list[str] = []


class RecordsDevices(Small):
    """Token ids into a Linear, recording the device of every call (in a list outside the model)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        DEVICES_SEEN.append(x.device.type)
        return super().forward(x)
