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
from collections.abc import Callable, Sequence
from dataclasses import replace
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


def client_rate(target: tuple[str, int], corpus: Sequence[Mail], count: int,
                concurrency: int) -> float:
    """Messages per second for `count` messages, each on its own connection (as Postfix
    opens one per SMTP session), `concurrency` connections at a time."""
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
                reply, _ = deliver(target, corpus[number % len(corpus)])
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


def throughput_rows(mailspy: MilterProcess, null: MilterProcess, listening: MilterProcess,
                    mailspy_dir: Path, corpus: Sequence[Mail], sizes: Sizes,
                    progress: Progress) -> list[Row]:
    """Null milter, listening milter and mailspy in turns (the order alternates by
    repetition), so that a noisy neighbour hurts all; the median repetition is reported."""
    milters = {"null": null, "listening": listening, "mailspy": mailspy}
    runs = ((sizes.client_concurrency, sizes.client_messages),
            (1, sizes.client_single_messages))
    rates: dict[tuple[str, int], list[float]] = {(n, c): [] for n in milters for c, _ in runs}
    cpu: dict[tuple[str, int], list[float]] = {key: [] for key in rates}
    for milter in milters.values():  # warm up: threads, caches, the log file
        client_rate(address(milter), corpus, 20, 2)
    before = summary_lines(mailspy_dir)
    for rep in range(sizes.reps):
        order = list(milters) if rep % 2 == 0 else list(reversed(milters))
        for concurrency, count in runs:
            for name in order:
                pid = milters[name].pid
                assert pid is not None
                used = cpu_seconds(pid)
                value = client_rate(address(milters[name]), corpus, count, concurrency)
                cpu[name, concurrency].append((cpu_seconds(pid) - used) / count * 1e6)
                rates[name, concurrency].append(value)
                progress(f"milter client, {concurrency} conn., rep {rep + 1}: "
                         f"{name} {value:,.0f} msg/s")
    recorded = summary_lines(mailspy_dir) - before
    expected = sizes.reps * sum(count for _, count in runs)
    if recorded != expected:
        raise BenchError(f"mailspy logged {recorded} summary lines for {expected} messages")
    rows = []
    for concurrency, _ in runs:
        ours = statistics.median(rates["mailspy", concurrency])
        base = statistics.median(rates["null", concurrency])
        label = (f"milter client, {concurrency} connection{'s' if concurrency > 1 else ''} "
                 f"at a time, TCP: mailspy ({sizes.daemon_rules:,} rules, log-summary) "
                 "÷ null pymilter milter")
        target = Target("≥", 0.80) if concurrency > 1 else None
        ours_cpu = statistics.median(cpu["mailspy", concurrency])
        base_cpu = statistics.median(cpu["null", concurrency])
        rows.append(Row(f"C{concurrency}", label,
                        f"{rate(ours)}; milter CPU {ours_cpu:,.0f} µs/msg",
                        f"{rate(base)}; milter CPU {base_cpu:,.0f} µs/msg",
                        ratio(ours, base), target))
    concurrency = sizes.client_concurrency
    ours = statistics.median(rates["mailspy", concurrency])
    base = statistics.median(rates["listening", concurrency])
    rows.append(Row(
        f"L{concurrency}",
        f"milter client, {concurrency} connections at a time, TCP: mailspy ÷ a pymilter "
        "milter that receives every step mailspy needs (recipients, headers, body) and "
        "does nothing (bench/listening_milter.py)",
        f"{rate(ours)}; milter CPU {statistics.median(cpu['mailspy', concurrency]):,.0f} "
        "µs/msg",
        f"{rate(base)}; milter CPU {statistics.median(cpu['listening', concurrency]):,.0f} "
        "µs/msg",
        ratio(ours, base), None))
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
