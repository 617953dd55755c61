"""A message -> its verdict -> the actions, each isolated from the others.

Log lines are cheap and written before end-of-message is answered. Copies
(pipe-to-command, archive-to-maildir) can be slow, so they are handed to a
bounded pool of worker threads: the MTA never waits for procmail or a
slow disk. A failing action is logged and never stops the next one.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mailspy.actions.headers import log_headers
from mailspy.actions.logfile import LogFiles
from mailspy.actions.maildir import deliver
from mailspy.actions.pipe import describe, run_pipe
from mailspy.actions.summary import log_summary
from mailspy.evaluate import Verdict, evaluate
from mailspy.message.model import Message
from mailspy.rules.compile import PlannedAction, RuleSet

log = logging.getLogger("mailspy")

LOG_ACTIONS = ("log-summary", "log-headers")
COPY_ACTIONS = ("pipe-to-command", "archive-to-maildir")


@dataclass(frozen=True)
class CopySettings:
    pipe_timeout: float = 30.0
    workers: int = 4
    queue_limit: int = 1000  # messages waiting for a worker


class Recorder:
    """Shared by every connection: the running rules, the logs, the workers."""

    def __init__(self, rules: RuleSet, logs: LogFiles, settings: CopySettings | None = None):
        self.rules = rules  # replaced whole on reload; readers take one reference
        self.logs = logs
        self.settings = settings = settings or CopySettings()
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="mailspy-copy")
        self._slots = threading.BoundedSemaphore(settings.queue_limit)

    def record(self, message: Message) -> Verdict:
        """Evaluate and act. Takes ownership of message.body (closed when done)."""
        try:
            verdict = evaluate(self.rules, message)
        except Exception:
            _close_body(message)
            raise
        copies = [a for a in verdict.actions if a.name in COPY_ACTIONS]
        for action in verdict.actions:
            if action.name in LOG_ACTIONS:
                self._guarded(self._log, action, message)
        if copies:
            self._queue(copies, message)
        else:
            _close_body(message)
        return verdict

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait)

    def _log(self, action: PlannedAction, message: Message) -> None:
        logfile = self.logs.get(action.target)
        if action.name == "log-summary":
            log_summary(logfile, message)
        else:
            log_headers(logfile, message)

    def _queue(self, copies: list[PlannedAction], message: Message) -> None:
        if not self._slots.acquire(blocking=False):
            log.error("%s: %d messages already wait for a worker; copies for %s dropped",
                      _qid(message), self.settings.queue_limit,
                      ", ".join(f"{a.name} {a.target}" for a in copies))
            _close_body(message)
            return
        try:
            self._pool.submit(self._copy_all, copies, message)
        except RuntimeError:  # the pool is shutting down
            self._slots.release()
            _close_body(message)
            raise

    def _copy_all(self, copies: list[PlannedAction], message: Message) -> None:
        try:
            for action in copies:
                self._guarded(self._copy, action, message)
        finally:
            _close_body(message)
            self._slots.release()

    def _copy(self, action: PlannedAction, message: Message) -> None:
        if action.name == "pipe-to-command":
            result = run_pipe(action.target, message, timeout=self.settings.pipe_timeout)
            if not result.ok:
                log.error("%s: pipe-to-command %s", _qid(message), describe(result))
        else:
            deliver(action.target, message)

    def _guarded(self, run, action: PlannedAction, message: Message) -> None:
        try:
            run(action, message)
        except Exception as exc:
            log.error("%s: %s %s failed: %s", _qid(message), action.name, action.target,
                      _reason(exc), exc_info=not isinstance(exc, OSError))


def _qid(message: Message) -> str:
    return message.envelope.queue_id or "NOQUEUE"


def _reason(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}"
    return f"{type(exc).__name__}: {exc}"


def _close_body(message: Message) -> None:
    if message.body is not None:
        message.body.close()
