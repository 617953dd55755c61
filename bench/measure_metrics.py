"""What a Prometheus scrape costs, with many rules against a few.

Why: nothing of the metrics runs per message, but each rule is a series of
`mailspy_rule_hits_total`, so a scrape grows with the rules, and its CPU is taken from
the milter's threads in the same process. Here the daemon's own metrics server
(`mailspy.daemon.metrics.MetricsServer`, its collector and its HTTP handler) serves a
Recorder running the generated rules, and `/metrics` is fetched over loopback as
Prometheus fetches it: the time of one scrape, end to end, and the size of its answer.
"""

from __future__ import annotations

import statistics
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.measure_stages import daemon_rules
from bench.report import Row, ratio
from bench.rulegen import write_rules
from bench.sizes import Sizes
from mailspy.actions.sinks import Sinks
from mailspy.daemon.metrics import MetricsServer, RuleLoads
from mailspy.dispatch import Recorder
from mailspy.rules.compile import RuleSet
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.store import Spool
from tests.e2e.postfix import free_port

Progress = Callable[[str], None]


def _daemon(workdir: Path, rules: RuleSet) -> Any:
    """What the collector reads of a running daemon: its Recorder and its rule loads."""
    spool = Spool(workdir / "spool")
    spool.create()
    recorder = Recorder(rules, Sinks(), spool, Deliverer(spool, DeliverySettings()))
    for rule in rules.rules[::7]:  # some rules have fired, as on a running host
        recorder.hits[rule.name] += 3
    return SimpleNamespace(recorder=recorder, loads=RuleLoads())


def scrape_times(workdir: Path, rules: RuleSet, scrapes: int) -> tuple[list[float], int]:
    """Seconds of each scrape of `/metrics`, and the bytes of the answer."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = MetricsServer(("127.0.0.1", port), _daemon(workdir, rules))
    server.start()
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        size = len(urllib.request.urlopen(url, timeout=60).read())  # warm up
        times = []
        for _ in range(scrapes):
            began = time.perf_counter()
            with urllib.request.urlopen(url, timeout=60) as answer:
                answer.read()
            times.append(time.perf_counter() - began)
        return times, size
    finally:
        server.stop()


def scrape_row(workdir: Path, sizes: Sizes, progress: Progress) -> Row:
    log = workdir / "metrics-summary.log"
    many = daemon_rules(write_rules(workdir / "rules-metrics-many", sizes.metrics_rules), log)
    few = daemon_rules(write_rules(workdir / "rules-metrics-few", sizes.metrics_few), log)
    results = {}
    for name, rules in (("few", few), ("many", many)):
        times, size = scrape_times(workdir / f"metrics-{name}", rules, sizes.scrapes)
        results[name] = (statistics.median(times) * 1e3, min(times) * 1e3,
                         max(times) * 1e3, size)
        progress(f"metrics scrape, {len(rules):,} rules: {results[name][0]:.1f} ms, "
                 f"{size / 1e3:,.0f} KB")

    def cell(name: str, count: int) -> str:
        median, low, high, size = results[name]
        return (f"{median:,.1f} ms ({low:,.1f}-{high:,.1f}), {size / 1e3:,.0f} KB "
                f"({count:,} rules)")

    return Row("MS", f"one Prometheus scrape of `/metrics` (the daemon's metrics server over "
               f"loopback, median of {sizes.scrapes}), {sizes.metrics_rules:,} rules ÷ "
               f"{sizes.metrics_few:,} rules", cell("many", sizes.metrics_rules),
               cell("few", sizes.metrics_few), ratio(results["many"][0], results["few"][0]))
