"""Run one job per model in worker processes: a time limit per job, a memory limit per worker.

The parent starts a worker (``python SCRIPT --worker``) under an address-space limit
(``RLIMIT_AS``), waits until it has imported what it needs, then sends it one job at a time as a
JSON line on its stdin and reads one JSON line back. A job that runs past the time limit gets its
worker killed; a worker that dies (a segfault, an abort, the kernel's OOM killer) ends its job as a
crash with the reason. Either way the next job runs in a fresh worker, so one model cannot stop
the run. A worker is also replaced after `Limits.batch` jobs, so what one model leaves behind in
memory does not weigh on the next batch.

Inside the worker, everything a model prints goes to stderr (kept in a temporary file whose last
lines explain a crash); stdout carries only the protocol. Each result gets the job's wall time and
the worker's peak resident memory during that job (``VmHWM``, reset before each job).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent

Job = dict[str, Any]
Result = dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """How long one job may run, how much memory a worker may map, and how many jobs a worker runs."""

    timeout: float = 60.0
    memory_gb: float = 6.0
    batch: int = 25
    startup: float = 300.0
    """Seconds a fresh worker may take to import torch and the model libraries."""


# --------------------------------------------------------------------------- worker side


def serve(handler: Callable[[Job], Result]) -> None:
    """The worker's loop: read a job per line on stdin, write `handler`'s result per line on the protocol fd."""
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    # Whatever a model or library prints from now on goes to stderr, never into the protocol.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    protocol.write(json.dumps({"ready": True}) + "\n")
    protocol.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        _reset_peak()
        start = time.perf_counter()
        try:
            result = handler(job)
        except Exception as err:  # a bug in the harness itself: reported on the row, the run goes on
            result = {"harness_error": f"{type(err).__name__}: {_first_line(err)}"}
        result = {"name": job["name"], **result}
        result["time_s"] = round(time.perf_counter() - start, 3)
        result["peak_rss_mb"] = _peak_rss_mb()
        protocol.write(json.dumps(result, default=str) + "\n")
        protocol.flush()


def _reset_peak() -> None:
    """Reset the kernel's peak-RSS counter (``VmHWM``) of this process (Linux 4.0+)."""
    with contextlib.suppress(OSError), Path("/proc/self/clear_refs").open("w") as f:
        f.write("5")


def _peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


# --------------------------------------------------------------------------- parent side


