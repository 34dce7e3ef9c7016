"""Which config keys set each constructor argument, for a model that holds a Hugging Face config.

For each number among a layer's constructor arguments, the formulas over the config's numeric
keys that give it, simplest first: one key (``config.hidden_size``), a small multiple of one
(``4 × config.n_embd``), two keys (``config.num_attention_heads × config.head_dim``,
``config.hidden_size / config.num_attention_heads``, ``config.kv_lora_rank +
config.qk_rope_head_dim``), or three (``(config.qk_nope_head_dim + config.v_head_dim) ×
config.num_attention_heads``).

When modeldoc built the model from its config, it measured which keys change each argument
(`ModelConfig.reads`, by rebuilding the model with one key changed at a time): the formula must
use exactly those keys, and is then *checked*; an argument no key changes gets no formula, however
its number looks. Otherwise (a model handed over with its ``.config``) the numbers alone speak:
every formula of the simplest level that gives the value is named, the one the argument's name
points to first (``q_proj.out_features`` to the heads), so that the page never picks one of two
equal keys by luck. Pure: reads the spec only.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from modeldoc.explain import reuse
from modeldoc.spec import ConfigSource, Hyperparam, LayerSpec, ModelConfig, ModelSpec, ParamSpec

MAX_NAMED = 4
"""A value that more formulas than this give, unmeasured, is left unexplained: it tells nothing."""
MULTIPLES = (2, 3, 4)
"""Small factors a width is taken at (``2 × intermediate_size`` fused gate and up, ``4 × n_embd``)."""
_CAPACITY = re.compile(r"vocab|position|bucket|label|token_id|max_|_length$|_size_buckets")
"""Keys that count things (tokens, positions): an embedding's size, never a factor of a width."""
_SKIPPED = re.compile(r"(^|_)(init|initializer)(_|$)|_version$")
"""Keys that set no constructor argument (weight initialisation, versions)."""

Number = int | float

SHARED = True
"""True copies an argument given a source once for the repeats that share both (`modeldoc.explain.reuse`
gives repeats one tuple of arguments); False copies it for each layer. The tests build the JSON both ways."""

_UNKNOWN = object()
"""What a memo holds for a question not asked yet (None is an answer)."""


@dataclass(frozen=True)
class Formula:
    """A formula over config keys: its pattern, the keys in its slots, its level and its value."""

    pattern: str
    """``"{0} × {1}"``: the slots are filled with the keys (``config.…``) or their values."""
    keys: tuple[str, ...]
    level: int
    """1 for one key, 2 for a multiple of one, 3 for two keys, 4 for three."""
    value: Number

    def text(self) -> str:
        """``"config.num_attention_heads × config.head_dim"``."""
        return self.pattern.format(*(f"config.{key}" for key in self.keys))

    def arithmetic(self, numbers: Mapping[str, Number]) -> str:
        """``"32 × 128 = 4096"``; ``""`` for a single key, whose number is the value itself."""
        if self.pattern == "{0}":
            return ""
        return f"{self.pattern.format(*(_number(numbers[key]) for key in self.keys))} = {_number(self.value)}"


def attach(spec: ModelSpec) -> ModelSpec:
    """`spec` with each numeric constructor argument's `set_by`, when the model holds a config."""
    config = spec.config
    if config is None:
        return spec
    numbers = dict(numeric_keys(config.values))
    # a zero sets no size, unless a rebuild saw it set something (pad_token_id = 0 → padding_idx)
    numbers.update((key, n) for key, n in numeric_keys(config.values, zeros=True) if key in config.measured)
    explain = _Explainer(config, numbers)
    return spec.with_layers(tuple(explain.layer(layer) for layer in spec.all_layers))


def sentence(source: ConfigSource) -> str:
    """``"set by config.num_attention_heads × config.head_dim (4 × 16 = 64)"``, or ``"equals config.hidden_size"``.

    A formula that was not checked by rebuilding the model only *equals* the value; formulas that
    nothing told apart are all named.
    """
    if source.formula:
        text = f"{'set by' if source.checked else 'equals'} {source.formula}"
        if source.arithmetic:
            text += f" ({source.arithmetic})"
    else:
        keys = [f"config.{key}" for key in source.keys]
        text = f"set by {', '.join(keys[:-1])} and {keys[-1]} together" if len(keys) > 1 else f"set by {keys[0]}"
    if source.also:
        text += ("; the same keys also give " if source.checked else ", and also ") + ", ".join(source.also)
    return text


