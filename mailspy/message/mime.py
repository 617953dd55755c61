"""A streaming MIME walker: every attachment, without holding the body.

The stdlib's parser keeps every payload in memory, so the body is scanned
here against a stack of open multipart boundaries: content goes to the
decoders in blocks of whole lines, up to the next line that is an open
delimiter; header blocks and delimiter lines go line by line. No line is
held longer than MAX_LINE bytes (a longer one comes in pieces), so a body
without newlines stays bounded too. Only each part's header block is kept,
and read for type, boundary, encoding and file name as the stdlib reads
them (`decode.read_mime_fields`). The content of an attachment is decoded
(base64, quoted-printable) and hashed as it streams past; `outline` leaves
content alone and finds names, types and paths only.

Part numbers follow IMAP section numbers (RFC 3501, FETCH BODY[section]):

- the body of a single-part message is "1";
- the parts of a multipart are 1, 2, 3 ... under the multipart's own number:
  the parts of a top-level multipart are "1", "2", the parts of the
  multipart that is part 2 are "2.1", "2.2";
- a message/rfc822 part N holds a message numbered as a top-level one, under
  N: "N.1" for a single-part body, "N.1", "N.2" ... for a multipart body;
- a file name on a message's own multipart header (rare) is reported as that
  message's "TEXT" ("TEXT", "N.TEXT").

An attachment is every part with a file name at any depth, and every part
declared `Content-Disposition: attachment` without one (reported with the
name ""), containers too: a forwarded message/rfc822 part named `fwd.eml`
is reported (its content is the raw message) and also descended into. A
blank name (`filename=""`, `filename="  "`) is no name. The line break
before a boundary belongs to the boundary (RFC 2046), so it is not content.

A message/rfc822 part sent in base64 or quoted-printable (not allowed, but
sent) is decoded to a temporary file as it streams past and walked, when it
ends, like a forwarded message (`_EncodedMessage`; MAX_ENCODED_MESSAGE_BYTES
of them per message). A plain text leaf that is no attachment and not
transfer-encoded is read for uuencoded files (`begin 644 name` ... `end`),
each reported as an attachment of that part (`_Uudecoder`).

A leaf attachment that is a zip (by type, name or first bytes) also goes, as it
is decoded, to an `archive.ZipSpool`, a temporary file listed when the part
ends: its member names fill `Attachment.members` (limits in archive.py; one
`archive.Budget` per message).

Hostile structure is absorbed, never raised: parts deeper than MAX_DEPTH are
opaque leaves; after MAX_PARTS parts the walk stops and reports what it has
(a part still open is reported with the content read so far); a part's
header block beyond MAX_HEADER_BYTES is dropped up to its end; a missing
closing boundary ends the part at the next outer boundary or at the end of
the body; bad base64 yields what decodes.
"""

from __future__ import annotations

import binascii
import contextlib
import functools
import hashlib
import io
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, BinaryIO, NamedTuple, Protocol

from mailspy.message import archive
from mailspy.message.attachment import Attachment
from mailspy.message.decode import (
    Base64Decoder,
    bytes_to_text,
    from_octets,
    mime_fields,
    raw_bytes,
    read_mime_fields,
    recover_text,
)
from mailspy.message.headers import header_fields, line_kind, plain_block_end

MAX_LINE = 64 * 1024  # bytes read at a time
MAX_DEPTH = 64  # nesting levels (multiparts and messages) parsed
MAX_PARTS = 10_000  # parts (and enclosed messages) parsed per message
MAX_HEADER_BYTES = 256 * 1024  # kept of one part's header block
MAX_ENCODED_MESSAGE_BYTES = 64 * 1024 * 1024  # decoded of encoded messages, per message
SPOOL_IN_MEMORY = 1024 * 1024  # an encoded message's decoded bytes kept in memory
_BLOCK = 64 * 1024  # bytes read from the body at a time

_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_IDENTITY_ENCODINGS = frozenset({"", "7bit", "8bit", "binary"})
_ENCODINGS = frozenset({"base64", "quoted-printable"})

# Entity states: collecting its header block, inside a leaf's content, or
# between the parts of a multipart (preamble, epilogue) / under a message.
_HEADERS, _BODY, _CONTAINER = "headers", "body", "container"


def walk(headers: list[tuple[str, str]], body: BinaryIO | None) -> list[Attachment]:
    """Every attachment of the message, in the order they appear."""
    return _walk(headers, body, content=True)


def outline(headers: list[tuple[str, str]], body: BinaryIO | None) -> list[Attachment]:
    """The attachments `walk` finds, with their names, types and paths, but not their
    content: no size, no sha256 (""), no archive members. What the summary line and the
    `attachment` fields need, for a fraction of the time: the content of an attachment
    is passed over at the speed of a search for the next boundary, never decoded."""
    return _walk(headers, body, content=False)


