"""log-summary: the original mailspy's one-line, tab-separated record.

The layout is the original's, so its log tools keep working: its report
parser (htmlspy.pl) reads `key=value` fields by name and skips keys it does
not know, which lets the line end with one field of mailspy's own, the
MTA's queue id (`queue=`), to join a record with the MTA's log. The value
cutting (79 characters, 1024 bytes of recipients) is gone. With `format
json` the record is a JSON line instead (summary_json.py). Either way the
privacy options (privacy.py) shape the addresses, the subject and the
attachment names.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mailspy.actions.action import LOG, PATH, ActionType, Option, Options
from mailspy.actions.clean import clean_each
from mailspy.actions.logfile import LogFile, log_problem
from mailspy.actions.privacy import KEEP, RECORD_OPTIONS, Privacy, privacy
from mailspy.actions.summary_json import format_json_summary

if TYPE_CHECKING:
    from mailspy.message.model import Message

__all__ = ["ACTION", "format_summary", "log_summary"]


def format_summary(message: Message, private: Privacy = KEEP) -> str:
    """The summary line for a message, newline included.

    `YY-MM-DD HH:MM<TAB>time=EPOCH<TAB>from=<S><TAB>to=<R>...<TAB>size=N
    <TAB>subject=TEXT<TAB>file=NAME...<TAB>queue=ID`: date in UTC; envelope
    addresses always in angle brackets, whether or not the MTA sent them so
    (Postfix hands a local submission's over bare), a bounce `from=<>`; one
    `to=` per recipient, one `file=` per attachment; the queue id last,
    empty when the MTA gave none; every value through `clean()`, every
    personal value first through `private`.
    """
    stamp = _minute_stamp(int(message.received_at // 60))
    envelope = message.envelope
    sender, recipients, subject = envelope.sender, envelope.recipients, message.subject
    names = [a.name for a in message.attachment_outline]
    if private is not KEEP:
        address = private.address
        sender, subject = address(sender), private.subject_of(subject)
        recipients = [address(rcpt) for rcpt in recipients]
        names = [private.name(name) for name in names]
    values = clean_each([sender, *recipients, subject, *names, envelope.queue_id])
    after = len(recipients) + 1  # the subject's place
    fields = [stamp, f"time={int(message.received_at)}", f"from=<{values[0]}>"]
    fields += [f"to=<{rcpt}>" for rcpt in values[1:after]]
    fields += [f"size={message.body_size}", f"subject={values[after]}"]
    fields += [f"file={name}" for name in values[after + 1:-1]]
    fields.append(f"queue={values[-1]}")
    return "\t".join(fields) + "\n"


@functools.lru_cache(maxsize=4)
def _minute_stamp(minute: int) -> str:
    """`YY-MM-DD HH:MM` in UTC: the same for every message of a minute, so strftime runs
    once a minute, not once a message (it was 3 % of the daemon's Python time)."""
    return time.strftime("%y-%m-%d %H:%M", time.gmtime(minute * 60))


def log_summary(logfile: LogFile, message: Message) -> int:
    """Append the message's summary line to the log (one write).

    Returns how many records were lost before it (see LogFile.write)."""
    return logfile.write(format_summary(message))


def record(message: Message, rules: Sequence[str], options: Options) -> str:
    if options.get("format") == "json":
        return format_json_summary(message, list(rules), options)
    return format_summary(message, privacy(options))


def steps(options: Options) -> frozenset[str]:
    """The JSON record holds the client's address, name and HELO (unless dropped)."""
    if options.get("format") == "json" and options.get("client") != "drop":
        return frozenset({"connect", "helo"})
    return frozenset()


ACTION = ActionType(
    name="log-summary",
    doc="appends one summary line to the path, or to the summary log (`-f`, default "
        "`/var/log/mailspy/mailspy`); with `format json`, one JSON object instead; "
        "privacy options: `addresses`, `subject`, `attachment-names`, `client`, `key`",
    kind=LOG,
    target=PATH,
    default="summary_log",
    options=(Option("format", ("text", "json"), doc="the summary line, or a JSON object"),
             *RECORD_OPTIONS),
    steps=steps,
    open=LogFile,
    probe=log_problem,
    record=record,
    rank=10,
)
