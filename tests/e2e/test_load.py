"""The short form of the load and fault run (the long one: python -m tests.e2e.load)."""

from __future__ import annotations

import pytest

from .load import LoadConfig, run_load

pytestmark = [pytest.mark.postfix, pytest.mark.slow]


def test_load_with_a_slow_pipe_failing_disks_a_flood_and_a_kill_9_loses_nothing() -> None:
    report = run_load(LoadConfig(messages=120, sessions=8, pipe_sleep=1.0, workers=16,
                                 per_target=16, spool_full=(0.3, 2.0), flood=1100))
    assert report.accepted_by_postfix == report.messages_sent == 120
    assert report.problems() == [], report
    assert report.summary_lines == report.accepted_by_postfix + report.summary_extra
    assert report.kill_at_message is not None  # the daemon really was killed mid-load
    assert report.retries_logged > 0  # the disk outage really happened and was retried
    assert report.pipe_runs >= 120
    assert report.temporary_because_of_full_spool > 0  # the spool really was full
