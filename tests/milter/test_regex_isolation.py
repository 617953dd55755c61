"""A regex that backtracks for ages holds up its own message, never the other connections.

A real `mailspy run` process, driven over loopback by the MTA-side milter client the
benchmark uses: libmilter serves each connection in its own thread of one Python
process, so a regex engine that kept the interpreter lock while it searched would stop
every connection at once. The assertions are about order, never about durations.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

import pytest

from bench.daemons import cpu_seconds, kill, start_mailspy
from bench.milterclient import SMFIR_ACCEPT, Mail, MilterClient, deliver
from tests.waiting import eventually

HOSTILE_RULES = (
    'rule "hostile" {\n    when subject matches /^(a|aa)+$/\n    log-summary\n}\n'
    'rule "everything" {\n    log-summary\n}\n'
)
# `^(a|aa)+$` tries every split of the a's into ones and twos before giving up on the
# "!": about 1.6 ** 60 ways, far longer than any test, in both regex engines.
HOSTILE_SUBJECT = "a" * 60 + "!"


def mail(subject: str, queue_id: str) -> Mail:
    return Mail(sender="ann@example.org", recipients=("bob@example.net",),
                headers=(("From", "ann@example.org"), ("Subject", subject)),
                body=b"hello\r\n", queue_id=queue_id)


class PendingMessage:
    """One connection whose message is sent from a thread; `answered` is set when its
    end-of-message is answered (or the connection fails)."""

    def __init__(self, address: tuple[str, int], message: Mail) -> None:
        self.answered = threading.Event()
        self.eom_sent = threading.Event()
        self.reply = None
        self.error: BaseException | None = None
        self._client = MilterClient.open(address, timeout=600)
        self._client.negotiate()
        self._message = message
        self._thread = threading.Thread(target=self._send, daemon=True)
        self._thread.start()

    def _send(self) -> None:
        try:
            self._client.connect("client.example", "127.0.0.1", 40000)
            self._client.helo("client.example")
            original_eom = self._client.eom

            def eom(macros=None):
                self.eom_sent.set()
                return original_eom(macros)

            self._client.eom = eom  # type: ignore[method-assign]
            self.reply = self._client.send_message(self._message)
        except BaseException as exc:  # the daemon killed at teardown, most likely
            self.error = exc
        finally:
            self.answered.set()

    def close(self) -> None:
        with contextlib.suppress(OSError):  # wakes the thread still reading
            self._client.sock.shutdown(socket.SHUT_RDWR)
        self._thread.join(10)
        self._client.close()


@pytest.fixture
def hostile_daemon(tmp_path: Path):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.rules").write_text(HOSTILE_RULES)
    # a timeout far beyond the test, so the hostile search is surely still running
    milter = start_mailspy(rules, tmp_path / "mailspy", "--regex-timeout", "600")
    try:
        yield milter
    finally:
        kill(milter)  # SIGKILL: the hostile search would otherwise run out its timeout


def test_another_connection_is_answered_while_a_hostile_regex_runs(hostile_daemon):
    address = ("127.0.0.1", hostile_daemon.port)
    busy_before = cpu_seconds(hostile_daemon.pid)
    hostile = PendingMessage(address, mail(HOSTILE_SUBJECT, "HOSTILE1"))
    try:
        eventually(hostile.eom_sent.is_set, 60, 0.02, "the end-of-message of the hostile one")
        # the daemon is otherwise idle: CPU time it burns now is the hostile search
        eventually(lambda: cpu_seconds(hostile_daemon.pid) > busy_before + 0.5, 60, 0.02,
                   "the daemon is busy matching the hostile subject")
        reply, _ = deliver(address, mail("Quarterly figures", "OTHER1"), timeout=60)
        assert reply.code == SMFIR_ACCEPT
        assert not hostile.answered.is_set(), (
            "the hostile message was answered first", hostile.reply, hostile.error)
    finally:
        hostile.close()


def test_a_search_that_runs_out_of_time_is_logged_and_the_mail_accepted(tmp_path: Path):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.rules").write_text(HOSTILE_RULES)
    milter = start_mailspy(rules, tmp_path / "mailspy", "--regex-timeout", "0.05")
    try:
        address = ("127.0.0.1", milter.port)
        reply, _ = deliver(address, mail(HOSTILE_SUBJECT, "HOSTILE2"))
        assert reply.code == SMFIR_ACCEPT
        reply, _ = deliver(address, mail("a" * 60, "HARMLESS"))
        assert reply.code == SMFIR_ACCEPT
    finally:
        milter.stop()
    log = milter.output()
    assert "WARNING" in log
    [line] = [line for line in log.splitlines() if "gave up" in line]
    assert "HOSTILE2: rule 'hostile' (" in line
    assert "a.rules:1:1) not matched: its regex /^(a|aa)+$/ gave up on subject after " \
        "0.05 s (--regex-timeout)" in line
    # the rule "everything" still recorded both messages
    summary = (tmp_path / "mailspy" / "summary.log").read_text().splitlines()
    assert len(summary) == 2
