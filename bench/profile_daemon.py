"""Where the daemon's Python time goes under load: py-spy on a running mailspy.

    .venv/bin/python bench/profile_daemon.py [--rules N] [--seconds S] [--raw FILE]

Starts mailspy on a free TCP port (no rules files: the original usage, `-f` alone; or
N generated rules), keeps the milter client sending it mail as a server sees it, four
connections at a time (the O4/L4 rows' client and corpus), and samples the daemon with
`py-spy record --gil` (only the thread holding the interpreter lock: where the Python
time goes) for S seconds. Prints the share of the samples by stage; --raw keeps py-spy's
collapsed stacks. Needs py-spy (`make bench` installs it) and the right to trace the
daemon (root, or ptrace allowed). The daemon is stopped by its pid, also on failure.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script: make `bench` and `tests` importable
    sys.path.insert(0, str(ROOT))

from bench.corpus import make_real_corpus  # noqa: E402
from bench.daemons import address, start_mailspy, start_original  # noqa: E402
from bench.measure_client import client_rate  # noqa: E402
from bench.rulegen import write_rules  # noqa: E402
from tests.e2e.postfix import public_tmpdir  # noqa: E402

# (stage, what in a stack says the sample is in it), the first that matches wins.
STAGES = (
    ("MIME walk for attachment names", ("Message.attachment_outline", "Message.attachments")),
    ("decoding the subject", ("Message.subject",)),
    ("rule evaluation (index, matchers, field values)", ("evaluate (",)),
    ("formatting and writing the records", ("format_summary", "Recorder._write",
                                            "LogFile.write", "actions/")),
    ("spooling copies", ("spool/",)),
    ("callback plumbing (connect, envelope, headers, body buffer, end-of-message, "
     "close)", ("adapter.py", "dispatch.py", "message/")),
    ("pymilter's Python layer and mailspy's loop", ("Milter/__init__", "milter/loop.py")),
)
UNATTRIBUTED = "no Python frame (C code holding the lock: libmilter, pymilter's C layer)"


def stage_of(stack: str) -> str:
    if not stack:
        return UNATTRIBUTED
    for stage, marks in STAGES:
        if any(mark in stack for mark in marks):
            return stage
    return "other: " + stack.rsplit(";", 1)[-1]


def shares(raw: str) -> tuple[int, Counter[str]]:
    """(samples, samples by stage) from py-spy's collapsed stacks ("a;b;c COUNT")."""
    by_stage: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        by_stage[stage_of(stack)] += int(count)
    return total, by_stage


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=0, help="generated rules (0: none)")
    parser.add_argument("--seconds", type=float, default=25.0)
    parser.add_argument("--raw", metavar="FILE", help="keep py-spy's collapsed stacks")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) \
        or shutil.which("py-spy")
    if py_spy is None:
        print("profile: py-spy is not installed; run `make bench` once", file=sys.stderr)
        return 2
    workdir = public_tmpdir("mailspy-profile-")
    corpus = make_real_corpus(2_000)
    raw_file = Path(args.raw) if args.raw else workdir / "stacks.txt"
    try:
        if args.rules:
            milter = start_mailspy(write_rules(workdir / "rules", args.rules),
                                   workdir / "mailspy", header_log=False)
        else:
            milter = start_original(workdir / "mailspy")
        try:
            target = [address(milter)]
            client_rate(target, corpus, 200, 4)  # warm up
            done = threading.Event()

            def load() -> None:
                while not done.is_set():
                    client_rate(target, corpus, 500, 4)

            sender = threading.Thread(target=load, daemon=True)
            sender.start()
            try:
                subprocess.run([py_spy, "record", "--gil", "--rate", "200", "--duration",
                                str(int(args.seconds)), "--format", "raw", "--output",
                                str(raw_file), "--pid", str(milter.pid)],
                               check=True, capture_output=True, text=True)
            finally:
                done.set()
                sender.join(timeout=60)
        finally:
            milter.stop()
        total, by_stage = shares(raw_file.read_text())
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    usage = f"{args.rules:,} rules" if args.rules else "the original usage (no rules files)"
    print(f"py-spy --gil, {total} samples, mailspy in {usage}, 4 connections:")
    for stage, count in by_stage.most_common():
        print(f"  {100 * count / max(total, 1):5.1f} %  {stage}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
