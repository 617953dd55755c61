"""A message -> its verdict -> the actions, each isolated from the others.

Log lines are cheap and written before end-of-message is answered. Copies
(pipe-to-command, archive-to-maildir) can be slow, so they are written to
the durable spool (fsync'd, still before the answer) and delivered from
there by worker threads: the MTA never waits for procmail or a slow disk,
and no acknowledged copy is lost. A failing action never stops the next.

When a copy a rule owes cannot be made durable (the spool's disk is full,
or the body could not be kept), the message is answered TEMPFAIL so that
the MTA keeps it and tries again later, as it does when its own queue disk
is full; its log records wait for that next try, so a message is never
logged twice for one delivery. `--on-spool-failure accept` prefers flow:
the message is accepted and the copies are lost, logged and counted.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from mailspy.actions import privacy
from mailspy.actions.action import COPY, LOG, Sink
from mailspy.actions.logfile import LogFile, RecordLostError
from mailspy.actions.registry import ACTIONS
from mailspy.actions.shadow import shadow_record
from mailspy.actions.sinks import Sinks
from mailspy.evaluate import Verdict, evaluate
from mailspy.message.model import Message
from mailspy.rules.compile import PlannedAction, RuleSet
from mailspy.spool.deliver import Deliverer
from mailspy.spool.entry import Job
from mailspy.spool.store import Spool

log = logging.getLogger("mailspy")

TEMPFAIL, ACCEPT = "tempfail", "accept"  # what to do when owed copies cannot be spooled


@dataclass
class Counters:
    """What went wrong since start, for the postmaster's status views."""

    messages: int = 0  # recorded since start
    bytes: int = 0  # of their bodies
    spool_failures: int = 0  # messages whose copies could not be spooled
    tempfailed: int = 0  # of those, answered TEMPFAIL
    copies_lost: int = 0  # copies lost under --on-spool-failure accept
    records_lost: dict[str, int] = field(default_factory=dict)  # per log path
    actions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (log action, ok|lost)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    tempfail: bool = False  # the MTA must keep the message and try again


class Recorder:
    """Shared by every connection: the running rules, the sinks, the spool."""

    def __init__(self, rules: RuleSet, sinks: Sinks, spool: Spool, deliverer: Deliverer,
                 on_spool_failure: str = TEMPFAIL):
        self.rules = rules  # replaced whole on reload; readers take one reference
        self.sinks = sinks
        self.spool = spool
        self.deliverer = deliverer
        self.on_spool_failure = on_spool_failure
        self.counters = Counters()
        self.hits: Counter[str] = Counter()  # messages each rule fired for, since load
        self.shadow_hits: Counter[str] = Counter()  # the same for each shadow rule
        # Counting is a few increments, but `+=` is not atomic between threads: one
        # lock for every count, so that no connection's count is lost to another's.
        self._counting = threading.Lock()
        privacy.use_keys(rules.keys)

    def use(self, rules: RuleSet) -> tuple[Counter[str], Counter[str]]:
        """Run these rules from now on (a reload); hits count from zero again. Returns
        the hits and shadow hits of the rules replaced, complete."""
        privacy.use_keys(rules.keys)
        with self._counting:
            self.rules = rules
            replaced = self.hits, self.shadow_hits
            self.hits, self.shadow_hits = Counter(), Counter()
        return replaced

    def record(self, message: Message, body_kept: bool = True) -> Outcome:
        """Evaluate and act; the caller still owns (and closes) message.body.

        `body_kept` is False when the body could not be stored as it
        arrived: a copy of it cannot be owed then."""
        rules = self.rules
        verdict = evaluate(rules, message)
        counters = self.counters
        with self._counting:
            counters.messages += 1
            counters.bytes += message.body_size
            for rule in verdict.rules:
                self.hits[rule.name] += 1
            for rule in verdict.shadow:
                self.shadow_hits[rule.name] += 1
        copies = [a for a in verdict.actions if ACTIONS[a.name].kind == COPY]
        if copies and not self._spool(copies, message, body_kept):
            with self._counting:
                if self.on_spool_failure == TEMPFAIL:
                    counters.tempfailed += 1
                else:
                    counters.copies_lost += len(copies)
            if self.on_spool_failure == TEMPFAIL:
                return Outcome(verdict, tempfail=True)
        fired = [r.name for r in verdict.rules]
        for action in verdict.actions:
            if ACTIONS[action.name].kind == LOG:
                self._guarded(self._log, action, message, fired)
        if verdict.shadow and rules.shadow_log is not None:
            self._shadow(rules, message, verdict, fired)
        return Outcome(verdict)

    def close(self, wait: bool = True) -> None:
        self.deliverer.stop(wait=wait)

    def _log(self, action: PlannedAction, message: Message, fired: list[str]) -> None:
        spec = ACTIONS[action.name]
        assert spec.open is not None and spec.record is not None
        sink = self.sinks.get(action.target, spec.open)
        self._write(action.name, sink, spec.record(message, fired, action.settings),
                    message)

    def _shadow(self, rules: RuleSet, message: Message, verdict: Verdict,
                fired: list[str]) -> None:
        """What the shadow rules would have done, written to the shadow log."""
        path = rules.shadow_log
        assert path is not None
        try:
            record = shadow_record(message, fired, verdict.shadow, dict(rules.shadow_options))
            self._write("shadow", self.sinks.get(path, LogFile), record, message)
        except Exception as exc:
            log.error("%s: the shadow log %s failed: %s", _qid(message), path, _reason(exc),
                      exc_info=not isinstance(exc, OSError))

    def _write(self, action: str, sink: Sink, record: str | bytes, message: Message) -> None:
        try:
            lost = sink.write(record)
        except RecordLostError as exc:
            with self._counting:
                self.counters.records_lost[sink.path] = sink.lost
                self.counters.actions[(action, "lost")] += 1
            if exc.first:
                log.error("%s: cannot write to %s: %s; records for it are lost (and counted) "
                          "until it can be written again", _qid(message), sink.path,
                          _reason(exc))
            return
        with self._counting:
            self.counters.actions[(action, "ok")] += 1
        if lost:
            log.info("writing to %s again; %d records were lost", sink.path, lost)

    def _spool(self, copies: list[PlannedAction], message: Message, body_kept: bool) -> bool:
        try:
            if not body_kept:
                raise OSError("the body could not be stored as it arrived")
            jobs = [Job(a.name, a.target, [list(o) for o in a.options]) for a in copies]
            entry_id = self.spool.enqueue(message, jobs)
        except OSError as exc:
            with self._counting:
                self.counters.spool_failures += 1
            what = ", ".join(f"{a.name} {a.target}" for a in copies)
            if self.on_spool_failure == TEMPFAIL:
                log.error("%s: cannot spool %s: %s; answered TEMPFAIL, the MTA keeps the "
                          "message and tries again", _qid(message), what, _reason(exc))
            else:
                log.error("%s: cannot spool %s: %s; accepted, these copies are lost "
                          "(--on-spool-failure accept)", _qid(message), what, _reason(exc))
            return False
        self.deliverer.submit(entry_id, fresh=True)
        return True

    def _guarded(self, run: Callable[..., None], action: PlannedAction, message: Message,
                 *extra: object) -> None:
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
