"""Graphviz diagrams of a model: the module tree and the data flow of the traced forward pass.

The builders are pure: they read a `ModelSpec` and return DOT text, the same text for the
same spec. `render_svg` is the one function that runs `dot`.

Every user-controlled string (module names, ModuleDict keys, op arguments, symbolic
dimensions) passes through one escaper per DOT context, so it reaches the SVG as text:
``_html`` for HTML-like labels, ``_text`` for escString attributes such as tooltips,
``_url`` for links and ``_safe_id`` for element ids.

SVG classes (for the site's CSS): ``modeldoc-layer`` (a leaf module, or one call of it),
``modeldoc-container`` (a module drawn with its children), ``modeldoc-block`` (a submodule
drawn collapsed), ``modeldoc-fold`` (a run of repeated modules folded into one box),
``modeldoc-more`` (children left out), ``modeldoc-op`` (a functional op), ``modeldoc-io``
with ``modeldoc-input`` / ``modeldoc-output`` (data entering or leaving the diagram),
``modeldoc-failure`` (where a partial trace stopped), ``modeldoc-cluster`` and
``modeldoc-edge``; the graph itself is ``modeldoc-tree`` or ``modeldoc-flow``.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote

from modeldoc import progress
from modeldoc.errors import GraphvizNotFound, ModeldocError
from modeldoc.pages.layout import anchor
from modeldoc.spec import LayerSpec, ModelSpec, OpSpec, TensorInfo, TraceSpec

Href = Callable[[str], str]
"""Maps a layer path to the link its diagram node points at."""

FOLD_MIN = 4
"""Runs of at least this many identical siblings fold into first, "… N more", last."""
MAX_CHILDREN = 16
"""At most this many children of one module are drawn; the rest become "+N more"."""
MAX_FLOW_NODES = 90
"""A data-flow diagram with more nodes is drawn again one level shallower."""
_BRIEF_MAX = 40
_OP_ARGS_MAX = 28

# Fills are light and text is dark inside every box, so boxes read on any page background;
# lines and the text outside boxes (edge and cluster labels) are a mid grey that reads on
# both white and dark pages. The site's CSS restyles all of them by class.
_INK = "#1f2430"
_GREY = "#8a8f98"
_STYLE = {
    "layer": ('style="rounded,filled"', "#e8eaf6", "#3f51b5"),
    "container": ('style="rounded,filled"', "#f3f4f8", "#5c6bc0"),
    "block": ('style="rounded,filled", peripheries=2', "#fff3e0", "#ef6c00"),
    "fold": ('style="rounded,filled,dashed"', "#fff8e1", "#ef6c00"),
    "more": ('style="rounded,filled,dashed"', "#f5f5f5", _GREY),
    "op": ('shape=ellipse, style=filled, fontsize=9, height=0.2, margin="0.04,0.02"', "#f1f3f4", "#757575"),
    "input": ('shape=box, style="filled"', "#e0f2f1", "#00897b"),
    "output": ('shape=box, style="filled"', "#e0f2f1", "#00897b"),
    "failure": ('shape=octagon, style="filled"', "#ffebee", "#c62828"),
}
_CLASS = {
    "layer": "modeldoc-layer",
    "container": "modeldoc-container",
    "block": "modeldoc-block",
    "fold": "modeldoc-fold",
    "more": "modeldoc-more",
    "op": "modeldoc-op",
    "input": "modeldoc-io modeldoc-input",
    "output": "modeldoc-io modeldoc-output",
    "failure": "modeldoc-failure",
}
_PASS_THROUGH = frozenset({"contiguous", "clone", "detach", "to", "type_as", "float", "requires_grad_"})
"""Ops that only copy or re-type a tensor; the flow diagram draws straight through them."""
_DRAWN = frozenset({"layer", "block", "op"})
"""Kinds of box that stand for work done inside the diagram's root."""
_INTEGER_DTYPES = frozenset({"int64", "int32", "int16", "int8", "uint8", "bool", "long"})


# --- escaping -------------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _visible(text: object) -> str:
    r"""`text` with the characters XML cannot carry (controls, lone surrogates) written as ``\xNN`` escapes.

    Graphviz rejects them in labels ("not well-formed") or cuts the input at a NUL byte.
    """
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), str(text))


def _html(text: object) -> str:
    r"""`text` for an HTML-like label, shown as written.

    Entities are escaped, and backslashes doubled: Graphviz expands ``\N`` and its
    friends even inside HTML-like labels. Square brackets become character references:
    Graphviz's HTML lexer fails on a label whose text is only ``]``.
    """
    escaped = html.escape(_visible(text.replace("\t", " ") if isinstance(text, str) else text), quote=True)
    escaped = escaped.replace("\\", "\\\\").replace("[", "&#91;").replace("]", "&#93;")
    return re.sub(r"[\r\n]+", " ", escaped)


def _text(text: object) -> str:
    """`text` for a double-quoted escString attribute (tooltip) that reaches the SVG as text.

    Graphviz copies ``&...;`` entities into the SVG unescaped and applies two rounds of
    backslash processing to tooltips, hence the ``&amp;`` and the four backslashes.
    """
    escaped = html.escape(_visible(text), quote=False).replace("\\", "\\\\\\\\").replace('"', '\\"')
    return re.sub(r"[\r\n]+", " ", escaped)


