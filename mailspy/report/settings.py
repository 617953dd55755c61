"""What a report shows and how much of it: the options that shape every site."""

from __future__ import annotations

from dataclasses import dataclass, field

from mailspy.report.addresses import LocalDomains

__all__ = ["Settings"]


@dataclass
class Settings:
    title: str = "mailspy report"
    page_size: int = 200  # messages per page of the message log
    keep: int = 100  # newest messages on the page of an address or a domain
    top: int = 100  # rows per table of addresses or domains (others)
    top_local: int = 300  # rows per table of the site's own addresses or domains
    local: LocalDomains = field(default_factory=lambda: LocalDomains(()))
    pseudonymized: bool = False
