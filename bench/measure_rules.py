"""Measures of the rules engine alone: evaluation time per message as the rule count
grows (in-process, no milter in the way), and `mailspy check-rules` wall time.

Why in-process for evaluation: the question is how the cost grows with the rules, which
a daemon's protocol and thread overhead would blur. check-rules, on the other hand, is
timed as the postmaster runs it, interpreter start-up included.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.milterclient import Mail
from bench.report import Row, Target, ratio
from bench.rulegen import write_rules
from bench.sizes import Sizes
from mailspy.evaluate import evaluate
from mailspy.message.model import Envelope
from mailspy.message.parse import message_from_bytes
from mailspy.rules.compile import RuleSet
from mailspy.rules.load import load_rules

Progress = Callable[[str], None]


def _load(directory: Path) -> RuleSet:
    result = load_rules(directory)
    if not result.ok:
        raise RuntimeError(f"generated rules are invalid: {result.errors[:3]}")
    return result.rules


def _envelope(mail: Mail) -> Envelope:
    return Envelope(mail_from=f"<{mail.sender}>", rcpt_to=[f"<{r}>" for r in mail.recipients])


def seconds_per_message(rules: RuleSet, raw: Sequence[tuple[bytes, Mail]]) -> float:
    """Mean evaluate() time over fresh messages: a parsed Message caches its subject and
    attachments, so each pass parses anew, outside the timed loop."""
    messages = [message_from_bytes(data, _envelope(mail)) for data, mail in raw]
    try:
        began = time.perf_counter()
        for message in messages:
            evaluate(rules, message)
        return (time.perf_counter() - began) / len(messages)
    finally:
        for message in messages:
            if message.body is not None:
                message.body.close()


def evaluation_row(workdir: Path, corpus: Sequence[Mail], sizes: Sizes,
                   progress: Progress) -> Row:
    small = _load(write_rules(workdir / "rules-eval-small", sizes.eval_small))
    large = _load(write_rules(workdir / "rules-eval-large", sizes.eval_large))
    raw = [(mail.as_bytes(), mail) for mail in corpus[:sizes.eval_messages]]
    seconds_per_message(small, raw)  # warm up: imports, regex caches
    times: dict[str, list[float]] = {"small": [], "large": []}
    for rep in range(sizes.reps):
        for name, rules in (("small", small), ("large", large)):
            times[name].append(seconds_per_message(rules, raw))
        progress(f"rule evaluation, rep {rep + 1}: {times['large'][-1] * 1e6:,.0f} µs "
                 f"({sizes.eval_large:,} rules) vs {times['small'][-1] * 1e6:,.0f} µs "
                 f"({sizes.eval_small:,})")
    large_us = statistics.median(times["large"]) * 1e6
    small_us = statistics.median(times["small"]) * 1e6
    label = (f"rule evaluation time per message, in-process, {sizes.eval_large:,} rules ÷ "
             f"{sizes.eval_small:,} rules (all four fields; {len(raw)} messages)")
    return Row("R", label, f"{large_us:,.0f} µs ({sizes.eval_large:,} rules)",
               f"{small_us:,.0f} µs ({sizes.eval_small:,} rules)", ratio(large_us, small_us),
               Target("≤", 3))


def check_rules_seconds(directory: Path, expected: int, reps: int) -> float:
    """Best wall time of `mailspy check-rules -d DIR` over `reps` runs."""
    best = float("inf")
    argv = [sys.executable, "-m", "mailspy", "check-rules", "--offline", "-d",
            str(directory)]
    for _ in range(reps):
        began = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True, check=False)
        best = min(best, time.perf_counter() - began)
        if result.returncode != 0 or f"{expected} rules" not in result.stdout:
            raise RuntimeError(f"check-rules failed: {result.stdout}{result.stderr[-2000:]}")
    return best


def check_rules_row(workdir: Path, sizes: Sizes, progress: Progress) -> Row:
    reps = max(sizes.reps, 3)
    large = check_rules_seconds(
        write_rules(workdir / "rules-check-large", sizes.check_rules), sizes.check_rules, reps)
    small = check_rules_seconds(
        write_rules(workdir / "rules-check-small", sizes.check_small), sizes.check_small, reps)
    progress(f"check-rules: {large:.2f} s ({sizes.check_rules:,} rules), "
             f"{small:.2f} s ({sizes.check_small:,})")
    return Row("K", f"mailspy check-rules on {sizes.check_rules:,} rules (wall time, best of "
               f"{reps})", f"{large:.2f} s", f"{sizes.check_small:,} rules: {small:.2f} s",
               large, Target("<", 2, " s"))