def _url(url: str) -> str:
    """A link for a ``URL`` attribute.

    Graphviz writes URLs into the SVG unescaped, so every character that could end the
    attribute or start an entity is percent-encoded.
    """
    return quote(url, safe="/#:?=%@!$()*+,;~.-_", errors="backslashreplace")


def _safe_id(text: str) -> str:
    """An element id made only of letters, digits, ``-`` and ``_``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)


# --- what a box says ------------------------------------------------------------------


def brief(layer: LayerSpec) -> str:
    """The key hyperparameters of a layer in a few characters, e.g. ``"1→6, 5×5"``."""
    hp = {h.name: h.value for h in layer.hyperparameters}
    parts = _brief_parts(hp)
    text = ", ".join(p for p in parts if p)
    return text if len(text) <= _BRIEF_MAX else text[: _BRIEF_MAX - 1] + "…"


def _brief_parts(hp: dict[str, Any]) -> list[str]:  # noqa: PLR0911, PLR0912 - one table, one row per branch
    def has(*names: str) -> bool:
        return all(n in hp for n in names)

    if has("in_channels", "out_channels"):
        groups = hp.get("groups", 1)
        return [
            f"{hp['in_channels']}→{hp['out_channels']}",
            *_window(hp, pooling=False),
            f"groups {groups}" if isinstance(groups, int) and groups > 1 else "",
        ]
    if has("in1_features", "in2_features", "out_features"):
        return [f"{hp['in1_features']}, {hp['in2_features']}→{hp['out_features']}"]
    if has("in_features", "out_features"):
        return [f"{hp['in_features']}→{hp['out_features']}"]
    if has("nx", "nf"):
        return [f"{hp['nx']}→{hp['nf']}"]
    if has("num_embeddings", "embedding_dim"):
        return [f"{hp['num_embeddings']} ids → {hp['embedding_dim']}"]
    if has("input_size", "hidden_size"):
        layers = hp.get("num_layers", 1)
        return [
            f"{hp['input_size']}→{hp['hidden_size']}",
            f"{layers} layers" if isinstance(layers, int) and layers > 1 else "",
            "bidirectional" if hp.get("bidirectional") is True else "",
        ]
    if has("embed_dim", "num_heads"):
        return [f"{hp['embed_dim']}", f"{hp['num_heads']} heads"]
    if has("d_model", "nhead"):
        ff = hp.get("dim_feedforward")
        return [f"{hp['d_model']}", f"{hp['nhead']} heads", f"ff {ff}" if ff is not None else ""]
    if has("num_groups", "num_channels"):
        return [f"{hp['num_channels']} in {hp['num_groups']} groups"]
    if "num_features" in hp:
        return [str(hp["num_features"])]
    if "normalized_shape" in hp:
        return [_dims_text(hp["normalized_shape"])]
    if "kernel_size" in hp:
        return _window(hp, pooling=True)
    if "output_size" in hp:
        return [f"→ {_dims_text(hp['output_size'])}"]
    if isinstance(hp.get("p"), float):
        return [f"p={hp['p']}"]
    return []


def _window(hp: dict[str, Any], *, pooling: bool) -> list[str]:
    kernel = hp.get("kernel_size")
    out = [_dims_text(kernel)] if kernel is not None else []
    stride = hp.get("stride")
    # Pooling strides default to the window; convolution strides to 1.
    if stride is not None and (stride != kernel if pooling else not _all_equal(stride, 1)):
        out.append(f"stride {_compact(stride)}")
    padding = hp.get("padding")
    if isinstance(padding, str) and padding not in ("valid", ""):
        out.append(f"pad {padding}")
    elif padding is not None and not isinstance(padding, str) and not _all_equal(padding, 0):
        out.append(f"pad {_compact(padding)}")
    dilation = hp.get("dilation")
    if dilation is not None and not _all_equal(dilation, 1):
        out.append(f"dilation {_compact(dilation)}")
    return out


def _all_equal(value: Any, number: int) -> bool:
    if isinstance(value, list | tuple):
        return all(v == number for v in value)
    return bool(value == number)


def _compact(value: Any) -> str:
    """A stride or padding: ``[2, 2]`` becomes ``"2"``, ``[1, 2]`` stays ``"1×2"``."""
    if isinstance(value, list | tuple) and value and all(v == value[0] for v in value):
        return str(value[0])
    return _dims_text(value)


def _dims_text(value: Any) -> str:
    """``[5, 5]`` becomes ``"5×5"``, ``5`` stays ``"5"``."""
    if isinstance(value, list | tuple):
        return "×".join(str(v) for v in value)
    return str(value)


def _shape_text(tensor: TensorInfo) -> str:
    """An edge label: ``"N × 6 × 24 × 24"``, with the dtype when it is not a float."""
    dims = tensor.dims or tensor.shape
    text = " × ".join(str(d) for d in dims) if dims else "scalar"
    return f"{text} · {tensor.dtype}" if tensor.dtype in _INTEGER_DTYPES else text


def _short_args(args: str) -> str:
    """An op's arguments for its box: switched-off flags and the device left out, then cut short."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(args + ","):
        depth += (ch in "([{") - (ch in ")]}")
        if ch == "," and depth == 0:
            parts.append(args[start:i].strip())
            start = i + 1
    kept = [p for p in parts if p and not _NOISE.match(p)]
    text = ", ".join(kept)
    return text if len(text) <= _OP_ARGS_MAX else text[: _OP_ARGS_MAX - 1] + "…"


