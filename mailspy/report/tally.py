"""Counting, in one pass: per address, per domain, per day and hour, per type.

Memory grows with what is distinct (addresses, domains, attachment types,
rules), never with the number of messages: each address and domain keeps
only its newest `keep` rows, the biggest messages are a fixed-size heap.
A row is the message's table row, rendered once and shared by every page
that shows it.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from mailspy.report.addresses import domain_of
from mailspy.report.records import Record

__all__ = ["Entry", "Party", "Tally", "TypeCount", "extension"]

# (epoch, sequence number, row HTML): sorts by time, then by order in the logs
Entry = tuple[int, int, str]

MAX_KINDS = 2_000  # distinct extensions or declared types counted before "(other)"
BIGGEST = 100


class Party:
    """An address or a domain: what it sent, what it received, and all its mail (a
    message counts once in `messages` however many of its recipients this party is,
    and once when it is both sender and recipient: `both` counts those)."""

    __slots__ = ("both", "both_files", "both_size", "domain", "key", "received",
                 "received_files", "received_size", "rows", "sent", "sent_files",
                 "sent_size")

    def __init__(self, key: str, domain: Party | None = None) -> None:
        self.key = key
        self.domain = domain  # an address's domain; None for a domain
        self.sent = self.sent_size = self.sent_files = 0
        self.received = self.received_size = self.received_files = 0
        self.both = self.both_size = self.both_files = 0
        self.rows: list[Entry] = []

    @property
    def messages(self) -> int:
        return self.sent + self.received - self.both

    @property
    def size(self) -> int:
        return self.sent_size + self.received_size - self.both_size

    @property
    def files(self) -> int:
        return self.sent_files + self.received_files - self.both_files

    def newest(self, keep: int) -> list[Entry]:
        """The rows shown on its page, newest first."""
        return sorted(self.rows, reverse=True)[:keep]

    def hidden(self, keep: int) -> int:
        """How many of its messages its page does not show."""
        return self.messages - min(len(self.rows), keep)


@dataclass
class TypeCount:
    attachments: int = 0
    messages: int = 0
    rules: Counter[str] = field(default_factory=Counter)

    def top_rules(self, count: int) -> list[tuple[str, int]]:
        """The rules that fired most often on its messages, ties in name order."""
        return sorted(self.rules.items(), key=lambda kv: (-kv[1], kv[0]))[:count]


def extension(name: str) -> str:
    """`Invoice.PDF.exe` -> `exe`; `(none)` without one; `(other)` for anything odd."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return "(none)"
    if 0 < len(ext) <= 10 and ext.isascii() and ext.isalnum():
        return ext.lower()
    return "(other)"


_size = attrgetter("size")


def _bump(table: dict[str, TypeCount], kind: str) -> TypeCount:
    found = table.get(kind)
    if found is None:
        if len(table) >= MAX_KINDS:
            kind = "(other)"
            found = table.get(kind)
        if found is None:
            found = table[kind] = TypeCount()
    return found


