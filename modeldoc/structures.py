"""Structure groups: repeated blocks with one structure, found so that they are documented once.

Two blocks have one structure when their module trees match (the same child names and types,
the same parameter and buffer names and shapes) and the recorded forward pass ran the same
steps inside them (the same ops and module calls, wired the same way, on tensors of the same
sizes). LLaMA's ``layers.0 … layers.79`` are one group; DeepSeek-V3's three dense blocks and
its mixture-of-experts blocks are two. What may differ between the instances of a group is
listed, not hidden: a constructor argument's value or kind, a frozen or tied tensor, a dtype,
and whether the forward pass called the instance at all (an instance it did not reach joins
the group of the instances it did).

A repeated block that always sits at the same place inside the instances of a larger group
(each block's ``attn``) is part of that group, not a group of its own. Everything here is pure:
it reads the spec, so it also runs on a saved description.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, replace

from modeldoc.explain.reuse import copied
from modeldoc.spec import Aspect, Difference, LayerSpec, ModelSpec, OpSpec, StructureSpec, TraceSpec, Value

REUSE = True
"""True skips, in `_differences`, each layer whose facts every instance has alike (one comparison per
fact, no tally); False tallies every fact of every instance. The tests build the JSON both ways."""
QUICK_KEYS = True
"""True writes, in `_CallKeys.key`, each op's fixed part (kind, target, arguments, call, output sizes) as a number,
one per distinct part, and each scope relative to the block once per block: keys equal exactly when they would
as tuples, and are hashed and compared at a fraction of the cost; False builds the tuples op by op. The tests
build the JSON both ways."""


def attach(spec: ModelSpec) -> ModelSpec:
    """`spec` with its structure groups (`ModelSpec.structures`) and each layer's group (`LayerSpec.structure`)."""
    groups = find(spec)
    owner = _owners(spec, groups)
    if not groups and not any(layer.structure for layer in spec.all_layers):
        return spec
    layers = tuple(
        copied(layer, structure=owner.get(layer.path, "")) if layer.structure != owner.get(layer.path, "") else layer
        for layer in spec.layers
    )
    return replace(spec, layers=layers, structures=groups)


def find(spec: ModelSpec) -> tuple[StructureSpec, ...]:
    """The structure groups of `spec`, outermost first, each with its instances' differences."""
    tree = _Tree(spec)
    formed: list[tuple[int, list[str]]] = []  # (skeleton id, instances)
    instance_of: dict[str, int] = {}  # instance root -> index in formed
    calls = _CallKeys(spec.trace, tree) if spec.trace is not None else None
    for skeleton, members in tree.candidates():
        if _implied(members, tree, instance_of):
            continue
        for part in _split_by_calls(members, calls):
            instance_of.update((path, len(formed)) for path in part)
            formed.append((skeleton, part))
    names: Counter[str] = Counter()
    groups = []
    for _, instances in formed:
        first = tree.layers[instances[0]]
        names[first.type_name] += 1
        number = names[first.type_name]
        groups.append(
            StructureSpec(
                id=first.type_name if number == 1 else f"{first.type_name}-{number}",
                type=first.type,
                instances=tuple(instances),
                differences=tuple(_differences(instances, tree)),
            )
        )
    return tuple(groups)


def instance_root(path: str, group: StructureSpec) -> str:
    """The instance of `group` that holds the layer at `path` (``""`` when none does)."""
    roots = set(group.instances)
    current = path
    while current not in roots:
        if "." not in current:
            return ""
        current = current.rsplit(".", 1)[0]
    return current


def relative(path: str, root: str) -> str:
    """`path` inside the block at `root`: ``"attn.q_proj"`` for ``"layers.5.attn.q_proj"`` in ``"layers.5"``."""
    return path[len(root) + 1 :] if path != root else ""


def inside(root: str, rel: str) -> str:
    """The path of `rel` inside the block at `root` (the inverse of `relative`)."""
    return f"{root}.{rel}" if rel else root


