"""Following a size back through the trace to where it was born, and listing the steps for a page.

The steps form a graph, not a list: a merge or a join has several sources, and the same
source (a split axis merged back, block after block) feeds many later steps. Each
(tensor, axis) is followed once and its `Node` is shared, never copied, so the work is
linear in the trace. At each op the registered rules (`module_rules`, `function_rules`) say
what the op did to the axis; an op no rule explains passes on a size one of its inputs has
(`keeps_or_makes`), or made it.

An argument lists at most `MAX_SHOWN` steps; a longer derivation keeps the steps nearest the
argument and sums up the rest, one entry per size they start from, each naming the argument
whose derivation continues with it. A budget proportional to the trace's size stops a model
whose derivations would still need more (`DerivationTooLarge`), naming the argument.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, replace

from modeldoc.arithmetic import Formula, expected_size
from modeldoc.derive import reuse
from modeldoc.derive.context import AxisKey, Birth, Outcome, RuleContext, Step, TraceIndex, qualified
from modeldoc.derive.function_rules import apply_function_rule
from modeldoc.derive.module_rules import apply_module_rule
from modeldoc.errors import DerivationTooLarge
from modeldoc.explain.reuse import copied
from modeldoc.spec import DerivationStep, ModelSpec, OpSpec, TensorInfo, TraceSpec

QUICK_ROOTS = True
"""True looks a size that an op with the same key passed on up in one step (`reuse.Reused.passed_on`) when
following sizes to their roots; False goes through `Provenance._outcome`. The tests derive models both ways."""

MAX_SHOWN = 12
"""The most entries one argument's derivation lists; longer ones are cut (see `Provenance.derivation`)."""

WORK_PER_ITEM = 100
"""Units of derivation work allowed per recorded op and per tensor axis of the trace.

Following every axis once and listing every argument's steps costs under 2 units per item on
the bundled examples, the benchmark models and the Hugging Face models tried (TimeSformer,
LLaMA, Whisper, Swin, ...); the budget stops only a trace whose derivations would grow far
beyond that, long before they exhaust memory.
"""

MIN_WORK = 100_000
"""The budget of a small trace: a few megabytes of steps at most."""


def work_budget(trace: TraceSpec) -> int:
    """The units of derivation work a trace may take: `WORK_PER_ITEM` per op and tensor axis, at least `MIN_WORK`."""
    size = len(trace.ops) + sum(len(t.shape) for t in trace.tensors)
    return max(MIN_WORK, WORK_PER_ITEM * size)


@dataclass(frozen=True, eq=False)
class Node:
    """One step of a derivation and the nodes of the sizes it was computed from.

    Nodes are shared: a size that feeds many later steps is one node that they all refer to.
    Compared and hashed by identity.
    """

    step: Step
    order: int
    """Index of the op that made the step (-1 for an input, parameter or constant)."""
    sources: tuple[Node, ...] = ()


@dataclass(frozen=True)
class Origin:
    """Where a size came from: the step nearest the consumer (which leads to the others), and how it was born."""

    value: int
    node: Node | None
    birth: Birth
    """``"input"``, ``"chosen"`` (an earlier layer's hyperparameter), ``"op"``, ``"parameter"`` or ``"constant"``."""
    formula: Formula | None = None
    """The formula of the step nearest the consumer."""
    chosen: tuple[str, str] | None = None
    """(layer path, argument name) when born as a chosen hyperparameter."""
    plain_input: bool = False
    """True when the size is set by the model's inputs alone, reached through parameter-free ops:
    every size it rests on is an input's (or an axis of 1 a view put in data read from an input),
    and no layer with parameters lies on the way (``x[:, None]``, a slice, a flatten of the input)."""
    through_parameters: bool = False
    """True when a layer with parameters lies between the birth and the consumer."""
    intact: bool = False
    """True when the size passed unchanged from its birth to here: no step computed it on the way."""

    def ordered(self) -> tuple[DerivationStep, ...]:
        """Every step from birth to consumer, each once, in the order they happened."""
        return _ordered(self.node)


