"""The metrics without Prometheus: the address, the names, counters that never go down.

tests/e2e/test_metrics.py has a real Prometheus scrape a daemon behind Postfix.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import urllib.request
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from mailspy.daemon.metrics import ListenError, RuleLoads, parse_listen
from mailspy.milter.timing import BUCKETS, AnswerTimes
from mailspy.rules.compile import RuleSet
from tests.e2e.postfix import MilterProcess, free_port, is_listening
from tests.waiting import eventually


@pytest.mark.parametrize(("text", "scope", "wanted"), [
    ("127.0.0.1:9154", "loopback", ("127.0.0.1", 9154)),
    ("9154", "loopback", ("127.0.0.1", 9154)),
    ("localhost:9154", "loopback", ("127.0.0.1", 9154)),
    ("[::1]:9154", "loopback", ("::1", 9154)),
    ("127.0.0.53:80", "loopback", ("127.0.0.53", 80)),
    ("192.0.2.7:9154", "network", ("192.0.2.7", 9154)),
    ("[2001:db8::7]:9154", "network", ("2001:db8::7", 9154)),
    ("0.0.0.0:9154", "network", ("0.0.0.0", 9154)),
])
def test_listen_addresses(text: str, scope: str, wanted: tuple[str, int]) -> None:
    assert parse_listen(text, scope) == wanted


@pytest.mark.parametrize(("text", "said"), [
    ("192.0.2.7:9154", "not a loopback address"),
    ("0.0.0.0:9154", "--metrics-scope network"),
    ("[2001:db8::7]:9154", "not a loopback address"),
    ("metrics.example.org:9154", "is not an IP address"),
    ("127.0.0.1", "give ADDRESS:PORT"),
    ("127.0.0.1:0", "give ADDRESS:PORT"),
    ("127.0.0.1:70000", "give ADDRESS:PORT"),
    ("::1:9154", "in brackets"),
])
def test_wrong_listen_addresses_say_what_to_write(text: str, said: str) -> None:
    with pytest.raises(ListenError, match=re.escape(said)):
        parse_listen(text)


class FakeRecorder:
    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.shadow_hits: Counter[str] = Counter()
        self.rules = RuleSet(())

    def use(self, rules: RuleSet) -> tuple[Counter[str], Counter[str]]:
        replaced = self.hits, self.shadow_hits
        self.rules, self.hits, self.shadow_hits = rules, Counter(), Counter()
        return replaced


def test_rule_hits_keep_counting_up_across_reloads() -> None:
    loads, recorder = RuleLoads(), FakeRecorder()
    recorder.hits.update(["a", "a", "b"])
    loads.swap(recorder, RuleSet(()))  # type: ignore[arg-type]
    recorder.hits.update(["a", "c"])
    assert recorder.hits == Counter({"a": 1, "c": 1})  # status shows the running rules'
    assert loads.hits(recorder) == {"a": 3, "b": 1, "c": 1}  # the metrics, since start
    assert loads.reloads == {"ok": 1, "refused": 0} and loads.last_reload_ok
    assert loads.hits(recorder, shadow=True) == {}  # type: ignore[arg-type]
    loads.refused()
    assert loads.reloads == {"ok": 1, "refused": 1} and not loads.last_reload_ok


def test_shadow_hits_are_counted_apart_and_keep_counting_across_reloads() -> None:
    loads, recorder = RuleLoads(), FakeRecorder()
    recorder.hits.update(["live"])
    recorder.shadow_hits.update(["trial", "trial"])
    loads.swap(recorder, RuleSet(()))  # type: ignore[arg-type]
    recorder.shadow_hits.update(["trial"])
    assert loads.hits(recorder, shadow=True) == {"trial": 3}  # type: ignore[arg-type]
    assert loads.hits(recorder) == {"live": 1}  # type: ignore[arg-type]


def test_a_scrape_during_reloads_never_sees_a_hit_count_go_down() -> None:
    loads, recorder = RuleLoads(), FakeRecorder()
    done = threading.Event()

    def record_and_reload() -> None:
        for n in range(3000):
            recorder.hits.update(["a", f"rule {n % 50}"])
            if n % 7 == 0:
                loads.swap(recorder, RuleSet(()))  # type: ignore[arg-type]
        done.set()

    worker = threading.Thread(target=record_and_reload)
    worker.start()
    seen: list[int] = []
    while not done.is_set():
        seen.append(loads.hits(recorder).get("a", 0))  # type: ignore[arg-type]
    worker.join()
    assert seen == sorted(seen)
    assert loads.hits(recorder)["a"] == 3000  # type: ignore[arg-type]


def test_the_answer_histogram_counts_each_answer_under_its_bound() -> None:
    times = AnswerTimes()
    for seconds in (0.0001, 0.0005, 0.003, 0.003, 0.7, 42.0):
        times.add(seconds)
    buckets, total = times.histogram()
    counts = dict(buckets)
    assert [bound for bound, _ in buckets] == [*BUCKETS, float("inf")]
    assert (counts[0.0005], counts[0.001], counts[0.005], counts[1.0], counts[10.0]) == \
        (2, 2, 4, 5, 5)
    assert counts[float("inf")] == 6 and total == pytest.approx(42.7066)


def start_daemon(tmp_path: Path, *extra: str) -> MilterProcess:
    rules = tmp_path / "rules.d"
    rules.mkdir(exist_ok=True)
    (rules / "a.rules").write_text('rule "everything" { log-summary }\n'
                                   'rule "pdf" { when attachment matches "*.pdf" '
                                   'archive-to-maildir "/nonexistent/mailspy-test/md" }\n'
                                   'shadow rule "trial" { when subject contains "x" stop }\n')
    port = free_port()
    argv = [sys.executable, "-m", "mailspy", "run", "-p", f"inet:{port}@127.0.0.1",
            "-d", str(rules), "-f", str(tmp_path / "s.log"), "--spool-dir",
            str(tmp_path / "spool"), "--runtime-dir", str(tmp_path / "run"),
            "--shadow-log", str(tmp_path / "shadow.jsonl"), *extra]
    daemon = MilterProcess(argv, port=port, output=tmp_path / "out").start()
    if "--metrics-listen" in extra:  # bound just after the milter socket listens
        metrics_port = int(extra[extra.index("--metrics-listen") + 1].rsplit(":", 1)[1])
        eventually(lambda: is_listening(metrics_port), what="the metrics port listening")
    return daemon


def test_a_scrape_names_every_metric_by_the_conventions(tmp_path: Path) -> None:
    metrics_port = free_port()
    daemon = start_daemon(tmp_path, "--metrics-listen", f"127.0.0.1:{metrics_port}")
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics") as answer:
            text = answer.read().decode()
    finally:
        daemon.stop()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    ours = {name: f for name, f in families.items() if name.startswith("mailspy_")}
    assert set(ours) >= {
        "mailspy_build_info", "mailspy_messages", "mailspy_message_bytes", "mailspy_rule_hits",
        "mailspy_rules_reloads", "mailspy_rules_load_duration_seconds",
        "mailspy_actions", "mailspy_spool_queued_entries", "mailspy_spool_dead_entries",
        "mailspy_spool_oldest_entry_age_seconds", "mailspy_end_of_message_seconds",
        "mailspy_milter_connections", "mailspy_milter_connections_refused"}
    assert "process_open_fds" in families
    for family in ours.values():
        assert family.documentation, family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
    hits = {s.labels["rule"]: s.value for s in ours["mailspy_rule_hits"].samples}
    assert hits == {"everything": 0, "pdf": 0}  # every running rule, from 0
    shadow = {s.labels["rule"]: s.value for s in ours["mailspy_shadow_rule_hits"].samples}
    assert shadow == {"trial": 0}  # shadow rules apart
    actions = {(s.labels["action"], s.labels["outcome"]) for s in ours["mailspy_actions"].samples}
    assert actions == {("log-summary", "ok"), ("log-summary", "lost"),
                       ("archive-to-maildir", "ok"), ("archive-to-maildir", "retried"),
                       ("archive-to-maildir", "dead_lettered")}
    labels = {k for f in ours.values() for s in f.samples for k in s.labels} - {"le"}
    assert labels == {"version", "python", "rule", "outcome", "action"}  # no addresses


def test_a_taken_metrics_port_stops_the_start(tmp_path: Path) -> None:
    daemon = start_daemon(tmp_path, "--metrics-listen", f"127.0.0.1:{free_port()}")
    try:
        taken = daemon.argv[daemon.argv.index("--metrics-listen") + 1]
        rules = tmp_path / "rules.d"
        done = subprocess.run(
            [sys.executable, "-m", "mailspy", "run", "-p", f"inet:{free_port()}@127.0.0.1",
             "-d", str(rules), "-f", str(tmp_path / "s2.log"), "--spool-dir",
             str(tmp_path / "spool2"), "--runtime-dir", str(tmp_path / "run2"),
             "--shadow-log", str(tmp_path / "shadow2.jsonl"),  # never the host's log dir
             "--metrics-listen", taken], capture_output=True, text=True, timeout=60)
    finally:
        daemon.stop()
    assert done.returncode == 1
    assert f"cannot serve metrics on {taken}: Address already in use" in done.stderr


def test_a_non_loopback_address_is_refused_before_anything_starts(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mailspy", "run", "-d", str(tmp_path),
                           "--metrics-listen", "192.0.2.7:9154"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("mailspy: error: --metrics-listen '192.0.2.7:9154': "
                                  "192.0.2.7 is not a loopback address")


def test_the_configuration_file_takes_the_metrics_keys(tmp_path: Path) -> None:
    from mailspy.cli import build_parser, daemon_config

    conf = tmp_path / "mailspy.conf"
    conf.write_text('metrics-listen = "[::1]:9154"\nmetrics-scope = "network"\n')
    config = daemon_config(["run", "--config", str(conf)])
    args = build_parser(config).parse_args(["run", "--config", str(conf)])
    assert (args.metrics_listen, args.metrics_scope) == ("[::1]:9154", "network")
