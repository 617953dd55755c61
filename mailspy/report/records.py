"""What one log line says about one message, whichever layout wrote it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "Record"]


@dataclass(slots=True)
class Record:
    """One message. Addresses are keys (see `addresses.address_key`); every text
    value has been through `text.visible`. `types` runs parallel to `files` when the
    log declares them (JSON Lines), and is empty otherwise."""

    epoch: int
    sender: str
    recipients: tuple[str, ...]
    size: int
    subject: str
    files: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    queue: str = ""


@dataclass(frozen=True, slots=True)
class Problem:
    """A line, or a whole input, that could not be used: where, and why."""

    source: str
    line: int  # 0 when the problem is the input itself (missing, truncated...)
    reason: str
    excerpt: str = ""
    unreadable: bool = False  # an input that could not be opened or read to its end

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.reason}"
