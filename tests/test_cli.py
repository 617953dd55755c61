"""`mailspy check-rules` and `mailspy test-rules` as a postmaster runs them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.command import mailspy, mailspy_process

REPO = Path(__file__).resolve().parents[1]

NESTED = (
    b"From: Bank <billing@bank.example>\nTo: cfo@corp.example\nCc: audit@corp.example\n"
    b"Subject: =?UTF-8?Q?Invoice_7_=E2=80=93_March?=\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="outer"\n\n'
    b"--outer\nContent-Type: text/plain\n\nForwarded below.\n"
    b"--outer\nContent-Type: message/rfc822\n\n"
    b"From: clerk@bank.example\nSubject: inner\nMIME-Version: 1.0\n"
    b'Content-Type: multipart/mixed; boundary="inner"\n\n'
    b'--inner\nContent-Type: application/pdf; name="invoice.pdf"\n'
    b"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--inner--\n"
    b"--outer--\n"
)

FINANCE = """
rule "finance" {
    when sender matches "*@bank.example"
      or recipient matches /^(cfo|ceo)@corp\\.example$/i
    archive-to-maildir "/srv/archive/finance"
    log-summary
}
rule "executables" {
    when attachment matches "*.exe" or attachment matches "*.scr"
    log-headers "/var/log/mailspy/executables.log"
    stop
}
rule "everything" {
    log-summary
}
"""


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules.d"
    directory.mkdir()
    (directory / "10-finance.rules").write_text(FINANCE)
    return directory


def test_check_rules_counts_valid_rules(rules_dir):
    done = mailspy("check-rules", "--offline", "-d", str(rules_dir))
    assert (done.returncode, done.stdout, done.stderr) == (0, "3 rules in 1 file, all valid\n", "")


def test_check_rules_on_the_repository_examples():
    done = mailspy("check-rules", "--offline", "-d", str(REPO / "rules.d"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("all valid\n")


def test_check_rules_reports_in_gcc_form_and_exits_1(rules_dir):
    (rules_dir / "20-typo.rules").write_text('rule "x" {\n  when sendr is "a"\n  log-summary\n}\n')
    done = mailspy("check-rules", "--offline", "-d", str(rules_dir))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{rules_dir}/20-typo.rules:2:8: error: unknown field 'sendr'; did you mean 'sender'?",
        "mailspy: 1 error, 0 warnings in 2 files",
    ]
    assert done.stdout == ""


def test_check_rules_on_named_files(tmp_path):
    good, bad = tmp_path / "good.rules", tmp_path / "bad.rules"
    good.write_text('rule "a" { log-summary }')
    bad.write_text('rule "a" { log-summary }')
    assert mailspy("check-rules", str(good)).returncode == 0
    done = mailspy("check-rules", str(good), str(bad))
    assert done.returncode == 1
    assert f"{bad}:1:1: error: duplicate rule name 'a'; first defined at {good}:1:1" in done.stderr


def test_warnings_do_not_change_the_exit_code(tmp_path):
    (tmp_path / "a.rules").write_text('rule "a" { pipe-to-command "/nonexistent/x" }')
    done = mailspy("check-rules", "--offline", "-d", str(tmp_path))
    assert done.returncode == 0
    assert "a.rules:1:12: warning: program '/nonexistent/x' does not exist" in done.stderr
    assert done.stdout == "1 rule in 1 file, all valid (1 warning)\n"


def test_a_pipe_command_that_cannot_be_split_is_an_error_at_its_place(tmp_path):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "pipe.rules").write_text('rule "p" {\n  pipe-to-command "/bin/cat \'x"\n}\n')
    done = mailspy_process("check-rules", "--offline", "-d", str(rules))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"{rules}/pipe.rules:2:19: error: cannot split the command into words: "
        "No closing quotation",
        "mailspy: 1 error, 0 warnings in 1 file",
    ]
    assert done.stdout == ""


def test_check_rules_on_a_missing_directory_says_what_to_do(tmp_path):
    done = mailspy("check-rules", "--offline", "-d", str(tmp_path / "nope"))
    assert done.returncode == 1
    assert "rules directory" in done.stderr and "-d DIR" in done.stderr


def test_test_rules_json_is_exactly_the_documented_shape(rules_dir, tmp_path):
    message = tmp_path / "invoice.eml"
    message.write_bytes(NESTED)
    done = mailspy("test-rules", "-d", str(rules_dir), "--from", "billing@bank.example",
                   "--to", "cfo@corp.example", "--json", str(message))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert json.loads(done.stdout) == {
        "rules": ["finance", "everything"],
        "actions": [
            {"action": "archive-to-maildir", "target": "/srv/archive/finance"},
            {"action": "log-summary", "target": "/var/log/mailspy/mailspy"},
        ],
        "stopped_by": None,
        "message": {"sender": "billing@bank.example", "recipients": ["cfo@corp.example"],
                    "subject": "Invoice 7 – March", "attachments": ["invoice.pdf"]},
    }


def test_test_rules_reports_the_stopping_rule_and_omits_stop(rules_dir, tmp_path):
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: s\nContent-Type: application/octet-stream; name=setup.exe\n"
                        b"\nMZ\n")
    done = mailspy("test-rules", "-d", str(rules_dir), "--from", "a@x.example", "--to",
                   "b@y.example", "--json", str(message))
    result = json.loads(done.stdout)
    assert result["rules"] == ["executables"]
    assert result["stopped_by"] == "executables"
    assert result["actions"] == [{"action": "log-headers",
                                  "target": "/var/log/mailspy/executables.log"}]


def test_test_rules_takes_the_envelope_from_the_headers_and_says_so(rules_dir, tmp_path):
    message = tmp_path / "invoice.eml"
    message.write_bytes(NESTED)
    done = mailspy("test-rules", "-d", str(rules_dir), "--json", str(message))
    assert done.returncode == 0
    result = json.loads(done.stdout)["message"]
    assert result["sender"] == "billing@bank.example"
    assert result["recipients"] == ["cfo@corp.example", "audit@corp.example"]
    assert "From: header" in done.stderr and "To: and Cc:" in done.stderr


def test_test_rules_human_output(rules_dir, tmp_path):
    message = tmp_path / "invoice.eml"
    message.write_bytes(NESTED)
    done = mailspy("test-rules", "-d", str(rules_dir), "--from", "billing@bank.example",
                   "--to", "cfo@corp.example", str(message))
    out = done.stdout
    assert "subject:     Invoice 7 – March" in out
    assert "attachments: invoice.pdf" in out
    assert "rules matched: 2" in out
    assert f"  finance     {rules_dir}/10-finance.rules:2:1" in out
    assert "  archive-to-maildir  /srv/archive/finance" in out
    assert "stopped by: none" in out


def test_test_rules_exit_codes(rules_dir, tmp_path):
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: nothing matches\n\nbody\n")
    empty = tmp_path / "empty.d"
    empty.mkdir()
    (empty / "a.rules").write_text('rule "a" { when subject is "zz" log-summary }')
    assert mailspy("test-rules", "-d", str(empty), str(message)).returncode == 0
    assert mailspy("test-rules", "-d", str(empty), str(tmp_path / "missing.eml")).returncode \
        == 2
    (empty / "b.rules").write_text('rule "b" { log-sumary }')
    bad = mailspy("test-rules", "-d", str(empty), str(message))
    assert bad.returncode == 1
    assert "b.rules:1:12: error: unknown action" in bad.stderr


def test_test_rules_on_a_hostile_message_never_tracebacks(rules_dir, tmp_path):
    message = tmp_path / "evil.eml"
    message.write_bytes(b"Subject: =?UTF-8?B?!!!?=\x00\r\nContent-Type: multipart/mixed; "
                        b'boundary="\xff"\r\n\r\n--\xff\r\nContent-Disposition: attachment; '
                        b"filename*0*=bogus''%ZZ; filename*1=\x00.exe\r\n\r\n" + b"A" * 10000)
    done = mailspy("test-rules", "-d", str(rules_dir), "--from", "a@x", "--to", "b@y",
                   "--json", str(message))
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    json.loads(done.stdout)


def test_unknown_subcommand_and_help():
    assert mailspy("frobnicate").returncode == 2
    assert "check-rules" in mailspy("--help").stdout
    entry_point = mailspy_process("--help")  # `python -m mailspy` itself
    assert entry_point.returncode == 0 and "check-rules" in entry_point.stdout


def test_original_usage_is_run():
    from mailspy.cli import normalise_argv

    assert normalise_argv(["-p", "unix:/x", "-f", "/l"]) == ["run", "-p", "unix:/x", "-f", "/l"]
    assert normalise_argv(["check-rules"]) == ["check-rules"]


def test_test_rules_human_output_cannot_drive_the_terminal(rules_dir, tmp_path):
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: =?UTF-8?Q?a=1B[2Jb=0Dc?=\n\nbody\n")
    done = mailspy("test-rules", "-d", str(rules_dir), "--from", "a@x", "--to", "b@y",
                   str(message))
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
    assert "subject:     a\\x1b[2Jb c" in done.stdout


def test_with_no_rules_files_test_rules_shows_what_the_daemon_would_do(tmp_path):
    message = tmp_path / "m.eml"
    message.write_bytes(b"Subject: hi\n\nbody\n")
    empty = tmp_path / "empty.d"
    empty.mkdir()
    done = mailspy("test-rules", "-d", str(empty), "--from", "a@x", "--to", "b@y", "--json",
                   str(message))
    assert json.loads(done.stdout)["actions"] == [
        {"action": "log-summary", "target": "/var/log/mailspy/mailspy"}]
    assert "as the original mailspy did" in done.stderr
