"""Ops whose meta path is a Python reference, answered from shapes (`modeldoc.probe.meta_kernels`).

Each answer must be what torch's own meta path gives: the same shape, dtype and strides, and no
answer where torch raises. Seeded random calls (layouts permuted, sliced, channels-last, axes
of size 1, dtypes, shapes that do not fit) check it against torch on the same meta tensors. And
a small model that uses only such ops is described without importing ``torch._dynamo`` (which
those references import on their first call, about a second).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from modeldoc.probe import meta_kernels

SHAPES = (1, 2, 3, 5)
Call = tuple[Any, tuple[Any, ...], dict[str, Any]]
"""A function, its positional arguments and its keywords."""


def tensor(rng: random.Random, rank: int | None = None, *, floating: bool = True) -> torch.Tensor:
    """A meta tensor in one of many layouts: new, permuted, sliced, channels-last."""
    rank = rng.randint(0, 4) if rank is None else rank
    dtype = rng.choice((torch.float32, torch.bfloat16)) if floating else torch.int64
    t = torch.empty([rng.choice(SHAPES) for _ in range(rank)], dtype=dtype, device="meta")
    kind = rng.random()
    if kind < 0.2 and rank > 1:
        order = list(range(rank))
        rng.shuffle(order)
        t = t.permute(order)
    elif kind < 0.3 and rank > 0 and t.shape[-1] > 1:
        t = t[..., ::2]
    elif kind < 0.4 and rank == 4:
        t = t.contiguous(memory_format=torch.channels_last)
    return t


def make_activation(rng: random.Random) -> Call:
    func = rng.choice((F.relu, torch.relu, torch.Tensor.relu, F.silu, torch._C._nn.silu))
    inplace = {"inplace": True} if func in (F.relu, F.silu) and rng.random() < 0.1 else {}
    return func, (tensor(rng, floating=rng.random() < 0.9),), inplace


def make_unary(rng: random.Random) -> Call:
    return rng.choice((torch.neg, torch.cos, torch.sin, torch.exp, torch.tanh, torch.sigmoid)), (tensor(rng),), {}


def make_dropout(rng: random.Random) -> Call:
    p = rng.choice((0.0, 0.1, 0.5, 1.0, 1, -0.5, 1.5))
    training = rng.random() < 0.2
    if rng.random() < 0.5:
        inplace = rng.random() < 0.1
        return F.dropout, (tensor(rng),), {"p": p, "training": training, "inplace": inplace}
    return torch.dropout, (tensor(rng), p, training), {}


def test_a_dropout_not_training_answers_its_very_input() -> None:
    rng = random.Random("dropout")
    answered = 0
    for _ in range(200):
        func, args, kwargs = make_dropout(rng)
        answer = meta_kernels.answer_from_shapes(func, args, kwargs)
        if answer is None:
            continue
        answered += 1
        assert answer is args[0] and func(*args, **kwargs) is args[0]
    assert answered >= 50


def make_layer_norm(rng: random.Random) -> Call:
    x = tensor(rng, rng.randint(1, 4))
    width = rng.randint(1, x.dim())
    shape = tuple(x.shape[-width:]) if rng.random() < 0.8 else (7,)
    weight = torch.empty(shape, dtype=x.dtype, device="meta") if rng.random() < 0.7 else None
    return F.layer_norm, (x, shape, weight, weight, 1e-5), {}


def make_addmm(rng: random.Random) -> Call:
    n, k, m = (rng.choice(SHAPES) for _ in range(3))
    bias = torch.empty(rng.choice(((m,), (n, m), (1, m), (n, 1), (k,))), device="meta")
    b = torch.empty(k if rng.random() < 0.9 else k + 1, m, device="meta")
    return rng.choice((torch.addmm, torch.Tensor.addmm)), (bias, torch.empty(n, k, device="meta"), b), {}


def make_cat(rng: random.Random) -> Call:
    first = tensor(rng, rng.randint(1, 4))
    dim = rng.randint(-first.dim(), first.dim() - 1)
    parts = [first]
    for _ in range(rng.randint(0, 2)):
        shape = list(first.shape)
        shape[dim] = rng.choice(SHAPES)
        if rng.random() < 0.1:
            shape[0] += 1
        part = torch.empty(shape, dtype=first.dtype, device="meta")
        if rng.random() < 0.3 and part.dim() > 1:  # another layout: the result's follows rules of its own
            part = part.transpose(0, -1).contiguous().transpose(0, -1)
        elif rng.random() < 0.2 and part.dim() == 4:
            part = part.contiguous(memory_format=torch.channels_last)
        parts.append(part)
    if rng.random() < 0.2:  # an empty 1-D part, as a generation cache's first keys have beside them
        parts.insert(rng.randint(0, len(parts)), torch.empty(rng.choice((0, 0, 2)), dtype=first.dtype, device="meta"))
    return torch.cat, (parts, dim), {}


def make_rotary(rng: random.Random) -> Call:
    """The steps of a rotary embedding on a transposed query: halves, negation, cat, products with tables."""
    batch, length, heads, width = rng.choice((1, 2)), rng.choice((1, 3, 5)), rng.choice((1, 2, 4)), 4
    q = torch.empty(batch, length, heads, width, device="meta").transpose(1, 2)
    half = q[..., : width // 2], q[..., width // 2 :]
    table = torch.empty(batch, length, width, device="meta")[:, None]
    step = rng.choice(("neg", "cat", "mul", "add"))
    if step == "neg":
        return torch.Tensor.neg, (half[1],), {}
    if step == "cat":
        return torch.cat, ((-half[1], half[0]), -1), {}
    if step == "mul":
        return rng.choice((torch.Tensor.mul, torch.Tensor.__mul__, torch.mul)), rng.choice(((q, table), (table, q))), {}
    return torch.Tensor.add, (q * table, torch.empty(q.shape, device="meta") * table), {}


def operand(rng: random.Random, shape: torch.Size) -> Any:
    """A second operand for `shape`: a tensor that broadcasts (or not) in some layout, or a Python number."""
    kind = rng.random()
    if kind < 0.15:
        return rng.choice((2, 0.5, -1))
    dims = list(shape)
    for i in range(len(dims)):
        if rng.random() < 0.3:
            dims[i] = 1
    if rng.random() < 0.3 and dims:
        dims = dims[rng.randint(0, len(dims)) :]
    if rng.random() < 0.05:
        dims = [*dims, 7]
    other = torch.empty(dims, dtype=rng.choice((torch.float32, torch.float32, torch.bfloat16)), device="meta")
    if other.dim() > 1 and rng.random() < 0.4:
        order = list(range(other.dim()))
        rng.shuffle(order)
        other = other.permute(order).contiguous().permute([order.index(i) for i in range(other.dim())])
    elif other.dim() == 4 and rng.random() < 0.2:
        other = other.contiguous(memory_format=torch.channels_last)
    return other


def make_binary(rng: random.Random) -> Call:
    x = tensor(rng)
    if x.dtype != torch.float32 and rng.random() < 0.7:
        x = x.float()
    y = operand(rng, x.shape)
    func = rng.choice((torch.add, torch.mul, torch.sub, torch.Tensor.add, torch.Tensor.__mul__, torch.Tensor.__rmul__))
    return func, (x, y) if rng.random() < 0.8 or not isinstance(y, torch.Tensor) else (y, x), {}


def make_pow(rng: random.Random) -> Call:
    x = tensor(rng)
    return rng.choice((torch.pow, torch.Tensor.pow, torch.Tensor.__pow__)), (x, rng.choice((2, 0.5, 3))), {}


def make_mean(rng: random.Random) -> Call:
    x = tensor(rng, rng.randint(1, 4))
    dims: Any = rng.choice((-1, 0, [-1, -2], (0,), [1, 1]))
    return rng.choice((torch.mean, torch.Tensor.mean)), (x, dims), {"keepdim": rng.random() < 0.5}


def make_batch_norm(rng: random.Random) -> Call:
    x = tensor(rng, rng.randint(2, 4))
    channels = x.shape[1] if rng.random() < 0.9 else x.shape[1] + 1
    stat = torch.empty(channels, dtype=x.dtype, device="meta")
    return F.batch_norm, (x, stat, stat, stat, stat, False, 0.1, 1e-5), {}


def make_pool(rng: random.Random) -> Call:
    x = tensor(rng, rng.choice((3, 4)))
    return F.adaptive_avg_pool2d, (x, rng.choice((1, (1, 1), (2, 3), 3, (None, 2)))), {}


def make_conv(rng: random.Random) -> Call:
    spatial = rng.choice((1, 2, 3))
    groups = rng.choice((1, 1, 2))
    channels = rng.choice((2, 4)) if rng.random() < 0.9 else 1
    x = tensor(rng, spatial + 2)
    x = torch.empty((x.shape[0], channels * groups, *(n + 4 for n in x.shape[2:])), device="meta")
    if spatial == 2 and rng.random() < 0.2:
        x = x.contiguous(memory_format=torch.channels_last)
    out = rng.choice((2, 4, 3))
    weight = torch.empty((out, channels, *(rng.choice((1, 2, 3)) for _ in range(spatial))), device="meta")
    bias = torch.empty(out, device="meta") if rng.random() < 0.7 else None
    func = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[spatial]
    kwargs = {"stride": rng.choice((1, 2, (2,) * spatial)), "padding": rng.choice((0, 1, [1] * spatial, "same"))}
    kwargs |= {"dilation": rng.choice((1, 2)), "groups": groups}
    if kwargs["padding"] == "same":
        kwargs["stride"] = 1
    return func, (x, weight, bias), kwargs


def make_max_pool(rng: random.Random) -> Call:
    x = tensor(rng, rng.choice((3, 4)))
    x = torch.empty((*x.shape[:-2], *(n + rng.randint(0, 6) for n in x.shape[-2:])), device="meta")
    if x.dim() == 4 and rng.random() < 0.2:
        x = x.contiguous(memory_format=torch.channels_last)
    kwargs = {"stride": rng.choice((None, 1, 2, (2, 1))), "padding": rng.choice((0, 1, 2)), "dilation": 1}
    kwargs |= {"ceil_mode": rng.random() < 0.1, "return_indices": False}
    return F.max_pool2d, (x, rng.choice((1, 2, 3, (2, 3)))), kwargs


def make_embedding(rng: random.Random) -> Call:
    ids = tensor(rng, floating=False)
    table = torch.empty((7, rng.choice(SHAPES)) if rng.random() < 0.9 else (7,), device="meta")
    return F.embedding, (ids, table), {"padding_idx": rng.choice((None, 0, 3, -7, 7, -8))}


MAKERS: dict[str, Callable[[random.Random], Call]] = {
    "max_pool2d": make_max_pool,
    "embedding": make_embedding,
    "conv": make_conv,
    "activation": make_activation,
    "dropout": make_dropout,
    "unary": make_unary,
    "layer_norm": make_layer_norm,
    "addmm": make_addmm,
    "cat": make_cat,
    "rotary": make_rotary,
    "binary": make_binary,
    "pow": make_pow,
    "mean": make_mean,
    "batch_norm": make_batch_norm,
    "adaptive_avg_pool2d": make_pool,
}
"""For each kernel, a maker of one random call (function, args, kwargs)."""


@pytest.mark.parametrize("kernel", list(MAKERS))
def test_an_answer_from_shapes_is_what_torchs_meta_path_gives(kernel: str) -> None:
    rng = random.Random(kernel)
    make = MAKERS[kernel]
    answered = 0
    for _ in range(400):
        func, args, kwargs = make(rng)
        answer = meta_kernels.answer_from_shapes(func, args, kwargs)
        try:
            with warnings.catch_warnings():  # torch's advice on padding="same" with even kernels
                warnings.simplefilter("ignore")
                real = func(*args, **kwargs)
        except (
            RuntimeError,
            IndexError,
            TypeError,
            ValueError,
            AssertionError,
        ):  # torch refuses the call: so must modeldoc
            assert answer is None, f"{kernel} answered {func.__name__}{[getattr(a, 'shape', a) for a in args]}"
            continue
        if answer is None:
            continue
        answered += 1
        where = f"{func.__name__} of {[(tuple(a.shape), a.stride()) for a in args if isinstance(a, torch.Tensor)]}"
        assert (answer.shape, answer.stride(), answer.dtype, answer.device) == (
            real.shape,
            real.stride(),
            real.dtype,
            real.device,
        ), where
    assert answered >= 100  # the kernel answered most well-formed calls, so the comparison is not empty


SCRIPT = """
import json, sys
import torch
from torch import nn
from modeldoc.pipeline import describe_module
from modeldoc.options import model_options
image = nn.Sequential(
    nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    nn.LayerNorm(4), nn.Linear(4, 3),
).eval()
text = nn.Sequential(nn.Embedding(50, 8), nn.LSTM(8, 6, batch_first=True))
out = []
for model, shape, dtype in ((image, "N=2,1,8,8", "float32"), (text, "N=2,L=5", "long")):
    options = model_options({"target": "tests:Model", "input_shape": shape, "input_dtype": dtype})
    spec = describe_module(model, options)
    out.append([spec.trace.complete, list(spec.outputs[0].dims)])
