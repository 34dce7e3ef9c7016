"""modeldoc.probe.deadline: the time budget of the user's forward pass, enforced only while armed."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from modeldoc.probe.deadline import Budget, ProbeTimeout


def test_no_limit_never_expires_and_never_raises() -> None:
    budget = Budget(0)
    assert not budget.expired
    with budget.armed():
        budget.check()
    assert budget.end == float("inf")


def test_a_spent_budget_raises_only_while_armed() -> None:
    budget = Budget(1e-6)
    time.sleep(0.01)
    assert budget.expired
    budget.check()  # not armed: the restoring code is never interrupted
    with pytest.raises(ProbeTimeout), budget.armed():
        pass


def _spin(seconds: float = 30) -> None:
    """A pure-Python loop, as a model's forward may run; bounded so that a regression fails instead of hanging."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_an_endless_loop_in_the_main_thread_is_stopped_and_the_alarm_handler_restored() -> None:
    before = signal.getsignal(signal.SIGALRM)
    budget = Budget(0.2)
    with pytest.raises(ProbeTimeout), budget.armed():
        _spin()
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_an_endless_loop_in_another_thread_is_stopped_by_the_watchdog() -> None:
    caught: list[BaseException] = []

    def spin() -> None:
        try:
            with Budget(0.2).armed():
                _spin()
        except ProbeTimeout as err:
            caught.append(err)

    worker = threading.Thread(target=spin, daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert [type(e) for e in caught] == [ProbeTimeout]


def test_probe_timeout_is_not_swallowed_by_except_exception() -> None:
    assert not issubclass(ProbeTimeout, Exception)
