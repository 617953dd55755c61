"""Background threads that cannot die silently.

A thread of the daemon (the spool's scheduler, say) that raises is logged
at ERROR with its traceback and started again after a pause that doubles up
to half a minute, so a passing condition (no file descriptors left during a
connection flood) heals by itself. A thread that keeps failing straight
away — ten times in a row, each within a minute of its start — ends the
daemon with exit status 70, so that its supervisor (systemd's
Restart=on-failure) starts a fresh one: the spool keeps every copy owed.
The pauses do not count toward that minute (ten restarts take two and a
half minutes of pauses), and a run longer than a minute starts the count
and the pauses again. Deliveries never stop without a trace.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

log = logging.getLogger("mailspy")

EX_SOFTWARE = 70
CRASHES_ALLOWED = 10
WINDOW = 60.0
LONGEST_PAUSE = 30.0


def supervised(name: str, target: Callable[[], None],
               give_up: Callable[[str], None] | None = None,
               pause: float = 1.0, window: float = WINDOW) -> threading.Thread:
    """A daemon thread running `target` until it returns, restarted when it raises.

    `pause` is the first wait before a restart; a failure counts toward giving up
    when the run it ended was shorter than `window` seconds (both shorter in tests)."""

    def run() -> None:
        failures = 0  # in a row, each within `window` of its start
        while True:
            started = time.monotonic()
            try:
                target()
                return
            except Exception:
                quick = time.monotonic() - started < window
                failures = failures + 1 if quick else 1
                if failures >= CRASHES_ALLOWED:
                    log.exception("thread %s failed", name)
                    (give_up or _exit)(name)
                    return
                wait = min(pause * 2 ** (failures - 1), LONGEST_PAUSE)
                log.exception("thread %s failed; starting it again in %.0f s", name, wait)
                time.sleep(wait)

    return threading.Thread(target=run, name=name, daemon=True)


def _exit(name: str) -> None:
    log.critical("thread %s failed %d times in a row, each within %.0f s of its start; "
                 "exiting so that the service manager starts mailspy again (the spool "
                 "keeps what is owed)", name, CRASHES_ALLOWED, WINDOW)
    logging.shutdown()
    os._exit(EX_SOFTWARE)
