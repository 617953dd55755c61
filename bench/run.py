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
from bench.corpus import make_corpus  # noqa: E402
from bench.daemons import start_listening, start_mailspy, start_null  # noqa: E402
from bench.measure_client import eom_rows, memory_row, throughput_rows  # noqa: E402
from bench.measure_hostile import hostile_row  # noqa: E402
from bench.measure_postfix import postfix_rows  # noqa: E402
from bench.measure_reload import reload_row  # noqa: E402
from bench.measure_report import report_rows  # noqa: E402
from bench.measure_rules import check_rules_row, evaluation_row  # noqa: E402
from bench.measure_sendmail import sendmail_rows  # noqa: E402
from bench.report import Row, table  # noqa: E402
from bench.rulegen import write_rules  # noqa: E402
from bench.sizes import FULL, SMOKE, Sizes  # noqa: E402
from tests.e2e.postfix import MilterProcess, postfix_available, public_tmpdir  # noqa: E402
from tests.e2e.sendmail import sendmail_unavailable  # noqa: E402

# Rows with a target first, in the order, then the context rows.
ROW_IDS = ("C4", "P4", "P16", "R", "E", "H", "M", "K", "RP1", "RP2", "RP3", "C1", "L4",
           "P1", "N1", "N4", "N16", "S4", "T4", "RL")
# Which rows each daemon-driven measure gives, for --only.
DAEMON_ROWS = {"C4", "C1", "L4", "P4", "P16", "P1", "N1", "N4", "N16", "M", "S4", "T4"}
# Names --only takes for several rows at once.
GROUPS = {"REPORT": ("RP1", "RP2", "RP3")}


class Progress:
    """Progress lines on stderr, stamped with the seconds since the start."""

    def __init__(self) -> None:
        self.began = time.monotonic()

    def __call__(self, text: str) -> None:
        print(f"[{time.monotonic() - self.began:6.1f}s] {text}", file=sys.stderr, flush=True)


def measure(workdir: Path, sizes: Sizes, progress: Progress,
            only: frozenset[str] = frozenset(ROW_IDS)) -> list[Row]:
    corpus = make_corpus(200, body_size=sizes.message_size)
    rows = []
    if "R" in only:
        rows.append(evaluation_row(workdir, corpus, sizes, progress))  # quiet machine
    if "K" in only:
        rows.append(check_rules_row(workdir, sizes, progress))
    if only & DAEMON_ROWS:
        rows += _daemon_rows(workdir, corpus, sizes, progress)
    if "E" in only:
        rows += eom_rows(workdir, corpus, sizes, progress)
    if "H" in only:
        rows.append(hostile_row(workdir, corpus, sizes, progress))
    if only & set(GROUPS["REPORT"]):
        rows += report_rows(workdir, sizes, progress)
    if "RL" in only:
        rows.append(reload_row(workdir, corpus, sizes, progress))
    order = {row_id: n for n, row_id in enumerate(ROW_IDS)}
    return sorted(rows, key=lambda row: order.get(row.id, len(order)))


def _daemon_rows(workdir: Path, corpus, sizes: Sizes, progress: Progress) -> list[Row]:
    """Throughput, Postfix and memory rows: one mailspy and its baselines, started once."""
    rules_dir = write_rules(workdir / "rules-daemon", sizes.daemon_rules)
    mailspy_dir = workdir / "mailspy"
    milters: list[MilterProcess] = []
    rows: list[Row] = []
    try:
        milters.append(start_null(workdir))
        milters.append(start_listening(workdir))
        milters.append(start_mailspy(rules_dir, mailspy_dir))
        null, listening, mailspy = milters
        progress(f"null milter pid {null.pid}, mailspy pid {mailspy.pid} "
                 f"({sizes.daemon_rules:,} rules)")
        rows += throughput_rows(mailspy, null, listening, mailspy_dir, corpus, sizes, progress)
        rows += postfix_rows(mailspy, null, mailspy_dir, sizes, progress)
        rows += sendmail_rows(mailspy, mailspy_dir, rules_dir, workdir, sizes, progress)
        rows.append(memory_row(mailspy, mailspy_dir, corpus, sizes, progress))  # grows it
    finally:
        for milter in reversed(milters):
            milter.stop()
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
    needs_mtas = not args.only or bool(args.only & DAEMON_ROWS)
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
        text = document.render(rows, machine.describe(), seconds, args.smoke)
        Path(args.write).write_text(text)
        progress(f"wrote {args.write}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
