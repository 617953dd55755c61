"""`mailspy report` against the original's htmlspy.pl, on generated summary logs.

Both read the same log (bench/summary_logs.py: 3,000 addresses over 60 domains, 30 % of
the messages with attachments) and write their whole site; each runs as a process of its
own, timed wall-clock, its peak resident memory read from wait4(). htmlspy.pl is not
part of mailspy (GPL, the original distribution): it is copied at run time from the
original's files beside the repository (../shared/original/, or $MAILSPY_HTMLSPY), and
when it is not there the row says so and has no ratio.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.report import Row, Target
from bench.sizes import Sizes
from bench.summary_logs import write_text_log

Progress = Callable[[str], None]
ROOT = Path(__file__).resolve().parents[1]
MB = 1_000_000


@dataclass(frozen=True)
class Run:
    seconds: float
    peak_mb: float


def htmlspy_source() -> Path | None:
    """The original's htmlspy.pl: $MAILSPY_HTMLSPY, else ../shared/original/htmlspy.pl."""
    given = os.environ.get("MAILSPY_HTMLSPY")
    candidate = Path(given) if given else ROOT.parent / "shared" / "original" / "htmlspy.pl"
    return candidate if candidate.is_file() and shutil.which("perl") else None


# Linux keeps a process's peak resident memory across exec, so a program started from
# the bench would count the bench's own memory (the log it generated) as its peak. A
# small Python process starts the program instead and reports, on its last line of
# standard error, the program's wall time and the peak of that child alone.
TIMED = ("import resource, subprocess, sys, time\n"
         "began = time.perf_counter()\n"
         "code = subprocess.call(sys.argv[1:])\n"
         "seconds = time.perf_counter() - began\n"
         "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
         "print(f'{seconds} {peak}', file=sys.stderr)\n"
         "sys.exit(code)\n")


def measured(argv: list[str], *, stdin: Path | None = None, cwd: Path | None = None,
             what: str) -> Run:
    """Wall time and peak RSS of the program alone (see TIMED)."""
    source = open(stdin, "rb") if stdin else None  # noqa: SIM115 - closed below
    try:
        process = subprocess.run([sys.executable, "-c", TIMED, *argv],
                                 stdin=source or subprocess.DEVNULL, cwd=cwd,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    finally:
        if source:
            source.close()
    errors = process.stderr.decode("utf-8", "replace")
    if process.returncode != 0:
        raise RuntimeError(f"{what} exited {process.returncode}: {errors[-2000:]!r}")
    seconds, peak = errors.rstrip("\n").rsplit("\n", 1)[-1].split()
    return Run(float(seconds), int(peak) * 1024 / MB)


def mailspy_report(log: Path, out: Path) -> Run:
    return measured([sys.executable, "-m", "mailspy", "report", "--tz", "UTC", "-o",
                     str(out), str(log)], what="mailspy report")


def htmlspy(script: Path, log: Path, workdir: Path) -> Run:
    """htmlspy.pl OUTPUT_DIR < log, in a folder of its own (it reads mailspy.conf from
    the current folder, and chdirs into the output)."""
    home = workdir / "htmlspy"
    home.mkdir(parents=True)
    copy = home / "htmlspy.pl"
    shutil.copyfile(script, copy)
    (home / "out").mkdir()
    return measured(["perl", str(copy), str(home / "out")], stdin=log, cwd=home,
                    what="htmlspy.pl")


def _files(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file())


def generated(path: Path, lines: int) -> Path:
    """A generated log, on disk before anything is timed: the kernel writing back
    hundreds of MB of it would slow whichever program runs next."""
    write_text_log(path, lines)
    os.sync()
    return path


def report_rows(workdir: Path, sizes: Sizes, progress: Progress) -> list[Row]:
    small = generated(workdir / "report-small.log", sizes.report_small)
    progress(f"report: generated a log of {sizes.report_small:,} lines")
    script = htmlspy_source()
    ours_runs: list[Run] = []
    theirs_runs: list[Run] = []
    # In turns, mailspy first: htmlspy.pl deletes thousands of temporary files, and on
    # ext4 creating files stays slower for a minute or more after deletions; mailspy
    # deletes nothing. So each gets one run that no deletion of the other's precedes.
    for rep in range(sizes.report_reps):
        for who in ("mailspy", "htmlspy"):
            if who == "mailspy":
                out = workdir / f"report-small-{rep}"
                ours_runs.append(mailspy_report(small, out))
                progress(f"report: mailspy on {sizes.report_small:,} lines in "
                         f"{ours_runs[-1].seconds:.1f} s, peak {ours_runs[-1].peak_mb:.0f} MB, "
                         f"{_files(out):,} files")
            elif script is not None:
                home = workdir / f"htmlspy-{rep}"
                theirs_runs.append(htmlspy(script, small, home))
                progress(f"report: htmlspy.pl on {sizes.report_small:,} lines in "
                         f"{theirs_runs[-1].seconds:.1f} s, peak "
                         f"{theirs_runs[-1].peak_mb:.0f} MB, "
                         f"{_files(home / 'htmlspy' / 'out'):,} files")
    ours = min(ours_runs, key=lambda run: run.seconds)
    best = f" (best of {sizes.report_reps} runs each, in turns)" \
        if sizes.report_reps > 1 else ""
    label = (f"mailspy report on a {sizes.report_small:,}-line text log (3,000 addresses, "
             f"60 domains, 30 % with attachments): htmlspy.pl's wall time ÷ mailspy's{best}")
    value = f"{ours.seconds:.2f} s; peak RSS {ours.peak_mb:.0f} MB"
    if script is None:
        rows = [Row("RP1", label, value, "htmlspy.pl not found", float("nan"),
                    note="htmlspy.pl not found")]
    else:
        theirs = min(theirs_runs, key=lambda run: run.seconds)
        rows = [Row("RP1", label, value,
                    f"htmlspy.pl: {theirs.seconds:.2f} s; peak RSS {theirs.peak_mb:.0f} MB",
                    theirs.seconds / ours.seconds, Target("≥", 10))]
    large = generated(workdir / "report-large.log", sizes.report_large)
    progress(f"report: generated a log of {sizes.report_large:,} lines")
    big = mailspy_report(large, workdir / "report-large")
    progress(f"report: mailspy on {sizes.report_large:,} lines in {big.seconds:.1f} s, "
             f"peak {big.peak_mb:.0f} MB")
    shown = f"{big.seconds:.1f} s; peak RSS {big.peak_mb:.0f} MB"
    per_line = f"{big.seconds / sizes.report_large * 1e6:.0f} µs a line"
    rows.append(Row("RP2", f"mailspy report on a {sizes.report_large:,}-line text log "
                    "(wall time)", shown, per_line, big.seconds, Target("<", 60, " s")))
    rows.append(Row("RP3", f"mailspy report on a {sizes.report_large:,}-line text log "
                    "(peak resident memory, MB = 10^6 bytes)", shown,
                    f"{sizes.report_small:,} lines: {ours.peak_mb:.0f} MB", big.peak_mb,
                    Target("<", 300, " MB")))
    return rows