class _Tree:
    """The module tree of a spec, with skeleton ids: equal for subtrees of one shape, types and tensors."""

    def __init__(self, spec: ModelSpec) -> None:
        self.layers: dict[str, LayerSpec] = {layer.path: layer for layer in spec.all_layers}
        self.order: dict[str, int] = {path: i for i, path in enumerate(self.layers)}
        ids: dict[Hashable, int] = {}
        self.skeleton: dict[str, int] = {}
        for layer in reversed(spec.all_layers):  # registration order puts parents first: children are done first
            key = (
                layer.type,
                tuple((p.local_name, p.shape, p.is_buffer) for p in layer.parameters),
                tuple((self.layers[c].name, self.skeleton[c]) for c in layer.children if c in self.skeleton),
            )
            self.skeleton[layer.path] = ids.setdefault(key, len(ids))

    def candidates(self) -> Iterable[tuple[int, list[str]]]:
        """Containers whose skeleton repeats, by skeleton, shallowest first (then in registration order)."""
        members: dict[int, list[str]] = {}
        for path, layer in self.layers.items():
            if path and layer.children:
                members.setdefault(self.skeleton[path], []).append(path)
        repeated = [(skeleton, paths) for skeleton, paths in members.items() if len(paths) > 1]
        repeated.sort(key=lambda item: (min(self.layers[p].depth for p in item[1]), self.order[item[1][0]]))
        return repeated

    def subtree(self, root: str) -> list[str]:
        """`root` and every path below it, parents first."""
        out = [root]
        stack = list(reversed(self.layers[root].children))
        while stack:
            path = stack.pop()
            out.append(path)
            stack.extend(reversed(self.layers[path].children))
        return out


def _implied(members: Sequence[str], tree: _Tree, instance_of: dict[str, int]) -> bool:
    """True when every member sits at one relative path inside instances of groups already formed.

    Each LLaMA block's ``attn`` is then documented as part of the blocks, not as a group of its
    own; so is DeepSeek-V3's ``self_attn``, the same in its dense and its mixture-of-experts blocks.
    """
    places = set()
    for path in members:
        ancestor = tree.layers[path].parent
        while ancestor is not None and ancestor not in instance_of:
            ancestor = tree.layers[ancestor].parent
        if ancestor is None:
            return False
        places.add(relative(path, ancestor))
        if len(places) > 1:
            return False
    return bool(places)


def _split_by_calls(members: list[str], calls: _CallKeys | None) -> list[list[str]]:
    """The members in groups of equal recorded call graphs, each of at least two instances.

    Members the pass did not call (or did not reach) join the biggest group of called ones.
    """
    if calls is None:
        return [members]
    parts: dict[Hashable, list[str]] = {}
    idle: list[str] = []
    for path in members:
        key = calls.key(path)
        if key:
            parts.setdefault(key, []).append(path)
        else:
            idle.append(path)
    if not parts:
        return [idle] if len(idle) > 1 else []
    biggest = max(parts.values(), key=len)
    biggest += idle
    order = {path: i for i, path in enumerate(members)}
    return [sorted(part, key=order.__getitem__) for part in parts.values() if len(part) > 1]


