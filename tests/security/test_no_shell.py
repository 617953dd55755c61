"""No value from a message reaches a shell, or argv: only stdin and cleaned environment.

A real pipe-to-command runs through the Recorder and the spool's deliverer.
The program is a recorder of its own argv, the environment block exactly as
exec(2) received it (/proc/self/environ) and its stdin. The message and the
envelope are full of shell syntax, each piece of which would create a file
in `pwned/` if any shell ever saw it; the rules-file command itself carries
shell syntax too, which must arrive as literal words.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from mailspy.actions.pipe import SAFE_ENV_NAMES
from tests.robustness.harness import Harness, Mail

RECORDER = """\
#!{python}
import json, sys
stdin = sys.stdin.buffer.read()
with open("/proc/self/environ", "rb") as f:
    environ = f.read()
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({{"argv": sys.argv, "environ": environ.decode("latin-1"),
                          "stdin": stdin.decode("latin-1")}}) + "\\n")
"""
ENVELOPE_NAMES = {"MAILSPY_SENDER", "MAILSPY_RECIPIENTS", "MAILSPY_RECIPIENT_COUNT",
                  "MAILSPY_RECIPIENTS_FILE", "MAILSPY_QUEUE_ID", "MAILSPY_SPOOL_ID"}


def hostile_mail(pwned: Path) -> Mail:
    def touch(name: str) -> str:
        return f"touch {pwned}/{name}"

    subject = (f"$({touch('subject-subst')}) `{touch('subject-tick')}` ; {touch('subject-semi')}"
               f" && {touch('subject-and')} | {touch('subject-pipe')}\n{touch('subject-nl')}")
    filename = f"a'; {touch('file-quote')}; '\\\".pdf"
    body = (b"--B\r\nContent-Type: application/pdf\r\n"
            b'Content-Disposition: attachment; filename="' + filename.encode() + b'"\r\n\r\nx\r\n'
            b'--B\r\nContent-Type: application/x-sh; name="$(' + touch("file-subst").encode()
            + b').exe"\r\n\r\nx\r\n--B--\r\n')
    return Mail(
        sender=f'<"a b"@x; {touch("sender-semi")} $({touch("sender-subst")}) '
               f'`{touch("sender-tick")}`\r\n{touch("sender-nl")}>',
        recipients=[f"<$({touch('rcpt-subst')})@x>", f"<a b@x>|{touch('rcpt-pipe')}",
                    f"<x@y>\n{touch('rcpt-nl')}\x00"],
        headers=[(b"Subject", subject.encode()), (b"X-Cmd", f"\n {touch('header')}".encode()),
                 (b"MIME-Version", b"1.0"), (b"Content-Type", b'multipart/mixed; boundary="B"')],
        body=body,
    )


def test_a_hostile_message_reaches_the_command_only_as_stdin_and_clean_env(
        tmp_path: Path) -> None:
    pwned = tmp_path / "pwned"
    pwned.mkdir()  # every `touch` above would succeed if anything ran it
    program = tmp_path / "record-argv"
    program.write_text(RECORDER.format(python=sys.executable))
    program.chmod(0o755)
    runs = tmp_path / "runs.jsonl"
    # The command as the postmaster writes it, shell syntax and all: words, not a script.
    command = (f"{program} {runs} 'two words' \"$HOME\" '$(touch {pwned}/from-rules)' "
               f"; `touch {pwned}/tick-rules` * ~")
    as_rules_string = command.replace("\\", "\\\\").replace('"', '\\"')
    harness = Harness(tmp_path / "recorder",
                      f'rule "pipe" {{ pipe-to-command "{as_rules_string}" }}\n')
    mail = hostile_mail(pwned)
    try:
        harness.send(mail)
        harness.send(mail)
    finally:
        harness.close()

    records = [json.loads(line) for line in runs.read_text().splitlines()]
    assert len(records) == 2  # one run per message
    for record in records:
        assert record["argv"] == shlex.split(command) == [
            str(program), str(runs), "two words", "$HOME", f"$(touch {pwned}/from-rules)",
            ";", "`touch", f"{pwned}/tick-rules`", "*", "~",
        ]
        environ = record["environ"].split("\x00")[:-1]
        names = [entry.partition("=")[0] for entry in environ]
        assert set(names) <= set(SAFE_ENV_NAMES) | ENVELOPE_NAMES
        assert set(names) >= ENVELOPE_NAMES
        for entry in environ:
            assert not any(c in entry for c in "\r\n\t") and entry.isprintable(), entry
        env = dict(entry.partition("=")[::2] for entry in environ)
        assert f"touch {pwned}/sender-subst" in env["MAILSPY_SENDER"]  # kept, as text
        assert f"{pwned}/rcpt-nl" in env["MAILSPY_RECIPIENTS"]
        stdin = record["stdin"].encode("latin-1")
        assert stdin.startswith(b"Subject: $(touch ")
        assert stdin.endswith(mail.body.replace(b"\r\n", b"\n"))
    assert sorted(p.name for p in pwned.iterdir()) == []  # nothing was ever executed
