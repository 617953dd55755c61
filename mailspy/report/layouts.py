"""Reading one summary line, in any layout mailspy or the original wrote.

- mailspy's text layout: `YY-MM-DD HH:MM<TAB>time=EPOCH<TAB>from=<S><TAB>to=<R>...
  <TAB>size=N<TAB>subject=TEXT<TAB>file=NAME...`, fields after the date in any
  order; keys it does not know (`queue=` and whatever comes later) are skipped.
- the original C mailspy's text layout: the same without `time=` (the date, UTC,
  to the minute, is all there is), `body=` where mailspy writes `size=`, values
  possibly cut short, subjects and file names as raw RFC 2047 words.
- JSON Lines (`log-summary ... format json`): one object per line, with the
  declared attachment types and the rules that fired.

A line that is none of these gives a reason instead of a record: the caller
counts it with its line number and carries on.
"""

from __future__ import annotations

import calendar
import json
import re
from datetime import date, datetime

from mailspy.report.addresses import address_key
from mailspy.report.records import Record
from mailspy.report.text import decode_words, visible

__all__ = ["LineReader"]

_STAMP = re.compile(r"(\d\d)-(\d\d)-(\d\d) (\d\d):(\d\d)\Z")
# mailspy's own text layout, fields in the order it writes them; anything else (the
# original's layout, fields moved around, keys added) takes the general way.
_OWN = re.compile(r"([^\t]*)\ttime=(\d+)\tfrom=([^\t]*)((?:\tto=[^\t]*)*)\tsize=(\d+)"
                  r"\tsubject=([^\t]*)((?:\tfile=[^\t]*)*)(?:\tqueue=([^\t]*))?\Z",
                  re.ASCII)
_MAX_CACHE = 200_000
_EPOCH_DAY = date(1970, 1, 1).toordinal()