class _CallKeys:
    """The recorded call graph inside a block, written relative to the block so that repeats compare equal."""

    def __init__(self, trace: TraceSpec, tree: _Tree) -> None:
        self.trace = trace
        self.tree = tree
        self._fixed: dict[int, Hashable] = {}
        """Each op's part of a step that no block changes (kind, target, arguments, call, output sizes), once per op
        (by its index; by its position, as a number, with `QUICK_KEYS`)."""
        self._numbers: dict[Hashable, int] = {}
        """Each distinct fixed part's number (`QUICK_KEYS`)."""
        self.ops_in: dict[str, list[int]] = {}
        self.calls_in: dict[str, list[int]] = {}
        for i, call in enumerate(trace.module_calls):
            self.calls_in.setdefault(call.name, []).append(i)
        self.position: dict[int, int] = {}
        self.outputs: dict[int, tuple[int, int]] = {}  # tensor id -> (op index, place among its outputs)
        self.made_at: dict[int, tuple[int, int]] = {}  # tensor id -> (op position, place among its outputs)
        self.quick = QUICK_KEYS and len({op.index for op in trace.ops}) == len(trace.ops)
        """Whether `key` takes the quick way: `QUICK_KEYS`, and no two ops of one index (never in a recorded trace)."""
        if self.quick:
            self._index_quickly(trace)
            return
        for op in trace.ops:
            owner = op.name if op.kind == "module" else op.scope
            self.ops_in.setdefault(owner, []).append(op.index)
        self.position = {op.index: i for i, op in enumerate(trace.ops)}
        for op in trace.ops:
            for place, tensor in enumerate(op.outputs):
                self.outputs.setdefault(tensor, (op.index, place))

    def _index_quickly(self, trace: TraceSpec) -> None:
        """The positions of the ops by owner, and of the op that made each tensor, in one walk (`QUICK_KEYS`)."""
        ops_in, made_at = self.ops_in, self.made_at
        for i, op in enumerate(trace.ops):
            owner = op.name if op.kind == "module" else op.scope
            found = ops_in.get(owner)
            if found is None:
                ops_in[owner] = [i]
            else:
                found.append(i)
            made = op.outputs
            if len(made) == 1:
                if made[0] not in made_at:
                    made_at[made[0]] = (i, 0)
            else:
                for place, tensor in enumerate(made):
                    made_at.setdefault(tensor, (i, place))

    def key(self, root: str) -> tuple[Hashable, ...]:
        """The ops and module calls inside `root`, relative to it; empty when the pass ran none of them."""
        paths = self.tree.subtree(root)
        if self.quick:
            return self._quick_key(root, paths)
        indices = sorted((i for path in paths for i in self.ops_in.get(path, ())), key=self.position.__getitem__)
        if not indices:
            return ()
        local = {index: n for n, index in enumerate(indices)}
        outside: dict[int, int] = {}
        tensors = self.trace.tensors
        prefix = root + "."
        cut = len(prefix)
        outputs = self.outputs

        def ref(tensor: int) -> Hashable:
            made = outputs.get(tensor)
            if made is not None and made[0] in local:
                return ("op", local[made[0]], made[1])
            info = tensors[tensor] if 0 <= tensor < len(tensors) else None
            if info is not None and info.name.startswith(prefix):
                return ("tensor", info.name[cut:])
            dims = info.dims if info is not None else ()
            return ("in", outside.setdefault(tensor, len(outside)), dims)

        rel = functools.partial(_relative, root)

        steps: list[Hashable] = []
        ops = self.trace.ops
        fixed = self._fixed
        for index in indices:
            op = ops[self.position[index]]
            static = fixed.get(index)
            if static is None:
                static = fixed[index] = self._static(op)
            name = rel(op.name) if op.kind == "module" else op.name
            steps.append((static, name, rel(op.scope), tuple([ref(t) for t in op.inputs])))
        for path in paths:
            for i in self.calls_in.get(path, ()):
                call = self.trace.module_calls[i]
                inputs, outputs_ = tuple([ref(t) for t in call.inputs]), tuple([ref(t) for t in call.outputs])
                steps.append(("call", rel(path), call.call, inputs, outputs_))
        return tuple(steps)

    def _quick_key(self, root: str, paths: list[str]) -> tuple[Hashable, ...]:
        """`key` written more compactly, equal for two blocks exactly when `key` is (`QUICK_KEYS`).

        Each op's fixed part is its number among the distinct ones; the output of an op inside the
        block, which `key` writes ``("op", n, place)``, is the number ``n * 256 + place`` (for a place
        below 256; the tuple otherwise), told apart from the other references, which are text or tuples.
        The ops are taken by their positions in the trace: when they fill a run of positions (a
        block's ops, one after the other), the n-th of them is the one at the run's start plus n.
        """
        placed = self._places(paths)
        if placed is None:
            return ()
        run, rank = placed
        first, last = run[0], run[-1]
        outside: dict[int, int] = {}
        tensors = self.trace.tensors
        count = len(tensors)
        prefix = root + "."
        cut = len(prefix)
        made_at = self.made_at

        def ref(tensor: int) -> Hashable:
            made = made_at.get(tensor)
            if made is not None:
                at, place = made
                n = ((at - first) << 8 if first <= at <= last else None) if rank is None else rank.get(at)
                if n is not None:
                    return n | place if place < 256 else ("op", n >> 8, place)
            info = tensors[tensor] if 0 <= tensor < count else None
            if info is not None and info.name.startswith(prefix):
                return info.name[cut:]
            dims = info.dims if info is not None else ()
            return ("in", outside.setdefault(tensor, len(outside)), dims)

        rel = functools.partial(_relative, root)

        steps: list[Hashable] = []
        ops = self.trace.ops
        fixed = self._fixed
        numbers = self._numbers
        scopes: dict[str, str] = {}
        for at in run:
            op = ops[at]
            static = fixed.get(at)
            if static is None:
                static = fixed[at] = numbers.setdefault(self._static(op), len(numbers))
            scope = scopes.get(op.scope)
            if scope is None:
                scope = scopes[op.scope] = rel(op.scope)
            name = rel(op.name) if op.kind == "module" else op.name
            steps.append((static, name, scope, tuple([ref(t) for t in op.inputs])))
        calls = self.trace.module_calls
        for path in paths:
            found = self.calls_in.get(path)
            if found:
                here = rel(path)
                for i in found:
                    call = calls[i]
                    inputs, made = tuple([ref(t) for t in call.inputs]), tuple([ref(t) for t in call.outputs])
                    steps.append(("call", here, call.call, inputs, made))
        return tuple(steps)

    def _places(self, paths: list[str]) -> tuple[Sequence[int], dict[int, int] | None] | None:
        """The positions of the ops inside `paths`, in order, and each one's rank (``n * 256``), or None for no op.

        No ranks when the positions are a run (a block's ops, one after the other): the n-th is
        the first plus n.
        """
        ops_in = self.ops_in
        places = [at for path in paths for at in ops_in.get(path, ())]
        if not places:
            return None
        first, last = min(places), max(places)
        distinct = len(set(paths)) == len(paths)  # then no position twice: each op is in the list of one path
        if distinct and last - first + 1 == len(places):
            return range(first, last + 1), None
        places.sort()  # a position twice (a path twice) is ranked as `key` ranks its index: the last rank
        return places, {at: n << 8 for n, at in enumerate(places)}

    def _static(self, op: OpSpec) -> Hashable:
        tensors = self.trace.tensors
        dims = tuple([tensors[t].dims if 0 <= t < len(tensors) else () for t in op.outputs])
        return (op.kind, op.target, op.args, op.call if op.kind == "module" else 0, dims)


