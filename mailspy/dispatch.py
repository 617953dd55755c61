"""A message -> its verdict -> the actions, each isolated from the others.

Log lines are cheap and written before end-of-message is answered. Copies
(pipe-to-command, archive-to-maildir) can be slow, so they are written to
the durable spool (fsync'd, still before the answer) and delivered from
there by worker threads: the MTA never waits for procmail or a slow disk,
and no acknowledged copy is lost. A failing action never stops the next.
"""

from __future__ import annotations

import logging

from mailspy.actions.headers import log_headers
from mailspy.actions.logfile import LogFiles
from mailspy.actions.summary import log_summary
from mailspy.actions.summary_json import log_json_summary
from mailspy.evaluate import Verdict, evaluate
from mailspy.message.model import Message
from mailspy.rules.compile import PlannedAction, RuleSet
from mailspy.spool.deliver import Deliverer
from mailspy.spool.store import Spool

log = logging.getLogger("mailspy")

LOG_ACTIONS = ("log-summary", "log-headers")
COPY_ACTIONS = ("pipe-to-command", "archive-to-maildir")


class Recorder:
    """Shared by every connection: the running rules, the logs, the spool."""

    def __init__(self, rules: RuleSet, logs: LogFiles, spool: Spool, deliverer: Deliverer):
        self.rules = rules  # replaced whole on reload; readers take one reference
        self.logs = logs
        self.spool = spool
        self.deliverer = deliverer

    def record(self, message: Message) -> Verdict:
        """Evaluate and act; the caller still owns (and closes) message.body."""
        verdict = evaluate(self.rules, message)
        fired = [r.name for r in verdict.rules]
        for action in verdict.actions:
            if action.name in LOG_ACTIONS:
                self._guarded(self._log, action, message, fired)
        copies = [a for a in verdict.actions if a.name in COPY_ACTIONS]
        if copies:
            self._spool(copies, message)
        return verdict

    def close(self, wait: bool = True) -> None:
        self.deliverer.stop(wait=wait)

    def _log(self, action: PlannedAction, message: Message, fired: list[str]) -> None:
        logfile = self.logs.get(action.target)
        if action.name == "log-headers":
            log_headers(logfile, message)
        elif ("format", "json") in action.options:
            log_json_summary(logfile, message, fired)
        else:
            log_summary(logfile, message)

    def _spool(self, copies: list[PlannedAction], message: Message) -> None:
        try:
            entry_id = self.spool.enqueue(message, copies)
        except OSError as exc:
            log.error("%s: cannot spool %s: %s; these copies are lost", _qid(message),
                      ", ".join(f"{a.name} {a.target}" for a in copies), _reason(exc))
            return
        self.deliverer.submit(entry_id, fresh=True)

    def _guarded(self, run, action: PlannedAction, message: Message, *extra) -> None:
        try:
            run(action, message, *extra)
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