@dataclass(frozen=True)
class Derivation:
    """What one argument's page lists: the steps (the first entries may sum up earlier ones) and what was left out."""

    steps: tuple[DerivationStep, ...]
    omitted: int = 0
    continues: str = ""


def _key(node: Node) -> tuple[int, str]:
    """What makes two steps the same line of a listing: the op and the sentence."""
    return (node.order, node.step.text)


def _ordered(node: Node | None, rendered: dict[Node, DerivationStep] | None = None) -> tuple[DerivationStep, ...]:
    """The steps `node` rests on, each once, sorted by when they happened.

    Steps of one op keep the order of a depth-first walk from the consumer (its own step,
    then each source's), so sizes that one op made together read in their source order.
    `rendered` keeps each node's step as the spec stores it, for the listings that share it.
    """
    seen: set[Node] = set()
    texts: set[tuple[int, str]] = set()
    items: list[tuple[int, Node]] = []
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        key = (current.order, current.step.text)  # `_key`, inline: this loop runs once per step of a listing
        if key not in texts:
            texts.add(key)
            items.append((current.order, current))
        stack.extend(reversed(current.sources))
    items.sort(key=_first)
    if rendered is None:
        return tuple([n.step.rendered() for _, n in items])
    steps = []
    for _, n in items:
        step = rendered.get(n)
        if step is None:
            step = rendered[n] = n.step.rendered()
        steps.append(step)
    return tuple(steps)


def _first(item: tuple[int, Node]) -> int:
    return item[0]


def argument_text(index: TraceIndex, path: str, name: str) -> str:
    """How the budget message names an argument: ``fc1.in_features (of layer fc1)``."""
    return f"{qualified(path, name)} (of layer {path or index.spec.name})"