_NOISE = re.compile(r"^(\w+=(None|False)|device=.*)$")


def _label(title: str, *small: str) -> str:
    """An HTML-like label: a bold title, then small lines.

    A title with no visible character (an empty ModuleDict key) is shown quoted, ``''``:
    Graphviz rejects an empty ``<B></B>``.
    """
    shown = title if title.strip() else repr(title)
    lines = [f"<B>{_html(shown)}</B>"] + [f'<FONT POINT-SIZE="9">{_html(s)}</FONT>' for s in small if s]
    return "<BR/>".join(lines)


def _type_line(layer: LayerSpec) -> str:
    text = brief(layer)
    return f"{layer.type_name} {text}" if text else layer.type_name


def _collapsed_line(layer: LayerSpec, layers: dict[str, LayerSpec], inside: int) -> str:
    """What a collapsed container says: ``"ModuleList · 12 × GPT2Block"`` or ``"Block · +8 more"``."""
    kinds = {layers[c].type_name for c in layer.children if c in layers}
    if len(layer.children) > 1 and len(kinds) == 1:
        return f"{layer.type_name} · {len(layer.children)} × {kinds.pop()}"
    return f"{layer.type_name} · +{inside} more"


# --- the DOT text ---------------------------------------------------------------------


@dataclass
class _Dot:
    """Accumulates DOT statements; every attribute value goes through an escaper."""

    graph_id: str
    lines: list[str] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)
    edges: int = 0

    def name(self, key: str) -> str:
        """The DOT node name for `key`: ``n0``, ``n1``, ... in the order nodes are written."""
        return self.names.setdefault(key, f"n{len(self.names)}")

    def unique(self, wanted: str) -> str:
        """A unique, safe element id."""
        base = self.graph_id + "-" + _safe_id(wanted)
        found, n = base, 1
        while found in self.ids:
            n += 1
            found = f"{base}-{n}"
        self.ids.add(found)
        return found

    def node(
        self,
        name: str,
        kind: str,
        label: str,
        *,
        element_id: str,
        tooltip: str,
        url: str = "",
        indent: str = "  ",
        extra_class: str = "",
    ) -> None:
        """A node statement in the style of `kind`."""
        style, fill, line = _STYLE[kind]
        cls = f"{_CLASS[kind]} {extra_class}".strip()
        attrs = [
            f"label=<{label}>",
            style,
            f'fillcolor="{fill}"',
            f'color="{line}"',
            f'class="{cls}"',
            f'id="{self.unique(element_id)}"',
            f'tooltip="{_text(tooltip)}"',
        ]
        if url:
            attrs += [f'URL="{_url(url)}"', 'target="_top"']
        self.lines.append(f"{indent}{name} [{', '.join(attrs)}];")

    def edge(self, tail: str, head: str, *, label: str = "", tooltip: str = "", indent: str = "  ") -> None:
        """An edge statement, with its size label."""
        attrs = [f'id="{self.unique(f"e{self.edges}")}"', 'class="modeldoc-edge"']
        self.edges += 1
        if label:
            attrs.append(f"label=<{_html(label)}>")
        if tooltip:
            attrs.append(f'tooltip="{_text(tooltip)}"')
        self.lines.append(f"{indent}{tail} -> {head} [{', '.join(attrs)}];")

    def text(self) -> str:
        """The finished graph."""
        return "\n".join([*self.lines, "}"]) + "\n"


def _header(graph_id: str, kind: str, rankdir: str, ranksep: float) -> list[str]:
    return [
        f"digraph {kind} {{",
        f'  graph [id="{graph_id}", class="modeldoc-{kind}", rankdir={rankdir}, bgcolor="transparent", '
        f'fontname="Helvetica", fontsize=10, fontcolor="{_GREY}", nodesep=0.25, ranksep={ranksep}];',
        f'  node [shape=box, fontname="Helvetica", fontsize=11, fontcolor="{_INK}", height=0.3, margin="0.1,0.04"];',
        f'  edge [color="{_GREY}", fontname="Helvetica", fontsize=9, fontcolor="{_GREY}", arrowsize=0.6];',
    ]


# --- shared structure -----------------------------------------------------------------


def _within(path: str, root: str) -> bool:
    """True when `path` is `root` or below it."""
    return not root or path == root or path.startswith(root + ".")


def _relative(path: str, base: str) -> str:
    """`path` as seen from `base` (``"h.0.attn"`` from ``"transformer"`` is ``"h.0.attn"``)."""
    if not base:
        return path
    return path[len(base) + 1 :] if path != base else path


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


