"""Privacy options: the values they govern appear nowhere in the records they shape.

Each record is built through the action's own `record` (what the daemon
calls), with the options as the rules hand them over.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import mailbox
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailspy import defaults
from mailspy.actions import headers, privacy, summary
from mailspy.actions.clean import clean
from mailspy.actions.privacy import Privacy, read_key
from mailspy.actions.registry import ACTIONS
from mailspy.actions.summary_json import format_json_summary, json_record
from mailspy.message.model import Attachment, Envelope, Message

NOON = 1795694400.0
KEY = b"k" * 32


@pytest.fixture(autouse=True)
def a_key():
    """Every test hashes with KEY as the default key file's, as if loaded with rules."""
    privacy.use_keys({defaults.PRIVACY_KEY: KEY})
    yield
    privacy.use_keys({})


PDF = Attachment("résumé q3.pdf", "application/pdf", "2", 8, "ab" * 32)


def make(sender="ann@example.org", recipients=("bob@example.net",), subject="Q3 figures",
         files=(PDF,),
         header_list=None, client=("192.0.2.7", "mx.example.org", "helo.example.org", "ann"),
         ) -> Message:
    envelope = Envelope(f"<{sender}>", [f"<{r}>" for r in recipients], queue_id="4XyZ1",
                        client_address=client[0], client_name=client[1], helo=client[2],
                        auth_user=client[3])
    if header_list is None:
        header_list = [("From", f"Ann Example <{sender}>"), ("To", ", ".join(recipients)),
                       ("Subject", subject), ("Message-ID", "<1@mx.example.org>")]
    message = Message(envelope, list(header_list), io.BytesIO(b"hi\r\n"), 4, NOON)
    message.__dict__["subject"] = subject
    message.__dict__["attachments"] = list(files)
    return message


def summary_line(message: Message, **options: str) -> str:
    record = ACTIONS["log-summary"].record
    assert record is not None
    return str(record(message, ["r"], options))


def syslog_body(message: Message, **options: str) -> str:
    """What log-syslog sends after its RFC 5424 header, as text."""
    record = ACTIONS["log-syslog"].record
    assert record is not None
    data = record(message, ["r"], options)
    assert isinstance(data, bytes)
    return data.split(b" ", 7)[7].decode()


def json_line(message: Message, **options: str) -> dict:
    return json.loads(summary_line(message, format="json", **options))


def header_block(message: Message, **options: str) -> bytes:
    record = ACTIONS["log-headers"].record
    assert record is not None
    found = record(message, ["r"], options)
    assert isinstance(found, bytes)
    return found


