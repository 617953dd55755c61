"""Append-only log files shared by every connection thread.

Each record is written with one `os.write` on an `O_APPEND` descriptor while
holding the file's lock, so records from concurrent connections never
interleave, and other processes appending to the same file (an old daemon
still draining, say) cannot split a record either.

Missing directories are NOT created: a log path comes from a rules file, and
a typo there (`/var/lgo/mailspy`) should be reported, not turned into a new
directory tree by a daemon that may be running as root. Log directories are
created, with the right owner, by whoever installs mailspy.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

__all__ = ["LogFile", "LogFileClosedError", "LogFiles"]

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
_MODE = 0o640


class LogFileClosedError(ValueError):
    """A write to a LogFile after close()."""


def _open(path: str) -> int:
    """Open for appending; a missing directory gets an error that says so."""
    try:
        return os.open(path, _FLAGS, _MODE)
    except FileNotFoundError as exc:
        parent = os.path.dirname(path) or "."
        if not os.path.isdir(parent):
            raise FileNotFoundError(
                errno.ENOENT, f"log directory {parent} does not exist", path
            ) from exc
        raise


def _write_all(fd: int, data: bytes) -> None:
    """One write for the whole record; loop only if the kernel writes less."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class LogFile:
    """One append-only log file; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._fd: int | None = _open(self.path)

    def write(self, record: str | bytes) -> None:
        """Append one record in a single write.

        Text is encoded as UTF-8; a lone surrogate becomes `\\udcXX` rather
        than raising (callers pass `clean()`ed text, which has none).
        """
        if isinstance(record, str):
            record = record.encode("utf-8", "backslashreplace")
        with self._lock:
            if self._fd is None:
                raise LogFileClosedError(f"log file {self.path} is closed")
            _write_all(self._fd, record)

    def reopen(self) -> None:
        """Start writing to whatever file is now at the path (logrotate).

        The new file is opened first: if that fails, the old descriptor is
        kept, so records still land somewhere, and the error is raised.
        """
        new_fd = _open(self.path)
        with self._lock:
            old_fd, self._fd = self._fd, new_fd
        if old_fd is not None:
            os.close(old_fd)

    def close(self) -> None:
        """Close the file; later writes raise LogFileClosedError."""
        with self._lock:
            old_fd, self._fd = self._fd, None
        if old_fd is not None:
            os.close(old_fd)

    @property
    def closed(self) -> bool:
        return self._fd is None

    def __repr__(self) -> str:
        return f"LogFile({self.path!r}{', closed' if self.closed else ''})"


class LogFiles:
    """Every LogFile in the daemon, one per path, so actions share them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._files: dict[str, LogFile] = {}

    def get(self, path: str | os.PathLike[str]) -> LogFile:
        """The LogFile for the path, opened on first use."""
        found = self._files.get(path)  # the hot path: asked as it was stored
        if found is not None and not found.closed:
            return found
        key = os.path.normpath(os.path.abspath(path))
        with self._lock:
            logfile = self._files.get(key)
            if logfile is None or logfile.closed:
                logfile = self._files[key] = LogFile(key)
            return logfile

    def reopen_all(self) -> list[tuple[str, OSError]]:
        """Reopen every file (SIGUSR1); returns the failures, one per path.

        A failure for one path does not stop the others from being reopened.
        """
        failures: list[tuple[str, OSError]] = []
        for logfile in self._snapshot():
            try:
                logfile.reopen()
            except OSError as exc:
                failures.append((logfile.path, exc))
        return failures

    def close_all(self) -> None:
        """Close every file and forget them (shutdown)."""
        with self._lock:
            files, self._files = list(self._files.values()), {}
        for logfile in files:
            logfile.close()

    def paths(self) -> list[Path]:
        return [Path(f.path) for f in self._snapshot()]

    def _snapshot(self) -> list[LogFile]:
        with self._lock:
            return list(self._files.values())
