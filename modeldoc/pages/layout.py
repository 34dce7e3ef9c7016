"""Which layer goes on which page, and the anchors and links between them.

A page holds a module and its whole subtree when that fits the page size; otherwise it holds
the module and its leaf children, and every child container gets a page of its own
(recursively), so a 1,000-module model stays navigable: the model page links to a page per
block, and every page is small enough to read.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
from collections import deque
from dataclasses import dataclass

from modeldoc.spec import LayerSpec, ModelSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True, kw_only=True)
class Page:
    """One generated page of a model's documentation."""

    root: str
    """The page's key: the path of the module it is about (``""`` for the model's main page); for a
    continuation page (part 2 and on), that path, a NUL character and the part number."""
    file: str
    """Path of the Markdown file, relative to the model's folder (``"index.md"``)."""
    title: str
    layers: tuple[str, ...]
    """Paths of the layers documented in this page, in tree order."""
    subpages: tuple[str, ...]
    """Keys of the pages that hang directly below this one (continuation parts first)."""
    parent: str | None
    """Key of the page above, None for the main page."""
    block: str = ""
    """Path of the module the page is about (`root` without the part number)."""
    part: int = 1
    """1, or the part number of a continuation page that holds more children of `block`."""
    parts: int = 1
    """How many pages hold children of `block`: 1 unless its leaf children fill more than one page."""


MAX_NAV_DEPTH = 6
"""Pages nest at most this deep; deeper pages hang under their ancestor at this depth."""


def anchor(path: str) -> str:
    """The HTML id of a layer's section: ``"conv1"`` becomes ``"layer-conv1"``.

    Names that are not plain identifiers get a short hash so that two keys that differ
    only in punctuation never collide.
    """
    if not path:
        return "layer-root"
    safe = _UNSAFE.sub("-", path).strip("-").lower() or "x"
    if safe.replace("-", ".") == path.lower() and path == path.lower():
        return f"layer-{safe}"
    return f"layer-{safe[:40]}-{_digest(path)}"


def page_file(root: str) -> str:
    """The Markdown file of the page with key `root`."""
    if not root:
        return "index.md"
    block, _, part = root.partition("\x00")
    safe = _UNSAFE.sub("-", block).strip("-").lower()[:60] or "block"
    return f"blocks/{safe}-{_digest(root)}{'-part' + part if part else ''}.md"


