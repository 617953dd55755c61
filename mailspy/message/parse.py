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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO, cast

from mailspy.message.decode import recover_text, unfold
from mailspy.message.headers import header_fields, line_kind
from mailspy.message.model import Envelope, Message, strip_angles

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


@dataclass(frozen=True)
class RebuiltEnvelope:
    """An envelope rebuilt from a message file, and the headers it was read from."""

    envelope: Envelope
    sender_from: str  # "given", "Return-Path:", "From:", "" (none: a bounce)
    recipients_from: str  # "given", "X-Mailspy-Envelope-To:", "Delivered-To:",
    #                       "To: and Cc:", "" (none)


def rebuild_envelope(message: Message, sender: str | None = None,
                     recipients: Sequence[str] | None = None) -> RebuiltEnvelope:
    """The envelope of a saved message, for the commands that evaluate files
    (`test-rules`, `replay`, `check-rules --test`): one rule for all three.

    What delivery left in the message first, then the headers its sender
    wrote. The sender is `sender` when given (`""`: a bounce), else the first
    `Return-Path:` (`<>`: a bounce), else the first address of `From:`, else
    a bounce. The recipients are `recipients` when given (an empty list:
    none), else the `X-Mailspy-Envelope-To:` fields at the top of the header
    block (where mailspy's Maildir copies write every envelope recipient,
    Bcc included; the same header lower down came with the message), else
    the first `Delivered-To:` (the mailbox a delivery left the message in),
    else the addresses of `To:` and `Cc:`.
    """
    if sender is not None:
        mail_from, sender_from = strip_angles(sender), "given"
    else:
        mail_from, sender_from = _file_sender(message)
    if recipients is not None:
        rcpt_to, recipients_from = [strip_angles(r) for r in recipients], "given"
    else:
        rcpt_to, recipients_from = _file_recipients(message)
    envelope = Envelope(mail_from=f"<{mail_from}>",
                        rcpt_to=[f"<{r}>" for r in dict.fromkeys(rcpt_to) if r])
    return RebuiltEnvelope(envelope, sender_from, recipients_from)


def _file_sender(message: Message) -> tuple[str, str]:
    return_path = message.header_values("Return-Path")
    found = _angle_address(return_path[0]) if return_path else None
    if found is not None:
        return found, "Return-Path:"
    senders = _addresses(message.header_values("From"))
    return (senders[0], "From:") if senders else ("", "")


def _file_recipients(message: Message) -> tuple[list[str], str]:
    ours = []
    for name, value in message.headers:
        if name.lower() == "x-mailspy-envelope-to":
            ours.append(_angle_address(value) or "")
        elif name.lower() != "return-path":
            break  # mailspy writes its own at the top, before the message's headers
    if any(ours):
        return ours, "X-Mailspy-Envelope-To:"
    delivered = _addresses(message.header_values("Delivered-To")[:1])
    if delivered:
        return delivered, "Delivered-To:"
    listed = _addresses(message.header_values("To") + message.header_values("Cc"))
    return (listed, "To: and Cc:") if listed else ([], "")


def _angle_address(value: str) -> str | None:
    """The address of `<a@b>` (`""` for `<>`) or of a bare `a@b`; None when there is none."""
    text = unfold(recover_text(value[:_ADDRESS_FIELD_LIMIT])).strip()
    if text.startswith("<") and ">" in text:
        return text[1:text.index(">")].strip()
    found = _field_addresses(text)
    return found[0] if found else None


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
