"""`mailspy replay`: trying rules on last month's mail without running any action."""

from __future__ import annotations

import io
import json
import mailbox
import os
import shutil
from pathlib import Path

import pytest

from mailspy.actions.maildir import deliver
from mailspy.commands.replay import Progress, replay
from mailspy.message.model import Envelope, Message
from mailspy.rules.load import load_rules
from tests.command import mailspy
from tests.unprivileged import mailspy_as_nobody, public_dir, readable_by_all

RULES = """
rule "cfo" { when recipient is "cfo@corp.example" log-summary }
rule "bank" { when sender-domain is "bank.example" log-summary }
rule "pdf" { when attachment matches "*.pdf" log-summary }
rule "never" { when subject is "no such subject" log-summary }
"""


def raw(i: int, subject: str, sender: str = "a@bank.example", pdf: bool = False) -> bytes:
    head = f"From: {sender}\nTo: staff@corp.example\nSubject: {subject}\n"
    if not pdf:
        return (head + f"\nbody {i}\n").encode()
    return (head + 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n'
            '--b\nContent-Type: text/plain\n\nx\n--b\nContent-Type: application/pdf; '
            f'name="r{i}.pdf"\n\n%PDF\n--b--\n').encode()


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "rules.d"
    directory.mkdir()
    (directory / "a.rules").write_text(RULES)
    return directory


def test_replay_over_mailspys_own_archive_restores_the_envelope(tmp_path, rules_dir):
    archive = tmp_path / "archive"
    for i in range(3):
        envelope = Envelope("<a@bank.example>", ["<cfo@corp.example>"] if i else ["<x@y>"])
        deliver(archive, Message(envelope, [("Subject", f"m{i}")], io.BytesIO(b"hi\n"), 3))
    result = replay(load_rules(rules_dir).rules, archive)
    assert result.messages == 3
    counts = {name: t.matched for name, t in result.tallies.items()}
    assert counts == {"cfo": 2, "bank": 3, "pdf": 0, "never": 0}  # Bcc kept by the archive
    assert sorted(result.tallies["cfo"].examples) == ["m1", "m2"]


def test_replay_over_an_mbox_and_a_directory(tmp_path, rules_dir):
    box = mailbox.mbox(tmp_path / "box")
    for i in range(5):
        box.add(raw(i, f"s{i}", pdf=i % 2 == 0))
    box.flush()
    folder = tmp_path / "dir" / "sub"
    folder.mkdir(parents=True)
    for i in range(4):
        (folder / f"{i}.eml").write_bytes(raw(i, f"d{i}", sender="x@else.example"))
    rules = load_rules(rules_dir).rules
    from_mbox = replay(rules, tmp_path / "box")
    assert (from_mbox.messages, from_mbox.tallies["pdf"].matched) == (5, 3)
    from_dir = replay(rules, tmp_path / "dir")
    assert (from_dir.messages, from_dir.tallies["bank"].matched) == (4, 0)


def test_the_table_and_the_json(tmp_path, rules_dir):
    folder = tmp_path / "msgs"
    folder.mkdir()
    for i in range(7):
        (folder / f"{i}.eml").write_bytes(raw(i, f"Invoice {i}", pdf=i < 2))
    table = mailspy("replay", "-d", str(rules_dir), str(folder))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("7 messages in ")
    assert lines[2].split() == ["rule", "matched", "examples"]
    assert lines[4].split("  ")[0] == "bank" and " 7  Invoice " in lines[4]
    assert "7/7 messages" in table.stderr  # the progress bar, on stderr
    assert table.stderr.count(" messages ") == 1  # once, not once per redraw and at the end
    data = json.loads(mailspy("replay", "-d", str(rules_dir), "--json", str(folder)).stdout)
    assert data["messages"] == 7
    assert [(r["rule"], r["matched"]) for r in data["rules"]] == \
        [("cfo", 0), ("bank", 7), ("pdf", 2), ("never", 0)]
    assert len(data["rules"][1]["examples"]) == 3


