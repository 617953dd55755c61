"""log-summary: the original's tab-separated line, values neutralised."""

import io

from mailspy.actions.logfile import LogFile
from mailspy.actions.summary import format_summary, log_summary
from mailspy.message.model import Attachment, Envelope, Message

NOV_26_2026_NOON = 1795694400.75  # Thu Nov 26 12:00:00.75 2026 UTC


def _message(
    mail_from="<alice@example.org>", rcpt_to=("<bob@example.com>",), subject="Hello", files=(),
    queue_id="4XyZ1",
):
    body = b"line one\r\nline two\r\n"
    msg = Message(
        envelope=Envelope(mail_from=mail_from, rcpt_to=list(rcpt_to), queue_id=queue_id),
        headers=[("From", "alice@example.org"), ("Subject", subject)],
        body=io.BytesIO(body),
        body_size=len(body),
        received_at=NOV_26_2026_NOON,
    )
    msg.__dict__["subject"] = subject
    msg.__dict__["attachments"] = [Attachment(name=name) for name in files]
    return msg


def test_exact_line_with_two_recipients_and_two_attachments():
    msg = _message(
        rcpt_to=["<bob@example.com>", "<carol@example.com>"],
        subject="Invoice 7",
        files=["invoice.pdf", "terms.txt"],
    )
    assert format_summary(msg) == (
        "26-11-26 12:00\ttime=1795694400\tfrom=<alice@example.org>"
        "\tto=<bob@example.com>\tto=<carol@example.com>\tsize=20"
        "\tsubject=Invoice 7\tfile=invoice.pdf\tfile=terms.txt\tqueue=4XyZ1\n"
    )


def test_bounce_keeps_empty_angle_brackets():
    line = format_summary(_message(mail_from="<>"))
    assert line.split("\t")[2] == "from=<>"


def test_no_attachments_and_empty_subject_still_give_the_subject_field():
    line = format_summary(_message(subject="", files=()))
    assert line == (
        "26-11-26 12:00\ttime=1795694400\tfrom=<alice@example.org>"
        "\tto=<bob@example.com>\tsize=20\tsubject=\tqueue=4XyZ1\n"
    )


def test_hostile_values_cannot_add_fields_or_lines():
    msg = _message(
        mail_from="<>",
        rcpt_to=["<bob@example.com>", "<x\tfile=fake.exe@y>"],
        subject="Hi\r\nX\tto=<evil@x>",
        files=["a\nb.exe", "c\u2028d\x1b.scr"],
    )
    line = format_summary(msg)
    assert line.count("\n") == 1 and line.endswith("\n")
    fields = line[:-1].split("\t")
    assert len(fields) == 5 + 2 + 2 + 1
    assert fields[2:] == [
        "from=<>",
        "to=<bob@example.com>",
        "to=<x file=fake.exe@y>",
        "size=20",
        "subject=Hi  X to=<evil@x>",
        "file=a b.exe",
        "file=c\\u2028d\\x1b.scr",
        "queue=4XyZ1",
    ]


def test_long_values_are_never_cut():
    subject = "s" * 5000
    rcpts = [f"<user{i}@example.com>" for i in range(200)]
    fields = format_summary(_message(rcpt_to=rcpts, subject=subject))[:-1].split("\t")
    assert f"subject={subject}" in fields
    assert [f for f in fields if f.startswith("to=")] == [f"to={r}" for r in rcpts]


def test_undecodable_subject_bytes_are_shown_as_escapes():
    subject = b"Pr\xe9sentation".decode("utf-8", "surrogateescape")
    assert "\tsubject=Pr\\xe9sentation\t" in format_summary(_message(subject=subject))


def test_log_summary_appends_one_line(tmp_path):
    logfile = LogFile(tmp_path / "mailspy")
    log_summary(logfile, _message(subject="one"))
    log_summary(logfile, _message(subject="two"))
    logfile.close()
    lines = (tmp_path / "mailspy").read_text().splitlines()
    assert [line.split("\t")[-2:] for line in lines] == [["subject=one", "queue=4XyZ1"],
                                                         ["subject=two", "queue=4XyZ1"]]


def test_the_queue_id_is_the_last_field_and_empty_when_the_mta_gave_none():
    fields = format_summary(_message(files=["a.pdf"]))[:-1].split("\t")
    assert fields[-2:] == ["file=a.pdf", "queue=4XyZ1"]
    assert format_summary(_message(queue_id="")).endswith("\tsubject=Hello\tqueue=\n")


def test_a_hostile_queue_id_cannot_add_fields_or_lines():
    line = format_summary(_message(queue_id="Q1\tfrom=<evil@x>\nnext"))
    assert line.count("\n") == 1
    assert line[:-1].split("\t")[-1] == "queue=Q1 from=<evil@x> next"


def test_addresses_are_always_in_angle_brackets_however_the_mta_handed_them_over():
    # Postfix hands a locally submitted message's addresses over without brackets
    line = format_summary(_message(mail_from="root@host.example", rcpt_to=["ann@example.org",
                                                                            "<bob@example.com>"]))
    assert line.split("\t")[2:5] == ["from=<root@host.example>", "to=<ann@example.org>",
                                      "to=<bob@example.com>"]
    for bounce in ("<>", ""):
        assert format_summary(_message(mail_from=bounce)).split("\t")[2] == "from=<>"


def test_the_date_is_the_minute_of_each_message_across_minutes_and_days():
    stamps = []
    for received in (1_798_761_599.9, 1_798_761_600.0, 1_798_761_659.99, 1_798_761_660.5,
                     1_798_761_599.0):
        msg = _message()
        msg.received_at = received
        stamps.append(format_summary(msg).split("\t")[0])
    assert stamps == ["26-12-31 23:59", "27-01-01 00:00", "27-01-01 00:00",
                      "27-01-01 00:01", "26-12-31 23:59"]
