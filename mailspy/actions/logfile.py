"""Append-only log files shared by every connection thread.

Each record is written with one `os.write` on an `O_APPEND` descriptor while
holding the file's lock, so records from concurrent connections never
interleave, and other processes appending to the same file (an old daemon
still draining, say) cannot split a record either.

A record is written whole or not at all: when the disk fills up halfway
through one, what was written of it is cut off again, so the log never
holds a partial line that the next record would be glued to. If even that
fails, the next record starts on a fresh line. Records that could not be
written are counted; the writer says when such an episode starts and ends.

Files are opened through `safefs`: never through a symbolic link, never a
FIFO or a device, never in a directory another user can write. Missing
directories are NOT created: a log path comes from a rules file, and a typo
there (`/var/lgo/mailspy`) should be reported, not turned into a new
directory tree. Log directories are created, with the right owner, by
whoever installs mailspy.
"""

from __future__ import annotations

import errno
import os
import threading

from mailspy import safefs
from mailspy.privileges import user_name

__all__ = ["LogFile", "LogFileClosedError", "RecordLostError", "log_problem"]

_MODE = 0o600


class LogFileClosedError(ValueError):
    """A write to a LogFile after close()."""


class RecordLostError(OSError):
    """A record that could not be written; `first` when it starts an episode."""

    def __init__(self, path: str, cause: OSError, first: bool) -> None:
        super().__init__(cause.errno, cause.strerror, path)
        self.first = first


def _open(path: str) -> int:
    """Open for appending; a missing directory gets an error that says so."""
    try:
        return safefs.open_append(path, _MODE)
    except FileNotFoundError as exc:
        parent = os.path.dirname(path) or "."
        raise FileNotFoundError(
            errno.ENOENT, f"log directory {parent} does not exist", path
        ) from exc


def log_problem(path: str) -> str | None:
    """Why the user mailspy runs as (the caller) could not create or open this log,
    or None; checked when rules load, before any message needs the log."""
    try:
        os.stat(path)
    except FileNotFoundError:
        parent = os.path.dirname(path) or "/"
        if not os.path.isdir(parent):
            return (f"log directory {parent} does not exist; create it: "
                    f"install -d -o {user_name()} -m 0750 {parent}")
        if not os.access(parent, os.W_OK | os.X_OK):
            return (f"user {user_name()} cannot create {path}: it may not write in {parent}; "
                    f"create the file for it: install -o {user_name()} -m 0600 /dev/null {path}")
        return None
    except OSError as exc:
        return f"cannot reach {path} as user {user_name()}: {exc.strerror}"
    if not os.access(path, os.W_OK):
        return f"user {user_name()} may not write {path}; run: chown {user_name()} {path}"
    return None


def _write_all(fd: int, data: bytes) -> None:
    """One write for the whole record; loop only if the kernel writes less.

    An OSError says in `.written` how much of the record went out before it."""
    view, done = memoryview(data), 0
    while done < len(data):
        try:
            done += os.write(fd, view[done:])
        except OSError as exc:
            exc.written = done  # type: ignore[attr-defined]
            raise


class LogFile:
    """One append-only log file; safe to share between threads."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._lock = threading.Lock()
        self._fd: int | None = _open(self.path)
        self._torn = False  # a partial record is at the end of the file
        self.failing = False  # the last write failed
        self.lost = 0  # records not written, ever
        self._lost_in_episode = 0  # `lost` when the current episode began

    def write(self, record: str | bytes) -> int:
        """Append one record in a single write, whole or not at all.

        Text is encoded as UTF-8; a lone surrogate becomes `\\udcXX` rather
        than raising (callers pass `clean()`ed text, which has none).
        Returns how many records were lost before this one, when it ends an
        episode of failures (0 otherwise); RecordLostError says this one was
        lost, and whether it is the first of an episode.
        """
        if isinstance(record, str):
            record = record.encode("utf-8", "backslashreplace")
        with self._lock:
            if self._fd is None:
                raise LogFileClosedError(f"log file {self.path} is closed")
            if self._torn:
                record = b"\n" + record
            try:
                _write_all(self._fd, record)
            except OSError as exc:
                written = getattr(exc, "written", 0)
                self._torn = written > 0 and not self._roll_back(written)
                self.lost += 1
                first, self.failing = not self.failing, True
                raise RecordLostError(self.path, exc, first) from exc
            self._torn = False
            if not self.failing:
                return 0
            self.failing = False
            ended, self._lost_in_episode = self.lost - self._lost_in_episode, self.lost
            return ended

    def _roll_back(self, written: int) -> bool:
        """Cut off the part of a record that was written; False if that failed."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, max(0, os.fstat(self._fd).st_size - written))
        except OSError:
            return False
        return True

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
