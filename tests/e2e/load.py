"""Load and faults through a real Postfix: many SMTP sessions, a slow pipe, a Maildir
disk that fails and recovers, a spool disk that fills up and empties again, a flood of
idle connections to the milter socket beyond the usual 1,024 descriptors, and a
`kill -9` of mailspy mid-load followed by a restart.

The senders behave like sending MTAs: a 4xx reply is retried after a short pause. The
report counts what every stage did and checks mailspy's promises: nothing deferred by a
running mailspy except while its spool disk is full (then 4xx, so no copy is lost), one
uncorrupted summary line per accepted message, one Maildir copy per accepted message
after the restart (none lost, none twice), every pipe run accounted for.

Short form: tests/e2e/test_load.py (CI). Long form, on demand:
    .venv/bin/python -m tests.e2e.load --messages 3000 --sessions 16 --pipe-sleep 10
"""

from __future__ import annotations

import argparse
import contextlib
import json
import mailbox
import os
import re
import shutil
import signal
import smtplib
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from mailspy.spool.entry import read_meta
from mailspy.spool.store import DEAD_DIR, Spool
from tests.disks import fill

from .postfix import MilterProcess, PrivatePostfix, free_port, public_tmpdir

SUMMARY_LINE = re.compile(
    r"\d\d-\d\d-\d\d \d\d:\d\d\ttime=\d+\tfrom=<[^\t]*>(\tto=<[^\t]*>)+\tsize=\d+"
    r"\tsubject=[^\t]*(\tfile=[^\t]*)*\tqueue=[0-9A-Za-z]+"
)


@dataclass
class LoadConfig:
    messages: int = 120
    sessions: int = 8
    pipe_sleep: float = 1.0
    kill_at: float | None = 0.5  # fraction of messages accepted when mailspy is killed
    outage: tuple[float, float] | None = (0.2, 4.0)  # Maildir disk gone: at fraction, seconds
    workers: int = 16
    per_target: int = 16
    spool_full: tuple[float, float] | None = None  # spool disk full: at fraction, seconds
    give_up_after: float = 180.0  # a message not accepted this long is given up (a dead mailspy)
    flood: int = 0  # idle connections held open to the milter socket during the run


@dataclass
class LoadReport:
    config: dict
    seconds: float = 0.0
    messages_sent: int = 0
    accepted_by_postfix: int = 0
    smtp_attempts: int = 0
    temporary_replies: int = 0
    temporary_because_of_kill: int = 0
    temporary_because_of_full_spool: int = 0
    deferred_by_running_mailspy: int = 0
    rejected: int = 0
    postfix_deferred: int = 0
    summary_lines: int = 0
    summary_corrupted: int = 0
    summary_missing: int = 0
    summary_extra: int = 0
    maildir_copies: int = 0
    maildir_lost: int = 0
    maildir_duplicated: int = 0
    maildir_duplicated_resent: int = 0  # of those: the MTA resent it after a lost answer
    pipe_runs: int = 0
    pipe_lost: int = 0
    pipe_twice: int = 0
    dead_lettered: list = field(default_factory=list)
    retries_logged: int = 0
    smtp_replies: dict = field(default_factory=dict)
    eom_after_restart: str = ""
    data_reply_ms: dict = field(default_factory=dict)
    kill_at_message: int | None = None

    def problems(self) -> list[str]:
        """The invariants this run broke (empty when it kept them all)."""
        checks = {
            "a running mailspy deferred mail": self.deferred_by_running_mailspy,
            "messages rejected": self.rejected,
            "summary lines corrupted": self.summary_corrupted,
            "accepted messages without a summary line": self.summary_missing,
            "Maildir copies lost": self.maildir_lost,
            "Maildir copies duplicated": self.maildir_duplicated
            - self.maildir_duplicated_resent,
            "pipe copies lost": self.pipe_lost,
            "copies dead-lettered": len(self.dead_lettered),
        }
        return [f"{what}: {count}" for what, count in checks.items() if count]


def message(index: int) -> tuple[str, list[str], bytes]:
    """A varied, somewhat hostile message; the Message-Id names it."""
    recipients = [f"r{index % 7}@example.net"] + ([f"cc{index}@example.net"] if index % 3 == 0
                                                 else [])
    subject = f"load {index}" if index % 5 else f"=?UTF-8?Q?load_{index}_=0D=0Ato=3D<x>=09?="
    head = (f"From: s{index}@example.org\r\nTo: {', '.join(recipients)}\r\n"
            f"Subject: {subject}\r\nMessage-Id: <load-{index}@mailspy.test>\r\n"
            "MIME-Version: 1.0\r\n")
    if index % 4:
        return f"s{index}@example.org", recipients, (head + f"\r\nbody {index}\r\n").encode()
    body = (f'Content-Type: multipart/mixed; boundary="b{index}"\r\n\r\n--b{index}\r\n'
            f"Content-Type: text/plain\r\n\r\ntext\r\n--b{index}\r\n"
            f'Content-Type: application/pdf; name="doc {index}.pdf"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n"
            f"--b{index}--\r\n")
    return f"s{index}@example.org", recipients, (head + body).encode()


