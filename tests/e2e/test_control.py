"""`mailspy reload` and `mailspy status` against a running daemon behind Postfix, and
what the daemon tells its service manager (readiness, a pidfile, its socket's mode).

`mailspy reload` is what systemd's ExecReload= runs: it must exit 0 only when the
new rules are live, and print the daemon's FILE:LINE:COL errors otherwise.
"""

from __future__ import annotations

import grp
import json
import os
import socket
import stat
import sys
from pathlib import Path

import pytest

from tests.command import mailspy_process
from tests.waiting import eventually

from .test_daemon import ENCODED, Setup, lines, postfix_setup

pytestmark = pytest.mark.postfix


@pytest.fixture
def setup(tmp_path, milter_factory, postfix_factory) -> Setup:
    return postfix_setup(tmp_path, milter_factory, postfix_factory)


def runtime(setup: Setup) -> str:
    return str(setup.spool) + "-run"


def test_reload_exits_0_only_when_the_new_rules_are_live(setup: Setup) -> None:
    other = setup.base / "other.log"
    setup.rules('rule "a" { log-summary }')
    postfix = setup.start()
    setup.rules(f'rule "a" {{ log-summary "{other}" }}')
    good = mailspy_process("reload", "--runtime-dir", runtime(setup))
    assert good.returncode == 0, good.stderr
    assert "reloaded: 1 rule from 1 file" in good.stdout
    postfix.send("one@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(1)
    assert len(lines(other)) == 1  # live as soon as reload returned

    rules_file = setup.rules_dir / "50-test.rules"
    setup.rules('rule "a" {\n  when sendr is "x"\n  log-summary\n}')
    broken = mailspy_process("reload", "--runtime-dir", runtime(setup))
    assert broken.returncode == 1
    assert f"{rules_file}:2:8: error: unknown field 'sendr'; did you mean 'sender'?" \
        in broken.stderr
    assert "reload refused, the running rules stay in place" in broken.stderr
    postfix.send("two@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(2)
    assert len(lines(other)) == 2  # the running rules stayed

    setup.rules(f'rule "a" {{ log-summary "{setup.base}/no-such-dir/x.log" }}')
    missing = mailspy_process("reload", "--runtime-dir", runtime(setup))
    assert missing.returncode == 1
    assert f"log directory {setup.base}/no-such-dir does not exist" in missing.stderr


def test_status_says_what_the_daemon_is_doing(setup: Setup) -> None:
    setup.rules('rule "finance" { when sender is "ann@example.org" log-summary }\n'
                'rule "all" { log-summary }')
    postfix = setup.start()
    for sender in ("ann@example.org", "bob@example.org", "ann@example.org"):
        postfix.send(sender, ["b@example.net"], ENCODED)
    postfix.wait_for(3)
    done = mailspy_process("status", "--runtime-dir", runtime(setup), "--json")
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["pid"] == setup.milter.pid
    assert status["messages"] == 3
    assert status["rules"]["count"] == 2 and status["rules"]["hits"] == {"finance": 2, "all": 3}
    assert status["spool"] == {"queued": 0, "dead": 0, "oldest": 0.0}
    assert status["end_of_message"]["p99"] > 0
    human = mailspy_process("status", "--runtime-dir", runtime(setup))
    assert "rules: 2 rules from 1 file" in human.stdout and "finance  2" in human.stdout


def test_no_daemon_is_one_line_and_status_3(tmp_path: Path) -> None:
    done = mailspy_process("reload", "--runtime-dir", str(tmp_path))
    assert done.returncode == 3
    assert done.stderr.startswith(f"mailspy: error: no mailspy is running with its control "
                                  f"socket at {tmp_path}/control")


def test_readiness_pidfile_and_socket_access(setup: Setup, tmp_path: Path,
                                             socket_dir: Path, milter_factory) -> None:
    """Type=notify: READY=1 once it accepts connections; the pidfile holds the pid; the
    unix socket gets the mode and group asked for."""
    notifications = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(notifications))
    listener.settimeout(30)
    setup.rules('rule "a" { log-summary }')
    path = socket_dir / "mailspy.sock"
    pidfile = tmp_path / "mailspy.pid"
    argv = [sys.executable, "-m", "mailspy", "run", "-p", f"unix:{path}", "-d",
            str(setup.rules_dir), "-f", str(setup.summary), "--spool-dir", str(setup.spool),
            "--runtime-dir", runtime(setup), "--pidfile", str(pidfile), "--socket-mode", "0640",
            "--socket-group", "mail"]
    milter = milter_factory(argv, socket_path=path, output=tmp_path / "mailspy.out",
                            env={**os.environ, "NOTIFY_SOCKET": str(notifications)})
    ready = listener.recv(4096).decode().split("\n")
    assert "READY=1" in ready and f"MAINPID={milter.pid}" in ready
    assert any(line.startswith("STATUS=mailspy ") for line in ready)
    assert pidfile.read_text() == f"{milter.pid}\n"
    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o640
    assert info.st_gid == grp.getgrnam("mail").gr_gid
    milter.stop()
    eventually(lambda: b"STOPPING=1" in listener.recv(4096))
    assert not pidfile.exists()
    listener.close()
