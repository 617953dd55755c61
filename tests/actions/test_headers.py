"""log-headers: the original's mbox-like header block, unable to be forged."""

import io
import mailbox

from mailspy.actions.headers import format_header_block, log_headers
from mailspy.actions.logfile import LogFile
from mailspy.message.model import Envelope, Message

NOV_5_2026 = 1793869623.5  # Thu Nov  5 09:07:03 2026 UTC


def _message(headers, mail_from="<alice@example.org>", queue_id="4XyZ1"):
    return Message(
        envelope=Envelope(mail_from=mail_from, rcpt_to=["<bob@example.com>"], queue_id=queue_id),
        headers=headers,
        body=io.BytesIO(b"body\r\n"),
        body_size=6,
        received_at=NOV_5_2026,
    )


def test_exact_block_with_fold_and_8bit_header():
    subject = b"Gr\xfc\xdfe aus\n\tK\xf6ln".decode("utf-8", "surrogateescape")
    msg = _message([("Received", "from a by b;\n\tThu, 5 Nov 2026"), ("Subject", subject)])
    assert format_header_block(msg) == (
        b"From alice@example.org Thu Nov  5 09:07:03 2026\n"
        b"X-Timestamp: 1793869623\n"
        b"X-Queue-Id: 4XyZ1\n"
        b"Received: from a by b;\n\tThu, 5 Nov 2026\n"
        b"Subject: Gr\xfc\xdfe aus\n\tK\xf6ln\n"
        b"\n"
    )


def test_bounce_sender_is_mailer_daemon():
    block = format_header_block(_message([("Subject", "x")], mail_from="<>"))
    assert block.startswith(b"From MAILER-DAEMON Thu Nov  5 09:07:03 2026\n")


def test_forged_from_line_and_header_become_continuations():
    msg = _message([("Subject", "a\nFrom evil Thu Nov  5 09:07:03 2026"), ("To", "a\r\nBcc: x")])
    block = format_header_block(msg)
    assert block == (
        b"From alice@example.org Thu Nov  5 09:07:03 2026\n"
        b"X-Timestamp: 1793869623\n"
        b"X-Queue-Id: 4XyZ1\n"
        b"Subject: a\n From evil Thu Nov  5 09:07:03 2026\n"
        b"To: a\n Bcc: x\n"
        b"\n"
    )


def test_nul_is_escaped_and_bare_cr_dropped():
    block = format_header_block(_message([("Subject", "a\x00b\rc")]))
    assert b"Subject: a\\x00bc\n" in block


def test_hostile_sender_cannot_break_the_from_line():
    block = format_header_block(_message([("Subject", "x")], mail_from="<a\r\nX-Evil: 1>"))
    assert block.split(b"\n")[:3] == [
        b"From a\\x20\\x20X-Evil:\\x201 Thu Nov  5 09:07:03 2026",
        b"X-Timestamp: 1793869623",
        b"X-Queue-Id: 4XyZ1",
    ]


def test_log_reads_back_as_mbox_with_no_forged_message_or_header(tmp_path):
    path = tmp_path / "headers"
    logfile = LogFile(path)
    log_headers(logfile, _message([("Subject", "a\nFrom evil Thu Nov  5 09:07:03 2026")]))
    log_headers(logfile, _message([("Subject", "two"), ("To", "a\r\nBcc: x")], mail_from="<>"))
    logfile.close()
    box = mailbox.mbox(path, create=False)
    messages = list(box)
    assert len(messages) == 2
    assert [m.get_from() for m in messages] == [
        "alice@example.org Thu Nov  5 09:07:03 2026",
        "MAILER-DAEMON Thu Nov  5 09:07:03 2026",
    ]
    assert messages[0]["X-Timestamp"] == "1793869623"
    assert messages[0]["X-Queue-Id"] == "4XyZ1"
    assert messages[1]["Bcc"] is None
    assert messages[1]["To"] == "a\n Bcc: x"


def test_the_queue_id_line_is_always_there_empty_when_the_mta_gave_none():
    block = format_header_block(_message([("Subject", "x")], queue_id=""))
    assert block.split(b"\n")[1:4] == [b"X-Timestamp: 1793869623", b"X-Queue-Id:", b"Subject: x"]


def test_a_hostile_queue_id_cannot_add_a_header_or_a_message():
    block = format_header_block(_message([("Subject", "x")],
                                         queue_id="Q1\nBcc: evil@x\n\nFrom a b"))
    assert block.split(b"\n")[2:4] == [b"X-Queue-Id: Q1 Bcc: evil@x  From a b", b"Subject: x"]


def test_the_messages_own_queue_id_or_timestamp_header_comes_after_mailspys(tmp_path):
    """A reader takes the first X-Timestamp: and X-Queue-Id: of a block: mailspy's."""
    path = tmp_path / "headers"
    logfile = LogFile(path)
    log_headers(logfile, _message([("X-Queue-Id", "FORGED"), ("X-Timestamp", "0"),
                                   ("Subject", "x")]))
    logfile.close()
    [message] = list(mailbox.mbox(path, create=False))
    assert message.keys() == ["X-Timestamp", "X-Queue-Id", "X-Queue-Id", "X-Timestamp",
                              "Subject"]
    assert (message["X-Queue-Id"], message["X-Timestamp"]) == ("4XyZ1", "1793869623")
    assert message.get_all("X-Queue-Id") == ["4XyZ1", "FORGED"]
