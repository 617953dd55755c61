"""test-rules, replay and check-rules --test rebuild a saved message's envelope one way."""

from __future__ import annotations

import json
from pathlib import Path

from tests.command import mailspy

RULES = """
rule "return-path" { when sender is "bounces@lists.example" log-summary }
rule "from-header" { when sender is "news@lists.example" log-summary }
rule "bcc" { when recipient is "hidden@corp.example" log-summary }
rule "to-header" { when recipient is "all@corp.example" log-summary }
"""

# As mailspy's archive-to-maildir leaves a copy: the envelope on top, Bcc included.
ARCHIVED = (b"Return-Path: <bounces@lists.example>\n"
            b"X-Mailspy-Envelope-To: <hidden@corp.example>\n"
            b"From: News <news@lists.example>\nTo: all@corp.example\nSubject: Weekly\n\nhi\n")


def test_the_three_commands_see_the_same_envelope(tmp_path: Path) -> None:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.rules").write_text(RULES)
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "weekly.eml").write_bytes(ARCHIVED)
    expected = ["return-path", "bcc"]
    (fixtures / "weekly.toml").write_text(f"rules = {json.dumps(expected)}\n")

    tried = mailspy("test-rules", "-d", str(rules), "--json", str(fixtures / "weekly.eml"))
    assert tried.returncode == 0, tried.stderr
    assert json.loads(tried.stdout)["rules"] == expected
    assert "the sender is taken from the Return-Path: header" in tried.stderr
    assert "recipients are taken from the X-Mailspy-Envelope-To: headers" in tried.stderr

    mail = tmp_path / "mail"
    mail.mkdir()
    (mail / "1.eml").write_bytes(ARCHIVED)
    replayed = json.loads(mailspy("replay", "-d", str(rules), "--json", str(mail)).stdout)
    assert [r["rule"] for r in replayed["rules"] if r["matched"]] == expected

    checked = mailspy("check-rules", "--offline", "-d", str(rules), "--test", str(fixtures))
    assert checked.returncode == 0, checked.stdout + checked.stderr
