"""`--since` and `--until`: a date, a date and time, or an age such as `7d`.

Dates and times are wall-clock times in the report's zone; `--until` is
exclusive, so `--since 2026-11-01 --until 2026-12-01` is November.
"""

from __future__ import annotations

import re
from datetime import datetime

from mailspy.report.clock import Clock

__all__ = ["FORMS", "parse_when"]

FORMS = "YYYY-MM-DD, 'YYYY-MM-DD HH:MM', YYYY-MM-DDTHH:MM[:SS], or an age: 30m, 12h, 7d, 2w"
_AGE = re.compile(r"(\d+)([mhdw])\Z")
_UNIT = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(text: str, clock: Clock, now: float) -> int:
    """The epoch TEXT names; ValueError with the accepted forms when it names none."""
    value = text.strip()
    age = _AGE.match(value)
    if age:
        return int(now) - int(age[1]) * _UNIT[age[2]]
    for layout in ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
                   "%Y-%m-%dT%H:%M:%S"):
        try:
            return clock.epoch_of(datetime.strptime(value, layout))
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a time; use {FORMS}")
