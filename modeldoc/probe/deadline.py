"""A time limit on the user's forward pass, enforced inside the process.

All passes of one probe share one `Budget`. While the user's code runs (inside `Budget.armed`),
the limit is enforced three ways, so that a forward that sleeps, waits or loops forever ends:

- the probe's hooks (every torch call, every module call) call `Budget.check`;
- in the main thread, a ``SIGALRM`` timer raises `ProbeTimeout` at the deadline, which also
  interrupts ``time.sleep`` and a pure-Python ``while True: pass``;
- in any other thread (MkDocs may build from one), a watchdog thread raises `ProbeTimeout` in
  the probing thread with ``PyThreadState_SetAsyncExc``; that interrupts Python loops, but a
  blocking call such as ``time.sleep`` only when it returns.

`ProbeTimeout` derives from ``BaseException`` so that a model's ``except Exception:`` does not
swallow it. It is raised only while armed: once the user's code has returned, a late alarm is
ignored, so the code that restores the model is never interrupted.
"""

from __future__ import annotations

import ctypes
import math
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class ProbeTimeout(BaseException):
    """The probe's time ran out while the user's forward pass was running."""


class Budget:
    """The time all passes of one probe may spend in the user's code; ``seconds <= 0`` means no limit."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds if seconds > 0 else math.inf
        self._armed = False
        self._lock = threading.Lock()

    @property
    def expired(self) -> bool:
        """True once the time is up."""
        return time.monotonic() >= self.end

    def check(self) -> None:
        """Raise `ProbeTimeout` when the time is up and the user's code is running."""
        if self._armed and time.monotonic() >= self.end:
            raise ProbeTimeout

    @contextmanager
    def armed(self) -> Iterator[None]:
        """Run the user's code inside this block; it is stopped with `ProbeTimeout` at the deadline."""
        if self.end == math.inf:
            yield
            return
        if self.expired:
            raise ProbeTimeout
        in_main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
        with self._alarm() if in_main else self._watchdog():
            yield

    @contextmanager
    def _alarm(self) -> Iterator[None]:
        """A one-shot ``SIGALRM`` at the deadline; the previous handler and timer are put back."""

        def on_alarm(signum: int, frame: FrameType | None) -> None:
            if self._armed:
                raise ProbeTimeout

        previous = signal.signal(signal.SIGALRM, on_alarm)
        if previous is None:  # a handler installed from C: the default is the closest we can restore
            previous = signal.SIG_DFL
        started = time.monotonic()
        old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, max(self.end - started, 1e-3))
        self._armed = True
        try:
            yield
        finally:
            self._armed = False
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
            if old_delay > 0:  # someone else's timer was running: give it the time it had left
                left = old_delay - (time.monotonic() - started)
                signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), old_interval)

    @contextmanager
    def _watchdog(self) -> Iterator[None]:
        """A thread that raises `ProbeTimeout` in this thread at the deadline, at most once."""
        target = threading.get_ident()
        done = threading.Event()

        def watch() -> None:
            if done.wait(max(self.end - time.monotonic(), 0)):
                return
            with self._lock:
                if self._armed:
                    _raise_in(target, ProbeTimeout)

        watcher = threading.Thread(target=watch, name="modeldoc-probe-timeout", daemon=True)
        self._armed = True
        watcher.start()
        try:
            yield
        finally:
            self._armed = False
            done.set()
            with self._lock:
                _raise_in(target, None)  # drop an exception sent but not yet raised
            watcher.join()


def _raise_in(thread_id: int, exception: type[BaseException] | None) -> None:
    """Raise `exception` in the thread `thread_id` at its next bytecode; None cancels a pending one."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(exception) if exception is not None else None
    )


__all__ = ["Budget", "ProbeTimeout"]
