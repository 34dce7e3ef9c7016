"""Docstrings parsed into sections: summary, description, arguments, returns, examples.

Pure and small: the three styles people write are read (Google ``Args:``, NumPy
``Parameters`` with a dashed underline, Sphinx ``:param x:``), and anything else stays text.
Nothing is dropped: a line the parser does not understand is kept in the section it is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GOOGLE = {
    "args": "Arguments",
    "arguments": "Arguments",
    "parameters": "Arguments",
    "params": "Arguments",
    "keyword args": "Keyword arguments",
    "keyword arguments": "Keyword arguments",
    "other parameters": "Other arguments",
    "attributes": "Attributes",
    "returns": "Returns",
    "return": "Returns",
    "yields": "Yields",
    "yield": "Yields",
    "raises": "Raises",
    "examples": "Examples",
    "example": "Examples",
    "note": "Note",
    "notes": "Notes",
    "warning": "Warning",
    "warnings": "Warning",
    "see also": "See also",
    "references": "References",
    "shape": "Shape",
    "inputs": "Inputs",
    "outputs": "Outputs",
    "todo": "To do",
}
"""Section headers (lower case) and the title each is shown under."""
_ITEMS = frozenset({"Arguments", "Keyword arguments", "Other arguments", "Attributes", "Raises"})
"""Sections whose entries are named items (``name (type): text``)."""
_TYPED = frozenset({"Returns", "Yields"})
"""Sections whose single entry may start with a type (``Tensor: the output``)."""
_CODE = frozenset({"Examples"})

_GOOGLE_HEADER = re.compile(r"^(?P<name>[A-Za-z][A-Za-z ]*?)\s*::?\s*$")
_DASHES = re.compile(r"^\s*-{3,}\s*$")
_GOOGLE_ITEM = re.compile(r"^(?P<name>\*{0,2}[\w.]+)\s*(?:\((?P<type>[^)]*)\))?\s*:\s*(?P<text>.*)$")
_NUMPY_ITEM = re.compile(r"^(?P<name>\*{0,2}[\w.]+(?:\s*,\s*\*{0,2}[\w.]+)*)\s*(?::\s*(?P<type>.*))?$")
_TYPED_ENTRY = re.compile(r"^(?P<type>[\w.\[\], |]+?):\s+(?P<text>.+)$")
_SPHINX = re.compile(r"^:(?P<field>\w+)(?:\s+(?P<arg>[^:]+?))?:\s*(?P<text>.*)$")
_SPHINX_SECTION = {
    "param": "Arguments",
    "parameter": "Arguments",
    "arg": "Arguments",
    "argument": "Arguments",
    "key": "Keyword arguments",
    "keyword": "Keyword arguments",
    "raises": "Raises",
    "raise": "Raises",
    "except": "Raises",
    "returns": "Returns",
    "return": "Returns",
    "yields": "Yields",
    "ivar": "Attributes",
    "var": "Attributes",
    "cvar": "Attributes",
}


@dataclass(frozen=True, kw_only=True)
class DocItem:
    """One named entry of a section: an argument, an attribute, an exception, a return value."""

    name: str = ""
    type: str = ""
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class DocSection:
    """One section: ``kind`` is ``"items"`` (named entries), ``"text"`` or ``"code"``."""

    title: str
    kind: str
    items: tuple[DocItem, ...] = ()
    text: str = ""


@dataclass(frozen=True, kw_only=True)
class Docstring:
    """A parsed docstring."""

    summary: str = ""
    paragraphs: tuple[str, ...] = ()
    """The description after the summary, paragraph by paragraph (doctest blocks are code sections)."""
    sections: tuple[DocSection, ...] = ()

    @property
    def empty(self) -> bool:
        """True when there is nothing to show."""
        return not (self.summary or self.paragraphs or self.sections)


def parse(text: str) -> Docstring:
    """Parse a cleaned docstring (``inspect.cleandoc``) into its sections."""
    lines = text.expandtabs(4).strip("\n").splitlines()
    head: list[str] = []
    blocks: list[tuple[str, bool, list[str]]] = []  # (title, NumPy style, lines)
    sphinx: dict[str, list[DocItem]] = {}
    i = 0
    while i < len(lines):
        line = lines[i]
        title = _header(lines, i)
        if title is not None:
            numpy = i + 1 < len(lines) and bool(_DASHES.match(lines[i + 1]))
            i += 2 if numpy else 1
            body: list[str] = []
            while i < len(lines) and _header(lines, i) is None and not _SPHINX.match(lines[i]):
                body.append(lines[i])
                i += 1
            blocks.append((title, numpy, body))
            continue
        field = _SPHINX.match(line)
        if field and field.group("field").lower() in (*_SPHINX_SECTION, "type", "rtype", "vartype"):
            i = _sphinx_field(lines, i, field, sphinx)
            continue
        if not blocks:
            head.append(line)
        else:
            blocks[-1][2].append(line)
        i += 1
    summary, paragraphs, examples = _head(head)
    sections = [_section(title, body, numpy=numpy) for title, numpy, body in blocks]
    sections += [DocSection(title=title, kind="items", items=tuple(items)) for title, items in sphinx.items()]
    if examples:
        sections.append(DocSection(title="Examples", kind="code", text=examples))
    return Docstring(summary=summary, paragraphs=paragraphs, sections=tuple(s for s in sections if _has(s)))


def _has(section: DocSection) -> bool:
    return bool(section.items or section.text.strip())


def _header(lines: list[str], i: int) -> str | None:
    """The title of the section header at line `i`, or None."""
    line = lines[i]
    if line.startswith((" ", "\t")):
        return None
    stripped = line.strip()
    if i + 1 < len(lines) and _DASHES.match(lines[i + 1]) and stripped and not _DASHES.match(line):
        return _GOOGLE.get(stripped.lower(), stripped)  # NumPy: any title underlined with dashes
    match = _GOOGLE_HEADER.match(stripped)
    if match and line.rstrip().endswith(":") and match.group("name").lower() in _GOOGLE:
        return _GOOGLE[match.group("name").lower()]
    return None


_TIP = re.compile(r"^</?Tip(\s+warning=\{true\})?>$")


def _head(lines: list[str]) -> tuple[str, tuple[str, ...], str]:
    """Summary, description paragraphs and doctest lines of the text before the first section."""
    paragraphs: list[str] = []
    examples: list[str] = []
    current: list[str] = []
    in_doctest = False
    for line in [*lines, ""]:
        if not line.strip() or _TIP.match(line.strip()):  # Hugging Face's <Tip> markers frame a paragraph
            if current:
                paragraphs.append(" ".join(part.strip() for part in current))
                current = []
            in_doctest = False
            continue
        if line.lstrip().startswith(">>>") or in_doctest:
            if not in_doctest and examples:
                examples.append("")
            in_doctest = True
            examples.append(line.strip())
            continue
        current.append(line)
    summary = paragraphs.pop(0) if paragraphs else ""
    return summary, tuple(paragraphs), "\n".join(examples)


def _section(title: str, body: list[str], *, numpy: bool) -> DocSection:
    text = _dedent(body)
    if title in _CODE:
        return DocSection(title=title, kind="code", text=text)
    if title in _ITEMS:
        return DocSection(title=title, kind="items", items=_items(text.splitlines(), numpy=numpy))
    if title in _TYPED:
        return DocSection(title=title, kind="items", items=_typed(text.splitlines()))
    return DocSection(title=title, kind="text", text=_prose(text))


def _prose(text: str) -> str:
    """Wrapped lines joined into paragraphs (kept apart by a blank line); list items stay one per line."""
    paragraphs: list[list[str]] = [[]]
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            if paragraphs[-1]:
                paragraphs.append([])
        elif stripped.startswith(("- ", "* ", "+ ")) or not paragraphs[-1]:
            paragraphs[-1].append(stripped)
        else:
            paragraphs[-1][-1] += " " + stripped
    return "\n\n".join("\n".join(lines) for lines in paragraphs if lines)


def _dedent(lines: list[str]) -> str:
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines).strip("\n")


def _items(lines: list[str], *, numpy: bool) -> tuple[DocItem, ...]:
    """Named entries: an unindented line starts one, indented lines continue it.

    Google style starts an entry with ``name (type): text``, NumPy style with ``name : type``.
    """
    items: list[DocItem] = []
    for line in lines:
        if not line.strip():
            continue
        if not line.startswith(" "):
            match = (_NUMPY_ITEM if numpy else _GOOGLE_ITEM).match(line.strip())
            if match and numpy:
                items.append(DocItem(name=match.group("name"), type=(match.group("type") or "").strip()))
                continue
            if match:
                items.append(DocItem(name=match.group("name"), type=match.group("type") or "", text=match["text"]))
                continue
        if items:
            last = items[-1]
            items[-1] = DocItem(name=last.name, type=last.type, text=f"{last.text} {line.strip()}".strip())
        else:
            items.append(DocItem(text=line.strip()))
    return tuple(items)


def _typed(lines: list[str]) -> tuple[DocItem, ...]:
    """A returns section: ``Type: text`` (Google), ``name : Type`` then text (NumPy), or text alone."""
    if not any(line.strip() for line in lines):
        return ()
    first = lines[0].strip()
    rest = " ".join(line.strip() for line in lines[1:] if line.strip())
    indented_rest = any(line.startswith(" ") for line in lines[1:] if line.strip())
    if indented_rest and ":" not in first.rstrip(":"):
        return (DocItem(type=first, text=rest),)  # NumPy: the type alone on the first line
    if indented_rest and " : " in first:
        name, _, kind = first.partition(" : ")
        return (DocItem(name=name.strip(), type=kind.strip(), text=rest),)
    match = _TYPED_ENTRY.match(first)
    if match:
        return (DocItem(type=match.group("type").strip(), text=f"{match.group('text')} {rest}".strip()),)
    return (DocItem(text=f"{first} {rest}".strip()),)


def _sphinx_field(lines: list[str], i: int, field: re.Match[str], found: dict[str, list[DocItem]]) -> int:
    """Read one ``:field arg: text`` entry (with its indented continuation) into `found`; the next line index."""
    text = [field.group("text").strip()]
    i += 1
    while i < len(lines) and lines[i].startswith(" ") and lines[i].strip():
        text.append(lines[i].strip())
        i += 1
    name, arg, body = field.group("field").lower(), (field.group("arg") or "").strip(), " ".join(text).strip()
    if name in ("type", "vartype"):
        for items in found.values():
            for n, item in enumerate(items):
                if item.name == arg:
                    items[n] = DocItem(name=item.name, type=body, text=item.text)
        return i
    if name == "rtype":
        returns = found.setdefault("Returns", [DocItem()])
        returns[0] = DocItem(name=returns[0].name, type=body, text=returns[0].text)
        return i
    title = _SPHINX_SECTION[name]
    parts = arg.split()
    kind, arg_name = (" ".join(parts[:-1]), parts[-1]) if len(parts) > 1 and title != "Raises" else ("", arg)
    if title in _TYPED:
        returns = found.setdefault(title, [DocItem()])
        returns[0] = DocItem(name=returns[0].name, type=returns[0].type, text=body)
        return i
    found.setdefault(title, []).append(DocItem(name=arg_name, type=kind, text=body))
    return i


__all__ = ["DocItem", "DocSection", "Docstring", "parse"]
