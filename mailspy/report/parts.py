"""Reading big logs with two processes: each renders and counts every other page.

Both processes read every line (parsing is a small share of the work, and both need
every record to number the pages alike); each renders the rows, writes the message
log pages and counts the messages of its own pages only. Then the helper hands what it
counted (a few thousand counters and the newest rows of each address and domain)
through a pipe to the first process, which merges it and writes the other pages.
Standard input cannot be read twice, and a small log is not worth a second process:
those are read by one.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn

from mailspy.report.build import SiteBuilder
from mailspy.report.site import SiteDir
from mailspy.report.sources import STDIN

__all__ = ["SPLIT_BYTES", "Helper", "abandon", "collect", "finish_helper", "parts_for",
           "start_helper"]

SPLIT_BYTES = 8_000_000  # about 40,000 summary lines


def parts_for(logs: Sequence[str]) -> int:
    if STDIN in logs or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        return 1
    size = sum(os.path.getsize(p) for p in logs if os.path.isfile(p))
    return 2 if size >= SPLIT_BYTES else 1


@dataclass
class Helper:
    pid: int
    pipe: int  # the read end, in the first process


def start_helper(out: SiteDir) -> tuple[int, Helper | int]:
    """Fork: (0, the helper) in the first process, (1, the pipe's write end) in the
    helper. No writer thread is running while the process is copied."""
    out.pause()
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        out.resume()
        return 1, write_end
    os.close(write_end)
    out.resume()
    return 0, Helper(pid, read_end)


def finish_helper(builder: SiteBuilder, pipe: int) -> NoReturn:
    """In the helper, after the last record: its last page, its files, its counts
    sent to the first process; then exit without running anything of the parent's."""
    status = 1
    try:
        builder.flush()
        builder.write_held(has_next=False)
        builder.out.close()
        counted = builder.tally.export()
        counted["files_written"] = builder.out.files
        with os.fdopen(pipe, "wb") as sink:
            pickle.dump(counted, sink, protocol=pickle.HIGHEST_PROTOCOL)
        status = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(status)


def collect(helper: Helper, builder: SiteBuilder) -> None:
    """In the first process: merge what the helper counted; its pages are written.
    Until the helper has finished, the pages of addresses are created (empty)."""
    try:
        with os.fdopen(helper.pipe, "rb") as source:  # closed, whatever happens: a
            poll = select.poll()                     # helper blocked writing then exits
            poll.register(source, select.POLLIN)
            builder.reserve_pages(lambda: bool(poll.poll(0)))
            counted = pickle.load(source)
    except (EOFError, pickle.UnpicklingError) as exc:
        raise OSError("the second process reading the logs failed; see the messages "
                      "above") from exc
    finally:
        _, status = os.waitpid(helper.pid, 0)
    if status != 0:
        raise OSError(f"the second process reading the logs failed (wait status {status})")
    builder.tally.absorb(counted)
    builder.out.files += counted.get("files_written", 0)


def abandon(helper: Helper) -> None:
    """After a failure in the first process: close the pipe (the helper's write fails
    and it exits), then reap it."""
    with contextlib.suppress(OSError):
        os.close(helper.pipe)
    os.waitpid(helper.pid, 0)
