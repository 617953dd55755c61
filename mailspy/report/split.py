"""Pages of addresses and domains written by several processes at once.

After the pass over the logs, what is left is thousands of independent pages whose
rows are all in memory: a forked child writes its share, from the same memory
(copy-on-write; the collector was frozen so it copies little), while this process
writes its own. Two processes, each writing as it renders, with no writer thread:
creating a file takes the lock of its folder, so creating thousands of files in one
folder goes one file at a time however many processes wait for it; while one process
creates a file, the other renders its next page. On one CPU, or for a small site,
everything is written here.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

from mailspy.report.site import SiteDir

__all__ = ["MINIMUM", "write_shared"]

MINIMUM = 1_000  # pages: below this a fork costs more than it saves
WAYS = 2  # processes writing pages, this one included
Item = TypeVar("Item")


def write_shared(items: Sequence[Item], write: Callable[[Item], None], out: SiteDir) -> None:
    ways = WAYS
    if len(items) < MINIMUM or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork"):
        ways = 1
    if ways == 1:
        for item in items:
            write(item)
        return
    out.pause()  # no writer thread in the middle of a write when the process is copied;
    # and none after it: each process writes as it renders (see above)
    sys.stdout.flush()
    sys.stderr.flush()
    children = []
    for way in range(1, ways):
        pid = os.fork()
        if pid == 0:  # a child: its share of the pages, through a writer of its own
            _child(items[way::ways], write, out)
        children.append(pid)
    failed = []
    try:
        for item in items[0::ways]:
            write(item)
    finally:
        for pid in children:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                failed.append(status)
    if failed:
        raise OSError(f"a process writing pages failed (wait status {failed[0]})")
    out.files += len(items) - len(items[0::ways])


def _child(items: Sequence[Item], write: Callable[[Item], None], out: SiteDir) -> NoReturn:
    status = 1
    try:
        for item in items:
            write(item)
        status = 0
    except BaseException:
        traceback.print_exc()
    finally:
        os._exit(status)