def _walk(headers: list[tuple[str, str]], body: BinaryIO | None,
          content: bool) -> list[Attachment]:
    shortcut = _shortcut(headers)
    if shortcut == _NOTHING or (shortcut == _PLAIN and not _has_uu_begin(body)):
        return []
    if not content and isinstance(body, io.BytesIO):
        quick = _quick_outline(headers, body.getvalue())
        if quick is not None:
            return quick
    walker = _Walker(content=content)
    walker.start(headers)
    if body is not None and not walker.idle():
        with contextlib.suppress(OSError, ValueError):  # a pipe: read from where it is
            body.seek(0)
        walker.read(body)
    return walker.finish()


_WALK, _PLAIN, _NOTHING = "walk", "plain", "nothing"


def _quick_outline(headers: list[tuple[str, str]], data: bytes) -> list[Attachment] | None:
    """The outline of the usual multipart message held in memory, found with a search per
    part, or None: the walker then reads it (and finds the same, as the tests hold it to).

    The usual message: multiparts with boundaries and leaves, every part's header block
    plain (`_Reader.header_block`), no enclosed message, no container with a file name, no
    digest, no `begin ` that could start a uuencoded file in a part the walker would read
    for one (plain text, not transfer-encoded, no attachment), no line as long as MAX_LINE
    where a delimiter or a header block stands, no more than a few levels and parts.
    Within that, what the walker does, step by step: a delimiter line is the earliest
    line that is one of the open delimiters (the innermost one matching), a separator
    opens the next part of its multipart and closes what was open inside it, a closing
    delimiter leaves the multipart's epilogue, content is passed over.
    """
    top = _describe(headers)
    if not (top.boundary and top.content_type.startswith("multipart/")) or top.attached \
            or top.content_type == "multipart/digest":
        return None
    found: list[Attachment] = []
    # The open multiparts, outermost first: [delimiter or None once closed, path, parts].
    stack: list[list[Any]] = [[b"--" + top.boundary, "", 0]]
    pos, lookalikes, parts = 0, 0, 0
    size = len(data)
    text_from = -1  # where the content of a part the walker reads for uuencoding starts
    while True:
        at, index, lookalikes = _quick_delimiter(data, pos, stack, lookalikes)
        if text_from != -1 and data.find(b"begin ", text_from, size if at == -1 else at) != -1:
            return None  # perhaps a uuencoded file: the walker decides
        text_from = -1
        if at == -1:
            return found if lookalikes <= MAX_LOOKALIKES else None
        eol = data.find(b"\n", at)
        end = size if eol == -1 else eol + 1
        if end - at >= MAX_LINE:
            return None
        del stack[index + 1 :]  # what was open inside ends here
        owner = stack[index]
        if data[at + len(owner[0]) : end].rstrip(b" \t\r\n") == b"--":
            owner[0] = None  # its epilogue follows
            pos = end
            continue
        owner[2] += 1
        parts += 1
        path = _join(owner[1], str(owner[2]))
        if parts > _QUICK_PARTS or len(stack) > _QUICK_DEPTH:
            return None
        if end >= size:
            return found  # cut off before its header block: no name to report
        if data.startswith(b"\n", end) or data.startswith(b"\r\n", end):
            block, pos = b"", end + (1 if data[end] == 0x0A else 2)
        else:
            block_end = plain_block_end(data, end, end + min(MAX_LINE, MAX_HEADER_BYTES))
            if block_end == -1 or data.startswith(b"--", end) \
                    or data.find(b"\n--", end, block_end) != -1:
                return None
            block, pos = data[end:block_end], block_end + (
                2 if data.startswith(b"\r\n", block_end) else 1)
        info = _block_info(block, "text/plain")
        if info.boundary and info.content_type.startswith("multipart/"):
            if info.attached or info.content_type == "multipart/digest":
                return None
            stack.append([b"--" + info.boundary, path, 0])
        elif info.content_type in _MESSAGE_TYPES:
            return None
        elif info.attached:
            found.append(_attachment(info, path, 0, ""))
        elif info.content_type == "text/plain" and info.encoding in _IDENTITY_ENCODINGS:
            text_from = pos  # as `_Walker._open_leaf` gives it a `_Uudecoder`


_QUICK_PARTS = 1000  # beyond these, the walker and its limits take over
_QUICK_DEPTH = 16


def _quick_delimiter(data: bytes, pos: int, stack: list[list[Any]],
                     lookalikes: int) -> tuple[int, int, int]:
    """(start of the next delimiter line, the index of its multipart, lookalikes seen so
    far), or -1 for none, as `_Reader._next_delimiter` and `_Walker._delimiter` decide."""
    at = pos
    if not data.startswith(b"--", at):
        at = data.find(b"\n--", at) + 1
        if not at:
            return -1, -1, lookalikes
    while True:
        for index in range(len(stack) - 1, -1, -1):
            delimiter = stack[index][0]
            if delimiter is not None and data.startswith(delimiter, at) \
                    and _DELIMITER_END.match(data, at + len(delimiter)):
                return at, index, lookalikes
        lookalikes += 1
        if lookalikes > MAX_LOOKALIKES:
            return -1, -1, lookalikes
        at = data.find(b"\n--", at) + 1
        if not at:
            return -1, -1, lookalikes


