"""Measuring which config keys set each argument on a copy of the model with its repeated blocks cut.

`modeldoc.probe.configs` rebuilds the model once per config key. An 80-block LLaMA rebuilt 17
times is 17 × 80 blocks built and read, where 17 × 2 tell the same: every block of one kind is
built from the same keys. So the layer count keys (``num_hidden_layers``, ``n_layer``,
``num_decoder_layers``) are cut, in a copy of the config, to the fewest blocks that keep every
kind of block the model has, twice where it has it twice (DeepSeek-V3's dense blocks, then its
mixture-of-experts blocks); the measurement runs on that copy, and each block past the cut takes
the answer of a block of its kind that was measured.

Nothing is taken on trust. The cut model must be the full model's first blocks, exactly: the same
layers, types and numbers everywhere else, and in each block kept every argument of the full
model's block at that index. A block past the cut has a kind when every argument but those that
differ in every block (``layer_idx``) equals that of a kept block. The answers of the kept
blocks of one kind must agree, and no key may change an argument that differs from block to block
(it could not be carried over). When any of this fails, `configs` measures the full model.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from modeldoc.explain.config_keys import numeric_keys
from modeldoc.probe import guard

Arguments = dict[str, tuple[str, Any]]
"""``"layers.0.self_attn.q_proj.out_features"`` → (the holding layer's type, the number)."""

QUICK = True
"""Whether the blocks' kinds, the lists of blocks and the layers past the cut are found by the quicker ways of
`_kinds`, `_block_lists` and `Cut.past_test` (tests turn it off to compare with and without)."""
MIN_BLOCKS = 4
"""A list of fewer blocks than this is measured whole: the cut saves little and tells kinds apart badly."""
_COUNT_KEY = re.compile(r"(^|_)(layers|layer|blocks|depth|depths)(\[\d+\])?$")
"""A key that may count blocks (``num_hidden_layers``, ``n_layer``, ``encoder_layers``, ``depths[2]``)."""


@dataclass
class Cut:
    """The layer count keys cut, the lists of blocks they cut, and the kind of each block."""

    keys: dict[str, int]
    """Count key → its value in the cut copy."""
    lists: dict[str, int]
    """The path of each list of blocks that is cut → how many of its blocks are kept."""
    kind: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Each block of a cut list (``"model.layers.37"``) → its kind: (the list, a number); blocks of a kind are alike."""
    stand_in: dict[str, str] = field(default_factory=dict)
    """A block past the cut → the first kept block of its kind (``"model.layers.37"`` → ``"model.layers.0"``)."""
    varying: dict[str, set[str]] = field(default_factory=dict)
    """Each list → the arguments (relative to a block) whose value differs in every block: ``layer_idx``."""

    def block_of(self, path: str) -> tuple[str, str]:
        """(``"model.layers.37"``, ``".self_attn.layer_idx"``) for a path in a block of a cut list, else ("", "")."""
        for container in self.lists:
            prefix = f"{container}." if container else ""
            if path.startswith(prefix):
                number, dot, rest = path[len(prefix) :].partition(".")
                if number.isdigit():
                    return f"{prefix}{number}", f"{dot}{rest}"
        return "", ""

    def past(self, path: str) -> bool:
        """True for a layer or an argument inside a block past the cut."""
        block, _ = self.block_of(path)
        return bool(block) and block in self.stand_in

    def past_test(self) -> Callable[[str], bool]:
        """`past`, as a quicker test of its own for a cut of one list of blocks (`QUICK`)."""
        if not QUICK or len(self.lists) != 1:
            return self.past
        (container,) = self.lists
        prefix = f"{container}." if container else ""
        start = len(prefix)
        stand_in = self.stand_in

        def past(path: str) -> bool:
            if not path.startswith(prefix):
                return False
            number = path[start:].partition(".")[0]
            return number.isdigit() and prefix + number in stand_in

        return past

    def source(self, argument: str) -> str:
        """Where the cut model holds the number that answers for `argument` of the full model."""
        block, rest = self.block_of(argument)
        return f"{self.stand_in[block]}{rest}" if block in self.stand_in else argument

    def is_varying(self, argument: str) -> bool:
        """True for an argument that differs in every block of its list (``layers.37.self_attn.layer_idx``)."""
        block, rest = self.block_of(argument)
        return bool(block) and rest[1:] in self.varying[_parent(block)]


def plan(module: nn.Module, live: Arguments, values: Mapping[str, Any], tree: guard.Tree | None = None) -> Cut | None:
    """The count keys to cut and to what, or None when there is nothing worth cutting.

    `live` is `module`'s arguments (as `configs` reads them), `values` the config as plain data,
    `tree` the walk of `module` when the caller has it.
    A list in the config beside a count key and as long as the blocks (``layer_types``) gives
    each block a setting of its own: it is part of the block's kind.
    """
    lists = _block_lists(tree or guard.walk(module))
    cut = Cut(keys={}, lists={})
    counts: dict[int, list[str]] = {}  # a count → the count keys of that value (an encoder's and a decoder's)
    for key, value in numeric_keys(values):
        if isinstance(value, int) and _COUNT_KEY.search(key.rsplit(".", 1)[-1]):
            counts.setdefault(value, []).append(key)
    for value, keys in counts.items():
        counted = [path for path, size in lists.items() if size == value]
        each = [_settings(values, key, value) for key in keys]
        settings = [frozenset().union(*(own[i] for own in each)) for i in range(value)]
        found = {path: _kinds(path, value, live, settings) for path in counted}
        needed = max((_prefix(kinds) for kinds, _ in found.values()), default=value)
        if needed >= value:
            continue
        cut.keys.update((key, needed) for key in keys)
        for path, (kinds, differ) in found.items():
            cut.lists[path] = needed
            cut.varying[path] = differ
            blocks = [_inside(path, i) for i in range(value)]
            cut.kind.update((block, (path, kind)) for block, kind in zip(blocks, kinds, strict=True))
            cut.stand_in.update((block, blocks[kinds.index(kind)]) for block, kind in zip(blocks, kinds, strict=True)
                                if _index(block) >= needed)  # fmt: skip
    nested = any(cut.block_of(path)[0] for path in cut.lists)  # a cut list inside a block of another
    return cut if cut.keys and not nested else None


def matches(
    cut: Cut,
    module: nn.Module,
    live: Arguments,
    cut_module: nn.Module,
    measured: Arguments,
    *,
    trees: tuple[guard.Tree, guard.Tree] | None = None,
) -> bool:
    """True when `cut_module` (built from the cut config) is `module`'s first blocks, exactly.

    The same layers of the same types, and `measured` (its arguments) equal to `live` (the full
    model's) for every layer that is not past the cut. `trees` are the walks of the two models, when
    the caller has them.
    """
    tree, cut_tree = trees or (guard.walk(module), guard.walk(cut_module))
    past = cut.past_test()
    full = {path: type(sub) for path, sub in tree.paths.items() if not past(path)}
    if full != {path: type(sub) for path, sub in cut_tree.paths.items()}:
        return False
    return {argument: seen for argument, seen in live.items() if not past(argument)} == measured


def agree(cut: Cut, changed: Mapping[str, set[str]]) -> bool:
    """True when the kept blocks of each kind changed alike, and no change changed a varying argument.

    `changed` is each key → the arguments of the cut model its change changed.
    """
    kept: dict[tuple[str, int], set[str]] = {}
    for block, kind in cut.kind.items():
        if block not in cut.stand_in:
            kept.setdefault(kind, set()).add(block)
    for arguments in changed.values():
        if any(cut.is_varying(argument) for argument in arguments):
            return False
        where: dict[tuple[tuple[str, int], str], set[str]] = {}
        for argument in arguments:
            block, rest = cut.block_of(argument)
            if block:
                where.setdefault((cut.kind[block], rest), set()).add(block)
        if any(blocks != kept[kind] for (kind, _), blocks in where.items()):
            return False
    return True


# --------------------------------------------------------------------------- helpers


def _block_lists(tree: guard.Tree) -> dict[str, int]:
    """Each container of at least `MIN_BLOCKS` children named ``0`` … ``n-1`` → n."""
    found: dict[str, int] = {}
    for path, sub in tree.paths.items():
        if QUICK:
            slots = getattr(sub, "__dict__", {}).get("_modules")
            if type(slots) is dict and len(slots) < MIN_BLOCKS:
                continue  # named_children gives at most the items of a plain dict of children
        names = [name for name, _ in sub.named_children()]
        if len(names) >= MIN_BLOCKS and names == [str(i) for i in range(len(names))]:
            found[path] = len(names)
    return found


def _settings(values: Mapping[str, Any], key: str, count: int) -> list[frozenset[tuple[str, str]]]:
    """Each block's items of the config's lists beside `key` that are `count` long (``layer_types[i]``)."""
    *outer, last = key.split(".")
    holder: Any = values
    for part in outer:
        holder = holder.get(part) if isinstance(holder, Mapping) else None
    if "[" in last or not isinstance(holder, Mapping):
        return [frozenset()] * count
    lists = [(name, items) for name, items in holder.items() if isinstance(items, list) and len(items) == count]
    return [frozenset((name, repr(items[i])) for name, items in lists) for i in range(count)]


def _kinds(
    path: str, count: int, live: Arguments, settings: list[frozenset[tuple[str, str]]]
) -> tuple[list[int], set[str]]:
    """Each block's kind (its arguments but the varying ones, and its `settings`), and the varying arguments.

    An argument varies when its value differs in every block (``layer_idx``).
    """
    prefix = f"{path}." if path else ""
    inside: list[dict[str, tuple[str, str]]] = [{} for _ in range(count)]
    if QUICK:
        _sort_quickly(prefix, live, inside)
    else:
        for argument, (holder, value) in live.items():
            if argument.startswith(prefix):
                number, _, rest = argument[len(prefix) :].partition(".")
                if number.isdigit() and int(number) < count:
                    inside[int(number)][rest] = (holder, repr(value))
    values: dict[str, set[tuple[str, str]]] = {}
    for each in inside:
        for rest, seen in each.items():
            if not QUICK:
                values.setdefault(rest, set()).add(seen)
            elif (known := values.get(rest)) is None:
                values[rest] = {seen}
            else:
                known.add(seen)
    differ = {rest for rest, seen in values.items() if len(seen) == count}
    ids: dict[Hashable, int] = {}
    if QUICK:  # each block's items as a set at once, the varying ones taken out of it
        return [
            ids.setdefault(
                (frozenset(each.items()).difference([(r, each[r]) for r in differ if r in each]), own), len(ids)
            )
            for each, own in zip(inside, settings, strict=True)
        ], differ
    kinds = [
        ids.setdefault((frozenset((r, seen) for r, seen in each.items() if r not in differ), own), len(ids))
        for each, own in zip(inside, settings, strict=True)
    ]
    return kinds, differ


def _sort_quickly(prefix: str, live: Arguments, inside: list[dict[str, tuple[str, str]]]) -> None:
    """`_kinds` sorting the arguments into `inside`, one dict for each block, with fewer steps for each."""
    count = len(inside)
    index = {str(i): i for i in range(count)}  # the blocks' own names: no isdigit and int for each
    start = len(prefix)
    for argument, held in live.items():
        if argument.startswith(prefix):
            number, _, rest = argument[start:].partition(".")
            i = index.get(number)
            if i is None and number.isdigit() and int(number) < count:  # "07": what _kinds takes too
                i = int(number)
            if i is not None:
                inside[i][rest] = (held[0], repr(held[1]))


def _prefix(kinds: list[int]) -> int:
    """The fewest first blocks that hold every kind twice (or once, when the model has it once)."""
    total = Counter(kinds)
    seen: Counter[int] = Counter()
    for i, kind in enumerate(kinds):
        seen[kind] += 1
        if all(seen[k] >= min(2, n) for k, n in total.items()):
            return i + 1
    return len(kinds)


def _inside(path: str, index: int) -> str:
    return f"{path}.{index}" if path else str(index)


def _index(block: str) -> int:
    return int(block.rsplit(".", 1)[-1])


def _parent(block: str) -> str:
    return block.rsplit(".", 1)[0] if "." in block else ""