@dataclass
class _Worker:
    """One worker process and the job it is running."""

    process: subprocess.Popen[bytes]
    log: IO[bytes]
    ready: bool = False
    job: Job | None = None
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    buffer: bytes = b""

    def send(self, job: Job) -> None:
        assert self.process.stdin is not None
        self.job = job
        self.started = time.monotonic()
        self.process.stdin.write((json.dumps(job) + "\n").encode())
        self.process.stdin.flush()

    def stop(self) -> None:
        """Kill the worker's process group (it runs in a session of its own) and reap it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        self.log.close()

    def tail(self, lines: int = 6) -> str:
        """The last lines the worker wrote to stderr."""
        self.log.flush()
        with Path(self.log.name).open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            text = f.read().decode("utf-8", "replace")
        return "\n".join(text.strip().splitlines()[-lines:])


def _start(command: list[str], limits: Limits) -> _Worker:
    limit = int(limits.memory_gb * 2**30)

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    log = tempfile.NamedTemporaryFile(prefix="zoo-worker-", suffix=".log", delete=True)  # noqa: SIM115
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=log,
        preexec_fn=cap,  # noqa: PLW1509 - setrlimit must run in the child before exec
        start_new_session=True,
        cwd=ROOT,
        env=env,
    )
    return _Worker(process=process, log=log)


def death_reason(returncode: int | None) -> str:
    """Why a worker ended, in words: the signal that killed it or its exit code."""
    if returncode is None:
        return "still running"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        why = {
            "SIGKILL": "killed (SIGKILL: the kernel's OOM killer, or the time limit)",
            "SIGSEGV": "segmentation fault (SIGSEGV)",
            "SIGABRT": "aborted (SIGABRT, often a failed allocation under the memory limit)",
            "SIGBUS": "bus error (SIGBUS)",
        }
        return why.get(name, f"killed by {name}")
    return f"exited with code {returncode}"


def run(
    jobs: Iterable[Job],
    command: list[str],
    limits: Limits,
    on_result: Callable[[Result], None],
    *,
    workers: int = 1,
) -> None:
    """Run every job in `workers` worker processes started with `command`; call `on_result` for each result."""
    pool = _Pool(command, limits, on_result, workers)
    try:
        pool.drive(deque(jobs))
    finally:
        pool.close()


class _Pool:
    """The parent's side: workers started, fed, watched, killed and replaced."""

    def __init__(self, command: list[str], limits: Limits, on_result: Callable[[Result], None], size: int) -> None:
        self.command = command
        self.limits = limits
        self.on_result = on_result
        self.size = size
        self.workers: list[_Worker] = []
        self.selector = selectors.DefaultSelector()

    def drive(self, pending: deque[Job]) -> None:
        while pending or self._busy():
            while len(self.workers) < min(self.size, len(pending) + self._busy()):
                self._add()
            self._feed(pending)
            self._wait()
            for worker in list(self.workers):
                self._check(worker)

    def close(self) -> None:
        for worker in list(self.workers):
            self._drop(worker)

    def _busy(self) -> int:
        return sum(w.job is not None for w in self.workers)

    def _add(self) -> None:
        worker = _start(self.command, self.limits)
        assert worker.process.stdout is not None
        os.set_blocking(worker.process.stdout.fileno(), False)
        self.selector.register(worker.process.stdout, selectors.EVENT_READ, worker)
        self.workers.append(worker)

    def _drop(self, worker: _Worker) -> None:
        assert worker.process.stdout is not None
        self.selector.unregister(worker.process.stdout)
        worker.stop()
        self.workers.remove(worker)

    def _feed(self, pending: deque[Job]) -> None:
        for worker in list(self.workers):
            if worker.ready and worker.job is None and pending:
                if worker.done >= self.limits.batch:  # a fresh worker for the next batch
                    self._drop(worker)
                    self._add()
                    continue
                worker.send(pending.popleft())

    def _wait(self) -> None:
        now = time.monotonic()
        deadlines = [
            w.started + (self.limits.timeout if w.ready else self.limits.startup)
            for w in self.workers
            if w.job is not None or not w.ready  # an idle worker has no deadline
        ]
        wait = max(0.0, min(deadlines, default=now + 1.0) - now)
        for key, _ in self.selector.select(timeout=min(wait, 5.0)):
            _read(key.data, self.on_result)

    def _check(self, worker: _Worker) -> None:
        """End a worker that died, timed out or never started; a job it was running becomes a crash row."""
        now = time.monotonic()
        if worker.process.poll() is not None and not _has_data(worker):
            reason = death_reason(worker.process.returncode)
            if worker.job is None and not worker.ready:
                tail = worker.tail()
                self._drop(worker)
                raise RuntimeError(f"a worker could not start ({reason}):\n{tail}")
            if worker.job is not None:
                self._crash(worker, reason)
            self._drop(worker)
        elif worker.job is not None and now - worker.started > self.limits.timeout:
            self._crash(worker, f"timed out after {self.limits.timeout:.0f} s")
            self._drop(worker)
        elif not worker.ready and now - worker.started > self.limits.startup:
            tail = worker.tail()
            self._drop(worker)
            raise RuntimeError(f"a worker did not start within {self.limits.startup:.0f} s:\n{tail}")

    def _crash(self, worker: _Worker, reason: str) -> None:
        assert worker.job is not None
        self.on_result(
            {
                "name": worker.job["name"],
                "killed": reason,
                "stderr_tail": worker.tail(),
                "time_s": round(time.monotonic() - worker.started, 3),
            }
        )
        worker.job = None


def _has_data(worker: _Worker) -> bool:
    """Read whatever a finished worker still had in its pipe; True when a result line came out of it."""
    assert worker.process.stdout is not None
    try:
        chunk = worker.process.stdout.read()
    except (OSError, ValueError):
        return False
    if chunk:
        worker.buffer += chunk
    return b"\n" in worker.buffer


def _read(worker: _Worker, on_result: Callable[[Result], None]) -> None:
    assert worker.process.stdout is not None
    with contextlib.suppress(BlockingIOError):
        chunk = worker.process.stdout.read()
        if chunk:
            worker.buffer += chunk
    while b"\n" in worker.buffer:
        line, worker.buffer = worker.buffer.split(b"\n", 1)
        message = json.loads(line)
        if message.get("ready"):
            worker.ready = True
            worker.started = time.monotonic()
            continue
        worker.job = None
        worker.done += 1
        on_result(message)
