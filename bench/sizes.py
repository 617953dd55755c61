"""How much work each measure does: the full run behind docs/performance.md, and the
smoke run `make test` uses to prove the benchmark still works (seconds, no thresholds).

The full sizes keep `make bench` near four minutes on two cores: enough messages that a
rate is not dominated by start-up, three interleaved repetitions so a noisy neighbour
hits mailspy and its baseline alike, and medians rather than means.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    daemon_rules: int = 1_000  # rules mailspy runs with for throughput and memory
    client_messages: int = 2_000  # per repetition, milter client, 4 connections at once
    client_single_messages: int = 500  # per repetition, one connection at a time
    client_concurrency: int = 4
    saturation_connections: int = 8  # more than one mailspy process can serve
    real_corpus: int = 2_000  # mail as a server sees it, each message sent once per run:
    # unique boundaries and names, as on a server (a small corpus sent again and again
    # would be served from caches a real server never hits)
    postfix_messages: int = 1_000  # per repetition and session count
    postfix_single_messages: int = 300  # one session: slower, fewer messages
    postfix_sessions: tuple[int, ...] = (1, 4, 16)
    sendmail_messages: int = 200  # per repetition, through each sendmail
    sendmail_sessions: int = 4
    message_size: int = 4_096  # body bytes: a typical small office message
    reps: int = 3
    eval_small: int = 100
    eval_large: int = 10_000
    eval_messages: int = 100
    eom_messages: int = 500  # per phase (without, then with the pipe)
    hostile_messages: int = 2_000  # per phase and repetition (without, then beside it)
    pipe_sleep: float = 10.0
    huge_bytes: int = 100_000_000  # 100 MB (10^6 bytes each), base64 as sent
    check_rules: int = 10_000
    check_small: int = 100
    reload_rules: int = 20_000  # the daemon reloads these while messages flow
    report_small: int = 100_000  # summary lines, mailspy report and htmlspy.pl
    report_large: int = 1_000_000  # summary lines, mailspy report alone
    report_reps: int = 2  # runs of each on the small log, in turns; the best counts
    metrics_rules: int = 20_000  # a Prometheus scrape with these rules ...
    metrics_few: int = 10  # ... against one with these
    scrapes: int = 20  # of each, after one to warm up


FULL = Sizes()
SMOKE = Sizes(
    daemon_rules=50,
    client_messages=40,
    client_single_messages=20,
    real_corpus=20,
    postfix_messages=20,
    postfix_single_messages=10,
    sendmail_messages=10,
    reps=1,
    eval_small=10,
    eval_large=100,
    eval_messages=10,
    eom_messages=20,
    hostile_messages=10,
    pipe_sleep=2.0,
    huge_bytes=2_000_000,
    check_rules=200,
    check_small=10,
    reload_rules=200,
    report_small=300,
    report_large=600,
    report_reps=1,
    metrics_rules=200,
    scrapes=3,
)