class Run:
    def __init__(self, config: LoadConfig, base: Path) -> None:
        self.config = config
        self.base = base
        self.disk = base / "disk"
        self.disk.mkdir()
        self.spool = base / "spool"
        self.runs = base / "pipe-runs"
        self.summary = base / "summary.log"
        self.port = free_port()
        self.report = LoadReport(config=asdict(config))
        self.accepted: set[int] = set()
        self.lock = threading.Lock()
        self.mailspy_down = threading.Event()
        self.generation = 0  # mailspy restarts so far; an SMTP session remembers its own
        self.replies: Counter[str] = Counter()
        self.data_times: list[float] = []
        self.milter: MilterProcess | None = None
        self.outputs: list[Path] = []
        self.outage_started = self.outage_over = False  # the Maildir disk's outage
        self.spool_fill_started = False
        self.resent: set[int] = set()
        self.refused_at_kill: set[int] = set()  # 4xx because mailspy was killed
        self.gave_up: set[int] = set()  # never accepted within give_up_after
        self.flood: list[socket.socket] = []

    # -- mailspy -----------------------------------------------------------------

    def start_mailspy(self) -> None:
        rules = self.base / "rules.d"
        rules.mkdir(exist_ok=True)
        pipe = self.base / "slow-pipe"
        pipe.write_text("#!/bin/sh\nid=$(grep -i -m1 '^message-id:' | tr -d '\\r')\n"
                        f"sleep {self.config.pipe_sleep}\necho \"$id\" >> {self.runs}\n")
        pipe.chmod(0o755)
        (rules / "load.rules").write_text(
            f'rule "all" {{ log-summary archive-to-maildir "{self.disk}/archive" '
            f'pipe-to-command "{pipe}" }}')
        output = self.base / f"mailspy-{len(self.outputs)}.out"
        self.outputs.append(output)
        # the usual soft limit of descriptors: mailspy raises it to the hard one
        limit = ["prlimit", "--nofile=1024:8192", "--"] if self.config.flood else []
        argv = [*limit, sys.executable, "-m", "mailspy", "run", "-p", f"inet:{self.port}@127.0.0.1",
                "-d", str(rules), "-f", str(self.summary), "--spool-dir", str(self.spool),
                "--runtime-dir", str(self.spool) + "-run",
                "--workers", str(self.config.workers), "--per-target",
                str(self.config.per_target), "--retry-base", "0.5", "--retry-max", "2",
                "--max-attempts", "1000", "--pipe-timeout", str(self.config.pipe_sleep + 30),
                "--scan-interval", "1"]
        self.milter = MilterProcess(argv, port=self.port, output=output).start()

    def kill_and_restart(self) -> None:
        assert self.milter is not None and self.milter.process is not None
        self.mailspy_down.set()
        os.kill(self.milter.process.pid, signal.SIGKILL)
        self.milter.process.wait()
        self.start_mailspy()
        self.generation += 1
        self.mailspy_down.clear()

    # -- senders -----------------------------------------------------------------

    def send_all(self, postfix: PrivatePostfix) -> None:
        indexes = iter(range(self.config.messages))
        take = threading.Lock()

        def sender() -> None:
            client = None
            while True:
                with take:
                    index = next(indexes, None)
                if index is None:
                    break
                client = self._send_one(postfix, client, index)
            if client is not None:
                _quietly(client.quit)

        threads = [threading.Thread(target=sender) for _ in range(self.config.sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _send_one(self, postfix: PrivatePostfix, client, index: int):
        """Send until accepted; the session (client) is kept for the next message.

        Postfix talks to a milter over one connection per SMTP session: a session
        opened before the kill (or while mailspy was down) keeps failing with 4xx,
        which is the kill's doing, not a running mailspy's."""
        sender, recipients, data = message(index)
        deadline = time.monotonic() + self.config.give_up_after
        while time.monotonic() < deadline:
            with self.lock:
                self.report.smtp_attempts += 1
            try:
                if client is None:
                    client = _connect(postfix.smtp_port)
                    client.generation = -1 if self.mailspy_down.is_set() else self.generation
                started = time.perf_counter()
                client.sendmail(sender, recipients, data)
                with self.lock:
                    self.data_times.append(time.perf_counter() - started)
                    self.accepted.add(index)
                self._after_accept()
                return client
            except smtplib.SMTPResponseException as exc:
                self._count_refusal(client, exc.smtp_code, exc.smtp_error, index)
            except smtplib.SMTPRecipientsRefused as exc:
                code, text = min(exc.recipients.values())
                self._count_refusal(client, code, text, index)
            except (smtplib.SMTPException, OSError):
                pass  # a dropped connection: retry as an MTA would
            if client is not None:
                _quietly(client.close)
            client = None
            time.sleep(0.2)
        with self.lock:  # never accepted: the report shows it as a message not accepted
            self.gave_up.add(index)
        return None

    def _count_refusal(self, client, code: int, text: bytes | str, index: int) -> None:
        stale = client is not None and getattr(client, "generation", -1) != self.generation
        with self.lock:
            self.replies[f"{code} {text!r}"[:120]] += 1
            if code >= 500:
                self.report.rejected += 1
            elif self.mailspy_down.is_set() or stale:
                self.report.temporary_because_of_kill += 1
                self.refused_at_kill.add(index)
            else:
                self.report.deferred_by_running_mailspy += 1
            self.report.temporary_replies += 1

    def _after_accept(self) -> None:
        """Faults are injected at fractions of the messages accepted so far."""
        with self.lock:
            done = len(self.accepted)
        fraction = done / self.config.messages
        outage = self.config.outage
        with self.lock:
            if outage and fraction >= outage[0] and not self.outage_started:
                self.outage_started = True
                self.disk.rename(self.base / "disk.away")
                self.disk.write_text("the Maildir disk is gone")  # ENOTDIR from now on
                threading.Timer(outage[1], self._disk_back).start()
        full = self.config.spool_full
        with self.lock:
            if full and fraction >= full[0] and not self.spool_fill_started:
                self.spool_fill_started = True
                filler = fill(self.spool)
                threading.Timer(full[1], filler.unlink).start()
        kill_at = self.config.kill_at
        if kill_at is not None and fraction >= kill_at and self.report.kill_at_message is None:
            self.report.kill_at_message = done
            self.kill_and_restart()

    def open_flood(self) -> None:
        for _ in range(self.config.flood):
            self.flood.append(socket.create_connection(("127.0.0.1", self.port)))

    def close_flood(self) -> None:
        for connection in self.flood:
            connection.close()
        self.flood.clear()

    def _disk_back(self) -> None:
        with self.lock:
            self.disk.unlink()
            (self.base / "disk.away").rename(self.disk)
            self.outage_over = True

    # -- the reckoning -----------------------------------------------------------

    def wait_for_copies(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            queued = Spool(self.spool).ids()
            if not queued:
                return
            time.sleep(0.2)
        raise TimeoutError(f"spool still holds {len(queued)} entries after {timeout:.0f} s")

    def reckon(self, postfix: PrivatePostfix) -> None:
        report = self.report
        report.messages_sent = self.config.messages
        report.accepted_by_postfix = len(self.accepted)
        report.postfix_deferred = postfix.count_deferred()
        self._reckon_summary()
        self._reckon_maildir()
        self._reckon_pipe()
        report.dead_lettered = _dead_letters(self.spool)
        report.smtp_replies = dict(self.replies)
        report.retries_logged = sum(o.read_text().count("retrying in") for o in self.outputs)
        # each TEMPFAIL for a full spool is logged by mailspy: those 4xx were owed
        full = sum(o.read_text().count("answered TEMPFAIL") for o in self.outputs)
        report.temporary_because_of_full_spool = min(full, report.deferred_by_running_mailspy)
        report.deferred_by_running_mailspy -= report.temporary_because_of_full_spool
        eom = [line for line in self.outputs[-1].read_text().splitlines()
               if "end-of-message answered" in line]
        report.eom_after_restart = eom[-1].split("INFO: ", 1)[-1] if eom else ""
        ordered = sorted(self.data_times)
        if ordered:
            report.data_reply_ms = {
                "p50": round(statistics.median(ordered) * 1000, 2),
                "p99": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
                "max": round(ordered[-1] * 1000, 2)}

    def _reckon_summary(self) -> None:
        lines = self.summary.read_text(errors="replace").splitlines()
        self.report.summary_lines = len(lines)
        self.report.summary_corrupted = sum(1 for ln in lines if not SUMMARY_LINE.fullmatch(ln))
        seen = Counter(int(m.group(1)) for ln in lines
                       if (m := re.search(r"\tsubject=load (\d+)", ln)))
        # mailspy saw these twice: two summary lines, or a message spooled just before
        # the kill whose answer (and log line) never came, resent by its client
        self.resent = {i for i, n in seen.items() if n > 1} | self.refused_at_kill
        self.report.summary_missing = len(self.accepted - set(seen))
        self.report.summary_extra = sum(seen.values()) - len(set(seen) & self.accepted)

    def _reckon_maildir(self) -> None:
        folder = self.disk / "archive"
        ids = Counter(m["Message-Id"] for m in mailbox.Maildir(folder, create=False)) \
            if (folder / "new").exists() else Counter()
        wanted = {f"<load-{i}@mailspy.test>" for i in self.accepted}
        self.report.maildir_copies = sum(ids.values())
        self.report.maildir_lost = len(wanted - set(ids))
        self.report.maildir_duplicated = sum(n - 1 for i, n in ids.items() if i in wanted and n > 1)
        resent = {f"<load-{i}@mailspy.test>" for i in self.resent}
        self.report.maildir_duplicated_resent = sum(n - 1 for i, n in ids.items()
                                                    if i in resent and n > 1)

    def _reckon_pipe(self) -> None:
        runs = Counter(line.split(":", 1)[-1].strip()
                       for line in (self.runs.read_text().splitlines() if self.runs.exists()
                                    else []))
        wanted = {f"<load-{i}@mailspy.test>" for i in self.accepted}
        self.report.pipe_runs = sum(runs.values())
        self.report.pipe_lost = len(wanted - set(runs))
        self.report.pipe_twice = sum(n - 1 for n in runs.values() if n > 1)


def run_load(config: LoadConfig, base: Path | None = None) -> LoadReport:
    base = base or public_tmpdir("mailspy-load-")
    with contextlib.ExitStack() as stack:
        if config.spool_full:
            stack.enter_context(small_disk(base / "spool", "64m"))
        return _run_load(config, base)


@contextlib.contextmanager
def small_disk(where: Path, size: str):
    """A tmpfs mounted at `where` for the run (root only), unmounted after."""
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "mailspy-load",
                    str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def _run_load(config: LoadConfig, base: Path) -> LoadReport:
    run = Run(config, base)
    started = time.monotonic()
    run.start_mailspy()
    postfix = PrivatePostfix(f"inet:127.0.0.1:{run.port}",
                             main_cf={"smtpd_client_connection_count_limit": "0",
                                      "smtpd_client_message_rate_limit": "0",
                                      "default_process_limit": "200"})
    try:
        postfix.start()
        run.open_flood()
        run.send_all(postfix)
        run.close_flood()
        drain = 120 + config.messages * config.pipe_sleep / max(1, config.per_target) * 2
        run.wait_for_copies(drain)
        assert run.milter is not None
        run.milter.stop(timeout=30)
        run.report.seconds = round(time.monotonic() - started, 1)
        run.reckon(postfix)
    finally:
        run.close_flood()
        postfix.stop()
        if run.milter is not None:
            run.milter.stop()
    return run.report


def _dead_letters(spool: Path) -> list[str]:
    store = Spool(spool)
    found = []
    for entry_id in store.ids(DEAD_DIR):
        meta = read_meta(store.path(entry_id, DEAD_DIR))
        found += [f"{entry_id}: {j.action} {j.last_error}" for j in meta.jobs
                  if j.state == "dead"]
    return found


def _connect(port: int) -> smtplib.SMTP:
    client = smtplib.SMTP("127.0.0.1", port, timeout=60)
    client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.ehlo("load.test")
    return client


def _quietly(action) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        action()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--sessions", type=int, default=16)
    parser.add_argument("--pipe-sleep", type=float, default=10.0)
    parser.add_argument("--workers", type=int, default=64)
    parser.add_argument("--no-kill", action="store_true")
    parser.add_argument("--spool-full", type=float, default=0.0, metavar="SECONDS",
                        help="fill the spool's disk (a tmpfs) for this long, from 30 %%")
    parser.add_argument("--flood", type=int, default=0, metavar="N",
                        help="hold N idle connections to the milter socket, mailspy "
                        "started with a soft limit of 1,024 descriptors")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    config = LoadConfig(messages=args.messages, sessions=args.sessions,
                        pipe_sleep=args.pipe_sleep, workers=args.workers,
                        per_target=args.workers, kill_at=None if args.no_kill else 0.5,
                        outage=(0.2, max(4.0, 3 * args.pipe_sleep)),
                        spool_full=(0.3, args.spool_full) if args.spool_full else None,
                        flood=args.flood)
    base = public_tmpdir("mailspy-load-")
    try:
        report = run_load(config, base)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(asdict(report), indent=1))
    problems = report.problems()
    print("invariants kept" if not problems else "BROKEN: " + "; ".join(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