class _Shapes:
    """Structural signatures of subtrees (equal for identical repeated blocks) and sizes."""

    def __init__(self, layers: dict[str, LayerSpec]) -> None:
        self.layers = layers
        self._ids: dict[Hashable, int] = {}
        self._sig: dict[str, int] = {}
        self._size: dict[str, int] = {}

    def signature(self, path: str) -> int:
        """The same small number for subtrees of the same shape, types and hyperparameters."""
        self._compute(path)
        return self._sig[path]

    def inside(self, path: str) -> int:
        """How many modules sit below `path`."""
        self._compute(path)
        return self._size[path]

    def _compute(self, path: str) -> None:
        """Signatures and sizes of `path`'s subtree, children first, without recursion."""
        if path in self._sig:
            return
        order: list[str] = []
        stack = [path]
        while stack:
            current = stack.pop()
            if current in self._sig:
                continue
            order.append(current)
            stack.extend(c for c in self.layers[current].children if c in self.layers)
        for current in reversed(order):
            layer = self.layers[current]
            children = [c for c in layer.children if c in self.layers]
            key = (layer.type_name, brief(layer), tuple((self.layers[c].name, self._sig[c]) for c in children))
            self._sig[current] = self._ids.setdefault(key, len(self._ids))
            self._size[current] = sum(1 + self._size[c] for c in children)


@dataclass(frozen=True)
class _Run:
    """Consecutive items: one shown as is (len 1), or a folded run."""

    items: tuple[Any, ...]

    @property
    def folded(self) -> bool:
        return len(self.items) > 1


def _fold(items: Sequence[Any], same: Callable[[Any, Any], bool]) -> list[_Run]:
    """Group `items` into runs, folding repeats.

    A run of at least FOLD_MIN items where `same` holds for each pair of neighbours keeps
    its first and last item; the middle becomes one folded run.
    """
    out: list[_Run] = []
    i = 0
    while i < len(items):
        j = i + 1
        while j < len(items) and same(items[j - 1], items[j]):
            j += 1
        if j - i >= FOLD_MIN:
            out += [_Run((items[i],)), _Run(tuple(items[i + 1 : j - 1])), _Run((items[j - 1],))]
        else:
            out += [_Run((item,)) for item in items[i:j]]
        i = j
    return out


# --- the module tree ------------------------------------------------------------------


def tree_dot(spec: ModelSpec, root: str, depth: int, href: Href, *, id_prefix: str = "") -> str:
    """The module tree below `root`, `depth` levels deep, each node linking to its section.

    Deeper modules are summarised in their ancestor's box (``+N more``); runs of identical
    sibling blocks fold into first, ``… N more``, last; a module with very many children
    shows the first ones and a ``+N more`` box.
    """
    layers = {layer.path: layer for layer in spec.all_layers}
    shapes = _Shapes(layers)
    dot = _Dot(f"{id_prefix}tree")
    dot.lines += _header(dot.graph_id, "tree", "LR", 0.4)
    names = iter(f"n{i}" for i in range(10**9))

    def visit(path: str, level: int) -> str:
        layer = layers[path]
        node = next(names)
        children = [c for c in layer.children if c in layers]
        title = (path or spec.name) if level == 0 else layer.name
        if not children:
            kind, small = "layer", _type_line(layer)
        elif level >= depth:
            kind, small = "block", _collapsed_line(layer, layers, shapes.inside(path))
        else:
            kind, small = "container", layer.type_name if path else f"{spec.total_params:,} parameters"
        dot.node(
            node,
            kind,
            _label(title, small),
            element_id=anchor(path),
            tooltip=f"{path or spec.name}: {layer.repr}",
            url=href(path),
            extra_class="modeldoc-root" if level == 0 else "",
        )
        if kind != "container":
            return node
        runs = _fold(children, lambda a, b: shapes.signature(a) == shapes.signature(b))
        shown = runs if len(runs) <= MAX_CHILDREN else runs[: MAX_CHILDREN - 2]
        for run in shown:
            child = visit(run.items[0], level + 1) if not run.folded else fold(run.items)
            dot.edge(node, child)
        if len(shown) < len(runs):
            left = sum(len(run.items) for run in runs[len(shown) :])
            more = next(names)
            dot.node(
                more,
                "more",
                _label(f"+{left} more", "children of " + (path or spec.name)),
                element_id=anchor(path) + "-more",
                tooltip=f"{left} more children of {path or spec.name}; see its section",
                url=href(path),
            )
            dot.edge(node, more)
        return node

    def fold(paths: tuple[str, ...]) -> str:
        node = next(names)
        first, last = layers[paths[0]], layers[paths[-1]]
        dot.node(
            node,
            "fold",
            _label(f"{first.name} … {last.name}", f"{len(paths)} more × {first.type_name}"),
            element_id=anchor(first.path) + "-fold",
            tooltip=f"{first.path} to {last.path}: {len(paths)} more modules like the ones around them",
            url=href(first.path),
        )
        return node

    visit(root, 0)
    return dot.text()


