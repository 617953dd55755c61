"""End-of-message while a large rule set reloads (SIGHUP).

Why: a reload parses, checks and compiles every rule in the daemon's own process, while
libmilter's threads answer the MTA. Python runs one thread at a time, so the answer to a
message waits while the reload holds the interpreter; this row says how long, as the
99th percentile of end-of-message answers during the reload against the same messages
with no reload running.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.daemons import address, start_mailspy
from bench.measure_client import _check, _describe, _percentile
from bench.milterclient import Mail, deliver
from bench.report import Row
from bench.rulegen import write_rules
from bench.sizes import Sizes

Progress = Callable[[str], None]


def reload_row(workdir: Path, corpus: Sequence[Mail], sizes: Sizes,
               progress: Progress) -> Row:
    base = workdir / "reload"
    rules_dir = write_rules(base / "rules.d", sizes.reload_rules)
    milter = start_mailspy(rules_dir, base, timeout=600)
    try:
        target = address(milter)
        quiet = _answers(target, corpus, lambda n: n >= len(corpus))
        progress(f"end-of-message, no reload: {_describe(quiet)}")
        assert milter.pid is not None
        output = base / "mailspy.out"
        already = output.read_text().count("reloaded:")
        began = time.monotonic()
        os.kill(milter.pid, signal.SIGHUP)
        during = _answers(target, corpus,
                          lambda n: output.read_text().count("reloaded:") > already)
        took = time.monotonic() - began
        progress(f"end-of-message during a {sizes.reload_rules:,}-rule reload "
                 f"({took:.1f} s, {len(during)} messages): {_describe(during)}")
    finally:
        milter.stop(timeout=30)
    return Row("RL", f"end-of-message answer while {sizes.reload_rules:,} rules reload "
               "(SIGHUP), one message at a time: p99 during the reload ÷ p99 without one",
               f"{_describe(during)}; reload {took:.1f} s", "no reload: " + _describe(quiet),
               _percentile(during, 0.99) / _percentile(quiet, 0.99), None)


def _answers(target: tuple[str, int], corpus: Sequence[Mail],
             done: Callable[[int], bool]) -> list[float]:
    """End-of-message times in ms, one message after the other, until `done(count)`."""
    times: list[float] = []
    while not done(len(times)) or len(times) < 5:
        reply, seconds = deliver(target, corpus[len(times) % len(corpus)])
        _check(reply, "end-of-message")
        times.append(seconds * 1000)
    return times
