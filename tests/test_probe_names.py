"""modeldoc.probe.names: one name for each class, module and dtype, everywhere on the pages."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from modeldoc.probe import names


def test_torch_nn_classes_are_named_as_torch_nn_exports_them() -> None:
    assert names.public_type(nn.Linear) == "torch.nn.Linear"
    assert names.is_torch_nn(nn.modules.linear.Linear)
    # a torch class that torch.nn does not export keeps its full name
    assert not names.is_torch_nn(nn.modules.linear.NonDynamicallyQuantizableLinear)
    assert (
        names.public_type(nn.modules.linear.NonDynamicallyQuantizableLinear)
        == "torch.nn.modules.linear.NonDynamicallyQuantizableLinear"
    )


def test_a_file_modules_unique_name_reads_as_its_stem() -> None:
    path = Path("/somewhere/models/gate.py")
    unique = names.file_module(path)
    assert unique.startswith("modeldoc_user_gate_") and len(unique) == len("modeldoc_user_gate_") + 10
    assert unique != names.file_module(Path("/elsewhere/gate.py"))
    assert names.module_label(unique) == "gate"
    assert names.module_label("pkg.models") == "pkg.models"
    cls = type("Gate", (nn.Module,), {"__module__": unique, "__qualname__": "Outer.Gate"})
    assert (names.public_type(cls), names.target_name(cls)) == ("gate.Outer.Gate", "gate:Outer.Gate")


def test_dtype_names_drop_the_torch_prefix() -> None:
    assert [names.dtype_name(d) for d in (torch.float32, torch.long, torch.bfloat16, torch.bool)] == [
        "float32",
        "int64",
        "bfloat16",
        "bool",
    ]
