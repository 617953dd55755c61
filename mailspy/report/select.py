"""Which messages a report shows: a period, a list of people, mail that left the site.

`--only FILE` keeps what the original's user lists kept: a message from a
listed address whole; a message from anyone else with only its listed
recipients, and not at all when none is listed. An entry `@domain` lists
everyone at that domain.

`--exclude-local` leaves out what never left the site, as the original's
`$excludelocalmail` did: a message from a local address loses its local
recipients, and is left out when none remain.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mailspy.report.addresses import LocalDomains, address_key, domain_of
from mailspy.report.records import Record

__all__ = ["OnlyList", "Selection"]


class OnlyList:
    """Addresses and `@domain` entries, as keys."""

    def __init__(self, entries: list[str]) -> None:
        self.addresses = {address_key(e) for e in entries if not e.startswith("@")}
        self.domains = {e[1:].lower() for e in entries if e.startswith("@")}

    def __contains__(self, key: str) -> bool:
        return key in self.addresses or domain_of(key) in self.domains


@dataclass
class Selection:
    since: int | None = None
    until: int | None = None  # exclusive
    only: OnlyList | None = None
    exclude_local: bool = False
    local: LocalDomains = field(default_factory=lambda: LocalDomains(()))
    # what was left out, for the report's footer
    outside_period: int = 0
    not_listed: int = 0
    local_only: int = 0
    local_recipients_dropped: int = 0

    @property
    def everything(self) -> bool:
        """True when every message is shown, as it is."""
        return self.since is None and self.until is None and self.by_time_only

    @property
    def by_time_only(self) -> bool:
        """True when whether a message is shown depends on its time alone."""
        return self.only is None and not self.exclude_local

    def in_period(self, epoch: int) -> bool:
        if (self.since is not None and epoch < self.since) or (
                self.until is not None and epoch >= self.until):
            self.outside_period += 1
            return False
        return True

    def apply(self, record: Record) -> Record | None:
        """The record as the report shows it, or None when it is left out."""
        if (self.since is not None and record.epoch < self.since) or (
                self.until is not None and record.epoch >= self.until):
            self.outside_period += 1
            return None
        if self.only is not None and record.sender not in self.only:
            kept = tuple(r for r in record.recipients if r in self.only)
            if not kept:
                self.not_listed += 1
                return None
            if len(kept) != len(record.recipients):
                record = replace(record, recipients=kept)
        if self.exclude_local and self.local.is_local(domain_of(record.sender)):
            kept = tuple(r for r in record.recipients if not self.local.is_local(domain_of(r)))
            if not kept:
                self.local_only += 1
                return None
            if len(kept) != len(record.recipients):
                self.local_recipients_dropped += 1
                record = replace(record, recipients=kept)
        return record
