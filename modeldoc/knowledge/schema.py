"""The typed schema of a knowledge entry, and the validation that turns YAML data into it.

Every field is typed; unknown keys are rejected; templates and ``= expressions`` are compiled
when the entry is read, so a syntax error names its entry and field. Problems are collected,
not raised one by one, so a check can list them all; `parse_entry` raises the first.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeGuard, cast

from modeldoc.errors import ModeldocError
from modeldoc.knowledge import templates
from modeldoc.options import DTYPES
from modeldoc.spec import AxisRef

Kind = Literal["hyperparameter", "data-dependent"]
Source = Literal["chosen", "input", "previous-layer", "target"]
KINDS: tuple[Kind, ...] = ("hyperparameter", "data-dependent")
SOURCES: tuple[Source, ...] = ("chosen", "input", "previous-layer", "target")
SIZE_RULES = (
    "conv",
    "conv_transpose",
    "max_pool",
    "avg_pool",
    "adaptive_pool",
    "linear",
    "embedding",
    "recurrent",
    "reshape",
    "attention",
)
"""The derivation rules a layer's output sizes follow (``size_rule`` of an entry), one per family."""

NO_DEFAULT: Any = object()
"""Marks an argument whose knowledge entry gives no default."""

LOAD_KEYS = ("extends", "replace")
"""Keys the loader reads while merging entries; they are not part of an `Entry`."""
NOT_INHERITED = ("example", "abstract", "replace")
"""Keys that describe one class only, so an entry that extends another does not take them over."""


class KnowledgeError(ModeldocError):
    """A knowledge file or entry is malformed, or an entry does not fit the layer it describes."""

    def __init__(self, where: str, problem: str, file: str = "") -> None:
        self.where = where
        """The entry and field (``Conv2d.args.stride.reason``); ``""`` for a problem with a whole file."""
        self.problem = problem
        self.file = file
        """The file (``modeldoc/knowledge/conv.yaml``, a user's path); ``""`` when not known."""
        if where and file:
            text = f"knowledge entry {where}: {problem} (in {file}; fix the entry there)"
        elif where:
            text = f"knowledge entry {where}: {problem}; fix the entry in modeldoc/knowledge"
        elif file:
            text = f"knowledge file {file}: {problem}; fix the file"
        else:
            text = problem
        super().__init__(text)


@dataclass(frozen=True, kw_only=True)
class ArgRule:
    """What one constructor argument is, and why it has its value."""

    name: str
    kind: Kind = "hyperparameter"
    source: Source = "chosen"
    reason: str = ""
    """Template: why the argument has its value."""
    dim: str = ""
    """Template of the axes the argument equals (``"in0:{{ channel_dim }}"``), read by `modeldoc.spec.AxisRef.parse`."""
    read: str = ""
    """Expression over ``module`` that reads the value back when no attribute has its name."""
    default: Any = NO_DEFAULT
    lazy: bool = False
    """True when a lazy module fixes the value at its first call (it is not a constructor argument)."""
    bookkeeping: bool = False
    """True for an argument that is no hyperparameter: it says where the layer sits or what it reads its
    settings from (``layer_idx``, ``config``). Pages list it apart from the hyperparameters."""


@dataclass(frozen=True, kw_only=True)
class TensorRule:
    """What a parameter or buffer whose local name matches `pattern` holds."""

    pattern: re.Pattern[str]
    axes: tuple[str, ...] | str | None = None
    """Axis names (templates; an ``= expr`` item splices in a list), one ``= expr`` for the whole
    list, or None when the axes are not known."""
    notes: tuple[str, ...] = ()
    meaning: str = ""
    use: str = ""
    """How the layer uses the tensor, for tie relations (``"multiplies its input by the transpose"``)."""
    transposed: bool = False
    """True when the layer multiplies by the tensor's transpose (Linear: y = x·Wᵀ)."""