def token(kind: str, value: str, key: bytes = KEY) -> str:
    """The documented token: HMAC-SHA256 of KIND NUL VALUE, 10 bytes, base32, lower case."""
    digest = hmac.new(key, kind.encode() + b"\0" + value.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


# -- what each option writes ----------------------------------------------------------


def test_addresses_hash_hash_local_and_domain_in_the_summary_line():
    message = make(sender="Ann@Example.ORG", recipients=("bob@example.net", "cfo@example.net"))
    fields = summary_line(message, addresses="hash").split("\t")
    assert fields[2:5] == [f"from=<{token('address', 'ann@example.org')}>",
                           f"to=<{token('address', 'bob@example.net')}>",
                           f"to=<{token('address', 'cfo@example.net')}>"]
    fields = summary_line(message, addresses="hash-local").split("\t")
    assert fields[2] == f"from=<{token('address', 'ann@example.org')}@example.org>"
    fields = summary_line(message, addresses="domain").split("\t")
    assert fields[2:5] == ["from=<@example.org>", "to=<@example.net>", "to=<@example.net>"]


def test_the_same_address_gives_the_same_token_on_every_host_sharing_the_key(tmp_path):
    """Two hosts, two copies of one key file: the same tokens. Another key: others."""
    host_a, host_b, other = tmp_path / "a.key", tmp_path / "b.key", tmp_path / "c.key"
    shared = os.urandom(32)
    host_a.write_bytes(shared)
    host_b.write_bytes(shared)
    other.write_bytes(os.urandom(32))
    privacy.use_keys({})  # read from the files, as a host's daemon does at load
    lines = [json_line(make(), addresses="hash", key=str(path)) for path in
             (host_a, host_b, other)]
    assert lines[0]["sender"] == lines[1]["sender"] == token("address", "ann@example.org",
                                                            shared)
    assert lines[2]["sender"] != lines[0]["sender"]
    assert len(lines[0]["sender"]) == 16


def test_a_bounce_stays_a_bounce():
    bounce = make(sender="")
    assert summary_line(bounce, addresses="hash").split("\t")[2] == "from=<>"
    assert json_line(bounce, addresses="domain")["mail_from"] == "<>"
    assert header_block(bounce, addresses="hash").startswith(b"From MAILER-DAEMON ")


def test_subject_hash_and_drop():
    message = make(subject="Salary review: Ann")
    assert json_line(message, subject="hash")["subject"] == token("subject",
                                                                  "Salary review: Ann")
    assert json_line(message, subject="drop")["subject"] == ""
    assert "\tsubject=\t" in summary_line(message, subject="drop")


def test_attachment_names_drop_keeps_types_sizes_and_hashes():
    files = (Attachment("cv jane doe.pdf", "application/pdf", "2", 8, "ab" * 32),
             Attachment("jane.zip", "application/zip", "3", 9, "cd" * 32,
                        ("jane/passport.jpg",)))
    message = make(files=files)
    [pdf, archive] = json_line(message, **{"attachment-names": "drop"})["attachments"]
    assert pdf == {"path": "2", "name": "", "type": "application/pdf", "size": 8,
                   "sha256": "ab" * 32, "members": []}
    assert archive["name"] == "" and archive["members"] == [""]
    assert archive["type"] == "application/zip" and archive["sha256"] == "cd" * 32
    hashed = json_line(message, **{"attachment-names": "hash"})["attachments"]
    assert hashed[0]["name"] == token("name", "cv jane doe.pdf") + ".pdf"
    assert hashed[1]["members"] == [token("name", "jane/passport.jpg") + ".jpg"]
    line = summary_line(message, **{"attachment-names": "drop"})
    assert "\tfile=\tfile=\t" in line  # one per attachment, as for a nameless one


def test_client_hash_and_drop():
    record = json_line(make(), client="drop")
    assert [record[k] for k in ("client_address", "client_name", "helo", "auth_user")] == \
        ["", "", "", ""]
    record = json_line(make(), client="hash")
    assert record["client_address"] == token("client", "192.0.2.7")
    assert record["auth_user"] == token("client", "ann")


def test_no_options_change_nothing():
    message = make()
    assert summary_line(message) == summary.format_summary(message)
    assert header_block(message) == headers.format_header_block(message)
    assert json_line(message, addresses="keep", subject="keep") == json_line(message)


def test_another_action_building_the_json_record_gets_the_same_privacy():
    """The JSON record with an action's options, as any action that writes it builds it."""
    options = {"addresses": "hash", "subject": "drop"}
    assert json_record(make(), ["r"], options) == json_line(make(), **options)
    assert format_json_summary(make(), ["r"], options) == summary_line(
        make(), format="json", **options)
    assert syslog_body(make(), format="json", **options) == summary_line(
        make(), format="json", **options).rstrip("\n")
    assert syslog_body(make(), **options) == summary_line(make(), **options).rstrip("\n")


def test_read_key_wants_a_regular_file_of_16_bytes_or_more(tmp_path):
    with pytest.raises(privacy.KeyFileError, match="not a regular file"):
        read_key("/dev/zero")
    (tmp_path / "k").write_bytes(b" " * 20 + b"short\n")
    with pytest.raises(privacy.KeyFileError, match="holds fewer than 16 bytes"):
        read_key(str(tmp_path / "k"))


# -- the header log --------------------------------------------------------------------

RECEIVED = ("from mx.example.org (mx.example.org [192.0.2.7]) by mail.example.net "
            "(Postfix) with ESMTP id 4XyZ1 for <bob@example.net>; Thu, 26 Nov 2026 12:00:00")


def test_keep_headers_and_drop_headers():
    message = make(header_list=[("Received", RECEIVED), ("From", "ann@example.org"),
                                ("Subject", "x"), ("DATE", "Thu, 26 Nov 2026")])
    kept = header_block(message, **{"keep-headers": "from,date"}).decode()
    assert kept.splitlines()[1:] == ["X-Timestamp: 1795694400", "X-Queue-Id: 4XyZ1",
                                     "From: ann@example.org", "DATE: Thu, 26 Nov 2026", ""]
    dropped = header_block(message, **{"drop-headers": "Received,Subject"}).decode()
    assert "Received" not in dropped and "Subject" not in dropped and "From: ann" in dropped


def test_addresses_in_the_header_log():
    message = make(header_list=[
        ("Received", RECEIVED), ("From", '"Ann, Finance" <ann@example.org>'),
        ("To", "Bob <bob@example.net>,\r\n\tcfo@example.net"), ("Cc", "undisclosed:;"),
        ("Subject", "hi"), ("Reply-To", '"ann x"@example.org')])
    block = header_block(message, addresses="hash-local").decode()
    ann, bob = token("address", "ann@example.org"), token("address", "bob@example.net")
    assert block.startswith(f"From {ann}@example.org ")
    assert f"From: {ann}@example.org\n" in block  # the display name is gone
    assert f"To: {bob}@example.net, {token('address', 'cfo@example.net')}@example.net\n" \
        in block
    assert "Cc: \n" in block
    assert f"for <{bob}@example.net>;" in block  # inside any other header too
    assert f"Reply-To: {token('address', 'ann x@example.org')}@example.org\n" in block
    assert "Ann" not in block and "Finance" not in block and "Bob" not in block


def test_subject_in_the_header_log_matches_the_summarys_token():
    message = make(header_list=[("Subject", "=?UTF-8?Q?Caf=C3=A9?="),
                                ("Thread-Topic", "Café")], subject="Café")
    block = header_block(message, subject="hash").decode()
    assert f"Subject: {token('subject', 'Café')}\n" in block
    assert json_line(message, subject="hash")["subject"] == token("subject", "Café")
    assert "Caf" not in block
    assert b"Subject" not in header_block(message, subject="drop")


def test_a_private_header_log_still_reads_as_an_mbox(tmp_path):
    log = tmp_path / "headers"
    log.write_bytes(header_block(make(), addresses="hash", subject="hash")
                    + header_block(make(sender=""), **{"keep-headers": "Subject"}))
    box = mailbox.mbox(log, create=False)
    assert [m["X-Queue-Id"] for m in box] == ["4XyZ1", "4XyZ1"]


# -- hypothesis: nothing governed leaks, whatever the values ---------------------------

# values that cannot appear in a record by chance: "Ω" is in no token, hash, date or key
_text = st.text(st.characters(categories=["L", "N"], exclude_characters="Ωω"),
                min_size=1, max_size=20)
secret = _text.map(lambda s: "Ω" + s)
label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10)
address = st.tuples(secret, label).map(lambda p: (p[0], f"d{p[1]}.example"))


