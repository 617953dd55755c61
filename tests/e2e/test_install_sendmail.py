"""docs/install.md's sendmail section, run as written.

Its `mailspy run` lines and INPUT_MAIL_FILTER lines are read from the page and run
behind a private sendmail, with only the socket path, the port and the user name
replaced (and a rules directory, logs and a spool of the test's own added): mail is
recorded while mailspy runs and, with the page's empty F=, still flows once it stops.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import sys
from pathlib import Path

import pytest

from .postfix import MilterFactory, free_port
from .sendmail import PrivateSendmail

pytestmark = pytest.mark.sendmail

INSTALL = Path(__file__).resolve().parents[2] / "docs" / "install.md"
MESSAGE = b"From: ann@example.org\r\nTo: bob@example.net\r\nSubject: hooked\r\n\r\nhi\r\n"


def sendmail_section() -> str:
    text = INSTALL.read_text()
    start = text.index("\n## sendmail\n")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def code_lines(section: str) -> list[str]:
    blocks = re.findall(r"^```\n(.*?)^```", section, re.M | re.S)
    return [line for block in blocks for line in block.splitlines()]


def documented(kind: str) -> tuple[str, str]:
    """The page's `mailspy run` line and INPUT_MAIL_FILTER line for a unix or TCP socket."""
    lines = code_lines(sendmail_section())
    mark = {"unix": ("-p unix:", "S=local:"), "inet": ("-p inet:", "S=inet:")}[kind]
    [run] = [line for line in lines if line.startswith("mailspy run ") and mark[0] in line]
    [hook] = [line for line in lines
              if line.startswith("INPUT_MAIL_FILTER(") and mark[1] in line]
    return run, hook


def test_the_page_has_both_hookups_and_the_rebuild_line() -> None:
    lines = code_lines(sendmail_section())
    assert documented("unix")[1].endswith("F=, T=S:30s;R:30s;E:2m')")
    assert documented("inet")[1].endswith("F=, T=S:30s;R:30s;E:2m')")
    assert "m4 /usr/share/sendmail/cf/m4/cf.m4 sendmail.mc > sendmail.cf" in lines


@pytest.mark.parametrize("kind", ["unix", "inet"])
def test_the_documented_hookup_records_mail_and_lets_it_flow_when_mailspy_stops(
    kind: str, tmp_path: Path, run_socket_dir: Path, milter_factory: MilterFactory,
    sendmail_factory,
) -> None:
    run, hook = documented(kind)
    socket_path, port = run_socket_dir / "milter", free_port()

    def ours(line: str) -> str:
        return line.replace("/var/run/mailspy/milter", str(socket_path)) \
            .replace("8890", str(port))

    # the page's user does not exist here: postfix is a system user that does
    args = ["postfix" if arg == "mailspy" else arg for arg in shlex.split(ours(run))[2:]]
    rules = run_socket_dir / "rules.d"  # where the run user can read it, as in /etc
    rules.mkdir()
    (rules / "all.rules").write_text('rule "all" { log-summary }')
    logs = run_socket_dir / "log"  # like /var/log/mailspy: the user's, opened after the drop
    logs.mkdir()
    account = pwd.getpwnam("postfix")
    os.chown(logs, account.pw_uid, account.pw_gid)
    summary = logs / "summary.log"
    argv = [sys.executable, "-m", "mailspy", "run", *args, "-d", str(rules),
            "-f", str(summary), "--spool-dir", str(run_socket_dir / "spool"),
            "--runtime-dir", str(run_socket_dir / "spool") + "-run"]
    milter = milter_factory(argv, **({"socket_path": socket_path} if kind == "unix"
                                     else {"port": port}))
    sendmail: PrivateSendmail = sendmail_factory(None, mc=ours(hook) + "\n")
    assert f"\nXmailspy, S={milter.sendmail_spec}, F=, T=S:30s;R:30s;E:2m\n" in \
        (sendmail.base / "sendmail.cf").read_text()

    sendmail.send("ann@example.org", ["bob@example.net"], MESSAGE)
    sendmail.wait_for(1)
    assert [line.split("\t")[2] for line in summary.read_text().splitlines()] == \
        ["from=<ann@example.org>"]

    milter.stop()
    sendmail.send("cat@example.org", ["bob@example.net"], MESSAGE)  # F=: not held up
    sendmail.wait_for(2)
    assert len(summary.read_text().splitlines()) == 1
    assert sendmail.count_tempfails() == 0