def _shortcut(headers: list[tuple[str, str]]) -> str:
    """What the top header block allows without parsing it (most mail is one text part).

    _WALK: a part may have a file name, parse and walk; _PLAIN: plain text,
    whose body needs a look for uuencoded files only; _NOTHING: no file can
    be in it. Conservative: any doubt says _WALK.
    """
    plain = True
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-disposition":
            return _WALK
        if lowered == "content-type":
            kind = value.lower()
            if "multipart" in kind or "message" in kind or "name" in kind:
                return _WALK
            plain = plain and "text/plain" in kind
        elif lowered == "content-transfer-encoding" and value.strip().lower() in _ENCODINGS:
            plain = False
    return _PLAIN if plain else _NOTHING


def _has_uu_begin(body: BinaryIO | None) -> bool:
    """Whether a line starts with `begin `: a cheap look before a walk of plain text."""
    if body is None:
        return False
    if not body.seekable():
        return True  # a pipe cannot be read twice: let the walk read it
    body.seek(0)
    before = b"\n"  # the body starts at a line start
    while block := body.read(_BLOCK):
        if (before + block).find(b"\nbegin ") != -1:
            return True
        before = block[-6:]
    return False


class _Info(NamedTuple):
    """What a part's header block says about it (a tuple: built for every part)."""

    content_type: str = "text/plain"
    boundary: bytes | None = None
    encoding: str = ""
    name: str = ""
    attached: bool = False  # named, or declared `Content-Disposition: attachment`


def _describe(fields: Iterable[tuple[str, str]], default_type: str = "text/plain") -> _Info:
    """Type, boundary, transfer encoding and file name from a header block."""
    found = mime_fields(fields)
    if sum(len(value) for value in found.values()) > _REMEMBERED_BYTES:
        return _read(found, default_type)
    return _remembered(tuple(found.items()), default_type)


# Most parts of most mail have the same few MIME fields (`text/plain; charset=utf-8`,
# `quoted-printable`): what they say is remembered, for fields of up to this many bytes.
_REMEMBERED_BYTES = 512


def _block_info(block: bytes, default_type: str) -> _Info:
    """`_describe` of a part's header block as it stands in the body."""
    if len(block) > _REMEMBERED_BYTES:
        return _describe(header_fields(block.split(b"\n")), default_type)
    return _remembered_block(block, default_type)


@functools.lru_cache(maxsize=1024)
def _remembered_block(block: bytes, default_type: str) -> _Info:
    return _describe(header_fields(block.split(b"\n")), default_type)


@functools.lru_cache(maxsize=1024)
def _remembered(found: tuple[tuple[str, str], ...], default_type: str) -> _Info:
    return _read(dict(found), default_type)


def _read(found: dict[str, str], default_type: str) -> _Info:
    try:
        fields = read_mime_fields(found, default_type)
    except Exception:  # the stdlib on crafted headers; the part stays anonymous
        return _Info(content_type=default_type)
    content_type, boundary, name = fields.content_type, fields.boundary, fields.name
    return _Info(
        content_type=content_type if content_type.isascii() else _text(content_type),
        boundary=_boundary_bytes(boundary) if boundary else None,
        encoding=fields.encoding,
        name=name,
        attached=bool(name) or fields.attachment,
    )


def _text(value: str) -> str:
    """A value the stdlib returned from `mime_header` (octets), as text."""
    return recover_text(from_octets(value))


def _boundary_bytes(boundary: str) -> bytes:
    """The boundary as the bytes that stand in the body."""
    return boundary.encode("ascii") if boundary.isascii() else raw_bytes(from_octets(boundary))


class _Decoder(Protocol):
    """Takes content in pieces that end at a line break or mid-line (a long line)."""

    def feed(self, data: bytes) -> bytes: ...

    def finish(self, keep_eol: bool) -> bytes: ...


def _split_eol(chunk: bytes) -> tuple[bytes, bytes]:
    if chunk.endswith(b"\r\n"):
        return chunk[:-2], b"\r\n"
    if chunk.endswith(b"\n"):
        return chunk[:-1], b"\n"
    return chunk, b""


class _Identity:
    """7bit, 8bit, binary and unknown encodings: the bytes themselves."""

    def __init__(self) -> None:
        self._eol = b""  # held back: the break before a boundary is not content

    def feed(self, data: bytes) -> bytes:
        content, eol = _split_eol(data)
        out = self._eol + content if self._eol else content
        self._eol = eol
        return out

    def finish(self, keep_eol: bool) -> bytes:
        return self._eol if keep_eol else b""


