"""A message and a RuleSet -> which rules fired and which actions to run.

This is the only place that knows how a field name maps onto the message
model; each field is computed at most once per message, and only when a
rule asks for it (attachments mean a MIME walk, so laziness matters).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mailspy.message.model import Message
from mailspy.rules.compile import CompiledRule, FieldKey, PlannedAction, RuleSet, fold

_EXTRACT: dict[str, Callable[[Message, str | None], tuple]] = {
    "sender": lambda m, _: (m.envelope.sender,),
    "recipient": lambda m, _: tuple(m.envelope.recipients),
    "subject": lambda m, _: (m.subject,),
    "attachment": lambda m, _: tuple(a.name for a in m.attachments),
}


class MessageValues:
    """Field values of one message, computed on first use and kept."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self._raw: dict[FieldKey, tuple] = {}
        self._folded: dict[FieldKey, tuple[str, ...]] = {}

    def raw(self, key: FieldKey) -> tuple:
        values = self._raw.get(key)
        if values is None:
            name, argument = key
            values = self._raw[key] = _EXTRACT[name](self.message, argument)
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


def evaluate(ruleset: RuleSet, message: Message) -> Verdict:
    values = MessageValues(message)
    verdict = Verdict()
    seen: set[tuple] = set()
    for rule in ruleset.rules:
        if rule.matcher is not None and not rule.matcher(values):
            continue
        verdict.rules.append(rule)
        for action in rule.actions:
            if action.key not in seen:
                seen.add(action.key)
                verdict.actions.append(action)
        if rule.stops:
            verdict.stopped_by = rule
            break
    return verdict
