"""pages.layout: which layer goes on which page; no page holds more than page_size sections, whatever the tree."""

from __future__ import annotations

import pytest

from modeldoc.examples.llama import make_llama_70b
from modeldoc.options import model_options
from modeldoc.pages import layout
from modeldoc.pages.layout import MAX_NAV_DEPTH, plan_pages
from modeldoc.probe.collect import collect
from modeldoc.spec import LayerSpec, ModelSpec


def tree(children: dict[str, list[str]]) -> ModelSpec:
    """A spec with the given tree (path -> child paths); every other path is a leaf."""
    paths = {""} | {c for kids in children.values() for c in kids}
    layers = {
        path: LayerSpec(
            path=path,
            type="x.Block" if children.get(path) else "x.Leaf",
            type_name="Block" if children.get(path) else "Leaf",
            repr="",
            depth=path.count(".") + 1 if path else 0,
            parent=(path.rsplit(".", 1)[0] if "." in path else "") if path else None,
            children=tuple(children.get(path, ())),
        )
        for path in paths
    }
    order = [""]
    stack = list(reversed(children.get("", [])))
    while stack:
        path = stack.pop()
        order.append(path)
        stack.extend(reversed(children.get(path, [])))
    return ModelSpec(name="M", type="x.M", title="M", root=layers[""], layers=tuple(layers[p] for p in order[1:]))


def siblings(n: int) -> ModelSpec:
    return tree({"": [str(i) for i in range(n)]})


def chain(depth: int) -> ModelSpec:
    links = {}
    parent = ""
    for _ in range(depth):
        child = f"{parent}.0" if parent else "0"
        links[parent] = [child]
        parent = child
    return tree(links)


def check_plan(spec: ModelSpec, size: int) -> tuple[layout.Page, ...]:
    """Every layer on exactly one page, no page over `size`, keys unique, links between pages consistent."""
    pages = plan_pages(spec, size)
    placed = [path for page in pages for path in page.layers]
    assert sorted(placed) == sorted(layer.path for layer in spec.all_layers)
    assert max(len(page.layers) for page in pages) <= size
    by_key = {page.root: page for page in pages}
    assert len(by_key) == len(pages) and len({page.file for page in pages}) == len(pages)
    for page in pages:
        for sub in page.subpages:
            assert by_key[sub].parent == page.root
        if page.parent is not None:
            assert page.root in by_key[page.parent].subpages
    return pages


def nesting(pages: tuple[layout.Page, ...]) -> int:
    by_key = {page.root: page for page in pages}

    def depth(page: layout.Page) -> int:
        n = 0
        while page.parent is not None:
            page, n = by_key[page.parent], n + 1
        return n

    return max(depth(page) for page in pages)


def test_leaf_siblings_continue_on_numbered_pages() -> None:
    pages = check_plan(siblings(95), 40)
    main, *parts = pages[-1:] + pages[:-1]
    assert main.root == "" and main.layers == ("", *(str(i) for i in range(39)))
    assert [(p.title, p.part, p.parts, len(p.layers)) for p in parts] == [
        ("M · part 2 of 3", 2, 3, 40),
        ("M · part 3 of 3", 3, 3, 16),
    ]
    assert main.subpages == tuple(p.root for p in parts) and main.parts == 3
    assert all(p.block == "" and p.parent == "" for p in parts)
    assert parts[0].file.endswith("-part2.md")


def test_ten_thousand_siblings_never_put_more_than_page_size_on_a_page() -> None:
    pages = check_plan(siblings(10_000), 40)
    assert len(pages) == 1 + -(-(10_000 - 39) // 40)


def test_a_subtree_that_fits_stays_on_one_page() -> None:
    spec = tree({"": ["a", "b"], "a": ["a.x", "a.y"], "b": ["b.x"]})
    (page,) = check_plan(spec, 40)
    assert page.layers == ("", "a", "a.x", "a.y", "b", "b.x")


def test_blocks_of_a_big_model_get_a_page_each() -> None:
    blocks = {f"layers.{i}": [f"layers.{i}.{j}" for j in range(12)] for i in range(8)}
    spec = tree({"": ["embed", "layers", "head"], "layers": list(blocks), **blocks})
    pages = check_plan(spec, 40)
    assert {p.block for p in pages} == {"", "layers", *blocks}
    assert next(p for p in pages if p.root == "").layers == ("", "embed", "head")


def test_a_chain_of_wrappers_stays_on_a_page_while_there_is_room() -> None:
    pages = check_plan(chain(100), 40)
    assert len(pages) == 3  # 101 modules: 40 + 40 + 21
    assert [len(p.layers) for p in pages] == [40, 40, 21]


@pytest.mark.parametrize("depth", [300, 3000])
def test_pages_nest_at_most_max_nav_depth(depth: int) -> None:
    pages = check_plan(chain(depth), 10)
    assert nesting(pages) <= MAX_NAV_DEPTH


def test_llama_70b_shape_is_split_into_navigable_pages():
    module = make_llama_70b()
    spec = collect(module, model_options({"target": "modeldoc.examples.llama:make_llama_70b"}))
    assert len(spec.layers) >= 1000
    pages = layout.plan_pages(spec, page_size=40)
    assert len(pages) == 1 + 1 + 80  # the model, the block list, one page per block
    assert max(len(page.layers) for page in pages) <= 40
    where = layout.page_of(pages)
    assert set(where) == {layer.path for layer in spec.all_layers}, "every layer is on exactly one page"
    assert where["layers.79.attn.q_proj"].root == "layers.79"
    assert where["lm_head"].root == ""