# --- the data flow --------------------------------------------------------------------


@dataclass
class _Unit:
    """A box of the data-flow diagram."""

    key: str
    kind: str
    path: str
    """The layer path (layers, blocks, failures), the scope (ops), or "" (inputs and outputs)."""
    cluster: str | None
    """Path of the container cluster it is drawn in; None at the top level."""
    order: int
    title: str = ""
    small: tuple[str, ...] = ()
    tooltip: str = ""
    link: str | None = None
    """Layer path to link to, if any."""
    call: int = 0
    failed: bool = False
    sig: Hashable = None


@dataclass
class _Edge:
    tail: str
    head: str
    label: str
    tensors: set[int]


class _Flow:
    """The data-flow graph of the ops of one trace below `root`, `depth` levels deep."""

    def __init__(self, spec: ModelSpec, trace: TraceSpec, root: str, depth: int) -> None:
        self.spec = spec
        self.trace = trace
        self.root = root
        self.depth = depth
        self.layers = {layer.path: layer for layer in spec.all_layers}
        self.shapes = _Shapes(self.layers)
        self.tensors = {t.id: t for t in trace.tensors}
        self.units: dict[str, _Unit] = {}
        self.edges: dict[tuple[str, str, str], _Edge] = {}
        self.calls: dict[str, int] = {}
        self.io: dict[str, _Unit] = {}
        self.input_names = {i.name for i in spec.inputs}
        self._build()

    # -- construction

    def _level(self, path: str) -> int:
        rel = _relative(path, self.root) if path != self.root else ""
        return rel.count(".") + 1 if rel else 0

    def _ancestor(self, path: str, level: int) -> str:
        """The ancestor of `path` (below root) `level` levels under root."""
        rel = _relative(path, self.root).split(".")[:level]
        return ".".join([self.root, *rel]) if self.root else ".".join(rel)

    def _name(self, path: str) -> str:
        """How a box names a layer: its attribute path from the diagram's root."""
        return (_relative(path, self.root) if path != self.root else path) or self.spec.name

    def _cluster_of(self, container: str) -> str | None:
        return None if container == self.root or not _within(container, self.root) else container

    def _new(self, kind: str, path: str, cluster: str | None, order: int, **more: Any) -> _Unit:
        unit = _Unit(key=f"n{len(self.units)}", kind=kind, path=path, cluster=cluster, order=order, **more)
        self.units[unit.key] = unit
        return unit

    def _build(self) -> None:
        # Tensor id to what produced it as of the op being read: a box key, or the op
        # itself when it is a model input or lies outside root (its box is made on first use).
        producer: dict[int, str | OpSpec] = {}
        alias: dict[int, int] = {}
        consumed: set[int] = set()
        block: tuple[str, _Unit] | None = None
        last: tuple[OpSpec, _Unit] | None = None
        for op in self.trace.ops:
            inputs = [alias.get(t, t) for t in op.inputs]
            consumed.update(inputs)
            if op.kind == "input":
                producer.update((t, op) for t in op.outputs)
                block = None
                continue
            if op.kind == "output":
                for t in inputs:
                    source = producer.get(t)
                    if isinstance(source, OpSpec) and source.kind != "input":
                        continue  # made outside root: not this diagram's output
                    self._edge_from(t, producer, partial(self._io, "output", op.name or "output", op.index))
                block = None
                continue
            owner = op.name if op.kind == "module" else op.scope
            if not _within(owner, self.root):
                block = None
                for t in inputs:
                    source = producer.get(t)
                    if isinstance(source, str) and self.units[source].kind in _DRAWN:
                        self._edge_from(t, producer, partial(self._outside, op, "to"))
                producer.update((t, op) for t in op.outputs)
                continue
            if self._passes_through(op):
                alias[op.outputs[0]] = inputs[0]
                continue
            unit, block = self._unit_for(op, owner, block)
            last = (op, unit)
            for t in inputs:
                self._edge_from(t, producer, partial(_given, unit))
            producer.update((t, unit.key) for t in op.outputs)
        if not self.trace.complete:
            self._failure(last, producer, consumed)
        self._fold_clusters()

    def _unit_for(
        self, op: OpSpec, owner: str, block: tuple[str, _Unit] | None
    ) -> tuple[_Unit, tuple[str, _Unit] | None]:
        level = self._level(owner)
        if op.kind == "module" and level <= self.depth:
            return self._layer_unit(op, owner), None
        if op.kind == "function" and level < self.depth:
            args = _short_args(op.args)
            unit = self._new(
                "op",
                owner,
                self._cluster_of(owner),
                op.index,
                title=op.name,
                small=(args,),
                tooltip=f"{op.target}({op.args}) in {owner or self.spec.name}",
                sig=("op", op.name, op.args),
            )
            return unit, None
        top = self._ancestor(owner, self.depth)
        if block is not None and block[0] == top:
            return block[1], block
        unit = self._layer_unit(op, top, kind="block")
        return unit, (top, unit)

    def _layer_unit(self, op: OpSpec, path: str, kind: str = "layer") -> _Unit:
        self.calls[path] = self.calls.get(path, 0) + 1
        layer = self.layers.get(path)
        type_name = layer.type_name if layer else op.target.rsplit(".", 1)[-1]
        if layer is None:
            small = type_name
        elif kind == "block":
            small = _collapsed_line(layer, self.layers, self.shapes.inside(path))
        else:
            small = _type_line(layer)
        return self._new(
            kind,
            path,
            self._cluster_of(_parent(path)) if path != self.root else None,
            op.index,
            title=self._name(path),
            small=(small,),
            tooltip=f"{path or self.spec.name}: {layer.repr if layer else op.target}",
            link=path if layer else None,
            call=self.calls[path],
            sig=(kind, self.shapes.signature(path) if layer else type_name),
        )

    def _io(self, kind: str, name: str, order: int) -> _Unit:
        key = f"{kind}:{name}"
        if key not in self.io:
            what = "model input" if kind == "input" else "model output"
            tip = what if name in ("input", "output") else f"{what} {name}"
            self.io[key] = self._new(kind, "", None, order, title=name, small=(what,), tooltip=tip)
        return self.io[key]

    def _outside(self, op: OpSpec, direction: str) -> _Unit:
        """The box standing for an op outside the diagram's root: ``from embed``, ``to lm_head``."""
        owner = op.name if op.kind == "module" else op.scope
        parts = owner.split(".") if owner else []
        name, link = f"{op.name} in {owner or self.spec.name}", None
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if not _within(self.root, prefix):
                name, link = prefix, prefix if prefix in self.layers else None
                break
        key = f"{direction}:{name}"
        if key not in self.io:
            self.io[key] = self._new(
                "input" if direction == "from" else "output",
                "",
                None,
                op.index,
                title=f"{direction} {name}",
                small=(f"outside {self.root}",),
                tooltip=f"data {direction} {name}, outside {self.root}",
                link=link,
            )
        return self.io[key]

    def _passes_through(self, op: OpSpec) -> bool:
        if op.kind != "function" or op.name not in _PASS_THROUGH or len(op.inputs) != 1 or len(op.outputs) != 1:
            return False
        a, b = self.tensors.get(op.inputs[0]), self.tensors.get(op.outputs[0])
        return a is not None and b is not None and a.shape == b.shape

    def _edge_from(self, tensor: int, producer: dict[int, str | OpSpec], head: Callable[[], _Unit]) -> None:
        """An edge for `tensor` into the box `head` makes, from the box that produced it."""
        source = producer.get(tensor)
        info = self.tensors.get(tensor)
        if source is None and info is not None and info.producer is None and info.name in self.input_names:
            source = self._io("input", info.name, -1).key  # a model input the trace recorded without an op
        if source is None:
            return  # a parameter or a constant
        if isinstance(source, OpSpec):
            made = self._io("input", source.name or "input", source.index) if source.kind == "input" else None
            source = (made or self._outside(source, "from")).key
            producer[tensor] = source
        target = head().key
        if source != target:
            self._add_edge(source, target, _shape_text(info) if info else "", {tensor})

    def _add_edge(self, tail: str, head: str, label: str, tensors: set[int]) -> None:
        """One edge per pair of boxes and size; it counts the distinct tensors it stands for."""
        key = (tail, head, label)
        if key in self.edges:
            self.edges[key].tensors |= tensors
        else:
            self.edges[key] = _Edge(tail, head, label, set(tensors))

    def _failure(
        self, last: tuple[OpSpec, _Unit] | None, producer: dict[int, str | OpSpec], consumed: set[int]
    ) -> None:
        """Mark where a partial trace stopped: the call that failed, or a box after the last op."""
        failed_in = self.trace.failed_in
        error = self.trace.error or "the forward pass stopped here"
        in_region = failed_in in self.layers and _within(failed_in, self.root)
        if last is None and not in_region:
            return
        if last is not None and not last[0].outputs and failed_in in ("", last[0].name, last[1].path):
            last[1].failed = True
            last[1].tooltip = f"{last[1].tooltip}; the forward pass failed here: {error}"
            return
        where = failed_in or (last[0].name if last else "")
        unit = self._new(
            "failure",
            failed_in if in_region else "",
            self._cluster_of(_parent(failed_in)) if in_region and failed_in != self.root else None,
            len(self.trace.ops),
            title=f"✗ failed in {where}" if where else "✗ failed",
            small=tuple(textwrap.wrap(error, 44)[:3]),
            tooltip=f"The forward pass failed{' in ' + where if where else ''}: {error}",
            link=failed_in if failed_in in self.layers else None,
        )
        if last is not None:
            for t in last[0].outputs:
                if t not in consumed:
                    self._edge_from(t, producer, partial(_given, unit))

    # -- folding repeated blocks

    def _fold_clusters(self) -> None:
        """Fold runs of identical, chained items (boxes or whole clusters) inside each cluster.

        Outer clusters go first; a cluster that was folded away is not looked into.
        """
        merged: dict[str, str] = {}
        items = self._items()
        folded: list[str] = []
        # Edges and cluster members do not change until the merge at the end: index them once.
        heads: dict[str, set[str]] = {}
        for e in self.edges.values():
            heads.setdefault(e.tail, set()).add(e.head)
        self._heads = heads
        self._inside = self._cluster_members()
        for cluster in sorted(items, key=lambda c: (c is not None, (c or "").count("."), c or "")):
            if cluster is not None and any(_within(cluster, f) for f in folded):
                continue
            inside = items[cluster]
            members = [self._members(item) for item in inside]
            sigs = [self._item_sig(item, items) for item in inside]

            def same(i: int, j: int, members: list[list[str]] = members, sigs: list[Hashable] = sigs) -> bool:
                return sigs[i] == sigs[j] and self._linked(members[i], members[j])

            for run in _fold(range(len(inside)), same):
                if run.folded:
                    fold = self._fold_unit(cluster, [inside[i] for i in run.items])
                    merged.update((key, fold.key) for i in run.items for key in members[i])
                    folded += [inside[i] for i in run.items if isinstance(inside[i], str)]
        if merged:
            self._merge(merged)

    def _items(self) -> dict[str | None, list[Any]]:
        """For each cluster (None = top level): its boxes and child clusters, in trace order."""
        firsts: dict[str, int] = {}
        for unit in self.units.values():
            c = unit.cluster
            while c is not None:
                firsts[c] = min(firsts.get(c, unit.order), unit.order)
                c = self._cluster_of(_parent(c))
        items: dict[str | None, list[tuple[int, Any]]] = {}
        for unit in self.units.values():
            items.setdefault(unit.cluster, []).append((unit.order, unit))
        for c, first in firsts.items():
            items.setdefault(self._cluster_of(_parent(c)), []).append((first, c))
        return {
            c: [item for _, item in sorted(v, key=lambda p: (p[0], isinstance(p[1], str)))] for c, v in items.items()
        }

    def _cluster_members(self) -> dict[str, list[str]]:
        """The keys of the units inside each cluster, at any depth."""
        inside: dict[str, list[str]] = {}
        for u in self.units.values():
            c = u.cluster
            while c is not None:
                inside.setdefault(c, []).append(u.key)
                c = self._cluster_of(_parent(c)) if c else None
        return inside

    def _members(self, item: Any) -> list[str]:
        if isinstance(item, _Unit):
            return [item.key]
        return list(self._inside.get(item, []))

    def _item_sig(self, item: Any, items: dict[str | None, list[Any]]) -> Hashable:
        """Equal for boxes or clusters that draw the same thing."""
        if isinstance(item, _Unit):
            return item.sig if item.kind in ("layer", "block", "op") else ("unique", item.key)
        static = self.shapes.signature(item) if item in self.layers else item
        return ("cluster", static, tuple(self._item_sig(i, items) for i in items.get(item, [])))

    def _linked(self, first: list[str], second: list[str]) -> bool:
        """True when an edge runs from a unit of `first` to a unit of `second`."""
        b = set(second)
        return any(not self._heads.get(tail, set()).isdisjoint(b) for tail in first)

    def _fold_unit(self, cluster: str | None, items: list[Any]) -> _Unit:
        paths = [item.path if isinstance(item, _Unit) else item for item in items]
        first = items[0]
        if isinstance(first, _Unit) and first.kind == "op":
            kind_name = first.title
        else:
            layer = self.layers.get(paths[0])
            kind_name = layer.type_name if layer else paths[0]
        names = [self._name(p) for p in (paths[0], paths[-1])]
        order = first.order if isinstance(first, _Unit) else min(self.units[k].order for k in self._members(first))
        return self._new(
            "fold",
            paths[0],
            cluster,
            order,
            title=f"{names[0]} … {names[1]}",
            small=(f"{len(items)} more × {kind_name}",),
            tooltip=f"{paths[0]} to {paths[-1]}: {len(items)} more of the same, one after another",
            link=paths[0] if paths[0] in self.layers else None,
        )

    def _merge(self, merged: dict[str, str]) -> None:
        def final(key: str) -> str:
            while key in merged:
                key = merged[key]
            return key

        edges = list(self.edges.values())
        self.edges = {}
        for e in edges:
            tail, head = final(e.tail), final(e.head)
            if tail != head:
                self._add_edge(tail, head, e.label, e.tensors)
        self.units = {k: u for k, u in self.units.items() if k not in merged}

    # -- output

    def size(self) -> int:
        """How many boxes the diagram has."""
        return len(self.units)

    def dot(self, href: Href, id_prefix: str) -> str:
        """The DOT text."""
        dot = _Dot(f"{id_prefix}flow")
        dot.lines += _header(dot.graph_id, "flow", "TB", 0.3)
        items = self._items()
        self._emit(dot, items, None, href, "  ")
        ins = [dot.name(u.key) for u in self.units.values() if u.kind == "input"]
        outs = [dot.name(u.key) for u in self.units.values() if u.kind == "output"]
        if ins:
            dot.lines.append(f"  {{rank=min; {'; '.join(ins)};}}")
        if outs:
            dot.lines.append(f"  {{rank=max; {'; '.join(outs)};}}")
        for e in self.edges.values():
            label = e.label if len(e.tensors) == 1 else f"{e.label} (×{len(e.tensors)})"
            tail, head = self.units[e.tail], self.units[e.head]
            dot.edge(dot.name(e.tail), dot.name(e.head), label=label, tooltip=f"{tail.title} → {head.title}: {label}")
        return dot.text()

    def _emit(self, dot: _Dot, items: dict[str | None, list[Any]], cluster: str | None, href: Href, pad: str) -> None:
        for item in items.get(cluster, []):
            if isinstance(item, _Unit):
                self._emit_unit(dot, item, href, pad)
                continue
            layer = self.layers.get(item)
            title = self._name(item)
            dot.lines.append(f"{pad}subgraph cluster_{len(dot.lines)} {{")
            attrs = [
                f"label=<{_label(title, layer.type_name if layer else '')}>",
                f'id="{dot.unique("cluster-" + anchor(item))}"',
                'class="modeldoc-cluster"',
                'style="rounded,filled,dashed"',
                'fillcolor="#8a8f9814"',
                f'color="{_GREY}"',
                "labeljust=l",
                f'tooltip="{_text(item + (": " + layer.repr if layer else ""))}"',
            ]
            url = href(item) if layer is not None else ""
            if url:
                attrs += [f'URL="{_url(url)}"', 'target="_top"']
            dot.lines.append(f"{pad}  graph [{', '.join(attrs)}];")
            self._emit(dot, items, item, href, pad + "  ")
            dot.lines.append(f"{pad}}}")

    def _emit_unit(self, dot: _Dot, unit: _Unit, href: Href, pad: str) -> None:
        small = list(unit.small)
        total = self.calls.get(unit.path, 0)
        if unit.kind in ("layer", "block") and total > 1:
            small.append(f"call {unit.call} of {total}")
        element = {
            "layer": anchor(unit.path),
            "block": anchor(unit.path),
            "fold": anchor(unit.path) + "-fold",
            "failure": "failure",
            "op": f"op-{unit.order}",
        }.get(unit.kind, f"{unit.kind}-{unit.title}")
        dot.node(
            dot.name(unit.key),
            "failure" if unit.failed else unit.kind,
            _label(unit.title, *small),
            element_id=element,
            tooltip=unit.tooltip,
            url=href(unit.link) if unit.link is not None else "",
            indent=pad,
            extra_class=_CLASS[unit.kind] if unit.failed else "",
        )


