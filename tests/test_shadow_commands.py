"""Shadow rules in the commands a postmaster runs: check-rules, test-rules (text and
JSON), replay, and check-rules --test fixtures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.command import mailspy

RULES = """
rule "bounces" { when sender is "" stop }
shadow rule "quarantine" {
    when attachment matches "*.iso" or subject contains "urgent"
    archive-to-maildir "/srv/quarantine"
    stop
}
shadow rule "big" { when size > 1M log-summary "/var/log/mailspy/big.log" }
rule "everything" { log-summary }
"""

URGENT = b"From: ann@example.org\nTo: bob@example.net\nSubject: urgent invoice\n\nPay.\n"
PLAIN = b"From: ann@example.org\nTo: bob@example.net\nSubject: lunch\n\nSoup.\n"


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules.d"
    directory.mkdir()
    (directory / "a.rules").write_text(RULES)
    return directory


def test_check_rules_counts_shadow_rules_as_rules(rules_dir):
    done = mailspy("check-rules", "--offline", "-d", str(rules_dir))
    assert (done.returncode, done.stdout, done.stderr) == (0, "4 rules in 1 file, all valid\n",
                                                           "")


def test_check_rules_lists_the_shadow_log_and_not_the_logs_shadow_rules_name(rules_dir):
    done = mailspy("check-rules", "--offline", "--list-logs", "-d", str(rules_dir))
    assert done.stdout.splitlines() == ["/var/log/mailspy/mailspy",
                                        "/var/log/mailspy/shadow.jsonl"]


def test_test_rules_shows_shadow_hits_apart(rules_dir, tmp_path):
    eml = tmp_path / "urgent.eml"
    eml.write_bytes(URGENT)
    done = mailspy("test-rules", "-d", str(rules_dir), str(eml))
    assert done.returncode == 0, done.stderr
    rules_file = rules_dir / "a.rules"
    assert done.stdout.split("rules matched:", 1)[1] == (
        " 1\n"
        f"  everything  {rules_file}:9:1\n"
        "actions that would run: 1\n"
        "  log-summary  /var/log/mailspy/mailspy\n"
        "stopped by: none (every rule was evaluated)\n"
        "\n"
        "shadow rules matched: 1 (none of their actions runs; the daemon writes them to its "
        "shadow log)\n"
        f"  quarantine  {rules_file}:3:1\n"
        "    would run:  archive-to-maildir  /srv/quarantine\n"
        "    would stop: the rules after it would not be evaluated\n")

    done = mailspy("test-rules", "-d", str(rules_dir), "--json", str(eml))
    found = json.loads(done.stdout)
    assert found["rules"] == ["everything"] and found["stopped_by"] is None
    assert found["actions"] == [{"action": "log-summary", "target": "/var/log/mailspy/mailspy"}]
    assert found["shadow"] == [{
        "rule": "quarantine", "at": f"{rules_file}:3:1",
        "would_run": [{"action": "archive-to-maildir", "target": "/srv/quarantine"}],
        "would_stop": True}]


def test_test_rules_json_has_no_shadow_key_without_shadow_rules(tmp_path):
    (tmp_path / "a.rules").write_text('rule "a" { log-summary }')
    eml = tmp_path / "m.eml"
    eml.write_bytes(PLAIN)
    found = json.loads(mailspy("test-rules", "-d", str(tmp_path), "--json", str(eml)).stdout)
    assert "shadow" not in found


def test_replay_counts_shadow_rules_and_marks_them(rules_dir, tmp_path):
    source = tmp_path / "mail"
    source.mkdir()
    for i, raw in enumerate([URGENT, PLAIN, URGENT]):
        (source / f"{i}.eml").write_bytes(raw)
    done = mailspy("replay", "-d", str(rules_dir), "--json", str(source))
    assert done.returncode == 0, done.stderr
    rules = json.loads(done.stdout)["rules"]
    assert [(r["rule"], r["shadow"], r["matched"]) for r in rules] == [
        ("bounces", False, 0), ("quarantine", True, 2), ("big", True, 0),
        ("everything", False, 3)]
    table = mailspy("replay", "-d", str(rules_dir), str(source)).stdout
    assert "quarantine (shadow)         2  urgent invoice | urgent invoice" in table


def test_fixtures_check_the_shadow_rules_that_match(rules_dir, tmp_path):
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "urgent.eml").write_bytes(URGENT)
    (fixtures / "urgent.toml").write_text(
        'rules = ["everything"]\nstopped-by = ""\nshadow = ["quarantine"]\n'
        '[[actions]]\naction = "log-summary"\ntarget = "/var/log/mailspy/mailspy"\n')
    (fixtures / "plain.eml").write_bytes(PLAIN)
    (fixtures / "plain.toml").write_text('shadow = ["quarantine"]\n')
    done = mailspy("check-rules", "--offline", "-d", str(rules_dir), "--test", str(fixtures))
    assert done.returncode == 1
    assert done.stdout.splitlines()[1:] == [
        f"FAILED  {fixtures}/plain.eml",
        "    --- expected shadow",
        "    +++ actual shadow",
        "    @@ -1 +0,0 @@",
        '    -"quarantine"',
        f"ok      {fixtures}/urgent.eml",
        "2 fixtures: 1 passed, 1 failed",
    ]
