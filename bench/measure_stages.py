"""Where the time of one message goes inside mailspy: each stage timed in-process, on the
same real-looking messages, with no rules files (the original usage) and with 1,000 rules.

Why in-process: the milter rows say how much CPU a message costs the daemon, not which
part of the code spends it. Here the adapter's own callbacks are called one after the
other as libmilter would call them (without libmilter, the socket or the threads), then
each later stage runs on its own, so that a stage's time is its own:

- model: the callbacks from MAIL FROM to the last body chunk, building the Message;
- mime: the MIME walk for attachment names (`Message.attachments`);
- subject: decoding the subject;
- evaluation: the rule index and the rules, every field they read already computed;
- format: the summary line, from values already computed;
- write: appending that line to a log file;
- spool: spooling one copy (fsync'd) and handing it to the delivery threads;
- end-of-message: everything end-of-message does (evaluation, walk, line, write), on
  fresh messages, through the adapter's eom() with a real Recorder: the sum as it runs.
"""

from __future__ import annotations

import contextlib
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import Milter

from bench.milterclient import Mail, body_chunks
from bench.report import Row
from bench.rulegen import write_rules
from bench.sizes import Sizes
from mailspy.actions.logfile import LogFile
from mailspy.actions.sinks import Sinks
from mailspy.actions.summary import format_summary
from mailspy.dispatch import Recorder
from mailspy.evaluate import evaluate
from mailspy.message.model import Message
from mailspy.milter.adapter import MailspyMilter
from mailspy.rules.compile import Defaults, RuleSet
from mailspy.rules.running import RulesConfig, load_running_rules
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.entry import Job
from mailspy.spool.store import Spool

Progress = Callable[[str], None]


def daemon_rules(directory: Path, log: Path) -> RuleSet:
    """The rules `mailspy run -d DIRECTORY -f LOG` would run (none: the original's),
    prepared as the daemon prepares them when it loads them."""
    config = RulesConfig(str(directory), Defaults(summary_log=str(log)), explicit=True)
    result = load_running_rules(config)
    if not result.ok:
        raise RuntimeError(f"rules for the bench are invalid: {result.errors[:3]}")
    result.rules.prepare()
    return result.rules


def _milter() -> MailspyMilter:
    """A connection's instance, as after negotiation: headers go unanswered."""
    milter = MailspyMilter()
    milter._protocol = Milter.P_NR_HDR
    return milter


def _feed(milter: MailspyMilter, mail: Mail) -> None:
    """What libmilter calls for one message, MAIL FROM to the last body chunk."""
    milter.envfrom(f"<{mail.sender}>")
    for recipient in mail.recipients:
        milter.envrcpt(f"<{recipient}>")
    milter.data()
    for name, value in mail.headers:
        milter.header(name, value)
    milter.eoh()
    for chunk in body_chunks(mail.body):
        milter.body(chunk)


def _built(corpus: Sequence[Mail]) -> list[Message]:
    messages = []
    for mail in corpus:
        milter = _milter()
        _feed(milter, mail)
        message = milter._message
        assert message is not None
        milter._message = None
        message.envelope.queue_id = mail.queue_id
        messages.append(message)
        milter.close()
    return messages


def _close(messages: Sequence[Message]) -> None:
    for message in messages:
        if message.body is not None:
            message.body.close()


@contextlib.contextmanager
def _adapter(recorder: Recorder | None) -> Iterator[None]:
    saved = MailspyMilter.recorder
    MailspyMilter.recorder = recorder
    try:
        yield
    finally:
        MailspyMilter.recorder = saved


def _per_message(seconds: float, count: int) -> float:
    return seconds / count * 1e6


def _time_model(corpus: Sequence[Mail]) -> float:
    milters = [_milter() for _ in corpus]
    began = time.perf_counter()
    for milter, mail in zip(milters, corpus, strict=True):
        _feed(milter, mail)
    elapsed = time.perf_counter() - began
    for milter in milters:
        milter.abort()
        milter.close()
    return _per_message(elapsed, len(corpus))


def _time_each(messages: Sequence[Message], step: Callable[[Message], object]) -> float:
    began = time.perf_counter()
    for message in messages:
        step(message)
    return _per_message(time.perf_counter() - began, len(messages))