def _given(unit: _Unit) -> _Unit:
    return unit


def flow_dot(spec: ModelSpec, root: str, depth: int, href: Href, *, id_prefix: str = "") -> str:
    """The data flow of the traced forward pass below `root`, or ``""`` without a trace.

    Leaf modules at most `depth` levels below `root` are boxes (one per call), functional
    ops are small ellipses, containers above that depth are clusters, and a deeper
    submodule collapses into one box that links to its section. Runs of identical chained
    blocks fold into first, ``… N more``, last; a diagram that still has more than
    MAX_FLOW_NODES boxes is drawn a level shallower. A partial trace is drawn up to the
    failure, which is marked.
    """
    spec.layer(root)  # an unknown root is a caller's bug: KeyError
    flow = _fitted_flow(spec, root, depth)
    return flow.dot(href, id_prefix) if flow is not None else ""


def _fitted_flow(spec: ModelSpec, root: str, depth: int) -> _Flow | None:
    """The flow graph at `depth`, or shallower until it has at most MAX_FLOW_NODES boxes."""
    trace = spec.trace
    if trace is None or not trace.ops:
        return None
    level = max(depth, 1)
    flow = _Flow(spec, trace, root, level)
    while flow.size() > MAX_FLOW_NODES and level > 1:
        level -= 1
        flow = _Flow(spec, trace, root, level)
    return flow


