"""Constraint groups: sizes that ops force equal, the designer's choice in each, and who follows it.

In ``x + f(x)`` the last layer of ``f`` must produce ``x``'s width: its ``out_features`` is not
a free choice but the width of the residual stream. Every op that forces sizes equal (a
broadcasting add or multiply, a ``cat`` on another axis, a matrix product's summed axis: see
`tie_rules`) ties the sizes it received; tied sizes form a group. In a group, the first size in
forward order that *fixes* the width is the designer's choice: a model input, a layer's chosen
argument (the embedding's ``embedding_dim``, the stem's ``out_channels``), or a size an op
computed from other sizes (a view that splits heads, a window formula). Every other member whose
size was born on its own (another layer's chosen argument, a parameter or buffer used directly,
a size an op made from nothing, such as ``arange``) follows: its birth is replaced by the tie,
a step "its output is added to ..." computed from the member it was tied to, so its derivation
leads through the op to the designer's choice. Parameters, buffers and sizes made from nothing
never fix a group: they are sized to match.

The work is linear: each size is followed back to its root (`Provenance.root`) once, ties are
unions of roots, and each group is walked once from its designer's choice.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from modeldoc.derive.context import AxisKey, Outcome, Step, TraceIndex, find_argument, qualified
from modeldoc.derive.provenance import Provenance
from modeldoc.derive.tie_rules import Tie, ties_of
from modeldoc.spec import OpSpec

Member = tuple[str, str]
"""(layer path, argument name)."""


@dataclass(frozen=True)
class Link:
    """How one follower is tied to the member nearer its group's designer's choice."""

    root: AxisKey
    """The follower's size (its root)."""
    partner: AxisKey
    """The (tensor, axis) the op received on the other side; it leads back to the nearer member."""
    tie: Tie
    op: OpSpec
    fixer: AxisKey
    """The group's designer's choice."""


@dataclass
class Constraints:
    """The groups of one trace: who follows whom, and which chosen arguments follow another member."""

    links: dict[AxisKey, Link] = field(default_factory=dict)
    """Each follower's root, and the tie that binds it."""
    followers: dict[Member, AxisKey] = field(default_factory=dict)
    """Chosen arguments whose size follows another member: the root of their first tied call."""
    followed: dict[Member, list[Member]] = field(default_factory=dict)
    """Each chosen argument that is its group's designer's choice, and the arguments that follow it."""
    group: dict[AxisKey, AxisKey] = field(default_factory=dict)
    """Each tied root, and its group's designer's choice (itself for the choice)."""
    agreements: set[AxisKey] = field(default_factory=set)
    """Designers' choices of groups in which two layers' chosen sizes meet, or a product sums the size away:
    a size the model's own parts agree on, not one it predicts."""

    def shared(self, root: AxisKey) -> bool:
        """True when the size at `root` is one two of the model's parts must agree on (see `agreements`)."""
        fixer = self.group.get(root)
        return fixer is not None and fixer in self.agreements


class _Sets:
    """Union-find over roots."""

    def __init__(self) -> None:
        self.parent: dict[AxisKey, AxisKey] = {}

    def find(self, key: AxisKey) -> AxisKey:
        self.parent.setdefault(key, key)
        top = key
        while self.parent[top] != top:
            top = self.parent[top]
        while self.parent[key] != top:
            self.parent[key], key = top, self.parent[key]
        return top

    def union(self, a: AxisKey, b: AxisKey) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def constrain(provenance: Provenance) -> Constraints:
    """Find the trace's constraint groups and make every follower's birth the tie that fixes it.

    Sets `Provenance.ties`, so call it before any size is followed with `Provenance.origin`.
    """
    index = provenance.index
    sets = _Sets()
    edges: dict[AxisKey, list[tuple[AxisKey, AxisKey, Tie, OpSpec]]] = {}
    contracted: set[AxisKey] = set()
    reused = provenance.reused
    for op in index.trace.ops:
        for tie in reused.ties(op, index) if reused is not None else ties_of(op, index):
            ra, rb = provenance.root(tie.a), provenance.root(tie.b)
            if ra == rb:
                continue
            sets.union(ra, rb)
            edges.setdefault(ra, []).append((rb, tie.b, tie, op))
            edges.setdefault(rb, []).append((ra, tie.a, tie, op))
            if tie.contraction:
                contracted.update((ra, rb))
    groups: dict[AxisKey, list[AxisKey]] = {}
    for root in edges:
        groups.setdefault(sets.find(root), []).append(root)
    found = Constraints()
    for members in groups.values():
        _settle(provenance, members, edges, contracted, found)
    return found


