"""mailspy run behind a real Postfix and a real sendmail: every message flows, every
record is written.

Each scenario that takes a `setup` runs once behind each MTA. Postfix runs with
milter_default_action = tempfail and sendmail with F=T, so a mailspy that is dead or
answers wrongly shows up as a 451 rather than passing unnoticed.
"""

from __future__ import annotations

import mailbox
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.disks import fill
from tests.waiting import eventually

from .mta import MTA, MTAFactory, hook_kwargs
from .postfix import (
    MilterFactory,
    MilterProcess,
    PostfixFactory,
    SendResult,
    SmtpRejected,
    free_port,
)

ATTACHED = (
    b"From: Ann <ann@example.org>\r\nTo: bob@example.net, cfo@example.net\r\n"
    b"Subject: Q3 figures\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain\r\n\r\nFigures attached.\r\n"
    b'--b1\r\nContent-Type: application/pdf; name="q3.pdf"\r\n'
    b"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20q3.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
)
ENCODED = (
    b"From: ann@example.org\r\nTo: bob@example.net\r\n"
    b"Subject: =?UTF-8?B?w4l0w6kgMjAyNiDigJMgYnVkZ2V0?=\r\n\r\nBody.\r\n"
)
FORGING = (
    b"From: ann@example.org\r\nTo: bob@example.net\r\n"
    b"Subject: =?UTF-8?Q?hi=0D=0A26-01-01_00:00=09time=3D1=09from=3D<evil@x>?=\r\n"
    b"\r\nBody.\r\n"
)


def body_size(message: bytes) -> int:
    return len(message.split(b"\r\n\r\n", 1)[1])


def lines(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()] if path.exists() else []


class Setup:
    """A rules directory, a mailspy on a free port (or a unix socket), and an MTA in
    front of it: Postfix or sendmail, as `mta_name` says."""

    def __init__(self, base: Path, milters: MilterFactory, mtas: MTAFactory,
                 mta_name: str) -> None:
        self.base = base
        self.rules_dir = base / "rules.d"
        self.rules_dir.mkdir()
        self.summary = base / "summary.log"
        self.headers = base / "headers.log"
        self.spool = base / "spool"
        self._milters = milters
        self._mtas = mtas
        self.mta_name = mta_name
        self.milter: MilterProcess | None = None
        self.mta: MTA | None = None

    def rules(self, text: str, name: str = "50-test.rules") -> None:
        (self.rules_dir / name).write_text(text)

    def start(self, *extra: str, original: list[str] | None = None,
              socket_path: Path | None = None, **mta_options: object) -> MTA:
        """mailspy, then the MTA. `original` runs the original command line (no `run`)
        with those options; `socket_path` puts mailspy on a unix socket given as a bare
        path, as the original manual does (`-p /var/run/mailspy/milter`)."""
        self.start_milter(*extra, original=original, socket_path=socket_path)
        assert self.milter is not None
        if self.mta_name == "postfix":
            mta_options.setdefault("main_cf", {"milter_connect_macros": "j {client_addr}"})
        self.mta = self._mtas(self.milter, **mta_options)
        return self.mta

    def start_milter(self, *extra: str, original: list[str] | None = None,
                     socket_path: Path | None = None) -> MilterProcess:
        port = None if socket_path else free_port()
        socket = str(socket_path) if socket_path else f"inet:{port}@127.0.0.1"
        if original is None:
            args = ["run", "-p", socket, "-d", str(self.rules_dir), "-f", str(self.summary),
                    "-h", str(self.headers), "--spool-dir", str(self.spool),
                    "--runtime-dir", str(self.spool) + "-run", *extra]
        else:
            args = ["-p", socket, *original, "--spool-dir", str(self.spool),
            "--runtime-dir", str(self.spool) + "-run"]
        argv = [sys.executable, "-m", "mailspy", *args]
        self.milter = self._milters(argv, port=port, socket_path=socket_path,
                                    output=self.base / "mailspy.out")
        return self.milter

    def restart_milter(self) -> MilterProcess:
        """Stop mailspy (SIGTERM, waiting for its exit) and start it again, same socket."""
        assert self.milter is not None
        old = self.milter
        old.stop()
        self.milter = self._milters(old.argv, port=old.port, socket_path=old.socket_path,
                                    output=self.base / "mailspy.out")
        return self.milter

    def output(self) -> str:
        return (self.base / "mailspy.out").read_text()

    def signal(self, sig: signal.Signals) -> None:
        assert self.milter is not None and self.milter.pid is not None
        os.kill(self.milter.pid, sig)