def plan_pages(spec: ModelSpec, page_size: int) -> tuple[Page, ...]:
    """Split the module tree into pages of at most `page_size` layer sections each.

    A module whose subtree fits goes on one page with it. A bigger module's page holds the
    module and its leaf children, and every child container gets a page of its own (80 decoder
    blocks become 80 pages). Leaf children that do not fit (10,000 siblings) continue on
    numbered continuation pages. A module with a single child continues down that chain on the
    same page while there is room, so a deeply nested wrapper is not a page per level. Pages nest
    at most MAX_NAV_DEPTH deep.
    """
    size = max(page_size, 1)
    by_path = {layer.path: layer for layer in spec.all_layers}
    sizes = _subtree_sizes(spec.root, by_path)
    planned: list[dict[str, object]] = []
    subpages: dict[str, list[str]] = {}
    todo: deque[tuple[str, str | None, int]] = deque([("", None, 0)])  # (block, parent key, nesting depth)
    while todo:
        block, parent, depth = todo.popleft()
        # Pages deeper than MAX_NAV_DEPTH hang under their ancestor at that depth.
        adopter = block if depth < MAX_NAV_DEPTH else (parent or "")
        own_depth = depth if depth < MAX_NAV_DEPTH else MAX_NAV_DEPTH
        layers: list[str] = []
        children_pages: list[str] = []
        overflow: list[tuple[str, list[str]]] = []
        pending = [(block, False)]  # (path, part of a subtree already known to fit)
        while pending:
            path, inside = pending.pop()
            layers.append(path)
            children = by_path[path].children
            room = size - len(layers) + 1  # for this module's subtree, itself included
            if inside or sizes[path] <= (size if path == block else room):
                pending.extend((child, True) for child in reversed(children))
                continue
            if len(children) == 1 and by_path[children[0]].children and len(layers) < size:
                pending.append((children[0], False))  # a wrapper: the chain goes on here while there is room
                continue
            leaves = [c for c in children if not by_path[c].children]
            room = max(size - len(layers), 0)
            layers.extend(leaves[:room])
            if leaves[room:]:
                overflow.append((path, leaves[room:]))
            children_pages += [c for c in children if by_path[c].children]
        key = block
        parts_keys: list[str] = []
        for path, rest in overflow:
            chunks = [rest[i : i + size] for i in range(0, len(rest), size)]
            total = len(chunks) + 1
            for number, chunk in enumerate(chunks, start=2):
                part_key = f"{path}\x00{number}"
                parts_keys.append(part_key)
                planned.append(
                    {
                        "root": part_key,
                        "title": f"{path or spec.title} · part {number} of {total}",
                        "layers": tuple(chunk),
                        "parent": adopter,
                        "block": path,
                        "part": number,
                        "parts": total,
                    }
                )
        planned.append(
            {
                "root": key,
                "title": block if block else spec.title,
                "layers": tuple(layers),
                "parent": parent,
                "block": block,
                "part": 1,
                "parts": 1 + sum(-(-len(rest) // size) for path, rest in overflow if path == block),
            }
        )
        subpages.setdefault(adopter, []).extend(parts_keys)
        for child in children_pages:
            subpages.setdefault(adopter, []).append(child)
            todo.append((child, adopter, own_depth + 1))
    pages = []
    for fields in planned:
        root = str(fields["root"])
        pages.append(
            Page(
                root=root,
                file=page_file(root),
                title=str(fields["title"]),
                layers=fields["layers"],  # type: ignore[arg-type]
                subpages=tuple(subpages.get(root, ())),
                parent=fields["parent"],  # type: ignore[arg-type]
                block=str(fields["block"]),
                part=int(fields["part"]),  # type: ignore[call-overload]
                parts=int(fields["parts"]),  # type: ignore[call-overload]
            )
        )
    return tuple(pages)


def page_of(pages: tuple[Page, ...]) -> dict[str, Page]:
    """Map each layer path to the page that documents it."""
    return {path: page for page in pages for path in page.layers}


def href(from_file: str, to_file: str, fragment: str = "") -> str:
    """A relative link between two generated Markdown files, as MkDocs resolves them."""
    if from_file == to_file and fragment:
        return f"#{fragment}"
    rel = posixpath.relpath(to_file, posixpath.dirname(from_file) or ".")
    return f"{rel}#{fragment}" if fragment else rel


def url_href(from_file: str, to_file: str, fragment: str = "", *, directory_urls: bool = True) -> str:
    """A relative link between the built HTML pages of two Markdown files.

    Raw HTML (such as SVG links) is not rewritten by MkDocs, so it needs the final URL.
    """
    if from_file == to_file:
        return f"#{fragment}" if fragment else "./"
    if not directory_urls:
        return href(from_file.removesuffix(".md") + ".html", to_file.removesuffix(".md") + ".html", fragment)
    rel = posixpath.relpath(_url_dir(to_file), _url_dir(from_file))
    rel = "" if rel == "." else rel + "/"
    return f"{rel}#{fragment}" if fragment else (rel or "./")


def _url_dir(md_file: str) -> str:
    stem = md_file.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return posixpath.dirname(stem) or "."
    return stem


def _subtree_sizes(root: LayerSpec, by_path: dict[str, LayerSpec]) -> dict[str, int]:
    """The number of modules in each subtree, without recursion (a model may nest thousands deep)."""
    order: list[str] = []
    stack = [root.path]
    while stack:
        path = stack.pop()
        order.append(path)
        stack.extend(by_path[path].children)
    sizes: dict[str, int] = {}
    for path in reversed(order):  # children before their parents
        sizes[path] = 1 + sum(sizes[child] for child in by_path[path].children)
    return sizes


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]