def _settle(
    provenance: Provenance,
    members: list[AxisKey],
    edges: dict[AxisKey, list[tuple[AxisKey, AxisKey, Tie, OpSpec]]],
    contracted: set[AxisKey],
    found: Constraints,
) -> None:
    """Pick one group's designer's choice, walk the group from it, and tie each follower to its nearer member."""
    kinds = {root: _kind(provenance.ruled(root)[0]) for root in members}
    candidates = [root for root in members if kinds[root] in ("input", "chosen", "computed")]
    if not candidates:
        return
    fixer = min(candidates, key=lambda root: (_order(provenance, root), root))
    chosen = [root for root in members if kinds[root] == "chosen"]
    if len({provenance.ruled(root)[0].chosen for root in chosen}) > 1 or contracted.intersection(members):
        found.agreements.add(fixer)
    fixed_member = provenance.ruled(fixer)[0].chosen
    order = {fixer: _order(provenance, fixer)}
    queue = deque([fixer])
    while queue:
        near = queue.popleft()
        found.group[near] = fixer
        for far, far_side, tie, op in edges.get(near, ()):
            if far in order:
                continue
            partner = tie.a if far_side == tie.b else tie.b  # the other operand: the side of `near`
            order[far] = max(op.index, order[near] + 1)
            queue.append(far)
            if kinds[far] in ("input", "computed"):
                continue  # an input's or a computed size stays what it is; the tie is only checked
            outcome = provenance.ruled(far)[0]
            if kinds[far] == "chosen" and outcome.chosen == fixed_member:
                continue  # a later call of the very layer that chose the size
            link = Link(root=far, partner=partner, tie=tie, op=op, fixer=fixer)
            found.links[far] = link
            value = provenance.index.tensors[far[0]].shape[far[1]]
            step = Step(sentence(provenance, link), value, TraceIndex.op_where(op))
            provenance.ties[far] = Outcome.computed(step, [partner], order=order[far])
            member = outcome.chosen or _argument_of_parameter(provenance.index, far)
            if member is not None and member not in found.followers:
                found.followers[member] = far
                if fixed_member is not None:
                    found.followed.setdefault(fixed_member, []).append(member)


def _argument_of_parameter(index: TraceIndex, root: AxisKey) -> Member | None:
    """The argument an axis of a parameter used directly stands for, or None.

    An embedding's weight read directly: its axis 0 is ``num_embeddings``, by the axis names its
    layer's knowledge gives the tensor.
    """
    tid, axis = root
    tensor = index.tensors[tid]
    owner = index.parameters.get(tensor.name) if tensor.producer is None and tensor.name else None
    if owner is None:
        return None
    layer, p = owner
    if axis >= len(p.axes) or p.shape != tensor.shape:
        return None
    h = find_argument(layer, p.axes[axis])
    # an argument another rule derives (one with a dim) keeps that derivation
    return (layer.path, h.name) if h is not None and not h.dim and h.value == tensor.shape[axis] else None


