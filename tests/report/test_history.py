"""`--history DIR`: a report per ISO week, rebuilt from the logs that hold it, never
replaced by a smaller one, an index of the weeks, old weeks removed."""

from __future__ import annotations

import json
from pathlib import Path

from tests.report.helpers import MONDAY, line, read_page, report

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
