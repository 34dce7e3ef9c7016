"""The knowledge entries of transformers' norm and drop-path layers, from what each class computes.

Every class of ``transformers.models`` whose name ends in ``RMSNorm``, ``LayerNorm`` or ``DropPath``
is built with a small size, its weights are set at random, and its output on random numbers is
compared with the formula of each shared base of ``modeldoc/knowledge/transformers.yaml``:

- ``_hf_rms_norm``: x / √(mean(x²) + ε) · γ (LLaMA, Mistral, Qwen2, T5, DeepSeek-V3, Mamba, ...);
- ``_hf_rms_norm_offset``: x / √(mean(x²) + ε) · (1 + γ) (Gemma);
- ``_hf_rms_norm_unweighted``: x / √(mean(x²) + ε), no weight;
- ``_hf_mean_norm``: (x − mean) / √(var + ε) · γ, no shift (Cohere);
- ``_hf_layer_norm``: (x − mean) / √(var + ε) · γ + β, in a class of its own (DeBERTa);
- ``LayerNorm``: an nn.LayerNorm subclass that computes what nn.LayerNorm does;
- ``_hf_channels_layer_norm``: an nn.LayerNorm subclass that also takes channels-first input (ConvNeXt);
- ``_hf_drop_path``: the input unchanged in eval mode; in training each sample kept (scaled by 1 / (1 − p)) or zeroed.

A class gets an entry only when exactly one formula matches and every constructor argument has
a rule in that base; the others are listed with the reason (``--skipped``). The entries are the
file ``modeldoc/knowledge/transformers_norms.yaml``, which `tests/test_hf_norms.py` checks is
what this module writes now::

    python -m tests.hf_norms > modeldoc/knowledge/transformers_norms.yaml
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

FILE = "modeldoc/knowledge/transformers_norms.yaml"
SUFFIXES = ("RMSNorm", "LayerNorm", "DropPath")
SIZE = 6
EPS = 1e-5
SIZE_BASE_NAME = "hidden_size"
"""The size argument's name in the bases; a class that names it otherwise gets it renamed."""

BASE_ARGS = {
    "_hf_rms_norm": {"size", "eps", "with_scale"},
    "_hf_rms_norm_offset": {"size", "eps"},
    "_hf_rms_norm_unweighted": {"eps"},
    "_hf_mean_norm": {"size", "eps", "bias"},
    "_hf_layer_norm": {"size", "eps"},
    "LayerNorm": {"normalized_shape", "eps", "elementwise_affine", "bias"},
    "_hf_channels_layer_norm": {"normalized_shape", "eps", "data_format"},
    "_hf_drop_path": {"drop_prob"},
}
"""The constructor arguments each base has a rule for (``size``: the one size argument, whatever its name)."""

_NOT_SIZES = {"eps", "bias", "with_scale", "elementwise_affine", "data_format", "drop_prob"}


@dataclass(frozen=True)
class Verdict:
    """What one class computes: the base whose formula it matches, or why it has no entry."""

    key: str
    base: str = ""
    size_arg: str = ""
    """The name of its size argument, when the base has one (``hidden_size``, ``dim``)."""
    skipped: str = ""


def candidates() -> Iterator[tuple[str, type[nn.Module]]]:
    """Every nn.Module class of transformers.models named ``*RMSNorm``, ``*LayerNorm`` or ``*DropPath``, by key."""
    import transformers.models

    seen: set[type] = set()
    for info in sorted(pkgutil.iter_modules(transformers.models.__path__), key=lambda i: i.name):
        package = f"transformers.models.{info.name}"
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            continue
        for module_info in sorted(pkgutil.iter_modules(spec.submodule_search_locations), key=lambda i: i.name):
            wanted = module_info.name.startswith("modeling_")
            if not wanted or module_info.name.startswith(("modeling_tf", "modeling_flax")):
                continue
            name = f"{package}.{module_info.name}"
            try:
                module = importlib.import_module(name)
            except Exception:  # a model whose optional dependency is missing: it has no entry
                continue
            for attr, obj in sorted(vars(module).items()):
                if (
                    isinstance(obj, type)
                    and issubclass(obj, nn.Module)
                    and obj.__module__ == name
                    and attr.endswith(SUFFIXES)
                    and obj not in seen
                ):
                    seen.add(obj)
                    yield f"{name}.{obj.__qualname__}", obj


