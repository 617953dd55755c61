"""log-syslog without a syslog daemon: destinations, the message, the queue.

What a real rsyslog makes of the messages is in tests/e2e/test_syslog.py;
here the sink talks to sockets the test holds, so that a collector that
never reads, or is not there, can be arranged.
"""

from __future__ import annotations

import io
import json
import re
import socket
import threading
from collections.abc import Iterator

import pytest

import mailspy.actions.syslog as syslog_module
from mailspy.actions.logfile import RecordLostError
from mailspy.actions.registry import ACTIONS
from mailspy.actions.summary import format_summary
from mailspy.actions.summary_json import format_json_summary
from mailspy.actions.syslog import (
    MAX_MESSAGE,
    Destination,
    SyslogSink,
    local_form,
    parse_destination,
    syslog_message,
)
from mailspy.message.model import Attachment, Envelope, Message
from mailspy.rules.parse import parse_rules
from tests.waiting import eventually

NOV_26_2026_NOON = 1795694400.75
HEADER = re.compile(rb"^<(\d+)>1 (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) ")


def message(subject: str = "Hello", queue_id: str = "4AbCdE1",
            recipients: list[str] | None = None, files: list[Attachment] | None = None
            ) -> Message:
    envelope = Envelope(mail_from="<ann@example.org>",
                        rcpt_to=recipients or ["<bob@example.net>"], queue_id=queue_id,
                        client_address="192.0.2.7")
    msg = Message(envelope, headers=[("Subject", subject)], body=io.BytesIO(b"hi\r\n"),
                  body_size=4, received_at=NOV_26_2026_NOON)
    if files is not None:
        msg.__dict__["attachments"] = files
    return msg


def fields(data: bytes) -> tuple[bytes, ...]:
    match = HEADER.match(data)
    assert match is not None, data[:200]
    return (*match.groups(), data[match.end():])


# -- where it goes ---------------------------------------------------------------

@pytest.mark.parametrize(("target", "wanted"), [
    ("", Destination("local", "/dev/log")),
    ("/run/systemd/journal/dev-log", Destination("local", "/run/systemd/journal/dev-log")),
    ("udp://192.0.2.1", Destination("udp", "192.0.2.1", 514)),
    ("udp://192.0.2.1:5514", Destination("udp", "192.0.2.1", 5514)),
    ("tcp://logs.example.org:601", Destination("tcp", "logs.example.org", 601)),
    ("tcp://[2001:db8::1]:514", Destination("tcp", "2001:db8::1", 514)),
    ("udp://[::1]", Destination("udp", "::1", 514)),
])
def test_destinations(target: str, wanted: Destination) -> None:
    assert parse_destination(target) == wanted


@pytest.mark.parametrize(("target", "said"), [
    ("tpc://192.0.2.1:514", "did you mean 'tcp://192.0.2.1:514'?"),
    ("relp://192.0.2.1", "unknown syslog transport 'relp'"),
    ("192.0.2.1:514", "neither a URL nor a path"),
    ("udp://", "names no host"),
    ("tcp://2001:db8::1", "in brackets"),
    ("udp://192.0.2.1:99999", "port '99999'"),
    ("udp://a b:514", "names no host"),
])
def test_a_wrong_destination_says_what_to_write(target: str, said: str) -> None:
    with pytest.raises(ValueError, match=re.escape(said)):
        parse_destination(target)


def test_check_rules_reports_a_wrong_destination_where_it_is_written() -> None:
    _, found = parse_rules('rule "r" {\n  log-syslog "tpc://192.0.2.1"\n}\n', "a.rules")
    assert [str(d) for d in found] == [
        "a.rules:2:14: error: unknown syslog transport 'tpc': did you mean "
        "'tcp://192.0.2.1'? write udp://HOST:PORT, tcp://HOST:PORT or a local socket's path, "
        "like /dev/log"]


def test_the_action_is_found_by_the_registry_and_takes_the_format_option() -> None:
    rules, found = parse_rules('rule "r" { log-syslog "udp://192.0.2.1" format json '
                               'log-syslog }', "a.rules")
    assert found == []
    assert [(a.name, a.target, a.options) for a in rules[0].actions] == [
        ("log-syslog", "udp://192.0.2.1", (("format", "json"),)),
        ("log-syslog", None, ())]
    assert ACTIONS["log-syslog"].kind == "log"


# -- the message -------------------------------------------------------------------

def test_an_rfc5424_message_mail_info_mailspy_queue_id() -> None:
    msg = message()
    data = syslog_message(msg, ["finance"], {"format": "json"})
    pri, stamp, host, app, procid, msgid, sd, body = fields(data)
    assert (pri, app, msgid, sd) == (b"22", b"mailspy", b"4AbCdE1", b"-")
    assert stamp == b"2026-11-26T12:00:00.750000Z"
    assert host == syslog_module.HOSTNAME.encode() and procid.isdigit()
    assert body.decode() == format_json_summary(msg, ["finance"]).rstrip("\n")


@pytest.mark.parametrize(("facility", "pri"), [("mail", b"22"), ("local3", b"158"),
                                                ("daemon", b"30")])
def test_the_facility_option_sets_the_priority(facility: str, pri: bytes) -> None:
    assert fields(syslog_message(message(), [], {"facility": facility}))[0] == pri


def test_check_rules_names_the_facilities_it_knows() -> None:
    _, found = parse_rules('rule "r" { log-syslog with facility lcal3 }', "a.rules")
    assert len(found) == 1
    assert str(found[0]).startswith("a.rules:1:")
    assert "unknown value 'lcal3' for 'facility'; did you mean 'local3'?" in str(found[0])


