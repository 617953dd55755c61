"""A copy of a message as the MTA handed it over, with LF line ends.

Pipes and Maildirs both want the message as a Unix file: LF line ends,
headers in order, a blank line, the body. The body is streamed from its
spool in chunks, so a 50 MB message never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, BinaryIO

from mailspy.actions.clean import clean, header_bytes, header_name_bytes

if TYPE_CHECKING:
    from mailspy.message.model import Message

__all__ = ["CHUNK_SIZE", "body_lf_chunks", "write_copy"]

CHUNK_SIZE = 64 * 1024


def _prefix_bytes(prefix: Iterable[tuple[str, str]]) -> bytes:
    """Our own header lines; values (envelope addresses) are cleaned to one line."""
    return b"".join(
        header_name_bytes(name) + b": " + clean(value).encode("utf-8") + b"\n"
        for name, value in prefix
    )


def _header_block(message: Message) -> bytes:
    """The message's headers in order, each made unable to forge another."""
    return (
        b"".join(
            header_name_bytes(name) + b": " + header_bytes(value) + b"\n"
            for name, value in message.headers
        )
        + b"\n"
    )


def body_lf_chunks(body: BinaryIO | None, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """The body from its start, CRLF turned into LF, in chunks.

    A CR at the end of a chunk is held back until the next chunk shows
    whether an LF follows it; a bare CR anywhere is body content and kept.
    """
    if body is None:
        return
    body.seek(0)
    held = b""
    while chunk := body.read(chunk_size):
        chunk = held + chunk
        held = b"\r" if chunk.endswith(b"\r") else b""
        if held:
            chunk = chunk[:-1]
        if chunk:
            yield chunk.replace(b"\r\n", b"\n")
    if held:
        yield held


def write_copy(
    message: Message,
    out: BinaryIO,
    *,
    prefix: Iterable[tuple[str, str]] = (),
    chunk_size: int = CHUNK_SIZE,
) -> int:
    """Write `prefix` header lines, the message's headers, a blank line and
    the body to `out`, all with LF line ends; returns the bytes written.
    """
    head = _prefix_bytes(prefix) + _header_block(message)
    out.write(head)
    written = len(head)
    for chunk in body_lf_chunks(message.body, chunk_size):
        out.write(chunk)
        written += len(chunk)
    return written