def _arguments(cls: type) -> list[inspect.Parameter]:
    try:
        params = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):
        return []
    return [
        p
        for p in params
        if p.name not in ("self", "device", "dtype") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]


def _rms(x: torch.Tensor, eps: float) -> torch.Tensor:
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)


def _standard(x: torch.Tensor, eps: float, dim: int = -1) -> torch.Tensor:
    mean = x.mean(dim, keepdim=True)
    return (x - mean) * torch.rsqrt(x.var(dim, unbiased=False, keepdim=True) + eps)


def classify(key: str, cls: type[nn.Module]) -> Verdict:  # noqa: PLR0911 - one return per verdict
    """The base whose formula `cls` computes, checked on random numbers."""
    params = _arguments(cls)
    names = {p.name for p in params}
    if any(p.name == "config" for p in params):
        return Verdict(key, skipped="built from a config: not a plain norm layer")
    sizes = [p.name for p in params if p.name not in _NOT_SIZES]
    if len(sizes) > 1:
        return Verdict(key, skipped=f"several size arguments ({', '.join(sizes)})")
    size = sizes[0] if sizes else ""
    if key.endswith("DropPath"):
        return _drop_path(key, cls, names)
    kwargs: dict[str, Any] = {size: SIZE} if size else {}
    if "eps" in names:
        kwargs["eps"] = EPS
    try:
        layer = cls(**kwargs)
    except Exception as err:  # the class's own constructor: it does not build like a norm layer
        return Verdict(key, skipped=f"does not build from {kwargs}: {type(err).__name__}")
    found = _matches(layer, names)
    if len(found) != 1:
        return Verdict(key, skipped=f"matches {found or 'no formula'}")
    base = found[0]
    plain = {"size" if n == size and "size" in BASE_ARGS[base] else n for n in names}
    if not plain <= BASE_ARGS[base]:
        return Verdict(key, skipped=f"arguments {sorted(plain - BASE_ARGS[base])} have no rule in {base}")
    return Verdict(key, base=base, size_arg=size if "size" in BASE_ARGS[base] else "")


def _matches(layer: nn.Module, names: set[str]) -> list[str]:
    torch.manual_seed(0)
    weight, bias = getattr(layer, "weight", None), getattr(layer, "bias", None)
    weighted = isinstance(weight, nn.Parameter) and tuple(weight.shape) == (SIZE,)
    shifted = isinstance(bias, nn.Parameter) and tuple(bias.shape) == (SIZE,)
    eps = EPS if "eps" in names else getattr(layer, "eps", None)
    if not isinstance(eps, float):
        return []
    with torch.no_grad():
        for tensor in (weight, bias):
            if isinstance(tensor, nn.Parameter):
                tensor.normal_()
        x = torch.randn(2, 3, SIZE)
        try:
            y = layer(x)
        except Exception:  # a forward that needs more than one tensor
            return []
        if not isinstance(y, torch.Tensor) or y.shape != x.shape:
            return []
        formulas: dict[str, Callable[[], torch.Tensor]] = {}
        if weighted:
            formulas["_hf_rms_norm"] = lambda: _rms(x, eps) * weight
            formulas["_hf_rms_norm_offset"] = lambda: _rms(x, eps) * (1 + weight)
            if shifted:
                formulas["_hf_layer_norm"] = lambda: _standard(x, eps) * weight + bias
            else:
                formulas["_hf_mean_norm"] = lambda: _standard(x, eps) * weight
        elif weight is None:
            formulas["_hf_rms_norm_unweighted"] = lambda: _rms(x, eps)
        found = [name for name, formula in formulas.items() if torch.allclose(y, formula(), atol=1e-5)]
        if found == ["_hf_layer_norm"] and isinstance(layer, nn.LayerNorm):
            found = [_layer_norm_kind(layer, names, weight, bias, eps)]
    return [name for name in found if name]


