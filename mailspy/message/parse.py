"""Reading a message file into the model, header block the way a milter sees it.

The header block ends at the first empty line. Like the stdlib's feedparser
(and Postfix), a line that is neither a header field (`Name:`) nor a
continuation (leading space or tab) also ends it, and that line is the first
line of the body: mail with a missing blank line keeps its body, rather
than having it read as headers. A continuation line before any field is
dropped. A leading mbox `From ` line is skipped. `Name : value` (space before
the colon, RFC 5322 obsolete syntax) is a field.

Header values are UTF-8 decoded with `surrogateescape`, as pymilter hands
them over; a folded value keeps its folds as `\\n` plus the continuation
line's leading whitespace (the MTA's internal form). The header block is
capped at MAX_HEADER_BLOCK bytes: beyond it, header lines are read and
dropped up to the end of the block, so the body is still found.
"""

from __future__ import annotations

import email.utils
import io
import re
import shutil
import tempfile
from typing import BinaryIO, cast

from mailspy.message.decode import recover_text, unfold
from mailspy.message.headers import header_fields, line_kind
from mailspy.message.model import Envelope, Message

MAX_LINE = 64 * 1024  # bytes read at a time: a line without newline stays bounded
MAX_HEADER_BLOCK = 8 * 1024 * 1024
SPOOL_THRESHOLD = 1024 * 1024  # bodies up to this size stay in memory

_ADDRESS = re.compile(r"[^\s<>()\[\],;:\"@]+@[^\s<>()\[\],;:\"@]+")
_ADDRESS_FIELD_LIMIT = 256 * 1024  # per header: getaddresses is not linear everywhere


def read_message(fp: BinaryIO, envelope: Envelope | None = None) -> Message:
    """A message from a file (RFC 5322 or one mbox entry); the body is spooled."""
    lines, body_start = _read_header_block(fp)
    # Not a context manager: the Message owns the file from here on.
    # a spooled file is a binary file (typeshed does not say so)
    body = cast(BinaryIO, tempfile.SpooledTemporaryFile(max_size=SPOOL_THRESHOLD))  # noqa: SIM115
    body.write(body_start)
    shutil.copyfileobj(fp, body, MAX_LINE)
    size = body.tell()
    body.seek(0)
    return Message(
        envelope=envelope if envelope is not None else Envelope(),
        headers=header_fields(lines),
        body=body,
        body_size=size,
    )


def message_from_bytes(data: bytes, envelope: Envelope | None = None) -> Message:
    """`read_message` for bytes already in memory (tests, replays)."""
    return read_message(io.BytesIO(data), envelope)


def _read_header_block(fp: BinaryIO) -> tuple[list[bytes], bytes]:
    """Header lines, and the bytes already read that belong to the body."""
    lines: list[bytes] = []
    budget = MAX_HEADER_BLOCK
    line = fp.readline(MAX_LINE)
    if line.startswith(b"From "):
        _drain_line(fp, line)
        line = fp.readline(MAX_LINE)
    while line:
        kind = line_kind(line)
        if kind == "end":
            return lines, b""
        if kind == "body":
            return lines, line
        if kind == "field" or lines:
            line = _whole_line(fp, line, budget)
            budget -= len(line)
            if line:
                lines.append(line)
        else:
            _drain_line(fp, line)
        line = fp.readline(MAX_LINE)
    return lines, b""


def _whole_line(fp: BinaryIO, line: bytes, budget: int) -> bytes:
    """The rest of a long line, keeping at most `budget` bytes of it."""
    parts = [line[: max(budget, 0)]]
    budget -= len(parts[0])
    while not line.endswith(b"\n") and len(line) == MAX_LINE:
        line = fp.readline(MAX_LINE)
        if budget > 0:
            parts.append(line[:budget])
            budget -= len(parts[-1])
    return b"".join(parts)


def _drain_line(fp: BinaryIO, line: bytes) -> None:
    _whole_line(fp, line, 0)


def envelope_from_headers(message: Message) -> Envelope:
    """An envelope guessed from From:, To: and Cc:, for a dry run without one."""
    senders = _addresses(message.header_values("From"))
    recipients = _addresses(message.header_values("To") + message.header_values("Cc"))
    unique = list(dict.fromkeys(recipients))
    return Envelope(
        mail_from=f"<{senders[0]}>" if senders else "<>",
        rcpt_to=[f"<{address}>" for address in unique],
    )


def _addresses(values: list[str]) -> list[str]:
    return [address for value in values for address in _field_addresses(value)]


def _field_addresses(value: str) -> list[str]:
    """getaddresses, else anything shaped like an address.

    Depending on the 3.11 patch release, getaddresses raises (RecursionError
    on `((((`) or gives up on the whole field: a hostile display name must
    not hide the real addresses from a dry run.
    """
    text = unfold(recover_text(value[:_ADDRESS_FIELD_LIMIT]))
    try:
        pairs = email.utils.getaddresses([text])
    except Exception:
        pairs = []
    found = [address.strip() for _, address in pairs if address.strip()]
    return found or [m.group() for m in _ADDRESS.finditer(text)]