def _forms(value: str) -> list[str]:
    """Every way a record could spell the value: as it is, cleaned, JSON-escaped."""
    return [value, value.lower(), clean(value), json.dumps(value)[1:-1]]


def _absent(value: str, record: str) -> bool:
    return not any(form and form in record for form in _forms(value))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sender=address, recipients=st.lists(address, min_size=1, max_size=3),
       subject=secret, names=st.lists(secret, min_size=1, max_size=3), member=secret,
       client=st.tuples(secret, secret, secret, secret),
       mode=st.sampled_from(["hash", "hash-local", "domain"]),
       dropped=st.sampled_from(["hash", "drop"]))
def test_governed_values_appear_nowhere_in_summary_and_json(
        sender, recipients, subject, names, member, client, mode, dropped):
    files = [Attachment(f"{n}.pdf", "application/pdf", str(i + 2), 3, "ab" * 32, (member,))
             for i, n in enumerate(names)]
    message = make(sender="@".join(sender), recipients=["@".join(r) for r in recipients],
                   subject=subject, files=files, client=client)
    options = {"addresses": mode, "subject": dropped, "attachment-names": dropped,
               "client": dropped}
    for record in (summary_line(message, **options),
                   summary_line(message, format="json", **options),
                   syslog_body(message, **options), syslog_body(message, format="json",
                                                               **options)):
        locals_ = [local for local, _ in [sender, *recipients]]
        governed = [*locals_, subject, *names, member, *client]
        assert all(_absent(v, record) for v in governed), record
        domains = [domain for _, domain in [sender, *recipients]]
        if mode == "hash":
            assert all(_absent(d, record) for d in domains)
        else:
            assert all(d in record for d in domains)