@dataclass(frozen=True, kw_only=True)
class Example:
    """How to build and call one layer of the entry's class, for the coverage test and ``modeldoc knowledge check``.

    Values are plain YAML; four mappings stand for what YAML cannot write:
    ``{tensor: [4]}`` (a tensor of ones of that shape), ``{parameter: [3, 2]}`` (the same as an
    ``nn.Parameter``), ``{layer: Linear, args: [3, 2]}`` (a layer built from its key) and
    ``{object: transformers.LlamaConfig, kwargs: {...}}`` (any object, such as the config a
    Hugging Face layer is built from, by its class's dotted name).
    """

    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[tuple[int, ...], ...] = ()
    """Shapes of the example inputs; none means the layer is built but not called."""
    dtype: str | tuple[str, ...] = "float32"
    """One dtype for every input, or one per input (``long`` for token ids)."""


@dataclass(frozen=True, kw_only=True)
class Entry:
    """Everything the table knows about one layer type."""

    key: str
    origin: str = ""
    """The file the entry is written in (``modeldoc/knowledge/conv.yaml``, or a user's file)."""
    shipped: bool = True
    """False for entries from a project's folders or an installed package's entry point."""
    summary: str = ""
    formula: str = ""
    brief: tuple[str, ...] = ()
    """The diagram's short label, as templates of its parts, joined by ``", "`` (empty parts dropped)."""
    size_rule: str = ""
    """How the layer's output sizes follow from its input and arguments: one of `SIZE_RULES`, or ``""``."""
    args: Mapping[str, ArgRule] = field(default_factory=dict)
    params: tuple[TensorRule, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=dict)
    let: Mapping[str, str] = field(default_factory=dict)
    """Named expressions over the arguments, evaluated in order (``depth: "= in_channels // groups"``)."""
    signature: tuple[str, ...] = ()
    """The argument names, for classes whose ``__init__`` takes ``*args, **kwargs``."""
    notes: tuple[str, ...] = ()
    example: Example | None = None
    abstract: bool = False
    """True for a base class that is not built on its own: it needs no `example`."""

    def tensor_rule(self, local_name: str) -> tuple[TensorRule, dict[str, Any]] | None:
        """The first rule matching `local_name`, with its named groups (digits as ints)."""
        for rule in self.params:
            match = rule.pattern.fullmatch(local_name)
            if match:
                groups = {k: (int(v) if v and v.isdigit() else v) for k, v in match.groupdict().items()}
                return rule, groups
        return None


_ENTRY_KEYS = frozenset(
    {"summary", "formula", "brief", "size_rule", "args", "params", "vars", "let", "signature", "notes"}
    | {"example", "abstract", *LOAD_KEYS}
)
_ARG_KEYS = frozenset({"kind", "source", "reason", "dim", "read", "default", "lazy", "bookkeeping"})
_PARAM_KEYS = frozenset({"axes", "notes", "meaning", "use", "transposed"})
_EXAMPLE_KEYS = frozenset({"args", "kwargs", "input", "inputs", "dtype"})
_OBJECT_KEYS = {"tensor": frozenset({"tensor"}), "parameter": frozenset({"parameter"})}
_LAYER_KEYS = frozenset({"layer", "args", "kwargs"})
_BUILT_KEYS = {"layer": _LAYER_KEYS, "object": frozenset({"object", "args", "kwargs"})}


class Problems:
    """The problems found while reading knowledge files, each a `KnowledgeError` naming file, entry and field."""

    def __init__(self) -> None:
        self.found: list[KnowledgeError] = []

    def add(self, where: str, problem: str, file: str) -> None:
        """Record one problem."""
        self.found.append(KnowledgeError(where, problem, file))

    def __len__(self) -> int:
        return len(self.found)


def parse_entry(key: str, data: Mapping[str, Any], *, origin: str = "", shipped: bool = True) -> Entry:
    """Validate one entry (its `extends` already merged in) and build it.

    Raises:
        KnowledgeError: the first problem found, naming the entry and field.

    """
    problems = Problems()
    entry = read_entry(key, data, problems, origin=origin, shipped=shipped)
    if problems.found:
        raise problems.found[0]
    assert entry is not None  # no problems means an entry
    return entry


