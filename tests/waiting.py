"""Waiting for something to happen, the one way the tests do it.

A test waits for a condition, never for a fixed time: the machines are shared
and slow now and then, so a sleep is either too short (a flaky failure) or too
long (a slow suite). The timeout only bounds how long a broken feature takes to
show; it is not a claim about speed.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], object], timeout: float = 15.0,
               interval: float = 0.05, what: str = "condition") -> None:
    """Return once `check()` is true; fail the test if it is not within `timeout`."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout:g} s")
        time.sleep(interval)
