"""Progress: phases and counts on a terminal, nothing when piped, -q, -v and NO_COLOR.

The terminal cases run the real command in a pseudo-terminal; the unit cases drive the
reporter with a stream that says it is (or is not) a terminal.
"""

from __future__ import annotations

import io
import os
import pty
import subprocess
from pathlib import Path

import pytest

from modeldoc import progress
from tests.helpers.run import MODELDOC, run

FASHION = ["modeldoc.examples.fashion:Network", "--input-shape", "1,1,28,28"]


class FakeTerminal(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.notorch
def test_a_live_line_is_rewritten_in_place_and_erased_at_the_end():
    stream = FakeTerminal(tty=True)
    with progress.reporting(progress.Terminal(stream, live=True)):
        progress.phase("loading pkg:Net")
        progress.phase("rendering")
        progress.count("pages", 1, 2)
        progress.count("pages", 2, 2)  # the last count is always drawn
    text = stream.getvalue()
    assert text.startswith("\rloading pkg:Net")
    assert "\rrendering" in text
    assert "\rrendering: pages 2/2" in text
    assert "\n" not in text
    last = text.rsplit("\r", 2)
    assert last[-1] == "" and last[-2].strip() == ""  # erased: spaces over the line, back to its start
    assert "\x1b" not in text  # no colour unless asked


@pytest.mark.notorch
def test_counts_without_a_total_and_ticks():
    stream = FakeTerminal(tty=True)
    reporter = progress.Terminal(stream, live=True)
    with progress.reporting(reporter):
        progress.phase("rendering")
        progress.count("pages", 1, 3)
        for _ in range(5):
            progress.tick("diagrams")
        assert reporter.line() == "rendering: pages 1/3, diagrams 5"


@pytest.mark.notorch
def test_verbose_prints_each_phase_with_its_time_even_when_not_a_terminal():
    stream = FakeTerminal(tty=False)
    with progress.reporting(progress.Terminal(stream, live=False, verbose=True)):
        progress.phase("loading pkg:Net")
        progress.phase("rendering")
        progress.count("pages", 3, 3)
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(" (", 1)[0] for line in lines] == ["loading pkg:Net", "rendering: pages 3/3"]
    assert all(line.endswith("s)") for line in lines)
    assert "\r" not in stream.getvalue()


@pytest.mark.notorch
def test_colour_is_dim_text_only_when_asked():
    stream = FakeTerminal(tty=True)
    with progress.reporting(progress.Terminal(stream, live=True, color=True)):
        progress.phase("loading")
    assert "\x1b[2mloading\x1b[0m" in stream.getvalue()


@pytest.mark.notorch
def test_names_from_the_model_cannot_drive_the_terminal():
    stream = FakeTerminal(tty=True)
    with progress.reporting(progress.Terminal(stream, live=True)):
        progress.phase("loading \x1b]0;title\x07x.py:Net")
    assert "\x1b" not in stream.getvalue()
    assert r"\x1b]0;title\x07" in stream.getvalue()


@pytest.mark.notorch
def test_outside_reporting_nothing_is_said(capsys):
    progress.phase("loading")
    progress.count("pages", 1, 1)
    progress.tick("diagrams")
    assert capsys.readouterr() == ("", "")


@pytest.mark.notorch
@pytest.mark.parametrize(
    ("tty", "no_color", "expected"),
    [(True, None, True), (True, "1", False), (True, "", True), (False, None, False)],
)
def test_colour_needs_a_terminal_and_no_no_color(monkeypatch, tty, no_color, expected):
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert progress.use_color(FakeTerminal(tty=tty)) is expected


def in_terminal(args: list[str], cwd: Path, **env: str) -> tuple[int, str]:
    """Run modeldoc with stdout and stderr on a pseudo-terminal; its exit code and everything shown."""
    controller, terminal = pty.openpty()
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    process = subprocess.Popen(
        [str(MODELDOC), *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
        env={**environ, "COLUMNS": "200", **env},
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    return process.wait(timeout=300), b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_a_build_on_a_terminal_shows_its_phases_and_counts(tmp_path):
    code, shown = in_terminal(["build", *FASHION, "--out", "site"], tmp_path)
    assert code == 0, shown
    # Each redraw starts with a carriage return and pads over the longer line before it.
    screens = [s.rstrip(" ") for s in shown.replace("\x1b[2m", "").replace("\x1b[0m", "").split("\r")]
    assert "loading modeldoc.examples.fashion:Network" in screens
    assert "probing 6 modules: a forward pass on the meta device" in screens
    assert "explaining 6 layers" in screens
    assert "rendering: pages 1/1" in screens
    assert "MkDocs: building the site: pages read 2/2, pages written 2/2" in screens
    assert "\x1b[2m" in shown  # dim, on a terminal
    result = [s for s in screens if s.strip()][-1]  # the terminal turns the last newline into \r\n
    assert result.startswith(f"built 2 pages for 1 model(s) into {tmp_path / 'site'}")
    assert screens[screens.index(result) - 1] == ""  # the progress line was erased before the result


@pytest.mark.slow
def test_no_color_keeps_the_progress_and_drops_the_colour(tmp_path):
    code, shown = in_terminal(["build", *FASHION, "--out", "site"], tmp_path, NO_COLOR="1")
    assert code == 0, shown
    assert "\x1b" not in shown
    assert "\rloading modeldoc.examples.fashion:Network" in shown


@pytest.mark.slow
def test_quiet_on_a_terminal_says_nothing(tmp_path):
    code, shown = in_terminal(["build", *FASHION, "--out", "site", "-q"], tmp_path)
    assert code == 0, shown
    assert shown == ""
    assert (tmp_path / "site" / "index.html").is_file()


@pytest.mark.slow
def test_piped_output_has_no_progress(tmp_path):
    result = run("modeldoc", "build", *FASHION, "--out", "site", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith(f"built 2 pages for 1 model(s) into {tmp_path / 'site'} in ")
    assert result.stdout.count("\n") == 1


@pytest.mark.slow
def test_verbose_when_piped_prints_each_phase_with_its_time(tmp_path):
    result = run("modeldoc", "build", *FASHION, "--out", "site", "-v", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    phases = [line.rsplit(" (", 1)[0] for line in result.stderr.splitlines() if not line.startswith("INFO")]
    assert phases == [
        "importing torch",
        "loading modeldoc.examples.fashion:Network",
        "probing 6 modules: a forward pass on the meta device",
        "explaining 6 layers",
        "rendering: pages 1/1, diagrams 2",
        "MkDocs: building the site: pages read 2/2, pages written 2/2",
    ]
    assert "\x1b" not in result.stderr
