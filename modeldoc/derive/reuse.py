"""Reusing what the derivation rules decided for one op for every op that looks the same to them.

LLaMA's 80 decoder blocks run 80 copies of each op: the same function on tensors of the same
shapes, or the same layer type with the same arguments. The rules (`module_rules`,
`function_rules`, `tie_rules`) read an op only through what `OpKeys.key` collects: its kind,
its function name and arguments, its layer's type, size rule and arguments, the shapes of its
inputs and outputs, which inputs are one tensor, and which input is the oldest data. A path, a
scope or a tensor id never decides anything; they only go into the sentences of a step.

So two answers are reused, neither of which holds a sentence:

- a size an op passes on unchanged (`Outcome.keeps`): the same input position and axis;
- the sizes an op forces equal (`tie_rules.ties_of`): the same input positions and axes, with
  the same verb, which is made from the op's name alone.

A step or a birth holds a sentence, but two kinds are still made once per key:

- a function op's step or birth (`QUICK_STEPS`): its sentences name the op by its name and
  scope alone (``view in model.layers.3.self_attn``, `TraceIndex.op_label` and `op_where`), so
  the rules are asked once more, about a copy of the op whose scope is a placeholder
  (`Template`); every later op with that key gets the answer with its own scope put in and its
  own inputs as sources;
- a size born as a layer's chosen argument (`QUICK_CHOICES`): which argument it is follows from
  the key, so each later op's birth is made from its own layer (`context.chosen_birth`).

Either is checked against the rules' own answer for the first op of its key. Any other step of
a layer, and a size of 1 (which may be read from a model input far away), is asked of the rules
for each op. `ENABLED` switches the reuse off, the other switches their shortcut: the tests
derive models both ways and compare the JSON byte for byte.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from modeldoc.derive.context import Outcome, Step, chosen_birth
from modeldoc.derive.tie_rules import Tie, ties_of
from modeldoc.explain.reuse import copied, value_key
from modeldoc.spec import LayerSpec, OpSpec

if TYPE_CHECKING:
    from modeldoc.derive.context import AxisKey, TraceIndex

ENABLED = True
"""False asks the rules about every op."""

QUICK_CHOICES = True
"""True asks the rules once per module-op key whether the size is born as one of its layer's arguments, and
makes that birth for each later op of the key from its own layer (`Reused.chose`); False asks for every op."""

QUICK_STEPS = True
"""True asks the rules once per function-op key for a step or a birth and puts each op's scope and inputs into
that answer (`Template`); False asks them for every op. The tests derive models both ways and compare the JSON."""

TAKEN: Counter[str] = Counter()
"""How many sizes each shortcut answered, over the descriptions since it was emptied (``"steps"``: `QUICK_STEPS`,
``"choices"``: `QUICK_CHOICES`, ``"roots"``: `provenance.QUICK_ROOTS`); for the tests."""

PLACEHOLDER = "\x00scope\x00"
"""The scope of the copy of an op a `Template` is made from: a text no op name or argument puts in a sentence."""

SHARED = True
"""True reads once what repeated blocks share by identity: an op's argument text once per dict (the ops of
replayed blocks share one), a step rendered once per node for every listing that shows it. False reads each
every time. The tests derive models both ways and compare the JSON byte for byte."""


class OpKeys:
    """Each op's key: equal for two ops the rules cannot tell apart, computed once per op.

    A key is a small number standing for everything a rule reads of the op (`_signature`), so
    that looking it up costs no more than looking up a number.
    """

    def __init__(self, index: TraceIndex) -> None:
        self.index = index
        self._keys: dict[int, int] = {}
        self._numbers: dict[Hashable, int] = {}
        self._arguments: dict[int, Hashable] = {}
        """Each layer's arguments as a key, by the identity of their tuple (the spec keeps every tuple alive)."""
        self._texts: dict[int, str] = {}
        """Each op's non-tensor arguments as text, by the identity of their dict (the spec keeps every dict alive;
        the ops of repeated blocks often share one)."""

    def key(self, op: OpSpec) -> int:
        """The number of `op`'s signature: equal for two ops whose signatures are equal."""
        found = self._keys.get(op.index)
        if found is None:
            signature = self._signature(op)
            found = self._keys[op.index] = self._numbers.setdefault(signature, len(self._numbers))
        return found

    def _signature(self, op: OpSpec) -> Hashable:
        """Everything about `op` that a rule reads, without its names, paths or tensor ids."""
        index = self.index
        tensors = index.tensors
        inputs = op.inputs
        kind = op.kind
        order: Hashable = ()
        if len(inputs) == 2:  # as below, for the usual two inputs: their places, and the oldest first
            a, b = inputs
            age = index.age
            order = ((0, 0), (0, 1)) if a == b else ((0, 1), (0, 1) if (age(a), a) <= (age(b), b) else (1, 0))
        elif len(inputs) > 1:  # which inputs are one tensor, and which is the oldest data (`TraceIndex.age`)
            age = index.age
            ages = [(age(t), t) for t in inputs]
            order = (tuple([inputs.index(t) for t in inputs]), tuple(sorted(range(len(inputs)), key=ages.__getitem__)))
        arguments = op.arguments
        text = ""
        if arguments and not SHARED:
            text = repr(arguments)
        elif arguments:
            known = self._texts.get(id(arguments))
            text = known if known is not None else self._texts.setdefault(id(arguments), repr(arguments))
        outputs = op.outputs
        return (
            kind,
            op.name if kind != "module" else "",
            self._layer(op) if kind == "module" else None,
            text,
            (tensors[inputs[0]].shape,) if len(inputs) == 1 else tuple([tensors[t].shape for t in inputs]),
            (tensors[outputs[0]].shape,) if len(outputs) == 1 else tuple([tensors[t].shape for t in outputs]),
            order,
        )

    def _layer(self, op: OpSpec) -> Hashable:
        """What a rule reads of the layer a module op called: its type, size rule and arguments."""
        spec = self.index.layers.get(op.name)
        if spec is None:
            return ("absent", op.target)
        # repeats explained alike share one tuple of arguments (`modeldoc.explain.reuse`): read once per tuple
        arguments = self._arguments.get(id(spec.hyperparameters))
        if arguments is None:
            arguments = self._arguments[id(spec.hyperparameters)] = tuple(
                [(h.name, h.kind, h.dim, value_key(h.value)) for h in spec.hyperparameters]
            )
        return (spec.type, spec.type_name, spec.bases, spec.size_rule, arguments)