class _Stages:
    """One pass of every stage over the corpus; returns µs per message by stage."""

    def __init__(self, workdir: Path, corpus: Sequence[Mail], rules: dict[str, RuleSet],
                 spool: Spool, deliverer: Deliverer) -> None:
        self.workdir = workdir
        self.corpus = corpus
        self.rules = rules
        self.spool = spool
        self.deliverer = deliverer

    def run(self) -> dict[str, float]:
        times = {"model": _time_model(self.corpus)}
        messages = _built(self.corpus)
        try:
            times["mime"] = _time_each(messages, lambda m: m.attachment_outline)
            times["full walk"] = _time_each(messages, lambda m: m.attachments)
            times["subject"] = _time_each(messages, lambda m: m.subject)
            for name, rules in self.rules.items():
                times[f"evaluation {name}"] = _time_each(messages, lambda m, r=rules:
                                                         evaluate(r, m))
            lines: list[str] = []
            times["format"] = _time_each(messages, lambda m: lines.append(format_summary(m)))
            log = LogFile(self.workdir / "stages.log")
            try:
                began = time.perf_counter()
                for line in lines:
                    log.write(line)
                times["write"] = _per_message(time.perf_counter() - began, len(lines))
            finally:
                log.close()
            times["spool"] = self._time_spool(messages[: max(len(messages) // 4, 1)])
        finally:
            _close(messages)
        for name, rules in self.rules.items():
            times[f"end-of-message {name}"] = self._time_eom(rules)
        return times

    def _time_spool(self, messages: Sequence[Message]) -> float:
        job = [Job("pipe-to-command", "/bin/true")]
        began = time.perf_counter()
        for message in messages:
            entry = self.spool.enqueue(message, job)
            self.deliverer.submit(entry, when=time.time() + 3600, fresh=True)
        return _per_message(time.perf_counter() - began, len(messages))

    def _time_eom(self, rules: RuleSet) -> float:
        """The adapter's eom() on fresh messages: all of end-of-message as it runs."""
        sinks = Sinks()
        recorder = Recorder(rules, sinks, self.spool, self.deliverer)
        milters = []
        for mail in self.corpus:
            milter = _milter()
            _feed(milter, mail)
            milters.append(milter)
        try:
            with _adapter(recorder):
                began = time.perf_counter()
                for milter in milters:
                    milter.eom()
                elapsed = time.perf_counter() - began
        finally:
            for milter in milters:
                milter.close()
            sinks.close_all()
        return _per_message(elapsed, len(milters))


def stage_times(workdir: Path, corpus: Sequence[Mail], sizes: Sizes,
                progress: Progress) -> dict[str, list[float]]:
    """µs per message of each stage, one value per repetition."""
    workdir.mkdir(parents=True, exist_ok=True)
    empty = workdir / "rules-none"
    empty.mkdir(exist_ok=True)
    log = workdir / "summary.log"
    rules = {"none": daemon_rules(empty, log),
             f"{sizes.daemon_rules:,} rules": daemon_rules(
                 write_rules(workdir / "rules-stages", sizes.daemon_rules), log)}
    spool = Spool(workdir / "spool")
    spool.create()
    deliverer = Deliverer(spool, DeliverySettings())  # never started: nothing is delivered
    stages = _Stages(workdir, corpus, rules, spool, deliverer)
    stages.run()  # warm up: imports, caches, the log file
    times: dict[str, list[float]] = {}
    for rep in range(max(sizes.reps, 3)):
        for name, value in stages.run().items():
            times.setdefault(name, []).append(value)
        progress(f"stages, rep {rep + 1}: " + ", ".join(
            f"{name} {values[-1]:,.0f}" for name, values in times.items()) + " µs")
    return times


STAGE_ROWS = {
    "ST-MODEL": ("model", "building the message model: the adapter's callbacks from MAIL "
                 "FROM to the last body chunk (envelope, header fields, body buffer)"),
    "ST-MIME": ("mime", "the MIME walk for attachment names and types "
                "(`Message.attachment_outline`: no content decoded)"),
    "ST-WALK": ("full walk", "the full MIME walk (`Message.attachments`: sizes, SHA-256, zip "
                "listings), which only the JSON record and `archive-member` ask for"),
    "ST-SUBJ": ("subject", "decoding the subject"),
    "ST-EVAL0": ("evaluation none", "evaluation with no rules files (the original's one "
                 "rule), every field already computed"),
    "ST-EVAL1K": ("evaluation {rules}", "evaluation with {rules}, every field already "
                  "computed"),
    "ST-FMT": ("format", "formatting the summary line"),
    "ST-WRITE": ("write", "appending the summary line to its log (one write)"),
    "ST-SPOOL": ("spool", "spooling one copy (fsync'd) and handing it to the delivery threads, "
                 "for a message that owes one"),
    "ST-EOM0": ("end-of-message none", "all of end-of-message through the adapter's eom(), "
                "no rules files: the stages above as they run together"),
    "ST-EOM1K": ("end-of-message {rules}", "all of end-of-message through the adapter's "
                 "eom(), {rules}"),
}


def stage_rows(workdir: Path, corpus: Sequence[Mail], sizes: Sizes,
               progress: Progress) -> list[Row]:
    times = stage_times(workdir, corpus, sizes, progress)
    rules = f"{sizes.daemon_rules:,} rules"
    rows = []
    for row_id, (stage, text) in STAGE_ROWS.items():
        values = times[stage.format(rules=rules)]
        label = (f"in-process, real-mail corpus ({len(corpus)} messages): "
                 f"{text.format(rules=rules)}, µs per message")
        rows.append(Row(row_id, label, f"{statistics.median(values):,.0f} µs "
                        f"(range {min(values):,.0f}-{max(values):,.0f})", "—",
                        statistics.median(values), None))
    return rows