@dataclass(frozen=True)
class _Seen:
    """One value of one aspect, in one instance."""

    instance: str
    path: str
    value: Value


def _differences(instances: Sequence[str], tree: _Tree) -> list[Difference]:
    """What differs between the instances, layer by layer of the first instance's tree."""
    first = instances[0]
    out: list[Difference] = []
    for path in tree.subtree(first):
        rel = relative(path, first)
        if REUSE and _alike(rel, instances, tree):
            continue
        found: dict[tuple[Aspect, str], list[_Seen]] = {}
        for root in instances:
            layer = tree.layers[inside(root, rel)]
            for aspect, name, value in _facts(layer, root, is_root=not rel):
                found.setdefault((aspect, name), []).append(_Seen(root, layer.path, value))
        for (aspect, name), seen in found.items():
            if len(seen) != len(instances):
                continue  # an argument not every instance has: the instances' types would differ
            usual = _usual([s.value for s in seen])
            out += [
                Difference(instance=s.instance, path=s.path, aspect=aspect, name=name, value=s.value, usual=usual)
                for s in seen
                if s.value != usual
            ]
    return out


def _alike(rel: str, instances: Sequence[str], tree: _Tree) -> bool:
    """True when every instance's layer at `rel` has the first's facts, in order, none of them `!=` the first's.

    Then `_differences` would find nothing there: each fact's usual value is one of values that
    all equal the first's, and no instance differs from it.
    """
    first = instances[0]
    facts = list(_facts(tree.layers[inside(first, rel)], first, is_root=not rel))
    if QUICK_KEYS and all(type(value) in _PLAIN and _self_equal(value) for _, _, value in facts):
        return _alike_whole(facts, rel, instances, tree)
    for root in instances[1:]:
        other = list(_facts(tree.layers[inside(root, rel)], root, is_root=not rel))
        if len(other) != len(facts):
            return False
        for (aspect, name, value), (other_aspect, other_name, other_value) in zip(facts, other, strict=True):
            if aspect != other_aspect or name != other_name or value != other_value:
                return False
    return True


