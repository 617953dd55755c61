"""When mailspy cannot keep what it owes, the MTA keeps the message instead.

A copy a rule owes that cannot be made durable (the spool's disk is full,
the body's spill file could not be written) makes end-of-message answer
TEMPFAIL, unless the site chose `--on-spool-failure accept`; a connection
beyond the limit gets TEMPFAIL for its messages. Sizes are counted bytes.
"""

from __future__ import annotations

import logging
import tempfile

import Milter
import pytest
from Milter import testctx

from mailspy.dispatch import ACCEPT
from mailspy.milter import adapter
from mailspy.milter.adapter import Connections, MailspyMilter

from .conftest import FakeMTA

HEADERS = [(b"From", b"ann@example.org"), (b"Subject", b"Quarterly figures")]
BODY = b"x" * 70 + b"\r\n"


def full_disk(*args, **kwargs):
    raise OSError(28, "No space left on device")


def test_copies_that_cannot_be_spooled_make_the_mta_keep_the_message(daemon, tmp_path,
                                                                    monkeypatch, caplog):
    recorder, summary, _ = daemon(f'rule "all" {{ log-summary archive-to-maildir '
                                  f'"{tmp_path}/md" }}')
    monkeypatch.setattr(recorder.spool, "enqueue", full_disk)
    mta = FakeMTA()
    assert mta.send("<a@x>", ["<b@y>"], HEADERS, BODY) == Milter.TEMPFAIL
    mta.close()
    assert not summary.exists()  # logged when the MTA tries again, not twice
    assert recorder.counters.tempfailed == 1
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "answered TEMPFAIL" in error.getMessage() and "No space left" in error.getMessage()


def test_a_site_that_prefers_flow_accepts_and_loses_the_copies(daemon, tmp_path, monkeypatch,
                                                               caplog):
    recorder, summary, _ = daemon(f'rule "all" {{ log-summary archive-to-maildir '
                                  f'"{tmp_path}/md" }}')
    recorder.on_spool_failure = ACCEPT
    monkeypatch.setattr(recorder.spool, "enqueue", full_disk)
    mta = FakeMTA()
    assert mta.send("<a@x>", ["<b@y>"], HEADERS, BODY) == Milter.ACCEPT
    mta.close()
    assert len(summary.read_text().splitlines()) == 1
    assert recorder.counters.copies_lost == 1
    assert "these copies are lost" in caplog.text


def test_log_only_rules_never_tempfail_on_a_full_spool(daemon, monkeypatch):
    recorder, summary, _ = daemon('rule "all" { log-summary }')
    monkeypatch.setattr(recorder.spool, "enqueue", full_disk)
    assert FakeMTA().send("<a@x>", ["<b@y>"], HEADERS, BODY) == Milter.ACCEPT
    assert len(summary.read_text().splitlines()) == 1


_TEMPORARY_FILE = tempfile.TemporaryFile  # the real one, before the test replaces it


class FillsUp:
    """A body spill file on a disk that fills after `room` bytes."""

    room = 300_000

    def __init__(self, *args, **kwargs) -> None:
        self._file = _TEMPORARY_FILE(*args, **kwargs)

    def write(self, data):
        if self._file.tell() + len(data) > self.room:
            raise OSError(28, "No space left on device")
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)


def test_a_body_that_could_not_be_stored_keeps_its_true_size_and_owes_no_false_copy(
        daemon, tmp_path, monkeypatch):
    monkeypatch.setattr(adapter.tempfile, "TemporaryFile", FillsUp)
    recorder, summary, _ = daemon(f'rule "all" {{ log-summary }}\n'
                                  f'rule "copy" {{ when size > 300K archive-to-maildir '
                                  f'"{tmp_path}/md" }}')
    body = BODY * 5_000  # 360,000 bytes, past the room on the disk
    assert FakeMTA().send("<a@x>", ["<b@y>"], HEADERS, body) == Milter.TEMPFAIL
    recorder.on_spool_failure = ACCEPT
    assert FakeMTA().send("<a@x>", ["<b@y>"], HEADERS, body) == Milter.ACCEPT
    [fields] = [line.split("\t") for line in summary.read_text().splitlines()]
    assert f"size={len(body)}" in fields
    assert not (tmp_path / "md").exists()  # never a copy of a truncated body


def connect(queue_id: str) -> testctx.TestCtx:
    Milter.factory = MailspyMilter
    testctx.TestCtx.default_opts = [Milter.CURR_ACTS, 0x1FFFFF, 0, 0]
    ctx = testctx.TestCtx()
    ctx._setsymval("i", queue_id)
    ctx._connect(host="client.example", helo="helo.example", ip="192.0.2.7")
    return ctx


def test_connections_beyond_the_limit_get_tempfail_until_others_close(daemon, monkeypatch,
                                                                     caplog):
    daemon('rule "all" { log-summary }')
    monkeypatch.setattr(MailspyMilter, "connections", Connections(limit=2))
    first, second, third, fourth = (connect(f"Q{n}") for n in range(4))
    assert first._envfrom("<a@x>") == Milter.CONTINUE
    assert second._envfrom("<a@x>") == Milter.CONTINUE
    assert third._envfrom("<a@x>") == Milter.TEMPFAIL
    assert fourth._envfrom("<a@x>") == Milter.TEMPFAIL
    assert MailspyMilter.connections.refused == 2
    refusals = [r for r in caplog.records if "milter connections at once" in r.getMessage()]
    assert len(refusals) == 1 and refusals[0].levelno == logging.ERROR
    for ctx in (first, third, fourth):
        ctx._close()
    fifth = connect("Q5")
    assert fifth._envfrom("<a@x>") == Milter.CONTINUE
    for ctx in (second, fifth):
        ctx._close()
    assert MailspyMilter.connections.count == 0


@pytest.fixture(autouse=True)
def _fresh_connection_count(monkeypatch):
    monkeypatch.setattr(MailspyMilter, "connections", Connections())


