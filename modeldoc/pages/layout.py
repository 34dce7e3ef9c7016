"""Which layer goes on which page, and the anchors and links between them.

A page holds a module and its whole subtree when that fits the page size; otherwise it holds
the module and its leaf children, and every child container gets a page of its own
(recursively), so a 1,000-module model stays navigable: the model page links to a page per
block, and every page is small enough to read.

Repeated blocks of one structure (`modeldoc.structures`) that would each get a page share one
instead: LLaMA's 80 decoder blocks become one page "Block × 80" that documents the first of them.
Every path inside the other instances has a counterpart on that page (`counterparts`), whose
section also carries the instance path's anchor, so a link to ``layers.17.attn.q_proj`` lands there.
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
    structure: str = ""
    """For a page shared by repeated blocks: the id of their structure group (`ModelSpec.structures`)."""
    instances: tuple[str, ...] = ()
    """For a shared page: the root paths of the blocks it stands for, `block` (the one documented) first."""


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


def structure_file(root: str, type_name: str) -> str:
    """The Markdown file of the page shared by the blocks of one structure, documented at `root`."""
    safe = _UNSAFE.sub("-", type_name).strip("-").lower()[:60] or "block"
    return f"blocks/{safe}-{_digest(chr(1) + root)}.md"


def plan_pages(spec: ModelSpec, page_size: int) -> tuple[Page, ...]:
    """Split the module tree into pages of at most `page_size` layer sections each.

    A module whose subtree fits goes on one page with it. A bigger module's page holds the
    module and its leaf children, and every child container gets a page of its own. Child
    containers that are instances of one structure group share one page, which documents the
    first of them (80 decoder blocks become one page); an instance that fits whole on its
    parent's page stays there. Leaf children that do not fit (10,000 siblings) continue on
    numbered continuation pages. A module with a single child continues down that chain on the
    same page while there is room, so a deeply nested wrapper is not a page per level. Pages nest
    at most MAX_NAV_DEPTH deep.
    """
    size = max(page_size, 1)
    by_path = {layer.path: layer for layer in spec.all_layers}
    sizes = _subtree_sizes(spec.root, by_path)
    group_of = {path: group.id for group in spec.structures for path in group.instances}
    shared: dict[str, list[str]] = {}  # group id -> instances on its page, the documented one first
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
            children_pages += _own_pages([c for c in children if by_path[c].children], group_of, shared)
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
    return _pages(planned, subpages, shared, by_path)


def _pages(
    planned: list[dict[str, object]],
    subpages: dict[str, list[str]],
    shared: dict[str, list[str]],
    by_path: dict[str, LayerSpec],
) -> tuple[Page, ...]:
    """The planned pages as `Page`s; the page of a group's first instance is the group's shared page."""
    documented = {instances[0]: group for group, instances in shared.items()}
    titles = _shared_titles(shared, by_path)
    pages = []
    for fields in planned:
        root = str(fields["root"])
        group = documented.get(root, "") if fields["part"] == 1 else ""
        pages.append(
            Page(
                root=root,
                file=structure_file(root, by_path[root].type_name) if group else page_file(root),
                title=titles[group] if group else str(fields["title"]),
                structure=group,
                instances=tuple(shared[group]) if group else (),
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
    """Map each layer path documented in a section of its own to the page that holds the section."""
    return {path: page for page in pages for path in page.layers}


def counterparts(spec: ModelSpec, pages: tuple[Page, ...]) -> dict[str, str]:
    """Each path inside a block documented on a shared page, mapped to the path whose section documents it.

    ``layers.17.attn.q_proj`` maps to ``layers.0.attn.q_proj`` when "Block × 80" documents
    ``layers.0``; repeats nested inside the documented block map on to their own shared page.
    """
    shared = {instance: page.block for page in pages for instance in page.instances[1:]}
    if not shared:
        return {}
    out: dict[str, str] = {}
    for layer in spec.all_layers:  # parents first
        path = layer.path
        if path in shared:
            found = shared[path]
        elif layer.parent is not None and layer.parent in out:
            found = f"{out[layer.parent]}.{layer.name}"
            found = shared.get(found, found)
        else:
            continue
        out[path] = found
    return out


def instance_runs(paths: tuple[str, ...] | list[str]) -> list[tuple[str, str, int]]:
    """Paths in runs of numbered siblings: ``layers.0 … layers.79`` is ``("layers.0", "layers.79", 80)``."""
    runs: list[tuple[str, str, int]] = []
    for path in paths:
        parent, _, name = path.rpartition(".")
        if runs and name.isdigit():
            first, last, count = runs[-1]
            last_parent, _, last_name = last.rpartition(".")
            if last_parent == parent and last_name.isdigit() and int(last_name) + 1 == int(name):
                runs[-1] = (first, path, count + 1)
                continue
        runs.append((path, path, 1))
    return runs


def _own_pages(containers: list[str], group_of: dict[str, str], shared: dict[str, list[str]]) -> list[str]:
    """Of child containers that need pages, those that get one: one per structure group, at its first instance.

    The group's other instances are added to `shared` (group id to instances), to be documented there.
    """
    out = []
    for child in containers:
        group = group_of.get(child)
        if group is None:
            out.append(child)
        elif group in shared:
            shared[group].append(child)
        else:
            shared[group] = [child]
            out.append(child)
    return out


def _shared_titles(shared: dict[str, list[str]], by_path: dict[str, LayerSpec]) -> dict[str, str]:
    """Titles of the shared pages: ``"Block × 80"``; where two groups share a class, what tells them apart."""
    titles = {}
    for group, instances in shared.items():
        root = by_path[instances[0]]
        title = f"{root.type_name} × {len(instances)}"
        others = [
            by_path[other[0]] for key, other in shared.items() if key != group and by_path[other[0]].type == root.type
        ]
        if others:
            title += _distinguished(root, others[0], by_path)
        titles[group] = title
    return titles


def _distinguished(root: LayerSpec, other: LayerSpec, by_path: dict[str, LayerSpec]) -> str:
    """`` (mlp: DeepseekV3MoE)``: the first module of `root` whose class differs in `other`; ``""`` for none."""
    stack = list(reversed(root.children))
    while stack:
        path = stack.pop()
        rel = path[len(root.path) + 1 :]
        twin = by_path.get(f"{other.path}.{rel}")
        if twin is None or twin.type != by_path[path].type:
            return f" ({rel}: {by_path[path].type_name})"
        stack.extend(reversed(by_path[path].children))
    return ""


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


def site_url(md_file: str, *, directory_urls: bool = True) -> str:
    """The URL of a generated page, relative to its model's folder: ``"blocks/x/"`` (``""`` for the main page)."""
    stem = md_file.removesuffix(".md")
    if not directory_urls:
        return f"{stem}.html"
    folder = _url_dir(md_file)
    return "" if folder == "." else f"{folder}/"


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
