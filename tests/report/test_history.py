"""`--history DIR`: a report per ISO week, rebuilt from the logs that hold it, never
replaced by a smaller one, an index of the weeks, old weeks removed."""

from __future__ import annotations

import json
import re
from datetime import UTC
from pathlib import Path

import pytest

from mailspy.report.clock import Clock
from mailspy.report.history import write_history
from mailspy.report.run import Job
from mailspy.report.select import Selection
from mailspy.report.settings import Settings
from tests.report.helpers import MONDAY, Page, line, read_page, report

DAY, WEEK = 86400, 7 * 86400


def week_log(path: Path, start: int, count: int, sender: str = "a@x.example") -> Path:
    path.write_text("".join(line(start + n * 3600, sender, ["b@y.example"], subject=f"m{n}")
                            for n in range(count)))
    return path


def messages(history: Path, week: str) -> int:
    return json.loads((history / week / "report.json").read_text())["messages"]


def test_one_report_per_iso_week_and_an_index(tmp_path: Path) -> None:
    log = tmp_path / "mailspy"
    log.write_text(week_log(tmp_path / "w47", MONDAY - WEEK, 3).read_text()
                   + week_log(tmp_path / "w48", MONDAY, 5).read_text())
    history = tmp_path / "history"
    assert report("--history", history, "--keep-weeks", "0", log) == 0
    assert sorted(p.name for p in history.iterdir()) == [
        "2026-W47", "2026-W48", "history.json", "index.html"]
    assert (messages(history, "2026-W47"), messages(history, "2026-W48")) == (3, 5)
    index = read_page(history / "index.html")
    assert [r[0] for r in index.rows[1:]] == ["2026-W48", "2026-W47"]  # newest first
    assert index.row("2026-W48")[3] == "5"
    week = index.follow("2026-W48")
    assert "Week 2026-W48, Mon 2026-11-23 to Sun 2026-11-29" in week.text
    assert week.link("All weeks") == "../index.html"
    assert read_page(history / "2026-W48" / "a" / week.link("a@x.example")[2:].split("/")[-1]
                     ).link("All weeks") == "../../index.html"


def test_weeks_in_the_logs_are_rebuilt_the_others_kept(tmp_path: Path) -> None:
    history = tmp_path / "history"
    assert report("--history", history, "--keep-weeks", "0",
                  week_log(tmp_path / "old", MONDAY - WEEK, 3)) == 0
    marker = history / "2026-W47" / "report.json"
    before = marker.read_text()
    # the hourly run: only this week's log
    assert report("--history", history, "--keep-weeks", "0",
                  week_log(tmp_path / "now", MONDAY, 2)) == 0
    assert marker.read_text() == before
    assert messages(history, "2026-W48") == 2
    assert report("--history", history, "--keep-weeks", "0",
                  week_log(tmp_path / "now", MONDAY, 6)) == 0
    assert messages(history, "2026-W48") == 6
    assert [r[0] for r in read_page(history / "index.html").rows[1:]] == ["2026-W48",
                                                                        "2026-W47"]


def test_a_week_is_never_replaced_by_a_smaller_report(tmp_path: Path, capsys) -> None:
    history = tmp_path / "history"
    assert report("--history", history, "--keep-weeks", "0",
                  week_log(tmp_path / "whole", MONDAY, 6)) == 0
    # a later run given only the newer half of that week (the older half rotated away)
    assert report("--history", history, "--keep-weeks", "0",
                  week_log(tmp_path / "half", MONDAY + 3 * DAY, 2)) == 0
    assert messages(history, "2026-W48") == 6
    assert "kept the existing report of week 2026-W48 (6 messages; the logs given hold 2)" \
        in capsys.readouterr().err


def test_weeks_older_than_keep_weeks_are_removed(tmp_path: Path) -> None:
    history = tmp_path / "history"
    old = week_log(tmp_path / "old", 1_700_000_000, 2)  # November 2023
    assert report("--history", history, "--keep-weeks", "0", old) == 0
    assert (history / "2023-W46").is_dir()
    assert report("--history", history, "--keep-weeks", "52",
                  week_log(tmp_path / "now", MONDAY, 1)) == 0
    assert not (history / "2023-W46").exists()
    assert (history / "2026-W48").is_dir()
    # given the old logs again, the run builds their weeks and keeps them
    assert report("--history", history, "--keep-weeks", "52", old) == 0
    assert (history / "2023-W46").is_dir()


def test_history_refuses_a_folder_of_other_things(tmp_path: Path, capsys) -> None:
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "precious.txt").write_text("keep me")
    assert report("--history", tmp_path / "www", week_log(tmp_path / "l", MONDAY, 1)) == 2
    assert "holds no mailspy report" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "www").iterdir()) == ["precious.txt"]


def history_at(now: int, history: Path, *logs: Path) -> None:
    """`mailspy report --history` run at `now` (the clock the index reads "this week"
    from), in UTC, keeping every week."""
    job = Job([str(log) for log in logs], Settings(), Selection(), Clock(UTC), now=now)
    write_history(job, history, keep_weeks=0)


BAR = re.compile(r'<rect class="bar" x="[^"]*" y="[^"]*" width="[^"]*" height="([^"]*)">'
                 r"<title>([^<]*)</title></rect>")


def bars(index: Page) -> list[tuple[str, float]]:
    """The weekly chart's bars, left to right: (tooltip, height)."""
    return [(title, float(height)) for height, title in BAR.findall(index.source)]


def badged(index: Page) -> list[str]:
    return [cells[0] for cells in index.rows[1:] if "this week so far" in cells[0]]


def test_the_index_marks_this_week_and_charts_one_bar_per_week(tmp_path: Path) -> None:
    log = tmp_path / "mailspy"
    log.write_text(week_log(tmp_path / "w47", MONDAY - WEEK, 3).read_text()
                   + week_log(tmp_path / "w48", MONDAY, 5).read_text())
    history = tmp_path / "history"
    wednesday = MONDAY + 2 * DAY + 10 * 3600  # in 2026-W48, after its five messages
    history_at(wednesday, history, log)
    index = read_page(history / "index.html")
    assert [cells[0] for cells in index.rows[1:]] == ["2026-W48 this week so far", "2026-W47"]
    assert badged(index) == ["2026-W48 this week so far"]
    assert index.source.count('class="badge"') == 1
    (w47, h47), (w48, h48) = bars(index)  # oldest first, one per week
    assert (w47, w48) == ("2026-W47: 3 messages", "2026-W48: 5 messages")
    assert h48 / h47 == pytest.approx(5 / 3, rel=0.01)
    assert "Messages per week" in index.text

    # a week later the week that ended is no longer "so far", and the new one has no
    # report yet: no week carries the badge
    history_at(wednesday + WEEK, history, tmp_path / "w48")
    index = read_page(history / "index.html")
    assert [cells[0] for cells in index.rows[1:]] == ["2026-W48", "2026-W47"]
    assert badged(index) == [] and 'class="badge"' not in index.source
    assert [title for title, _ in bars(index)] == ["2026-W47: 3 messages",
                                                   "2026-W48: 5 messages"]