def _kind(outcome: Outcome) -> str:
    """What a root is: ``"input"``, ``"chosen"``, ``"computed"`` (a step from other sizes) or ``"made"``.

    ``"made"``: a parameter, a constant, or an op that made the size from nothing (``arange``).
    """
    if outcome.kind != "birth":
        return "computed"
    if outcome.birth in ("input", "chosen"):
        return outcome.birth
    return "made"


def _order(provenance: Provenance, root: AxisKey) -> int:
    """When the size at `root` was fixed: its producer's index (-1 for an input)."""
    tensor = provenance.index.tensors[root[0]]
    return tensor.producer if tensor.producer is not None else -1


def sentence(provenance: Provenance, link: Link) -> str:
    """``"h.0.attn.o_proj's output is added to ... (add in h.0), so out_features must be 32"``."""
    index = provenance.index
    tid, axis = link.root
    value = index.tensors[tid].shape[axis]
    outcome = provenance.ruled(link.root)[0]
    if outcome.chosen is not None:
        path, name = outcome.chosen
        subject, conclusion = f"{path}'s output", f"{name} must be {value}"
    elif index.tensors[tid].name:
        subject, conclusion = f"the tensor `{index.tensors[tid].name}`", f"its axis {axis} must be {value}"
    elif index.stored(tid):
        subject, conclusion = (
            "a stored tensor (a parameter, a buffer or a constant)",
            f"its axis {axis} must be {value}",
        )
    else:
        producer = index.ops[index.tensors[tid].producer]  # type: ignore[index]
        subject, conclusion = f"the {value} that {index.op_label(producer)} makes", f"it must be {value}"
    return f"{subject} {link.tie.how} {_partner(provenance, link)} ({index.op_label(link.op)}), so {conclusion}"


def _partner(provenance: Provenance, link: Link) -> str:
    """The other operand of a tie, for a sentence.

    The tensor itself when it is a layer's output, an input or a named tensor; else a tensor named
    by where its size comes from (its own birth, or its group's designer's choice).
    """
    index = provenance.index
    tid, axis = link.partner
    root = provenance.root(link.partner)
    outcome, producer = provenance.ruled(root)
    if outcome.chosen is not None and producer is not None and tid in producer.outputs and root[0] == tid:
        return f"{outcome.chosen[0]}'s output"
    if tid in index.inputs:
        return f"the input `{index.inputs[tid]}`"
    if index.tensors[tid].name and index.stored(tid):
        return f"the tensor `{index.tensors[tid].name}`"
    value = index.tensors[tid].shape[axis]
    if _kind(outcome) == "made" and root != link.fixer:
        root = link.fixer  # sized to match: say where the group's size comes from
        outcome, producer = provenance.ruled(root)
    if outcome.chosen is not None:
        whence = f"{outcome.chosen[0]}'s output"
    elif root[0] in index.inputs:
        whence = f"the input `{index.inputs[root[0]]}`"
    elif producer is not None:
        whence = index.op_label(producer)
    elif index.tensors[root[0]].name:
        whence = f"the tensor `{index.tensors[root[0]].name}`"
    else:
        return f"a stored tensor with {value} there"
    return f"a tensor whose size there, {value}, comes from {whence}"


def describe_fixer(provenance: Provenance, fixer: AxisKey) -> str:
    """Where a group's size is fixed, for a reason: ``"chosen once, at model.embed_tokens.embedding_dim, ..."``."""
    index = provenance.index
    outcome, producer = provenance.ruled(fixer)
    if outcome.chosen is not None:
        return (
            f"the designer chose this size once, at {qualified(*outcome.chosen)}, the first layer of the sizes "
            "tied together; the others follow it"
        )
    if fixer[0] in index.inputs:
        return f"the size is the input `{index.inputs[fixer[0]]}`'s (axis {fixer[1]}), which the others follow"
    if producer is not None:
        return f"the size is computed by {index.op_label(producer)}, the first of the sizes tied together"
    return "the size is a stored tensor's"


__all__ = ["Constraints", "Link", "Member", "constrain", "describe_fixer", "sentence"]