out.append(["torch._dynamo" in sys.modules, "sympy" in sys.modules])
print(json.dumps(out))
"""


def test_models_of_common_layers_are_described_without_importing_torch_dynamo_or_sympy() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=300)
    image, text, imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert image == [True, ["N", 3]]
    assert text == [True, ["N", "L", 6]]
    assert imported == [False, False]  # neither torch._dynamo nor sympy was imported


def test_a_weights_meta_stand_in_is_laid_out_as_empty_like_lays_it_out() -> None:
    rng = random.Random("like")
    quick = 0
    for _ in range(400):
        source = tensor(rng, floating=rng.random() < 0.8)
        if rng.random() < 0.3:
            source = torch.empty_strided(source.shape, source.stride(), dtype=source.dtype)  # on the CPU
        twin, expected = meta_kernels.meta_like(source), torch.empty_like(source, device="meta")
        quick += meta_kernels._like(source) is not None
        assert (twin.shape, twin.stride(), twin.dtype, twin.device) == (
            expected.shape,
            expected.stride(),
            expected.dtype,
            expected.device,
        ), (tuple(source.shape), source.stride())
    assert quick >= 200  # most took the quick way, so the comparison is not of empty_like with itself


def test_shapes_broadcast_as_torch_broadcasts_them() -> None:
    rng = random.Random("broadcast")
    for _ in range(400):
        shapes = [
            tuple(rng.choice((0, 1, 1, 2, 3)) for _ in range(rng.randint(0, 4))) for _ in range(rng.randint(1, 3))
        ]
        try:
            expected: tuple[int, ...] | None = tuple(torch.broadcast_shapes(*shapes))
        except RuntimeError:
            expected = None
        assert meta_kernels._broadcast(*shapes) == expected, shapes
