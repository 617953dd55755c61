"""Row H: another connection's end-of-message answer while a hostile regex searches.

Why: libmilter serves every connection from a thread of one Python process, so a regex
search that kept the interpreter lock would stall every connection for as long as it
ran. Here one connection sends, back to back, messages whose subject makes a rule's
`^(a|aa)+$` backtrack until `--regex-timeout` stops it (a quarter second each: the
search runs nearly all the time, and starts and stops a few times per phase), while a
second connection sends ordinary mail one message at a time; its end-of-message times
are compared with the same messages sent to the same daemon with no hostile connection,
in alternating phases. The figure is a ratio of means: a stall behind the search is
rare among the messages but long, and a median would not see it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.daemons import address, cpu_seconds, kill, start_mailspy
from bench.measure_client import BenchError, _describe, _latencies
from bench.milterclient import SMFIR_ACCEPT, Mail, MilterClient
from bench.report import Row, Target, ratio
from bench.sizes import Sizes

Progress = Callable[[str], None]

TIMEOUT = 0.25  # --regex-timeout of the daemon: how long each hostile search runs
RULES = (
    'rule "hostile" {\n    when subject matches /^(a|aa)+$/\n    log-summary\n}\n'
    'rule "everything" {\n    log-summary\n}\n'
)
HOSTILE = Mail(sender="mallory@ext1.example", recipients=("ann@corp1.example",),
               headers=(("From", "mallory@ext1.example"), ("Subject", "a" * 60 + "!")),
               body=b"hello\r\n", queue_id="HOSTILE")
GAVE_UP = "not matched: its regex /^(a|aa)+$/ gave up"


class HostileSender:
    """One connection sending the hostile message again and again until stopped; entered
    once the daemon (pid) is seen burning CPU on the first one."""

    def __init__(self, target: tuple[str, int], pid: int) -> None:
        self.target = target
        self.pid = pid
        self.sent = 0  # hostile messages answered
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hostile", daemon=True)

    def __enter__(self) -> HostileSender:
        idle = cpu_seconds(self.pid)
        self._thread.start()
        if not self._started.wait(30):
            raise BenchError("the hostile connection never opened")
        deadline = time.monotonic() + 30
        while cpu_seconds(self.pid) < idle + 0.1:  # the search has begun
            if self.error is not None or time.monotonic() > deadline:
                raise BenchError(f"the hostile search never began: {self.error}")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(TIMEOUT * 20 + 30)
        if self.error is not None:
            raise BenchError(f"the hostile connection failed: {self.error}")
        if self.sent == 0:
            raise BenchError("no hostile message was answered: the figure is meaningless")

    def _run(self) -> None:
        try:
            with MilterClient.open(self.target, timeout=TIMEOUT * 20 + 30) as client:
                client.negotiate()
                client.connect("mallory.example", "127.0.0.1", 40001)
                client.helo("mallory.example")
                self._started.set()  # the first hostile message goes out now
                while not self._stop.is_set():
                    reply = client.send_message(HOSTILE)
                    if reply.code != SMFIR_ACCEPT:
                        raise BenchError(f"hostile message answered {reply.code!r}")
                    self.sent += 1
        except BaseException as exc:
            self.error = exc
            self._started.set()


def hostile_row(workdir: Path, corpus: Sequence[Mail], sizes: Sizes,
                progress: Progress) -> Row:
    base = workdir / "hostile"
    rules_dir = base / "rules.d"
    rules_dir.mkdir(parents=True)
    (rules_dir / "50-hostile.rules").write_text(RULES)
    mails = [corpus[n % len(corpus)] for n in range(sizes.hostile_messages)]
    milter = start_mailspy(rules_dir, base, "--regex-timeout", f"{TIMEOUT:g}")
    quiet: list[float] = []
    busy: list[float] = []
    hostile_sent = 0
    try:
        target = address(milter)
        _latencies(target, mails[:10])  # warm up
        for rep in range(sizes.reps):
            quiet += _latencies(target, mails)
            with HostileSender(target, milter.pid) as hostile:
                busy += _latencies(target, mails)
            hostile_sent += hostile.sent
            progress(f"end-of-message, rep {rep + 1}: {_mean(busy)}, {_describe(busy)} beside "
                     f"a hostile regex; {_mean(quiet)}, {_describe(quiet)} without")
        gave_up = milter.output().count(GAVE_UP)
    finally:
        kill(milter)
    if gave_up < hostile_sent:
        raise BenchError(f"{hostile_sent} hostile messages but {gave_up} searches logged as "
                         "given up: the hostile regex did not run as meant")
    label = (f"end-of-message answer of one connection while another's messages make a "
             f"rule's regex search until --regex-timeout ({TIMEOUT:g} s, back to back), mean "
             f"÷ mean with no hostile message ({len(mails):,} messages × {sizes.reps}, one "
             f"at a time; {hostile_sent} hostile searches)")
    return Row("H", label, _mean(busy) + ", " + _describe(busy),
               "no hostile regex: " + _mean(quiet) + ", " + _describe(quiet),
               ratio(statistics.fmean(busy), statistics.fmean(quiet)), Target("≤", 2))


def _mean(values: Sequence[float]) -> str:
    return f"mean {statistics.fmean(values):.2f} ms"
