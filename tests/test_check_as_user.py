"""`check-rules` says yes only where the daemon would: as the user it runs as.

What that user cannot read (a rules file only root may read), create (a log
in a directory it may not write, a log directory that does not exist) or use
(a Maildir whose parent is missing) is an error with its FILE:LINE:COL, as
the daemon would refuse it at start or on a reload.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

import pytest

from tests.command import mailspy

NOBODY = "nobody"


@pytest.fixture
def place(tmp_path_factory) -> Path:
    """A directory every user may enter (pytest's own are root's, 0700)."""
    where = tmp_path_factory.mktemp("place")
    for parent in [where, *where.parents]:
        if str(parent).startswith("/tmp/"):
            parent.chmod(parent.stat().st_mode | 0o711)
    return where


def rules(place: Path, text: str) -> Path:
    directory = place / "rules.d"
    directory.mkdir(exist_ok=True)
    (directory / "a.rules").write_text(text)
    (directory / "a.rules").chmod(0o644)
    directory.chmod(0o755)
    return directory


def test_a_log_the_user_cannot_create_is_an_error_for_that_user_only(place: Path) -> None:
    logs = place / "logs"
    logs.mkdir(mode=0o755)  # root's
    directory = rules(place, f'rule "a" {{\n  log-summary "{logs}/x.log"\n}}\n')
    assert mailspy("check-rules", "-d", str(directory)).returncode == 0  # root could
    done = mailspy("check-rules", "-d", str(directory), "--user", NOBODY)
    assert done.returncode == 1
    assert f"{directory}/a.rules:2:3: error: user nobody cannot create {logs}/x.log: it may " \
        f"not write in {logs}; create the file for it: install -o nobody -m 0600 /dev/null " \
        f"{logs}/x.log" in done.stderr
    nobody = pwd.getpwnam(NOBODY)
    os.chown(logs, nobody.pw_uid, nobody.pw_gid)  # as the installer should have made it
    assert mailspy("check-rules", "-d", str(directory), "--user", NOBODY).returncode == 0


def test_a_rules_file_only_root_may_read_is_an_error_for_the_daemons_user(place: Path) -> None:
    directory = rules(place, 'rule "a" { log-summary "/tmp/x.log" }')
    (directory / "a.rules").chmod(0o600)
    done = mailspy("check-rules", "--offline", "-d", str(directory), "--user", NOBODY)
    assert done.returncode == 1
    assert f"{directory}/a.rules:1:1: error: cannot read: Permission denied" in done.stderr


def test_missing_directories_are_errors_with_their_position(place: Path) -> None:
    directory = rules(place, f'rule "a" {{\n  log-headers "{place}/no-logs/h"\n'
                      f'  archive-to-maildir "{place}/no-srv/archive"\n}}\n')
    done = mailspy("check-rules", "-d", str(directory))
    assert done.returncode == 1
    assert f"a.rules:2:3: error: log directory {place}/no-logs does not exist; create it: " \
        in done.stderr
    assert f"a.rules:3:3: warning: parent directory of the Maildir {place}/no-srv/archive does " \
        "not exist; create it: " in done.stderr
    assert mailspy("check-rules", "--offline", "-d", str(directory)).returncode == 0


def test_list_logs_names_every_log_and_logs_outside_the_rotated_directory_warn(
        place: Path) -> None:
    directory = rules(place, f'rule "a" {{ log-summary "{place}/a.log" log-headers '
                      f'"{place}/h.log" }}\nrule "b" {{ log-summary "{place}/a.log" }}\n')
    listed = mailspy("check-rules", "-d", str(directory), "--list-logs")
    assert listed.returncode == 0
    assert listed.stdout.splitlines() == [f"{place}/a.log", f"{place}/h.log"]
    checked = mailspy("check-rules", "-d", str(directory))
    assert checked.returncode == 0
    assert f"warning: {place}/a.log is not among the logs the shipped logrotate snippet " \
        "rotates" in checked.stderr


def test_logs_in_the_log_directory_are_rotated_when_the_snippet_takes_them() -> None:
    from mailspy.commands.check_rules import rotated

    assert rotated("/var/log/mailspy/mailspy") and rotated("/var/log/mailspy/headers")
    assert rotated("/var/log/mailspy/finance.log") and rotated("/var/log/mailspy/x.jsonl")
    assert not rotated("/var/log/mailspy/executables")  # no pattern takes it
    assert not rotated("/var/log/mailspy-executables") and not rotated("/srv/x.log")
    snippet = (Path(__file__).resolve().parents[1] / "contrib" / "mailspy.logrotate").read_text()
    assert ("/var/log/mailspy/mailspy /var/log/mailspy/headers /var/log/mailspy/*.log "
            "/var/log/mailspy/*.jsonl {") in snippet  # the patterns rotated() follows


def test_an_unknown_user_is_one_line(place: Path) -> None:
    directory = rules(place, 'rule "a" { log-summary "/tmp/x.log" }')
    done = mailspy("check-rules", "-d", str(directory), "--user", "no-such-user-x")
    assert done.returncode == 1
    assert done.stderr.startswith("mailspy: error: cannot check as user no-such-user-x: no "
                                  "such user 'no-such-user-x'")


@pytest.mark.skipif(os.geteuid() != 0, reason="checking as another user needs root")
def test_a_key_file_the_user_may_not_read_is_an_error(place: Path) -> None:
    key = place / "privacy.key"
    key.write_bytes(os.urandom(32))
    key.chmod(0o600)
    directory = rules(place, f'rule "a" {{ log-summary "{place}/x.log" with subject hash, '
                             f'key "{key}" }}')
    (place / "x.log").touch()
    os.chown(place / "x.log", pwd.getpwnam(NOBODY).pw_uid, -1)
    done = mailspy("check-rules", "-d", str(directory), "--user", NOBODY)
    assert done.returncode == 1
    assert f"{directory}/a.rules:1:" in done.stderr
    assert (f"error: user {NOBODY} may not read key file '{key}'; let its group read it: "
            f"chown root:nogroup {key} && chmod 640 {key}") in done.stderr
    key.chmod(0o640)
    os.chown(key, 0, pwd.getpwnam(NOBODY).pw_gid)
    done = mailspy("check-rules", "-d", str(directory), "--user", NOBODY)
    assert "key file" not in done.stderr, done.stderr
