"""End to end: Postfix's smtp-source -> a private Postfix -> milter -> discard.

Why: this is the rate a site sees. Three private Postfix instances run side by side,
identical but for their milter (none, the null milter, mailspy), built by the e2e
harness (tests/e2e/postfix.py). Each repetition runs every session count on every
instance in turn, the order alternating, and waits until every message is delivered
before the next run, so that one run's queue does not slow the next.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from pathlib import Path

from bench.measure_client import BenchError, summary_lines
from bench.report import Row, Target, rate, ratio
from bench.sizes import Sizes
from tests.e2e.postfix import MilterProcess, PrivatePostfix

Progress = Callable[[str], None]
NAGLE_SUSPECT = 50.0  # msg/s: one session stalled 40 ms per message runs at about 23


class Instances:
    """The three Postfix instances, each remembering how much it was sent."""

    def __init__(self, null: MilterProcess, mailspy: MilterProcess) -> None:
        self.postfix = {
            "no milter": PrivatePostfix(None),
            "null": PrivatePostfix(null.postfix_spec),
            "mailspy": PrivatePostfix(mailspy.postfix_spec),
        }
        self.sent = dict.fromkeys(self.postfix, 0)

    def start(self) -> None:
        for instance in self.postfix.values():
            instance.start()

    def stop(self) -> None:
        for instance in self.postfix.values():
            instance.stop()

    def run(self, name: str, messages: int, sessions: int, size: int) -> float:
        """smtp-source's submission rate; returns once all of it is delivered."""
        instance = self.postfix[name]
        elapsed = instance.smtp_source(messages, sessions, size)
        self.sent[name] += messages
        instance.wait_for(self.sent[name], timeout=120 + messages / 10)
        trouble = instance.milter_trouble()
        if trouble:
            raise BenchError(f"Postfix with {name}: milter trouble:\n" + "\n".join(trouble[:10]))
        return messages / elapsed


def postfix_rows(mailspy: MilterProcess, null: MilterProcess, mailspy_dir: Path,
                 sizes: Sizes, progress: Progress) -> list[Row]:
    instances = Instances(null, mailspy)
    names = list(instances.postfix)
    rates: dict[tuple[str, int], list[float]] = {
        (n, s): [] for n in names for s in sizes.postfix_sessions}
    try:
        instances.start()
        before = summary_lines(mailspy_dir)
        for name in names:  # warm up: smtpd and cleanup processes, the milter's threads
            instances.run(name, 20, 4, sizes.message_size)
        for rep in range(sizes.reps):
            order = names if rep % 2 == 0 else list(reversed(names))
            for sessions in sizes.postfix_sessions:
                count = sizes.postfix_single_messages if sessions == 1 else \
                    sizes.postfix_messages
                for name in order:
                    value = instances.run(name, count, sessions, sizes.message_size)
                    rates[name, sessions].append(value)
                    progress(f"postfix, {sessions} sessions, rep {rep + 1}: "
                             f"{name} {value:,.0f} msg/s")
        recorded = summary_lines(mailspy_dir) - before
        if recorded != instances.sent["mailspy"]:
            raise BenchError(f"mailspy logged {recorded} summary lines for "
                             f"{instances.sent['mailspy']} messages through Postfix")
    finally:
        instances.stop()
    return _rows(rates, sizes)


def _rows(rates: dict[tuple[str, int], list[float]], sizes: Sizes) -> list[Row]:
    def median(name: str, sessions: int) -> float:
        return statistics.median(rates[name, sessions])

    rows: list[Row] = []
    what = f"mailspy ({sizes.daemon_rules:,} rules, log-summary)"
    for sessions in sizes.postfix_sessions:
        ours, null = median("mailspy", sessions), median("null", sessions)
        if sessions == 1:
            note = "Nagle stall?" if ours < NAGLE_SUSPECT else "context (no Nagle stall)"
            rows.append(Row("P1", f"Postfix + smtp-source, 1 session, TCP: {what} ÷ null "
                            "pymilter milter (about 23 msg/s would mean the 40 ms Nagle "
                            "stall)", rate(ours), rate(null), ratio(ours, null), None, note))
        else:
            rows.append(Row(f"P{sessions}", f"Postfix + smtp-source, {sessions} sessions: "
                            f"{what} ÷ null pymilter milter", rate(ours), rate(null),
                            ratio(ours, null), Target("≥", 0.95)))
    for sessions in sizes.postfix_sessions:
        ours, bare = median("mailspy", sessions), median("no milter", sessions)
        plural = "s" if sessions > 1 else ""
        null = median("null", sessions)
        rows.append(Row(f"N{sessions}", f"the same Postfix with no milter at all, "
                        f"{sessions} session{plural}: {what} ÷ no milter (the null pymilter "
                        f"milter's own: {ratio(null, bare):.2f})", rate(ours), rate(bare),
                        ratio(ours, bare), Target("≥", 0.58) if sessions == 16 else None))
    return rows