def test_the_text_record_is_the_summary_line() -> None:
    msg = message()
    body = fields(syslog_message(msg, [], {}))[-1]
    assert body.decode() == format_summary(msg).rstrip("\n")


def test_hostile_header_values_stay_in_their_fields() -> None:
    msg = message(queue_id="4Ab Cd\r\n<13>1 - forged - - -\x00")
    data = syslog_message(msg, [], {"format": "json"})
    msgid = fields(data)[5]
    assert msgid == b"4AbCd<13>1-forged---"[:32]
    assert len(msgid) <= 32 and b"\n" not in data and b"\r" not in data


def test_a_message_without_queue_id_has_the_nil_msgid() -> None:
    assert fields(syslog_message(message(queue_id=""), [], {}))[5] == b"-"


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_a_64k_subject_with_cr_lf_and_nul_gives_one_message_under_the_limit(fmt: str) -> None:
    msg = message("a\r\nb\x00c " + "é" * 65536)
    data = syslog_message(msg, ["r"], {"format": fmt})
    body = fields(data)[-1]
    assert len(data) <= MAX_MESSAGE
    assert not set(body) & {0, 10, 13}
    if fmt == "json":
        record = json.loads(body)
        assert record["truncated"] is True and record["queue_id"] == "4AbCdE1"
        assert record["subject"].startswith(msg.subject[:8]) and "\x00" in msg.subject[:8]
        assert record["subject"][-1] == "…"
        assert len(record["subject"]) > 1000  # cut to fit, not emptied
    else:
        assert body.endswith("…".encode()) and b"\tsize=4\tsubject=a" in body


def test_thousands_of_recipients_and_attachments_still_give_valid_json() -> None:
    recipients = [f"<user{n}@example.net>" for n in range(5000)]
    files = [Attachment(path=f"{n}", name=f"file{n}.pdf" * 20, content_type="application/pdf",
                        size=1, sha256="0" * 64) for n in range(500)]
    data = syslog_message(message(recipients=recipients, files=files), ["r"],
                          {"format": "json"})
    record = json.loads(fields(data)[-1])
    assert len(data) <= MAX_MESSAGE and record["truncated"] is True
    assert 0 < len(record["recipients"]) < 5000


def test_a_small_record_is_not_marked_truncated() -> None:
    record = json.loads(fields(syslog_message(message(), [], {"format": "json"}))[-1])
    assert "truncated" not in record


def test_the_local_socket_gets_syslog3s_form() -> None:
    data = syslog_message(message(), [], {})
    local = local_form(data)
    assert re.match(rb"^<22>[A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d mailspy\[\d+\]: \d\d-11-26 ",
                    local), local


# -- the queue ---------------------------------------------------------------------

@pytest.fixture
def stalled_collector() -> Iterator[tuple[int, list[socket.socket]]]:
    """A TCP server that accepts and never reads: its buffers fill, then sends block."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            accepted.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], accepted
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def test_a_stalled_collector_never_blocks_a_write_records_are_dropped_and_counted(
        stalled_collector: tuple[int, list[socket.socket]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog_module, "MAX_QUEUED", 64 * 1024)
    port, accepted = stalled_collector
    sink = SyslogSink(f"tcp://127.0.0.1:{port}")
    record = syslog_message(message("x" * 7000), [], {})
    firsts, written = [], 0
    try:
        for _ in range(400):  # ~3 MB: far more than the socket buffers and the queue hold
            try:
                sink.write(record)
                written += 1
            except RecordLostError as exc:
                firsts.append(exc.first)
        eventually(lambda: accepted)  # it did reach the collector
        assert firsts[:1] == [True] and not any(firsts[1:]), "one episode, said once"
        assert sink.lost == len(firsts) > 0 and written >= 64 * 1024 // len(record)
    finally:
        monkeypatch.setattr(syslog_module, "CLOSE_WAIT", 0.2)
        sink.close()
    assert sink.lost >= 400 - sink.sent - sink.queued


def test_records_wait_for_a_collector_that_is_down_then_arrive_whole() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    sink = SyslogSink(f"tcp://127.0.0.1:{port}")  # nobody listens yet: refused
    records = [syslog_message(message(f"number {n}"), [], {}) for n in range(3)]
    try:
        for record in records:
            assert sink.write(record) == 0
        probe.listen(1)
        eventually(lambda: sink.sent == 3, timeout=20)
        conn, _ = probe.accept()
        with conn:
            received = _read_frames(conn, 3)
    finally:
        sink.close()
        probe.close()
    assert received == records and sink.lost == 0


def test_a_full_queue_episode_ends_with_the_count_of_records_lost(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(syslog_module, "MAX_QUEUED", 100)
    monkeypatch.setattr(syslog_module, "CLOSE_WAIT", 0.2)
    sink = SyslogSink("/nonexistent/mailspy-test/log")  # never sends: everything waits
    try:
        assert sink.write(b"x" * 60) == 0
        for first in (True, False):
            with pytest.raises(RecordLostError) as caught:
                sink.write(b"y" * 60)
            assert caught.value.first is first
        with sink._state:  # the collector took what waited
            sink._queue.clear()
            sink._queued = 0
        assert sink.write(b"z" * 60) == 2
    finally:
        sink.close()


def _read_frames(conn: socket.socket, count: int) -> list[bytes]:
    """Octet-counted frames (RFC 6587): `LENGTH SP MESSAGE`."""
    data, frames = b"", []
    conn.settimeout(10)
    while len(frames) < count:
        chunk = conn.recv(65536)
        assert chunk, "the connection closed early"
        data += chunk
        while b" " in data:
            length, rest = data.split(b" ", 1)
            if len(rest) < int(length):
                break
            frames.append(rest[:int(length)])
            data = rest[int(length):]
    return frames