@pytest.fixture
def setup(tmp_path, milter_factory, mta_factory, mta_name) -> Setup:
    return Setup(tmp_path, milter_factory, mta_factory, mta_name)


def postfix_setup(tmp_path: Path, milter_factory: MilterFactory,
                  postfix_factory: PostfixFactory) -> Setup:
    """A Setup behind Postfix alone: for tests of mailspy itself, whatever MTA is in
    front (the MTA-parametrised `setup` runs the daemon's scenarios behind both)."""

    def postfix_in_front(milter: str, **options: Any) -> MTA:
        return postfix_factory(**hook_kwargs("postfix", milter, options))

    return Setup(tmp_path, milter_factory, postfix_in_front, "postfix")


def assert_nothing_held_up(mta: MTA) -> None:
    """No 4xx, no deferral, no milter trouble in the MTA's log."""
    assert mta.count_tempfails() == 0 and mta.count_bounced() == 0, mta.maillog_tail()
    assert mta.milter_trouble() == []


def run_argv(base: Path, socket: str, rules: str | None = None, *extra: str,
             spool: Path | None = None) -> list[str]:
    """`mailspy run` on SOCKET with base/rules.d (holding `rules` when given), the summary
    log base/s.log and the spool base/spool (or `spool`)."""
    directory = base / "rules.d"
    directory.mkdir(exist_ok=True)
    if rules is not None:
        (directory / "a.rules").write_text(rules)
    return [sys.executable, "-m", "mailspy", "run", "-p", socket, "-d", str(directory),
            "-f", str(base / "s.log"), "--spool-dir", str(spool or base / "spool"),
            "--runtime-dir", str(spool or base / "spool") + "-run", *extra]


def procmail_rc(base: Path) -> Path:
    maildir = base / "procmail-md"
    rc = base / "procmailrc"
    rc.write_text(f"DEFAULT={maildir}/\nLOGFILE={base}/procmail.log\n")
    return rc


