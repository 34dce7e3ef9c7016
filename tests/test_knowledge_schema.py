"""knowledge.schema: every field typed, unknown keys rejected, templates compiled when read (knowledge.templates
itself is tested in test_knowledge_templates.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from modeldoc import knowledge
from modeldoc.knowledge import schema, templates


def _problems(tmp_path: Path, text: str) -> list[str]:
    """The problems `knowledge.read` finds in one user file holding `text`."""
    folder = tmp_path / "knowledge"
    folder.mkdir(exist_ok=True)
    (folder / "mine.yaml").write_text(text, encoding="utf-8")
    _, problems = knowledge.read([folder], entry_points=False)
    return [str(p) for p in problems]


def test_knowledge_keys_are_known_fields() -> None:
    # the loader rejects unknown fields; loading the whole table proves every file is well formed
    table, problems = knowledge.read((), entry_points=False)
    assert problems == ()
    assert len(knowledge.table()) >= len(table.entries) > 160


def test_malformed_entry_is_reported_with_its_name() -> None:
    with pytest.raises(knowledge.KnowledgeError, match=r"Bad\.args\.x: .*kind must be one of"):
        schema.parse_entry("Bad", {"args": {"x": {"kind": "chosen"}}})


def test_every_shipped_template_compiles_and_no_shipped_entry_replaces_another() -> None:
    # the loader compiles user files' templates when it reads them, and trusts modeldoc's own to this test
    assert knowledge.messages(), "messages.yaml is empty"
    assert [name for name, text in knowledge.messages().items() if templates.check_template(text)] == []
    folder = Path(knowledge.__file__).parent
    problems = schema.Problems()
    entries = 0
    for path in sorted(folder.glob("*.yaml")):
        if path.name == "messages.yaml":
            continue
        for key, data in yaml.safe_load(path.read_text(encoding="utf-8")).items():
            assert "replace" not in data, f"{key} in {path.name}"
            schema.read_entry(key, data, problems, origin=path.name, compile_templates=True)
            entries += 1
    assert [str(p) for p in problems.found] == []
    assert entries > 190


def test_an_entry_is_typed() -> None:
    entry = schema.parse_entry(
        "pkg.Gate",
        {
            "summary": "gates {{ width }} features",
            "brief": ["{{ width }}", "= extra"],
            "notes": "one note",
            "size_rule": "linear",
            "args": {"width": {"kind": "data-dependent", "source": "previous-layer", "dim": "in0:-1"}},
            "params": {"weight": {"axes": ["width", "width"], "notes": "w", "transposed": True}},
            "let": {"extra": "= ['x']"},
            "example": {"args": [4], "kwargs": {"bias": False}, "input": [2, 4]},
        },
        origin="knowledge/gate.yaml",
        shipped=False,
    )
    assert entry.brief == ("{{ width }}", "= extra") and entry.notes == ("one note",)
    assert entry.args["width"].kind == "data-dependent" and entry.args["width"].default is schema.NO_DEFAULT
    rule, _ = entry.tensor_rule("weight") or (None, None)
    assert rule is not None and rule.axes == ("width", "width") and rule.notes == ("w",) and rule.transposed
    assert entry.example == schema.Example(args=(4,), kwargs={"bias": False}, inputs=((2, 4),))
    assert (entry.origin, entry.shipped, entry.abstract) == ("knowledge/gate.yaml", False, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a.B: {colour: red}",
            "knowledge entry a.B: unknown field colour; the fields are abstract, args, brief, example, extends, "
            "formula, let, notes, params, replace, signature, size_rule, summary, vars",
        ),
        (
            "a.B: {args: {x: {kind: chosen}}}",
            "knowledge entry a.B.args.x: kind must be one of hyperparameter, "
            "data-dependent and source one of chosen, input, previous-layer, target "
            "(got kind 'chosen', source 'chosen')",
        ),
        (
            "a.B: {args: {x: {why: because}}}",
            "knowledge entry a.B.args.x: unknown field why; the fields are "
            "default, dim, kind, lazy, read, reason, source",
        ),
        (
            "a.B: {params: {w: {axis: [a]}}}",
            "knowledge entry a.B.params.w: unknown field axis; the fields are axes, meaning, notes, transposed, use",
        ),
        (
            "a.B: {params: {w: {axes: width}}}",
            "knowledge entry a.B.params.w.axes: must be a list of axis names or an '= expression', not 'width'",
        ),
        (
            "a.B: {params: {'w(': {axes: [a]}}}",
            "knowledge entry a.B.params.w(: the name pattern is not a regular "
            "expression (missing ), unterminated subpattern at position 1)",
        ),
        ("a.B: {summary: 3}", "knowledge entry a.B.summary: must be text, not int 3"),
        (
            "a.B: {size_rule: convolution}",
            "knowledge entry a.B.size_rule: 'convolution' is not one of conv, "
            "conv_transpose, max_pool, avg_pool, adaptive_pool, linear, embedding, recurrent, reshape, attention",
        ),
        ("a.B: {abstract: yes please}", "knowledge entry a.B.abstract: must be true or false, not 'yes please'"),
        ("a.B: {brief: [1, 2]}", "knowledge entry a.B.brief: must be text or a list of texts, not a list"),
        ("a.B: [1, 2]", "knowledge entry a.B: must be a mapping of fields, not a list"),
        (
            "a.B: {example: {args: 3}}",
            "knowledge entry a.B.example.args: must be a list of positional arguments, not int 3",
        ),
        (
            "a.B: {example: {input: [2, 0]}}",
            "knowledge entry a.B.example.input: must be a shape, a list of sizes "
            "of 1 or more (e.g. [1, 3, 16, 16]), not [2, 0]",
        ),
        (
            "a.B: {example: {input: [2], dtype: int8}}",
            "knowledge entry a.B.example.dtype: 'int8' is not one of "
            "float32, float64, float16, bfloat16, long, int64, int32, bool",
        ),
        (
            "a.B: {example: {args: [{tensor: 3}]}}",
            "knowledge entry a.B.example.args[0]: {tensor: SHAPE} takes one "
            "list of sizes (e.g. {tensor: [3, 2]}), not {'tensor': 3}",
        ),
        (
            "a.B: {example: {size: 3}}",
            "knowledge entry a.B.example: unknown field size; the fields are args, dtype, input, inputs, kwargs",
        ),
        (
            "a.B: {args: {x: {dim: 'in0:last'}}}",
            "knowledge entry a.B.args.x.dim: 'in0:last' is not an axis reference; write in0:-1 (input 0, last axis), "
            "out0:1 or in0:-2,-1 (several axes)",
        ),
        ("a.B: {extends: 3}", "knowledge entry a.B.extends: must name an entry or list entries, not int 3"),
    ],
)
def test_a_malformed_field_is_named_with_its_entry_and_file(tmp_path: Path, text: str, expected: str) -> None:
    assert _problems(tmp_path, text) == [f"{expected} (in {tmp_path / 'knowledge' / 'mine.yaml'}; fix the entry there)"]


@pytest.mark.parametrize(
    ("field", "data", "where", "message"),
    [
        ("summary", {"summary": "width {{ width "}, "a.B.summary", "unexpected end of template"),
        ("brief", {"brief": ["{{ a }}", "{% if %}"]}, "a.B.brief[1]", "Expected an expression"),
        ("let", {"let": {"k": "= (1 +"}}, "a.B.let.k", "unexpected 'end of template'"),
        ("reason", {"args": {"x": {"reason": "{{ x }"}}}, "a.B.args.x.reason", "unexpected '}'"),
        ("dim", {"args": {"x": {"dim": "in0:{{ -1 "}}}, "a.B.args.x.dim", "unexpected end of template"),
        ("read", {"args": {"x": {"read": "module.x."}}}, "a.B.args.x.read", "expected name or number"),
        ("default", {"args": {"x": {"default": "= 1 +"}}}, "a.B.args.x.default", "unexpected 'end of template'"),
        ("axes", {"params": {"w": {"axes": ["a", "{{ b"]}}}, "a.B.params.w.axes[1]", "unexpected end of template"),
        ("meaning", {"params": {"w": {"meaning": "{% for %}"}}}, "a.B.params.w.meaning", "Expected"),
    ],
)
def test_a_template_syntax_error_names_the_entry_and_field(
    field: str, data: dict[str, Any], where: str, message: str
) -> None:
    with pytest.raises(knowledge.KnowledgeError) as raised:
        schema.parse_entry("a.B", data, origin="mine.yaml", shipped=False)
    assert raised.value.where == where and raised.value.file == "mine.yaml"
    assert raised.value.problem.startswith("template syntax error: ") and message in raised.value.problem
    assert re.fullmatch(
        rf"knowledge entry {re.escape(where)}: template syntax error: .* \(line \d+\) "
        r"\(in mine\.yaml; fix the entry there\)",
        str(raised.value),
    )


def test_every_problem_of_a_file_is_listed_not_only_the_first(tmp_path: Path) -> None:
    found = _problems(tmp_path, "a.B: {summary: 3, brief: '{{ x'}\nc.D: {colour: red}\n")
    assert [p.split(":", 1)[0] for p in found] == [
        "knowledge entry a.B.summary",
        "knowledge entry a.B.brief",
        "knowledge entry c.D",
    ]


def test_a_file_that_is_not_yaml_is_named(tmp_path: Path) -> None:
    (found,) = _problems(tmp_path, "a.B: {summary: [unclosed\n")
    assert found.startswith(f"knowledge file {tmp_path / 'knowledge' / 'mine.yaml'}: cannot be read as YAML (")
    assert found.endswith("; fix the file")
    (found,) = _problems(tmp_path, "- a list\n- of things\n")
    assert found.endswith("mine.yaml: must hold a mapping of layer keys to entries; fix the file")


def test_load_raises_the_first_problem_and_counts_the_rest(tmp_path: Path) -> None:
    folder = tmp_path / "knowledge"
    folder.mkdir()
    (folder / "mine.yaml").write_text("a.B: {summary: 3, brief: 4}\n", encoding="utf-8")
    with pytest.raises(
        knowledge.KnowledgeError,
        match=r"^knowledge entry a\.B\.summary: must be text, not int 3 "
        r"\(and 1 more: modeldoc knowledge check lists them all\) \(in .*mine\.yaml; fix the entry there\)$",
    ):
        knowledge.load([folder], entry_points=False)
