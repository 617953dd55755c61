"""The message as mailspy sees it: envelope, header block, spooled body.

One model serves every source (a milter conversation, a message file, a
mailbox being replayed), so the rules and the actions never know where a
message came from. Derived values (decoded subject, attachments) are
computed once, on first use, because many messages need neither; the
attachments' names alone (`attachment_outline`) cost far less than their
sizes, digests and archive listings (`attachments`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import BinaryIO

from mailspy.message.attachment import Attachment
from mailspy.message.decode import decode_header_value
from mailspy.message.mime import outline, walk

__all__ = ["Attachment", "Envelope", "Message", "strip_angles"]


def strip_angles(address: str) -> str:
    """`<a@b>` -> `a@b`; the MTA's form is kept elsewhere for the logs."""
    address = address.strip()
    if address.startswith("<") and address.endswith(">"):
        return address[1:-1]
    return address


@dataclass
class Envelope:
    """What the MTA told us outside the message itself.

    `mail_from` and `rcpt_to` are kept as the MTA sent them (usually with
    angle brackets): the summary log shows them that way.
    """

    mail_from: str = "<>"
    rcpt_to: list[str] = field(default_factory=list)
    queue_id: str = ""
    client_address: str = ""
    client_name: str = ""
    helo: str = ""
    auth_user: str = ""

    @property
    def sender(self) -> str:
        return strip_angles(self.mail_from)

    @property
    def recipients(self) -> list[str]:
        return [strip_angles(r) for r in self.rcpt_to]


@dataclass
class Message:
    """A message: header fields in order as received, then the body.

    Header values are `str` as pymilter hands them over: UTF-8 decoded with
    `surrogateescape`, so `value.encode("utf-8", "surrogateescape")` gives
    back the bytes the MTA sent. The body is a binary file (possibly
    spooled to disk) holding the raw body bytes; readers seek before use.
    """

    envelope: Envelope
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: BinaryIO | None = None
    body_size: int = 0
    received_at: float = field(default_factory=time.time)

    def header_values(self, name: str) -> list[str]:
        wanted = name.lower()
        return [v for n, v in self.headers if n.lower() == wanted]

    def decoded_header_values(self, name: str) -> tuple[str, ...]:
        """Each occurrence of the named header, RFC 2047 decoded, folding removed."""
        return tuple(decode_header_value(v) for v in self.header_values(name))

    @cached_property
    def subject(self) -> str:
        values = self.header_values("Subject")
        return decode_header_value(values[0]) if values else ""

    @cached_property
    def attachments(self) -> list[Attachment]:
        return walk(self.headers, self.body)

    @cached_property
    def attachment_outline(self) -> list[Attachment]:
        """The attachments with their names, types and paths only (no size, sha256 or
        archive members): what the summary line and most fields need, found without
        decoding any content. The full walk is taken only when asked for."""
        if "attachments" in self.__dict__:
            return self.attachments
        return outline(self.headers, self.body)

    def raw_header_block(self) -> bytes:
        """The header block as bytes with LF line ends, ending in a blank line."""
        out = bytearray()
        for name, value in self.headers:
            out += name.encode("utf-8", "surrogateescape") + b": "
            out += value.encode("utf-8", "surrogateescape").replace(b"\r\n", b"\n") + b"\n"
        return bytes(out + b"\n")
