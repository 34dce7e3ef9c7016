"""Compiled Jinja templates kept in a folder (the cache folder), so a build does not compile them again.

Compiling MkDocs-Material's and modeldoc's templates takes about half a second of every build.
A compiled template is reused only for the same template file with the same source (Jinja
keeps the source's checksum), under the same Jinja version and environment settings; each file
carries a digest of its own bytes, so a damaged one is compiled afresh, never run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import Environment
from jinja2.bccache import Bucket, BytecodeCache

TEMPLATES = "templates"
"""The subfolder of the cache folder that holds compiled templates, as ``__pycache__`` holds Python's."""


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates in a folder, keyed by the environment's settings, the template's name and file.

    Jinja itself reuses one only for the same source (it keeps the source's checksum); each file
    also carries a digest of its own bytes, so a damaged one is compiled afresh, never run.
    """

    def __init__(self, folder: Path, settings: str) -> None:
        self.folder = folder
        self.settings = settings

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        """The file name of a template's compiled code."""
        text = f"{self.settings}|{name}|{filename}"
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:40]

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill `bucket` from its file when the file is whole; otherwise leave it empty (compiled afresh)."""
        try:
            raw = (self.folder / f"{bucket.key}.jinja").read_bytes()
        except OSError:
            return
        digest, data = raw[:32], raw[32:]
        if hashlib.sha256(data).digest() != digest:
            return
        try:
            bucket.bytecode_from_string(data)  # checks Jinja's own magic and the source's checksum
        except Exception:  # a file Jinja cannot read back: compiled afresh
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Save `bucket`'s compiled code; a folder that cannot be written only costs the reuse."""
        data = bucket.bytecode_to_string()
        with contextlib.suppress(OSError):
            write_atomically(self.folder / f"{bucket.key}.jinja", hashlib.sha256(data).digest() + data)


def use_compiled_templates(env: Environment, folder: Path) -> None:
    """Keep `env`'s compiled templates in `folder` (the cache folder)'s `TEMPLATES`, for the next build.

    A folder that cannot be made leaves `env` as it was.
    """
    where = folder / TEMPLATES
    try:
        where.mkdir(parents=True, exist_ok=True)
    except OSError:
        return
    env.bytecode_cache = CompiledTemplates(where, _settings(env))


def _settings(env: Environment) -> str:
    """What besides a template's source shapes its compiled code: Jinja's version and the environment's syntax."""

    def name(value: Any) -> str:
        return str(getattr(value, "__qualname__", value))

    parts = [
        jinja2.__version__,
        sorted(env.extensions),
        env.block_start_string,
        env.block_end_string,
        env.variable_start_string,
        env.variable_end_string,
        env.comment_start_string,
        env.comment_end_string,
        env.line_statement_prefix,
        env.line_comment_prefix,
        env.trim_blocks,
        env.lstrip_blocks,
        env.newline_sequence,
        env.keep_trailing_newline,
        env.optimized,
        env.is_async,
        name(env.autoescape),
        name(env.finalize),
    ]
    return json.dumps(parts, default=repr)


def write_atomically(path: Path, data: bytes) -> None:
    """`data` written to `path` through a temporary file beside it, so a reader never sees half of it."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
