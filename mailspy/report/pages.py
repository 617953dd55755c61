"""Rendering pages with Jinja2: the templates ship inside the package.

Autoescape is on for every template: a subject, an address or a file name is
text wherever it is shown. The few pieces of HTML built in Python (links to
the page of an address or a domain) are built with `Markup.format`, which
escapes what it is given in the same way; the rows of messages, made once per
message and shared by many pages, are built in rows.py with the same escaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from mailspy.report.addresses import domain_label, label
from mailspy.report.names import PageNames
from mailspy.report.text import human_size

__all__ = ["NAVIGATION", "Links", "Pages", "SiteInfo"]

NAVIGATION = (
    ("index.html", "Overview"),
    ("addresses/messages.html", "Addresses"),
    ("addresses/sent.html", "Senders"),
    ("addresses/received.html", "Recipients"),
    ("domains/messages.html", "Domains"),
    ("log/index.html", "Message log"),
    ("lists/attachments.html", "Attachments"),
    ("lists/biggest.html", "Biggest"),
)
_SEPARATOR = "\x1e"


@dataclass
class SiteInfo:
    """What every page of one site says in its header and footer. `messages` is None
    on the message log's pages, written before the totals are known."""

    title: str
    zone: str
    version: str
    generated: str
    history: bool = False
    pseudonymized: bool = False
    period: str = ""
    lines: int = 0
    inputs: str = ""
    messages: int | None = None
    left_out: str = ""
    problems: int = 0


class Links:
    """Links to the pages of addresses and domains, from a page one folder down
    (every page but the overview); built once per address. The file names come from
    `PageNames`, one namespace per folder."""

    def __init__(self) -> None:
        self.known_addresses: dict[str, Markup] = {}  # for lookups in the hot loop
        self._domains: dict[str, Markup] = {}
        self.address_name = PageNames()
        self.domain_name = PageNames()

    def address(self, key: str, root: str = "../") -> Markup:
        if root != "../":
            return Markup('<a href="{}a/{}">{}</a>').format(root, self.address_name(key),
                                                            label(key))
        found = self.known_addresses.get(key)
        if found is None:
            found = self.known_addresses[key] = Markup('<a href="../a/{}">{}</a>').format(
                self.address_name(key), label(key))
        return found

    def domain(self, domain: str, root: str = "../") -> Markup:
        if root != "../":
            return Markup('<a href="{}d/{}">{}</a>').format(root, self.domain_name(domain),
                                                            domain_label(domain))
        found = self._domains.get(domain)
        if found is None:
            found = self._domains[domain] = Markup('<a href="../d/{}">{}</a>').format(
                self.domain_name(domain), domain_label(domain))
        return found


def _number(value: int) -> str:
    return f"{value:,}"


class Pages:
    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("mailspy.report", "templates"),
            autoescape=True,
            auto_reload=False,  # templates never change during a run: no stat per page
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=StrictUndefined,
        )
        self.env.filters["num"] = _number
        self.env.filters["size"] = human_size
        self.css = Markup(files("mailspy.report").joinpath("templates/style.css")
                          .read_text(encoding="utf-8"))
        self._frame: tuple[SiteInfo | None, tuple[str, ...]] = (None, ())

    def render(self, template: str, *, site: SiteInfo, current: str,
               navigation: Sequence[tuple[str, str]] = NAVIGATION, **context: Any) -> str:
        """A page at `current` (its path in the site), links made relative to it."""
        root = "../" * current.count("/")
        return self.env.get_template(template).render(
            site=site, root=root, current=current, css=self.css, navigation=navigation,
            **context)

    def framed(self, template: str, *, site: SiteInfo, title: str, **context: Any) -> str:
        """A page one folder down (an address, a domain, a page of the message log):
        its own content rendered by `template`, set in the frame every such page shares,
        which is rendered once per site (frame.html) rather than once per page."""
        known, parts = self._frame
        if known is not site:
            frame = self.env.get_template("frame.html").render(
                site=site, root="../", current="a/frame.html", css=self.css,
                navigation=NAVIGATION, separator=Markup(_SEPARATOR))
            parts = tuple(frame.split(_SEPARATOR))
            assert len(parts) == 4, "frame.html has one separator per block"
            self._frame = (site, parts)
        body = self.env.get_template(template).render(site=site, root="../", **context)
        shown = escape(title)
        return "".join((parts[0], shown, parts[1], shown, parts[2], body, parts[3]))
