"""`--pseudonymize KEYFILE`: reports that show traffic without showing people.

Every local part, subject and attachment name is replaced by a keyed
pseudonym: HMAC-SHA256 under the key in KEYFILE, cut to 40 bits and written
in base32. The same value gives the same pseudonym in every report made with
the same key, so a week can be compared with the next; without the key
nobody can tell whose pseudonym it is by hashing guesses. Domains,
sizes, times, attachment extensions, declared types and rule names stay:
they describe the traffic, not the people.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stat
from dataclasses import replace

from mailspy import safefs
from mailspy.report.records import Record

__all__ = ["KeyFileError", "Pseudonymizer", "read_key"]

MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 4096
KEY_COMMAND = "head -c 32 /dev/urandom > KEYFILE && chmod 600 KEYFILE"


class KeyFileError(ValueError):
    """The key file is missing, unreadable or too short; the message says what to do."""


def read_key(path: str) -> tuple[bytes, str | None]:
    """The key, and a warning when others than the owner may read it."""
    try:  # a regular file, never a FIFO that would hang the report or a device
        key = safefs.read_regular(path, MAX_KEY_BYTES)
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise KeyFileError(f"--pseudonymize {path}: {exc.strerror or exc}; make a key "
                        f"with: {KEY_COMMAND.replace('KEYFILE', path)}") from exc
    if len(key.strip()) < MIN_KEY_BYTES:
        raise KeyFileError(f"--pseudonymize {path}: the key is shorter than {MIN_KEY_BYTES} "
                        f"bytes; make one with: {KEY_COMMAND.replace('KEYFILE', path)}")
    warning = None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        warning = (f"--pseudonymize {path}: the key is readable by others "
                   f"(chmod 600 {path}): whoever reads it can test guesses")
    return key, warning


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        self._key = key
        self._addresses: dict[str, str] = {}

    def _tag(self, kind: bytes, value: str) -> str:
        digest = hmac.new(self._key, kind + b"\0" + value.encode("utf-8", "surrogatepass"),
                          hashlib.sha256).digest()
        return base64.b32encode(digest[:5]).decode("ascii").lower()

    def address(self, key: str) -> str:
        """`ann@corp.example` -> `q3lz7xjm@corp.example`; the bounce sender stays empty."""
        if not key:
            return key
        known = self._addresses.get(key)
        if known is None:
            local, at, domain = key.rpartition("@")
            if not at:
                local, domain = key, ""
            known = self._tag(b"local", local) + (f"@{domain}" if at else "")
            if len(self._addresses) < 1_000_000:
                self._addresses[key] = known
        return known

    def subject(self, subject: str) -> str:
        return f"subject {self._tag(b'subject', subject)}" if subject else ""

    def file(self, name: str) -> str:
        """A pseudonym that keeps a short extension: `cv jane.pdf` -> `file-xxxxxxxx.pdf`."""
        stem, dot, extension = name.rpartition(".")
        keep = f".{extension}" if dot and stem and len(extension) <= 8 \
            and extension.isascii() and extension.isalnum() else ""
        return f"file-{self._tag(b'file', name)}{keep}"

    def record(self, record: Record) -> Record:
        return replace(
            record,
            sender=self.address(record.sender),
            recipients=tuple(self.address(r) for r in record.recipients),
            subject=self.subject(record.subject),
            files=tuple(self.file(name) for name in record.files),
        )
