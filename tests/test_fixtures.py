"""`mailspy check-rules --test DIR`: fixtures a postmaster keeps beside the rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.command import mailspy

REPO = Path(__file__).resolve().parents[1]


def test_the_repository_rules_pass_their_fixtures():
    done = mailspy("check-rules", "--offline", "-d", str(REPO / "rules.d"), "--test",
                   str(REPO / "rules.d" / "fixtures"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1] == "5 fixtures: 5 passed, 0 failed"


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.rules").write_text(
        'rule "finance" { when sender matches "*@bank.example" archive-to-maildir "/srv/f" }\n'
        'rule "internal" { when client-address in ["10.0.0.0/8"] log-headers stop }\n'
        'rule "everything" { log-summary }\n')
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    (fixtures / "bank.eml").write_bytes(b"From: b@bank.example\nSubject: x\n\nbody\n")
    return rules, fixtures


def test_a_mismatch_is_shown_as_a_diff_and_fails(layout):
    rules, fixtures = layout
    (fixtures / "bank.toml").write_text(
        'from = "b@bank.example"\nto = ["cfo@corp.example"]\n'
        'rules = ["everything"]\n')
    done = mailspy("check-rules", "--offline", "-d", str(rules), "--test", str(fixtures))
    assert done.returncode == 1
    assert done.stdout.splitlines()[1:] == [
        f"FAILED  {fixtures}/bank.eml",
        "    --- expected rules",
        "    +++ actual rules",
        "    @@ -1 +1,2 @@",
        '    +"finance"',
        '     "everything"',
        "1 fixture: 0 passed, 1 failed",
    ]


def test_actions_and_stopped_by_are_checked_when_given(layout):
    rules, fixtures = layout
    (fixtures / "bank.toml").write_text(
        'from = "b@bank.example"\nto = ["cfo@corp.example"]\nclient-address = "10.1.2.3"\n'
        'rules = ["finance", "internal"]\nstopped-by = "internal"\n'
        '[[actions]]\naction = "archive-to-maildir"\ntarget = "/srv/f"\n'
        '[[actions]]\naction = "log-headers"\ntarget = "/var/log/mailspy/headers"\n')
    done = mailspy("check-rules", "--offline", "-d", str(rules), "--test", str(fixtures))
    assert done.returncode == 0, done.stdout
    (fixtures / "bank.toml").write_text(
        'from = "b@bank.example"\nto = ["x@y"]\nrules = ["finance", "everything"]\n'
        'stopped-by = "internal"\n')
    done = mailspy("check-rules", "--offline", "-d", str(rules), "--test", str(fixtures))
    assert done.returncode == 1
    assert '    -"internal"' in done.stdout and '    +""' in done.stdout


def test_a_message_without_sidecar_or_with_broken_toml_fails(layout):
    rules, fixtures = layout
    done = mailspy("check-rules", "--offline", "-d", str(rules), "--test", str(fixtures))
    assert done.returncode == 1
    assert "    no sidecar bank.toml beside it" in done.stdout
    (fixtures / "bank.toml").write_text("rules = [unquoted]\n")
    done = mailspy("check-rules", "--offline", "-d", str(rules), "--test", str(fixtures))
    assert done.returncode == 1
    assert "bank.toml: Invalid value (at line 1, column 10)" in done.stdout


def test_broken_rules_run_no_fixture(layout):
    rules, fixtures = layout
    (rules / "b.rules").write_text('rule "x" { log-sumary }')
    done = mailspy("check-rules", "--offline", "-d", str(rules), "--test", str(fixtures))
    assert done.returncode == 1
    assert "fixture" not in done.stdout


def test_an_empty_or_missing_fixture_directory_fails(layout, tmp_path):
    rules, _ = layout
    (tmp_path / "empty").mkdir()
    assert mailspy("check-rules", "--offline", "-d", str(rules), "--test",
                   str(tmp_path / "empty")).returncode == 1
    done = mailspy("check-rules", "--offline", "-d", str(rules), "--test", str(tmp_path / "nope"))
    assert done.returncode == 1 and "does not exist" in done.stderr
