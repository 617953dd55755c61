"""log-headers: the whole header block, in the original's mbox-like form.

    From SENDER Thu Nov 26 12:00:00 2026
    X-Timestamp: EPOCH
    X-Queue-Id: QUEUEID
    Name: value
    ...
    <blank line>

`X-Queue-Id:` is mailspy's own line, not the original's: the MTA's queue
id, to join a block with the MTA's log; it is always there (empty when the
MTA gave none), right after `X-Timestamp:`. Both come before the message's
headers, so when a message carries a header of the same name, the first
`X-Timestamp:` and the first `X-Queue-Id:` of a block are mailspy's (what
Python's `message["X-Queue-Id"]` returns); the message's follow.

The log is bytes-faithful: header values are written with the bytes the
MTA sent (8-bit bytes restored from surrogateescape, folds kept as LF plus
whitespace), because this log is for postmasters who need to see what
arrived. Only what could forge structure is changed (see
`clean.header_bytes`): a value can never start a new header, a blank line
or a new `From ` line. NUL bytes, which many tools stop reading at, are
written as `\\x00`; backslashes are NOT escaped here.

The `From ` line names the bare envelope sender, or `MAILER-DAEMON` for a
bounce (`<>`), as sendmail and procmail write mbox separators, so mbox
tools (formail, mailbox.mbox, mutt) can split the log into messages.

The privacy options (privacy.py) choose the headers written (`keep-headers`,
`drop-headers`) and replace the addresses of the `From ` line and of the
headers, and the subject, by tokens or domains.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailspy.actions.action import LOG, PATH, ActionType, Options
from mailspy.actions.clean import clean, header_bytes, header_name_bytes
from mailspy.actions.logfile import LogFile, log_problem
from mailspy.actions.privacy import HEADER_OPTIONS, HeaderPrivacy, header_privacy, private_headers

if TYPE_CHECKING:
    from mailspy.message.model import Message

__all__ = ["ACTION", "format_header_block", "from_line", "log_headers"]

BOUNCE_SENDER = "MAILER-DAEMON"


def from_line(message: Message, sender: str | None = None) -> bytes:
    """The mbox separator: `From SENDER asctime-date-in-UTC` plus LF; SENDER is the
    envelope sender unless given.

    mbox readers take this line as ASCII and split it at spaces: an SMTPUTF8
    sender's non-ASCII characters are written as `\\xNN`/`\\uNNNN` escapes
    and a space (a quoted local part) as `\\x20`."""
    if sender is None:
        sender = message.envelope.sender
    sender = clean(sender).replace(" ", "\\x20") or BOUNCE_SENDER
    sender = sender.encode("ascii", "backslashreplace").decode("ascii")
    date = time.asctime(time.gmtime(message.received_at))
    return f"From {sender} {date}\n".encode()


def format_header_block(message: Message, private: HeaderPrivacy | None = None) -> bytes:
    """The header log record for a message, ending in a blank line; `private` chooses
    and rewrites the headers."""
    headers = message.headers
    sender = None
    if private is not None:
        headers = private_headers(headers, message.subject, private)
        sender = private.values.address(message.envelope.sender)
    out = bytearray(from_line(message, sender))
    out += b"X-Timestamp: %d\n" % int(message.received_at)
    queue_id = clean(message.envelope.queue_id)
    out += (f"X-Queue-Id: {queue_id}" if queue_id else "X-Queue-Id:").encode() + b"\n"
    for name, value in headers:
        out += header_name_bytes(name) + b": "
        out += header_bytes(value).replace(b"\x00", b"\\x00") + b"\n"
    out += b"\n"
    return bytes(out)


def log_headers(logfile: LogFile, message: Message) -> int:
    """Append the message's header block to the log (one write).

    Returns how many records were lost before it (see LogFile.write)."""
    return logfile.write(format_header_block(message))


def record(message: Message, rules: Sequence[str], options: Options) -> bytes:
    return format_header_block(message, header_privacy(options))


ACTION = ActionType(
    name="log-headers",
    doc="appends the header block to the path, or to the header log (`-h`, default "
        "`/var/log/mailspy/headers`); privacy options: `keep-headers`, `drop-headers`, "
        "`addresses`, `subject`, `key`",
    kind=LOG,
    target=PATH,
    default="header_log",
    options=HEADER_OPTIONS,
    open=LogFile,
    probe=log_problem,
    record=record,
    rank=20,
)
