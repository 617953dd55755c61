"""How fast end-of-message is answered: the figure the MTA feels.

Every answer's duration goes into a bounded window; the daemon logs the
percentiles when it stops, so a postmaster can see that slow pipes or
disks never reached the MTA. Each also counts in a histogram's buckets,
which the metrics (`--metrics-listen`) serve.
"""

from __future__ import annotations

import bisect
import threading
from collections import deque

# Upper bounds of the histogram's buckets, in seconds: an answer takes well under a
# millisecond when only logs are written, a few when a copy is fsync'd to the spool.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
           10.0)


class AnswerTimes:
    def __init__(self, window: int = 100_000) -> None:
        self._times: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()
        self.count = 0
        self._buckets = [0] * (len(BUCKETS) + 1)  # the last: above every bound
        self._sum = 0.0

    def add(self, seconds: float) -> None:
        with self._lock:
            self._times.append(seconds)
            self.count += 1
            self._buckets[bisect.bisect_left(BUCKETS, seconds)] += 1
            self._sum += seconds

    def histogram(self) -> tuple[list[tuple[float, int]], float]:
        """Cumulative counts per upper bound (the last `inf`), and the sum of every
        answer's seconds, since start."""
        with self._lock:
            counts, total = list(self._buckets), self._sum
        cumulative, running = [], 0
        for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
            running += count
            cumulative.append((bound, running))
        return cumulative, total

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
