"""Background threads that cannot die silently.

A thread of the daemon (the spool's scheduler, say) that raises is logged
at ERROR with its traceback and started again after a pause that doubles up
to half a minute, so a passing condition (no file descriptors left during a
connection flood) heals by itself. A thread that keeps failing straight
away — ten times within a minute — ends the daemon with exit status 70, so
that its supervisor (systemd's Restart=on-failure) starts a fresh one: the
spool keeps every copy owed. Deliveries never stop without a trace.
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
               pause: float = 1.0) -> threading.Thread:
    """A daemon thread running `target` until it returns, restarted when it raises."""

    def run() -> None:
        crashes: list[float] = []
        while True:
            try:
                target()
                return
            except Exception:
                now = time.monotonic()
                crashes = [t for t in crashes if now - t < WINDOW] + [now]
                wait = min(pause * 2 ** (len(crashes) - 1), LONGEST_PAUSE)
                log.exception("thread %s failed; starting it again in %.0f s", name, wait)
                if len(crashes) >= CRASHES_ALLOWED:
                    (give_up or _exit)(name)
                    return
                time.sleep(wait)

    return threading.Thread(target=run, name=name, daemon=True)


def _exit(name: str) -> None:
    log.critical("thread %s failed %d times within %.0f s; exiting so that the service "
                 "manager starts mailspy again (the spool keeps what is owed)",
                 name, CRASHES_ALLOWED, WINDOW)
    logging.shutdown()
    os._exit(EX_SOFTWARE)