class Provenance:
    """Follows sizes back through a trace, each (tensor, axis) once, within a work budget."""

    def __init__(self, spec: ModelSpec, *, budget: int | None = None, index: TraceIndex | None = None) -> None:
        self.index = index if index is not None else TraceIndex(spec)
        self.memo: dict[AxisKey, Origin] = {}
        self.outcomes: dict[AxisKey, tuple[Outcome, OpSpec | None]] = {}
        """What each size's producer did to it, by the rules: asked once per (tensor, axis)."""
        self.roots: dict[AxisKey, AxisKey] = {}
        self.ties: dict[AxisKey, Outcome] = {}
        """Sizes whose birth is replaced by the tie that forces them (`modeldoc.derive.constraints`):
        a chosen size another op forces equal to an earlier one is computed from that one."""
        self.nodes: dict[tuple[int, Step, tuple[Node, ...]], Node] = {}
        self.totals: dict[Node, int] = {}
        """How many distinct steps each node rests on (itself included), for the nodes counted so far."""
        self.listings: dict[Node, Derivation] = {}
        """Each node's full listing (`_ordered`), once: the arguments of repeated blocks often rest on one node."""
        self.rendered: dict[Node, DerivationStep] = {}
        """Each node's step as the spec stores it, once: the listings of repeated blocks share most steps."""
        self._anchors: dict[Node, list[tuple[str, str]]] | None = None
        self.reused = reuse.Reused(self.index) if reuse.ENABLED else None
        """The rules' answers that hold for every op with the same key (`modeldoc.derive.reuse`)."""
        self.budget = work_budget(self.index.trace) if budget is None else budget
        self.work = 0
        self.deriving = "the model's sizes"
        """What is being derived, for the message when the budget runs out."""

    def _spend(self, units: int = 1) -> None:
        self.work += units
        if self.work > self.budget:
            raise DerivationTooLarge(self.deriving, self.budget)

    # ---- following a size back

    def origin(self, tid: int, axis: int) -> Origin:
        """Where the size at `axis` of tensor `tid` came from.

        Every (tensor, axis) on the way is followed once and remembered; a step with several
        sources refers to their origins' nodes. The walk keeps its own stack, so a deep model
        does not run into Python's recursion limit.
        """
        key = (tid, axis)
        memo = self.memo
        found = memo.get(key)
        if found is not None:
            return found
        outcomes: dict[AxisKey, tuple[Outcome, OpSpec | None]] = {}
        stack = [key]
        while stack:
            current = stack[-1]
            if current in memo:
                stack.pop()
                continue
            entry = outcomes.get(current)
            if entry is None:
                self._spend()
                entry = outcomes[current] = self.outcome(current)
            outcome = entry[0]
            if outcome.kind == "pass":  # one source: the common case, without the lists below
                source = outcome.sources[0]
                if source not in memo:
                    if source in outcomes:  # a source still being followed: a cycle, which a trace cannot hold
                        outcomes[current] = (self._cycle(current, entry[1]), entry[1])
                    else:
                        stack.append(source)
                    continue
            elif outcome.kind != "birth":
                missing = [s for s in outcome.sources if s not in memo]
                if any(s in outcomes for s in missing):  # a cycle, as above
                    outcomes[current] = (self._cycle(current, entry[1]), entry[1])
                    continue
                if missing:
                    stack.extend(missing)
                    continue
            memo[current] = self._combine(current, outcome, entry[1])
            stack.pop()
        return memo[key]

    def outcome(self, key: AxisKey) -> tuple[Outcome, OpSpec | None]:
        """What the producer of the size at `key` did to it (a tie, when one replaces its birth), and the producer."""
        found = self.ruled(key)
        tie = self.ties.get(key)
        return (tie, found[1]) if tie is not None else found

    def ruled(self, key: AxisKey) -> tuple[Outcome, OpSpec | None]:
        """What the rules say the producer did to the size at `key` (a tie left aside), and the producer."""
        found = self.outcomes.get(key)
        if found is None:  # the rules are asked once per size; `origin` counts the work of following it
            found = self.outcomes[key] = self._outcome(*key)
        return found

    def root(self, key: AxisKey) -> AxisKey:
        """The (tensor, axis) where the size at `key` was born or computed: `key` followed back through pass-throughs.

        Two sizes with the same root are one size; ties between sizes are made between roots.
        """
        chain: list[AxisKey] = []
        current = key
        roots, ties, outcomes = self.roots, self.ties, self.outcomes
        quick = self.reused if QUICK_ROOTS else None
        while current not in roots:
            outcome = ties.get(current)  # `outcome`, inline: this loop runs once per size of the trace
            if outcome is None:
                found = outcomes.get(current)
                if found is None:
                    found = quick.passed_on(current) if quick is not None else None
                    if found is None:
                        found = self._outcome(*current)
                    outcomes[current] = found
                outcome = found[0]
            if outcome.kind != "pass" or outcome.sources[0] in chain or outcome.sources[0] == current:
                roots[current] = current
                break
            chain.append(current)
            current = outcome.sources[0]
        root = roots[current]
        for seen in chain:
            roots[seen] = root
        return root

    def _outcome(self, tid: int, axis: int) -> tuple[Outcome, OpSpec | None]:
        """What the producer of tensor `tid` did to `axis`, by the first rule that explains it."""
        index = self.index
        tensor = index.tensors[tid]
        producer = index.ops.get(tensor.producer) if tensor.producer is not None else None
        if producer is None:
            return leaf(index, tensor, axis), None
        key = None
        reused = self.reused
        if reused is not None:
            key, passed = reused.passed(producer, tid, axis, tensor.shape[axis])
            if passed is not None:
                return Outcome.keeps(*passed), producer
            if reuse.QUICK_STEPS and key is not None and producer.kind == "function":
                outcome = reused.stepped(key, producer, lambda op: _asked(index, op, tensor, axis))
                reused.remember(key, producer, outcome)
                return outcome, producer
            layer = index.layers.get(producer.name) if producer.kind == "module" else None
            if reuse.QUICK_CHOICES and key is not None and layer is not None:
                outcome = reused.chose(key, layer, tensor.shape[axis], lambda: _asked(index, producer, tensor, axis))
                reused.remember(key, producer, outcome)
                return outcome, producer
        outcome = _asked(index, producer, tensor, axis)
        if reused is not None:
            reused.remember(key, producer, outcome)
        return outcome, producer

    def _combine(self, key: AxisKey, outcome: Outcome, producer: OpSpec | None) -> Origin:
        """The origin of `key` from its producer's outcome and the origins of the outcome's sources."""
        value = self.index.tensors[key[0]].shape[key[1]]
        module = producer is not None and producer.kind == "module"
        weighted = module and self.index.has_parameters(producer.name if producer else "")
        through = weighted and outcome.kind != "birth"
        if outcome.kind == "pass":
            source = self.memo[outcome.sources[0]]
            plain = source.plain_input and not weighted
            behind = through or source.through_parameters
            if (value, plain, behind) == (source.value, source.plain_input, source.through_parameters):
                return source  # the size passed on unchanged, through no layer with parameters: the same origin
            return copied(source, value=value, plain_input=plain, through_parameters=behind)
        step = outcome.step
        assert step is not None
        order = outcome.order if outcome.order is not None else producer.index if producer is not None else -1
        if outcome.kind == "birth":
            return Origin(
                value=value,
                node=self._node(step, order, ()),
                birth=outcome.birth,
                formula=step.formula,
                chosen=outcome.chosen,
                plain_input=outcome.birth == "input" and not weighted,
                intact=True,
            )
        sources = [self.memo[s] for s in outcome.sources]
        node = self._node(step, order, tuple(s.node for s in sources if s.node is not None))
        if len(sources) == 1:  # one source: the size goes on being derived from it
            (source,) = sources
            # a formula is only handed on with its value: a piece of a split is not the size it was cut from
            inherited = source.formula if source.value == value else None
            return Origin(
                value=value,
                node=node,
                birth=source.birth,
                formula=step.formula or inherited,
                chosen=source.chosen,
                plain_input=source.plain_input and not weighted,
                through_parameters=through or source.through_parameters,
            )
        # several sources: the number is born here, from the numbers that meet
        return Origin(
            value=value,
            node=node,
            birth="op",
            formula=step.formula,
            plain_input=bool(sources) and all(s.plain_input for s in sources) and not weighted,
            through_parameters=through,
        )

    def then(self, origin: Origin, step: Step, order: int) -> Origin:
        """`origin` carried on by one more step that keeps its size (a layer that must match it), made at `order`."""
        sources = (origin.node,) if origin.node is not None else ()
        after = max([order, *(node.order + 1 for node in sources)])
        return replace(origin, node=self._node(step, after, sources), intact=False)

    def _node(self, step: Step, order: int, sources: tuple[Node, ...]) -> Node:
        """The one node for this step from these sources: the axes a split makes alike share it."""
        key = (order, step, sources)
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = Node(step, order, sources)
        return node

    def _cycle(self, key: AxisKey, producer: OpSpec | None) -> Outcome:
        """A size whose sources lead back to itself: said to be made by its op, not followed."""
        tid, axis = key
        value = self.index.tensors[tid].shape[axis]
        where = self.index.op_where(producer) if producer is not None else ""
        label = self.index.op_label(producer) if producer is not None else "an op"
        return Outcome.born(Step(f"{label} produces {value} at axis {axis}", value, where))

    # ---- listing one argument's steps

    def derivation(self, origin: Origin, argument: tuple[str, str] | None = None) -> Derivation:
        """The steps an argument's page lists for `origin`: all of them, or at most `MAX_SHOWN` entries.

        A derivation longer than `MAX_SHOWN` keeps the steps nearest the argument and sums up
        the rest: each size those steps start from becomes one entry that counts the steps
        behind it and names an earlier argument (not `argument` itself) whose derivation lists
        them, or, when no argument consumes that size, quotes the step that made it. A step
        whose op joins more sizes than fit is listed with one entry per size it joins.
        """
        node = origin.node
        if node is None:
            return Derivation(steps=())
        total = self.total(node)
        if total <= MAX_SHOWN:
            self._spend(total)
            whole = self.listings.get(node)
            if whole is None:
                whole = self.listings[node] = Derivation(steps=_ordered(node, self.rendered if reuse.SHARED else None))
            return whole
        kept, frontier = self._cut(node, argument)
        listed = {_key(n) for n in kept}
        lines: list[DerivationStep] = []
        continues = ""
        for source in sorted(frontier, key=lambda n: n.order):
            behind = self.total(source)
            anchor = self._anchor(source, argument)
            if behind == 1:
                if _key(source) not in listed:
                    listed.add(_key(source))
                    lines.append(source.step.rendered())
            elif anchor is not None:
                path, name = anchor
                continues = qualified(path, name)  # the nearest explained size wins: sorted by order
                text = f"{behind} earlier steps give {source.step.value}: see the derivation of {continues}"
                lines.append(DerivationStep(text=text, value=source.step.value, where=path))
            else:
                made = source.step.rendered()
                lines.append(replace(made, text=f"{behind} earlier steps, not listed here, end in: {made.text}"))
        lines.extend(n.step.rendered() for n in kept)
        return Derivation(steps=tuple(lines), omitted=total - len(listed), continues=continues)

    def _cut(self, node: Node, argument: tuple[str, str] | None) -> tuple[list[Node], list[Node]]:
        """Where to cut a long derivation: the steps kept (oldest first) and the sizes they start from.

        Steps are taken nearest-first (by op index, so every kept step comes after all the
        steps it rests on). Of the places where the kept steps plus one entry per remaining
        size fit in `MAX_SHOWN`, the cut prefers one where every remaining size has an earlier
        argument that explains it (or is a single step), then the one that keeps the most steps.
        """
        tie = itertools.count()
        heap = [(-node.order, next(tie), node)]
        seen = {node}
        kept: list[tuple[int, int, Node]] = []
        keys: set[tuple[int, str]] = set()
        best: tuple[tuple[bool, bool, int], int, list[Node]] | None = None
        while heap and len(keys) < MAX_SHOWN:
            minus_order, number, current = heapq.heappop(heap)
            self._spend()
            if _key(current) not in keys:
                keys.add(_key(current))
                kept.append((-minus_order, number, current))
            for source in current.sources:
                if source not in seen:
                    seen.add(source)
                    heapq.heappush(heap, (-source.order, next(tie), source))
            frontier = [item[2] for item in heap]
            fits = len(kept) + len(frontier) <= MAX_SHOWN
            if fits or best is None:  # the first step alone is the fallback when nothing fits
                explained = all(self.total(n) == 1 or self._anchor(n, argument) is not None for n in frontier)
                score = (fits, explained, len(kept))
                if best is None or score >= best[0]:
                    best = (score, len(kept), frontier)
        assert best is not None
        _, count, frontier = best
        # oldest first; steps of one op in the order their sources were met, as in a full listing
        return [item[2] for item in sorted(kept[:count], key=lambda item: item[:2])], frontier

    def total(self, node: Node) -> int:
        """How many steps `node` rests on, itself included, as a full listing would show them.

        A walk from `node`, nearest step first. Whenever a single size is left to walk from,
        everything still to come rests on that size alone, so its own count is the rest of
        the walk: it is remembered, and a walk that reaches a size already counted stops
        there. Each step is walked about once however many arguments rest on it. Steps of one
        op with the same sentence (the height and width a convolution both shrinks) count once.
        """
        known = self.totals.get(node)
        if known is not None:
            return known
        tie = itertools.count()
        heap = [(-node.order, next(tie), node)]
        seen = {node}
        counted: set[tuple[int, str]] = set()
        marks: list[tuple[Node, int]] = []
        while heap:
            if len(heap) == 1 and counted:
                alone = heap[0][2]
                # Only `alone` itself can repeat a sentence already counted: the rest is older.
                repeat = int(_key(alone) in counted)
                known = self.totals.get(alone)
                if known is not None:
                    total = len(counted) + known - repeat
                    break
                marks.append((alone, len(counted) - repeat))
            current = heapq.heappop(heap)[2]
            self._spend()
            counted.add(_key(current))
            for source in current.sources:
                if source not in seen:
                    seen.add(source)
                    heapq.heappush(heap, (-source.order, next(tie), source))
        else:
            total = len(counted)
        for alone, before in marks:
            self.totals[alone] = total - before
        self.totals[node] = total
        return total

    def _anchor(self, node: Node, argument: tuple[str, str] | None) -> tuple[str, str] | None:
        """The first-called argument (other than `argument`) whose derivation starts at `node`."""
        if self._anchors is None:
            self._anchors = {}
            deriving = self.deriving
            arguments = []
            index = self.index
            for layer in index.spec.all_layers:
                call = index.first_calls.get(layer.path)
                for h in layer.hyperparameters:
                    consumed = index.consumed(layer, h)
                    if call is not None and consumed is not None and isinstance(expected_size(h.value), int):
                        arguments.append((call.index, layer.path, h.name, consumed))
            for _, path, name, (tensor, axis) in sorted(arguments, key=lambda a: a[0]):
                self.deriving = argument_text(index, path, name)
                start = self.origin(tensor.id, axis).node
                if start is not None:
                    self._anchors.setdefault(start, []).append((path, name))
            self.deriving = deriving
        for candidate in self._anchors.get(node, ()):
            if candidate != argument:
                return candidate
        return None