class LineReader:
    """Parses lines into records, remembering addresses and dates it has seen
    (a log names a few thousand addresses a million times)."""

    def __init__(self) -> None:
        self._addresses: dict[str, str] = {}
        self._stamps: dict[str, int | None] = {}

    def read(self, line: str) -> Record | str | None:
        """A record; a reason (str) when the line cannot be used; None for a blank line."""
        line = line.rstrip("\r\n")
        own = _OWN.match(line)  # a line in mailspy's own layout starts with a date: no
        if own is not None:     # blank line, no JSON object matches
            record = self._own(own)
            if record is not None:
                return record
        if not line.strip():
            return None
        if line.lstrip().startswith("{"):
            return self._json(line)
        return self._text(line)

    def epoch_only(self, line: str) -> int | None:
        """The time of a line in mailspy's own layout, which is then certainly a record,
        without reading the rest of it; None when the line must be read whole."""
        own = _OWN.match(line.rstrip("\r\n"))
        if own is None:
            return None
        stamp = own.group(1)
        epoch = self._stamps[stamp] if stamp in self._stamps else self._stamp(stamp)
        return int(own.group(2)) if epoch is not None else None

    # -- addresses and dates ------------------------------------------------------------
    def address(self, raw: str) -> str:
        key = self._addresses.get(raw)
        if key is None:
            key = visible(address_key(raw))
            if len(self._addresses) < _MAX_CACHE:
                self._addresses[raw] = key
        return key

    def _stamp(self, stamp: str) -> int | None:
        epoch = None
        match = _STAMP.match(stamp)
        if match:
            yy, month, day, hour, minute = (int(g) for g in match.groups())
            try:
                days = date(2000 + yy, month, day).toordinal() - _EPOCH_DAY
            except ValueError:
                days = None
            if days is not None and hour < 24 and minute < 60:
                epoch = days * 86400 + hour * 3600 + minute * 60
        if len(self._stamps) < _MAX_CACHE:
            self._stamps[stamp] = epoch
        return epoch

    # -- text layouts -------------------------------------------------------------------
    def _own(self, match: re.Match[str]) -> Record | None:
        """A line in mailspy's own field order: one regular expression, no field loop."""
        stamp, exact, sender, to, size, subject, files, queue = match.groups()
        epoch = self._stamps.get(stamp, False)
        if (self._stamp(stamp) if epoch is False else epoch) is None:
            return None  # the general way says why
        known = self._addresses.get
        address = self.address
        recipients = tuple([known(r) or address(r) for r in to.split("\tto=")[1:]]) \
            if to else ()
        names: tuple[str, ...] = tuple(files.split("\tfile=")[1:]) if files else ()
        queue = queue or ""
        # what str.isprintable accepts, `visible` leaves as it is: a quicker test first
        if not (subject.isprintable() and queue.isprintable()):
            subject, queue = visible(subject), visible(queue)
        if files and not files.replace("\t", " ").isprintable():
            names = tuple(map(visible, names))
        return Record(int(exact), known(sender) or address(sender), recipients, int(size),
                      subject, names, (), (), queue)

    def _text(self, line: str) -> Record | str:
        fields = line.split("\t")
        stamp = fields[0]
        epoch = self._stamps[stamp] if stamp in self._stamps else self._stamp(stamp)
        if epoch is None:
            return "no date (YY-MM-DD HH:MM) at the start of the line"
        known = self._addresses.get
        sender: str | None = None
        recipients: list[str] = []
        files: list[str] = []
        size = 0
        subject = ""
        queue = ""
        exact: int | None = None
        for field in fields[1:]:
            key, _, value = field.partition("=")
            if key == "to":
                recipients.append(known(value) or self.address(value))
            elif key == "file":
                files.append(value)
            elif key == "from":
                sender = known(value) or self.address(value)
            elif key == "time":
                if not (value.isdigit() and value.isascii()):
                    return f"time= is not a number: {value[:40]!r}"
                exact = int(value)
            elif key == "size" or key == "body":
                if not (value.isdigit() and value.isascii()):
                    return f"{key}= is not a number: {value[:40]!r}"
                size = int(value)
            elif key == "subject":
                subject = value
            elif key == "queue":
                queue = visible(value)
        if sender is None:
            return "no from= field"
        if exact is None:  # the original's layout: raw encoded words, no time=
            subject = decode_words(subject)
            files = [decode_words(name) for name in files]
            exact = epoch
        return Record(exact, sender, tuple(recipients), size, visible(subject),
                      tuple(map(visible, files)) if files else (), (), (), queue)

    # -- JSON Lines ---------------------------------------------------------------------
    def _json(self, line: str) -> Record | str:
        try:
            data = json.loads(line)
        except ValueError as exc:
            return f"not valid JSON: {exc}"
        if not isinstance(data, dict):
            return "a JSON value that is not an object"
        given = data.get("epoch")
        epoch = given if isinstance(given, int) and _is_int(given) else \
            _iso_epoch(data.get("time"))
        if epoch is None:
            return "no epoch or time"
        if isinstance(data.get("sender"), str):
            sender = self.address(data["sender"])
        elif isinstance(data.get("mail_from"), str):
            sender = self.address(data["mail_from"])
        else:
            return "no sender"
        recipients = data.get("recipients", [])
        if not _strings(recipients):
            return "recipients is not a list of strings"
        size = data.get("size", 0)
        if not _is_int(size) or size < 0:
            return "size is not a number"
        subject = data.get("subject", "")
        if not isinstance(subject, str):
            return "subject is not a string"
        rules = data.get("rules", [])
        if not _strings(rules):
            return "rules is not a list of strings"
        attachments = data.get("attachments", [])
        if not isinstance(attachments, list) or not all(
                isinstance(a, dict) and isinstance(a.get("name", ""), str)
                and isinstance(a.get("type", ""), str) for a in attachments):
            return "attachments is not a list of objects with a name and a type"
        queue = data.get("queue_id", "")
        return Record(
            epoch, sender, tuple(self.address(r) for r in recipients), size, visible(subject),
            tuple(visible(a.get("name", "")) for a in attachments),
            tuple(visible(a.get("type", "")) for a in attachments),
            tuple(visible(r) for r in rules),
            visible(queue) if isinstance(queue, str) else "",
        )


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _iso_epoch(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return calendar.timegm(moment.timetuple())
    return int(moment.timestamp())
