"""Times as the report shows them: in one time zone, by day, hour and ISO week.

Logs hold UTC. Reports are read by people, in their own zone: `--tz`, or the
machine's (TZ, else /etc/localtime), as the original's reports were. The
offset is looked up once per quarter of an hour (every zone's offset is a
multiple of 15 minutes and changes on such a boundary), not per message.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["Clock", "local_zone", "zone"]

_QUARTER = 900
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def zone(name: str) -> tzinfo:
    """A zone by IANA name (`Europe/Paris`, `UTC`); ZoneInfoNotFoundError if unknown."""
    if name.upper() == "UTC":
        return UTC
    return ZoneInfo(name)


def local_zone() -> tzinfo:
    """The machine's zone: $TZ, else /etc/localtime, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return zone(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as handle:
            return ZoneInfo.from_file(handle, key="localtime")
    except (OSError, ValueError):
        return UTC


class Clock:
    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._offsets: dict[int, int] = {}
        self._minute = -1
        self._stamp = ""

    @property
    def name(self) -> str:
        return str(self.tz)

    def offset(self, epoch: int) -> int:
        quarter = epoch // _QUARTER
        found = self._offsets.get(quarter)
        if found is None:
            delta = datetime.fromtimestamp(quarter * _QUARTER, self.tz).utcoffset()
            found = int(delta.total_seconds()) if delta is not None else 0
            if len(self._offsets) > 200_000:
                self._offsets.clear()
            self._offsets[quarter] = found
        return found

    def local(self, epoch: int) -> int:
        """Seconds since 1970-01-01 00:00 in the zone's wall-clock time."""
        return epoch + self.offset(epoch)

    def stamp(self, epoch: int) -> str:
        """`2026-11-26 14:03` (the last one is remembered: logs come in time order)."""
        minute = epoch // 60
        if minute != self._minute:
            t = time.gmtime(self.local(epoch))
            self._minute = minute
            self._stamp = (f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d} "
                           f"{t.tm_hour:02d}:{t.tm_min:02d}")
        return self._stamp

    def day(self, epoch: int) -> int:
        """Days since 1970-01-01, in the zone."""
        return self.local(epoch) // 86400

    def hour(self, epoch: int) -> int:
        return self.local(epoch) % 86400 // 3600

    @staticmethod
    def date_of(day: int) -> date:
        return date.fromordinal(day + _EPOCH_ORDINAL)

    @staticmethod
    def day_of(moment: date) -> int:
        return moment.toordinal() - _EPOCH_ORDINAL

    def week(self, epoch: int) -> str:
        """The ISO week, `2026-W48`."""
        year, week, _ = self.date_of(self.day(epoch)).isocalendar()
        return f"{year:04d}-W{week:02d}"

    def epoch_of(self, moment: datetime) -> int:
        """A naive wall-clock time in the zone, as an epoch."""
        return int(moment.replace(tzinfo=self.tz).timestamp())
