"""modeldoc.probe.arguments: constructor arguments read back from a live layer, or why they cannot be."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrizations

from modeldoc.probe import arguments


class Block(nn.Module):
    """A user's layer: some arguments stored as attributes, some not, one behind a property that raises."""

    def __init__(
        self, width: int, act: nn.Module | None = None, dropout: float = 0.1, mode: str = "sum", scale: Any = None
    ) -> None:
        super().__init__()
        self.width = width
        self.act = act or nn.ReLU()
        self.mode = mode
        self.fc = nn.Linear(width, width)

    @property
    def scale(self) -> float:
        raise ValueError("no scale here")


def test_a_users_layer_lists_every_argument_read_or_not_with_the_reason() -> None:
    got = arguments.collect_all(Block(8), "blk")
    assert [(h.name, h.value, h.default, h.kind) for h in got.hyperparameters] == [
        ("width", 8, False, "hyperparameter"),
        ("mode", "sum", True, "hyperparameter"),
    ]
    assert [(u.name, u.reason, u.default) for u in got.unknown] == [
        ("act", "stored as a ReLU module, not a plain value", None),
        ("dropout", "value not stored on the module (it keeps no attribute of this name)", 0.1),
        ("scale", "reading it raised ValueError: no scale here", None),
    ]
    assert [f.sentence() for f in got.failures] == ["reading blk.scale raised ValueError: no scale here"]


def test_a_known_layer_lists_what_the_table_names_and_reads_flags_from_tensors() -> None:
    read = {h.name: h.value for h in arguments.collect(nn.Linear(4, 3, bias=False))}
    assert read == {"in_features": 4, "out_features": 3, "bias": False}
    assert arguments.collect_all(nn.Linear(4, 3), "fc").unknown == ()  # the table says what matters


def test_plain_values_and_what_is_not_one() -> None:
    assert arguments.plain(torch.Size([2, 3])) == [2, 3]
    assert arguments.plain((1, (2, 3))) == [1, [2, 3]]
    assert arguments.plain(torch.float16) == "float16"
    assert arguments.plain(None) is None
    assert isinstance(arguments.plain(object()), arguments._Unreadable)
    assert isinstance(arguments.plain([1, nn.ReLU()]), arguments._Unreadable)


def test_the_tensor_a_parametrization_computes_is_listed_from_meta_copies() -> None:
    layer = parametrizations.weight_norm(nn.Linear(4, 3))
    before = {name: t.clone() for name, t in layer.state_dict().items()}
    (weight,) = arguments.computed_tensors(layer, "wn")
    assert (weight.name, weight.shape, weight.dtype, weight.numel, weight.nbytes) == (
        "wn.weight",
        (3, 4),
        "float32",
        12,
        48,
    )
    assert (weight.computed, weight.counted, weight.trainable) == (True, False, True)
    assert all(torch.equal(before[name], t) for name, t in layer.state_dict().items())
    assert arguments.computed_tensors(nn.Linear(4, 3), "fc") == ()


def test_knowledge_keys_and_the_nearest_known_ancestor() -> None:
    class MyLinear(nn.Linear):
        pass

    assert arguments.table_key(nn.Linear) == "Linear"
    assert arguments.table_key(Block) == f"{__name__}.Block"
    assert arguments.entry_for(MyLinear) is arguments.entry_for(nn.Linear) is not None
    assert arguments.entry_for(Block) is None


def test_a_scalar_default_covers_the_tuple_the_layer_stores() -> None:
    defaults = {h.name: h.default for h in arguments.collect_all(nn.Conv2d(3, 8, 3), "conv").hyperparameters}
    assert defaults["stride"] is True  # stride=1 is stored as (1, 1)
    assert defaults["padding"] is True
    assert defaults["kernel_size"] is False
    changed = {h.name: h.default for h in arguments.collect_all(nn.Conv2d(3, 8, 3, stride=(1, 2)), "c").hyperparameters}
    assert changed["stride"] is False