def test_every_record_through_the_mta(setup: Setup, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    rc = procmail_rc(tmp_path)
    setup.rules(f"""
        rule "everything" {{
            log-summary
            log-headers
            archive-to-maildir "{archive}"
            pipe-to-command "/usr/bin/procmail -m {rc}"
        }}""")
    mta = setup.start()
    for message in (ATTACHED, ENCODED, FORGING):
        recipients = ["bob@example.net", "cfo@example.net"] if message is ATTACHED \
            else ["bob@example.net"]
        mta.send("ann@example.org", recipients, message)
    mta.wait_for(4)
    assert_nothing_held_up(mta)

    summary = lines(setup.summary)
    assert [f[2:-1] for f in summary] == [
        ["from=<ann@example.org>", "to=<bob@example.net>", "to=<cfo@example.net>",
         f"size={body_size(ATTACHED)}", "subject=Q3 figures",
         "file=résumé q3.pdf"],
        ["from=<ann@example.org>", "to=<bob@example.net>", "size=7",
         "subject=Été 2026 – budget"],
        ["from=<ann@example.org>", "to=<bob@example.net>", "size=7",
         "subject=hi  26-01-01 00:00 time=1 from=<evil@x>"],
    ]
    assert all(f[1].startswith("time=") and f[0][2] == "-" for f in summary)

    blocks = setup.headers.read_text().split("\n\n")
    assert blocks[0].startswith("From ann@example.org ")
    assert "\nSubject: Q3 figures\n" in blocks[0] + "\n"
    assert len([b for b in blocks if b.startswith("From ")]) == 3
    # neither MTA shows milters its own Received: header; Postfix adds a missing
    # Message-Id: and Date: before mailspy sees the headers, sendmail only on delivery
    assert "\nReceived:" not in blocks[0]
    assert ("\nMessage-Id: <" in blocks[0]) == (setup.mta_name == "postfix")

    def copies(path: Path) -> list[mailbox.MaildirMessage]:
        return list(mailbox.Maildir(path, create=False)) if (path / "new").exists() else []

    eventually(lambda: len(copies(archive)) == 3 and len(copies(tmp_path / "procmail-md")) == 3)
    archived = sorted(copies(archive), key=lambda m: m["Subject"])
    first = next(m for m in archived if m["Subject"] == "Q3 figures")
    assert first["Return-Path"] == "<ann@example.org>"
    assert first.get_all("X-Mailspy-Envelope-To") == ["<bob@example.net>", "<cfo@example.net>"]
    assert b"JVBERi0xLjQK\n" in first.as_bytes()
    piped = {m["Subject"] for m in copies(tmp_path / "procmail-md")}
    assert "Q3 figures" in piped and len(piped) == 3


def test_original_usage_without_rules_files(
    setup: Setup, tmp_path: Path, run_socket_dir: Path
) -> None:
    rc = procmail_rc(tmp_path)
    # sendmail: the original manual's socket, a bare path that sendmail.mc names
    # S=local:/path; Postfix's smtpd (user postfix) cannot open a root-owned 0660 socket
    socket_path = run_socket_dir / "milter" if setup.mta_name == "sendmail" else None
    mta = setup.start(original=["-f", str(setup.summary), "-h", str(setup.headers),
                                "-P", f"/usr/bin/procmail -m {rc}"], socket_path=socket_path)
    mta.send("ann@example.org", ["bob@example.net"], ENCODED)
    mta.wait_for(1)
    assert_nothing_held_up(mta)
    assert len(lines(setup.summary)) == 1
    assert setup.headers.read_text().startswith("From ann@example.org ")
    eventually(lambda: (tmp_path / "procmail-md" / "new").exists()
               and len(os.listdir(tmp_path / "procmail-md" / "new")) == 1)
    assert "recording every message as the original mailspy did" in setup.output()


def test_dash_P_beside_rules_pipes_every_message(setup: Setup, tmp_path: Path) -> None:
    rc = procmail_rc(tmp_path)
    setup.rules('rule "never" { when subject is "no such subject" log-summary }')
    mta = setup.start("-P", f"/usr/bin/procmail -m {rc}")
    mta.send("ann@example.org", ["bob@example.net"], ENCODED)
    mta.wait_for(1)
    eventually(lambda: (tmp_path / "procmail-md" / "new").exists()
               and len(os.listdir(tmp_path / "procmail-md" / "new")) == 1)
    assert not setup.summary.exists() or lines(setup.summary) == []


def test_sighup_swaps_in_good_rules_and_keeps_running_rules_when_broken(setup: Setup) -> None:
    other = setup.base / "other.log"
    setup.rules('rule "a" { log-summary }')
    mta = setup.start()
    mta.send("one@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(1)

    setup.rules(f'rule "a" {{ log-summary "{other}" }}')
    setup.signal(signal.SIGHUP)
    eventually(lambda: "reloaded" in setup.output())
    mta.send("two@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(2)

    setup.rules('rule "a" {\n  when sendr is "x"\n  log-summary\n}')
    setup.signal(signal.SIGHUP)
    eventually(lambda: "reload refused" in setup.output())
    mta.send("three@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(3)

    assert [f[2] for f in lines(setup.summary)] == ["from=<one@example.org>"]
    assert [f[2] for f in lines(other)] == ["from=<two@example.org>", "from=<three@example.org>"]
    rules_file = setup.rules_dir / "50-test.rules"
    assert f"{rules_file}:2:8: error: unknown field 'sendr'; did you mean 'sender'?" \
        in setup.output()
    assert mta.count_deferred() == 0
    assert_nothing_held_up(mta)


def test_sigusr1_reopens_a_renamed_log(setup: Setup) -> None:
    setup.rules('rule "a" { log-summary }')
    mta = setup.start()
    mta.send("one@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(1)
    rotated = setup.base / "summary.log.1"
    setup.summary.rename(rotated)
    setup.signal(signal.SIGUSR1)
    eventually(lambda: "log files reopened" in setup.output())
    mta.send("two@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(2)
    assert_nothing_held_up(mta)
    assert [f[2] for f in lines(rotated)] == ["from=<one@example.org>"]
    assert [f[2] for f in lines(setup.summary)] == ["from=<two@example.org>"]


def test_a_restarted_mailspy_takes_the_next_session(setup: Setup) -> None:
    setup.rules('rule "a" { log-summary }')
    mta = setup.start()
    mta.send("one@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(1)
    assert setup.milter is not None
    setup.milter.stop()
    with pytest.raises(SmtpRejected) as refused:  # the MTA does notice a dead mailspy
        mta.send("lost@example.org", ["b@example.net"], ENCODED)
    assert refused.value.temporary
    while_down = mta.count_tempfails()
    assert while_down > 0
    setup.restart_milter()
    mta.send("two@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(2)
    assert [f[2] for f in lines(setup.summary)] == ["from=<one@example.org>",
                                                    "from=<two@example.org>"]
    assert mta.count_tempfails() == while_down  # nothing held up once it is back


def script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return path


def test_a_pipe_that_outlives_its_timeout_is_killed_and_mail_flows(setup: Setup) -> None:
    sleeper = script(setup.base / "sleeper", "sleep 60\n")
    setup.rules(f'rule "a" {{ pipe-to-command "{sleeper}" log-summary }}')
    mta = setup.start("--pipe-timeout", "2")
    started = time.monotonic()
    mta.send("a@example.org", ["b@example.net"], ENCODED)
    answered = time.monotonic() - started
    mta.wait_for(1)
    assert answered < 2  # not held for the pipe's 60 s, nor its 2 s timeout
    eventually(lambda: "timed out after" in setup.output())
    assert f"pipe-to-command {sleeper} failed (attempt 1), retrying in 60s: timed out " \
           "after 2.0s, killed" in setup.output()
    assert mta.count_deferred() == 0


def test_a_failing_pipe_is_logged_with_its_stderr(setup: Setup) -> None:
    failing = script(setup.base / "failing", "echo 'cannot deliver: quota' >&2\nexit 3\n")
    setup.rules(f'rule "a" {{ pipe-to-command "{failing} --flag" }}')
    mta = setup.start()
    mta.send("a@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(1)
    eventually(lambda: "exit status 3" in setup.output())
    assert f"pipe-to-command {failing} --flag failed, dead-lettered (permanent failure; " \
           "spool entry " in setup.output()
    assert "): exit status 3; stderr: cannot deliver: quota" in setup.output()


def test_an_action_that_fails_is_logged_and_the_mail_accepted(setup: Setup,
                                                               small_disk) -> None:
    full = small_disk("64k")
    setup.rules(f'rule "a" {{ log-headers "{full}/headers" log-summary }}')
    mta = setup.start()
    fill(full)
    mta.send("a@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(1)
    assert f"cannot write to {full}/headers: No space left on device" in setup.output()
    assert len(lines(setup.summary)) == 1
    assert mta.count_deferred() == 0


def test_an_unwritable_maildir_is_logged_and_the_mail_accepted(setup: Setup) -> None:
    """The Maildir's disk goes away after the start (at the start it would be refused)."""
    blocker = setup.base / "a-file"
    blocker.mkdir()
    setup.rules(f'rule "a" {{ archive-to-maildir "{blocker}/archive" log-summary }}')
    mta = setup.start()
    blocker.rmdir()
    blocker.write_text("not a directory")
    mta.send("a@example.org", ["b@example.net"], ENCODED)
    mta.wait_for(1)
    eventually(lambda: "archive-to-maildir" in setup.output())
    assert f"archive-to-maildir {blocker}/archive failed (attempt 1), retrying in 60s: " \
           "Not a directory" in setup.output()
    assert len(lines(setup.summary)) == 1 and mta.count_deferred() == 0


def test_broken_rules_stop_the_start_with_file_line_column(tmp_path: Path) -> None:
    import subprocess

    argv = run_argv(tmp_path, f"inet:{free_port()}@127.0.0.1", 'rule "a" { log-sumary }')
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    rules = tmp_path / "rules.d"
    assert done.returncode == 1
    assert f"{rules}/a.rules:1:12: error: unknown action 'log-sumary'; did you mean " \
           "'log-summary'?" in done.stderr


@pytest.mark.postfix
def test_unix_socket_is_0660_and_the_daemon_runs_as_the_user(
    tmp_path: Path, milter_factory: MilterFactory, postfix_factory: PostfixFactory,
    socket_dir: Path,
) -> None:
    import pwd
    import stat

    account = pwd.getpwnam("postfix")  # a user whose group the MTA is in, as in production
    archive_parent = socket_dir / "archive"  # tmp_path's parents are closed to other users
    archive_parent.mkdir()
    os.chown(archive_parent, account.pw_uid, account.pw_gid)
    logs = socket_dir / "log"  # like /var/log/mailspy: the user's own, opened after the drop
    logs.mkdir()
    os.chown(logs, account.pw_uid, account.pw_gid)
    summary = logs / "s.log"
    path = socket_dir / "mailspy.sock"
    # the rules where the user can read them too: a reload reads them as that user
    argv = run_argv(socket_dir, f"unix:{path}",
                    f'rule "a" {{ log-summary archive-to-maildir "{archive_parent}/md" }}',
                    "-u", "postfix", "-f", str(summary), spool=socket_dir / "spool")
    milter = milter_factory(argv, socket_path=path, output=tmp_path / "mailspy.out")

    info = path.stat()
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert (info.st_uid, info.st_gid) == (account.pw_uid, account.pw_gid)
    def uids() -> list[str]:
        status = Path(f"/proc/{milter.pid}/status").read_text()
        return next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1:]

    # the socket listens before the drop (it is opened as root): wait for the drop
    eventually(lambda: uids() == [str(account.pw_uid)] * 4, timeout=10)

    postfix = postfix_factory(milter.postfix_spec)
    postfix.send("a@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(1)
    assert len(lines(summary)) == 1
    eventually(lambda: (archive_parent / "md" / "new").exists()
               and len(os.listdir(archive_parent / "md" / "new")) == 1)
    [copy] = (archive_parent / "md" / "new").iterdir()
    assert copy.stat().st_uid == account.pw_uid
    assert summary.stat().st_uid == account.pw_uid  # so the user can reopen it after rotation
    assert stat.S_IMODE(summary.stat().st_mode) == 0o600  # the umask is 077

    os.rename(summary, logs / "s.log.1")  # logrotate, then SIGUSR1, as the dropped user
    os.kill(milter.pid, signal.SIGUSR1)
    eventually(lambda: "log files reopened" in milter.output())
    postfix.send("a@example.org", ["b@example.net"], ENCODED)
    postfix.wait_for(2)
    assert len(lines(summary)) == 1 and len(lines(logs / "s.log.1")) == 1
    assert "cannot reopen" not in milter.output()


def test_a_live_socket_is_not_stolen_and_a_stale_one_is_replaced(
    tmp_path: Path, milter_factory: MilterFactory, socket_dir: Path,
) -> None:
    import socket as sockets
    import subprocess

    path = socket_dir / "m.sock"
    stale = sockets.socket(sockets.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # a socket file nobody listens on, as after a crash
    milter_factory(run_argv(tmp_path, f"unix:{path}"), socket_path=path,
                   output=tmp_path / "first.out")
    other_spool = run_argv(tmp_path, f"unix:{path}", spool=tmp_path / "spool2")
    second = subprocess.run(other_spool, capture_output=True, text=True, timeout=30)
    assert second.returncode == 1
    assert f"another milter is listening on {path}" in second.stderr
    other_socket = run_argv(tmp_path, f"unix:{socket_dir}/other.sock")
    third = subprocess.run(other_socket, capture_output=True, text=True, timeout=30)
    assert third.returncode == 1
    assert f"another mailspy is using the spool {tmp_path}/spool" in third.stderr


def zipped(name: str, data: bytes) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)
        archive.writestr("readme.txt", b"see the invoice")
    return buffer.getvalue()


def test_a_member_inside_a_zip_is_matched_and_recorded_as_json(setup: Setup, tmp_path: Path):
    import base64
    import hashlib
    import json

    archive = zipped("invoice.pdf.exe", b"MZ" + b"\x90" * 4000)
    encoded = base64.encodebytes(archive).replace(b"\n", b"\r\n")
    message = (b"From: billing@bank.example\r\nTo: cfo@corp.example\r\nSubject: Invoice\r\n"
               b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="z"\r\n\r\n'
               b"--z\r\nContent-Type: text/plain\r\n\r\nPlease pay.\r\n"
               b'--z\r\nContent-Type: application/zip; name="invoice.zip"\r\n'
               b"Content-Transfer-Encoding: base64\r\n\r\n" + encoded + b"--z--\r\n")
    records = tmp_path / "records.jsonl"
    quarantine = tmp_path / "quarantine"
    setup.rules(f"""
        rule "zip-executables" {{
            when archive-member matches "*.exe"
            log-summary "{records}" format json
            archive-to-maildir "{quarantine}"
        }}""")
    mta = setup.start()
    sent = mta.send("billing@bank.example", ["cfo@corp.example"], message)
    mta.wait_for(1)
    [line] = records.read_text().splitlines()
    record = json.loads(line)
    assert record["rules"] == ["zip-executables"]
    assert record["sender"] == "billing@bank.example"
    [attachment] = record["attachments"]
    assert attachment["name"] == "invoice.zip"
    assert attachment["type"] == "application/zip"
    assert attachment["size"] == len(archive)
    assert attachment["sha256"] == hashlib.sha256(archive).hexdigest()
    assert attachment["members"] == ["invoice.pdf.exe", "readme.txt"]
    assert_client_and_queue_id(record, sent, setup.mta_name)
    eventually(lambda: (quarantine / "new").exists()
               and len(os.listdir(quarantine / "new")) == 1)


def assert_client_and_queue_id(record: dict, sent: SendResult, mta_name: str,
                               auth_user: str = "") -> None:
    """The connection's fields and the queue id in a JSON record, as each MTA tells them:
    Postfix (no reverse lookups here) names an unknown client [ADDRESS], sendmail found
    127.0.0.1 in its hosts file; `auth_user` is the SMTP AUTH login, "" for none."""
    assert sent.queue_id and record["queue_id"] == sent.queue_id
    assert record["client_address"] == "127.0.0.1"
    assert record["client_name"] == {"postfix": "[127.0.0.1]", "sendmail": "localhost"}[mta_name]
    assert record["helo"] == "client.test"
    assert record["auth_user"] == auth_user


def test_a_list_file_is_read_again_on_sighup(setup: Setup) -> None:
    vip = setup.base / "vip.list"
    vip.write_text("# the board\nceo@example.net\n")
    setup.rules(f'rule "vip" {{ when recipient in file "{vip}" log-summary }}')
    mta = setup.start()
    mta.send("a@example.org", ["cfo@example.net"], ENCODED)
    mta.wait_for(1)
    assert lines(setup.summary) == []
    vip.write_text("ceo@example.net\ncfo@example.net\n")
    setup.signal(signal.SIGHUP)
    eventually(lambda: "reloaded" in setup.output())
    mta.send("b@example.org", ["cfo@example.net"], ENCODED)
    mta.wait_for(2)
    assert [f[2] for f in lines(setup.summary)] == ["from=<b@example.org>"]


def test_the_daemons_own_messages_go_to_syslog(tmp_path: Path, milter_factory: MilterFactory):
    import socket as sockets

    log_socket = tmp_path / "log"
    syslog = sockets.socket(sockets.AF_UNIX, sockets.SOCK_DGRAM)
    syslog.bind(str(log_socket))
    syslog.settimeout(10)
    port = free_port()
    argv = run_argv(tmp_path, f"inet:{port}@127.0.0.1", None, "--syslog", str(log_socket))
    milter = milter_factory(argv, port=port, output=tmp_path / "out")
    received = [syslog.recv(4096).decode() for _ in range(2)]
    syslog.close()
    priority = 2 * 8 + 6  # facility mail (2), severity info (6)
    assert received[1].startswith(f"<{priority}>mailspy[{milter.pid}]: mailspy ")
    assert "listening on inet:" in received[1]
    assert not any(r.endswith("\x00") for r in received)  # a message, not a C string
    assert (tmp_path / "out").read_text() == ""  # nothing on stderr


def test_an_ipv6_socket_takes_a_message(tmp_path: Path):
    """inet6:PORT@HOST, driven by the benchmark's MTA-side milter client over ::1."""
    import socket as sockets

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from bench.corpus import make_corpus
    from bench.milterclient import deliver

    probe = sockets.socket(sockets.AF_INET6)
    probe.bind(("::1", 0))
    port = probe.getsockname()[1]
    probe.close()
    summary = tmp_path / "s.log"
    argv = run_argv(tmp_path, f"inet6:{port}@::1", 'rule "a" { log-summary }')
    milter = MilterProcess(argv, port=port, output=tmp_path / "out")
    milter.ready = lambda: _listening6(port)  # type: ignore[method-assign]  # IPv4-only probe
    milter.start()
    try:
        [mail] = make_corpus(1)
        deliver(("::1", port), mail)
        assert lines(summary)[0][2] == f"from=<{mail.sender}>"
    finally:
        milter.stop()


def _listening6(port: int) -> bool:
    import socket as sockets

    with sockets.socket(sockets.AF_INET6) as probe:
        probe.settimeout(0.2)
        try:
            probe.connect(("::1", port))
        except OSError:
            return False
    return True
