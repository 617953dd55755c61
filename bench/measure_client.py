"""Measures that drive the milters directly with bench.milterclient: throughput against
the null milter, end-of-message latency behind a sleeping pipe, memory for a huge message.

Why a client of our own rather than Postfix here: it costs little enough that the milter,
not the MTA, is what is measured, and it can time one protocol step (end-of-message)
exactly.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.corpus import huge_mail
from bench.daemons import (
    address,
    cpu_seconds,
    kill,
    memory_kib,
    reset_peak,
    start_mailspy,
)
from bench.milterclient import (
    SMFIR_ACCEPT,
    SMFIR_CONTINUE,
    Mail,
    Reply,
    body_chunks,
    deliver,
)
from bench.report import Row, Target, rate, ratio
from bench.sizes import Sizes
from tests.e2e.postfix import MilterProcess

Progress = Callable[[str], None]
ACCEPTED = (SMFIR_ACCEPT, SMFIR_CONTINUE)


class BenchError(RuntimeError):
    """A milter did not behave (refused mail, lost a record): the figures would lie."""


def _check(reply: Reply, what: str) -> None:
    if reply.code not in ACCEPTED:
        raise BenchError(f"{what} answered {reply.code!r} {reply.data[:80]!r}")


def summary_lines(workdir: Path) -> int:
    path = workdir / "summary.log"
    if not path.exists():
        return 0
    with path.open("rb") as log:
        return sum(1 for _ in log)


Target_ = tuple[str, int] | str
WARM_UP = 20  # messages each milter gets before anything is timed


def client_rate(targets: Sequence[Target_], corpus: Sequence[Mail], count: int,
                concurrency: int) -> float:
    """Messages per second for `count` messages, each on its own connection (as Postfix
    opens one per SMTP session), `concurrency` connections at a time; with several
    milters, message n goes to the n-th in turn (as MTAs spread their sessions)."""
    lock = threading.Lock()
    numbers = iter(range(count))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            while True:
                with lock:
                    number = next(numbers, None)
                if number is None:
                    return
                reply, _ = deliver(targets[number % len(targets)],
                                   corpus[number % len(corpus)])
                _check(reply, "end-of-message")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, name=f"bench-client-{n}")
               for n in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise errors[0]
    return count / elapsed


@dataclass
class Runs:
    """Rates and milter CPU per message, by (milter, connections at a time), one value
    per repetition; shown as the median and the range."""

    rates: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    cpu: dict[tuple[str, int], list[float]] = field(default_factory=dict)

    def add(self, name: str, concurrency: int, rate_value: float, cpu_us: float) -> None:
        self.rates.setdefault((name, concurrency), []).append(rate_value)
        self.cpu.setdefault((name, concurrency), []).append(cpu_us)

    def rate(self, name: str, concurrency: int) -> float:
        return statistics.median(self.rates[name, concurrency])

    def cpu_us(self, name: str, concurrency: int) -> float:
        return statistics.median(self.cpu[name, concurrency])

    def cell(self, name: str, concurrency: int) -> str:
        rates, cpu = self.rates[name, concurrency], self.cpu[name, concurrency]
        return (f"{rate(statistics.median(rates))} ({min(rates):,.0f}-{max(rates):,.0f}); "
                f"milter CPU {statistics.median(cpu):,.0f} µs/msg "
                f"({min(cpu):,.0f}-{max(cpu):,.0f})")

    def cpu_cell(self, name: str, concurrency: int) -> str:
        cpu = self.cpu[name, concurrency]
        return (f"{statistics.median(cpu):,.0f} µs/msg ({min(cpu):,.0f}-{max(cpu):,.0f}, "
                f"{len(cpu)} runs)")


def measure_runs(milters: Mapping[str, MilterProcess], plan: Sequence[tuple[int, int,
                 Sequence[str]]], corpus: Sequence[Mail], reps: int,
                 progress: Progress) -> Runs:
    """Each repetition runs every (connections, messages, milters) of the plan on every
    milter named, in turns, the order alternating by repetition, so that a noisy
    neighbour hurts all alike; the milter process's CPU time (user + system, all
    threads) is read around each run."""
    runs = Runs()
    for milter in milters.values():  # warm up: threads, caches, the log file
        client_rate([address(milter)], corpus, WARM_UP, 2)
    for rep in range(reps):
        for concurrency, count, names in plan:
            order = list(names) if rep % 2 == 0 else list(reversed(names))
            for name in order:
                pid = milters[name].pid
                assert pid is not None
                used = cpu_seconds(pid)
                value = client_rate([address(milters[name])], corpus, count, concurrency)
                runs.add(name, concurrency, value, (cpu_seconds(pid) - used) / count * 1e6)
                progress(f"milter client, {concurrency} conn., rep {rep + 1}: "
                         f"{name} {value:,.0f} msg/s, CPU {runs.cpu[name, concurrency][-1]:,.0f}"
                         " µs/msg")
    return runs


def throughput_rows(milters: Mapping[str, MilterProcess], logs: Mapping[str, Path],
                    corpus: Sequence[Mail], sizes: Sizes, progress: Progress) -> list[Row]:
    """The milter-level rows, on mail as a server sees it (bench/corpus.py): the null
    milter, the listening milter, mailspy with the rules (`mailspy`) and in the original
    usage (`original`), over TCP; `listening-unix` and `original-unix` on unix sockets.
    `logs` are the mailspy daemons' folders: every message must have its summary line."""
    four, one = sizes.client_concurrency, 1
    tcp = ("null", "listening", "mailspy", "original")
    plan = ((four, sizes.client_messages, tcp),
            (four, sizes.client_messages, ("listening-unix", "original-unix")),
            (one, sizes.client_single_messages, ("null", "mailspy")))
    before = {name: summary_lines(path) for name, path in logs.items()}
    runs = measure_runs(milters, plan, corpus, sizes.reps, progress)
    for name, path in logs.items():
        expected = WARM_UP + sum(sizes.reps * count for concurrency, count, names in plan
                                 if name in names)
        if summary_lines(path) - before[name] != expected:
            raise BenchError(f"mailspy ({name}) logged {summary_lines(path) - before[name]} "
                             f"summary lines for {expected} messages")
    rules = f"{sizes.daemon_rules:,} rules, log-summary"
    where = f"{four} connections at a time, TCP, mail as a server sees it"
    rows = [
        Row("O4", f"milter client, {where}: mailspy in the original usage (no rules files, "
            "`-f` alone) ÷ a pymilter milter that receives every step mailspy needs and "
            "does nothing (bench/listening_milter.py)", runs.cell("original", four),
            runs.cell("listening", four),
            ratio(runs.rate("original", four), runs.rate("listening", four)),
            Target("≥", 0.85)),
        Row(f"L{four}", f"milter client, {where}: mailspy ({rules}) ÷ the same listening "
            "milter", runs.cell("mailspy", four), runs.cell("listening", four),
            ratio(runs.rate("mailspy", four), runs.rate("listening", four)),
            Target("≥", 0.75)),
        Row(f"C{four}", f"milter client, {where}: mailspy ({rules}) ÷ null pymilter milter",
            runs.cell("mailspy", four), runs.cell("null", four),
            ratio(runs.rate("mailspy", four), runs.rate("null", four)), Target("≥", 0.65)),
        Row("CPU0", f"milter CPU time per message, {where}: mailspy in the original usage",
            runs.cpu_cell("original", four),
            "listening milter: " + runs.cpu_cell("listening", four),
            runs.cpu_us("original", four), Target("≤", 400, " µs")),
        Row("CPU1K", f"milter CPU time per message, {where}: mailspy ({rules})",
            runs.cpu_cell("mailspy", four), "listening milter: " +
            runs.cpu_cell("listening", four), runs.cpu_us("mailspy", four),
            Target("≤", 500, " µs")),
        Row("C1", f"milter client, 1 connection at a time, TCP, the same mail: mailspy "
            f"({rules}) ÷ null pymilter milter", runs.cell("mailspy", one),
            runs.cell("null", one), ratio(runs.rate("mailspy", one), runs.rate("null", one))),
        Row("U4", f"milter client, {four} connections at a time, unix sockets, the same mail: "
            "mailspy in the original usage (only end-of-message answered) ÷ the listening "
            "milter (every step answered but headers)", runs.cell("original-unix", four),
            runs.cell("listening-unix", four),
            ratio(runs.rate("original-unix", four), runs.rate("listening-unix", four))),
    ]
    return rows


