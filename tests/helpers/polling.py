"""Poll cycles in the test's own process, as the worker's poll task runs them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from controlpanel import tasks
from controlpanel.models import Run
from controlpanel.services import tracking


def poll_until(profile: Any, done: Callable[[], bool], timeout: float = 240) -> list[Any]:
    """Poll like the worker would, every second, until ``done()``; returns the cycles."""
    cycles = []
    deadline = time.monotonic() + timeout
    while True:
        cycles.append(poll_once(profile))
        assert not cycles[-1].error, cycles[-1].error
        if done():
            return cycles
        if time.monotonic() > deadline:
            pytest.fail(f"not done after {timeout} s: {cycles[-1]}")
        time.sleep(1)


def poll_once(profile: Any) -> tracking.PollCycle:
    """One cycle as the worker's task runs it: the notifications it wrote are queued after."""
    cycle = tracking.poll_profile(profile)
    tasks.send_after_commit(cycle.deliveries)
    return cycle


def finished(*runs: Run) -> Callable[[], bool]:
    return lambda: all(Run.objects.get(pk=r.pk).is_finished for r in runs)