def _layer_norm_kind(layer: nn.LayerNorm, names: set[str], weight: Any, bias: Any, eps: float) -> str:
    """``LayerNorm`` for an nn.LayerNorm subclass; ``_hf_channels_layer_norm`` when it also takes channels first."""
    if "data_format" not in names:
        return "LayerNorm"
    channels_first = type(layer)(SIZE, eps=eps, data_format="channels_first")
    channels_first.load_state_dict(layer.state_dict())
    x = torch.randn(2, SIZE, 4, 5)
    expected = _standard(x, eps, dim=1) * weight[:, None, None] + bias[:, None, None]
    return "_hf_channels_layer_norm" if torch.allclose(channels_first(x), expected, atol=1e-5) else ""


def _drop_path(key: str, cls: type[nn.Module], names: set[str]) -> Verdict:
    if names != {"drop_prob"}:
        return Verdict(key, skipped=f"arguments {sorted(names)} are not (drop_prob)")
    layer = cls(drop_prob=0.5)
    x = torch.randn(64, 3, 4)
    torch.manual_seed(0)
    with torch.no_grad():
        same = torch.equal(layer.eval()(x), x)
        y = layer.train()(x)
    kept = [torch.allclose(y[i], 2 * x[i]) for i in range(len(x))]
    dropped = [bool((y[i] == 0).all()) for i in range(len(x))]
    if same and all(k or d for k, d in zip(kept, dropped, strict=True)) and any(kept) and any(dropped):
        return Verdict(key, base="_hf_drop_path")
    return Verdict(key, skipped="does not drop whole samples in training and pass them in eval")


def example(verdict: Verdict) -> str:
    """The entry's example: how the coverage test builds and calls one layer."""
    if verdict.base == "_hf_drop_path":
        return "{args: [0.1], input: [2, 5, 6]}"
    if verdict.base == "_hf_channels_layer_norm":
        return f"{{args: [{SIZE}], kwargs: {{data_format: channels_first}}, input: [2, {SIZE}, 4, 5]}}"
    args = f"args: [{SIZE}], " if verdict.size_arg or verdict.base == "LayerNorm" else ""
    return f"{{{args}input: [2, 3, {SIZE}]}}"


HEADER = f"""# Generated by tests/hf_norms.py from what each class computes; do not edit, rewrite it with
#   python -m tests.hf_norms > {FILE}
# Every RMSNorm, LayerNorm and DropPath class of transformers whose output on random numbers matches
# exactly one base of transformers.yaml, and whose constructor arguments that base has rules for.

_hf_norm_size:
  abstract: true
  args:
    size: &size
      kind: data-dependent
      source: previous-layer
      dim: "in0:-1"
      read: "module.weight.shape[0]"
      reason: >-
        must equal the number of features of each incoming token ({{{{ hidden_size }}}}): the statistics are taken
        over them
"""


def entry(verdict: Verdict) -> str:
    """One class's entry, in YAML."""
    lines = [f"{verdict.key}:", f"  extends: {verdict.base}"]
    if verdict.size_arg and verdict.size_arg != SIZE_BASE_NAME:
        lines += [
            f"  args: {{{SIZE_BASE_NAME}: null, {verdict.size_arg}: *size}}",
            f'  let: {{{SIZE_BASE_NAME}: "= {verdict.size_arg}"}}',
        ]
    lines.append(f"  example: {example(verdict)}")
    return "\n".join(lines)


def verdicts() -> list[Verdict]:
    """The verdict of every candidate class, by key."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [classify(key, cls) for key, cls in candidates()]


def render(found: list[Verdict]) -> str:
    """The whole file."""
    return HEADER + "".join(f"\n{entry(v)}\n" for v in found if v.base)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skipped", action="store_true", help="list the classes left out, and why")
    args = parser.parse_args(argv)
    found = verdicts()
    if args.skipped:
        for v in found:
            if not v.base:
                print(f"{v.key}: {v.skipped}")
        return
    sys.stdout.write(render(found))


if __name__ == "__main__":
    main()
