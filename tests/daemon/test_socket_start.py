"""`mailspy run`'s milter socket at start: what the postmaster sees when it cannot be
made, and who may use a unix socket once it is.

Each start is a real `mailspy run` process on 127.0.0.1 or on a unix socket in a
temporary directory; a start that must fail fails before the daemon serves.
"""

from __future__ import annotations

import grp
import os
import pwd
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.postfix import MilterProcess


def run_argv(tmp_path: Path, *extra: str) -> list[str]:
    rules = tmp_path / "rules.d"
    rules.mkdir(exist_ok=True)
    (rules / "a.rules").write_text('rule "everything" { log-summary }\n')
    return [sys.executable, "-m", "mailspy", "run", "-d", str(rules),
            "-f", str(tmp_path / "summary.log"), "--spool-dir", str(tmp_path / "spool"),
            "--runtime-dir", str(tmp_path / "run"),
            "--shadow-log", str(tmp_path / "shadow.jsonl"),  # never the host's log dir
            *extra]


def start(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """A start that is expected to end by itself."""
    return subprocess.run(run_argv(tmp_path, *extra), capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def one_error_line(stderr: str) -> str:
    """The only line on stderr, which must be an error and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


def test_a_port_another_socket_holds_stops_the_start_and_names_it(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = start(tmp_path, "-p", f"inet:{port}@127.0.0.1")
    assert done.returncode == 1
    error = one_error_line(done.stderr)
    assert f"ERROR: cannot listen on inet:{port}@127.0.0.1: the port is taken by another " \
        "program" in error
    assert f"see `ss -ltnp 'sport = :{port}'`, or give another with -p" in error
    assert done.stdout == ""


def test_a_host_that_does_not_resolve_stops_the_start_in_one_line(tmp_path: Path) -> None:
    done = start(tmp_path, "-p", "inet:1234@no-such-host.invalid")
    assert done.returncode == 1
    error = one_error_line(done.stderr)
    assert error.endswith("ERROR: cannot listen on inet:1234@no-such-host.invalid: the host "
                          "'no-such-host.invalid' does not resolve; give an address like "
                          "127.0.0.1 or ::1 with -p")


def test_socket_owner_and_group_are_given_to_the_unix_socket(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("giving a socket to another user needs root")
    path = tmp_path / "sock" / "milter"
    milter = MilterProcess(run_argv(tmp_path, "-p", f"unix:{path}", "--socket-owner", "nobody",
                                    "--socket-group", "nogroup"),
                           socket_path=path, output=tmp_path / "mailspy.out").start()
    try:
        info = path.stat()
    finally:
        milter.stop()
    assert (info.st_uid, info.st_gid) == (pwd.getpwnam("nobody").pw_uid,
                                          grp.getgrnam("nogroup").gr_gid)
    assert not path.exists()  # removed at stop


@pytest.mark.parametrize(("option", "said"), [
    ("--socket-owner", "no such user 'no-such-user-x'; give an existing user's name or "
                       "number (getent passwd lists them)"),
    ("--socket-group", "no such group 'no-such-user-x'; give an existing group's name or "
                       "number (getent group lists them)"),
])
def test_an_unknown_socket_owner_or_group_is_one_line_at_start(
        tmp_path: Path, option: str, said: str) -> None:
    path = tmp_path / "sock" / "milter"
    done = start(tmp_path, "-p", f"unix:{path}", option, "no-such-user-x")
    assert done.returncode == 1
    assert one_error_line(done.stderr) == f"mailspy: error: {option}: {said}"
    assert not path.exists()