_QP_PADDING = re.compile(rb"[ \t]+(?=\r?\n)")


class _QuotedPrintable:
    """Soft breaks and escapes by the stdlib; an escape cut by a split waits."""

    def __init__(self) -> None:
        self._eol = b""
        self._carry = b""

    def feed(self, data: bytes) -> bytes:
        content, eol = _split_eol(self._carry + data)
        self._carry = b""
        if eol:
            content = content.rstrip(b" \t")
        else:
            cut = content.find(b"=", len(content) - 2)
            if cut != -1:
                content, self._carry = content[:cut], content[cut:]
        content = _QP_PADDING.sub(b"", content)  # trailing space is transport padding
        soft = bool(eol) and content.endswith(b"=")
        if soft:
            content = content[:-1]
        out = self._eol + binascii.a2b_qp(content)
        self._eol = b"" if soft else eol
        return out

    def finish(self, keep_eol: bool) -> bytes:
        return binascii.a2b_qp(self._carry) + (self._eol if keep_eol else b"")


class _Base64:
    """Line breaks carry no data in base64."""

    def __init__(self) -> None:
        self._decoder = Base64Decoder()

    def feed(self, data: bytes) -> bytes:
        return self._decoder.feed(data)

    def finish(self, keep_eol: bool) -> bytes:
        return self._decoder.flush()


def _decoder_for(encoding: str) -> _Decoder:
    if encoding == "base64":
        return _Base64()
    if encoding == "quoted-printable":
        return _QuotedPrintable()
    return _Identity()


@dataclass
class _Sink:
    """Size and hash of one attachment's decoded content, as it streams past."""

    info: _Info
    path: str
    decoder: _Decoder
    spool: archive.ZipSpool | None = None  # leaves only: a zip's member names
    size: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    def feed(self, data: bytes) -> None:
        self.take(self.decoder.feed(data))

    def close(self, keep_eol: bool) -> Attachment:
        self.take(self.decoder.finish(keep_eol))
        members = self.spool.members() if self.spool is not None else ()
        return _attachment(self.info, self.path, self.size, self.digest.hexdigest(), members)

    def take(self, data: bytes) -> None:
        """Decoded content."""
        if data:
            self.size += len(data)
            self.digest.update(data)
            if self.spool is not None:
                self.spool.feed(data)


class _Outline:
    """An attachment of an outline: its content is passed over, not read."""

    def __init__(self, info: _Info, path: str) -> None:
        self.info = info
        self.path = path

    def feed(self, data: bytes) -> None:
        pass

    def take(self, data: bytes) -> None:
        pass

    def close(self, keep_eol: bool) -> Attachment:
        return _attachment(self.info, self.path, 0, "")


def _attachment(
    info: _Info, path: str, size: int, sha256: str, members: tuple[str, ...] = ()
) -> Attachment:
    return Attachment(
        name=info.name,
        content_type=info.content_type,
        path=path,
        size=size,
        sha256=sha256,
        members=members,
    )


_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass
class _Entity:
    """A part, or a message (the top one, or one inside message/rfc822)."""

    path: str
    depth: int
    is_message: bool
    default_type: str = "text/plain"
    state: str = _HEADERS
    header: bytearray = field(default_factory=bytearray)
    collecting: bool = False  # the header line being read is kept
    first_line: bool = True
    delimiter: bytes | None = None  # b"--" + boundary, while the multipart is open
    children: int = 0
    child_type: str = "text/plain"
    sink: _Sink | _Outline | None = None
    slot: int = -1  # index of its attachment in the result, reserved in document order
    inner: _EncodedMessage | None = None  # a message/rfc822 leaf sent encoded
    uu: _Uudecoder | None = None  # a plain text leaf: uuencoded files in it


_UU_BEGIN = re.compile(rb"begin +[0-7]{3,4} +(\S[^\r\n]*)\r?\n?\Z")  # greedy: linear
_UU_END = re.compile(rb"end[ \t]*\r?\n?\Z")


