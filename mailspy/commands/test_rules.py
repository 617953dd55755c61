"""`mailspy test-rules`: a dry run of the rules over one saved message.

Shadow rules are shown apart from the rules: what they would have run is
not among the actions that would run."""

from __future__ import annotations

import json
import sys
from typing import Any

from mailspy.actions.clean import clean
from mailspy.actions.shadow import shadow_entry
from mailspy.commands.check_rules import rules_for_dry_run
from mailspy.evaluate import Verdict, evaluate
from mailspy.message.model import Message
from mailspy.message.parse import read_message, rebuild_envelope

EXIT_OK, EXIT_BAD_RULES, EXIT_BAD_MESSAGE = 0, 1, 2


def main(directory: str | None, files: list[str], message_file: str,
         sender: str | None, recipients: list[str], as_json: bool) -> int:
    result = rules_for_dry_run(directory, files)
    if result is None or not result.ok:
        return EXIT_BAD_RULES
    try:
        with open(message_file, "rb") as fp:
            message = read_message(fp)
    except OSError as exc:
        print(f"mailspy: error: cannot read '{message_file}': {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_BAD_MESSAGE
    rebuilt = rebuild_envelope(message, sender, recipients or None)
    if sender is None:
        taken = _SOURCES.get(rebuilt.sender_from, "no header: empty, as for a bounce")
        print(f"mailspy: note: no --from given; the sender is taken from {taken}",
              file=sys.stderr)
    if not recipients:
        taken = _SOURCES.get(rebuilt.recipients_from, "no header: there are none")
        print(f"mailspy: note: no --to given; the recipients are taken from {taken}",
              file=sys.stderr)
    message.envelope = rebuilt.envelope
    verdict = evaluate(result.rules, message)
    shadows = any(r.shadow for r in result.rules.rules)
    print(json.dumps(as_dict(verdict, message, shadows)) if as_json
          else as_text(verdict, message))
    return EXIT_OK


_SOURCES = {"Return-Path:": "the Return-Path: header", "From:": "the From: header",
            "X-Mailspy-Envelope-To:": "the X-Mailspy-Envelope-To: headers mailspy wrote",
            "Delivered-To:": "the first Delivered-To: header",
            "To: and Cc:": "the To: and Cc: headers"}


def as_dict(verdict: Verdict, message: Message, shadows: bool = False) -> dict[str, Any]:
    """`shadow` is there when the rules have shadow rules (`shadows`)."""
    actions = []
    for action in verdict.actions:
        entry = {"action": action.name, "target": action.target}
        entry.update(dict(action.options))
        actions.append(entry)
    found: dict[str, Any] = {
        "rules": [r.name for r in verdict.rules],
        "actions": actions,
        "stopped_by": verdict.stopped_by.name if verdict.stopped_by else None,
    }
    if shadows:
        found["shadow"] = [shadow_entry(rule) for rule in verdict.shadow]
    found["message"] = {
        "sender": message.envelope.sender,
        "recipients": message.envelope.recipients,
        "subject": message.subject,
        "attachments": [a.name for a in message.attachments],
    }
    return found


def as_text(verdict: Verdict, message: Message) -> str:
    """For a terminal: values from the message are cleaned of control characters."""
    env = message.envelope
    lines = [
        f"sender:      {clean(env.sender) or '<> (a bounce)'}",
        f"recipients:  {', '.join(clean(r) for r in env.recipients) or '(none)'}",
        f"subject:     {clean(message.subject)}",
        f"attachments: {', '.join(clean(a.name) for a in message.attachments) or '(none)'}",
        "",
        f"rules matched: {len(verdict.rules)}",
    ]
    width = max((len(r.name) for r in verdict.rules), default=0)
    lines += [f"  {r.name:<{width}}  {r.position}" for r in verdict.rules]
    lines.append(f"actions that would run: {len(verdict.actions)}")
    width = max((len(a.name) for a in verdict.actions), default=0)
    lines += [f"  {a.name:<{width}}  {a.target}" for a in verdict.actions]
    stopped = verdict.stopped_by
    lines.append(f"stopped by: {stopped.name} ({stopped.position})" if stopped
                 else "stopped by: none (every rule was evaluated)")
    if verdict.shadow:
        lines += ["", f"shadow rules matched: {len(verdict.shadow)} (none of their actions "
                  "runs; the daemon writes them to its shadow log)"]
        for rule in verdict.shadow:
            lines.append(f"  {rule.name}  {rule.position}")
            width = max((len(a.name) for a in rule.actions), default=0)
            lines += [f"    would run:  {a.name:<{width}}  {a.target}" for a in rule.actions]
            if rule.stops:
                lines.append("    would stop: the rules after it would not be evaluated")
    return "\n".join(lines)