class Reused:
    """The answers of one trace's rules that hold for every op with the same key (see the module's docstring)."""

    def __init__(self, index: TraceIndex) -> None:
        self.keys = OpKeys(index)
        self._passes: dict[Hashable, tuple[int, int] | None] = {}
        self._ties: dict[Hashable, list[tuple[int, int, int, int, str, bool]] | None] = {}
        self._steps: dict[Hashable, Template | tuple[OpSpec, Outcome] | object] = {}
        """Each function-op key's `Template` (with scope-or-not); the first op and its answer until a second comes."""
        self.templated = 0
        """How many steps and births a template answered (for the tests)."""
        self._choices: dict[Hashable, str | object] = {}
        """Each module-op key's chosen argument, when its first op's answer was one."""
        self.chosen = 0
        """How many sizes `chose` answered without asking (for the tests)."""
        self.shortcuts = 0
        """How many sizes `passed_on` answered (for the tests)."""

    def passed(self, op: OpSpec, tid: int, axis: int, value: int) -> tuple[Hashable, AxisKey | None]:
        """The size `op` passes on to `axis` of its output `tid` as another op with its key did, if one did.

        Returns the lookup key (None for a size of 1, never reused) and the (tensor, axis) passed on, or None.
        """
        if value == 1:
            return None, None
        outputs = op.outputs
        place = 0 if outputs and outputs[0] == tid else outputs.index(tid) if tid in outputs else -1
        keys = self.keys
        number = keys._keys.get(op.index)
        if number is None:
            number = keys.key(op)
        key = (number, place, axis, keys.index.tensors[tid].shape if place < 0 else None)
        found = self._passes.get(key)
        return key, ((op.inputs[found[0]], found[1]) if found is not None else None)

    def passed_on(self, size: AxisKey) -> tuple[Outcome, OpSpec] | None:
        """`Provenance._outcome` of `size` when its producer passes it on as an op with the same key did, else None.

        The common case of `passed`, for a size on the op's first output, in one step.
        """
        tid, axis = size
        keys = self.keys
        index = keys.index
        tensor = index.tensors[tid]
        made = tensor.producer
        if made is None or tensor.shape[axis] == 1:
            return None
        op = index.ops.get(made)
        if op is None or not op.outputs or op.outputs[0] != tid:
            return None
        number = keys._keys.get(made)
        found = self._passes.get((keys.key(op) if number is None else number, 0, axis, None))
        if found is None:
            return None
        self.shortcuts += 1
        return Outcome.keeps(op.inputs[found[0]], found[1]), op

    def remember(self, key: Hashable, op: OpSpec, outcome: Outcome) -> None:
        """Keep `outcome` for the ops with `key` when it passes on a size of one of `op`'s inputs."""
        if key is None or outcome.kind != "pass" or key in self._passes:
            return
        tid, axis = outcome.sources[0]
        self._passes[key] = (op.inputs.index(tid), axis) if tid in op.inputs else None

    def stepped(self, key: Hashable, op: OpSpec, ask: Callable[[OpSpec], Outcome]) -> Outcome:
        """What the rules say function op `op` did to the size `key` looks up, from the `Template` of its key.

        `ask` asks the rules about an op (the same output and axis). The first op of a key (and
        scope-or-not) is asked; the second makes the template from the first's answer, asking
        the rules once more, about a copy; from then on the template answers. A key whose answer
        cannot be a template is asked for each op.
        """
        place = (key, bool(op.scope))
        found = self._steps.get(place)
        if found is None:
            answer = ask(op)
            self._steps[place] = (op, answer)
            return answer
        if isinstance(found, tuple):
            first, answer = found
            found = self._steps[place] = Template.made(first, answer, ask) or _UNLIKE
        if isinstance(found, Template):
            self.templated += 1
            return found.applied(op)
        return ask(op)

    def chose(self, key: Hashable, layer: LayerSpec, value: int, ask: Callable[[], Outcome]) -> Outcome:
        """What the rules say a call of `layer` did to the size `key` looks up, when that is a chosen argument.

        `ask` asks the rules. The first op of a key is asked; when its answer is the size born as
        one of its layer's arguments (`context.chosen_birth`), every later op of the key gets that
        argument of its own layer, without asking. A key with another answer is asked for each op.
        """
        found = self._choices.get(key)
        if found is None:
            answer = ask()
            chosen = answer.chosen
            like = chosen is not None and chosen[0] == layer.path and chosen_birth(layer, chosen[1], value) == answer
            self._choices[key] = chosen[1] if like and chosen is not None else _UNLIKE
            return answer
        if isinstance(found, str):
            outcome = chosen_birth(layer, found, value)
            if outcome is not None:
                self.chosen += 1
                return outcome
        return ask()

    def ties(self, op: OpSpec, index: TraceIndex) -> list[Tie]:
        """`tie_rules.ties_of`, asked once per op key when every tie is between the op's inputs."""
        if op.kind != "function" or len(op.inputs) < 2 or not op.outputs:
            return []  # what `ties_of` answers at once, before any rule
        key = self.keys.key(op)
        if key in self._ties:
            found = self._ties[key]
            if found is not None:
                inputs = op.inputs
                return [Tie.made((inputs[a], xa), (inputs[b], xb), how, summed) for a, xa, b, xb, how, summed in found]
        ties = ties_of(op, index)
        if key not in self._ties:
            inputs = op.inputs
            known = all(tie.a[0] in inputs and tie.b[0] in inputs for tie in ties)
            self._ties[key] = (
                [(inputs.index(t.a[0]), t.a[1], inputs.index(t.b[0]), t.b[1], t.how, t.contraction) for t in ties]
                if known
                else None
            )
        return ties