def read_entry(
    key: str, data: Any, problems: Problems, *, origin: str = "", shipped: bool = True, compile_templates: bool = True
) -> Entry | None:
    """The entry `data` describes, or None when it has problems (recorded in `problems`).

    With `compile_templates` (the default) every template and expression is compiled, so a
    syntax error is a problem now rather than when a page is rendered.
    """
    before = len(problems)
    field_check = _Fields(key, origin, problems, compile_templates=compile_templates)
    if not isinstance(data, Mapping):
        field_check.add("", f"must be a mapping of fields, not {_kind(data)}")
        return None
    field_check.unknown("", data, _ENTRY_KEYS)
    summary = field_check.template(data, "summary")
    formula = field_check.template(data, "formula")
    brief = field_check.templates(data, "brief")
    notes = field_check.templates(data, "notes")
    size_rule = field_check.text(data, "size_rule")
    if size_rule and size_rule not in SIZE_RULES:
        field_check.add("size_rule", f"{size_rule!r} is not one of {', '.join(SIZE_RULES)}")
    args = {}
    for name, rule in field_check.mapping(data, "args").items():
        arg = _arg(str(name), rule, field_check)
        if arg is not None:
            args[str(name)] = arg
    params = []
    for pattern, rule in field_check.mapping(data, "params").items():
        tensor = _tensor(str(pattern), rule, field_check)
        if tensor is not None:
            params.append(tensor)
    variables = {str(k): v for k, v in field_check.mapping(data, "vars").items()}
    lets = {}
    for name, expression in field_check.mapping(data, "let").items():
        if not isinstance(expression, str):
            field_check.add(f"let.{name}", f"must be a template or an '= expression', not {_kind(expression)}")
            continue
        field_check.compiles(expression, f"let.{name}")
        lets[str(name)] = expression
    signature = field_check.names(data, "signature")
    abstract = field_check.flag(data, "abstract")
    field_check.flag(data, "replace")
    extends = data.get("extends")
    if extends is not None and not isinstance(extends, str) and not _strings(extends):
        field_check.add("extends", f"must name an entry or list entries, not {_kind(extends)}")
    example = _example(data.get("example"), field_check) if data.get("example") is not None else None
    if len(problems) > before:
        return None
    return Entry(
        key=key,
        origin=origin,
        shipped=shipped,
        summary=summary,
        formula=formula,
        brief=brief,
        size_rule=size_rule,
        args=args,
        params=tuple(params),
        vars=variables,
        let=lets,
        signature=signature,
        notes=notes,
        example=example,
        abstract=abstract,
    )


def _arg(name: str, rule: Any, fields: _Fields) -> ArgRule | None:
    where = f"args.{name}"
    rule = {} if rule is None else rule
    if not isinstance(rule, Mapping):
        fields.add(where, f"must be a mapping of fields, not {_kind(rule)}")
        return None
    fields.unknown(where, rule, _ARG_KEYS)
    kind = rule.get("kind", "hyperparameter")
    source = rule.get("source", "chosen")
    if kind not in KINDS or source not in SOURCES:
        fields.add(
            where,
            f"kind must be one of {', '.join(KINDS)} and source one of {', '.join(SOURCES)} "
            f"(got kind {kind!r}, source {source!r})",
        )
    reason = fields.template(rule, "reason", where)
    dim = fields.template(rule, "dim", where)
    if dim and "{" not in dim:  # no template: the text is the axis reference itself
        try:
            AxisRef.parse(dim)
        except ValueError as err:
            fields.add(f"{where}.dim", str(err))
    read = fields.text(rule, "read", where)
    if read:
        error = templates.check_read_expression(read)
        if error:
            fields.add(f"{where}.read", error)
    default = rule.get("default", NO_DEFAULT)
    if isinstance(default, str) and default.startswith("="):
        fields.compiles(default, f"{where}.default")
    lazy = fields.flag(rule, "lazy", where)
    bookkeeping = fields.flag(rule, "bookkeeping", where)
    return ArgRule(
        name=name,
        kind=cast("Kind", kind),
        source=cast("Source", source),
        reason=reason,
        dim=dim,
        read=read,
        default=default,
        lazy=lazy,
        bookkeeping=bookkeeping,
    )