def numeric_keys(values: Mapping[str, Any], prefix: str = "", *, zeros: bool = False) -> Iterator[tuple[str, Number]]:
    """The config's numbers by key path (``"text_config.hidden_size"``, ``"block_out_channels[1]"``).

    Booleans and initialisation settings are left out, and zeros unless `zeros`: they set no size,
    and a zero only says what it sets when a rebuild with it changed shows it.
    """
    for key, value in values.items():
        path = f"{prefix}{key}"
        if _SKIPPED.search(key):
            continue
        if _countable(value, zeros):
            yield path, value
        elif isinstance(value, list) and value and all(_countable(v, zeros) for v in value):
            for i, item in enumerate(value):
                yield f"{path}[{i}]", item
        elif isinstance(value, Mapping) and key not in ("id2label", "label2id"):
            yield from numeric_keys(value, f"{path}.", zeros=zeros)


def _countable(value: Any, zeros: bool = False) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and (zeros or value != 0)
        and math.isfinite(value)
    )


def _number(value: Number) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class _Explainer:
    """The formulas of one model's config, asked argument by argument."""

    def __init__(self, config: ModelConfig, numbers: dict[str, Number]) -> None:
        self.config = config
        self.numbers = numbers
        self.measured = set(config.measured)
        self.unmeasured = [key for key in numbers if key not in self.measured]
        self._by_scope: dict[str, list[str]] = {}
        self._found: dict[Hashable, ConfigSource | None] = {}
        """The sources found so far, by what finding them reads (`reuse.ENABLED`): repeated layers ask once."""
        self._set_by: dict[tuple[int, int], tuple[Hyperparam, ConfigSource, Hyperparam]] = {}
        """Each argument with its source, by their identities (both kept here, so that no identity is reused)."""

    def layer(self, layer: LayerSpec) -> LayerSpec:
        arguments = tuple(self.argument(layer, hp) for hp in layer.hyperparameters)
        tensors = tuple(self.tensor(param) for param in layer.parameters)
        if arguments == layer.hyperparameters and tensors == layer.parameters:
            return layer
        return reuse.copied(layer, hyperparameters=arguments, parameters=tensors)

    def tensor(self, param: ParamSpec) -> ParamSpec:
        """A tensor's axes, each with the keys measured to set its size (never guessed from equal numbers)."""
        if not self.measured:
            return param
        axes = tuple(
            self.measured_source(f"{param.name}[{axis}]", size) if size else None
            for axis, size in enumerate(param.shape)
        )
        return reuse.copied(param, axis_set_by=axes) if any(axes) else param

    def argument(self, layer: LayerSpec, hp: Hyperparam) -> Hyperparam:
        value, axes = _single_number(hp.value)
        if value is None:
            return hp
        source = self.measured_source(_argument_id(layer.path, hp.name), value) if self.measured else None
        if source is None and not self.measured:
            source = self.matched_source(layer, hp, value, self.scope_keys(layer.path))
        elif source is None and self.unmeasured and not self.read_by_measured(layer, hp):
            source = self.matched_source(layer, hp, value, self.unmeasured)
        if source is None:
            return hp
        if axes > 1:  # (16, 16) = (config.patch_size, config.patch_size)
            source = replace(
                source,
                formula=_repeat(source.formula, axes),
                arithmetic=_repeat(source.arithmetic, axes),
                also=tuple(_repeat(text, axes) for text in source.also),
            )
        if not SHARED:
            return reuse.copied(hp, set_by=source)
        # repeats explained alike share their arguments: each argument given each source is copied once
        done = self._set_by.get((id(hp), id(source)))
        if done is None or done[0] is not hp or done[1] is not source:
            done = self._set_by[id(hp), id(source)] = (hp, source, reuse.copied(hp, set_by=source))
        return done[2]

    def read_by_measured(self, layer: LayerSpec, hp: Hyperparam) -> bool:
        return bool(self.config.reads.get(_argument_id(layer.path, hp.name)))

    def measured_source(self, where: str, value: Number) -> ConfigSource | None:
        """The formula over exactly the keys whose change changed the number at `where` (an argument, an axis)."""
        read = self.config.reads.get(where)
        if not read:
            return None
        if not reuse.ENABLED:
            keys = tuple(key for key in read if key in self.numbers)
            return self._measured(keys, value) if keys else None
        # by the keys read, before those that are no numbers are left out: that depends on them alone
        memo = (tuple(read), reuse.value_key(value))
        found = self._found.get(memo, _UNKNOWN)
        if found is _UNKNOWN:
            numbers = self.numbers
            keys = tuple([key for key in read if key in numbers])
            found = self._found[memo] = self._measured(keys, value) if keys else None
        return found  # type: ignore[return-value]

    def _measured(self, keys: tuple[str, ...], value: Number) -> ConfigSource | None:
        found = [f for f in formulas(keys, self.numbers, value, exact=True) if set(f.keys) == set(keys)]
        if not found:
            # the keys are known, the arithmetic is beyond the simple forms: name the keys
            return ConfigSource(formula="", keys=keys, checked=True)
        level = min(f.level for f in found)
        simplest = _unique([f for f in found if f.level == level])
        first = simplest[0]
        return ConfigSource(
            formula=first.text(),
            keys=first.keys,
            arithmetic=first.arithmetic(self.numbers),
            also=tuple(f.text() for f in simplest[1:]),
            checked=True,
        )

    def matched_source(self, layer: LayerSpec, hp: Hyperparam, value: Number, keys: list[str]) -> ConfigSource | None:
        """Every simplest formula that gives `value`, the one the argument's name points to first."""
        if not reuse.ENABLED:
            return self._matched(layer.name, hp.name, value, keys)
        memo = ("matched", layer.name, hp.name, reuse.value_key(value), tuple(keys))
        if memo not in self._found:
            self._found[memo] = self._matched(layer.name, hp.name, value, keys)
        return self._found[memo]

    def _matched(self, layer_name: str, name: str, value: Number, keys: list[str]) -> ConfigSource | None:
        if value in (0, 1) or not keys:
            return None  # ones and zeros are everywhere: an equal key says nothing
        found = list(formulas(tuple(keys), self.numbers, value, exact=False, max_level=3))
        if not found:
            return None
        fits = _preference(layer_name, name)
        if _LAYOUT.match(name):
            found = [f for f in found if fits(f)]  # a stride of 2 is no head count that happens to be 2
            if not found:
                return None
        level = min(f.level for f in found)
        # the formula with the most keys of the kind the name points to, and of those the simplest
        ranked = sorted((f for f in found if fits(f)), key=lambda f: (-fits(f), f.level))
        best = [f for f in ranked if (fits(f), f.level) == (fits(ranked[0]), ranked[0].level)] if ranked else []
        named = _unique([*best, *(f for f in found if f.level == level)])
        if len(named) > MAX_NAMED:
            return None
        first = named[0]
        return ConfigSource(
            formula=first.text(),
            keys=first.keys,
            arithmetic=first.arithmetic(self.numbers),
            also=tuple(f.text() for f in named[1:]),
            checked=False,
        )

    def scope_keys(self, path: str) -> list[str]:
        """The keys a layer may read: those of the sub-config its nearest scoped ancestor holds, or all."""
        scope = ""
        probe = path
        while True:
            if probe in self.config.scopes:
                scope = self.config.scopes[probe]
                break
            if not probe:
                break
            probe = probe.rsplit(".", 1)[0] if "." in probe else ""
        if scope not in self._by_scope:
            prefix = f"{scope}." if scope else ""
            self._by_scope[scope] = [key for key in self.numbers if key.startswith(prefix)]
        return self._by_scope[scope]