class Tally:
    def __init__(self, keep: int) -> None:
        self.keep = keep
        self._trim_at = keep + max(keep // 4, 16)
        self.addresses: dict[str, Party] = {}
        self.domains: dict[str, Party] = {}
        self.messages = self.size = self.files = 0
        self.first: int | None = None
        self.last: int | None = None
        self.days: Counter[int] = Counter()
        self.hours = [0] * 24
        self.extensions: dict[str, TypeCount] = {}
        self.types: dict[str, TypeCount] = {}
        self.rules: Counter[str] = Counter()
        self._biggest: list[tuple[int, int, Entry, str, str]] = []

    def _address(self, key: str) -> Party:
        domain_key = domain_of(key)
        domain = self.domains.get(domain_key)
        if domain is None:
            domain = self.domains[domain_key] = Party(domain_key)
        party = self.addresses[key] = Party(key, domain)
        return party

    def add_batch(self, records: list[Record], rows: list[str], first_sequence: int,
                  local: Callable[[int], int]) -> None:
        """Count the records of one log page: `rows` are their rows (kept on the pages of
        their addresses and domains), numbered from `first_sequence`; `local` gives a time
        in the report's zone (seconds since 1970-01-01 wall-clock). What can be counted
        over the whole batch at once is, with the standard library's loops; the rest in
        one loop, the common message (one recipient, no attachment) the short way."""
        if not records:
            return
        epochs = [r.epoch for r in records]
        low, high = min(epochs), max(epochs)
        self.first = low if self.first is None else min(self.first, low)
        self.last = high if self.last is None else max(self.last, high)
        self.messages += len(records)
        self.size += sum(map(_size, records))
        moments = list(map(local, epochs))
        self.days.update([m // 86400 for m in moments])
        hours = self.hours
        for hour, count in Counter([m % 86400 // 3600 for m in moments]).items():
            hours[hour] += count

        known = self.addresses.get
        new = self._address
        keep, trim_at = self.keep, self._trim_at
        biggest = self._biggest
        rules = self.rules
        sequence = first_sequence
        for record, row in zip(records, rows, strict=True):
            entry = (record.epoch, sequence, row)
            sequence += 1
            size = record.size
            sender = known(record.sender) or new(record.sender)
            sender.sent += 1
            sender.sent_size += size
            outgoing: Party = sender.domain  # type: ignore[assignment]
            outgoing.sent += 1
            outgoing.sent_size += size
            kept = sender.rows  # a domain's rows are its addresses' (see settle)
            kept.append(entry)
            if len(kept) > trim_at:
                kept.sort()
                del kept[:-keep]

            recipients = record.recipients
            if len(recipients) == 1:
                party = known(recipients[0]) or new(recipients[0])
                party.received += 1
                party.received_size += size
                arriving: Party = party.domain  # type: ignore[assignment]
                arriving.received += 1
                arriving.received_size += size
                if party is sender:
                    sender.both += 1
                    sender.both_size += size
                else:
                    kept = party.rows
                    kept.append(entry)
                    if len(kept) > trim_at:
                        kept.sort()
                        del kept[:-keep]
                if arriving is outgoing:
                    outgoing.both += 1
                    outgoing.both_size += size
                if record.files:
                    self._files(record, sender, (party,), (arriving,))
            else:
                received: list[Party] = []  # each once, however often it is named
                for key in recipients:
                    party = known(key) or new(key)
                    if party in received:
                        continue
                    received.append(party)
                    party.received += 1
                    party.received_size += size
                    if party is sender:
                        sender.both += 1
                        sender.both_size += size
                    else:
                        kept = party.rows
                        kept.append(entry)
                        if len(kept) > trim_at:
                            kept.sort()
                            del kept[:-keep]
                arrivals: list[Party] = []
                for party in received:
                    arriving = party.domain  # type: ignore[assignment]
                    if arriving in arrivals:
                        continue
                    arrivals.append(arriving)
                    arriving.received += 1
                    arriving.received_size += size
                    if arriving is outgoing:
                        outgoing.both += 1
                        outgoing.both_size += size
                if record.files:
                    self._files(record, sender, received, arrivals)

            if record.rules:
                rules.update(set(record.rules))
            if len(biggest) < BIGGEST:
                heapq.heappush(biggest, (size, -entry[1], entry, record.sender, record.subject))
            elif size > biggest[0][0]:
                heapq.heapreplace(biggest, (size, -entry[1], entry, record.sender,
                                            record.subject))

    def _files(self, record: Record, sender: Party, received: Iterable[Party],
               arriving: Iterable[Party]) -> None:
        """The attachments of a message: counted for the parties it involves (`received`
        and `arriving` without duplicates), by extension and by declared type."""
        files = len(record.files)
        self.files += files
        sender.sent_files += files
        outgoing: Party = sender.domain  # type: ignore[assignment]
        outgoing.sent_files += files
        for party in received:
            party.received_files += files
            if party is sender:
                sender.both_files += files
        for party in arriving:
            party.received_files += files
            if party is outgoing:
                outgoing.both_files += files
        self._attachments(record)

    def _attachments(self, record: Record) -> None:
        seen_extensions = set()
        for name in record.files:
            kind = extension(name)
            _bump(self.extensions, kind).attachments += 1
            seen_extensions.add(kind)
        for kind in seen_extensions:
            _bump(self.extensions, kind).messages += 1
        seen_types = set()
        for declared in record.types:
            kind = declared.strip().lower() or "(none)"
            _bump(self.types, kind).attachments += 1
            seen_types.add(kind)
        for kind in seen_types:
            counted = _bump(self.types, kind)
            counted.messages += 1
            counted.rules.update(set(record.rules))

    def biggest(self) -> list[tuple[int, Entry, str, str]]:
        """(size, row, sender, subject) of the biggest messages, biggest first (the
        earlier of two of the same size first)."""
        return [(size, entry, sender, subject)
                for size, _, entry, sender, subject in sorted(self._biggest, reverse=True)]

    def settle(self) -> None:
        """Give each domain its newest rows, from its addresses' kept rows.

        Every message of an address is a message of its domain, so among a domain's
        newest `keep` messages, those of any of its addresses are among that address's
        newest `keep` too: the addresses' kept rows hold all the domain's newest. They are
        merged newest first until the domain has `keep` (a message of two of its
        addresses is one row: the same entry, next to itself in the merge)."""
        keep = self.keep
        members: dict[int, list[list[Entry]]] = {}
        owners: dict[int, Party] = {}
        for party in self.addresses.values():
            rows = party.rows
            rows.sort()
            del rows[:-keep]
            domain = party.domain
            assert domain is not None
            owners[id(domain)] = domain
            members.setdefault(id(domain), []).append(rows)
        for key, lists in members.items():
            newest: list[Entry] = []
            previous = None
            for entry in heapq.merge(*map(reversed, lists), reverse=True):
                if entry != previous:
                    newest.append(entry)
                    if len(newest) == keep:
                        break
                previous = entry
            newest.reverse()
            owners[key].rows = newest

    # -- two processes ------------------------------------------------------------------
    def export(self) -> dict[str, Any]:
        """Everything counted, as plain data for the process that merges (`absorb`)."""
        def parties(table: dict[str, Party]) -> list[tuple[str, tuple[int, ...], list[Entry]]]:
            return [(key, tuple(getattr(p, name) for name in _COUNTERS), list(p.rows))
                    for key, p in table.items()]
        return {
            "addresses": parties(self.addresses), "domains": parties(self.domains),
            "messages": self.messages, "size": self.size, "files": self.files,
            "first": self.first, "last": self.last, "days": dict(self.days),
            "hours": list(self.hours), "rules": dict(self.rules),
            "extensions": {k: (v.attachments, v.messages, dict(v.rules))
                           for k, v in self.extensions.items()},
            "types": {k: (v.attachments, v.messages, dict(v.rules))
                      for k, v in self.types.items()},
            "biggest": list(self._biggest),
        }

    def absorb(self, other: dict[str, Any]) -> None:
        """Add what another process counted over other pages of the same logs."""
        for key, counters, rows in other["domains"]:
            self._merge(self.domains.get(key) or self.domains.setdefault(key, Party(key)),
                        counters, rows)
        for key, counters, rows in other["addresses"]:
            party = self.addresses.get(key) or self._address(key)
            self._merge(party, counters, rows)
        self.messages += other["messages"]
        self.size += other["size"]
        self.files += other["files"]
        for moment in ("first", "last"):
            theirs, ours = other[moment], getattr(self, moment)
            if theirs is not None:
                pick = min if moment == "first" else max
                setattr(self, moment, theirs if ours is None else pick(ours, theirs))
        self.days.update(other["days"])
        self.hours = [a + b for a, b in zip(self.hours, other["hours"], strict=True)]
        self.rules.update(other["rules"])
        for mine, theirs in ((self.extensions, other["extensions"]),
                             (self.types, other["types"])):
            for kind, (attachments, messages, rules) in theirs.items():
                counted = mine.setdefault(kind, TypeCount())
                counted.attachments += attachments
                counted.messages += messages
                counted.rules.update(rules)
        self._biggest = sorted(self._biggest + other["biggest"])[-BIGGEST:]
        heapq.heapify(self._biggest)

    def _merge(self, party: Party, counters: tuple[int, ...], rows: list[Entry]) -> None:
        for name, value in zip(_COUNTERS, counters, strict=True):
            setattr(party, name, getattr(party, name) + value)
        merged = party.rows + rows
        merged.sort()
        party.rows = merged[-self.keep:]


_COUNTERS = ("sent", "sent_size", "sent_files", "received", "received_size", "received_files",
             "both", "both_size", "both_files")
