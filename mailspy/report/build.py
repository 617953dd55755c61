"""One site from a stream of records: the message log written as it fills,
everything else once the last record is counted."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

from markupsafe import Markup

from mailspy.report.addresses import domain_label, domain_of, label
from mailspy.report.charts import Chart, bar_chart
from mailspy.report.clock import Clock
from mailspy.report.pages import Links, Pages, SiteInfo
from mailspy.report.records import Problem, Record
from mailspy.report.rows import message_rows
from mailspy.report.settings import Settings
from mailspy.report.site import SiteDir
from mailspy.report.split import write_shared
from mailspy.report.tally import Party, Tally

__all__ = ["Settings", "SiteBuilder"]

PROBLEMS_SHOWN = 1_000
INDEX_TOP = 10
DOMAIN_MEMBERS = 200

# sort key in file names -> (Party attribute, heading word)
SORTS = {
    "messages": ("messages", "messages"),
    "size": ("size", "size"),
    "attachments": ("files", "attachments"),
    "sent": ("sent", "messages sent"),
    "sent-size": ("sent_size", "size sent"),
    "sent-attachments": ("sent_files", "attachments sent"),
    "received": ("received", "messages received"),
    "received-size": ("received_size", "size received"),
    "received-attachments": ("received_files", "attachments received"),
}


@dataclass
class Listed:
    """One address or domain as a table row shows it."""

    key: str
    link: Markup
    local: bool
    messages: int
    size: int
    files: int
    sent: int
    sent_size: int
    sent_files: int
    received: int
    received_size: int
    received_files: int

    def __getitem__(self, name: str) -> Any:
        return getattr(self, name)


def _listed(party: Party, link: Markup, local: bool) -> Listed:
    return Listed(party.key, link, local, party.messages, party.size, party.files, party.sent,
                  party.sent_size, party.sent_files, party.received, party.received_size,
                  party.received_files)


def _top(rows: Iterable[Listed], attribute: str, limit: int) -> tuple[list[Listed], int]:
    """The first `limit` rows by the attribute (those with a zero left out), and how
    many more there are."""
    chosen = sorted((r for r in rows if r[attribute]), key=lambda r: (-r[attribute], r.key))
    return chosen[:limit], max(0, len(chosen) - limit)


class SiteBuilder:
    """`part` of `parts`: with two processes reading the same logs, each renders and
    counts every other page of the message log (part 0 the first, third...), and the
    counts of part 1 are then merged into part 0's (`Tally.absorb`)."""

    def __init__(self, out: SiteDir, settings: Settings, pages: Pages, links: Links,
                 clock: Clock, site: SiteInfo, part: int = 0, parts: int = 1) -> None:
        self.out = out
        self.settings = settings
        self.pages = pages
        self.links = links
        self.clock = clock
        self.site = site  # header and footer of the log pages written on the way
        self.part, self.parts = part, parts
        self.tally = Tally(settings.keep)
        self._page_size = settings.page_size
        self._current: list[Record | int] = []  # the page of the log being filled
        self._held: tuple[int, str, int, int, str, str] | None = None
        # (page number, first epoch, last epoch, messages) of every page of the log
        self._pages: list[tuple[int, int, int, int]] = []

    @property
    def log_pages(self) -> list[tuple[int, str, str, int]]:
        stamp = self.clock.stamp
        return [(n, stamp(first), stamp(last), count) for n, first, last, count in self._pages]

    # -- reading --------------------------------------------------------------------
    def next_is_another_part(self) -> bool:
        return len(self._pages) % self.parts != self.part

    def add(self, record: Record | int) -> None:
        """A record, or just the time of a record that another part renders."""
        current = self._current
        if not current and self._held is not None:
            self.write_held(has_next=True)  # a page begins: the one held has a successor
        current.append(record)
        if len(current) >= self._page_size:
            self.flush()

    def flush(self) -> None:
        """Close the page being filled: when it is this part's, render and count its
        records, and hold it until it is known whether another page follows."""
        items, self._current = self._current, []
        if not items:
            return
        first, last = items[0], items[-1]
        number = len(self._pages) + 1
        self._pages.append((number, first if type(first) is int else first.epoch,  # type: ignore[union-attr]
                            last if type(last) is int else last.epoch,  # type: ignore[union-attr]
                            len(items)))
        if (number - 1) % self.parts != self.part:
            return
        records: list[Record] = items  # type: ignore[assignment]  # this part's: all read
        rows = message_rows(records, self.clock.stamp, self.links)
        first_sequence = (number - 1) * self._page_size + 1
        self.tally.add_batch(records, rows, first_sequence, self.clock.local)
        self.write_held(has_next=True)
        start, end = self.clock.stamp(records[0].epoch), self.clock.stamp(records[-1].epoch)
        self._held = (number, "".join(rows), first_sequence,
                      first_sequence + len(records) - 1, start, end)

    def write_held(self, has_next: bool) -> None:
        if self._held is None:
            return
        number, rows, first, last, start, end = self._held
        self.out.write(f"log/{number}.html", self.pages.framed(
            "log.html", site=self.site, title=f"Message log, page {number}", number=number,
            rows=Markup(rows), has_next=has_next, first=first, last=last, start=start,
            end=end))
        self._held = None

    def reserve_pages(self, done: Callable[[], bool]) -> int:
        """Create the pages of the addresses linked so far, empty, until `done()`: what
        this process would otherwise spend waiting for the other (see parts.py). Only
        names already given are used, so no name is given in another order. How many."""
        name = self.links.address_name
        count = 0
        for key in list(self.links.known_addresses):
            if done():
                break
            self.out.reserve(f"a/{name(key)}")
            count += 1
        return count

    # -- writing --------------------------------------------------------------------
    def finish(self, site: SiteInfo, problems: list[Problem]) -> None:
        """Write every page but the log pages already written, and the marker."""
        self.flush()
        self.write_held(has_next=False)
        self.tally.settle()
        self.site = site
        write, render = self.out.write, self.pages.render
        write("log/index.html", render("log_index.html", site=site, current="log/index.html",
                                       pages=self.log_pages, page_size=self.settings.page_size))
        addresses = self._listed(self.tally.addresses, self.links.address)
        domains = self._listed(self.tally.domains, self.links.domain)
        self._tables("addresses", "addresses", "Address", addresses,
                     {"messages": "Top addresses", "sent": "Top senders",
                      "received": "Top recipients"})
        self._tables("domains", "domains", "Domain", domains,
                     {"messages": "Top domains", "sent": "Top sender domains",
                      "received": "Top recipient domains"})
        self._party_pages(addresses)
        self._lists(problems)
        self._index(addresses, domains)

    def _is_local(self, key: str) -> bool:
        return self.settings.local.is_local(domain_of(key))

    def _listed(self, table: dict[str, Party], link: Callable[[str], Markup]) -> list[Listed]:
        local = self.settings.local
        rows = []
        for key, party in table.items():
            domain = key if table is self.tally.domains else domain_of(key)
            rows.append(_listed(party, link(key), local.is_local(domain)))
        return rows

    def _tables(self, folder: str, noun: str, what: str, rows: list[Listed],
                headings: dict[str, str]) -> None:
        settings = self.settings
        for sort, (attribute, words) in SORTS.items():
            role = sort.split("-")[0] if sort.split("-")[0] in ("sent", "received") \
                else "messages"
            heading = f"{headings[role]} by {words.split()[0]}"
            if settings.local:
                groups = [(f"Local {noun}", [r for r in rows if r.local], settings.top_local),
                          (f"Other {noun}", [r for r in rows if not r.local], settings.top)]
            else:
                groups = [("", rows, settings.top)]
            blocks = []
            for title, members, limit in groups:
                chosen, hidden = _top(members, attribute, limit)
                blocks.append({"title": title, "rows": chosen, "hidden": hidden,
                               "limit": limit})
            current = f"{folder}/{sort}.html"
            self.out.write(current, self.pages.render(
                "parties.html", site=self.site, current=current, heading=heading,
                blocks=blocks, sort=sort, base=folder, what=what))

    def _rows_of(self, party: Party) -> Markup:
        return Markup("".join(entry[2] for entry in party.newest(self.settings.keep)))

    def _party_pages(self, addresses: list[Listed]) -> None:
        """The page of every address and every domain, shared with a second process."""
        members: dict[str, list[Listed]] = {}
        for row in addresses:
            members.setdefault(domain_of(row.key), []).append(row)
        pages: list[tuple[bool, str, Party]] = [
            *((False, key, party) for key, party in self.tally.addresses.items()),
            *((True, key, party) for key, party in self.tally.domains.items())]
        for is_domain, key, _ in pages:  # every name and link made here, before a fork
            (self.links.domain if is_domain else self.links.address)(key)
        write_shared(pages, lambda page: self._party_page(*page, members), self.out)

    def _party_page(self, is_domain: bool, key: str, party: Party,
                    members: dict[str, list[Listed]]) -> None:
        keep = self.settings.keep
        if is_domain:
            current = f"d/{self.links.domain_name(key)}"
            chosen, more = _top(members.get(key, []), "messages", DOMAIN_MEMBERS)
            details = {"name": domain_label(key), "kind": "Domain",
                       "local": self.settings.local.is_local(key), "domain_link": None,
                       "members": chosen, "members_hidden": more}
        else:
            current = f"a/{self.links.address_name(key)}"
            details = {"name": label(key), "kind": "Address", "local": self._is_local(key),
                       "domain_link": self.links.domain(domain_of(key)), "members": [],
                       "members_hidden": 0}
        self.out.write(current, self.pages.framed(
            "party.html", site=self.site, title=str(details["name"]), p=party,
            rows=self._rows_of(party), hidden=party.hidden(keep), keep=keep, **details))

    def _kinds(self) -> tuple[list[Any], list[Any]]:
        def order(table: dict[str, Any]) -> list[Any]:
            return sorted(table.items(), key=lambda kv: (-kv[1].attachments, kv[0]))
        return order(self.tally.extensions), order(self.tally.types)

    def _lists(self, problems: list[Problem]) -> None:
        extensions, types = self._kinds()
        rules = sorted(self.tally.rules.items(), key=lambda kv: (-kv[1], kv[0]))
        self.out.write("lists/attachments.html", self.pages.render(
            "attachments.html", site=self.site, current="lists/attachments.html",
            extensions=extensions, types=types, rules=rules))
        biggest = self.tally.biggest()
        self.out.write("lists/biggest.html", self.pages.render(
            "biggest.html", site=self.site, current="lists/biggest.html", count=len(biggest),
            rows=Markup("".join(entry[2] for _, entry, _, _ in biggest))))
        if self.site.problems:
            self.out.write("lists/problems.html", self.pages.render(
                "problems.html", site=self.site, current="lists/problems.html",
                problems=problems[:PROBLEMS_SHOWN], shown=min(len(problems), PROBLEMS_SHOWN)))

    def _index(self, addresses: list[Listed], domains: list[Listed]) -> None:
        tally = self.tally
        local_first = self.settings.local and any(r.local for r in addresses)

        def section(title: str, rows: list[Listed], attribute: str, column: str, what: str,
                    more: str, link: Callable[[str, str], Markup]) -> dict[str, Any]:
            chosen, _ = _top(rows, attribute, INDEX_TOP)
            top = [replace(r, link=link(r.key, "")) for r in chosen]
            return {"title": title, "rows": top, "column": (attribute, column), "what": what,
                    "more": more}

        address, domain = self.links.address, self.links.domain
        sections = []
        if local_first:
            sections.append(section("Top local addresses", [r for r in addresses if r.local],
                                    "messages", "messages", "Address",
                                    "addresses/messages.html", address))
            sections.append(section("Top other addresses",
                                    [r for r in addresses if not r.local], "messages",
                                    "messages", "Address", "addresses/messages.html", address))
        else:
            sections.append(section("Top addresses", addresses, "messages", "messages",
                                    "Address", "addresses/messages.html", address))
        sections += [
            section("Top senders", addresses, "sent", "sent", "Sender", "addresses/sent.html",
                    address),
            section("Top recipients", addresses, "received", "received", "Recipient",
                    "addresses/received.html", address),
            section("Most attachments sent", addresses, "sent_files", "attachments",
                    "Sender", "addresses/sent-attachments.html", address),
            section("Top domains", domains, "messages", "messages", "Domain",
                    "domains/messages.html", domain),
            section("Top sender domains", domains, "sent", "sent", "Domain",
                    "domains/sent.html", domain),
            section("Top recipient domains", domains, "received", "received", "Domain",
                    "domains/received.html", domain),
            section("Biggest senders", addresses, "sent_size", "size sent", "Sender",
                    "addresses/sent-size.html", address),
        ]
        extensions, _ = self._kinds()
        biggest = [(size, address(sender, ""), subject)
                   for size, _, sender, subject in tally.biggest()[:INDEX_TOP]]
        totals = {"size": tally.size, "files": tally.files,
                  "senders": sum(1 for r in addresses if r.sent),
                  "recipients": sum(1 for r in addresses if r.received),
                  "domains": len(domains)}
        self.out.write("index.html", self.pages.render(
            "index.html", site=self.site, current="index.html", totals=totals,
            sections=sections, day_chart=self.day_chart(), hour_chart=self.hour_chart(),
            extensions=extensions[:INDEX_TOP], biggest=biggest,
            biggest_count=len(tally.biggest())))

    # -- charts ---------------------------------------------------------------------
    def day_chart(self) -> Chart | None:
        days = self.tally.days
        if not days:
            return None
        first, last = min(days), max(days)
        short = last - first < 14
        points = []
        for day in range(first, last + 1):
            moment = Clock.date_of(day)
            axis = f"{moment:%a %d}" if short else f"{moment:%m-%d}"
            points.append((axis, f"{moment:%a %Y-%m-%d}", days.get(day, 0)))
        return bar_chart("Messages per day", points)

    def hour_chart(self) -> Chart | None:
        if not self.tally.messages:
            return None
        points = [(f"{h:02d}", f"{h:02d}:00–{h:02d}:59", n)
                  for h, n in enumerate(self.tally.hours)]
        return bar_chart("Messages per hour of the day (all days together)", points)
