"""The spool directory: entries staged in tmp/, owed in queue/, given up in dead/.

An entry appears in queue/ by one rename of a directory whose files were
fsync'd, and the rename itself is fsync'd: once `enqueue` returns, the copy
survives a crash or a `kill -9`, and only then is the MTA answered.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from mailspy.message.model import Message
from mailspy.rules.compile import PlannedAction
from mailspy.spool.entry import (
    DEAD,
    DONE,
    PENDING,
    Job,
    Meta,
    encode_headers,
    envelope_dict,
    fsync_dir,
    open_message,
    write_durably,
)

QUEUE, DEAD_DIR, TMP = "queue", "dead", "tmp"
CHUNK = 1024 * 1024
_sequence = itertools.count(1)


class SpoolBusyError(RuntimeError):
    """Another process holds the spool or the entry."""


class Spool:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self._lock_fd: int | None = None

    # -- the directory -------------------------------------------------------

    def create(self, owner: tuple[int, int] | None = None) -> None:
        for sub in ("", TMP, QUEUE, DEAD_DIR):
            path = self.root / sub
            path.mkdir(mode=0o700, parents=True, exist_ok=True)
            if owner is not None:
                os.chown(path, *owner)

    def lock(self) -> None:
        """One daemon per spool: a second one would deliver every copy twice."""
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SpoolBusyError(f"another mailspy is using the spool {self.root}") from None
        self._lock_fd = fd

    def clean_tmp(self) -> int:
        """Entries staged but never acknowledged (a crash mid-enqueue) are removed."""
        removed = 0
        for path in (self.root / TMP).iterdir():
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
        return removed

    def ids(self, where: str = QUEUE) -> list[str]:
        """Entry ids, oldest first (ids sort by creation time)."""
        try:
            return sorted(p.name for p in (self.root / where).iterdir() if p.is_dir())
        except FileNotFoundError:
            return []

    def path(self, entry_id: str, where: str = QUEUE) -> Path:
        return self.root / where / entry_id

    # -- writing an entry ----------------------------------------------------

    def enqueue(self, message: Message, actions: list[PlannedAction]) -> str:
        entry_id = f"{time.time_ns():020d}.{os.getpid()}.{next(_sequence)}"
        staging = self.root / TMP / entry_id
        staging.mkdir(mode=0o700)
        try:
            self._write_entry(staging, entry_id, message, actions)
            final = self.root / QUEUE / entry_id
            os.rename(staging, final)
            fsync_dir(final.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return entry_id

    def _write_entry(self, staging: Path, entry_id: str, message: Message,
                     actions: list[PlannedAction]) -> None:
        with open(staging / "body", "wb") as out:
            if message.body is not None:
                message.body.seek(0)
                shutil.copyfileobj(message.body, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())
        _write_synced(staging / "headers.json", encode_headers(message.headers))
        jobs = [Job(a.name, a.target, [list(o) for o in a.options]) for a in actions]
        meta = Meta(entry_id, time.time(), message.received_at, message.body_size,
                    envelope_dict(message.envelope), jobs)
        _write_synced(staging / "meta.json", meta.to_json())
        (staging / "lock").touch(0o600)
        fsync_dir(staging)

    # -- working on an entry -------------------------------------------------

    @contextlib.contextmanager
    def hold(self, entry_id: str, where: str = QUEUE, wait: bool = True) -> Iterator[Meta | None]:
        """Lock an entry and load it; None when it is gone (dropped meanwhile)."""
        directory = self.path(entry_id, where)
        try:
            fd = os.open(directory / "lock", os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise SpoolBusyError(f"entry {entry_id} is being worked on") from None
            try:
                meta = Meta.from_json((directory / "meta.json").read_bytes())
            except FileNotFoundError:
                meta = None
            yield meta
        finally:
            os.close(fd)

    def open_message(self, meta: Meta, where: str = QUEUE) -> Message:
        return open_message(self.path(meta.id, where), meta)

    def save(self, meta: Meta, where: str = QUEUE) -> None:
        write_durably(self.path(meta.id, where) / "meta.json", meta.to_json())

    def settle(self, meta: Meta, where: str = QUEUE) -> str:
        """Once no copy is pending: remove the entry, or move it to dead/."""
        if meta.pending:
            return where
        directory = self.path(meta.id, where)
        if any(j.state == DEAD for j in meta.jobs):
            if where != DEAD_DIR:
                os.rename(directory, self.path(meta.id, DEAD_DIR))
                fsync_dir(self.root / DEAD_DIR)
            return DEAD_DIR
        shutil.rmtree(directory)
        return DONE

    def revive(self, meta: Meta) -> None:
        """Dead copies pending again, the entry back in queue/ (`mailspy spool retry`)."""
        for job in meta.jobs:
            if job.state == DEAD:
                job.state, job.attempts, job.next_try = PENDING, 0, 0.0
        self.save(meta, DEAD_DIR)
        os.rename(self.path(meta.id, DEAD_DIR), self.path(meta.id, QUEUE))
        fsync_dir(self.root / QUEUE)

    def drop(self, entry_id: str, where: str) -> None:
        shutil.rmtree(self.path(entry_id, where))


def _write_synced(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


__all__ = ["DEAD", "DEAD_DIR", "PENDING", "QUEUE", "Spool", "SpoolBusyError"]