_UNLIKE = object()
"""A key whose answer is no template (`Reused.stepped`): asked of the rules for each op."""


@dataclass(frozen=True)
class Template:
    """A function op's answer for one output and axis, its scope a placeholder and its sources input places."""

    outcome: Outcome
    """The answer for the copy of the op whose scope is `PLACEHOLDER` (its sources those of that copy)."""
    sources: tuple[tuple[int, int], ...]
    """Each source as (input place, axis)."""

    @classmethod
    def made(cls, op: OpSpec, answer: Outcome, ask: Callable[[OpSpec], Outcome]) -> Template | None:
        """The template of `op`'s `answer`, or None when its sentences could hold the placeholder by other ways.

        The rules are asked about a copy of `op` whose scope is `PLACEHOLDER`; the template put
        back together for `op` must be `answer`, to the field.
        """
        if "\x00" in op.name or "\x00" in (text := repr(op.arguments)) or "\\x00" in text or "\x00" in op.scope:
            return None
        outcome = ask(copied(op, scope=PLACEHOLDER)) if op.scope else answer
        inputs = op.inputs
        if outcome.kind == "pass" or outcome.chosen is not None or outcome.order is not None or outcome.birth != "op":
            return None  # a size passed on is reused by `passed`; a layer's choice, a tie, a birth read elsewhere
        if any(tid not in inputs for tid, _ in outcome.sources):
            return None
        formula = outcome.step.formula if outcome.step is not None else None
        if formula is not None and (PLACEHOLDER in formula.expression or PLACEHOLDER in formula.note):
            return None
        template = cls(outcome, tuple([(inputs.index(tid), axis) for tid, axis in outcome.sources]))
        return template if template.applied(op) == answer else None

    def applied(self, op: OpSpec) -> Outcome:
        """The answer for `op`: its scope in the sentence, its inputs as the sources."""
        inputs = op.inputs
        outcome = self.outcome
        step = outcome.step
        if step is not None and op.scope:
            scope = op.scope
            step = Step(
                step.text.replace(PLACEHOLDER, scope), step.value, step.where.replace(PLACEHOLDER, scope), step.formula
            )
        return Outcome(
            outcome.kind, tuple([(inputs[place], axis) for place, axis in self.sources]), step, outcome.birth
        )


__all__ = ["ENABLED", "PLACEHOLDER", "QUICK_CHOICES", "QUICK_STEPS", "SHARED", "TAKEN", "OpKeys", "Reused", "Template"]