def _percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile: the value below which `fraction` of the values lie."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


def _latencies(target: tuple[str, int], mails: Sequence[Mail]) -> list[float]:
    """End-of-message times in ms, one message after the other."""
    result = []
    for mail in mails:
        reply, seconds = deliver(target, mail)
        _check(reply, "end-of-message")
        result.append(seconds * 1000)
    return result


def _describe(values: Sequence[float]) -> str:
    return (f"p50 {statistics.median(values):.2f} / p99 {_percentile(values, 0.99):.2f} / "
            f"max {max(values):.2f} ms")


def sleeper(workdir: Path, seconds: float) -> tuple[Path, Path]:
    """A pipe command that reads the message, notes that it started, then sleeps."""
    started = workdir / "pipe-started.txt"
    script = workdir / "sleep-pipe.sh"
    script.write_text(f'#!/bin/sh\ncat >/dev/null\necho "$MAILSPY_QUEUE_ID" >> {started}\n'
                      f"exec sleep {seconds:g}\n")
    script.chmod(0o755)
    return script, started


def eom_rows(workdir: Path, corpus: Sequence[Mail], sizes: Sizes,
             progress: Progress) -> list[Row]:
    """One mailspy whose pipe rule matches mail to pipe@corp1.example: first messages
    that no pipe wants (the baseline), then the same messages sent to that address: each
    is spooled (fsync'd) before its answer, the copy workers are soon all busy with
    sleeping pipes, and the rest wait in the spool."""
    base = workdir / "eom"
    rules_dir = base / "rules.d"
    rules_dir.mkdir(parents=True)
    script, started = sleeper(base, sizes.pipe_sleep)
    (rules_dir / "50-pipe.rules").write_text(
        'rule "slow-pipe" {\n    when recipient is "pipe@corp1.example"\n'
        f'    pipe-to-command "{script}"\n}}\n'
        'rule "everything" {\n    log-summary\n}\n')
    mails = [corpus[n % len(corpus)] for n in range(sizes.eom_messages)]
    milter = start_mailspy(rules_dir, base)
    try:
        _latencies(address(milter), mails[:10])  # warm up
        plain = _latencies(address(milter), mails)
        progress(f"end-of-message without a pipe: {_describe(plain)}")
        piped_mails = [replace(m, recipients=("pipe@corp1.example",)) for m in mails]
        piped = _latencies(address(milter), piped_mails)
        progress(f"end-of-message while pipes sleep: {_describe(piped)}")
        _wait_for_pipes(started)
    finally:
        kill(milter)  # SIGTERM would wait for every queued pipe: minutes
    label = (f"end-of-message answer while each message's pipe-to-command sleeps "
             f"{sizes.pipe_sleep:g} s ({sizes.eom_messages} messages, one at a time)")
    return [Row("E", label, _describe(piped), "no pipe: " + _describe(plain),
                _percentile(piped, 0.99), Target("<", 5, " ms"))]


