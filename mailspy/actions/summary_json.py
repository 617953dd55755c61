"""log-summary in JSON Lines form: one object per message, one line each.

The same record as the tab-separated summary, with what that line has no
room for: the queue id, the client, the rules that fired, and an
attachment inventory (MIME path, decoded name, declared type, size,
SHA-256, zip member names).

Whatever the message holds, each record is one line of valid JSON in valid
UTF-8. JSON escapes every control character (CR, LF, NUL, tab among them),
so values keep them exactly; on top of that DEL, the C1 controls (NEL
U+0085 included) and U+2028/U+2029 are written as `\\uXXXX` escapes, so
that no reader that splits lines on them (Python's `splitlines`, some
JavaScript) and no terminal showing the raw log sees them. Only lone
surrogates, which no UTF-8 encoder accepts, change the value (`neutralise`):
an undecodable byte B, which the milter hands over as U+DC00+B
(`surrogateescape`), becomes the four characters `\\xNN` as in the text
summary, so both logs show the same thing; any other lone surrogate becomes
U+FFFD. Other text, non-ASCII included, is written as UTF-8, readable and
greppable in the raw log.

An action's privacy options (privacy.py: `addresses hash`, `subject drop`...)
are applied while the record is built: every action that writes this record
(`log-summary ... format json`, the shadow log, syslog) passes its options to
`format_json_summary` or `json_record` and holds the same values.
"""

from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from mailspy.actions.action import Options
from mailspy.actions.logfile import LogFile
from mailspy.actions.privacy import KEEP, Privacy, privacy

if TYPE_CHECKING:
    from mailspy.message.model import Attachment, Message

__all__ = ["format_json_summary", "json_line", "json_record", "json_summary",
           "log_json_summary", "neutralise"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_LINE_BREAKERS = re.compile("[\x7f-\x9f\u2028\u2029]")


def _unsurrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the byte itself, as clean() shows it
        return f"\\x{code - 0xDC00:02x}"
    return "\ufffd"


def neutralise(value: str) -> str:
    """The value as the JSON record holds it: lone surrogates replaced, all else kept."""
    if _SURROGATE.search(value) is None:
        return value
    return _SURROGATE.sub(_unsurrogate, value)


def _attachment(attachment: Attachment, private: Privacy) -> dict[str, Any]:
    return {
        "path": neutralise(attachment.path),
        "name": neutralise(private.name(attachment.name)),
        "type": neutralise(attachment.content_type),
        "size": attachment.size,
        "sha256": attachment.sha256,
        "members": [neutralise(private.name(member)) for member in attachment.members],
    }


def json_summary(message: Message, rules: list[str],
                 private: Privacy = KEEP) -> dict[str, Any]:
    """The record as a dict, values neutralised, keys in the order written; every
    personal value as `private` says."""
    envelope = message.envelope
    sender = neutralise(private.address(envelope.sender))
    return {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(message.received_at)),
        "epoch": int(message.received_at),
        "queue_id": neutralise(envelope.queue_id),
        "client_address": neutralise(private.client_value(envelope.client_address)),
        "client_name": neutralise(private.client_value(envelope.client_name)),
        "helo": neutralise(private.client_value(envelope.helo)),
        "auth_user": neutralise(private.client_value(envelope.auth_user)),
        "sender": sender,
        "mail_from": f"<{sender}>",
        "recipients": [neutralise(private.address(rcpt)) for rcpt in envelope.recipients],
        "subject": neutralise(private.subject_of(message.subject)),
        "size": message.body_size,
        "rules": [neutralise(rule) for rule in rules],
        "attachments": [_attachment(a, private) for a in message.attachments],
    }


def json_record(message: Message, rules: list[str], options: Options) -> dict[str, Any]:
    """The record as a dict, with the privacy options of the action that writes it."""
    return json_summary(message, rules, privacy(options))


def json_line(record: dict[str, Any]) -> str:
    """A record as one line of JSON, newline included (see the module's docstring)."""
    text = json.dumps(record, ensure_ascii=False)
    text = _LINE_BREAKERS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text + "\n"


def format_json_summary(message: Message, rules: list[str],
                        options: Options | None = None) -> str:
    """The JSON Lines record for a message, newline included.

    `time` is ISO 8601 UTC to the second and `epoch` the same instant in
    whole seconds; `sender` and `recipients` are bare addresses (`""` for a
    bounce), `mail_from` is the sender in angle brackets (`<>` for a
    bounce) as the summary line's `from=` writes it, whether or not the MTA
    sent the brackets; `size` is the body's size in bytes; `rules` the
    names of the rules that fired, in order; `options` the action's, whose
    privacy options shape the personal values.
    """
    return json_line(json_record(message, rules, options or {}))


def log_json_summary(logfile: LogFile, message: Message, rules: list[str]) -> int:
    """Append the message's JSON record to the log (one write).

    Returns how many records were lost before it (see LogFile.write)."""
    return logfile.write(format_json_summary(message, rules))