def _alike_whole(facts: list[tuple[Aspect, str, Value]], rel: str, instances: Sequence[str], tree: _Tree) -> bool:
    """`_alike` for facts of plain values, each equal to itself (`_PLAIN`): each instance's list compared whole."""
    return all(list(_facts(tree.layers[inside(root, rel)], root, is_root=not rel)) == facts for root in instances[1:])


def _self_equal(value: Value) -> bool:
    """False for a value unequal to itself (a NaN): ``==`` between two lists holding it takes it as equal."""
    return bool(value == value)  # noqa: PLR0124 - a NaN is the point


_PLAIN = frozenset({int, float, str, bool, type(None), list, tuple, dict})
"""The types of value for which `_alike` may compare the lists of facts whole (`QUICK_KEYS`): ``==`` on them is
the negation of ``!=``, except for a value unequal to itself (a NaN), which keeps to the comparison fact by fact."""


def _facts(layer: LayerSpec, root: str, *, is_root: bool) -> Iterable[tuple[Aspect, str, Value]]:
    """The facts compared between instances, as (aspect, name, value)."""
    for hp in layer.hyperparameters:
        yield "argument", hp.name, hp.value
        yield "kind", hp.name, hp.kind
    for entry in layer.bookkeeping:  # layer_idx: a block's position differs between instances
        yield "argument", entry.name, entry.value
    for p in layer.parameters:
        if not (p.is_buffer or p.computed):
            yield "trainable", p.local_name, p.trainable
        yield "dtype", p.local_name, p.dtype
        yield "tied", p.local_name, [_relative_name(name, root) for name in p.tied_with]
    if is_root:
        yield "calls", "", layer.calls


def _relative_name(name: str, root: str) -> str:
    """A tensor's qualified name, written relative to the instance (``"{}.attn.q_proj.weight"``) when inside it."""
    return "{}." + name[len(root) + 1 :] if name.startswith(root + ".") else name


def _usual(values: list[Value]) -> Value:
    """The most common value; the first one's when no value is more common than it."""
    counts: dict[str, int] = {}
    firsts: dict[str, Value] = {}
    for value in values:
        key = repr(value)
        counts[key] = counts.get(key, 0) + 1
        firsts.setdefault(key, value)
    first = repr(values[0])
    best = max(counts, key=lambda key: (counts[key], key == first))
    return firsts[best]


def _owners(spec: ModelSpec, groups: Sequence[StructureSpec]) -> dict[str, str]:
    """Each layer's group: the innermost one whose instance holds it."""
    roots = {path: group.id for group in groups for path in group.instances}
    owner: dict[str, str] = {}
    for layer in spec.all_layers:  # parents first
        found = roots.get(layer.path)
        if found is None and layer.parent is not None:
            found = owner.get(layer.parent)
        if found:
            owner[layer.path] = found
    return owner


def _relative(root: str, path: str) -> str:
    """`path` relative to the block at `root`: ``""`` for the block itself, ``^path`` for a path outside it."""
    if path == root:
        return ""
    prefix = root + "."
    return path[len(prefix) :] if path.startswith(prefix) else f"^{path}"
