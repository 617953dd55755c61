"""`mailspy run --metrics-listen` scraped by a real Prometheus while mail flows through
a real Postfix: Prometheus' HTTP API gives back what was sent.

The shipped dashboard and alerting rules are checked against the same run:
every query of contrib/grafana/mailspy.json and every alert expression of
contrib/prometheus/mailspy-alerts.yml evaluates in this Prometheus (which
loads the alerts as its rule file), and names only metrics that a real
scrape of mailspy holds.
"""

from __future__ import annotations

import json
import os
import re
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.waiting import eventually

from .postfix import MilterFactory, MilterProcess, PostfixFactory, free_port
from .prometheus import PrivatePrometheus, prometheus_available
from .test_daemon import ENCODED, body_size, run_argv

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "contrib" / "grafana" / "mailspy.json"
ALERTS = REPO / "contrib" / "prometheus" / "mailspy-alerts.yml"
NAME = re.compile(r"\b((?:mailspy|process)_[a-z_]+|up)\b(?!\s*\()")
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__range": "1h", '"$job"': '".*"',
                     '"$instance"': '".*"'}


def message(subject: str, padding: int = 0) -> bytes:
    return (f"From: ann@example.org\r\nTo: bob@example.net\r\nSubject: {subject}\r\n\r\n"
            + "x" * padding + "Body.\r\n").encode()


RULES = """
    rule "invoices" {{ when subject contains "invoice" archive-to-maildir "{maildir}" }}
    rule "later" {{ when subject contains "later" pipe-to-command "/bin/sh -c 'exit 75'" }}
    rule "broken" {{ when subject contains "broken" pipe-to-command "/bin/false" }}
    rule "all" {{ log-summary }}
"""


@pytest.fixture
def prometheus_factory() -> Iterator[list[PrivatePrometheus]]:
    if not prometheus_available():
        pytest.skip("prometheus is not installed (apt-get install prometheus, or `make deps`)")
    started: list[PrivatePrometheus] = []
    yield started
    for server in started:
        server.remove()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def names_in_scrape(text: str) -> set[str]:
    """Every metric name a scrape holds: each family's (also one without samples yet)
    and each sample's (`_bucket`, `_count`, `_sum`, `_total`...)."""
    families = set(re.findall(r"^# TYPE (\S+)", text, re.M))
    samples = set(re.findall(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", text, re.M))
    return families | samples


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel.get("targets", [])]


def alert_expressions() -> list[str]:
    exprs = re.findall(r"^\s+expr: (?:>-\n)?((?:.+\n)+?)\s+(?:for|labels):", ALERTS.read_text(),
                       re.M)
    return [" ".join(e.split()) for e in exprs]


def for_prometheus(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    return expr


@pytest.mark.postfix
def test_prometheus_scrapes_what_mail_did(
        tmp_path: Path, milter_factory: MilterFactory, postfix_factory: PostfixFactory,
        prometheus_factory: list[PrivatePrometheus]) -> None:
    rules = RULES.format(maildir=tmp_path / "archive")
    port, metrics_port = free_port(), free_port()
    argv = run_argv(tmp_path, f"inet:{port}@127.0.0.1", rules,
                    "--metrics-listen", f"127.0.0.1:{metrics_port}", "--retry-base", "3600")
    milter: MilterProcess = milter_factory(argv, port=port)
    prometheus = PrivatePrometheus([f"127.0.0.1:{metrics_port}"], [ALERTS]).start()
    prometheus_factory.append(prometheus)
    postfix = postfix_factory(milter.postfix_spec)

    sent = [message("invoice 1"), message("invoice 2", 3000), message("later please"),
            message("broken pipe"), ENCODED]
    for raw in sent:
        postfix.send("ann@example.org", ["bob@example.net"], raw)
    postfix.wait_for(len(sent))

    # a reload that swaps (hits must keep counting up across it), then one refused
    assert milter.pid is not None
    (tmp_path / "rules.d" / "a.rules").write_text(rules)
    os.kill(milter.pid, signal.SIGHUP)
    eventually(lambda: "reloaded" in milter.output())
    (tmp_path / "rules.d" / "a.rules").write_text('rule "all" { when sendr is "x" log-summary }')
    os.kill(milter.pid, signal.SIGHUP)
    eventually(lambda: "reload refused" in milter.output())

    expected = {
        "mailspy_messages_total": len(sent),
        "mailspy_message_bytes_total": sum(body_size(raw) for raw in sent),
        "mailspy_end_of_message_seconds_count": len(sent),
        'mailspy_end_of_message_seconds_bucket{le="+Inf"}': len(sent),
        'mailspy_rule_hits_total{rule="invoices"}': 2,
        'mailspy_rule_hits_total{rule="later"}': 1,
        'mailspy_rule_hits_total{rule="broken"}': 1,
        'mailspy_rule_hits_total{rule="all"}': len(sent),
        'mailspy_actions_total{action="log-summary",outcome="ok"}': len(sent),
        'mailspy_actions_total{action="archive-to-maildir",outcome="ok"}': 2,
        'mailspy_actions_total{action="pipe-to-command",outcome="retried"}': 1,
        'mailspy_actions_total{action="pipe-to-command",outcome="dead_lettered"}': 1,
        'mailspy_actions_total{action="log-summary",outcome="lost"}': 0,
        "mailspy_spool_queued_entries": 1,
        "mailspy_spool_dead_entries": 1,
        'mailspy_rules_reloads_total{outcome="ok"}': 1,
        'mailspy_rules_reloads_total{outcome="refused"}': 1,
        "mailspy_rules_last_reload_successful": 0,
        "mailspy_rules_loaded": 4,
        "mailspy_milter_connections": 0,
        "mailspy_messages_tempfailed_total": 0,
        'mailspy_build_info{version="0.1.0"}': 1,
        'up{job="mailspy"}': 1,
    }

    def answers() -> dict[str, float | None]:
        return {expr: prometheus.value(expr) for expr in expected}

    try:
        eventually(lambda: answers() == expected, timeout=60, interval=0.5)
    except AssertionError:
        raise AssertionError(f"Prometheus answered {answers()}, not {expected}\n"
                             f"{prometheus.log()[-2000:]}") from None
    assert (prometheus.value("mailspy_spool_oldest_entry_age_seconds") or 0) > 0
    assert prometheus.value("mailspy_rules_load_duration_seconds") is not None
    print(json.dumps(prometheus.query("mailspy_rule_hits_total")))

    # the dashboard and the alerts: valid PromQL here, and only metrics a scrape holds
    held = names_in_scrape(scrape(metrics_port)) | {"up"}
    queries = dashboard_queries() + alert_expressions()
    assert len(queries) > 20
    for query in queries:
        prometheus.api("query", query=for_prometheus(query))
        unknown = set(NAME.findall(query)) - held
        assert unknown == set(), f"{query} names metrics no scrape holds: {unknown}"
    rules = [r for g in prometheus.api("rules")["groups"] for r in g["rules"]]
    assert len(rules) == len(alert_expressions()) == 10
    assert {r["health"] for r in rules} == {"ok"}, rules
    firing = {r["name"] for r in rules if r["state"] != "inactive"}
    assert firing <= {"MailspyDeadLetters", "MailspyReloadRefused"}, firing