class _Uudecoder:
    """uuencoded files (`begin 644 name` ... `end`) in a plain text body.

    Each block becomes an attachment of the text part, named by its begin
    line; lines that are not uuencoding are skipped, a block without its
    `end` ends with the part. Most text holds no block: a chunk without
    `begin ` at a line start costs one search.
    """

    def __init__(self, walker: _Walker, path: str) -> None:
        self._walker = walker
        self._path = path
        self._sink: _Sink | _Outline | None = None
        self._slot = -1
        self._line_start = True
        self._partial = b""  # a line cut by MAX_LINE, while in a block

    def feed(self, data: bytes) -> None:
        if self._sink is None:
            if not self._line_start:
                cut = data.find(b"\n") + 1
                if cut == 0:
                    return
                data = data[cut:]
                self._line_start = True
            if not data.startswith(b"begin ") and data.find(b"\nbegin ") == -1:
                self._line_start = data.endswith(b"\n") or not data
                return
        for line in data.splitlines(keepends=True):
            self._line(line)

    def close(self) -> None:
        if self._sink is not None:
            self._end_block()

    def _line(self, line: bytes) -> None:
        whole = self._line_start
        self._line_start = line.endswith(b"\n")
        if self._sink is None:
            if whole and (begin := _UU_BEGIN.match(line)):
                self._begin(bytes_to_text(begin.group(1).rstrip(b" \t")))
            return
        if not whole:
            return  # the rest of a line longer than MAX_LINE: no uuencoding
        if _UU_END.match(line):
            self._end_block()
            return
        if self._walker.content:
            self._sink.take(_uu_line(line.rstrip(b"\r\n")))

    def _begin(self, name: str) -> None:
        limits = self._walker.limits
        limits.parts += 1
        if limits.parts > MAX_PARTS:
            self._walker.stopped = True
            return
        info = _Info(content_type="application/octet-stream", name=name, attached=True)
        self._sink = self._walker.sink_for(info, self._path, "", listed=True)
        self._slot = self._walker._reserve()

    def _end_block(self) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:
            self._walker.found[self._slot] = sink.close(keep_eol=False)