def _asked(index: TraceIndex, op: OpSpec, tensor: TensorInfo, axis: int) -> Outcome:
    """What the rules say `op` did to `axis` of its output `tensor` (`keeps_or_makes` where no rule applies)."""
    ctx = RuleContext(index, op, tensor, axis)
    outcome = None
    if op.kind == "module":
        outcome = apply_module_rule(ctx)
    elif op.kind == "function":
        outcome = apply_function_rule(ctx)
    return outcome or keeps_or_makes(ctx)


# --------------------------------------------------------------------------- where no rule applies


def leaf(index: TraceIndex, tensor: TensorInfo, axis: int) -> Outcome:
    """A size no op produced: an input's, a parameter's or buffer's, or a constant's."""
    value = tensor.shape[axis]
    name = index.inputs.get(tensor.id)
    if name is not None:
        shown = " × ".join(str(d) for d in tensor.dims)
        step = Step(f"the input `{name}` is {shown}", value, "input", Formula.named(f"{name}.shape[{axis}]", value))
        return Outcome.born(step, "input")
    if tensor.name:
        step = Step(
            f"the tensor `{tensor.name}` has {value} at axis {axis}",
            value,
            tensor.name,
            Formula.named(f"{tensor.name}.shape[{axis}]", value),
        )
        return Outcome.born(step, "parameter")
    return Outcome.born(Step(f"a constant tensor has {value} at axis {axis}", value, "constant"), "constant")


def keeps_or_makes(ctx: RuleContext) -> Outcome:
    """Where no rule applies: an op that keeps a size passes it on (aligned from the last axis), else it made it."""
    index, axis, value = ctx.index, ctx.axis, ctx.value
    rank = len(ctx.tensor.shape)
    candidates = []
    for tid in ctx.op.inputs:
        shape = index.tensors[tid].shape
        source = axis - (rank - len(shape))
        if 0 <= source < len(shape) and shape[source] == value and (value != 1 or len(shape) == rank):
            candidates.append((index.age(tid), tid, source))
    if candidates:
        # Of several inputs with the size (a residual add), follow the oldest data: the residual stream.
        _, tid, source = min(candidates)
        return Outcome.keeps(tid, source)
    return ctx.born(f"{ctx.label()} produces {value} at axis {axis}")


__all__ = [
    "MAX_SHOWN",
    "MIN_WORK",
    "WORK_PER_ITEM",
    "Derivation",
    "Node",
    "Origin",
    "Provenance",
    "argument_text",
    "keeps_or_makes",
    "leaf",
    "work_budget",
]
