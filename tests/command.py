"""Running `mailspy` as a postmaster does, its output and exit status captured.

In this process (`cli.main`), which costs nothing: the commands the tests run
this way — check-rules, test-rules, replay, spool — start no thread and change
no global state. `mailspy_process` runs a separate process, for what needs one
(the entry point itself, a daemon).
"""

from __future__ import annotations

import contextlib
import io
import subprocess
import sys

from mailspy import cli


def mailspy(*args: str) -> subprocess.CompletedProcess[str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(list(args))
        except SystemExit as stop:  # argparse: --help, or a usage error
            code = stop.code if isinstance(stop.code, int) else int(stop.code is not None)
    return subprocess.CompletedProcess(["mailspy", *args], code, out.getvalue(),
                                       err.getvalue())


def mailspy_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailspy", *args], capture_output=True,
                          text=True, timeout=120)
