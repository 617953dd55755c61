"""The spool directory: entries staged in tmp/, owed in queue/, given up in dead/.

An entry appears in queue/ by renaming a file that was fsync'd, and the
rename itself is fsync'd: once `enqueue` returns, the copy survives a crash
or a `kill -9`, and only then is the MTA answered.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path

from mailspy import safefs
from mailspy.message.model import Message
from mailspy.spool.entry import (
    DEAD,
    DONE,
    PENDING,
    Job,
    Meta,
    create,
    fsync_dir,
    open_message,
    read_meta,
    state_path,
    write_durably,
    write_entry,
    write_state,
)

QUEUE, DEAD_DIR, TMP = "queue", "dead", "tmp"
REASON = ".reason"  # beside an entry given up as a whole: why
CHUNK = 1024 * 1024
_sequence = itertools.count(1)


class SpoolBusyError(RuntimeError):
    """Another process holds the spool or the entry."""


class Spool:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._lock_fd: int | None = None
        self._owner: tuple[int, int] | None = None  # the -u user, while still root

    # -- the directory -------------------------------------------------------

    def create(self, owner: tuple[int, int] | None = None) -> None:
        """Make the spool and its subdirectories (0700), handed to `owner` by
        descriptor: a symbolic link planted in place of one is refused, never
        followed, even when root runs this before dropping privileges."""
        self._owner = owner
        safefs.make_dirs(str(self.root), 0o700, owner, user=owner)
        with safefs.open_dir_path(str(self.root), user=owner) as root_fd:
            for sub in (TMP, QUEUE, DEAD_DIR):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(sub, 0o700, dir_fd=root_fd)
                if owner is not None:
                    os.chown(sub, *owner, dir_fd=root_fd, follow_symlinks=False)
                with safefs.open_dir_path(f"{self.root}/{sub}", user=owner):
                    pass  # a real directory of a trusted owner, or an error
            if owner is not None:
                os.chown(".", *owner, dir_fd=root_fd)

    def lock(self) -> None:
        """One daemon per spool: a second one would deliver every copy twice."""
        with safefs.open_dir_path(str(self.root), user=self._owner) as root_fd:
            fd = os.open(".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
                         dir_fd=root_fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolBusyError(f"another mailspy is using the spool {self.root}") from None
        self._lock_fd = fd

    def clean_tmp(self) -> int:
        """Entries staged but never acknowledged (a crash mid-enqueue) are removed,
        and state files whose entry is gone (a crash mid-move or mid-drop)."""
        removed = 0
        for path in (self.root / TMP).iterdir():
            path.unlink(missing_ok=True)
            removed += 1
        for where in (QUEUE, DEAD_DIR):
            for pattern, mark in (("*.state*", ".state"), (f"*{REASON}", REASON)):
                for path in (self.root / where).glob(pattern):
                    entry = path.name.split(mark, 1)[0]
                    if not (self.root / where / entry).exists():
                        path.unlink(missing_ok=True)
        return removed

    def ids(self, where: str = QUEUE) -> list[str]:
        """Entry ids, oldest first (ids sort by creation time)."""
        try:
            names = os.listdir(self.root / where)
        except FileNotFoundError:
            return []
        return sorted(n for n in names if "." in n and not n.endswith((".state", ".new", REASON)))

    def summary(self) -> dict[str, float]:
        """How many entries wait and how many were given up, and the oldest's age in
        seconds (0 when none wait); entry ids begin with their creation time."""
        queued = self.ids(QUEUE)
        oldest = time.time() - int(queued[0].split(".", 1)[0]) / 1e9 if queued else 0.0
        return {"queued": len(queued), "dead": len(self.ids(DEAD_DIR)), "oldest": oldest}

    def path(self, entry_id: str, where: str = QUEUE) -> Path:
        return self.root / where / entry_id

    # -- writing an entry ----------------------------------------------------

    def enqueue(self, message: Message, jobs: list[Job]) -> str:
        """Spool the message with the copies it owes; durable once this returns."""
        entry_id = f"{time.time_ns():020d}.{os.getpid()}.{next(_sequence)}"
        staging = self.root / TMP / entry_id
        meta = Meta(entry_id, time.time(), message.received_at, message.body_size,
                    message.envelope, jobs)
        try:
            with create(staging) as out:
                write_entry(out, meta, message, CHUNK)
                out.flush()
                os.fsync(out.fileno())
            os.rename(staging, self.path(entry_id))
            fsync_dir(self.root / QUEUE)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise
        return entry_id

    # -- working on an entry -------------------------------------------------

    @contextlib.contextmanager
    def locked(self, entry_id: str, where: str = QUEUE, wait: bool = True) -> Iterator[bool]:
        """Lock an entry against every other worker and command; False when it is
        gone (settled or dropped meanwhile)."""
        try:
            fd = os.open(self.path(entry_id, where), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield False
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise SpoolBusyError(f"entry {entry_id} is being worked on") from None
            yield self.path(entry_id, where).exists()
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def hold(self, entry_id: str, where: str = QUEUE, wait: bool = True) -> Iterator[Meta | None]:
        """Lock an entry and load it; None when it is gone (dropped meanwhile).
        An entry that cannot be read raises UnreadableEntryError."""
        with self.locked(entry_id, where, wait) as there:
            meta = None
            if there:
                with contextlib.suppress(FileNotFoundError):  # settled before our lock
                    meta = read_meta(self.path(entry_id, where))
            yield meta

    def open_message(self, meta: Meta, where: str = QUEUE) -> Message:
        return open_message(self.path(meta.id, where), meta)

    def save(self, meta: Meta, where: str = QUEUE) -> None:
        write_state(self.path(meta.id, where), meta)

    def settle(self, meta: Meta, where: str = QUEUE) -> str:
        """Once no copy is pending: remove the entry, or move it to dead/."""
        if meta.pending:
            return where
        if any(j.state == DEAD for j in meta.jobs):
            if where != DEAD_DIR:
                self._move(meta.id, where, DEAD_DIR)
            return DEAD_DIR
        self.drop(meta.id, where)
        return DONE

    def revive(self, meta: Meta) -> None:
        """Dead copies pending again, the entry back in queue/ (`mailspy spool retry`)."""
        for job in meta.jobs:
            if job.state == DEAD:
                job.state, job.attempts, job.next_try = PENDING, 0, 0.0
        self.save(meta, DEAD_DIR)
        self._move(meta.id, DEAD_DIR, QUEUE)
        (self.root / DEAD_DIR / f"{meta.id}{REASON}").unlink(missing_ok=True)

    def drop(self, entry_id: str, where: str) -> None:
        """The entry first: a state file left alone is an orphan, removed at start;
        an entry left without its state would make every copy again."""
        self.path(entry_id, where).unlink()
        state_path(self.path(entry_id, where)).unlink(missing_ok=True)
        (self.root / where / f"{entry_id}{REASON}").unlink(missing_ok=True)

    def bury(self, entry_id: str, reason: str) -> None:
        """Give up an entry that cannot be delivered at all (one that cannot be
        read, say): it goes to dead/, with the reason beside it in ID.reason."""
        write_durably(self.root / DEAD_DIR / f"{entry_id}{REASON}", reason.encode() + b"\n")
        self._move(entry_id, QUEUE, DEAD_DIR)

    def reason(self, entry_id: str) -> str:
        """Why an entry was buried, or ""."""
        try:
            return (self.root / DEAD_DIR / f"{entry_id}{REASON}").read_text().strip()
        except OSError:
            return ""

    def _move(self, entry_id: str, source: str, target: str) -> None:
        """The state is copied ahead, the entry moved, the old state removed: a crash
        at any point leaves the entry beside a state that belongs to it."""
        old, new = self.path(entry_id, source), self.path(entry_id, target)
        if state_path(old).exists():
            write_durably(state_path(new), state_path(old).read_bytes())
        os.rename(old, new)
        fsync_dir(self.root / target)
        fsync_dir(self.root / source)
        state_path(old).unlink(missing_ok=True)


__all__ = ["DEAD", "DEAD_DIR", "PENDING", "QUEUE", "Spool", "SpoolBusyError"]
