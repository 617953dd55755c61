"""The row of a message, as every table of messages shows it.

A row is made once per message and shared by the message log and the pages of every
address and domain it involves: a report of a hundred thousand messages makes a
hundred thousand rows, so they are made here with one format string each rather than
with a template. Escaping is the same as the templates' (markupsafe's `escape`, what
Jinja's autoescape calls): what comes from the log (queue id, subject, file names) is
escaped, a batch at a time (the values of a batch joined by a record separator,
U+001E, which `text.visible` keeps out of every value); the links to addresses were
escaped when they were made (`Links`); the date and the size are texts mailspy made.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import escape

from mailspy.report.pages import Links
from mailspy.report.records import Record
from mailspy.report.text import human_size

__all__ = ["RECIPIENTS_SHOWN", "message_rows"]

RECIPIENTS_SHOWN = 10  # per message row; the rest are counted ("and 40 more")
_SEPARATOR = "\x1e"
_MORE = ' <span class="muted">and {} more</span>'


def _escaped(records: Sequence[Record]) -> list[str]:
    """(queue id, subject, file names) of each record, escaped: three strings each."""
    values: list[str] = []
    for record in records:
        values += (record.queue, record.subject, ", ".join(record.files))
    escaped = str.split(escape(_SEPARATOR.join(values)), _SEPARATOR)
    if len(escaped) != len(values):  # a separator in a value: one at a time, then
        escaped = [str(escape(value)) for value in values]
    return escaped


def message_rows(records: Sequence[Record], stamp: Callable[[int], str],
                 links: Links) -> list[str]:
    """The `<tr>` of each record: date (the queue id as its tooltip), sender, the first
    recipients (and how many more), size, subject, attachments."""
    escaped = iter(_escaped(records))
    known = links.known_addresses.get
    address = links.address
    rows: list[str] = []
    append = rows.append
    for record, queue, subject, files in zip(records, escaped, escaped, escaped,
                                                strict=True):
        recipients = record.recipients
        more = ""
        if len(recipients) == 1:
            to: str = known(recipients[0]) or address(recipients[0])
        else:
            if len(recipients) > RECIPIENTS_SHOWN:
                more = _MORE.format(len(recipients) - RECIPIENTS_SHOWN)
                recipients = recipients[:RECIPIENTS_SHOWN]
            to = ", ".join([known(r) or address(r) for r in recipients])
        sender = record.sender
        title = f' title="queue id {queue}"' if queue else ""
        append(f"<tr><td{title}>{stamp(record.epoch)}</td><td>"
               f"{known(sender) or address(sender)}</td><td>{to}{more}</td><td>"
               f"{human_size(record.size)}</td><td>{subject}</td><td>{files}</td></tr>")
    return rows
