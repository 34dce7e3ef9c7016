"""The layout's rules, read from the source with `ast` (no import runs, so no torch is needed).

- torch and the libraries that come with it are imported only behind the probe (``modeldoc/probe``);
  the bundled example models (``modeldoc/examples``) are user code and may import them too;
- modeldoc's modules import each other without a circle;
- the pure packages (explanation, derivations, diagrams, pages, knowledge, the spec, costs and
  options) import nothing from the probe or the site builder.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = pytest.mark.notorch

PACKAGE = Path(__file__).resolve().parent.parent / "modeldoc"

TORCH_SIDE = ("torch", "transformers", "diffusers", "safetensors", "numpy")
"""Libraries only the probe may import: torch, and what comes with it or with the models it reads."""
BEHIND_THE_PROBE = ("modeldoc.probe", "modeldoc.examples")
PURE = (
    "modeldoc.explain",
    "modeldoc.derive",
    "modeldoc.diagrams",
    "modeldoc.pages",
    "modeldoc.knowledge",
    "modeldoc.spec",
    "modeldoc.costs",
    "modeldoc.options",
)
"""Packages and modules that read the spec and never reach for the probe or the site builder."""
IMPURE = ("modeldoc.probe", "modeldoc.site")


@dataclass(frozen=True)
class Import:
    """One import statement's target, where it is, and whether it sits under ``if TYPE_CHECKING:``."""

    module: str
    """The imported module, absolute: ``torch.nn``, ``modeldoc.probe.guard``."""
    line: int
    type_checking: bool


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``modeldoc/probe/guard.py`` is ``modeldoc.probe.guard``; a package's ``__init__.py`` is the package."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(path, root): path for path in sorted(root.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, name: str, known: set[str]) -> Iterator[Import]:
    """Every import in the file at any level (inside functions too), made absolute.

    ``from package import name`` counts as an import of the submodule ``package.name`` when
    there is one, else of the package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST, type_checking: bool) -> Iterator[Import]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.body:
                yield from visit(child, True)
            for child in node.orelse:
                yield from visit(child, type_checking)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, type_checking)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                yield Import(sub if sub in known else base, node.lineno, type_checking)
        for child in ast.iter_child_nodes(node):
            yield from visit(child, type_checking)

    yield from visit(tree, False)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def torch_side_imports(found: dict[str, Path]) -> list[str]:
    """``module:line imports torch.nn`` for every torch-side import outside the probe."""
    known = set(found)
    out = []
    for name, path in found.items():
        if _within(name, BEHIND_THE_PROBE):
            continue
        for imp in imports(path, name, known):
            if imp.module.split(".")[0] in TORCH_SIDE:
                out.append(f"{name}:{imp.line} imports {imp.module}")
    return out


def graph(found: dict[str, Path]) -> dict[str, set[str]]:
    """modeldoc's modules and the modeldoc modules each imports (inside functions too, type-only ones left out)."""
    known = set(found)
    edges: dict[str, set[str]] = {name: set() for name in found}
    for name, path in found.items():
        for imp in imports(path, name, known):
            if not imp.type_checking and imp.module in known and imp.module != name:
                edges[name].add(imp.module)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str]:
    """One import circle as ``[a, b, ..., a]``, or ``[]`` when there is none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


def pure_imports(found: dict[str, Path]) -> list[str]:
    """``module:line imports modeldoc.probe.x`` for every import of the probe or the site from a pure module."""
    known = set(found)
    out = []
    for name, path in found.items():
        if not _within(name, PURE):
            continue
        for imp in imports(path, name, known):
            if _within(imp.module, IMPURE):
                out.append(f"{name}:{imp.line} imports {imp.module}")
    return out


# --------------------------------------------------------------------------- the rules


def test_only_the_probe_imports_torch() -> None:
    assert torch_side_imports(modules()) == []


def test_modeldoc_has_no_import_circle() -> None:
    cycle = find_cycle(graph(modules()))
    assert cycle == [], "import circle: " + " -> ".join(cycle)


def test_the_pure_packages_import_neither_the_probe_nor_the_site() -> None:
    assert pure_imports(modules()) == []


def test_the_rules_see_every_package() -> None:
    """The walk finds each package the rules name, so a renamed package cannot slip out of them."""
    found = modules()
    for name in (*BEHIND_THE_PROBE, *PURE, "modeldoc.site.plugin", "modeldoc.pipeline", "modeldoc.cli"):
        assert any(_within(m, (name,)) for m in found), name


# --------------------------------------------------------------------------- the rules catch what they should


def _package(tmp_path: Path, files: dict[str, str]) -> dict[str, Path]:
    root = tmp_path / "modeldoc"
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return modules(root)


def test_a_torch_import_outside_the_probe_is_found_at_any_level(tmp_path: Path) -> None:
    found = _package(
        tmp_path,
        {
            "__init__.py": "",
            "api.py": "def f():\n    from torch import nn\n    return nn\n",
            "pipeline.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
            "pages/__init__.py": "",
            "pages/render.py": "class A:\n    def m(self):\n        import numpy as np\n",
            "probe/__init__.py": "import torch\n",
            "probe/loader.py": "import transformers\n",
            "examples/__init__.py": "",
            "examples/cnn.py": "from torch import nn\n",
        },
    )
    assert torch_side_imports(found) == [
        "modeldoc.api:2 imports torch",
        "modeldoc.pages.render:3 imports numpy",
        "modeldoc.pipeline:3 imports torch",
    ]


def test_a_circle_is_found_and_reported_through_function_level_and_relative_imports(tmp_path: Path) -> None:
    found = _package(
        tmp_path,
        {
            "__init__.py": "",
            "probe/__init__.py": "",
            "probe/static.py": "from modeldoc.probe import trace\n",
            "probe/trace.py": "def f():\n    from .static import public_type\n",
            "probe/names.py": "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from modeldoc.probe import trace\n",
        },
    )
    edges = graph(found)
    assert edges["modeldoc.probe.names"] == set()  # type-only imports make no circle
    assert find_cycle(edges) == ["modeldoc.probe.static", "modeldoc.probe.trace", "modeldoc.probe.static"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_a_pure_module_reaching_for_the_probe_or_the_site_is_found(tmp_path: Path) -> None:
    found = _package(
        tmp_path,
        {
            "__init__.py": "",
            "spec.py": "",
            "costs.py": "from modeldoc.probe.trace import probe\n",
            "derive/__init__.py": "",
            "derive/flow.py": "def f():\n    from modeldoc.site import build\n",
            "pipeline.py": "from modeldoc.probe import collect\n",
            "probe/__init__.py": "",
            "probe/trace.py": "",
            "probe/collect.py": "",
            "site/build.py": "",
        },
    )
    assert pure_imports(found) == [
        "modeldoc.costs:1 imports modeldoc.probe.trace",
        "modeldoc.derive.flow:2 imports modeldoc.site.build",
    ]
