"""A report from start to end: read every line once, route each message to the
site (or the week's site) it belongs to, write, swap in."""

from __future__ import annotations

import functools
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mailspy.report.build import PROBLEMS_SHOWN, SiteBuilder
from mailspy.report.clock import Clock
from mailspy.report.layouts import LineReader
from mailspy.report.pages import Links, Pages, SiteInfo
from mailspy.report.parts import Helper, abandon, collect, finish_helper, parts_for, start_helper
from mailspy.report.pseudonym import Pseudonymizer
from mailspy.report.records import Problem, Record
from mailspy.report.select import Selection
from mailspy.report.settings import Settings
from mailspy.report.site import SiteDir
from mailspy.report.sources import STDIN, lines
from mailspy.report.text import visible

WITHHELD = "(withheld: this report hides people)"

__all__ = ["Outcome", "Reading", "stream", "write_report"]


@functools.cache
def mailspy_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mailspy")
    except PackageNotFoundError:
        return "(unknown version)"


@dataclass
class Reading:
    """What reading the logs found besides the messages: counts and problems."""

    lines: int = 0
    problems: int = 0
    unreadable: int = 0  # inputs that could not be opened or read to the end
    listed: list[Problem] = field(default_factory=list)

    def problem(self, problem: Problem) -> None:
        self.problems += 1
        if problem.unreadable:
            self.unreadable += 1
        if len(self.listed) < PROBLEMS_SHOWN:
            self.listed.append(problem)


def describe_inputs(logs: list[str]) -> str:
    if len(logs) == 1:
        return "standard input" if logs[0] == STDIN else Path(logs[0]).name
    return f"{len(logs)} logs"


def left_out(selection: Selection) -> str:
    parts = []
    if selection.outside_period:
        parts.append(f"{selection.outside_period:,} outside the period")
    if selection.not_listed:
        parts.append(f"{selection.not_listed:,} involving nobody listed")
    if selection.local_only:
        parts.append(f"{selection.local_only:,} that never left the site")
    if selection.local_recipients_dropped:
        parts.append(f"the local recipients of {selection.local_recipients_dropped:,} "
                     "messages from the site")
    return "; ".join(parts)


@dataclass
class Outcome:
    messages: int
    reading: Reading
    written: list[str]  # the sites written (folders)
    kept: list[str] = field(default_factory=list)  # history weeks left as they were


@dataclass
class Job:
    logs: list[str]
    settings: Settings
    selection: Selection
    clock: Clock
    pseudonymizer: Pseudonymizer | None = None
    now: float = field(default_factory=time.time)

    def site_info(self, history: bool = False) -> SiteInfo:
        return SiteInfo(title=self.settings.title, zone=self.clock.name,
                        version=mailspy_version(), generated=self.clock.stamp(int(self.now)),
                        history=history, pseudonymized=self.pseudonymizer is not None)


def stream(job: Job, reading: Reading, route: Callable[[Record | int], SiteBuilder],
           skip: Callable[[], bool] | None = None) -> int:
    """Read every line once; feed each record the report shows (selected, then
    pseudonymized) to the builder `route` picks; count the lines that are not records.
    The number of records shown.

    While `skip()` says the next record is another process's (see parts.py), a line in
    mailspy's own layout is not read whole: its time (an int) stands for it; that is
    only done when the time alone decides whether the record is shown.

    The cyclic garbage collector is paused meanwhile: the pass allocates millions of
    tuples and strings that hold no cycles, and would otherwise scan them over and over
    for nothing; what the pass kept is then frozen, out of the collector's way while
    the pages are written.
    """
    selection = job.selection
    apply, in_period = selection.apply, selection.in_period
    everything = selection.everything
    disguise = job.pseudonymizer.record if job.pseudonymizer else None
    hide = disguise is not None or selection.only is not None
    if not selection.by_time_only:
        skip = None
    reader = LineReader()
    read, epoch_only = reader.read, reader.epoch_only
    count = 0
    enabled = gc.isenabled()
    gc.disable()
    try:
        for source, number, line in lines(job.logs, reading.problem):
            reading.lines += 1
            if skip is not None and skip():
                epoch = epoch_only(line)
                if epoch is not None:
                    if everything or in_period(epoch):
                        route(epoch).add(epoch)
                        count += 1
                    continue
            result = read(line)
            if type(result) is not Record:
                if result is not None:
                    reading.problem(broken_line(source, number, line, result, hide))  # type: ignore[arg-type]
                continue
            chosen = result if everything else apply(result)
            if chosen is None:
                continue
            if disguise is not None:
                chosen = disguise(chosen)
            route(chosen).add(chosen)
            count += 1
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    return count


def broken_line(source: str, number: int, line: str, reason: str, hide: bool) -> Problem:
    """A line that could not be read, as the problems page lists it. A report that hides
    people (pseudonyms, `--only`) shows where the line is and what is wrong with it, but
    neither the line nor the value quoted in the reason: it may hold anybody's address
    or subject."""
    if hide:
        return Problem(source, number, reason.split(":", 1)[0], WITHHELD)
    return Problem(source, number, reason, visible(line.rstrip("\r\n")[:160]))


def period_text(clock: Clock, builder: SiteBuilder, selection: Selection) -> str:
    tally = builder.tally
    if tally.first is None or tally.last is None:
        return ""
    text = f"Messages from {clock.stamp(tally.first)} to {clock.stamp(tally.last)}"
    if selection.since is not None or selection.until is not None:
        since = clock.stamp(selection.since) if selection.since is not None else "the start"
        until = clock.stamp(selection.until) if selection.until is not None else "the end"
        text += f" (period asked: {since} to {until})"
    return text


def write_report(job: Job, output: Path) -> Outcome:
    """One site at `output` for everything the logs hold."""
    reading = Reading()
    out = SiteDir(output)
    helper: Helper | None = None
    try:
        pages = Pages()
        info = job.site_info()
        part, parts = 0, parts_for(job.logs)
        if parts == 2:
            part, started = start_helper(out)
            if isinstance(started, Helper):
                helper = started
        builder = SiteBuilder(out, job.settings, pages, Links(), job.clock, info, part, parts)
        messages = stream(job, reading, lambda _record: builder,
                          builder.next_is_another_part if parts > 1 else None)
        if part == 1:
            assert isinstance(started, int)
            finish_helper(builder, started)  # never returns
        builder.flush()  # every record counted before the totals are read
        if helper is not None:
            started, helper = helper, None
            collect(started, builder)  # reaps the helper, whatever happens
        info = job.site_info()
        info.period = period_text(job.clock, builder, job.selection)
        info.lines = reading.lines
        info.inputs = describe_inputs(job.logs)
        info.messages = messages
        info.left_out = left_out(job.selection)
        info.problems = reading.problems
        builder.finish(info, reading.listed)
        out.write_marker(marker(builder, reading, messages))
        out.commit()
    except BaseException:
        if helper is not None:
            abandon(helper)
        out.discard()
        raise
    return Outcome(messages, reading, [str(output)])


def marker(builder: SiteBuilder, reading: Reading, messages: int) -> dict[str, object]:
    """report.json: what the site holds, for scripts and for the next run."""
    tally = builder.tally
    return {"generator": "mailspy report", "version": mailspy_version(),
            "messages": messages, "size": tally.size, "attachments": tally.files,
            "first": tally.first, "last": tally.last, "lines": reading.lines,
            "problems": reading.problems, "files": builder.out.files + 1}


def warn(text: str) -> None:
    print(f"mailspy report: {text}", file=sys.stderr)
