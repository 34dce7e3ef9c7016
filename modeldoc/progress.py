"""Progress of long work, for a person watching the terminal.

The pipeline, the renderer and the site builder each report what they are doing with one
call (`phase`, `count`, `tick`); where that goes is decided once, at the boundary, by the
reporter installed with `reporting`. The default reporter says nothing, so the Python API,
the MkDocs plugin and the tests are quiet unless they ask.

`Terminal` draws one line on stderr, rewritten in place, when stderr is a terminal; with
``verbose`` it prints each finished phase with its time on a line of its own instead (also when
piped, for CI logs). Colour is used only on a terminal and never when ``NO_COLOR`` is set.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TextIO

from modeldoc.terminal import terminal_safe

_MIN_INTERVAL = 0.1
"""Seconds between two redraws of the same phase's counts: the terminal is not the bottleneck."""


class Reporter:
    """Receives progress. This base class says nothing."""

    phase_text = ""
    """The phase in progress."""

    def phase(self, text: str) -> None:
        """A new phase of the work begins (``"loading pkg.models:Net"``)."""

    def count(self, what: str, done: int, total: int | None = None) -> None:
        """`done` of `total` items of `what` are finished (``"pages", 3, 12``)."""

    def tick(self, what: str) -> None:
        """One more item of `what` whose total is not known in advance (a diagram)."""

    def clear(self) -> None:
        """Make room for other output on the same stream (a warning)."""

    def close(self) -> None:
        """The work is over: leave the terminal clean."""


class Terminal(Reporter):
    """Progress on a terminal stream: one live line, or a line per phase when verbose."""

    def __init__(self, stream: TextIO, *, live: bool, verbose: bool = False, color: bool = False) -> None:
        self.stream = stream
        self.live = live
        self.verbose = verbose
        self.color = color
        self.phase_text = ""
        self._started = time.monotonic()
        self._counts: dict[str, tuple[int, int | None]] = {}
        self._drawn = 0
        self._last_draw = 0.0

    def phase(self, text: str) -> None:
        """Start a phase: draw it, and in verbose mode print the one that ended."""
        self._end_phase()
        self.phase_text = terminal_safe(text)
        self._started = time.monotonic()
        self._counts = {}
        self._draw(force=True)

    def count(self, what: str, done: int, total: int | None = None) -> None:
        """Update the counts of the current phase."""
        self._counts[what] = (done, total)
        self._draw(force=total is not None and done >= total)

    def tick(self, what: str) -> None:
        """Count one more `what`."""
        done, total = self._counts.get(what, (0, None))
        self.count(what, done + 1, total)

    def clear(self) -> None:
        """Erase the live line."""
        if self.live and self._drawn:
            self.stream.write("\r" + " " * self._drawn + "\r")
            self.stream.flush()
            self._drawn = 0

    def close(self) -> None:
        """End the last phase and erase the live line."""
        self._end_phase()
        self.clear()
        self.phase_text = ""

    def line(self) -> str:
        """The text of the live line: the phase and its counts."""
        counts = ", ".join(
            f"{what} {done}/{total}" if total else f"{what} {done}" for what, (done, total) in self._counts.items()
        )
        return f"{self.phase_text}: {counts}" if counts else self.phase_text

    def _end_phase(self) -> None:
        if self.verbose and self.phase_text:
            self.clear()
            elapsed = time.monotonic() - self._started
            self.stream.write(f"{self._styled(self.line())} ({elapsed:.1f}s)\n")
            self.stream.flush()

    def _draw(self, *, force: bool) -> None:
        if not self.live or not self.phase_text:
            return
        now = time.monotonic()
        if not force and now - self._last_draw < _MIN_INTERVAL:
            return
        self._last_draw = now
        width = max(20, shutil.get_terminal_size((80, 24)).columns - 1)
        text = self.line()
        text = text if len(text) <= width else text[: width - 1] + "…"
        pad = " " * max(0, self._drawn - len(text))
        self.stream.write("\r" + self._styled(text) + pad)
        self.stream.flush()
        self._drawn = len(text)

    def _styled(self, text: str) -> str:
        return f"\x1b[2m{text}\x1b[0m" if self.color else text


_SILENT = Reporter()
_current: ContextVar[Reporter | None] = ContextVar("modeldoc_progress", default=None)


def current() -> Reporter:
    """The reporter in charge here (a silent one unless `reporting` installed another)."""
    return _current.get() or _SILENT


@contextmanager
def reporting(reporter: Reporter) -> Iterator[Reporter]:
    """Send the progress of the work inside the block to `reporter`; close it afterwards."""
    token = _current.set(reporter)
    try:
        yield reporter
    finally:
        reporter.close()
        _current.reset(token)


def phase(text: str) -> None:
    """Report that a phase of the work begins."""
    current().phase(text)


def count(what: str, done: int, total: int | None = None) -> None:
    """Report `done` of `total` items finished."""
    current().count(what, done, total)


def tick(what: str) -> None:
    """Report one more item of `what`."""
    current().tick(what)


def clear() -> None:
    """Clear the live line before other output goes to the same stream."""
    current().clear()


def use_color(stream: TextIO) -> bool:
    """Colour for `stream`: only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return is_terminal(stream) and not os.environ.get("NO_COLOR")


def is_terminal(stream: TextIO) -> bool:
    """True when `stream` is an interactive terminal."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _MkDocsPages(logging.Handler):
    """Turns MkDocs' per-page debug messages into page counts."""

    _STEPS = (("Reading: ", "pages read"), ("Building page ", "pages written"))

    def __init__(self, title: str, total: int | None) -> None:
        super().__init__(logging.DEBUG)
        self.title = title
        self.total = total
        self.done: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        for start, what in self._STEPS:
            if message.startswith(start):
                if current().phase_text != terminal_safe(self.title):
                    # A plugin (modeldoc's own) started phases of its own inside the build.
                    phase(self.title)
                    for other, done in self.done.items():
                        count(other, done, self.total)
                self.done[what] = self.done.get(what, 0) + 1
                count(what, self.done[what], self.total)


@contextmanager
def mkdocs_pages(title: str, total: int | None = None) -> Iterator[None]:
    """A phase `title` for a MkDocs build, counting the pages it reads and writes (when progress is shown)."""
    phase(title)
    reporter = current()
    if not isinstance(reporter, Terminal) or not (reporter.live or reporter.verbose):
        yield
        return
    logger = logging.getLogger("mkdocs.commands.build")
    handler = _MkDocsPages(title, total)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
