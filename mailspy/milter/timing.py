"""How fast end-of-message is answered: the figure the MTA feels.

Every answer's duration goes into a bounded window; the daemon logs the
percentiles when it stops, so a postmaster can see that slow pipes or
disks never reached the MTA.
"""

from __future__ import annotations

import threading
from collections import deque


class AnswerTimes:
    def __init__(self, window: int = 100_000) -> None:
        self._times: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()
        self.count = 0

    def add(self, seconds: float) -> None:
        with self._lock:
            self._times.append(seconds)
            self.count += 1

    def percentiles(self) -> dict[str, float]:
        """p50, p99 and max in milliseconds over the window (empty when none)."""
        with self._lock:
            ordered = sorted(self._times)
        if not ordered:
            return {}

        def at(q: float) -> float:
            return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

        return {"p50": at(0.50), "p99": at(0.99), "max": ordered[-1] * 1000}

    def summary(self) -> str:
        figures = self.percentiles()
        if not figures:
            return "end-of-message answered 0 times"
        return (f"end-of-message answered {self.count} times: p50 {figures['p50']:.2f} ms, "
                f"p99 {figures['p99']:.2f} ms, max {figures['max']:.2f} ms")
