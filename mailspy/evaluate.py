"""A message and a RuleSet -> which rules fired and which actions to run.

This is the one place where rules meet messages: each field's values are
taken from the message by the field's extractor (mailspy/fields.py), at
most once per message and only when a rule asks for them (attachments mean
a MIME walk, so laziness matters).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from mailspy.fields import FIELDS
from mailspy.message.model import Message
from mailspy.rules.compile import CompiledRule, FieldKey, PlannedAction, RuleSet, fold
from mailspy.rules.regexes import DEFAULT_LIMITS, RegexClock, RegexLimits, RegexTimeout

log = logging.getLogger("mailspy")


class MessageValues:
    """Field values of one message, computed on first use and kept, and the clock its
    regex searches run on."""

    def __init__(self, message: Message, limits: RegexLimits = DEFAULT_LIMITS) -> None:
        self.message = message
        self.clock = RegexClock(limits)
        self._raw: dict[FieldKey, tuple[Any, ...]] = {}
        self._folded: dict[FieldKey, tuple[str, ...]] = {}

    def raw(self, key: FieldKey) -> tuple[Any, ...]:
        values = self._raw.get(key)
        if values is None:
            name, argument = key
            values = self._raw[key] = FIELDS[name].extract(self.message, argument)
        return values

    def folded(self, key: FieldKey) -> tuple[str, ...]:
        values = self._folded.get(key)
        if values is None:
            values = self._folded[key] = tuple(fold(v) for v in self.raw(key))
        return values


@dataclass
class Verdict:
    rules: list[CompiledRule] = field(default_factory=list)  # in the order they fired
    actions: list[PlannedAction] = field(default_factory=list)  # each key once, in order
    stopped_by: CompiledRule | None = None
    timed_out: list[CompiledRule] = field(default_factory=list)  # a regex ran out of time
    # shadow rules that matched, in order: their actions are what they would have run
    shadow: list[CompiledRule] = field(default_factory=list)


def evaluate(ruleset: RuleSet, message: Message) -> Verdict:
    values = MessageValues(message, ruleset.regex_limits)
    verdict = Verdict()
    seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
    rules = ruleset.rules
    out_of_time: list[CompiledRule] = []  # after the message's regex time was spent
    for number in ruleset.index.candidates(values):
        rule = rules[number]
        try:
            if rule.matcher is not None and not rule.matcher(values):
                continue
        except RegexTimeout as timeout:
            verdict.timed_out.append(rule)
            if timeout.budget_spent:
                out_of_time.append(rule)
            else:
                _log_timeout(message, rule, timeout)
            continue
        if rule.shadow:  # recorded, never acted on; its stop stops nothing
            verdict.shadow.append(rule)
            continue
        verdict.rules.append(rule)
        for action in rule.actions:
            if action.key not in seen:
                seen.add(action.key)
                verdict.actions.append(action)
        if rule.stops:
            verdict.stopped_by = rule
            break
    if out_of_time:
        _log_spent(message, out_of_time, ruleset.regex_limits)
    return verdict


def _log_timeout(message: Message, rule: CompiledRule, timeout: RegexTimeout) -> None:
    log.warning("%s: rule '%s' (%s) not matched: its regex /%s/ gave up on %s after %g s "
                "(--regex-timeout)", _qid(message), rule.name, rule.position,
                timeout.pattern.source, timeout.field, timeout.seconds)


def _log_spent(message: Message, rules: list[CompiledRule], limits: RegexLimits) -> None:
    names = ", ".join(f"'{r.name}'" for r in rules[:5]) + (", ..." if len(rules) > 5 else "")
    log.warning("%s: %d rules not matched: the message's regexes ran out of time (%g s, "
                "ten times --regex-timeout): %s", _qid(message), len(rules),
                limits.per_message, names)


def _qid(message: Message) -> str:
    return message.envelope.queue_id or "NOQUEUE"