def test_a_missing_source_or_broken_rules(tmp_path, rules_dir):
    assert mailspy("replay", "-d", str(rules_dir), str(tmp_path / "none")).returncode == 2
    (rules_dir / "b.rules").write_text('rule "x" { log-sumary }')
    assert mailspy("replay", "-d", str(rules_dir), str(tmp_path)).returncode == 1


def test_the_progress_bar_draws_in_place_on_a_terminal():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    progress = Progress(screen)
    progress.total = 4
    progress.done(2)
    assert screen.getvalue().startswith("\r[" + "#" * 15 + "." * 15 + "]  50%  2/4 messages")
    assert screen.getvalue().endswith("/s\n")


def test_hostile_messages_do_not_stop_a_replay(tmp_path, rules_dir):
    folder = tmp_path / "evil"
    folder.mkdir()
    (folder / "a").write_bytes(b"\x00\xff" * 1000)
    (folder / "b").write_bytes(b"Subject: =?x?B?!!?=\nContent-Type: multipart/mixed\n\n--\n")
    (folder / "c").write_bytes(b"")
    result = replay(load_rules(rules_dir).rules, folder)
    assert result.messages == 3


def test_messages_that_cannot_be_read_are_counted_and_named_not_a_traceback(rules_dir):
    with public_dir() as base:
        rules = base / "rules.d"
        shutil.copytree(rules_dir, rules)
        folder = base / "mail"
        folder.mkdir()
        for i in range(3):
            (folder / f"{i}.eml").write_bytes(raw(i, f"s{i}"))
        readable_by_all(rules, rules / "a.rules", folder, folder / "0.eml", folder / "2.eml")
        (folder / "1.eml").chmod(0o600)  # root's
        done = mailspy_as_nobody("replay", "-d", str(rules), str(folder))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("2 messages in ")
    assert done.stdout.splitlines()[0].endswith(", 1 unreadable")
    assert "Traceback" not in done.stderr
    [note] = [line for line in done.stderr.splitlines() if line.startswith("mailspy:")]
    assert note == (f"mailspy: note: 1 message could not be read ({folder}/1.eml: Permission "
                    "denied); run replay as a user who can read them, e.g. root or their owner")


@pytest.mark.parametrize("kind", ["mbox", "maildir", "directory", "below a closed folder"])
def test_a_source_that_cannot_be_read_is_one_line_saying_what_to_do(rules_dir, kind):
    with public_dir() as base:
        rules = base / "rules.d"
        shutil.copytree(rules_dir, rules)
        readable_by_all(rules, rules / "a.rules")
        source = base / "source"
        if kind == "mbox":
            box = mailbox.mbox(source)
            box.add(raw(0, "s0"))
            box.close()
        elif kind == "maildir":
            deliver(source, Message(Envelope("<a@x>", ["<b@y>"]), [("Subject", "s")],
                                    io.BytesIO(b"hi\n"), 3))
        elif kind == "directory":
            source.mkdir()
            (source / "1.eml").write_bytes(raw(0, "s0"))
        else:
            source.mkdir()
            source = source / "inbox"  # nobody cannot even look whether it exists
            source.write_bytes(raw(0, "s0"))
        if kind == "below a closed folder":
            source.parent.chmod(0o700)
        else:
            source.chmod(0o600 if kind == "mbox" else 0o700)  # root's
        done = mailspy_as_nobody("replay", "-d", str(rules), str(source))
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"mailspy: error: cannot read '{source}': Permission denied; run replay as a user "
        "who can read it, e.g. root or its owner"]


def test_a_fifo_in_a_directory_of_messages_is_skipped_not_opened(tmp_path, rules_dir):
    folder = tmp_path / "mail"
    folder.mkdir()
    (folder / "1.eml").write_bytes(raw(1, "s1"))
    os.mkfifo(folder / "pipe")  # opening it would wait for a writer forever
    assert replay(load_rules(rules_dir).rules, folder).messages == 1