@settings(max_examples=150, deadline=None)
@given(sender=address, recipients=st.lists(address, min_size=1, max_size=3),
       display=secret, subject=secret, mode=st.sampled_from(["hash", "hash-local", "domain"]),
       dropped=st.sampled_from(["hash", "drop"]))
def test_governed_values_appear_nowhere_in_the_header_log(
        sender, recipients, display, subject, mode, dropped):
    addresses = ["@".join(a) for a in [sender, *recipients]]
    header_list = [
        ("Received", f"from x by y with ESMTP id Q for <{addresses[1]}>; Thu, 26 Nov 2026"),
        ("From", f'"{display}" <{addresses[0]}>'),
        ("To", ",\r\n\t".join(f"{display} <{a}>" for a in addresses[1:])),
        ("Subject", subject), ("Thread-Topic", subject),
        ("Return-Path", f"<{addresses[0]}>"), ("X-Note", f"sent by {addresses[0]} today")]
    message = make(sender=addresses[0], recipients=addresses[1:], subject=subject,
                   header_list=header_list)
    block = header_block(message, addresses=mode, subject=dropped).decode("utf-8")
    governed = [local for local, _ in [sender, *recipients]] + [display, subject]
    assert all(_absent(v, block) for v in governed), block
    if mode == "hash":
        assert all(_absent(domain, block) for _, domain in [sender, *recipients]), block


@settings(max_examples=100, deadline=None)
@given(names=st.lists(st.sampled_from(["Received", "Subject", "From", "To", "X-Secret",
                                       "Thread-Topic", "DKIM-Signature"]), min_size=1,
                      unique=True),
       value=secret)
def test_dropped_headers_appear_nowhere(names, value):
    header_list = [(n, f"{value} {i}") for i, n in enumerate(
        ["Received", "Subject", "From", "To", "X-Secret", "Thread-Topic", "DKIM-Signature"])]
    message = make(header_list=header_list)
    dropped = header_block(message, **{"drop-headers": ",".join(names)}).decode()
    kept = header_block(message, **{"keep-headers": ",".join(n.upper() for n in names)}
                        ).decode()
    for i, (name, written) in enumerate(header_list):
        assert (written in dropped) == (name not in names)
        assert (written in kept) == (name in names), (i, kept)


def test_hostile_values_do_not_leak_through_their_escapes():
    """A value with CR/LF, NUL or bidi controls is escaped differently by each writer:
    neither its raw nor its escaped form is in the record."""
    subject = "pay\r\nX-Evil: 1\x00\u202eTXT.exe"
    message = make(sender="évil\u202e@example.org", subject=subject,
                   files=(Attachment("in\u202efdp.exe", "application/x-msdownload"),))
    for record in (summary_line(message, addresses="hash", subject="hash",
                                **{"attachment-names": "hash"}),
                   summary_line(message, format="json", addresses="domain", subject="drop",
                                **{"attachment-names": "drop"})):
        for value in ("évil\u202e", subject, "in\u202efdp"):
            assert _absent(value, record), record
        assert "\u202e" not in record and "\\u202e" not in record


def test_the_privacy_object_keeps_every_value_by_default():
    plain = Privacy()
    assert plain.address("a@b") == "a@b" and plain.subject_of("s") == "s"
    assert plain.name("n.pdf") == "n.pdf" and plain.client_value("c") == "c"
    assert privacy.privacy({"format": "json"}) is privacy.KEEP


def test_the_key_shows_in_no_repr(tmp_path):
    """A traceback or a log line that shows the options' Privacy never shows the key."""
    from mailspy.rules.load import load_rules

    key = tmp_path / "privacy.key"
    key.write_bytes(KEY)
    key.chmod(0o600)
    (tmp_path / "a.rules").write_text(f'rule "a" {{ log-summary with subject hash, key "{key}" }}')
    loaded = load_rules(tmp_path)
    assert loaded.ok and loaded.rules.keys == {str(key): KEY}
    shown = repr(privacy.privacy({"subject": "hash"})) + repr(loaded.rules)
    assert "kkkkkkkk" not in shown and "subject='hash'" in shown
