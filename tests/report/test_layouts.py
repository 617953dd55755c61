"""Reading summary lines: mailspy's text and JSON Lines layouts, the original's, and junk."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailspy.actions.clean import clean
from mailspy.actions.summary import format_summary
from mailspy.actions.summary_json import format_json_summary, neutralise
from mailspy.message.model import Attachment, Envelope, Message
from mailspy.report.addresses import address_key
from mailspy.report.layouts import LineReader
from mailspy.report.records import Record
from mailspy.report.text import visible
from tests.report.helpers import json_line, line, original_line

EPOCH = 1_795_701_780  # 2026-11-26 14:03 UTC


def read(text: str) -> Record:
    result = LineReader().read(text)
    assert isinstance(result, Record), result
    return result


def test_mailspy_text_line() -> None:
    record = read(line(EPOCH, "Ann@Example.ORG", ["bob@example.net", "CFO@example.net"],
                       size=428, subject="Q3 figures", files=("résumé q3.pdf", "a.zip")))
    assert record == Record(EPOCH, "ann@example.org", ("bob@example.net", "cfo@example.net"),
                            428, "Q3 figures", ("résumé q3.pdf", "a.zip"))


def test_unknown_fields_anywhere_after_the_date_are_skipped() -> None:
    text = ("26-11-26 14:03\tqueue=4XyZ1\tclient=[192.0.2.7]\ttime=1795701780\t"
            "from=<a@x.example>\tfuture=1\tto=<b@y.example>\tsize=7\tsubject=s\t"
            "file=f.pdf\tnovalue\tqueue=4XyZ2\n")
    record = read(text)
    assert (record.sender, record.recipients, record.size, record.files) == (
        "a@x.example", ("b@y.example",), 7, ("f.pdf",))
    assert record.queue == "4XyZ2"  # the last one wins, as in any key=value log


def test_queue_field_at_the_end_as_mailspy_will_write_it() -> None:
    record = read(line(EPOCH, "a@x.example", ["b@y.example"], extra=("queue=89C532102C3",)))
    assert record.queue == "89C532102C3"


def test_bounce_sender_and_no_recipient() -> None:
    record = read("26-11-26 14:03\ttime=1795701780\tfrom=<>\tsize=0\tsubject=\n")
    assert record.sender == "" and record.recipients == () and record.subject == ""


def test_original_c_mailspy_line() -> None:
    """No time= (the date is all there is, UTC, to the minute), body= for the size, raw
    RFC 2047 subjects and file names, addresses with or without brackets."""
    record = read(original_line("02-03-14 09:15", "<Andrew@Docufile.CO.ZA>",
                                ["fred@example.com", "<sue@example.com>"], body=1234,
                                subject="=?iso-8859-1?Q?Gr=FC=DFe?= aus Kapstadt",
                                files=("=?utf-8?B?w6l0w6kucGRm?=",)))
    assert record.epoch == 1016097300  # 2002-03-14 09:15 UTC
    assert record.sender == "andrew@docufile.co.za"
    assert record.recipients == ("fred@example.com", "sue@example.com")
    assert record.size == 1234
    assert record.subject == "Grüße aus Kapstadt"
    assert record.files == ("été.pdf",)


def test_original_values_cut_short_still_read() -> None:
    """The original cut values at 79 characters: a lost `>`, a broken encoded word."""
    record = read(original_line("02-03-14 09:15", "<averyveryverylongname@averylongdom",
                                ["<x@y.example>"], subject="=?iso-8859-1?Q?Gr=FC=DF"))
    assert record.sender == "averyveryverylongname@averylongdom"
    assert record.subject == "=?iso-8859-1?Q?Gr=FC=DF"


def test_original_eight_bit_bytes_are_shown_as_escapes(tmp_path) -> None:
    from mailspy.report.sources import lines

    log = tmp_path / "mailspy"
    log.write_bytes(b"02-03-14 09:15\tfrom=<a@x.example>\tto=<b@y.example>\tbody=1\t"
                    b"subject=Gr\xfc\xdfe\n")
    (_, _, text), = lines([str(log)], print)
    assert read(text).subject == "Gr\\xfc\\xdfe"


def test_json_line() -> None:
    record = read(json_line(EPOCH, "Ann@Example.org", ["cfo@corp.example"], size=512,
                            subject="Invoice", attachments=(("invoice.zip", "application/zip"),),
                            rules=("zip-executables", "everything"), queue_id="89C53"))
    assert record == Record(EPOCH, "ann@example.org", ("cfo@corp.example",), 512, "Invoice",
                            ("invoice.zip",), ("application/zip",),
                            ("zip-executables", "everything"), "89C53")


def test_json_without_epoch_uses_time_and_mail_from() -> None:
    record = read('{"time": "2026-11-26T14:03:00Z", "mail_from": "<A@x.example>", '
                  '"recipients": []}\n')
    assert record.epoch == EPOCH and record.sender == "a@x.example" and record.size == 0


@pytest.mark.parametrize(("text", "reason"), [
    ("hello world\n", "no date"),
    ("26-13-45 99:99\tfrom=<a@x>\n", "no date"),
    ("26-11-26 14:03\tto=<b@y>\tsize=1\n", "no from= field"),
    ("26-11-26 14:03\tfrom=<a@x>\tsize=12k\n", "size= is not a number"),
    ("26-11-26 14:03\tfrom=<a@x>\tbody=-1\n", "body= is not a number"),
    ("26-11-26 14:03\tfrom=<a@x>\ttime=soon\n", "time= is not a number"),
    ("26-11-26 14:03\tfrom=<a@x>\tsize=\u0661\u0662\n", "size= is not a number"),
    ('{"epoch": 1, "sender": "a@x"\n', "not valid JSON"),
    ("[1, 2]\n", "no date"),
    ('{"sender": "a@x"}\n', "no epoch or time"),
    ('{"epoch": true, "sender": "a@x"}\n', "no epoch or time"),
    ('{"epoch": 1}\n', "no sender"),
    ('{"epoch": 1, "sender": "a", "recipients": "b@y"}\n', "recipients is not a list"),
    ('{"epoch": 1, "sender": "a", "size": "9"}\n', "size is not a number"),
    ('{"epoch": 1, "sender": "a", "subject": 5}\n', "subject is not a string"),
    ('{"epoch": 1, "sender": "a", "rules": [1]}\n', "rules is not a list"),
    ('{"epoch": 1, "sender": "a", "attachments": [{"name": 1}]}\n', "attachments is not"),
    ("\x00\x00\x00\n", "no date"),
])
def test_lines_that_are_not_records_say_why(text: str, reason: str) -> None:
    result = LineReader().read(text)
    assert isinstance(result, str) and result.startswith(reason), result


def test_a_line_with_a_bad_date_is_a_problem_every_time_it_is_read() -> None:
    """Dates are remembered: one that did not parse must not pass the second time."""
    reader = LineReader()
    bad = line(EPOCH, "a@x.example", ["b@y.example"]).replace("26-11-26 14:03",
                                                               "26-13-45 99:99")
    assert [reader.read(bad) for _ in range(3)] == ["no date (YY-MM-DD HH:MM) at the start "
                                                   "of the line"] * 3
    assert reader.epoch_only(bad) is None


def test_blank_lines_are_neither_records_nor_problems() -> None:
    assert LineReader().read("\n") is None and LineReader().read("  \r\n") is None


def test_invisible_and_reordering_characters_are_made_visible() -> None:
    record = read(json_line(EPOCH, "a@x.example", ["b@y.example"],
                            subject="pay\u202eFDP.exe\x00\x1b[31m\ud800",
                            attachments=(("invoice\u202efdp.exe", "x/y"),)))
    assert record.subject == "pay\\u202eFDP.exe\\x00\\x1b[31m\\ud800"
    assert record.files == ("invoice\\u202efdp.exe",)


# -- what mailspy writes, read back ---------------------------------------------------

hostile = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
address = st.one_of(st.just(""), st.emails(), hostile)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender=address, recipients=st.lists(address, max_size=4), subject=hostile,
       names=st.lists(hostile, max_size=3), size=st.integers(0, 10**9))
def test_every_line_mailspy_writes_reads_back(sender, recipients, subject, names,
                                              size) -> None:
    """Whatever the message holds, both layouts mailspy writes read back as one record
    with the same envelope, size and counts; values are shown, never lost."""
    envelope = Envelope(mail_from=f"<{sender}>", rcpt_to=[f"<{r}>" for r in recipients],
                        queue_id="ABC")
    message = Message(envelope=envelope, headers=[("Subject", subject)],
                      received_at=float(EPOCH), body_size=size)
    message.attachments = [Attachment(name, path=str(n)) for n, name in enumerate(names)]
    reader = LineReader()
    text_record = reader.read(format_summary(message))
    json_record = reader.read(format_json_summary(message, ["r1"]))
    for record in (text_record, json_record):
        assert isinstance(record, Record), record
        assert record.epoch == EPOCH and record.size == size
        assert len(record.recipients) == len(recipients)
        assert len(record.files) == len(names)
        for value in (record.sender, *record.recipients, record.subject, *record.files):
            assert not any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value)
    assert isinstance(json_record, Record) and isinstance(text_record, Record)
    assert json_record.rules == ("r1",) and json_record.queue == "ABC"
    assert text_record.sender == visible(address_key(clean(f"<{sender}>")))
    assert json_record.sender == visible(address_key(neutralise(sender)))
    assert text_record.subject == visible(clean(message.subject))


def test_original_stamp_is_utc_whatever_the_machine_zone(monkeypatch) -> None:
    monkeypatch.setenv("TZ", "Pacific/Chatham")
    time.tzset()
    try:
        assert read(original_line("26-11-26 14:03", "a@x", ["b@y"])).epoch == EPOCH
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
