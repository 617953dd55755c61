"""`mailspy check-rules --test DIR`: saved messages with what the rules must do to them.

DIR holds message files (`NAME.eml`) each beside a sidecar `NAME.toml`:

    # invoice.toml
    from = "billing@bank.example"          # the envelope; absent: as test-rules rebuilds it
    to = ["cfo@corp.example"]
    client-address = "192.0.2.7"           # also client-name, helo, auth-user, queue-id
    rules = ["finance", "everything"]      # the rules that must fire, in order
    stopped-by = "executables"             # "" for none; absent: not checked
    shadow = ["quarantine"]                # the shadow rules that must match, in order
    [[actions]]                            # absent: not checked
    action = "archive-to-maildir"
    target = "/srv/mail/archive/finance"

Every fixture runs; each mismatch is shown as a diff of expected and actual.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mailspy.evaluate import Verdict, evaluate
from mailspy.message.model import Envelope, Message
from mailspy.message.parse import read_message, rebuild_envelope
from mailspy.rules.compile import RuleSet

_ENVELOPE_KEYS = {"client-address": "client_address", "client-name": "client_name",
                  "helo": "helo", "auth-user": "auth_user", "queue-id": "queue_id"}


@dataclass
class FixtureResult:
    name: str
    problems: list[str]  # empty when the rules did what the sidecar says


def run_fixtures(rules: RuleSet, directory: Path) -> list[FixtureResult]:
    messages = sorted(p for p in directory.iterdir() if p.suffix == ".eml")
    return [run_fixture(rules, path) for path in messages]


def run_fixture(rules: RuleSet, message_path: Path) -> FixtureResult:
    sidecar = message_path.with_suffix(".toml")
    try:
        expected = tomllib.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return FixtureResult(message_path.name, [f"no sidecar {sidecar.name} beside it"])
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return FixtureResult(message_path.name, [f"{sidecar}: {exc}"])
    with open(message_path, "rb") as fp:
        message = read_message(fp)
    try:
        message.envelope = fixture_envelope(message, expected)
        verdict = evaluate(rules, message)
    finally:
        if message.body is not None:
            message.body.close()
    return FixtureResult(message_path.name, compare(expected, actual_of(verdict)))


def fixture_envelope(message: Message, expected: dict[str, Any]) -> Envelope:
    """The sidecar's from/to, else the envelope rebuilt from the message as test-rules and
    replay rebuild it; the sidecar's other envelope keys on top."""
    sender = str(expected["from"]) if "from" in expected else None
    recipients = [str(r) for r in expected["to"]] if "to" in expected else None
    envelope = rebuild_envelope(message, sender, recipients).envelope
    for key, attribute in _ENVELOPE_KEYS.items():
        if key in expected:
            setattr(envelope, attribute, str(expected[key]))
    return envelope


def actual_of(verdict: Verdict) -> dict[str, Any]:
    return {
        "rules": [r.name for r in verdict.rules],
        "stopped-by": verdict.stopped_by.name if verdict.stopped_by else "",
        "actions": [{"action": a.name, "target": a.target} for a in verdict.actions],
        "shadow": [r.name for r in verdict.shadow],
    }


def compare(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """A diff for each checked key that differs; keys absent from the sidecar are free."""
    problems = []
    for key in ("rules", "stopped-by", "actions", "shadow"):
        if key in expected and expected[key] != actual[key]:
            problems.append(_diff(key, expected[key], actual[key]))
    return problems


def _diff(key: str, expected: object, actual: object) -> str:
    def lines(value: object) -> list[str]:
        if isinstance(value, list):
            return [json.dumps(v, ensure_ascii=False) for v in value]
        return [json.dumps(value, ensure_ascii=False)]

    diff = difflib.unified_diff(lines(expected), lines(actual), f"expected {key}",
                                f"actual {key}", lineterm="")
    return "\n".join(diff)
