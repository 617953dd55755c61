"""Prometheus metrics of the running daemon (`--metrics-listen ADDR:PORT`).

Nothing here runs per message. The daemon already keeps what a postmaster
graphs and alerts on — the Recorder's counters and rule hits, the milter's
connections and end-of-message answer times, the spool's depth, the
delivery outcomes of copies, the verdicts of rule reloads — and a
collector reads that state when Prometheus scrapes (`prometheus_client`'s
custom collector), so a daemon nobody scrapes does no metrics work at all.

Names follow Prometheus' conventions: the `mailspy_` prefix, `_total` for
counters, seconds and bytes as units, and bounded label sets: a rule's
name, an action's name, a log's target, never anything from a message.
`docs/install.md` lists every metric.

The metrics are served over plain HTTP with no password, as exporters do;
anyone who can connect reads the rule names and the traffic figures. So
mailspy listens on loopback addresses only, unless the postmaster says
`--metrics-scope network` as well (and lets only Prometheus through the
firewall).
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import platform
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, MetricsHandler, ProcessCollector
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.registry import Collector

from mailspy import version
from mailspy.actions.action import COPY, LOG
from mailspy.actions.registry import ACTIONS
from mailspy.milter.adapter import MailspyMilter
from mailspy.supervise import supervised

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from mailspy.daemon.service import Daemon
    from mailspy.dispatch import Recorder
    from mailspy.rules.compile import RuleSet

__all__ = ["LOOPBACK", "NETWORK", "ListenError", "MetricsServer", "RuleLoads", "parse_listen"]

LOOPBACK, NETWORK = "loopback", "network"  # --metrics-scope
DEFAULT_HOST = "127.0.0.1"


class ListenError(ValueError):
    """A --metrics-listen value that cannot be used; the message says what to write."""


def parse_listen(text: str, scope: str = LOOPBACK) -> tuple[str, int]:
    """`127.0.0.1:9154`, `[::1]:9154` or a bare port (on 127.0.0.1) -> (address, port).

    The address is an IP address, or `localhost`; with the default scope it
    must be a loopback address."""
    text = text.strip()
    if text.isdigit():
        host, port_text = DEFAULT_HOST, text
    elif text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":")
        if ":" in host:
            raise ListenError(f"'{text}': write an IPv6 address in brackets, like [::1]:9154")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ListenError(f"'{text}': give ADDRESS:PORT, like 127.0.0.1:9154 or [::1]:9154")
    if host == "localhost":
        host = DEFAULT_HOST
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ListenError(f"'{text}': '{host}' is not an IP address; give one, like "
                          f"127.0.0.1:{port_text}") from None
    if not address.is_loopback and scope != NETWORK:
        raise ListenError(f"'{text}': {host} is not a loopback address, and the metrics are "
                          "served to whoever connects (no TLS, no password); to serve them "
                          "there, add --metrics-scope network (metrics-scope = \"network\" in "
                          "the configuration file) and let only Prometheus through the "
                          "firewall")
    return str(address), int(port_text)


class RuleLoads:
    """How the rules loaded: reloads done and refused, the running rules' load time,
    and rule hits summed over every rule set since start.

    The Recorder counts hits from zero after each reload (`mailspy status` shows
    the running rules'); a Prometheus counter must never go down, so the hits of
    the rules a reload replaced are added up here, under the lock that the scrape
    takes too."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.took = 0.0  # how long the last load took (the daemon sets it)
        self.load_seconds = 0.0  # ... and the load of the rules running now
        self.loaded_at = time.time()
        self.reloads = {"ok": 0, "refused": 0}
        self.last_reload_ok = True
        self._earlier_hits: Counter[str] = Counter()
        self._earlier_shadow: Counter[str] = Counter()

    def running(self) -> None:
        """The rules of the last load run from now on."""
        self.load_seconds, self.loaded_at = self.took, time.time()

    def refused(self) -> None:
        with self._lock:
            self.reloads["refused"] += 1
            self.last_reload_ok = False

    def swap(self, recorder: Recorder, rules: RuleSet) -> None:
        """Run these rules from now on (a reload that passed every check)."""
        with self._lock:
            hits, shadow_hits = recorder.use(rules)
            self._earlier_hits.update(hits)
            self._earlier_shadow.update(shadow_hits)
            self.reloads["ok"] += 1
            self.last_reload_ok = True
            self.running()

    def hits(self, recorder: Recorder, shadow: bool = False) -> dict[str, int]:
        """Messages each rule (or each shadow rule) fired for, since start."""
        with self._lock:
            # one copy, taken atomically
            running = dict(recorder.shadow_hits if shadow else recorder.hits)
            earlier = dict(self._earlier_shadow if shadow else self._earlier_hits)
        return {name: earlier.get(name, 0) + running.get(name, 0)
                for name in earlier.keys() | running.keys()}


class _Collector(Collector):
    """Reads the daemon's state when Prometheus scrapes."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    def collect(self) -> Iterator[Metric]:
        daemon = self.daemon
        recorder = daemon.recorder
        info = InfoMetricFamily("mailspy_build", "The running mailspy's version.")
        info.add_metric([], {"version": version(), "python": platform.python_version()})
        yield info
        if recorder is None:
            return
        yield from _messages(recorder)
        yield from _rules(daemon.loads, recorder)
        yield from _actions(recorder)
        yield from _spool(recorder)
        yield from _milter()


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _messages(recorder: Recorder) -> Iterator[Metric]:
    counters = recorder.counters
    yield _counter("mailspy_messages_total", "Messages recorded (end-of-message reached).",
                   counters.messages)
    yield _counter("mailspy_message_bytes_total", "Bytes of message bodies recorded.",
                   counters.bytes)
    yield _counter("mailspy_messages_tempfailed_total", "Messages answered TEMPFAIL because "
                   "a copy they owed could not be spooled.", counters.tempfailed)


def _rules(loads: RuleLoads, recorder: Recorder) -> Iterator[Metric]:
    running = recorder.rules.rules
    for shadow, name, doc in (
            (False, "mailspy_rule_hits_total", "Messages each rule fired for."),
            (True, "mailspy_shadow_rule_hits_total", "Messages each shadow rule fired for "
             "(its actions were not run; the shadow log says what they would have done).")):
        hits = CounterMetricFamily(name, doc, labels=["rule"])
        counts = dict.fromkeys((r.name for r in running if r.shadow == shadow), 0)  # from 0
        counts.update(loads.hits(recorder, shadow))
        for rule, count in sorted(counts.items()):
            hits.add_metric([rule], count)
        yield hits
    rules = recorder.rules
    yield _gauge("mailspy_rules_loaded", "Rules running.", len(rules))
    yield _gauge("mailspy_rules_files", "Rules files the running rules come from.",
                 len(rules.files))
    reloads = CounterMetricFamily("mailspy_rules_reloads_total", "Reloads of the rules "
                                  "(SIGHUP, mailspy reload), by outcome: ok, or refused "
                                  "(the running rules stayed).", labels=["outcome"])
    for outcome, count in loads.reloads.items():
        reloads.add_metric([outcome], count)
    yield reloads
    yield _gauge("mailspy_rules_last_reload_successful", "1 when the last reload was "
                 "swapped in (or none was asked), 0 when it was refused.",
                 int(loads.last_reload_ok))
    yield _gauge("mailspy_rules_loaded_timestamp_seconds", "When the running rules were "
                 "loaded (Unix time).", loads.loaded_at)
    yield _gauge("mailspy_rules_load_duration_seconds", "How long the running rules took to "
                 "read, check and compile.", loads.load_seconds)


_OUTCOMES = {LOG: ("ok", "lost"), COPY: ("ok", "retried", "dead_lettered")}


def _actions(recorder: Recorder) -> Iterator[Metric]:
    actions = CounterMetricFamily(
        "mailspy_actions_total", "Actions run, by action and outcome: a log record ok or "
        "lost; a copy ok, retried (a temporary failure, tried again later) or "
        "dead_lettered (given up into the spool's dead/).", labels=["action", "outcome"])
    done = {(a.name, outcome): 0 for r in recorder.rules.rules for a in r.actions
            for outcome in _OUTCOMES.get(ACTIONS[a.name].kind, ())}  # each from 0
    done.update(dict(recorder.counters.actions))
    done.update(dict(recorder.deliverer.outcomes))
    for (action, outcome), count in sorted(done.items()):
        actions.add_metric([action, outcome], count)
    yield actions
    lost = CounterMetricFamily("mailspy_log_records_lost_total", "Log records that could not "
                               "be written, by target (a full disk, a syslog queue full).",
                               labels=["target"])
    for target, count in sorted(dict(recorder.counters.records_lost).items()):
        lost.add_metric([target], count)
    yield lost
    yield _counter("mailspy_spool_failures_total", "Messages whose copies could not be "
                   "spooled (a full disk).", recorder.counters.spool_failures)
    yield _counter("mailspy_copies_lost_total", "Copies lost because they could not be "
                   "spooled and --on-spool-failure is accept.", recorder.counters.copies_lost)


def _spool(recorder: Recorder) -> Iterator[Metric]:
    summary = recorder.spool.summary()
    yield _gauge("mailspy_spool_queued_entries", "Spooled messages with copies still owed.",
                 summary["queued"])
    yield _gauge("mailspy_spool_dead_entries", "Spooled messages given up (dead letters, see "
                 "mailspy spool list).", summary["dead"])
    yield _gauge("mailspy_spool_oldest_entry_age_seconds", "Age of the oldest spooled "
                 "message still owed a copy (0 when none).", summary["oldest"])


def _milter() -> Iterator[Metric]:
    connections = MailspyMilter.connections
    yield _gauge("mailspy_milter_connections", "Milter connections open.", connections.count)
    yield _gauge("mailspy_milter_connections_limit", "Milter connections served at once "
                 "(--max-connections, or fewer when file descriptors are short).",
                 connections.limit)
    yield _counter("mailspy_milter_connections_refused_total", "Milter connections beyond the "
                   "limit, whose messages were answered TEMPFAIL.", connections.refused)
    buckets, total = MailspyMilter.answer_times.histogram()
    yield HistogramMetricFamily("mailspy_end_of_message_seconds", "How long the MTA waited "
                                "for the answer to end-of-message.",
                                buckets=[(_le(b), n) for b, n in buckets],
                                sum_value=total)


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 16


class MetricsServer:
    """Serves /metrics: bound at start (as root, beside the milter socket), served from a
    supervised thread once the daemon runs, shut down with it."""

    def __init__(self, address: tuple[str, int], daemon: Daemon) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(daemon))
        ProcessCollector(registry=self.registry)
        handler = type("MetricsHandler", (MetricsHandler,),
                       {"registry": self.registry, "timeout": 10})
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        server_class = type("Server", (_Server,), {"address_family": family})
        self._server = server_class(address, handler)  # binds now: errors at start
        self.address = address
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = supervised("mailspy-metrics", self._server.serve_forever)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
        with contextlib.suppress(OSError):
            self._server.server_close()
