"""Every sink of the daemon (its log files, above all), one per target.

Log actions write through sinks that the daemon opens when rules are loaded
and shares between every connection: two rules logging to the same file
write through one LogFile, so their records never interleave. SIGUSR1
reopens them all (after logrotate renamed the files).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from mailspy.actions.action import Sink
from mailspy.actions.logfile import LogFile

__all__ = ["Sinks"]

Opener = Callable[[str], Sink]


class Sinks:
    """Sinks by (how they are opened, target), opened on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[tuple[Opener, str], Sink] = {}

    def get(self, target: str, opener: Opener = LogFile) -> Sink:
        """The sink for the target, opened on first use; OSError when it cannot be."""
        key = (opener, target)
        found = self._sinks.get(key)  # the hot path: no lock
        if found is not None:
            return found
        with self._lock:
            sink = self._sinks.get(key)
            if sink is None:
                sink = self._sinks[key] = opener(target)
            return sink

    def reopen_all(self) -> list[tuple[str, OSError]]:
        """Reopen every sink (SIGUSR1); returns the failures, one per target.

        A failure for one does not stop the others from being reopened; a sink
        that fails keeps writing where it wrote before.
        """
        failures: list[tuple[str, OSError]] = []
        for sink in self._snapshot():
            try:
                sink.reopen()
            except OSError as exc:
                failures.append((sink.path, exc))
        return failures

    def close_all(self) -> None:
        """Close every sink and forget them (shutdown)."""
        with self._lock:
            sinks, self._sinks = list(self._sinks.values()), {}
        for sink in sinks:
            sink.close()

    def paths(self) -> list[str]:
        return [sink.path for sink in self._snapshot()]

    def _snapshot(self) -> list[Sink]:
        with self._lock:
            return list(self._sinks.values())
