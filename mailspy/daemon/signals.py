"""Signals, handled by one thread that waits for them.

A Python signal handler never runs while libmilter's loop blocks in C, so
the signals are blocked in every thread (the mask is set before any thread
starts and inherited) and one thread takes them with `sigwait`.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable

log = logging.getLogger("mailspy")

HANDLED = {signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM, signal.SIGINT}
STOPPING = {signal.SIGTERM, signal.SIGINT}


def block() -> None:
    """Call in the main thread before any other thread exists."""
    signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)


def start(handlers: dict[signal.Signals, Callable[[], object]]) -> threading.Thread:
    """Run `handlers[sig]()` for each signal. A second stopping signal while the
    first one is still finishing the copies in hand ends the process at once:
    what was not delivered is in the spool for the next start."""

    def wait_for_signals() -> None:
        stopping = False
        while True:
            sig = signal.sigwait(HANDLED)
            if sig in STOPPING and stopping:
                log.warning("%s again: exiting now; the spool keeps what is not delivered",
                            signal.Signals(sig).name)
                os._exit(1)
            stopping = stopping or sig in STOPPING
            try:
                handlers[signal.Signals(sig)]()
            except Exception:
                log.exception("handling %s failed", signal.Signals(sig).name)

    thread = threading.Thread(target=wait_for_signals, name="mailspy-signals", daemon=True)
    thread.start()
    return thread
