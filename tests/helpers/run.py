"""Running modeldoc as a user does: the command in-process or as a subprocess, and the live servers.

`invoke` runs the click command in this process (fast, and monkeypatch reaches it); `run` starts
the real console scripts of this environment (``modeldoc``, ``mkdocs``, ``zensical``) or Python
itself, for what only a real process shows: imports, signals, file descriptors, exit codes.
`Server` is a real ``mkdocs serve`` or ``modeldoc serve`` on a free port.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from click.testing import CliRunner, Result

from modeldoc.cli import main
from tests.helpers.specs import check_description

MODELDOC = Path(sys.executable).with_name("modeldoc")
"""The installed ``modeldoc`` console script of this environment."""


def invoke(*args: str) -> Result:
    """Run ``modeldoc ARGS`` in-process; click's Result (exit_code, stdout, stderr, output)."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def inspect_json(*args: str) -> dict[str, Any]:
    """What ``modeldoc inspect ARGS --json`` printed, checked against the modeldoc/1 schema and read back."""
    result = invoke("inspect", *args, "--json")
    assert result.exit_code == 0, result.output
    return check_description(json.loads(result.stdout))


def the_error(stderr: str) -> str:
    """The one line a failed run printed, without its "Error: " prefix (and no traceback, no escapes)."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    assert "Traceback" not in stderr
    assert "\x1b" not in stderr
    return lines[0].removeprefix("Error: ")


def program(name: str) -> str:
    """The path of `name` (``modeldoc``, ``mkdocs``, ``zensical`` or ``python``) in this environment."""
    if name == "python":
        return sys.executable
    path = Path(sys.executable).with_name(name)
    assert path.exists(), f"{name} is not installed in this environment; run `make setup`"
    return str(path)


def run(
    name: str, *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the program `name` of this environment (see `program`) with `args` in `cwd`, its output captured.

    `env` adds to the environment. Material's notice about MkDocs 2 is switched off: it is not
    modeldoc's output, and it would fill the stderr the tests read.
    """
    environ = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})}
    return subprocess.run(
        [program(name), *args], cwd=cwd, env=environ, capture_output=True, text=True, check=False, timeout=timeout
    )


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    """Python running `code` in a fresh process, which must succeed; its output captured."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)


# --------------------------------------------------------------------------- live servers


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> str:
    """The body of `url`."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode("utf-8")


class Server:
    """A real ``mkdocs serve`` or ``modeldoc serve`` (`name`) on a free port, and the lines it logs.

    Use it as a context manager: the process is stopped at the end, whatever happened.
    """

    def __init__(self, name: str, *args: str, cwd: Path, env: dict[str, str] | None = None) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/"
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", name, "serve", *args, "--dev-addr", f"127.0.0.1:{port}"],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env={**os.environ, **env} if env else None,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip())

    def get(self, path: str = "") -> str:
        """The body of the served page at `path` (relative to the site's root)."""
        return get(self.url + path)

    def builds(self) -> int:
        """How many builds the server has started."""
        return sum("Building documentation" in line for line in self.lines)

    def wait_for(self, text: str, timeout: float = 60) -> None:
        """Wait until a logged line holds `text`; fail with the log if it does not come, or the server ends."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; output:\n" + "\n".join(self.lines))

    def wait_until(self, condition: Callable[[], bool], timeout: float = 60) -> None:
        """Wait until `condition()` holds; fail with the server's log if it does not within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise AssertionError("timed out; server output:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s) and close its output."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._reader.join(timeout=5)
        assert self.process.stdout is not None
        self.process.stdout.close()
