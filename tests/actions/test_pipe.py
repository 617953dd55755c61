"""run_pipe(): real programs, argv from the rules only, message on stdin."""

import io
import json
import mailbox
import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import pytest

from mailspy.actions.pipe import PipeResult, build_env, describe, run_pipe
from mailspy.message.model import Envelope, Message

BODY = b"Hello\r\nsecond line\r\n"


def _message(body=BODY, mail_from="<alice@example.org>", rcpt_to=("<bob@example.com>",)):
    return Message(
        envelope=Envelope(mail_from=mail_from, rcpt_to=list(rcpt_to), queue_id="4XyZ1"),
        headers=[("From", "alice@example.org"), ("Subject", "Test $(touch /tmp/pwned)")],
        body=io.BytesIO(body),
        body_size=len(body),
    )


def _script(tmp_path: Path, name: str, text: str, interpreter: str = sys.executable) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{interpreter}\n{text}")
    path.chmod(0o755)
    return path


RECORDER = """
import json, os, sys
out = sys.argv[1]
open(os.path.join(out, "stdin"), "wb").write(sys.stdin.buffer.read())
json.dump({"argv": sys.argv, "env": dict(os.environ)}, open(os.path.join(out, "run.json"), "w"))
"""


def test_child_gets_lf_copy_clean_env_and_only_the_configured_argv(tmp_path):
    recorder = _script(tmp_path, "recorder", RECORDER)
    msg = _message(
        mail_from="<al\x00ice\r\n@example.org>", rcpt_to=["<bob@example.com>", "<c,d@x\t>"]
    )
    command = f"{shlex.quote(str(recorder))} {shlex.quote(str(tmp_path))} 'two words'"
    result = run_pipe(command, msg, env={"PATH": "/usr/bin:/bin", "SECRET": "s3cr3t"})
    assert result.ok, describe(result)
    assert (tmp_path / "stdin").read_bytes() == (
        b"From: alice@example.org\nSubject: Test $(touch /tmp/pwned)\n\nHello\nsecond line\n"
    )
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["argv"] == [str(recorder), str(tmp_path), "two words"]
    mailspy_env = {k: v for k, v in run["env"].items() if k.startswith("MAILSPY_")}
    listing = mailspy_env.pop("MAILSPY_RECIPIENTS_FILE")
    assert mailspy_env == {
        "MAILSPY_SENDER": "al\\x00ice  @example.org",
        "MAILSPY_RECIPIENTS": "bob@example.com,c,d@x ",
        "MAILSPY_RECIPIENT_COUNT": "2",
        "MAILSPY_QUEUE_ID": "4XyZ1",
    }
    assert not os.path.exists(listing)  # removed once the command has ended
    assert "SECRET" not in run["env"]
    assert run["env"]["PATH"] == "/usr/bin:/bin"
    assert not os.path.exists("/tmp/pwned")


def test_build_env_keeps_only_safe_daemon_variables():
    env = build_env(_message(), {"PATH": "/bin", "LANG": "C.UTF-8", "LD_PRELOAD": "/x.so"})
    assert env == {
        "PATH": "/bin",
        "LANG": "C.UTF-8",
        "MAILSPY_SENDER": "alice@example.org",
        "MAILSPY_RECIPIENTS": "bob@example.com",
        "MAILSPY_RECIPIENT_COUNT": "1",
        "MAILSPY_QUEUE_ID": "4XyZ1",
    }


LISTER = """\
#!/bin/sh
printf '%s\\n' "${MAILSPY_RECIPIENTS-unset}" > "$1/env"
echo "$MAILSPY_RECIPIENT_COUNT" > "$1/count"
cat "$MAILSPY_RECIPIENTS_FILE" > "$1/listing"
cat > /dev/null
"""


def test_a_thousand_long_recipients_still_reach_the_command(tmp_path):
    """1,000 recipients of 140 characters would make a 141,000-byte variable, which the
    kernel refuses (E2BIG): the list goes in a file, and the command runs."""
    recipients = [f"<{'r' * 120}{n:06d}@example.org>" for n in range(1000)]
    lister = tmp_path / "lister"
    lister.write_text(LISTER)
    lister.chmod(0o755)
    result = run_pipe([str(lister), str(tmp_path)], _message(rcpt_to=recipients))
    assert result.ok, describe(result)
    assert (tmp_path / "env").read_text() == "unset\n"
    assert (tmp_path / "count").read_text() == "1000\n"
    assert (tmp_path / "listing").read_text().splitlines() == [r[1:-1] for r in recipients]


def test_bounce_sender_is_empty_in_env():
    assert build_env(_message(mail_from="<>"), {})["MAILSPY_SENDER"] == ""


FAILER = """
import sys
for i in range(20):
    print(f"problem {i}", file=sys.stderr)
sys.exit(3)
"""


def test_exit_status_and_stderr_head_are_reported(tmp_path):
    result = run_pipe([str(_script(tmp_path, "failer", FAILER))], _message())
    assert (result.returncode, result.timed_out, result.ok) == (3, False, False)
    assert result.stderr_head == "\n".join(f"problem {i}" for i in range(10))
    assert describe(result).startswith(f"{tmp_path}/failer: exit status 3; stderr: problem 0 | ")


