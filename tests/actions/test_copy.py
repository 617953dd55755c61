"""write_copy(): the message as handed over, LF line ends, streamed."""

import email
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailspy.actions.copy import body_lf_chunks, write_copy
from mailspy.message.model import Envelope, Message


def _message(headers=(("Subject", "Hi"),), body=b"one\r\ntwo\r\n"):
    return Message(
        envelope=Envelope("<a@example.org>", ["<b@example.com>"]),
        headers=list(headers),
        body=None if body is None else io.BytesIO(body),
        body_size=0 if body is None else len(body),
    )


def _copy(message, **kwargs) -> bytes:
    out = io.BytesIO()
    written = write_copy(message, out, **kwargs)
    assert written == len(out.getvalue())
    return out.getvalue()


def test_exact_copy_with_prefix_headers_and_lf_body():
    msg = _message(
        headers=[("From", "a@example.org"), ("Received", "from x\r\n\tby y"), ("Subject", "Hi")],
        body=b"one\r\ntwo\r\n",
    )
    msg.body.seek(0, io.SEEK_END)  # a reader left it at the end: the copy must rewind
    assert _copy(msg, prefix=[("Return-Path", "<a@example.org>")]) == (
        b"Return-Path: <a@example.org>\n"
        b"From: a@example.org\n"
        b"Received: from x\n\tby y\n"
        b"Subject: Hi\n"
        b"\n"
        b"one\ntwo\n"
    )


def test_8bit_header_bytes_are_restored():
    subject = b"Gr\xfc\xdfe".decode("utf-8", "surrogateescape")
    assert _copy(_message(headers=[("Subject", subject)], body=b"")) == b"Subject: Gr\xfc\xdfe\n\n"


def test_no_body_gives_headers_and_blank_line():
    assert _copy(_message(body=None)) == b"Subject: Hi\n\n"


@pytest.mark.parametrize("chunk_size", range(1, 12))
def test_crlf_split_across_chunks_is_converted(chunk_size):
    body = b"a\r\nb\r\r\nc\r\n\r\nd\re\r"
    chunks = list(body_lf_chunks(io.BytesIO(body), chunk_size))
    assert b"".join(chunks) == b"a\nb\r\nc\n\nd\re\r"
    assert all(chunks)


@given(st.binary(max_size=200).map(lambda b: bytes(b"\r\na"[x % 3] for x in b)), st.integers(1, 9))
def test_any_chunking_equals_converting_the_whole_body(body, chunk_size):
    out = b"".join(body_lf_chunks(io.BytesIO(body), chunk_size))
    assert out == body.replace(b"\r\n", b"\n")


class _ShortReader(io.RawIOBase):
    """Returns at most 3 bytes per read and records what was asked for."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.requests: list[int] = []

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        return self._data.seek(offset, whence)

    def read(self, size=-1):
        self.requests.append(size)
        return self._data.read(min(size, 3))


def test_body_is_read_in_bounded_chunks_and_short_reads_are_fine():
    body = b"x\r\n" * 1000
    reader = _ShortReader(body)
    msg = _message(body=None)
    msg.body = reader
    out = _copy(msg, chunk_size=16)
    assert out == b"Subject: Hi\n\n" + b"x\n" * 1000
    assert set(reader.requests) == {16}


def test_hostile_prefix_values_cannot_add_headers():
    msg = _message()
    out = _copy(
        msg,
        prefix=[
            ("Return-Path", "<a\r\nBcc: evil@x>"),
            ("X-Mailspy-Envelope-To", "<b\nX-Evil: 1\x00>"),
        ],
    )
    assert out.split(b"\n")[:3] == [
        b"Return-Path: <a  Bcc: evil@x>",
        b"X-Mailspy-Envelope-To: <b X-Evil: 1\\x00>",
        b"Subject: Hi",
    ]
    parsed = email.message_from_bytes(out)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None


def test_hostile_header_values_stay_inside_their_header():
    msg = _message(headers=[("Subject", "a\nBcc: evil@x\n\nfake body"), ("To", "b@example.com")])
    parsed = email.message_from_bytes(_copy(msg))
    assert parsed["Bcc"] is None
    assert parsed["To"] == "b@example.com"
    assert parsed.get_payload() == "one\ntwo\n"
