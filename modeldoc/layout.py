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
from dataclasses import dataclass

from modeldoc.spec import LayerSpec, ModelSpec

_UNSAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass(frozen=True, kw_only=True)
class Page:
    """One generated page of a model's documentation."""

    root: str
    """Path of the module the page is about (``""`` for the model's main page)."""
    file: str
    """Path of the Markdown file, relative to the model's folder (``"index.md"``)."""
    title: str
    layers: tuple[str, ...]
    """Paths of the layers documented in this page, in tree order."""
    subpages: tuple[str, ...]
    """Roots of the pages that hang directly below this one."""
    parent: str | None
    """Root of the page above, None for the main page."""


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
    """The Markdown file of the page rooted at `root`."""
    if not root:
        return "index.md"
    safe = _UNSAFE.sub("-", root).strip("-").lower()[:60] or "block"
    return f"blocks/{safe}-{_digest(root)}.md"


def plan_pages(spec: ModelSpec, page_size: int) -> tuple[Page, ...]:
    """Split the module tree into pages of at most about `page_size` layers each."""
    by_path = {layer.path: layer for layer in spec.all_layers}
    sizes = _subtree_sizes(spec.root, by_path)
    pages: list[Page] = []

    def visit(root: str, parent: str | None) -> None:
        layers: list[str] = []
        subpages: list[str] = []

        def collect(path: str) -> None:
            layers.append(path)
            too_big = sizes[path] > page_size
            for child in by_path[path].children:
                # Inside a subtree too big for one page, every container gets a page of its
                # own: 80 decoder blocks become 80 pages, not one page of 1,000 sections.
                if too_big and by_path[child].children:
                    subpages.append(child)
                else:
                    collect(child)

        collect(root)
        title = root if root else spec.title
        pages.append(
            Page(
                root=root,
                file=page_file(root),
                title=title,
                layers=tuple(layers),
                subpages=tuple(subpages),
                parent=parent,
            )
        )
        for sub in subpages:
            visit(sub, root)

    visit("", None)
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
    sizes: dict[str, int] = {}

    def size(path: str) -> int:
        total = 1 + sum(size(child) for child in by_path[path].children)
        sizes[path] = total
        return total

    size(root.path)
    return sizes


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:6]