def flow_blocks(spec: ModelSpec, root: str, depth: int) -> tuple[str, ...]:
    """Paths of the submodules `flow_dot` draws collapsed (or folded) for these arguments.

    A page can give each of them a diagram of its own, in its section, so that every part
    of the forward pass is drawn somewhere.
    """
    flow = _fitted_flow(spec, root, depth)
    if flow is None:
        return ()
    found = dict.fromkeys(u.path for u in flow.units.values() if u.kind in ("block", "fold") and u.path in flow.layers)
    return tuple(found)


# --- running dot ----------------------------------------------------------------------

_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def require_dot() -> str:
    """The path of Graphviz's `dot`, or GraphvizNotFound saying how to install it."""
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizNotFound()
    return binary


def render_svg(dot: str) -> str:
    """Run Graphviz `dot` on `dot` and return the SVG element, ready to inline in HTML."""
    progress.tick("diagrams")
    result = subprocess.run(
        [require_dot(), "-Tsvg"], input=dot.encode("utf-8"), capture_output=True, check=False, timeout=300
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ModeldocError(f"Graphviz failed on a diagram: {message[0] if message else 'no message'}")
    svg = result.stdout.decode("utf-8")
    return _COMMENT.sub("", _XML_PROLOGUE.sub("", svg, count=1)).strip()
