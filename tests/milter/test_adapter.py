"""The pymilter callbacks: what they gather, and that mail always flows."""

from __future__ import annotations

import io
import logging
import os
import time

import Milter
import milter
import pytest
from Milter import testctx

from mailspy.milter import adapter
from mailspy.milter.adapter import MailspyMilter

from .conftest import FakeMTA

# libmilter's own NOREPLY: pymilter's Milter.test, which the in-process MTA imports, sets
# Milter.NOREPLY to CONTINUE for its own harness, so that name cannot tell them apart.
NOREPLY = milter.NOREPLY

HEADERS = [(b"From", b"Ann <ann@example.org>"), (b"To", b"bob@example.net"),
           (b"Subject", b"=?UTF-8?Q?Caf=C3=A9_invoice?=")]
MULTIPART = [
    (b"From", b"ann@example.org"), (b"Subject", b"Report"), (b"MIME-Version", b"1.0"),
    (b"Content-Type", b'multipart/mixed; boundary="XX"'),
]
MULTIPART_BODY = (
    b"--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
    b"--XX\r\nContent-Type: application/pdf\r\n"
    b'Content-Disposition: attachment; filename="q3.pdf"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--XX--\r\n"
)


def summary_fields(path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_a_message_is_recorded_with_envelope_subject_and_attachments(daemon):
    _, summary, _ = daemon('rule "all" { log-summary }')
    mta = FakeMTA()
    rc = mta.send("<ann@example.org>", ["<bob@example.net>", "<cfo@example.net>"], MULTIPART,
                  MULTIPART_BODY)
    mta.close()
    assert rc == Milter.ACCEPT
    [fields] = summary_fields(summary)
    assert fields[2:] == ["from=<ann@example.org>", "to=<bob@example.net>",
                          "to=<cfo@example.net>", f"size={len(MULTIPART_BODY)}",
                          "subject=Report", "file=q3.pdf", "queue=4XyZ1"]


def test_the_subject_is_decoded_and_8bit_headers_survive(daemon):
    _, summary, headers_log = daemon('rule "all" { log-summary log-headers }')
    mta = FakeMTA()
    mta.send("<a@x>", ["<b@y>"], [*HEADERS, (b"X-Raw", "Grüße".encode())], b"hi\r\n")
    mta.close()
    assert summary_fields(summary)[0][5] == "subject=Café invoice"
    block = headers_log.read_bytes()
    assert "X-Raw: Grüße\n".encode() in block
    assert b"Subject: =?UTF-8?Q?Caf=C3=A9_invoice?=\n" in block


def test_headers_as_libmilter_hands_them_over_are_kept_as_pymilter_decodes_them(daemon):
    """The header callback milter/loop.py registers: raw bytes, 8-bit and undecodable
    ones too, kept as pymilter's own header() would keep them, and left unanswered."""
    daemon('rule "all" { log-summary }')
    raw = [("Subject", b"=?UTF-8?Q?Caf=C3=A9?="), ("X-Raw", "Grüße".encode()),
           ("X-Bad", b"\xff\xfe end"), ("X-Text", "already text")]
    via_libmilter, via_pymilter = FakeMTA().ctx.getpriv(), FakeMTA().ctx.getpriv()
    for priv in (via_libmilter, via_pymilter):
        priv.envfrom("<a@x>")
    answers = [via_libmilter.header_received(name, value) for name, value in raw]
    for name, value in raw:
        via_pymilter.header_bytes(name, value) if isinstance(value, bytes) \
            else via_pymilter.header(name, value)
    assert answers == [NOREPLY] * len(raw)
    assert via_libmilter._message.headers == via_pymilter._message.headers
    assert via_libmilter._message.headers[2] == ("X-Bad", "\udcff\udcfe end")
    for priv in (via_libmilter, via_pymilter):
        priv.abort()


def test_the_queue_id_and_client_reach_the_message(daemon, monkeypatch):
    recorder, _, _ = daemon('rule "all" { when client-address in ["192.0.2.0/24"] '
                            'or helo is "x" log-summary }')
    seen = []
    original = recorder.record
    monkeypatch.setattr(recorder, "record",
                        lambda m, **kw: (seen.append(m), original(m, **kw))[1])
    mta = FakeMTA(queue_id="QQ123")
    mta.send("<a@x>", ["<b@y>"], HEADERS, b"hi\r\n")
    mta.close()
    [message] = seen
    envelope = message.envelope
    assert (envelope.queue_id, envelope.client_address, envelope.client_name, envelope.helo) \
        == ("QQ123", "192.0.2.7", "client.example", "helo.example")


def test_several_messages_on_one_connection_are_kept_apart(daemon):
    _, summary, _ = daemon('rule "all" { log-summary }')
    mta = FakeMTA()
    mta.send("<one@x>", ["<r1@y>"], [(b"Subject", b"first")], b"1\r\n")
    mta.send("<two@x>", ["<r2@y>", "<r3@y>"], [(b"Subject", b"second")], b"22\r\n")
    mta.close()
    lines = summary_fields(summary)
    assert [f[2:] for f in lines] == [
        ["from=<one@x>", "to=<r1@y>", "size=3", "subject=first", "queue=4XyZ1"],
        ["from=<two@x>", "to=<r2@y>", "to=<r3@y>", "size=4", "subject=second", "queue=4XyZ1"],
    ]


def test_an_aborted_message_is_not_recorded(daemon):
    _, summary, _ = daemon('rule "all" { log-summary }')
    mta = FakeMTA()
    mta.ctx._envfrom("<gone@x>")
    mta.ctx._envrcpt("<b@y>")
    mta.ctx.getpriv().abort()
    mta.send("<kept@x>", ["<b@y>"], [(b"Subject", b"s")], b"x\r\n")
    mta.close()
    assert [f[2] for f in summary_fields(summary)] == ["from=<kept@x>"]


def test_a_failing_recorder_still_accepts_the_message(daemon, monkeypatch, caplog):
    recorder, _, _ = daemon('rule "all" { log-summary }')

    def explode(message):
        raise RuntimeError("boom")

    monkeypatch.setattr(recorder, "record", explode)
    with caplog.at_level(logging.ERROR, logger="mailspy"):
        rc = FakeMTA(queue_id="Q9").send("<a@x>", ["<b@y>"], HEADERS, b"x\r\n")
    assert rc == Milter.ACCEPT
    assert "Q9: recording failed; the message was accepted" in caplog.text


def test_an_action_that_fails_is_logged_and_the_others_still_run(daemon, tmp_path, caplog):
    missing = tmp_path / "no-such-dir" / "x.log"
    _, summary, _ = daemon(f'rule "a" {{ log-headers "{missing}" log-summary }}')
    with caplog.at_level(logging.ERROR, logger="mailspy"):
        rc = FakeMTA(queue_id="Q7").send("<a@x>", ["<b@y>"], HEADERS, b"x\r\n")
    assert rc == Milter.ACCEPT
    assert len(summary_fields(summary)) == 1
    assert f"Q7: log-headers {missing} failed" in caplog.text


def test_a_big_body_is_spooled_to_disk_not_held_in_memory(daemon, monkeypatch):
    recorder, _, _ = daemon('rule "all" { log-summary }')
    seen = []
    kept = []

    def record(message, **_):
        seen.append((not isinstance(message.body, io.BytesIO), message.body_size))
        message.body.seek(0)
        kept.append(message.body.read())

    monkeypatch.setattr(recorder, "record", record)
    line = b"x" * 70 + b"\r\n"
    big = b"".join(b"%070d\r\n" % n for n in range(adapter.BODY_IN_MEMORY // 72 + 10))
    FakeMTA().send("<a@x>", ["<b@y>"], HEADERS, big)
    small = FakeMTA()
    small.send("<a@x>", ["<b@y>"], HEADERS, line)
    assert [rolled for rolled, _ in seen] == [True, False]
    assert seen[1][1] == 72
    assert kept == [big, line]  # spilled or not, every byte as it came


def test_eom_is_answered_while_a_slow_pipe_runs(daemon, tmp_path):
    marker = tmp_path / "ran"
    script = tmp_path / "slow"
    script.write_text(f"#!/bin/sh\nsleep 2\ntouch {marker}\n")
    script.chmod(0o755)
    recorder, _, _ = daemon(f'rule "a" {{ pipe-to-command "{script}" }}')
    started = time.monotonic()
    rc = FakeMTA().send("<a@x>", ["<b@y>"], HEADERS, b"x\r\n")
    answered = time.monotonic() - started
    assert rc == Milter.ACCEPT
    assert not marker.exists()  # the pipe was still running when eom was answered
    assert recorder.deliverer.wait_idle(10)
    assert marker.exists()
    assert answered < 2  # far below the pipe's own 2 s (not a timing claim: a sanity bound)


def test_a_body_file_is_closed_once_its_copies_are_made(daemon, tmp_path):
    recorder, _, _ = daemon(f'rule "a" {{ archive-to-maildir "{tmp_path}/md" }}')
    opened_before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        FakeMTA().send("<a@x>", ["<b@y>"], HEADERS, b"x" * 300_000)
    assert recorder.deliverer.wait_idle(20)
    assert len(os.listdir(tmp_path / "md" / "new")) == 20
    assert recorder.spool.ids() == []  # delivered entries leave the spool
    assert len(os.listdir("/proc/self/fd")) <= opened_before + 2


def test_callbacks_never_answer_anything_but_continue_or_accept(daemon):
    daemon('rule "all" { log-summary }')
    priv_class = MailspyMilter
    mta = FakeMTA()
    priv = mta.ctx.getpriv()
    assert isinstance(priv, priv_class)
    # callbacks out of order (body before envfrom, a header with no message) are harmless
    assert priv.body(b"stray") == Milter.CONTINUE
    assert priv.header("X", "y") == Milter.CONTINUE
    assert priv.envrcpt("<x@y>") == Milter.CONTINUE
    assert priv.eom() == Milter.ACCEPT
    mta.close()


def test_connection_and_helo_are_skipped_when_nothing_needs_them(daemon):
    daemon('rule "all" { when sender is "a@x" log-summary }')
    priv = FakeMTA().ctx.getpriv()
    assert priv._protocol & Milter.P_NOCONNECT and priv._protocol & Milter.P_NOHELO
    assert priv._client_address == "" and priv._helo == ""  # never called


@pytest.mark.parametrize("rules", [
    'rule "a" { when client-name matches "*.example" log-summary }',
    'rule "a" { log-summary "/tmp/never-written.jsonl" format json }',
])
def test_connection_is_asked_for_when_a_rule_or_the_json_record_needs_it(daemon, rules):
    daemon(rules)
    priv = FakeMTA().ctx.getpriv()
    assert not priv._protocol & Milter.P_NOCONNECT
    assert priv._client_address == "192.0.2.7"


# -- which steps are answered, by the kind of socket --------------------------------

STEP_ANSWERS = (Milter.P_NR_MAIL, Milter.P_NR_RCPT, Milter.P_NR_DATA, Milter.P_NR_BODY)


def _answers(priv: MailspyMilter) -> list[int]:
    """What the steps of one message answer, called as libmilter calls them."""
    answers = [priv.envfrom("<a@x>"), priv.envrcpt("<b@y>"), priv.data()]
    priv.header("Subject", "s")
    answers.append(priv.body(b"text\r\n"))
    priv.abort()
    return answers


def test_over_tcp_only_headers_go_unanswered(daemon):
    daemon('rule "all" { log-summary }')
    priv = FakeMTA().ctx.getpriv()
    assert priv._protocol & Milter.P_NR_HDR
    assert not any(priv._protocol & bit for bit in STEP_ANSWERS)
    assert _answers(priv) == [Milter.CONTINUE] * 4


def test_over_a_unix_socket_every_step_but_end_of_message_goes_unanswered(daemon,
                                                                           monkeypatch):
    _, summary, _ = daemon('rule "all" { log-summary }')
    monkeypatch.setattr(MailspyMilter, "unanswered", adapter.UNANSWERED_UNIX)
    mta = FakeMTA()
    priv = mta.ctx.getpriv()
    assert all(priv._protocol & bit for bit in (*STEP_ANSWERS, Milter.P_NR_HDR))
    assert _answers(priv) == [NOREPLY] * 4
    priv.envfrom("<a@x>")
    priv.envrcpt("<b@y>")
    priv.body(b"text\r\n")
    assert priv.eom() == Milter.ACCEPT  # end-of-message is always answered
    mta.close()
    assert "to=<b@y>" in summary.read_text()


def test_over_a_unix_socket_connect_and_helo_go_unanswered_when_asked_for(daemon,
                                                                          monkeypatch):
    daemon('rule "a" { when client-name matches "*.example" log-summary }')
    monkeypatch.setattr(MailspyMilter, "unanswered", adapter.UNANSWERED_UNIX)
    monkeypatch.setattr(testctx.TestCtx, "default_opts", [Milter.CURR_ACTS, 0x1FFFFF, 0, 0])
    monkeypatch.setattr(Milter, "factory", MailspyMilter)
    ctx = testctx.TestCtx()  # negotiated only: TestCtx would close on an unanswered connect
    assert ctx._negotiate() == Milter.CONTINUE
    priv = ctx.getpriv()
    assert not priv._protocol & Milter.P_NOCONNECT
    assert priv._protocol & Milter.P_NR_CONN and priv._protocol & Milter.P_NR_HELO
    assert priv.connect("client.example", 4, ("192.0.2.7", 25)) == NOREPLY
    assert priv.hello("helo.example") == NOREPLY


def test_a_connection_beyond_the_limit_keeps_mail_from_answered_for_its_tempfail(
        daemon, monkeypatch):
    daemon('rule "all" { log-summary }')
    monkeypatch.setattr(MailspyMilter, "unanswered", adapter.UNANSWERED_UNIX)
    monkeypatch.setattr(MailspyMilter, "connections", adapter.Connections(limit=0))
    priv = FakeMTA().ctx.getpriv()
    assert not priv._protocol & Milter.P_NR_MAIL
    assert priv.envfrom("<a@x>") == Milter.TEMPFAIL