def _tensor(pattern: str, rule: Any, fields: _Fields) -> TensorRule | None:
    where = f"params.{pattern}"
    rule = {} if rule is None else rule
    if not isinstance(rule, Mapping):
        fields.add(where, f"must be a mapping of fields, not {_kind(rule)}")
        return None
    fields.unknown(where, rule, _PARAM_KEYS)
    try:
        compiled = re.compile(pattern)
    except re.error as err:
        fields.add(where, f"the name pattern is not a regular expression ({err})")
        return None
    axes: tuple[str, ...] | str | None = None
    given = rule.get("axes")
    if isinstance(given, str) and given.startswith("="):
        fields.compiles(given, f"{where}.axes")
        axes = given
    elif _strings(given):
        for i, item in enumerate(given):
            fields.compiles(item, f"{where}.axes[{i}]")
        axes = tuple(given)
    elif given is not None:
        fields.add(f"{where}.axes", f"must be a list of axis names or an '= expression', not {_kind(given)}")
    return TensorRule(
        pattern=compiled,
        axes=axes,
        notes=fields.templates(rule, "notes", where),
        meaning=fields.template(rule, "meaning", where),
        use=fields.template(rule, "use", where),
        transposed=fields.flag(rule, "transposed", where),
    )


def _example(data: Any, fields: _Fields) -> Example | None:
    if not isinstance(data, Mapping):
        fields.add("example", f"must be a mapping (args, kwargs, input or inputs, dtype), not {_kind(data)}")
        return None
    fields.unknown("example", data, _EXAMPLE_KEYS)
    args = data.get("args", [])
    kwargs = data.get("kwargs", {})
    if not isinstance(args, list):
        fields.add("example.args", f"must be a list of positional arguments, not {_kind(args)}")
        args = []
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        fields.add("example.kwargs", f"must be a mapping of argument names to values, not {_kind(kwargs)}")
        kwargs = {}
    for i, value in enumerate(args):
        _value(value, f"example.args[{i}]", fields)
    for name, value in kwargs.items():
        _value(value, f"example.kwargs.{name}", fields)
    if "input" in data and "inputs" in data:
        fields.add("example", "give input (one shape) or inputs (a list of shapes), not both")
    shapes = [data["input"]] if "input" in data else data.get("inputs", [])
    inputs = []
    if not isinstance(shapes, list):
        fields.add("example.inputs", f"must be a list of shapes, not {_kind(shapes)}")
        shapes = []
    for i, shape in enumerate(shapes):
        if not _shape(shape):
            where = "example.input" if "input" in data else f"example.inputs[{i}]"
            fields.add(where, f"must be a shape, a list of sizes of 1 or more (e.g. [1, 3, 16, 16]), not {shape!r}")
            continue
        inputs.append(tuple(shape))
    dtype = data.get("dtype", "float32")
    names = dtype if isinstance(dtype, list) else [dtype]
    if isinstance(dtype, list) and len(dtype) != len(inputs):
        fields.add(
            "example.dtype", f"lists {len(dtype)} dtypes for {len(inputs)} inputs; give one for all, or one per input"
        )
    bad = [name for name in names if name not in DTYPES]
    if bad:
        fields.add("example.dtype", f"{bad[0]!r} is not one of {', '.join(DTYPES)}")
    dtype = tuple(dtype) if isinstance(dtype, list) else dtype
    return Example(args=tuple(args), kwargs=dict(kwargs), inputs=tuple(inputs), dtype=dtype)


