"""`make bench`: measure mailspy against its ceilings and print the table.

    .venv/bin/python bench/run.py [--smoke] [--only R,H,report] [--write FILE] [--keep]

--smoke runs every measure at tiny sizes in well under a minute (what `make test` runs:
the figures mean nothing then, only that every row is produced). --only runs just the
measures behind the rows named (a measure may give more rows than those asked for).
Everything it starts (milters, private Postfix and sendmail instances) listens on
127.0.0.1 and is stopped by pid, by `postfix -c DIR stop` or by sendmail's process group,
also on failure.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(ROOT))

from bench import document, machine  # noqa: E402
from bench.corpus import make_corpus, make_real_corpus  # noqa: E402
from bench.daemons import (  # noqa: E402
    start_listening,
    start_mailspy,
    start_null,
    start_original,
)
from bench.measure_client import eom_rows, memory_row, throughput_rows  # noqa: E402
from bench.measure_hostile import hostile_row  # noqa: E402
from bench.measure_metrics import scrape_row  # noqa: E402
from bench.measure_postfix import postfix_rows  # noqa: E402
from bench.measure_reload import reload_row  # noqa: E402
from bench.measure_report import report_rows  # noqa: E402
from bench.measure_rules import check_rules_row, evaluation_row  # noqa: E402
from bench.measure_scaling import scaling_rows  # noqa: E402
from bench.measure_sendmail import sendmail_rows, socket_folder  # noqa: E402
from bench.measure_stages import STAGE_ROWS, stage_rows  # noqa: E402
from bench.report import Row, table  # noqa: E402
from bench.rulegen import write_rules  # noqa: E402
from bench.sizes import FULL, SMOKE, Sizes  # noqa: E402
from tests.e2e.postfix import MilterProcess, postfix_available, public_tmpdir  # noqa: E402
from tests.e2e.sendmail import sendmail_unavailable  # noqa: E402

# Rows with a target first, then the context rows, then where the time of a message goes.
ROW_IDS = ("O4", "L4", "C4", "CPU0", "CPU1K", "P4", "P16", "N16", "R", "E", "H", "M", "K",
           "RP1", "RP2", "RP3", "C1", "U4", "SAT1", "SAT2", "P1", "N1", "N4", "S4", "T4", "RL",
           "MS", *STAGE_ROWS)
# Which rows each daemon-driven measure gives, for --only.
CLIENT_ROWS = {"O4", "L4", "C4", "CPU0", "CPU1K", "C1", "U4"}
SCALING_ROWS = {"SAT1", "SAT2"}
POSTFIX_ROWS = {"P4", "P16", "P1", "N1", "N4", "N16"}
DAEMON_ROWS = {*CLIENT_ROWS, *SCALING_ROWS, *POSTFIX_ROWS, "M", "S4", "T4"}
# Names --only takes for several rows at once.
GROUPS = {"REPORT": ("RP1", "RP2", "RP3"), "STAGES": tuple(STAGE_ROWS),
          "CLIENT": tuple(sorted(CLIENT_ROWS)), "SCALING": tuple(sorted(SCALING_ROWS))}


class Progress:
    """Progress lines on stderr, stamped with the seconds since the start."""

    def __init__(self) -> None:
        self.began = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.began:6.1f}s] {text}", file=sys.stderr, flush=True)


def measure(workdir: Path, sizes: Sizes, progress: Progress,
            only: frozenset[str] = frozenset(ROW_IDS)) -> list[Row]:
    corpus = make_corpus(200, body_size=sizes.message_size)
    real = make_real_corpus(sizes.real_corpus)
    rows = []
    if "R" in only:
        rows.append(evaluation_row(workdir, corpus, sizes, progress))  # quiet machine
    if only & set(STAGE_ROWS):
        rows += stage_rows(workdir / "stages", real, sizes, progress)
    if "K" in only:
        rows.append(check_rules_row(workdir, sizes, progress))
    if only & DAEMON_ROWS:
        rows += _daemon_rows(workdir, corpus, real, sizes, progress, only)
    if "E" in only:
        rows += eom_rows(workdir, corpus, sizes, progress)
    if "H" in only:
        rows.append(hostile_row(workdir, corpus, sizes, progress))
    if only & set(GROUPS["REPORT"]):
        rows += report_rows(workdir, sizes, progress)
    if "RL" in only:
        rows.append(reload_row(workdir, corpus, sizes, progress))
    if "MS" in only:
        rows.append(scrape_row(workdir, sizes, progress))
    order = {row_id: n for n, row_id in enumerate(ROW_IDS)}
    return sorted(rows, key=lambda row: order.get(row.id, len(order)))


def _daemon_rows(workdir: Path, corpus, real, sizes: Sizes, progress: Progress,
                 only: frozenset[str]) -> list[Row]:
    """Throughput, Postfix and memory rows: mailspy (with the rules, and in the original
    usage) and its baselines, started once; the milter rows on mail as a server sees it."""
    rules_dir = write_rules(workdir / "rules-daemon", sizes.daemon_rules)
    mailspy_dir = workdir / "mailspy"
    original_dir = workdir / "original"
    sockets = socket_folder()  # unix sockets where a sendmail may reach them too
    milters: dict[str, MilterProcess] = {}
    rows: list[Row] = []
    try:
        milters["null"] = start_null(workdir)
        milters["listening"] = start_listening(workdir)
        milters["mailspy"] = start_mailspy(rules_dir, mailspy_dir)
        milters["original"] = start_original(original_dir)
        mailspy = milters["mailspy"]
        progress(f"null milter pid {milters['null'].pid}, mailspy pid {mailspy.pid} "
                 f"({sizes.daemon_rules:,} rules), original usage pid "
                 f"{milters['original'].pid}")
        if only & CLIENT_ROWS:
            milters["listening-unix"] = start_listening(workdir, sockets / "listening.sock")
            milters["original-unix"] = start_original(workdir / "original-unix",
                                                      sockets / "original.sock")
            rows += throughput_rows(
                milters, {"mailspy": mailspy_dir, "original": original_dir,
                          "original-unix": workdir / "original-unix"}, real, sizes, progress)
        if only & SCALING_ROWS:
            milters["second"] = start_original(workdir / "second")
            rows += scaling_rows(milters["original"], milters["second"], real, sizes,
                                 progress)
        if only & POSTFIX_ROWS:
            rows += postfix_rows(mailspy, milters["null"], mailspy_dir, sizes, progress)
        if only & {"S4", "T4"}:
            rows += sendmail_rows(mailspy, mailspy_dir, rules_dir, workdir, sizes, progress)
        if "M" in only:
            rows.append(memory_row(mailspy, mailspy_dir, corpus, sizes, progress))  # grows it
    finally:
        for milter in reversed(milters.values()):
            milter.stop()
        shutil.rmtree(sockets, ignore_errors=True)
    return rows


def _row_ids(text: str) -> frozenset[str]:
    wanted = frozenset(part.strip().upper() for part in text.split(",") if part.strip())
    wanted = frozenset(row for part in wanted for row in GROUPS.get(part, (part,)))
    unknown = wanted - set(ROW_IDS)
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"rows are {', '.join(ROW_IDS)}; not "
                                         f"{', '.join(sorted(unknown)) or 'none'}")
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for make test")
    parser.add_argument("--write", metavar="FILE", help="write the Markdown report there")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--only", type=_row_ids, metavar="IDS",
                        help="measure only these rows, comma-separated (e.g. R,H; report "
                        "for RP1-RP3); not with --write")
    args = parser.parse_args(argv)
    if args.only and args.write:
        parser.error("--write needs every row: run without --only")
    needs_mtas = not args.only or bool(args.only & (POSTFIX_ROWS | {"S4", "T4"}))
    if needs_mtas and not postfix_available():
        print("bench: Postfix is not installed; run `make deps` first", file=sys.stderr)
        return 2
    if needs_mtas and sendmail_unavailable():
        print(f"bench: {sendmail_unavailable()}; the sendmail row needs it", file=sys.stderr)
        return 2
    sizes = SMOKE if args.smoke else FULL
    progress = Progress()
    workdir = public_tmpdir("mailspy-bench-")
    try:
        rows = measure(workdir, sizes, progress, args.only or frozenset(ROW_IDS))
    finally:
        if args.keep:
            progress(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    seconds = time.monotonic() - progress.began
    print(table(rows))
    print(f"\n{sum(r.result == 'FAIL' for r in rows)} of "
          f"{sum(r.target is not None for r in rows)} targets missed; {seconds:.0f} s")
    if args.write:
        notes = Path(__file__).with_name("notes.md")
        text = document.render(rows, machine.describe(), seconds, args.smoke,
                               notes.read_text() if notes.exists() else "")
        Path(args.write).write_text(text)
        progress(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