def _wait_for_pipes(started: Path, timeout: float = 10.0) -> None:
    """Prove the pipes really ran (each notes its start): otherwise nothing was slow."""
    deadline = time.monotonic() + timeout
    while not started.exists() or not started.read_text().split():
        if time.monotonic() > deadline:
            raise BenchError("the pipe commands never started: the latency is meaningless")
        time.sleep(0.05)


MB = 1_000_000


def memory_row(mailspy: MilterProcess, mailspy_dir: Path, corpus: Sequence[Mail],
               sizes: Sizes, progress: Progress) -> Row:
    """Peak RSS of the running daemon while one huge message passes, over its RSS just
    before; the peak is reset first where the kernel allows it (clear_refs)."""
    assert mailspy.pid is not None
    target = address(mailspy)
    for mail in corpus[:10]:
        _check(deliver(target, mail)[0], "warm-up")
    resettable = reset_peak(mailspy.pid)
    before = memory_kib(mailspy.pid)
    began = time.perf_counter()
    mail = huge_mail(sizes.huge_bytes)
    reply, _ = deliver(target, mail, timeout=600)
    elapsed = time.perf_counter() - began
    _check(reply, "end-of-message of the huge message")
    after = memory_kib(mailspy.pid)
    _check_huge_logged(mailspy_dir, mail)
    growth = (after["VmHWM"] - before["VmRSS"]) * 1024 / MB
    progress(f"huge message: {sizes.huge_bytes / MB:g} MB in {elapsed:.1f} s, peak RSS "
             f"+{growth:.1f} MB")
    how = "VmHWM reset before" if resettable else "VmHWM not resettable: peak since start"
    label = (f"peak RSS growth of the daemon while one {sizes.huge_bytes / MB:g} MB message "
             f"(one base64 attachment) passes, {sizes.daemon_rules:,} rules")
    return Row("M", label,
               f"peak {after['VmHWM'] * 1024 / MB:.1f} MB ({how}); passed in {elapsed:.1f} s",
               f"RSS before {before['VmRSS'] * 1024 / MB:.1f} MB", growth,
               Target("<", 40, " MB"))


def _check_huge_logged(mailspy_dir: Path, mail: Mail) -> None:
    """The huge message's summary line names its attachment and its whole size: proof
    that it really passed through and that the MIME walk reached the attachment."""
    size = sum(len(chunk) for chunk in body_chunks(mail.body))
    with (mailspy_dir / "summary.log").open(errors="replace") as log:
        lines = [line for line in log if "file=dump.bin" in line]
    if not lines or f"\tsize={size}\t" not in lines[-1]:
        raise BenchError(f"no summary line with file=dump.bin and size={size}: {lines[-1:]}")
