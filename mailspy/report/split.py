"""Pages of addresses and domains written by two processes at once.

After the pass over the logs, what is left is thousands of independent pages whose
rows are all in memory: a forked child writes every other one, from the same memory
(copy-on-write; the collector was frozen so it copies little), while this process
writes the rest. On one CPU, or for a small site, everything is written here.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import TypeVar

from mailspy.report.site import SiteDir

__all__ = ["MINIMUM", "write_shared"]

MINIMUM = 1_000  # pages: below this a fork costs more than it saves
Item = TypeVar("Item")


def write_shared(items: Sequence[Item], write: Callable[[Item], None], out: SiteDir) -> None:
    if len(items) < MINIMUM or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        for item in items:
            write(item)
        return
    out.pause()  # no writer thread in the middle of a write when the process is copied
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: every other page, through a writer of its own; never returns
        status = 1
        try:
            out.resume()
            for item in items[1::2]:
                write(item)
            out.pause()
            status = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(status)
    try:
        out.resume()
        for item in items[0::2]:
            write(item)
    finally:
        _, status = os.waitpid(pid, 0)
    if status != 0:
        raise OSError(f"the process writing half of the pages failed (wait status {status})")
    out.files += len(items[1::2])