def _value(value: Any, where: str, fields: _Fields) -> None:
    """Check the special mappings of an example value (``{tensor: ...}``, ``{parameter: ...}``, ``{layer: ...}``)."""
    if isinstance(value, list):
        for i, item in enumerate(value):
            _value(item, f"{where}[{i}]", fields)
        return
    if not isinstance(value, Mapping):
        return
    for name, keys in _OBJECT_KEYS.items():
        if name in value:
            if set(value) != keys or not _shape(value[name], allow_empty=True):
                fields.add(
                    where, f"{{{name}: SHAPE}} takes one list of sizes (e.g. {{{name}: [3, 2]}}), not {dict(value)!r}"
                )
            return
    built = next((name for name in _BUILT_KEYS if name in value), None)
    if built is not None:
        extra = sorted(str(k) for k in set(value) - _BUILT_KEYS[built])
        if extra or not isinstance(value[built], str):
            what = "a layer by its knowledge key" if built == "layer" else "any class by its dotted name"
            fields.add(where, f"{{{built}: NAME, args: [...], kwargs: {{...}}}} names {what}")
            return
        for i, item in enumerate(value.get("args", [])):
            _value(item, f"{where}.args[{i}]", fields)
        for name, item in (value.get("kwargs") or {}).items():
            _value(item, f"{where}.kwargs.{name}", fields)
        return
    for name, item in value.items():
        _value(item, f"{where}.{name}", fields)


class _Fields:
    """Reads typed fields of one entry, recording each problem under the entry's key and file."""

    def __init__(self, key: str, origin: str, problems: Problems, *, compile_templates: bool = True) -> None:
        self.key = key
        self.origin = origin
        self.problems = problems
        self.compile_templates = compile_templates

    def add(self, where: str, problem: str) -> None:
        self.problems.add(f"{self.key}.{where}" if where else self.key, problem, self.origin)

    def unknown(self, where: str, data: Mapping[str, Any], allowed: Collection[str]) -> None:
        """Record the keys of `data` that are not among the `allowed` fields, naming those."""
        bad = sorted(str(k) for k in set(data) - set(allowed))
        if bad:
            self.add(
                where,
                f"unknown field{'s' if len(bad) > 1 else ''} {', '.join(bad)}; the fields are "
                f"{', '.join(sorted(allowed))}",
            )

    def text(self, data: Mapping[str, Any], name: str, within: str = "") -> str:
        value = data.get(name)
        if value is None:
            return ""
        if not isinstance(value, str):
            self.add(_join(within, name), f"must be text, not {_kind(value)}")
            return ""
        return value

    def template(self, data: Mapping[str, Any], name: str, within: str = "") -> str:
        value = self.text(data, name, within)
        if value:
            self.compiles(value, _join(within, name))
        return value

    def templates(self, data: Mapping[str, Any], name: str, within: str = "") -> tuple[str, ...]:
        """A template or a list of templates (``notes``, ``brief``), as a tuple."""
        value = data.get(name)
        if value is None:
            return ()
        items = [value] if isinstance(value, str) else value
        if not _strings(items):
            self.add(_join(within, name), f"must be text or a list of texts, not {_kind(value)}")
            return ()
        for i, item in enumerate(items):
            self.compiles(item, _join(within, name) + ("" if isinstance(value, str) else f"[{i}]"))
        return tuple(items)

    def names(self, data: Mapping[str, Any], name: str) -> tuple[str, ...]:
        value = data.get(name)
        if value is None:
            return ()
        if not _strings(value):
            self.add(name, f"must be a list of names, not {_kind(value)}")
            return ()
        return tuple(value)

    def mapping(self, data: Mapping[str, Any], name: str) -> Mapping[Any, Any]:
        value = data.get(name)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.add(name, f"must be a mapping, not {_kind(value)}")
            return {}
        return value

    def flag(self, data: Mapping[str, Any], name: str, within: str = "") -> bool:
        value = data.get(name, False)
        if not isinstance(value, bool):
            self.add(_join(within, name), f"must be true or false, not {value!r}")
            return False
        return value

    def compiles(self, text: str, where: str) -> None:
        error = templates.check_template(text) if self.compile_templates else ""
        if error:
            self.add(where, error)


def _join(within: str, name: str) -> str:
    return f"{within}.{name}" if within else name


def _strings(value: Any) -> TypeGuard[list[str] | tuple[str, ...]]:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _shape(value: Any, *, allow_empty: bool = False) -> bool:
    return (
        isinstance(value, list)
        and (allow_empty or bool(value))
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= (0 if allow_empty else 1) for v in value)
    )


def _kind(value: Any) -> str:
    """How a YAML value reads in a message: ``a list``, ``the number 3``, ``'text'``."""
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "null"
    return f"{type(value).__name__} {value!r}"
