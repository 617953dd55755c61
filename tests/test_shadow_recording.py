"""The Recorder and shadow rules: hits counted apart, a "would have" line in the shadow
log, none of the rule's actions run, its stop stopping nothing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from mailspy.actions.sinks import Sinks
from mailspy.commands.control import describe
from mailspy.dispatch import Recorder
from mailspy.message.model import Attachment, Envelope, Message
from mailspy.rules.compile import Defaults
from mailspy.rules.load import load_rules
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.store import Spool


def rules_text(base: Path) -> str:
    return f"""
shadow rule "quarantine" {{
    when attachment matches "*.iso"
    archive-to-maildir "{base}/quarantine"
    log-summary "{base}/quarantine.log"
    stop
}}
rule "everything" {{ log-summary }}
"""


def message(name: str, queue_id: str) -> Message:
    msg = Message(Envelope("<ann@example.org>", ["<bob@example.net>"], queue_id=queue_id),
                  [("Subject", "disk image")], io.BytesIO(b"x\r\n"), 3, 1795694400.0)
    msg.__dict__["attachments"] = [Attachment(name, "application/x-iso9660-image", "2", 5,
                                              "ab" * 32)]
    msg.__dict__["subject"] = "disk image"
    return msg


@pytest.fixture
def recorder(tmp_path: Path):
    rules_dir = tmp_path / "rules.d"
    rules_dir.mkdir()
    (rules_dir / "a.rules").write_text(rules_text(tmp_path))
    defaults = Defaults(summary_log=str(tmp_path / "summary.log"),
                        shadow_log=str(tmp_path / "shadow.jsonl"))
    loaded = load_rules(rules_dir, defaults=defaults)
    assert loaded.ok, loaded.diagnostics
    spool = Spool(tmp_path / "spool")
    spool.create()
    deliverer = Deliverer(spool, DeliverySettings())
    deliverer.start()
    made = Recorder(loaded.rules, Sinks(), spool, deliverer)
    yield made
    made.close()
    made.sinks.close_all()


def test_a_shadow_hit_is_written_and_counted_and_nothing_else_happens(recorder, tmp_path):
    outcome = recorder.record(message("cd.iso", "Q1"))
    recorder.record(message("notes.txt", "Q2"))
    recorder.record(message("dvd.iso", "Q3"))

    assert not outcome.tempfail and [r.name for r in outcome.verdict.shadow] == ["quarantine"]
    assert recorder.spool.ids() == []  # no copy owed for the Maildir
    assert not (tmp_path / "quarantine").exists()
    assert not (tmp_path / "quarantine.log").exists()
    summary = (tmp_path / "summary.log").read_text().splitlines()
    assert len(summary) == 3  # its stop stopped nothing
    assert recorder.hits == {"everything": 3}
    assert recorder.shadow_hits == {"quarantine": 2}

    lines = [json.loads(line) for line in (tmp_path / "shadow.jsonl").read_text().splitlines()]
    assert [line["queue_id"] for line in lines] == ["Q1", "Q3"]
    assert lines[0]["rules"] == ["everything"]
    assert lines[0]["attachments"][0]["name"] == "cd.iso"
    assert lines[0]["shadow"] == [{
        "rule": "quarantine", "at": f"{tmp_path}/rules.d/a.rules:2:1",
        "would_run": [{"action": "archive-to-maildir", "target": f"{tmp_path}/quarantine"},
                      {"action": "log-summary", "target": f"{tmp_path}/quarantine.log"}],
        "would_stop": True}]


def test_a_reload_counts_shadow_hits_from_zero(recorder):
    recorder.record(message("cd.iso", "Q1"))
    recorder.use(recorder.rules)
    assert recorder.shadow_hits == {} and recorder.hits == {}


def test_status_shows_shadow_hits_apart():
    status = {"rules": {"count": 2, "files": ["/etc/mailspy/rules.d/a.rules"],
                        "hits": {"everything": 3}, "shadow_hits": {"quarantine": 2},
                        "shadow_log": "/var/log/mailspy/shadow.jsonl"}}
    text = describe(status)
    assert text.endswith(
        "hits since the rules were loaded:\n"
        "  everything  3\n"
        "shadow hits since the rules were loaded (no action run; what they would have done "
        "is in /var/log/mailspy/shadow.jsonl):\n"
        "  quarantine  2")


def test_the_shadow_log_takes_privacy_options_checked_like_a_rules(tmp_path):
    key = tmp_path / "privacy.key"
    key.write_bytes(b"s" * 32)
    key.chmod(0o600)
    rules_dir = tmp_path / "rules.d"
    rules_dir.mkdir()
    (rules_dir / "a.rules").write_text(rules_text(tmp_path))
    text = f'addresses domain, subject hash, attachment-names drop, key "{key}"'
    defaults = Defaults(summary_log=str(tmp_path / "summary.log"),
                        shadow_log=str(tmp_path / "shadow.jsonl"), shadow_privacy=text)
    loaded = load_rules(rules_dir, defaults=defaults)
    assert loaded.ok, loaded.diagnostics
    spool = Spool(tmp_path / "spool")
    spool.create()
    recorder = Recorder(loaded.rules, Sinks(), spool, Deliverer(spool, DeliverySettings()))
    try:
        recorder.record(message("cd.iso", "Q1"))
    finally:
        recorder.sinks.close_all()
    written = (tmp_path / "shadow.jsonl").read_text()
    record = json.loads(written)
    assert (record["sender"], record["recipients"]) == ("@example.org", ["@example.net"])
    assert record["attachments"][0]["name"] == "" and record["shadow"][0]["rule"] == "quarantine"
    assert "ann" not in written and "disk image" not in written and "cd.iso" not in written


@pytest.mark.parametrize(("text", "expected"), [
    ("adresses hash", "--shadow-log-privacy:1:1: error: unknown option 'adresses'; did you "
     "mean 'addresses'?"),
    ("subject drop, client hsh", "--shadow-log-privacy:1:22: error: unknown value 'hsh' for "
     "'client'; did you mean 'hash'?"),
    ("format json", "--shadow-log-privacy:1:1: error: the shadow log is always JSON: give "
     "only privacy options"),
    ('subject drop } rule "x" { stop', "--shadow-log-privacy:1:1: error: write options only, "
     "separated by commas: NAME VALUE, NAME VALUE (e.g. addresses hash, subject drop)"),
])
def test_a_mistake_in_the_shadow_logs_options_is_an_error_at_its_column(tmp_path, text,
                                                                        expected):
    (tmp_path / "a.rules").write_text('rule "a" { log-summary }')
    loaded = load_rules(tmp_path, defaults=Defaults(shadow_privacy=text))
    assert [str(d) for d in loaded.diagnostics] == [expected]
