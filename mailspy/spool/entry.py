"""One spooled message on disk: its envelope, header fields, body and the
copies it still owes.

An entry is a directory: `body` (the raw body as received), `headers.json`
(the header fields, byte for byte), `meta.json` (envelope and jobs, the only
file rewritten, always by write-fsync-rename) and `lock` (flock'd by
whoever works on the entry: a worker, or `mailspy spool`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from mailspy.message.model import Envelope, Message

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


@dataclass
class Meta:
    id: str
    created: float
    received_at: float
    body_size: int
    envelope: dict
    jobs: list[Job]

    @property
    def pending(self) -> list[Job]:
        return [j for j in self.jobs if j.state == PENDING]

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=True, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Meta:
        raw = json.loads(data)
        raw["jobs"] = [Job(**j) for j in raw["jobs"]]
        return cls(**raw)

    def envelope_object(self) -> Envelope:
        return Envelope(**self.envelope)


def envelope_dict(envelope: Envelope) -> dict:
    return asdict(envelope)


def encode_headers(headers: list[tuple[str, str]]) -> bytes:
    """Header fields as JSON, each value's original bytes kept (latin-1 as a carrier)."""
    return json.dumps([[_bytes_text(n), _bytes_text(v)] for n, v in headers]).encode()


def decode_headers(data: bytes) -> list[tuple[str, str]]:
    return [(_text_bytes(n), _text_bytes(v)) for n, v in json.loads(data)]


def _bytes_text(value: str) -> str:
    return value.encode("utf-8", "surrogateescape").decode("latin-1")


def _text_bytes(value: str) -> str:
    return value.encode("latin-1").decode("utf-8", "surrogateescape")


def write_durably(path: Path, data: bytes) -> None:
    """Write a file through a temporary name: a reader sees the old or the new."""
    temporary = path.with_name(path.name + ".new")
    with open(temporary, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def open_message(directory: Path, meta: Meta) -> Message:
    """The spooled message as the actions want it; the caller closes its body."""
    headers = decode_headers((directory / "headers.json").read_bytes())
    body: BinaryIO = open(directory / "body", "rb")  # noqa: SIM115 (the Message owns it)
    return Message(meta.envelope_object(), headers, body, meta.body_size, meta.received_at)
