"""End to end through sendmail: smtp-source -> a private sendmail -> milter -> a file.

Why: the original mailspy was a sendmail milter and most sites migrating from it run
sendmail, whose milter client is not Postfix's. Private sendmail instances run side by
side (tests/e2e/sendmail.py), identical but for their milter (INPUT_MAIL_FILTER with
F=T, so that a milter failure shows); each delivers every message into a file, as a
local mailer would. The same stream of messages goes through each in turn, the order
alternating, and each run waits until every message is delivered before the next.

Two rows: S4, mailspy ÷ the null milter, both on a unix socket (the original's hookup,
and the one docs/install.md puts first); T4, mailspy on TCP ÷ mailspy on a unix socket,
what a TCP hookup costs behind this sendmail.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.daemons import mailspy_argv
from bench.measure_client import BenchError, summary_lines
from bench.report import Row, rate, ratio
from bench.sizes import Sizes
from tests.e2e.postfix import MilterProcess, find_tool, null_milter_argv
from tests.e2e.sendmail import PrivateSendmail

Progress = Callable[[str], None]


def socket_folder() -> Path:
    """A 0755 folder under /run: sendmail refuses a unix socket below /tmp ("unsafe")."""
    path = Path(tempfile.mkdtemp(prefix="mailspy-bench-", dir="/run"))
    path.chmod(0o755)
    return path


def start_unix_milters(rules_dir: Path, sockets: Path, workdir: Path
                       ) -> tuple[MilterProcess, MilterProcess]:
    """The null milter and mailspy (same rules as the TCP one), each on a unix socket."""
    null_path, mailspy_path = sockets / "null.sock", sockets / "mailspy.sock"
    null = MilterProcess(null_milter_argv(f"local:{null_path}"), socket_path=null_path,
                         output=workdir / "null-unix.out").start()
    argv = mailspy_argv(0, rules_dir, workdir)
    argv[argv.index("-p") + 1] = f"local:{mailspy_path}"
    mailspy = MilterProcess(argv, socket_path=mailspy_path, output=workdir / "mailspy.out")
    try:
        mailspy.start(timeout=60)
    except Exception:
        null.stop()
        raise
    return null, mailspy


class Instances:
    """One sendmail per milter, each remembering how many deliveries it owes."""

    def __init__(self, milters: dict[str, MilterProcess]) -> None:
        self.sendmail = {name: PrivateSendmail(m.sendmail_spec) for name, m in milters.items()}
        self.sent = dict.fromkeys(self.sendmail, 0)

    def start(self) -> None:
        for instance in self.sendmail.values():
            instance.start()

    def stop(self) -> None:
        for instance in self.sendmail.values():
            instance.stop()

    def run(self, name: str, messages: int, sessions: int, size: int) -> float:
        """smtp-source's submission rate; returns once all of it is delivered."""
        instance = self.sendmail[name]
        elapsed = smtp_source(instance, messages, sessions, size)
        self.sent[name] += messages
        instance.wait_for(self.sent[name], timeout=120 + messages / 5)
        trouble = instance.milter_trouble()
        if trouble or instance.count_tempfails():
            raise BenchError(f"sendmail with {name}: milter trouble:\n" + "\n".join(trouble[:10]))
        return messages / elapsed


def smtp_source(instance: PrivateSendmail, messages: int, sessions: int, size: int) -> float:
    """Postfix's smtp-source against the sendmail's port, the client of the Postfix rows;
    returns the seconds it took to submit."""
    tool = find_tool("smtp-source")
    if tool is None:
        raise BenchError("smtp-source is not installed")
    argv = [tool, "-4", "-s", str(sessions), "-m", str(messages), "-l", str(size),
            "-M", "client.test", "-f", "a@x.test", "-t", "b@y.test",
            f"127.0.0.1:{instance.smtp_port}"]
    began = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL, check=False)
    elapsed = time.perf_counter() - began
    if done.returncode != 0 or done.stderr.strip():
        raise BenchError(f"smtp-source exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed


def sendmail_rows(mailspy_tcp: MilterProcess, tcp_dir: Path, rules_dir: Path, workdir: Path,
                  sizes: Sizes, progress: Progress) -> list[Row]:
    sockets = socket_folder()
    unix_dir = workdir / "mailspy-unix"
    unix_dir.mkdir(parents=True, exist_ok=True)
    milters: list[MilterProcess] = []
    instances: Instances | None = None
    try:
        milters += start_unix_milters(rules_dir, sockets, unix_dir)
        null, mailspy_unix = milters
        instances = Instances({"null": null, "mailspy": mailspy_unix,
                               "mailspy over TCP": mailspy_tcp})
        rates = _measure(instances, sizes, progress, {"mailspy": unix_dir,
                                                      "mailspy over TCP": tcp_dir})
    finally:
        if instances is not None:
            instances.stop()
        for milter in reversed(milters):
            milter.stop()
        shutil.rmtree(sockets, ignore_errors=True)
    return _rows(rates, sizes)


def _measure(instances: Instances, sizes: Sizes, progress: Progress,
             logs: dict[str, Path]) -> dict[str, list[float]]:
    names = list(instances.sendmail)
    sessions = sizes.sendmail_sessions
    rates: dict[str, list[float]] = {name: [] for name in names}
    instances.start()
    before = {name: summary_lines(folder) for name, folder in logs.items()}
    for name in names:  # warm up: the milters' threads, the page cache
        instances.run(name, max(2, sizes.sendmail_messages // 10), sessions,
                      sizes.message_size)
    for rep in range(sizes.reps):
        order = names if rep % 2 == 0 else list(reversed(names))
        for name in order:
            value = instances.run(name, sizes.sendmail_messages, sessions, sizes.message_size)
            rates[name].append(value)
            progress(f"sendmail, {sessions} sessions, rep {rep + 1}: {name} {value:,.0f} msg/s")
    for name, folder in logs.items():
        recorded = summary_lines(folder) - before[name]
        if recorded != instances.sent[name]:
            raise BenchError(f"{name} logged {recorded} summary lines for "
                             f"{instances.sent[name]} messages through sendmail")
    return rates


def _rows(rates: dict[str, list[float]], sizes: Sizes) -> list[Row]:
    def median(name: str) -> float:
        return statistics.median(rates[name])

    sessions = sizes.sendmail_sessions
    what = f"mailspy ({sizes.daemon_rules:,} rules, log-summary)"
    unix, null, tcp = median("mailspy"), median("null"), median("mailspy over TCP")
    return [
        Row(f"S{sessions}", f"sendmail 8.17 + smtp-source, {sessions} sessions, unix socket "
            f"(S=local:, F=T): {what} ÷ null pymilter milter", rate(unix), rate(null),
            ratio(unix, null)),
        Row(f"T{sessions}", f"the same sendmail, {sessions} sessions: {what} on TCP "
            "(S=inet:) ÷ on a unix socket", rate(tcp), rate(unix), ratio(tcp, unix)),
    ]
