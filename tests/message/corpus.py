"""Builders for tricky messages: small enough to read, exact enough to assert on."""

from __future__ import annotations

import base64
import io
import quopri
import re
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from mailspy.message.model import Attachment
from mailspy.message.parse import message_from_bytes

CRLF = b"\r\n"
LF = b"\n"

Headers = Iterable[tuple[str, str | bytes]]


def header_block(headers: Headers, eol: bytes = CRLF) -> bytes:
    """Header lines and the blank line; values given as bytes go in raw (8-bit)."""
    out = bytearray()
    for name, value in headers:
        raw = value if isinstance(value, bytes) else value.encode("ascii")
        out += name.encode("ascii") + b": " + raw + eol
    return bytes(out + eol)


def entity(headers: Headers, body: bytes, eol: bytes = CRLF) -> bytes:
    """A MIME entity (message or part): header block, then body."""
    return header_block(headers, eol) + body


def multipart(
    boundary: str,
    parts: Iterable[bytes],
    subtype: str = "mixed",
    *,
    headers: Headers = (),
    eol: bytes = CRLF,
    preamble: bytes = b"",
    epilogue: bytes = b"",
    close: bool = True,
) -> bytes:
    """A multipart entity; `close=False` leaves out the closing delimiter."""
    delimiter = b"--" + boundary.encode("ascii")
    body = bytearray(preamble)
    for part in parts:
        body += delimiter + eol + part + eol
    if close:
        body += delimiter + b"--" + eol
    body += epilogue
    content_type = f'multipart/{subtype}; boundary="{boundary}"'
    return entity([("Content-Type", content_type), *headers], bytes(body), eol)


def text_part(text: str, eol: bytes = CRLF) -> bytes:
    return entity([("Content-Type", "text/plain; charset=utf-8")], text.encode(), eol)


def attachment(
    disposition: str | bytes | None,
    data: bytes,
    *,
    content_type: str | bytes = "application/octet-stream",
    encoding: str = "base64",
    eol: bytes = CRLF,
) -> bytes:
    """A part carrying `data`, encoded; `disposition` is the whole header value."""
    headers: list[tuple[str, str | bytes]] = [("Content-Type", content_type)]
    if disposition is not None:
        headers.append(("Content-Disposition", disposition))
    headers.append(("Content-Transfer-Encoding", encoding))
    return entity(headers, encode(data, encoding, eol), eol)


def named(name: str, data: bytes, eol: bytes = CRLF, **kwargs: object) -> bytes:
    """The common case: an attachment with a plain quoted file name."""
    return attachment(f'attachment; filename="{name}"', data, eol=eol, **kwargs)  # type: ignore[arg-type]


def encode(data: bytes, encoding: str, eol: bytes = CRLF) -> bytes:
    """Transfer-encoded `data`; the encoder's own line breaks become `eol`."""
    if encoding == "base64":
        return base64.encodebytes(data).replace(LF, eol)
    if encoding == "quoted-printable":
        return re.sub(rb"\r?\n", eol, quopri.encodestring(data))
    return data


def as_message(top: bytes) -> bytes:
    """A top-level entity made into a message with From/Subject in front."""
    return b"From: a@example.org\r\nSubject: test\r\n" + top


def attachments(raw: bytes) -> list[Attachment]:
    """What the model reports for a raw message: parse, then walk."""
    return message_from_bytes(raw).attachments


def names(raw: bytes) -> list[str]:
    return [a.name for a in attachments(raw)]


def paths(raw: bytes) -> list[tuple[str, str]]:
    return [(a.path, a.name) for a in attachments(raw)]


def nested_multiparts(depth: int, leaf: bytes) -> bytes:
    """`depth` multiparts, each the only part of the one above, around `leaf`."""
    opening = [
        b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (level, level + 1)
        for level in range(depth)
    ]
    closing = [b"\r\n--b%d--" % level for level in range(depth, -1, -1)]
    top = b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n'
    leaf_part = b"--b%d\r\n" % depth + leaf
    return as_message(top + b"".join(opening) + leaf_part + b"".join(closing) + CRLF)


def nested_messages(depth: int, leaf: bytes) -> bytes:
    """`depth` message/rfc822 wrappers, one inside the other, around `leaf`."""
    wrapper = b"Content-Type: message/rfc822\r\n\r\n"
    return as_message(wrapper * depth + leaf)


class Trickle(io.RawIOBase):
    """A stream that hands out a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes, sizes: Iterable[int]) -> None:
        self._data = memoryview(data)
        self._sizes: Iterator[int] = iter(sizes)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        size = min(len(buffer), next(self._sizes, 7) or 1, len(self._data) - self._pos)
        buffer[:size] = self._data[self._pos : self._pos + size]
        self._pos += size
        return size


def trickle(data: bytes, sizes: Iterable[int]) -> BinaryIO:
    """An unbuffered, unseekable trickling stream (read() returns short)."""
    return Trickle(data, sizes)  # type: ignore[return-value]
