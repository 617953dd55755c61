"""CR, LF, tab and control characters can never forge or split a log line.

Property tests over the two log formats, with arbitrary envelopes, subjects
(raw, and as RFC 2047 words that *decode* to line breaks), attachment names,
header names and values:

- the summary is exactly one line, of exactly 6 + recipients + files
  tab-separated fields, each with its prefix, and no value is cut short;
- the header block reads back with `mailbox.mbox` as exactly one message
  whose header names are the names given (controls, space and colon shown
  as `\\xNN`), in order, with every value's visible bytes kept, and no line
  but the first starts with `From `.
"""

from __future__ import annotations

import base64
import mailbox
import re
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailspy.actions.headers import format_header_block
from mailspy.actions.summary import format_summary
from mailspy.message.model import Attachment, Envelope, Message
from tests.robustness.harness import neutralised_name

SETTINGS = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Everything a reader might take as the end of a field, a line or a record.
BREAKERS = ["\r\n", "\n", "\r", "\t", "\x00", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85",
            "\u2028", "\u2029", "\x1b[2J", "\x7f", "\\", "From ", "\nFrom x Mon Jan  1 00:00:00",
            "\n\n", ":", " ", ">From ", "\udcff", "\udc80", "time=1", "to=<x>", "file=y"]

hostile_text = st.lists(
    st.one_of(st.sampled_from(BREAKERS), st.text(max_size=8),
              st.binary(max_size=8).map(lambda b: b.decode("utf-8", "surrogateescape"))),
    max_size=10,
).map("".join)


@st.composite
def raw_subjects(draw: st.DrawFn) -> str:
    """A Subject as pymilter hands it over: raw text, or encoded words hiding breaks."""
    text = draw(hostile_text)
    if draw(st.booleans()):
        return text
    data = text.encode("utf-8", "surrogateescape")
    return f"=?utf-8?b?{base64.b64encode(data).decode()}?="


_DATE = re.compile(r"\d\d-\d\d-\d\d \d\d:\d\d")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


@SETTINGS
@given(mail_from=hostile_text, rcpt_to=st.lists(hostile_text, max_size=4),
       subject=raw_subjects(), files=st.lists(hostile_text, max_size=4),
       queue_id=hostile_text, received_at=st.floats(min_value=0, max_value=2**32))
def test_a_summary_is_one_line_of_the_expected_fields(
        mail_from: str, rcpt_to: list[str], subject: str, files: list[str], queue_id: str,
        received_at: float) -> None:
    message = Message(Envelope(mail_from, rcpt_to, queue_id), [("Subject", subject)],
                      body_size=42, received_at=received_at)
    message.attachments = [Attachment(name) for name in files]  # as the MIME walk found them

    line = format_summary(message)

    assert line.endswith("\n") and line.count("\n") == 1 and "\r" not in line
    assert len(line.splitlines()) == 1
    line.encode("utf-8")  # strict: no lone surrogate
    fields = line[:-1].split("\t")
    assert len(fields) == 6 + len(rcpt_to) + len(files)
    assert _DATE.fullmatch(fields[0])
    assert fields[1] == f"time={int(received_at)}"
    expected = [("from=<", message.envelope.sender),
                *[("to=<", r) for r in message.envelope.recipients], ("size=", "42"),
                ("subject=", message.subject), *[("file=", f) for f in files],
                ("queue=", queue_id)]
    for value, (prefix, original) in zip(fields[2:], expected, strict=True):
        assert value.startswith(prefix)
        assert _UNSAFE.search(value) is None
        assert len(value) - len(prefix) >= len(original)  # never cut short


def read_back(block: bytes) -> list[mailbox.mboxMessage]:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "headers.log"
        path.write_bytes(block)
        box = mailbox.mbox(path, create=False)
        try:
            return list(box)
        finally:
            box.close()


def visible(raw: bytes) -> bytes:
    return re.sub(rb"[ \t\r\n]", b"", raw)


# Names as an MTA or a message file can deliver them: ASCII, controls included.
ascii_names = st.text(st.characters(max_codepoint=0x7F), min_size=1, max_size=20)


@SETTINGS
@given(sender=hostile_text,
       headers=st.lists(st.tuples(st.one_of(ascii_names, st.sampled_from(["From ", "From"])),
                                  hostile_text), max_size=8),
       queue_id=hostile_text, received_at=st.floats(min_value=0, max_value=2**32))
def test_a_header_block_reads_back_as_one_message_with_the_names_given(
        sender: str, headers: list[tuple[str, str]], queue_id: str, received_at: float) -> None:
    message = Message(Envelope(sender, queue_id=queue_id), headers, received_at=received_at)

    block = format_header_block(message)

    lines = block.split(b"\n")
    date = time.asctime(time.gmtime(received_at)).encode()
    assert lines[0].startswith(b"From ") and lines[0].endswith(b" " + date)
    assert lines[0].isascii() and b" " not in lines[0][5:-len(date) - 1]  # one ASCII word
    assert [line for line in lines[1:] if line.startswith(b"From ")] == []
    assert block.endswith(b"\n\n") and block.find(b"\n\n") == len(block) - 2
    [parsed] = read_back(block)
    names = [neutralised_name(name) for name, _ in headers]
    assert parsed.keys() == ["X-Timestamp", "X-Queue-Id", *names]
    assert parsed.get_payload() == ""
    for (_, value), (_, read) in zip(headers, list(parsed.raw_items())[2:], strict=True):
        sent = value.encode("utf-8", "surrogateescape").replace(b"\x00", b"\\x00")
        assert visible(read.encode("ascii", "surrogateescape")) == visible(sent)


def test_a_non_ascii_header_name_does_not_end_the_header_block() -> None:
    """mbox readers take only ASCII names as header lines: 8-bit bytes are escaped."""
    message = Message(Envelope("<a@x>"), [("Näme", "v"), ("Subject", "s")], received_at=0)
    [parsed] = read_back(format_header_block(message))
    assert parsed.keys() == ["X-Timestamp", "X-Queue-Id", "N\\xc3\\xa4me", "Subject"]


def test_a_utf8_envelope_sender_keeps_the_header_log_readable() -> None:
    """SMTPUTF8 senders are real: mailbox.mbox reads the `From ` line as ASCII."""
    message = Message(Envelope("<jörg@exämple.org>"), [("Subject", "s")], received_at=0)
    [parsed] = read_back(format_header_block(message))
    assert parsed.keys() == ["X-Timestamp", "X-Queue-Id", "Subject"]
    assert parsed.get_from().split(" ")[0] == "j\\xf6rg@ex\\xe4mple.org"
