"""The monitoring files mailspy ships: alerting rules Prometheus accepts and that fire
on the trouble they name, and a Grafana dashboard that loads.

Whether their queries name metrics a real scrape holds, and evaluate in a real
Prometheus, is checked in tests/e2e/test_metrics.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.e2e.prometheus import PROMTOOL

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "contrib" / "prometheus" / "mailspy-alerts.yml"
ALERT_CASES = Path(__file__).with_name("alerts.test.yml")
DASHBOARD = REPO / "contrib" / "grafana" / "mailspy.json"

needs_promtool = pytest.mark.skipif(not PROMTOOL, reason="promtool is not installed "
                                    "(apt-get install prometheus, or `make deps`)")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, timeout=120,
                          cwd=ALERT_CASES.parent)


@needs_promtool
def test_promtool_checks_the_alerting_rules() -> None:
    done = promtool("check", "rules", str(ALERTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 10 rules found" in done.stdout


@needs_promtool
def test_the_alerts_fire_on_their_trouble_and_only_then() -> None:
    done = promtool("test", "rules", ALERT_CASES.name)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_promtool
def test_promtool_would_notice_a_broken_rule(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(ALERTS.read_text().replace("== 0", "== ", 1))
    assert promtool("check", "rules", str(broken)).returncode != 0


def test_the_dashboard_asks_its_datasource_for_every_panel() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert variables == {"datasource", "job", "instance"}
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and panel["description"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for target in panel["targets"]:
            assert 'job=~"$job",instance=~"$instance"' in target["expr"], target["expr"]
