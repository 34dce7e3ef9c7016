"""The layout-driven JSON mapping: both directions follow one declaration, reading checks every value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from modeldoc.errors import ConfigError
from modeldoc.jsonmap import SET, DecodeError, JsonMapped, Key, decode, keys

pytestmark = pytest.mark.notorch


@dataclass(frozen=True, kw_only=True)
class Leaf(JsonMapped):
    name: str
    size: int | str = 0
    tags: tuple[str, ...] = ()
    note: str = ""
    secret: str = ""
    shown: bool = False
    fallback_default: str = ""
    has_extra: bool = False
    extra: Any = None

    json_layout = keys(
        "name",
        "size",
        "tags",
        Key("note", when=SET),
        Key("shown", when=SET),
        Key("secret", when="shown"),
        Key("extra", when="has_extra"),
        Key("renamed", "fallback_default", fallback=lambda data: data["name"].upper()),
    )


@dataclass(frozen=True, kw_only=True)
class Tree(JsonMapped):
    kind: Literal["a", "b"]
    leaves: tuple[Leaf, ...] = ()
    shapes: tuple[tuple[int | str, ...], ...] = ()
    parent: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    first: Leaf

    json_layout = keys(
        Key("head.kind", "kind"),
        Key("head.first_name", "first.name", copy=True),
        "leaves",
        "shapes",
        "parent",
        "counts",
        "first",
    )


def tree() -> Tree:
    return Tree(
        kind="b",
        leaves=(
            Leaf(name="x", size=3, tags=("t",), note="n", shown=True, secret="s", fallback_default="X"),
            Leaf(name="y", size="L", has_extra=True, extra=[1, [2, 3]], fallback_default="other"),
        ),
        shapes=((1, "N", 28), ()),
        parent=4,
        counts={"float32": 12},
        first=Leaf(name="z", fallback_default="Z"),
    )


def test_the_layout_writes_keys_in_its_order_and_reads_them_back_equal() -> None:
    value = tree()
    data = value.to_json()
    assert list(data) == ["head", "leaves", "shapes", "parent", "counts", "first"]
    assert data["head"] == {"kind": "b", "first_name": "z"}
    assert data["shapes"] == [[1, "N", 28], []]
    assert data["leaves"][0] == {
        "name": "x",
        "size": 3,
        "tags": ["t"],
        "note": "n",
        "shown": True,
        "secret": "s",
        "renamed": "X",
    }
    # left out: `note` and `shown` at their defaults, `secret` while not shown; `extra` written as has_extra says
    assert data["leaves"][1] == {"name": "y", "size": "L", "tags": [], "extra": [1, [2, 3]], "renamed": "other"}
    back = Tree.from_json(json.loads(json.dumps(data)))
    assert back == value
    assert isinstance(back.shapes[0], tuple) and isinstance(back.leaves, tuple)


def test_a_presence_flag_is_read_from_whether_its_key_is_there() -> None:
    with_extra = Leaf.from_json({"name": "a", "size": 1, "tags": [], "extra": None})
    assert with_extra.has_extra and with_extra.extra is None
    assert not Leaf.from_json({"name": "a", "size": 1, "tags": []}).has_extra


def test_a_key_older_json_lacks_is_computed_by_its_fallback() -> None:
    assert Leaf.from_json({"name": "abc", "size": 1, "tags": []}).fallback_default == "ABC"


def test_copies_are_written_but_never_read() -> None:
    data = tree().to_json()
    data["head"]["first_name"] = "changed"
    assert Tree.from_json(data) == tree()


def test_unknown_keys_are_ignored_so_that_fields_can_be_added() -> None:
    data = tree().to_json()
    data["future"] = {"anything": 1}
    data["leaves"][0]["brief"] = "later"
    assert Tree.from_json(data) == tree()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["head"].pop("kind"), "the required key 'head.kind' is missing"),
        (lambda d: d.pop("leaves"), "the required key 'leaves' is missing"),
        (lambda d: d["leaves"][1].pop("tags"), "the required key 'tags' is missing at leaves[1]"),
        (lambda d: d["head"].update(kind="c"), 'expected one of "a", "b", got a string "c" at head.kind'),
        (
            lambda d: d["shapes"][0].__setitem__(1, 2.5),
            "expected a whole number or a string, got a number 2.5 at shapes[0][1]",
        ),
        (
            lambda d: d["leaves"][0].update(size=True),
            "expected a whole number or a string, got a boolean true at leaves[0].size",
        ),
        (lambda d: d.update(parent="4"), 'expected a whole number, got a string "4" at parent'),
        (lambda d: d.update(counts={"float32": "12"}), 'expected a whole number, got a string "12" at counts.float32'),
        (lambda d: d.update(leaves={"x": 1}), 'expected a list, got an object {"x": 1} at leaves'),
        (lambda d: d.update(first=[]), "expected an object (Leaf), got a list at first"),
        (lambda d: d["leaves"][0].update(tags=["t", 7]), "expected a string, got a number 7 at leaves[0].tags[1]"),
    ],
)
def test_a_value_that_does_not_fit_is_named_with_its_place(change: Any, message: str) -> None:
    data = tree().to_json()
    change(data)
    with pytest.raises(DecodeError) as caught:
        decode(Tree, data)
    where = f" at {caught.value.location}" if caught.value.location else ""
    assert f"{caught.value.problem}{where}" == message
    with pytest.raises(ConfigError, match="the JSON of a Tree does not fit it: "):
        Tree.from_json(data)


def test_null_is_read_only_where_the_field_allows_it() -> None:
    data = tree().to_json()
    data["parent"] = None
    assert Tree.from_json(data).parent is None
    data["leaves"][0]["name"] = None
    with pytest.raises(ConfigError, match=r"expected a string, got null at leaves\[0\].name"):
        Tree.from_json(data)
