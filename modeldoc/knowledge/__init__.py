"""The layer knowledge table: YAML data files shipped in this package, their schema and their loader.

Each ``*.yaml`` file maps a layer key to an entry. The key is the class name for classes
``torch.nn`` exports (``Conv2d``) and the dotted type otherwise
(``torch.nn.utils.parametrize.ParametrizationList``); keys starting with ``_`` are shared
bases that other entries name in ``extends``. An entry holds everything modeldoc knows about
its layer (`schema.Entry`): the kind and reason of each argument, the axes of each tensor, the
teaching text, the output-size formula and rule, the diagram's brief label, and an example for
the coverage test. Text fields are Jinja templates filled with the layer's own numbers; fields
whose string starts with ``=`` are Jinja expressions that evaluate to a value (`templates`).
``messages.yaml`` holds the text modeldoc writes that belongs to no layer type (inference,
ties, lazy modules). Projects and packages add folders of their own (`loader.load`).
Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jinja2 import TemplateError

from modeldoc.knowledge.loader import (
    ENTRY_POINT_GROUP,
    MESSAGES_FILE,
    YAML_LOADER,
    Knowledge,
    current,
    default,
    key_of,
    load,
    read,
    shipped,
    using,
)
from modeldoc.knowledge.schema import (
    KINDS,
    NO_DEFAULT,
    SIZE_RULES,
    SOURCES,
    ArgRule,
    Entry,
    Example,
    KnowledgeError,
    TensorRule,
    parse_entry,
)
from modeldoc.knowledge.templates import UNKNOWN, Unknown, evaluate, evaluate_unsandboxed, render


def lookup(key: str) -> Entry | None:
    """The entry for a layer key (``"Conv2d"`` or a dotted type) in the current table, or None."""
    return current().lookup(key)


def table() -> Mapping[str, Entry]:
    """Every concrete entry of the current table, bases merged in, by key."""
    return current().entries


def message(key: str, /, **context: Any) -> str:
    """A sentence from ``messages.yaml``, filled in."""
    try:
        template = messages()[key]
    except KeyError as err:
        raise KnowledgeError(f"messages.{key}", "no such message") from err
    return str(render(template, context))


@cache
def messages() -> Mapping[str, str]:
    """Every message template, by name."""
    text = resources.files(__name__).joinpath(MESSAGES_FILE).read_text(encoding="utf-8")
    raw = yaml.load(text, Loader=YAML_LOADER) or {}
    return {str(k): str(v) for k, v in raw.items()}


__all__ = [
    "ENTRY_POINT_GROUP",
    "KINDS",
    "NO_DEFAULT",
    "SIZE_RULES",
    "SOURCES",
    "UNKNOWN",
    "ArgRule",
    "Entry",
    "Example",
    "Knowledge",
    "KnowledgeError",
    "TemplateError",
    "TensorRule",
    "Unknown",
    "current",
    "default",
    "evaluate",
    "evaluate_unsandboxed",
    "key_of",
    "load",
    "lookup",
    "message",
    "messages",
    "parse_entry",
    "read",
    "render",
    "shipped",
    "table",
    "using",
]
