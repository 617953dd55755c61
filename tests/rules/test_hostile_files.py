"""Rules and list files a hostile or careless host can offer, and what they say.

A dangling link or a file only root may read must not make rules vanish; a
FIFO must not hang `check-rules`, nor /dev/zero fill the memory; files that a
user other than root can change, and targets another user can redirect, are
pointed out with the position to fix.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from mailspy.rules.load import load_rules
from tests.command import mailspy


def messages(result) -> list[str]:
    return [str(d) for d in result.diagnostics]


def test_a_dangling_rules_file_is_an_error_not_a_missing_file(tmp_path: Path) -> None:
    (tmp_path / "10-a.rules").write_text('rule "a" { log-summary }')
    (tmp_path / "20-b.rules").symlink_to(tmp_path / "elsewhere" / "b.rules")
    result = load_rules(tmp_path)
    assert not result.ok
    assert messages(result) == [
        f"{tmp_path}/20-b.rules:1:1: error: cannot read: a symbolic link to "
        f"{tmp_path}/elsewhere/b.rules, which does not exist"]


def test_a_fifo_named_like_a_rules_file_does_not_hang(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "10-a.rules")
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(load_rules(tmp_path)), daemon=True)
    reader.start()
    reader.join(30)
    assert outcome, "loading the rules hung on a FIFO"
    assert messages(outcome[0]) == [f"{tmp_path}/10-a.rules:1:1: error: cannot read: "
                                    "not a regular file"]


def test_list_files_must_be_regular_files_of_bounded_size(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.list")
    (tmp_path / "a.rules").write_text(
        f'rule "fifo" {{ when sender in file "{tmp_path}/fifo.list" log-summary }}\n'
        'rule "zero" { when sender in file "/dev/zero" log-summary }\n')
    outcome = []
    reader = threading.Thread(target=lambda: outcome.append(load_rules(tmp_path)), daemon=True)
    reader.start()
    reader.join(30)
    assert outcome, "reading a list file hung on a FIFO or read /dev/zero forever"
    assert messages(outcome[0]) == [
        f"{tmp_path}/a.rules:1:35: error: cannot read list file '{tmp_path}/fifo.list': "
        "not a regular file",
        f"{tmp_path}/a.rules:2:35: error: cannot read list file '/dev/zero': "
        "not a regular file",
    ]


def test_an_oversized_list_file_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.list"
    with open(big, "wb") as f:
        f.truncate(17 * 1024 * 1024)
    (tmp_path / "a.rules").write_text(f'rule "a" {{ when sender in file "{big}" log-summary }}')
    assert messages(load_rules(tmp_path)) == [
        f"{tmp_path}/a.rules:1:32: error: cannot read list file '{big}': larger than 16 MiB"]


def test_files_another_user_can_change_draw_a_warning(tmp_path: Path) -> None:
    listed = tmp_path / "senders.list"
    listed.write_text("a@example.org\n")
    os.chown(listed, 65534, 65534)
    rules = tmp_path / "a.rules"
    rules.write_text(f'rule "a" {{ when sender in file "{listed}" log-summary }}')
    os.chown(rules, 65534, 65534)
    result = load_rules(tmp_path)
    assert result.ok
    assert messages(result) == [
        f"{rules}:1:1: warning: owned by user 65534, who can change it; run: chown root {rules}",
        f"{rules}:1:32: warning: list file '{listed}': owned by user 65534, who can change it; "
        f"run: chown root {listed}",
    ]


def test_a_rules_file_linked_into_a_directory_others_can_write_draws_a_warning(
        tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (shared / "a.rules").write_text('rule "a" { log-summary }')
    rules_dir = tmp_path / "rules.d"
    rules_dir.mkdir()
    (rules_dir / "a.rules").symlink_to(shared / "a.rules")
    [warning] = messages(load_rules(rules_dir))
    assert warning.startswith(f"{rules_dir}/a.rules:1:1: warning: a symbolic link to "
                              f"{shared}/a.rules, which other users can replace: directory "
                              f"{shared} is writable by other users")


def test_a_target_another_user_could_redirect_is_an_error(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "finance.log").symlink_to("/etc/passwd")
    (tmp_path / "a.rules").write_text(
        f'rule "a" {{\n  log-summary "{shared}/x.log"\n'
        f'  archive-to-maildir "{shared}/archive/md"\n'
        f'  log-headers "{tmp_path}/logs/finance.log"\n}}')
    assert messages(load_rules(tmp_path)) == [
        f"{tmp_path}/a.rules:2:3: error: directory {shared} is writable by other users, who "
        f"could redirect what mailspy writes there; run: chmod go-w {shared}",
        f"{tmp_path}/a.rules:3:3: error: directory {shared} is writable by other users, who "
        f"could redirect what mailspy writes there; run: chmod go-w {shared}",
        f"{tmp_path}/a.rules:4:3: error: {tmp_path}/logs/finance.log is a symbolic link; "
        "mailspy never writes through one: remove it",
    ]


def test_check_rules_on_an_empty_or_dangling_directory_fails(tmp_path: Path) -> None:
    empty = mailspy("check-rules", "-d", str(tmp_path))
    assert empty.returncode == 1
    assert f"no rules files (*.rules) in {tmp_path}" in empty.stderr
    (tmp_path / "a.rules").symlink_to(tmp_path / "gone.rules")
    dangling = mailspy("check-rules", "-d", str(tmp_path))
    assert dangling.returncode == 1
    assert f"{tmp_path}/a.rules:1:1: error: cannot read: a symbolic link to" in dangling.stderr