def test_huge_stderr_is_bounded_and_does_not_block(tmp_path):
    noisy = _script(tmp_path, "noisy", "import sys\nsys.stderr.write('e' * 5_000_000)\n")
    result = run_pipe([str(noisy)], _message(), timeout=10)
    assert result.returncode == 0 and not result.timed_out
    assert result.stderr_head == "e" * 4096


SLEEPER = """#!/bin/sh
sleep 60 &
echo $! > "$1"
sleep 60
"""


def _gone(pid: int) -> bool:
    """Not running: absent, or a zombie waiting for init to reap it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_timeout_kills_the_whole_process_group(tmp_path):
    sleeper = tmp_path / "sleeper"
    sleeper.write_text(SLEEPER)
    sleeper.chmod(0o755)
    pidfile = tmp_path / "grandchild.pid"
    started = time.monotonic()
    result = run_pipe([str(sleeper), str(pidfile)], _message(), timeout=1)
    assert time.monotonic() - started < 2.5
    assert result.timed_out and result.returncode == -9
    assert "timed out" in describe(result)
    grandchild = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while not _gone(grandchild) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _gone(grandchild)


def test_missing_program_is_127_not_an_exception(tmp_path):
    result = run_pipe(f"{tmp_path}/no-such-program -x", _message())
    assert (result.returncode, result.timed_out) == (127, False)
    assert result.stderr_head == f"{tmp_path}/no-such-program: command not found"
    assert describe(result).endswith("exit status 127; stderr: " + result.stderr_head)


def test_program_not_executable_is_126(tmp_path):
    plain = tmp_path / "plain"
    plain.write_text("#!/bin/sh\n")
    plain.chmod(0o644)
    assert run_pipe([str(plain)], _message()).returncode == 126


def test_empty_command_is_a_value_error():
    with pytest.raises(ValueError, match="empty"):
        run_pipe("  ", _message())


def test_child_that_never_reads_a_5mb_message_does_not_deadlock(tmp_path):
    quitter = _script(tmp_path, "quitter", "exit 0\n", interpreter="/bin/sh")
    big = _message(body=b"0123456789abcdef\r\n" * 300_000)
    result = run_pipe([str(quitter)], big, timeout=10)
    assert result.ok and result.duration < 5


def test_child_can_read_the_whole_5mb_message(tmp_path):
    counter = _script(
        tmp_path, "counter", "import sys\nprint(len(sys.stdin.buffer.read()), file=sys.stderr)\n"
    )
    big = _message(body=b"0123456789abcdef\r\n" * 300_000)
    result = run_pipe([str(counter)], big, timeout=10)
    header = len(b"From: alice@example.org\nSubject: Test $(touch /tmp/pwned)\n\n")
    assert result.stderr_head == str(header + 17 * 300_000)


def test_describe_names_the_signal():
    result = PipeResult(argv=["procmail", "-m", "rc file"], returncode=-15)
    assert describe(result) == "procmail -m 'rc file': killed by signal SIGTERM"


@pytest.mark.skipif(shutil.which("procmail") is None, reason="procmail not installed")
def test_real_procmail_delivers_into_a_maildir(tmp_path):
    maildir = tmp_path / "Maildir"
    rcfile = tmp_path / "procmailrc"
    rcfile.write_text(f"SHELL=/bin/sh\nLOGFILE={tmp_path}/procmail.log\n:0\n{maildir}/\n")
    result = run_pipe(f"procmail -m {rcfile}", _message(), timeout=10)
    assert result.ok, describe(result)
    messages = list(mailbox.Maildir(maildir, create=False))
    assert len(messages) == 1
    assert messages[0]["Subject"] == "Test $(touch /tmp/pwned)"
    assert messages[0].get_payload() == "Hello\nsecond line\n"


@pytest.mark.skipif(shutil.which("procmail") is None, reason="procmail not installed")
def test_procmail_sorts_by_a_recipient_among_a_thousand(tmp_path):
    """The procmail recipe docs/rules.md gives for messages with very many recipients:
    the recipients file, not the variable, which is left out past 32 KiB."""
    recipients = [f"<{'r' * 120}{n:06d}@example.org>" for n in range(999)]
    finance, other = tmp_path / "finance", tmp_path / "other"
    rcfile = tmp_path / "procmailrc"
    rcfile.write_text(PROCMAIL_BY_RECIPIENT.format(log=tmp_path / "procmail.log",
                                                   finance=finance, other=other))
    for rcpt, expected, empty in (([*recipients, "<cfo@corp.example>"], finance, other),
                                  ([*recipients, "<cfo@corp.example.net>"], other, finance)):
        result = run_pipe(f"procmail -p -m {rcfile}", _message(rcpt_to=rcpt), timeout=20)
        assert result.ok, describe(result)
        assert len(mailbox.Maildir(expected, create=False)) == 1
        assert not empty.exists() or len(mailbox.Maildir(empty, create=False)) == 0
        shutil.rmtree(expected)


PROCMAIL_BY_RECIPIENT = """SHELL=/bin/sh
LOGFILE={log}
:0
* ? grep -qxF 'cfo@corp.example' "$MAILSPY_RECIPIENTS_FILE"
{finance}/
:0
{other}/
"""
