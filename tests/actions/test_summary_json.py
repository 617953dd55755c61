"""The JSON Lines summary: one parseable line per message, whatever it holds."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from hypothesis import given, settings
from hypothesis import strategies as st

from mailspy.actions.logfile import LogFile
from mailspy.actions.sinks import Sinks
from mailspy.actions.summary_json import format_json_summary, log_json_summary, neutralise
from mailspy.dispatch import Recorder
from mailspy.message.model import Attachment, Envelope, Message
from mailspy.message.parse import message_from_bytes
from mailspy.rules.load import load_rules
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.store import Spool
from tests.message.corpus import attachment as attachment_part
from tests.message.corpus import multipart, named, text_part

NOV_26_2026_NOON = 1795694400.75  # Thu Nov 26 12:00:00.75 2026 UTC

KEYS = [
    "time",
    "epoch",
    "queue_id",
    "client_address",
    "client_name",
    "helo",
    "auth_user",
    "sender",
    "mail_from",
    "recipients",
    "subject",
    "size",
    "rules",
    "attachments",
]


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name in names:
            zf.writestr(name, b"x")
    return buffer.getvalue()


def _message(
    envelope: Envelope | None = None,
    subject: str = "Hello",
    files: list[Attachment] | None = None,
) -> Message:
    """A message whose derived values are given, not parsed: any text goes."""
    body = b"line one\r\nline two\r\n"
    msg = Message(
        envelope=envelope or Envelope(mail_from="<a@example.org>", rcpt_to=["<b@example.com>"]),
        headers=[("Subject", "x")],
        body=io.BytesIO(body),
        body_size=len(body),
        received_at=NOV_26_2026_NOON,
    )
    msg.__dict__["subject"] = subject
    msg.__dict__["attachments"] = files or []
    return msg


def test_exact_record_for_a_parsed_message() -> None:
    archive = _zip(["invoice.pdf.exe", "docs/é.txt"])
    top = multipart(
        "B",
        [
            text_part("see attached"),
            named("invoice.zip", archive, content_type="application/zip"),
            named("terms.pdf", b"%PDF-1.4", content_type="application/pdf"),
        ],
        headers=[("Subject", "=?utf-8?q?Invoice_n=C2=B0_7?=")],
    )
    envelope = Envelope(
        mail_from="<alice@bank.example>",
        rcpt_to=["<cfo@corp.example>", "<Bob@corp.example>"],
        queue_id="4XyZ1",
        client_address="192.0.2.7",
        client_name="mx.bank.example",
        helo="mx.bank.example",
        auth_user="alice",
    )
    message = message_from_bytes(b"From: alice@bank.example\r\n" + top, envelope)
    message.received_at = NOV_26_2026_NOON
    line = format_json_summary(message, ["finance", "everything"])
    assert line.endswith("\n") and line.count("\n") == 1
    assert json.loads(line) == {
        "time": "2026-11-26T12:00:00Z",
        "epoch": 1795694400,
        "queue_id": "4XyZ1",
        "client_address": "192.0.2.7",
        "client_name": "mx.bank.example",
        "helo": "mx.bank.example",
        "auth_user": "alice",
        "sender": "alice@bank.example",
        "mail_from": "<alice@bank.example>",
        "recipients": ["cfo@corp.example", "Bob@corp.example"],
        "subject": "Invoice n° 7",
        "size": message.body_size,
        "rules": ["finance", "everything"],
        "attachments": [
            {
                "path": "2",
                "name": "invoice.zip",
                "type": "application/zip",
                "size": len(archive),
                "sha256": hashlib.sha256(archive).hexdigest(),
                "members": ["invoice.pdf.exe", "docs/é.txt"],
            },
            {
                "path": "3",
                "name": "terms.pdf",
                "type": "application/pdf",
                "size": 8,
                "sha256": hashlib.sha256(b"%PDF-1.4").hexdigest(),
                "members": [],
            },
        ],
    }
    assert list(json.loads(line)) == KEYS  # in this order in the file


def test_bounce_and_bare_minimum() -> None:
    envelope = Envelope(mail_from="<>", rcpt_to=["<postmaster@example.com>"])
    record = json.loads(format_json_summary(_message(envelope, subject=""), []))
    assert record["sender"] == ""
    assert record["mail_from"] == "<>"
    assert record["recipients"] == ["postmaster@example.com"]
    assert record["queue_id"] == record["client_address"] == record["auth_user"] == ""
    assert record["subject"] == ""
    assert record["rules"] == record["attachments"] == []
    assert record["size"] == 20


def test_mail_from_is_always_in_angle_brackets_as_on_the_summary_line() -> None:
    # Postfix hands a locally submitted message's sender over without brackets
    for mail_from, sender, bracketed in (("root@host.example", "root@host.example",
                                          "<root@host.example>"),
                                         ("<root@host.example>", "root@host.example",
                                          "<root@host.example>"),
                                         ("", "", "<>"), ("<>", "", "<>")):
        envelope = Envelope(mail_from=mail_from, rcpt_to=["ann@example.org"])
        record = json.loads(format_json_summary(_message(envelope), []))
        assert (record["sender"], record["mail_from"]) == (sender, bracketed)
        assert record["recipients"] == ["ann@example.org"]


def test_non_ascii_is_written_as_utf8_and_line_breakers_as_escapes() -> None:
    subject = "café\u2028x\u2029y\x85z\r\nw\x00\x1b[31m\x9b\x7f"
    line = format_json_summary(_message(subject=subject), [])
    assert "café" in line  # greppable in the raw log
    for escape in ("\\u2028", "\\u2029", "\\u0085", "\\r\\n", "\\u0000", "\\u001b", "\\u009b"):
        assert escape in line
    assert "\\u007f" in line
    assert len(line[:-1].splitlines()) == 1
    assert json.loads(line)["subject"] == subject  # escaping is lossless


def test_undecodable_bytes_show_as_in_the_text_summary() -> None:
    sender = b"pr\xe9sident@example.org".decode("utf-8", "surrogateescape")
    envelope = Envelope(mail_from=f"<{sender}>", rcpt_to=["<\ud800@x>"], helo="h\udcff")
    line = format_json_summary(_message(envelope), ["r\udc80"])
    line.encode("utf-8")  # strict: no surrogate left
    record = json.loads(line)
    assert record["sender"] == "pr\\xe9sident@example.org"
    assert record["mail_from"] == "<pr\\xe9sident@example.org>"
    assert record["recipients"] == ["\ufffd@x"]
    assert record["helo"] == "h\\xff"
    assert record["rules"] == ["r\\x80"]


def test_log_json_summary_appends_one_line_per_message(tmp_path) -> None:
    logfile = LogFile(tmp_path / "mailspy.json")
    log_json_summary(logfile, _message(subject="one\nline"), ["a"])
    log_json_summary(logfile, _message(subject="two"), ["b"])
    logfile.close()
    lines = (tmp_path / "mailspy.json").read_bytes().split(b"\n")
    assert lines[-1] == b""
    records = [json.loads(line) for line in lines[:-1]]
    assert [(r["subject"], r["rules"]) for r in records] == [("one\nline", ["a"]), ("two", ["b"])]


# -- any text at all ---------------------------------------------------------

_AWKWARD = ["\x00", "\r", "\n", "\t", "\x85", "\u2028", "\u2029", "\\", '"', "\x7f"]
_AWKWARD += ["\udce9", "\udc80", "\udcff", "\ud800", "\udfff", "\ud83d", "é", "🦠", "\ufeff"]

text = st.text(
    alphabet=st.one_of(
        st.characters(exclude_categories=()),  # surrogates included
        st.sampled_from(_AWKWARD),
    ),
    max_size=30,
)


def expected(value: str) -> str:
    """The documented neutralisation, written out independently."""
    out = []
    for char in value:
        code = ord(char)
        if 0xDC80 <= code <= 0xDCFF:
            out.append(f"\\x{code - 0xDC00:02x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


attachment = st.builds(
    Attachment,
    name=text,
    content_type=text,
    path=text,
    size=st.integers(0, 2**40),
    sha256=st.just(hashlib.sha256(b"").hexdigest()),
    members=st.lists(text, max_size=3).map(tuple),
)


@settings(max_examples=300, deadline=None)
@given(
    mail_from=text,
    rcpt_to=st.lists(text, max_size=3),
    fields=st.lists(text, min_size=5, max_size=5),
    subject=text,
    files=st.lists(attachment, max_size=3),
    rules=st.lists(text, max_size=3),
)
def test_any_values_give_one_line_of_json_with_the_values_back(
    mail_from: str,
    rcpt_to: list[str],
    fields: list[str],
    subject: str,
    files: list[Attachment],
    rules: list[str],
) -> None:
    queue_id, client_address, client_name, helo, auth_user = fields
    envelope = Envelope(mail_from, rcpt_to, queue_id, client_address, client_name, helo, auth_user)
    line = format_json_summary(_message(envelope, subject, files), rules)

    assert line.endswith("\n")
    assert line[:-1].splitlines() == [line[:-1]]  # no line break of any kind inside
    raw = line.encode("utf-8")  # strict: valid UTF-8
    record = json.loads(raw)
    assert list(record) == KEYS
    assert record["mail_from"] == f"<{expected(envelope.sender)}>"
    assert record["sender"] == expected(envelope.sender)
    assert record["recipients"] == [expected(r) for r in envelope.recipients]
    assert [record[k] for k in KEYS[2:7]] == [expected(f) for f in fields]
    assert record["subject"] == expected(subject)
    assert record["rules"] == [expected(r) for r in rules]
    assert record["attachments"] == [
        {
            "path": expected(a.path),
            "name": expected(a.name),
            "type": expected(a.content_type),
            "size": a.size,
            "sha256": a.sha256,
            "members": [expected(m) for m in a.members],
        }
        for a in files
    ]
    assert all(neutralise(expected(v)) == expected(v) for v in (subject, mail_from))


# -- the same message in both summaries ----------------------------------------


def test_a_bidi_override_is_kept_in_json_and_shown_as_an_escape_on_the_text_line(
        tmp_path) -> None:
    """`invoice<U+202E>fdp.exe` shows as `invoiceexe.pdf` on a terminal: the text line
    writes the override as `\\u202e`, the JSON record keeps the character itself, so a
    program reading the record gets the name that was sent."""
    name = "invoice\u202efdp.exe"
    disposition = "attachment; filename*=utf-8''invoice%E2%80%AEfdp.exe"
    body = multipart("B", [text_part("see attached"),
                           attachment_part(disposition, b"MZ", content_type="application/pdf")])
    message = message_from_bytes(b"From: a@example.org\r\nSubject: bill\r\n" + body,
                                 Envelope(mail_from="<a@example.org>",
                                          rcpt_to=["<b@example.com>"]))
    assert [a.name for a in message.attachments] == [name]
    text_log, json_log = tmp_path / "summary.log", tmp_path / "summary.jsonl"
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "both.rules").write_text(f'rule "both" {{ log-summary "{text_log}"\n'
                                      f'  log-summary "{json_log}" format json }}\n')
    loaded = load_rules(rules)
    assert loaded.ok, loaded.diagnostics
    spool = Spool(tmp_path / "spool")
    spool.create()
    recorder = Recorder(loaded.rules, Sinks(), spool, Deliverer(spool, DeliverySettings()))
    try:
        recorder.record(message)
    finally:
        recorder.sinks.close_all()

    [line] = text_log.read_text(encoding="utf-8").splitlines()
    assert "\tfile=invoice\\u202efdp.exe\t" in line
    assert "\u202e" not in line
    [record] = json_log.read_text(encoding="utf-8").splitlines()
    assert json.loads(record)["attachments"][0]["name"] == name
