"""One spooled message on disk: one file, written once, plus a state file.

`queue/ID` holds a first line naming the format, a JSON line with the
envelope and the copies owed, a JSON line with the header fields (each
value's bytes kept), then the raw body as received. Writing one file and
renaming it costs two fsyncs on the MTA's time. How delivery went is kept
in `queue/ID.state` (JSON, rewritten by write-fsync-rename) by the workers.
The entry file is never rewritten, so it is also what `flock` locks.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from mailspy.message.model import Envelope, Message

MAGIC = b"MAILSPY-SPOOL 1\n"
PENDING, DONE, DEAD = "pending", "done", "dead"


@dataclass
class Job:
    """One copy owed: an action and its target, and how delivery went so far."""

    action: str
    target: str
    options: list[list[str]] = field(default_factory=list)
    state: str = PENDING
    attempts: int = 0
    next_try: float = 0.0
    last_error: str = ""


class UnreadableEntryError(ValueError):
    """A spool entry that is not one, or is damaged: it can only be given up."""


@dataclass
class Meta:
    id: str
    created: float
    received_at: float
    body_size: int
    envelope: Envelope
    jobs: list[Job]

    @property
    def pending(self) -> list[Job]:
        return [j for j in self.jobs if j.state == PENDING]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Meta:
        raw = json.loads(data)
        raw["jobs"] = [Job(**j) for j in raw["jobs"]]
        raw["envelope"] = Envelope(**raw["envelope"])
        return cls(**raw)


def encode_headers(headers: list[tuple[str, str]]) -> bytes:
    """Header fields as one JSON line, values' original bytes kept (latin-1 as carrier)."""
    return json.dumps([[_bytes_text(n), _bytes_text(v)] for n, v in headers]).encode()


def decode_headers(data: bytes) -> list[tuple[str, str]]:
    return [(_text_bytes(n), _text_bytes(v)) for n, v in json.loads(data)]


def _bytes_text(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("latin-1")


def _text_bytes(value: str) -> str:
    return value.encode("latin-1").decode("utf-8", "surrogateescape")


def write_entry(out: BinaryIO, meta: Meta, message: Message, chunk: int) -> None:
    out.write(MAGIC + meta.to_json() + b"\n" + encode_headers(message.headers) + b"\n")
    if message.body is not None:
        message.body.seek(0)
        while data := message.body.read(chunk):
            out.write(data)


def read_meta(path: Path) -> Meta:
    """The entry's envelope and jobs, with the jobs' latest state when there is one.

    Raises UnreadableEntryError for a file that is not an entry or is
    damaged, OSError when it cannot be read at all."""
    with open(path, "rb") as fp:
        if fp.readline() != MAGIC:
            raise UnreadableEntryError("not a mailspy spool entry")
        first = fp.readline()
    try:
        meta = Meta.from_json(first)
        with contextlib.suppress(FileNotFoundError):
            meta.jobs = [Job(**j) for j in json.loads(state_path(path).read_bytes())]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise UnreadableEntryError(f"damaged: {type(exc).__name__}: {exc}") from exc
    return meta


def state_path(path: Path) -> Path:
    return path.with_name(path.name + ".state")


def write_state(path: Path, meta: Meta) -> None:
    write_durably(state_path(path), json.dumps([asdict(j) for j in meta.jobs]).encode())


FILE_MODE = 0o600  # whatever the umask: entries hold other people's mail


def create(path: Path, exclusive: bool = True) -> BinaryIO:
    """A new spool file, 0600, never through a symbolic link."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    flags |= os.O_EXCL if exclusive else os.O_TRUNC
    return open(os.open(path, flags, FILE_MODE), "wb")


def write_durably(target: Path, data: bytes) -> None:
    """Write-fsync-rename: a reader (or a crash) sees the old file or the new."""
    temporary = target.with_name(target.name + ".new")
    with create(temporary, exclusive=False) as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, target)
    fsync_dir(target.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class BodySlice:
    """The body part of an entry file, as a file that starts at the body."""

    def __init__(self, fp: BinaryIO, start: int) -> None:
        self._fp = fp
        self._start = start
        fp.seek(start)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_SET:
            offset += self._start
        return self._fp.seek(offset, whence) - self._start

    def tell(self) -> int:
        return self._fp.tell() - self._start

    def read(self, size: int = -1) -> bytes:
        return self._fp.read(size)

    def readline(self, size: int = -1) -> bytes:
        return self._fp.readline(size)

    def close(self) -> None:
        self._fp.close()

    @property
    def closed(self) -> bool:
        return self._fp.closed


def open_message(path: Path, meta: Meta) -> Message:
    """The spooled message as the actions want it; the caller closes its body."""
    fp = open(path, "rb")  # noqa: SIM115 (the Message owns it)
    fp.readline()
    fp.readline()
    headers = decode_headers(fp.readline())
    body = BodySlice(fp, fp.tell())
    return Message(meta.envelope, headers, body, meta.body_size,  # type: ignore[arg-type]
                   meta.received_at)
