"""The shadow log's record: what shadow rules would have done to a message.

A rule written `shadow rule "NAME" { ... }` is evaluated like any other, but
none of its actions runs and its `stop` stops nothing; each message it
matches gets one line in the shadow log (`mailspy run --shadow-log`): the
message's JSON record, as `log-summary ... format json` writes it (`rules`
are the rules that did fire), and under `shadow` each shadow rule that
matched, where it is written, the actions it would have run and whether it
would have stopped evaluation:

    {"time": ..., "queue_id": "89C532102C3", "sender": ..., "rules": ["everything"], ...,
     "shadow": [{"rule": "quarantine", "at": "/etc/mailspy/rules.d/20-q.rules:3:1",
                 "would_run": [{"action": "archive-to-maildir", "target": "/srv/q"}],
                 "would_stop": true}]}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from mailspy.actions.action import Options
from mailspy.actions.summary_json import json_line, json_record, neutralise

if TYPE_CHECKING:
    from mailspy.message.model import Message

__all__ = ["ShadowHit", "shadow_entry", "shadow_record"]


class _Planned(Protocol):
    """An action as the rules plan it: name, target, options."""

    @property
    def name(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def options(self) -> tuple[tuple[str, str], ...]: ...


class ShadowHit(Protocol):
    """A shadow rule that matched (a compiled rule, as the rules give it)."""

    @property
    def name(self) -> str: ...
    @property
    def stops(self) -> bool: ...
    @property
    def actions(self) -> Sequence[_Planned]: ...
    @property
    def position(self) -> object: ...


def shadow_entry(rule: ShadowHit) -> dict[str, Any]:
    """One shadow rule's hit: its name, where it is written, what it would have done."""
    return {
        "rule": neutralise(rule.name),
        "at": neutralise(str(rule.position)),
        "would_run": [{"action": a.name, "target": neutralise(a.target),
                       **{name: neutralise(value) for name, value in a.options}}
                      for a in rule.actions],
        "would_stop": rule.stops,
    }


def shadow_record(message: Message, fired: Sequence[str], hits: Sequence[ShadowHit],
                  options: Options | None = None) -> str:
    """The shadow log's line for a message: its JSON record (with the privacy
    options given) and the shadow rules that matched it."""
    record = json_record(message, list(fired), options or {})
    record["shadow"] = [shadow_entry(rule) for rule in hits]
    return json_line(record)
