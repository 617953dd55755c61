"""The daemon under attack: hostile local files, full disks, floods, reloads that
would lose rules. Each test reproduces a way the running daemon was made to
misbehave, through a real Postfix with milter_default_action = tempfail."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.disks import fill
from tests.unprivileged import NOBODY, public_dir

from .postfix import free_port
from .test_daemon import ENCODED, Setup, eventually, lines, postfix_setup

pytestmark = pytest.mark.postfix


@pytest.fixture
def setup(tmp_path, milter_factory, postfix_factory) -> Setup:
    """Behind Postfix: these are attacks on mailspy, whichever MTA is in front."""
    return postfix_setup(tmp_path, milter_factory, postfix_factory)


@pytest.mark.parametrize("how", ["emptied", "renamed", "dangling", "unreadable"])
def test_a_reload_that_would_lose_the_rules_is_refused(setup: Setup, how: str) -> None:
    archive = setup.base / "archive"
    setup.rules(f'rule "archive" {{ archive-to-maildir "{archive}" log-summary }}')
    postfix = setup.start()
    postfix.send("one@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(1)

    rules_file = setup.rules_dir / "50-test.rules"
    if how == "emptied":
        rules_file.unlink()
    elif how == "renamed":
        setup.rules_dir.rename(setup.base / "rules.d.old")
    elif how == "dangling":
        moved = setup.base / "moved.rules"
        rules_file.rename(moved)
        rules_file.symlink_to(setup.base / "gone.rules")
    else:
        os.mkfifo(setup.rules_dir / "60-fifo.rules")  # a read would hang
    setup.signal(signal.SIGHUP)
    eventually(lambda: "reload refused" in setup.output())
    postfix.send("two@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(2)

    assert [f[2] for f in lines(setup.summary)] == ["from=<one@example.org>",
                                                    "from=<two@example.org>"]
    eventually(lambda: len(os.listdir(archive / "new")) == 2)
    assert "reloaded" not in setup.output()
    assert postfix.count_deferred() == 0


def test_a_rules_directory_given_but_missing_stops_the_start(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mailspy", "run", "-p", "inet:1@127.0.0.1",
                           "-d", str(tmp_path / "no-such-dir"), "--spool-dir",
                           str(tmp_path / "spool"),
                           "--runtime-dir", str(tmp_path / "spool") + "-run"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"rules directory {tmp_path}/no-such-dir does not exist" in done.stderr
    assert "recording every message" not in done.stderr


def test_a_symlink_planted_in_place_of_a_log_stops_the_start(setup: Setup) -> None:
    victim = setup.base / "authorized_keys"
    victim.write_text("ssh-ed25519 AAAA root@host\n")
    setup.summary.symlink_to(victim)
    setup.rules('rule "a" { log-summary log-headers }')
    argv = [sys.executable, "-m", "mailspy", "run", "-p", "inet:1@127.0.0.1", "-d",
            str(setup.rules_dir), "-f", str(setup.summary), "-h", str(setup.headers),
            "--spool-dir", str(setup.spool), "--runtime-dir", str(setup.spool) + "-run"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"{setup.summary} is a symbolic link; mailspy never writes through one" \
        in done.stderr
    assert victim.read_text() == "ssh-ed25519 AAAA root@host\n"


def test_a_full_log_disk_loses_whole_records_and_writing_resumes(setup: Setup,
                                                                 small_disk) -> None:
    disk = small_disk("64k")
    summary, headers = disk / "summary", disk / "headers"
    setup.rules(f'rule "a" {{ log-summary "{summary}" log-headers "{headers}" }}')
    postfix = setup.start()
    # each record is larger than a page, so none fits in what the file already holds
    long = ENCODED.replace(b"Subject: ", b"Subject: " + b"long subject " * 400)
    postfix.send("one@example.org", ["b@example.net"], long)
    postfix.wait_for(1)
    filler = fill(disk)
    for n in range(3):
        postfix.send(f"lost{n}@example.org", ["b@example.net"], long)
    postfix.wait_for(4)
    filler.unlink()
    postfix.send("three@example.org", ["b@example.net"], long)
    postfix.wait_for(5)

    assert [f[2] for f in lines(summary)] == ["from=<one@example.org>",
                                              "from=<three@example.org>"]
    assert all(len(f) == 7 and f[1].startswith("time=") for f in lines(summary))
    blocks = headers.read_text().split("\n\n")
    assert [b.split(" ", 2)[1] for b in blocks if b] == ["one@example.org", "three@example.org"]
    output = setup.output()
    assert output.count(f"cannot write to {summary}") == 1  # once per episode
    assert f"writing to {summary} again; 3 records were lost" in output
    assert postfix.count_deferred() == 0


def test_a_full_spool_disk_makes_postfix_keep_the_message_until_there_is_room(
        setup: Setup, small_disk) -> None:
    """Never answered 250 with a copy owed and lost: the MTA keeps the message
    (451), delivers it again once there is room, and the copy is made once."""
    disk = small_disk("512k")
    archive = setup.base / "archive"
    setup.spool = disk / "spool"
    setup.rules(f'rule "a" {{ archive-to-maildir "{archive}" log-summary }}')
    postfix = setup.start()
    postfix.send("one@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(1)
    filler = fill(disk)
    with pytest.raises(Exception, match="451"):
        postfix.send("two@example.org", ["b@example.net"], ENCODED)
    filler.unlink()
    postfix.send("two@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(2)

    eventually(lambda: len(os.listdir(archive / "new")) == 2)
    assert [f[2] for f in lines(setup.summary)] == ["from=<one@example.org>",
                                                    "from=<two@example.org>"]
    assert "answered TEMPFAIL, the MTA keeps the message" in setup.output()
    assert "these copies are lost" not in setup.output()


def test_the_spool_refuses_a_planted_symlink_instead_of_handing_its_target_over(
        setup: Setup) -> None:
    """Root makes the spool at start and hands it to the -u user: a link planted
    in place of queue/ must not make root chown its target."""
    target = setup.base / "etc"
    target.mkdir()
    setup.spool.mkdir()
    (setup.spool / "queue").symlink_to(target)
    setup.rules('rule "a" { log-summary }')
    done = subprocess.run([sys.executable, "-m", "mailspy", "run", "-p", "inet:1@127.0.0.1",
                           "-d", str(setup.rules_dir), "-f", str(setup.summary),
                           "--spool-dir", str(setup.spool),
                           "--runtime-dir", str(setup.spool) + "-run", "-u", "nobody"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot use the spool {setup.spool}" in done.stderr
    assert target.stat().st_uid == 0
    shutil.rmtree(setup.spool)


def test_a_connection_flood_under_the_usual_descriptor_limit_stops_no_mail(
        setup: Setup, milter_factory) -> None:
    """1,124 idle connections to the milter socket, the daemon started with the
    common soft limit of 1,024 descriptors: it raises the limit to the hard one,
    and mail through Postfix is still recorded and archived."""
    archive = setup.base / "archive"
    setup.rules(f'rule "a" {{ archive-to-maildir "{archive}" log-summary }}')
    port = free_port()
    argv = ["prlimit", "--nofile=1024:4096", "--", sys.executable, "-m", "mailspy", "run",
            "-p", f"inet:{port}@127.0.0.1", "-d", str(setup.rules_dir), "-f",
            str(setup.summary), "--spool-dir", str(setup.spool),
            "--runtime-dir", str(setup.spool) + "-run"]
    milter = milter_factory(argv, port=port, output=setup.base / "mailspy.out")
    limits = Path(f"/proc/{milter.pid}/limits").read_text()
    assert re.search(r"Max open files\s+4096\s+4096", limits), limits
    flood = []
    try:
        for _ in range(1124):
            flood.append(socket.create_connection(("127.0.0.1", port)))
        postfix = setup._mtas(milter)
        for n in range(3):
            postfix.send(f"m{n}@example.org", ["b@example.net"], ENCODED)
        postfix.wait_for(3)
        eventually(lambda: (archive / "new").exists() and len(os.listdir(archive / "new")) == 3)
    finally:
        for connection in flood:
            connection.close()
    assert len(lines(setup.summary)) == 3
    assert postfix.count_deferred() == 0
    assert "Traceback" not in milter.output()


def test_a_dash_p_command_that_cannot_be_split_stops_the_start(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mailspy", "-p", "inet:1@127.0.0.1",
                           "-P", "/bin/cat 'unbalanced", "-f", str(tmp_path / "log"),
                           "--spool-dir", str(tmp_path / "spool"),
                           "--runtime-dir", str(tmp_path / "spool") + "-run"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "-P \"/bin/cat 'unbalanced\": cannot split the command into words: " \
        "No closing quotation" in done.stderr


def test_a_maildir_whose_parent_is_missing_is_reported_at_the_start(setup: Setup) -> None:
    """Not days later when the first copy fails: at the start, with its place. A
    warning, not a refusal: a disk away for a while must not stop mail, and the
    copies wait in the spool."""
    archive = setup.base / "no-srv" / "archive"
    setup.rules(f'rule "a" {{\n  archive-to-maildir "{archive}"\n}}')
    postfix = setup.start()
    assert f"{setup.rules_dir}/50-test.rules:2:3: warning: parent directory of the Maildir " \
        f"{archive} does not exist" in setup.output()
    postfix.send("a@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(1)
    eventually(lambda: "archive-to-maildir" in setup.output() and "retrying" in setup.output())
    archive.parent.mkdir()  # the disk is back: the retried copy arrives
    check = subprocess.run([sys.executable, "-m", "mailspy", "spool", "--spool-dir",
                            str(setup.spool), "retry", "--all"], capture_output=True)
    assert check.returncode == 0, check.stderr
    setup.signal(signal.SIGHUP)  # picks up the retry at once
    eventually(lambda: (archive / "new").exists() and len(os.listdir(archive / "new")) == 1)
    assert postfix.count_deferred() == 0


@pytest.mark.parametrize("closed", ["file", "directory"])
def test_rules_the_run_user_cannot_read_stop_the_start(tmp_path: Path, closed: str) -> None:
    """Root can read a rules file its run user cannot; started anyway, every reload
    (made as that user) would be refused. The start reads the rules as that user too."""
    if os.geteuid() != 0:
        pytest.skip("dropping privileges needs root")
    with public_dir() as base:
        logs, rules = base / "logs", base / "rules.d"
        logs.mkdir()
        shutil.chown(logs, NOBODY)
        rules.mkdir()
        (rules / "10-all.rules").write_text(f'rule "all" {{ log-summary "{logs}/summary" }}\n')
        (rules / "10-all.rules").chmod(0o600 if closed == "file" else 0o644)
        rules.chmod(0o755 if closed == "file" else 0o700)
        done = subprocess.run(
            [sys.executable, "-m", "mailspy", "run", "-p", f"unix:{base}/milter",
             "-u", NOBODY, "-d", str(rules), "--spool-dir", str(base / "spool"),
             "--runtime-dir", str(base / "run")],
            capture_output=True, text=True, timeout=60)
        (rules / "10-all.rules").chmod(0o644)
        rules.chmod(0o755)
        readable = _start_as_nobody(base, tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    named = f"{rules}/10-all.rules" if closed == "file" else f"rules directory {rules}"
    assert named in done.stderr and "Permission denied" in done.stderr
    assert f"mailspy check-rules --user {NOBODY} -d {rules}" in done.stderr
    assert "listening" not in done.stderr
    assert readable.returncode == 1 and "Traceback" not in readable.stderr
    assert (f"user {NOBODY} cannot use the spool {tmp_path}/spool: Permission denied"
            in readable.stderr)


def _start_as_nobody(base: Path, spool_parent: Path) -> subprocess.CompletedProcess[str]:
    """A start whose spool lies in root's own 0700 folder: nobody cannot reach it."""
    return subprocess.run(
        [sys.executable, "-m", "mailspy", "run", "-p", f"unix:{base}/milter2", "-u", NOBODY,
         "-d", str(base / "rules.d"), "--spool-dir", str(spool_parent / "spool"),
         "--runtime-dir", str(base / "run2")],
        capture_output=True, text=True, timeout=60)
