"""`--history DIR`: one report per ISO week, and an index of the weeks.

What the original's cron script did with rotated logs and numbered folders,
done by date: each message goes to the report of its ISO week (Monday to
Sunday, in the report's zone), `DIR/2026-W48/`. A run rebuilds the weeks the
logs it reads hold, and leaves the others as they are, so an hourly timer
reading the current log refreshes "this week so far", and a weekly one adds
the week that just ended. A week is never replaced by a report of fewer
messages than it already has (a run given only the newer half of a week's
logs keeps the whole week's report). Weeks older than `--keep-weeks` are
removed, unless the run has just built them from the logs it was given.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from mailspy.report.build import SiteBuilder
from mailspy.report.charts import bar_chart
from mailspy.report.clock import Clock
from mailspy.report.pages import Links, Pages
from mailspy.report.records import Record
from mailspy.report.run import Job, Outcome, Reading, describe_inputs, left_out, marker, stream
from mailspy.report.site import MARKER, SiteDir, check_target, write_file_atomically

__all__ = ["HISTORY_MARKER", "write_history"]

HISTORY_MARKER = "history.json"
WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


def _existing(directory: Path, week: str) -> dict[str, Any] | None:
    try:
        data = json.loads((directory / week / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _week_text(clock: Clock, week: str, builder: SiteBuilder) -> str:
    match = WEEK.match(week)
    assert match is not None
    monday = date.fromisocalendar(int(match[1]), int(match[2]), 1)
    sunday = monday + timedelta(days=6)
    text = f"Week {week}, {monday:%a %Y-%m-%d} to {sunday:%a %Y-%m-%d}"
    tally = builder.tally
    if tally.first is not None and tally.last is not None:
        text += f": messages from {clock.stamp(tally.first)} to {clock.stamp(tally.last)}"
    return text


def _prepare(directory: Path) -> None:
    check_target(directory, HISTORY_MARKER)
    if not directory.exists():
        directory.mkdir(mode=0o755)
    if not (directory / HISTORY_MARKER).exists():
        write_file_atomically(directory / HISTORY_MARKER,
                              json.dumps({"generator": "mailspy report --history"}) + "\n")


def write_history(job: Job, directory: Path, keep_weeks: int) -> Outcome:
    _prepare(directory)
    reading = Reading()
    pages = Pages()
    links = Links()
    info = job.site_info(history=True)
    builders: dict[str, SiteBuilder] = {}

    def route(record: Record | int) -> SiteBuilder:
        week = job.clock.week(record if isinstance(record, int) else record.epoch)
        builder = builders.get(week)
        if builder is None:
            builder = builders[week] = SiteBuilder(SiteDir(directory / week), job.settings,
                                                   pages, links, job.clock, info)
        return builder

    outcome = Outcome(0, reading, [])
    try:
        outcome.messages = stream(job, reading, route)
        for week in sorted(builders):
            builder = builders[week]
            _finish_week(job, directory, week, builder, reading, outcome)
    finally:
        for builder in builders.values():
            if builder.out.root.exists():
                builder.out.discard()
    _expire(directory, keep_weeks, job, {Path(p).name for p in outcome.written})
    write_file_atomically(directory / "index.html", _index(job, directory, pages, reading))
    return outcome


def _finish_week(job: Job, directory: Path, week: str, builder: SiteBuilder,
                 reading: Reading, outcome: Outcome) -> None:
    builder.flush()  # count every pending record before comparing
    messages = builder.tally.messages
    before = _existing(directory, week)
    had = before.get("messages") if before else None
    if isinstance(had, int) and had > messages:
        builder.out.discard()
        outcome.kept.append(f"{week} ({had:,} messages; the logs given hold {messages:,})")
        return
    site = job.site_info(history=True)
    site.period = _week_text(job.clock, week, builder)
    site.lines = reading.lines
    site.inputs = describe_inputs(job.logs)
    site.messages = messages
    site.left_out = left_out(job.selection)
    builder.finish(site, [])
    data = marker(builder, reading, messages)
    data.update(week=week, made=job.clock.stamp(int(job.now)), problems=0)
    builder.out.write_marker(data)
    builder.out.commit()
    outcome.written.append(str(directory / week))


def _weeks(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir()
                  if WEEK.match(p.name) and p.is_dir() and not p.is_symlink()
                  and (p / MARKER).is_file())


def _expire(directory: Path, keep_weeks: int, job: Job, built: set[str]) -> None:
    """Remove the weeks older than `keep_weeks` before today, except those this run
    has just built (a run over old logs asked for them)."""
    if keep_weeks <= 0:
        return
    today = Clock.date_of(job.clock.day(int(job.now)))
    oldest = today - timedelta(weeks=keep_weeks - 1)
    year, number, _ = oldest.isocalendar()
    limit = f"{year:04d}-W{number:02d}"
    for week in _weeks(directory):
        if week < limit and week not in built:
            shutil.rmtree(directory / week, ignore_errors=True)


def _index(job: Job, directory: Path, pages: Pages, reading: Reading) -> str:
    current = job.clock.week(int(job.now))
    weeks: list[dict[str, Any]] = []
    for week in reversed(_weeks(directory)):
        data = _existing(directory, week) or {}

        def number(key: str, data: dict[str, Any] = data) -> int:
            value = data.get(key)
            return value if isinstance(value, int) else 0

        first, last = data.get("first"), data.get("last")
        weeks.append({
            "week": week, "current": week == current, "messages": number("messages"),
            "size": number("size"), "files": number("attachments"),
            "start": job.clock.stamp(first) if isinstance(first, int) else "",
            "end": job.clock.stamp(last) if isinstance(last, int) else "",
            "made": str(data.get("made", "")),
        })
    chart = None
    if weeks:
        shown = list(reversed(weeks[:52]))
        chart = bar_chart("Messages per week",
                          [(w["week"][5:], w["week"], w["messages"]) for w in shown])
    site = job.site_info()
    site.problems = reading.problems
    return pages.render("history.html", site=site, current="index.html", weeks=weeks,
                        chart=chart, navigation=(), problems=reading.listed)