def _argument_id(path: str, name: str) -> str:
    """How `ModelConfig.reads` names an argument: ``"layers.0.q_proj.out_features"``, a root argument bare."""
    return f"{path}.{name}" if path else name


def _single_number(value: Any) -> tuple[Number | None, int]:
    """The number an argument holds and over how many axes: ``64`` → (64, 1), ``[16, 16]`` → (16, 2).

    A zero counts too: only a measurement names a key for it (a match never names one for 0 or 1).
    """
    if isinstance(value, list) and value and all(v == value[0] for v in value):
        number, _ = _single_number(value[0])
        return number, len(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return value, 1
    return None, 0


def _repeat(text: str, axes: int) -> str:
    return f"({', '.join([text] * axes)})" if text else ""


def _unique(found: list[Formula]) -> list[Formula]:
    seen: set[str] = set()
    out = []
    for formula in found:
        if formula.text() not in seen:
            seen.add(formula.text())
            out.append(formula)
    return out


# --------------------------------------------------------------------------- the formulas


def formulas(
    keys: tuple[str, ...], numbers: Mapping[str, Number], value: Number, *, exact: bool, max_level: int = 4
) -> Iterator[Formula]:
    """Every formula over `keys` (each at most once) whose value is `value`, simplest first.

    Keys stand in the order of `keys` (the config's) where the order is free: ``config.num_attention_heads ×
    config.head_dim``. With `exact` (keys measured to set the value) any key may take any place;
    otherwise keys that count things (``vocab_size``, ``max_position_embeddings``) stand only alone.
    """
    for key in keys:
        number = numbers[key]
        if number == value and isinstance(number, float) == isinstance(value, float):  # 2.0 is no count of 2
            yield Formula("{0}", (key,), 1, value)
    if not isinstance(value, int) or max_level < 2:
        return
    widths = [
        (key, number)
        for key in keys
        if isinstance(number := numbers[key], int) and (exact or not _CAPACITY.search(key))
    ]
    for key, number in widths:
        yield from _one(key, number, value, exact=exact)
    if max_level < 3:
        return
    for i, j in itertools.permutations(range(len(widths)), 2):
        yield from _two(i < j, widths[i], widths[j], value)
    if max_level < 4:
        return
    for (a, x), (b, y) in itertools.permutations(widths, 2):
        yield from _quotient(a, x, b, y, value, exact=exact)
    for i, j, k in itertools.permutations(range(len(widths)), 3):
        yield from _three(i < j, j < k, widths[i], widths[j], widths[k], value)


def _one(key: str, number: int, value: int, *, exact: bool) -> Iterator[Formula]:
    """``3 × {0}``, and ``{0} / 2`` (half a head: rotary frequencies) for a measured key only."""
    for factor in MULTIPLES:
        if factor * number == value:
            yield Formula(f"{factor} × {{0}}", (key,), 2, value)
    if exact and number == 2 * value:
        yield Formula("{0} / 2", (key,), 2, value)


def _quotient(a: str, x: int, b: str, y: int, value: int, *, exact: bool) -> Iterator[Formula]:
    """Patches of an image (and a class token), and half a head computed from the width (measured keys only)."""
    if y <= 1 or x % y:
        return
    if (x // y) ** 2 in (value, value - 1):
        pattern = "({0} / {1})²" if (x // y) ** 2 == value else "({0} / {1})² + 1"
        yield Formula(pattern, (a, b), 4, value)
    if exact and x // y == 2 * value:
        yield Formula("{0} / {1} / 2", (a, b), 4, value)


Slot = tuple[str, int]


def _two(ordered: bool, first: Slot, second: Slot, value: int) -> Iterator[Formula]:
    (a, x), (b, y) = first, second
    if ordered and x * y == value:
        yield Formula("{0} × {1}", (a, b), 3, value)
    if y > 1 and x % y == 0 and x // y == value:
        yield Formula("{0} / {1}", (a, b), 3, value)
    if ordered and x + y == value:
        yield Formula("{0} + {1}", (a, b), 3, value)


def _three(ordered: bool, ordered_last: bool, first: Slot, second: Slot, third: Slot, value: int) -> Iterator[Formula]:
    (a, x), (b, y), (c, z) = first, second, third
    if ordered and ordered_last and x * y * z == value:
        yield Formula("{0} × {1} × {2}", (a, b, c), 4, value)
    if ordered and z > 1 and (x * y) % z == 0 and x * y // z == value:
        yield Formula("{0} × {1} / {2}", (a, b, c), 4, value)
    if ordered and (x + y) * z == value:
        yield Formula("({0} + {1}) × {2}", (a, b, c), 4, value)
    if (x + 2 * y) * z == value:
        yield Formula("({0} + 2 × {1}) × {2}", (a, b, c), 4, value)


# --------------------------------------------------------------------------- names that point to keys

_HEADS = re.compile(r"head|d_kv|kv_channels")
_LAYOUT = re.compile(r"^(kernel_size|stride|padding|dilation|groups|output_padding)$")
"""Arguments about how a layer slides, not how wide it is: only a key named for that kind of thing sets them."""
_FEED_FORWARD = re.compile(r"intermediate|inner|ffn|ff_|d_ff|mlp|expert")
_PREFERENCES: tuple[tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]], ...] = (
    # (layer name, argument name, the words of the keys the argument is usually set by)
    (re.compile(r"^(q|k|v|qkv|query|key|value|c_attn|in_proj|q_proj|k_proj|v_proj|qkv_proj)$"),
     re.compile(r"^out_features$|^nf$"), _HEADS),
    (re.compile(r"^(o|o_proj|out_proj|wo_attn)$"), re.compile(r"^in_features$"), _HEADS),
    (re.compile(r"^(gate_proj|up_proj|gate_up_proj|fc1|c_fc|wi|wi_0|wi_1|w1|w3|lin1|dense_h_to_4h)$"),
     re.compile(r"^out_features$|^nf$"), _FEED_FORWARD),
    (re.compile(r"^(down_proj|fc2|wo|w2|lin2|dense_4h_to_h)$"), re.compile(r"^in_features$|^nx$"), _FEED_FORWARD),
    (re.compile(r""), re.compile(r"^(num_heads|num_attention_heads|n_head|n_heads|head_dim)$"), _HEADS),
    (re.compile(r""), re.compile(r"^num_embeddings$"), re.compile(r"vocab|position|bucket|label|type")),
    (re.compile(r""), _LAYOUT, re.compile(r"patch|kernel|stride|conv|pad|dilation|group|window")),
)  # fmt: skip


def _preference(layer_name: str, argument: str) -> Callable[[Formula], int]:
    """How many of a formula's keys are of the kind the argument's name points to (0: none, or no hint)."""
    words = [w for layer, arg, w in _PREFERENCES if layer.search(layer_name) and arg.search(argument)]
    return lambda formula: sum(any(w.search(key) for w in words) for key in formula.keys)