def _uu_line(line: bytes) -> bytes:
    """One uuencoded line; what follows the count is ignored, a line that is none gives b""."""
    if not line or line[0] < 0x20 or line[0] > 0x60:
        return b""
    count = (line[0] - 0x20) & 0x3F
    try:
        return binascii.a2b_uu(line[: 1 + (count * 4 + 2) // 3])
    except binascii.Error:
        return b""


class _Limits:
    """What the walk of one message may still spend, enclosed messages included."""

    def __init__(self) -> None:
        self.parts = 0  # parts (and messages) opened so far
        self.encoded_bytes = MAX_ENCODED_MESSAGE_BYTES  # decoded of encoded messages
        self.budget = archive.Budget()  # archive listing


class _EncodedMessage:
    """The decoded bytes of a message/rfc822 part sent in base64 or quoted-printable.

    Kept (in memory, then in an anonymous temporary file) until the part
    ends, then walked like any forwarded message. What goes past the
    message's share of MAX_ENCODED_MESSAGE_BYTES is not kept: the inner
    message is walked as far as it was kept.
    """

    def __init__(self, encoding: str, limits: _Limits) -> None:
        self._decoder = _decoder_for(encoding)
        self._limits = limits
        self._file: tempfile.SpooledTemporaryFile[bytes] | None = None

    def feed(self, data: bytes) -> None:
        self._keep(self._decoder.feed(data))

    def finish(self) -> BinaryIO | None:
        """The decoded message, from its start; the caller closes it. None if nothing was kept."""
        self._keep(self._decoder.finish(keep_eol=True))
        fp, self._file = self._file, None
        if fp is not None:
            fp.seek(0)
        return fp  # type: ignore[return-value]

    def discard(self) -> None:
        fp, self._file = self._file, None
        if fp is not None:
            fp.close()

    def _keep(self, data: bytes) -> None:
        room = self._limits.encoded_bytes
        if not data or room <= 0:
            return
        data = data[:room]
        self._limits.encoded_bytes -= len(data)
        try:
            if self._file is None:
                self._file = tempfile.SpooledTemporaryFile(  # noqa: SIM115
                    max_size=SPOOL_IN_MEMORY, prefix="mailspy-msg-"
                )
            self._file.write(data)
        except OSError:  # no room on disk: this message is not walked, mail flows
            self._limits.encoded_bytes = 0
            self.discard()


def _join(path: str, number: str) -> str:
    return f"{path}.{number}" if path else number


class _Reader:
    """Buffered lines, and runs of whole lines that cannot hold a boundary.

    Runs let content go to the decoders in blocks instead of line by line;
    a line is never longer than MAX_LINE (a longer one comes in pieces), so
    memory stays bounded whatever the body holds.
    """

    def __init__(self, fp: BinaryIO) -> None:
        self._fp = fp
        self._buf = b""
        self._pos = 0
        self._eof = False
        self.at_line_start = True
        self._lookalikes = 0  # lines that started like a delimiter and were none
        self.at_delimiter = False  # the last run stopped at what may be a delimiter

    def line(self) -> bytes:
        """The next line with its line break, a MAX_LINE piece of one, or b"" at the end."""
        while True:
            end = self._buf.find(b"\n", self._pos, self._pos + MAX_LINE)
            if end != -1:
                return self._take(end + 1)
            if len(self._buf) - self._pos >= MAX_LINE:
                return self._take(self._pos + MAX_LINE)
            if not self._fill():
                return self._take(len(self._buf))

    def run(self, delimiters: tuple[bytes, ...]) -> bytes:
        """Whole lines up to the next open delimiter; b"" if none are buffered."""
        end = self._run_end(delimiters)
        return self._take(end) if end > self._pos else b""

    def skip(self, delimiters: tuple[bytes, ...]) -> bool:
        """`run`, for content nobody reads: passed over, never copied."""
        end = self._run_end(delimiters)
        if end <= self._pos:
            return False
        self._pos = end
        self.at_line_start = True
        return True

    def _run_end(self, delimiters: tuple[bytes, ...]) -> int:
        if len(self._buf) - self._pos < MAX_LINE:
            self._fill()
        if not self.at_line_start:
            return -1
        end = self._next_delimiter(delimiters)
        self.at_delimiter = end != -1
        if end == -1:
            end = self._buf.rfind(b"\n", self._pos) + 1
        return end

    def header_block(self, limit: int) -> bytes | None:
        """A whole header block at once, without its blank line (consumed too), when it
        is buffered whole, shorter than `limit`, and reads line by line as fields and
        continuations only, none of them starting like a delimiter (`--`: a boundary
        may hold a colon); None otherwise, and nothing is consumed: read it line by
        line. (A mailbox's `From ` line reads as a field only as `From :`, a field the
        walk ignores either way.)"""
        if not self.at_line_start:
            return None
        if len(self._buf) - self._pos < MAX_LINE:
            self._fill()
        buf, pos = self._buf, self._pos
        end = plain_block_end(buf, pos, pos + min(MAX_LINE, limit))
        if end == -1 or buf.startswith(b"--", pos) or buf.find(b"\n--", pos, end) != -1:
            return None
        self._pos = end + (2 if buf.startswith(b"\r\n", end) else 1)
        return buf[pos:end]

    def _next_delimiter(self, delimiters: tuple[bytes, ...]) -> int:
        """Start of the next line that is (or, cut by the buffer's end, may be) a
        delimiter, or -1.

        Lines starting with `--` are found with `bytes.find`, memchr-fast, and checked
        against the open delimiters: no regex to compile for a message's own boundaries.
        A body crafted full of `--` lines costs, after the first MAX_LOOKALIKES, one
        regex scan per buffer, never a Python step per line.
        """
        if not delimiters:
            return -1
        if self._lookalikes > MAX_LOOKALIKES:
            return self._delimiter_by_regex(delimiters)
        buf, at = self._buf, self._pos
        if not buf.startswith(b"--", at):
            at = buf.find(b"\n--", at) + 1
            if not at:
                return -1
        while True:
            for delimiter in delimiters:
                if buf.startswith(delimiter, at) and _DELIMITER_END.match(buf, at + len(delimiter)):
                    return at
            self._lookalikes += 1
            if self._lookalikes > MAX_LOOKALIKES:
                return self._delimiter_by_regex(delimiters)
            at = buf.find(b"\n--", at) + 1
            if not at:
                return -1

    def _delimiter_by_regex(self, delimiters: tuple[bytes, ...]) -> int:
        stop = _stop_pattern(delimiters)
        buf, pos = self._buf, self._pos
        if buf.startswith(b"--", pos):
            first = pos
        else:
            first = buf.find(b"\n--", pos)
            if first == -1:
                return -1
            first += 1
        if stop.match(buf, first):
            return first
        found = stop.search(buf, first)
        return found.start() if found else -1

    def _take(self, end: int) -> bytes:
        chunk = self._buf[self._pos : end]
        self._pos = end
        if chunk:
            self.at_line_start = chunk.endswith(b"\n")
        return chunk

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._fp.read(_BLOCK)
        if not data:
            self._eof = True
            return False
        self._buf = self._buf[self._pos :] + data
        self._pos = 0
        return True


# What may follow a delimiter on its line: `--` for the closing one, then transport
# padding, then the line's end (or the buffer's, where the line may go on).
_DELIMITER_END = re.compile(rb"(?:--)?[ \t\r]*+(?:\n|\Z)")
MAX_LOOKALIKES = 64  # per body, before the regex takes over


@functools.lru_cache(maxsize=256)
def _stop_pattern(delimiters: tuple[bytes, ...]) -> re.Pattern[bytes]:
    """Lines that are one of the open delimiters (separator or close)."""
    alternatives = b"|".join(re.escape(d) for d in sorted(set(delimiters), key=len, reverse=True))
    return re.compile(rb"(?m)^(?:" + alternatives + rb")(?:--)?[ \t\r]*$")


class _Walker:
    """The boundary scanner: a stack of open entities, the innermost last."""

    def __init__(self, limits: _Limits | None = None, content: bool = True) -> None:
        self.stack: list[_Entity] = []
        self.found: list[Attachment | None] = []
        self.raw_sinks: list[_Sink] = []  # containers that are attachments, in stack order
        self.limits = limits if limits is not None else _Limits()
        self.content = content  # False: an outline (no size, hash or archive listing)
        self.stopped = False
        self.delimiters: tuple[bytes, ...] = ()  # of the open multiparts

    def _delimiters_changed(self) -> None:
        self.delimiters = tuple(e.delimiter for e in self.stack if e.delimiter)

    def start(self, headers: list[tuple[str, str]]) -> None:
        top = _Entity(path="", depth=0, is_message=True)
        self.stack.append(top)
        self._open_body(top, _describe(headers))

    def idle(self) -> bool:
        """True when the body cannot hold an attachment: one leaf that is no attachment, open
        before a byte is read (most mail), so the body is not read at all."""
        top = self.stack[-1]
        return len(self.stack) == 1 and top.state == _BODY \
            and (top.sink is None or not self.content) and top.inner is None \
            and top.uu is None and not self.raw_sinks

    def read(self, body: BinaryIO) -> None:
        reader = _Reader(body)
        while not self.stopped:
            top = self.stack[-1]
            if top.state != _HEADERS:
                if not self.content and top.inner is None and top.uu is None:
                    moved = reader.skip(self.delimiters)  # an outline reads no content
                else:
                    run = reader.run(self.delimiters)
                    moved = bool(run)
                    if moved:
                        self._content(top, run)
                if moved and not reader.at_delimiter:
                    continue  # else its line comes next: no second search for it
            elif top.first_line and not self.raw_sinks:
                block = reader.header_block(MAX_HEADER_BYTES)
                if block is not None:  # what _header_line would keep of it, line by line
                    top.first_line = False
                    self._open_body(top, _block_info(block, top.default_type))
                    continue
            line_start = reader.at_line_start
            chunk = reader.line()
            if not chunk:
                return
            # A boundary is a whole line: never the piece of a longer one.
            whole = line_start and (chunk.endswith(b"\n") or len(chunk) < MAX_LINE)
            if whole and chunk.startswith(b"--") and self._delimiter(chunk):
                continue
            self._dispatch(chunk, line_start)

    def finish(self) -> list[Attachment]:
        self._close_from(0, at_boundary=False)
        return [a for a in self.found if a is not None]

    # -- boundaries ---------------------------------------------------------

    def _delimiter(self, chunk: bytes) -> bool:
        candidate = chunk.rstrip(b" \t\r\n")
        for index in range(len(self.stack) - 1, -1, -1):
            delimiter = self.stack[index].delimiter
            if delimiter is None or not candidate.startswith(delimiter):
                continue
            rest = candidate[len(delimiter) :]
            if rest in (b"", b"--"):
                self._on_delimiter(index, rest == b"--", chunk)
                return True
        return False

    def _on_delimiter(self, index: int, closing: bool, chunk: bytes) -> None:
        self._close_from(index + 1, at_boundary=True)
        self._feed_raw(chunk)
        owner = self.stack[index]
        if closing:
            owner.delimiter = None  # what follows is epilogue
            self._delimiters_changed()
            return
        owner.children += 1
        child = _Entity(
            path=_join(owner.path, str(owner.children)),
            depth=owner.depth + 1,
            is_message=False,
            default_type=owner.child_type,
        )
        self._push(child)

    def _push(self, entity: _Entity) -> None:
        self.limits.parts += 1
        if self.limits.parts > MAX_PARTS:
            self.stopped = True
            return
        self.stack.append(entity)

    # -- lines --------------------------------------------------------------

    def _dispatch(self, chunk: bytes, line_start: bool) -> None:
        top = self.stack[-1]
        if top.state == _HEADERS:
            self._header_line(top, chunk, line_start)
        else:
            self._content(top, chunk)

    def _content(self, top: _Entity, data: bytes) -> None:
        self._feed_raw(data)
        if top.state == _BODY:
            if top.sink is not None:
                top.sink.feed(data)
            if top.inner is not None:
                top.inner.feed(data)
            if top.uu is not None:
                top.uu.feed(data)

    def _feed_raw(self, data: bytes) -> None:
        for sink in self.raw_sinks:
            sink.feed(data)

    def _header_line(self, top: _Entity, line: bytes, line_start: bool) -> None:
        if line_start:
            kind = line_kind(line)
            if top.first_line and top.is_message and line.startswith(b"From "):
                kind = "mbox"  # a forwarded mailbox entry keeps its separator
            top.first_line = False
            if kind == "body":  # no blank line: this line already is the body
                self._end_headers(top)
                self._dispatch(line, line_start)
                return
            self._feed_raw(line)
            if kind == "end":
                self._end_headers(top)
                return
            top.collecting = kind == "field" or (kind == "continuation" and bool(top.header))
        else:
            self._feed_raw(line)
        if top.collecting:
            room = MAX_HEADER_BYTES - len(top.header)
            top.header += line[: max(room, 0)]

    def _end_headers(self, entity: _Entity) -> None:
        info = self._header_info(entity)
        self._open_body(entity, info)

    def _header_info(self, entity: _Entity) -> _Info:
        block = bytes(entity.header)
        entity.header = bytearray()
        return _block_info(block, entity.default_type)

    # -- opening and closing entities --------------------------------------

    def _open_body(self, entity: _Entity, info: _Info) -> None:
        shallow = entity.depth < MAX_DEPTH
        if info.boundary and info.content_type.startswith("multipart/") and shallow:
            entity.state = _CONTAINER
            entity.delimiter = b"--" + info.boundary
            self._delimiters_changed()
            if info.content_type == "multipart/digest":
                entity.child_type = "message/rfc822"
            self._name_container(entity, info, "TEXT")
        elif info.content_type in _MESSAGE_TYPES and info.encoding in _IDENTITY_ENCODINGS:
            if not shallow:
                self._open_leaf(entity, info)
                return
            entity.state = _CONTAINER
            self._name_container(entity, info, "1")
            inner = _join(entity.path, "1") if entity.is_message else entity.path
            self._push(_Entity(path=inner, depth=entity.depth + 1, is_message=True))
        else:
            self._open_leaf(entity, info)
            if info.content_type in _MESSAGE_TYPES and info.encoding in _ENCODINGS and shallow:
                entity.inner = _EncodedMessage(info.encoding, self.limits)

    def _open_leaf(self, entity: _Entity, info: _Info) -> None:
        entity.state = _BODY
        path = _join(entity.path, "1") if entity.is_message else entity.path
        if info.attached:
            entity.sink = self.sink_for(info, path, info.encoding, listed=True)
            entity.slot = self._reserve()
        elif info.content_type == "text/plain" and info.encoding in _IDENTITY_ENCODINGS:
            entity.uu = _Uudecoder(self, path)

    def _name_container(self, entity: _Entity, info: _Info, message_suffix: str) -> None:
        if not info.attached:
            return
        path = _join(entity.path, message_suffix) if entity.is_message else entity.path
        sink = self.sink_for(info, path, "", listed=False)
        entity.sink = sink
        entity.slot = self._reserve()
        if isinstance(sink, _Sink):
            self.raw_sinks.append(sink)

    def sink_for(self, info: _Info, path: str, encoding: str,
                 listed: bool) -> _Sink | _Outline:
        """Where an attachment's content goes: decoded, hashed and (`listed`, for a leaf
        that may be a zip) listed, or nowhere in an outline."""
        if not self.content:
            return _Outline(info, path)
        spool = archive.ZipSpool.for_part(info.content_type, info.name, self.limits.budget) \
            if listed else None
        return _Sink(info, path, _decoder_for(encoding), spool)

    def _reserve(self) -> int:
        self.found.append(None)
        return len(self.found) - 1

    def _close_from(self, index: int, at_boundary: bool) -> None:
        """Close the entities from `index` up: a boundary or the end was reached."""
        closed_delimiter = False
        while len(self.stack) > index:
            entity = self.stack.pop()
            closed_delimiter = closed_delimiter or entity.delimiter is not None
            if entity.state == _HEADERS:
                self._close_unopened(entity)
                continue
            if entity.sink is not None:
                if self.raw_sinks and self.raw_sinks[-1] is entity.sink:
                    self.raw_sinks.pop()
                # At the very end, a final line break is content unless a
                # boundary was still owed (the break would have belonged to it).
                keep_eol = not at_boundary and not any(e.delimiter for e in self.stack)
                self.found[entity.slot] = entity.sink.close(keep_eol)
            if entity.inner is not None:
                self._walk_encoded(entity, entity.inner)
            if entity.uu is not None:
                entity.uu.close()
        if closed_delimiter:
            self._delimiters_changed()

    def _walk_encoded(self, entity: _Entity, encoded: _EncodedMessage) -> None:
        """Walk a decoded message/rfc822 part as the message it holds, under its path."""
        if self.stopped:
            encoded.discard()
            return
        fp = encoded.finish()
        if fp is None:
            return
        inner = _Walker(self.limits, self.content)
        path = _join(entity.path, "1") if entity.is_message else entity.path
        inner.stack.append(_Entity(path=path, depth=entity.depth + 1, is_message=True))
        with fp:
            inner.read(fp)
        self.found.extend(inner.finish())
        self.stopped = self.stopped or inner.stopped

    def _close_unopened(self, entity: _Entity) -> None:
        """A part cut off inside its header block: an attachment, but empty."""
        info = self._header_info(entity)
        if not info.attached:
            return
        multipart = info.content_type.startswith("multipart/") and info.boundary
        suffix = "TEXT" if multipart else "1"
        path = _join(entity.path, suffix) if entity.is_message else entity.path
        self.found.append(_attachment(info, path, 0, _EMPTY_SHA256 if self.content else ""))
