"""Addresses as a report counts them, and the site's own domains.

A key is the address without its angle brackets or surrounding spaces, in
lower case: `<Ann@Corp.Example>` and `ann@corp.example` are one person, as
postmasters count them (and as the original reports did). A bounce's empty
sender is the key "". The domain is what follows the last `@`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["LocalDomains", "address_key", "domain_of", "label", "read_list"]


def address_key(raw: str) -> str:
    """`<Ann@Corp.Example>` -> `ann@corp.example`. One bracket each side is
    removed, so a value cut short in an old log (`<ann@cor`) still reads."""
    value = raw.strip()
    if value.startswith("<"):
        value = value[1:]
    if value.endswith(">"):
        value = value[:-1]
    return value.strip().lower()


def domain_of(key: str) -> str:
    """The part after the last `@`, or "" for an address without one."""
    at = key.rfind("@")
    return key[at + 1:] if at >= 0 else ""


def label(key: str) -> str:
    """How an address key is shown: the bounce sender has no text of its own."""
    return key if key else "<> (bounce)"


def domain_label(domain: str) -> str:
    return domain if domain else "(no domain)"


def read_list(path: str) -> list[str]:
    """The first word of each line; blank lines and `#` comment lines skipped.

    The original reports' user lists had this form (`address  Full Name ...`),
    so they can be used as they are.
    """
    words = []
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            words.append(stripped.split()[0])
    return words


class LocalDomains:
    """The site's own domains; each covers its subdomains (`corp.example` covers
    `mail.corp.example`)."""

    def __init__(self, domains: Iterable[str]) -> None:
        self.domains = tuple(sorted({d.strip().lstrip("@").rstrip(".").lower()
                                     for d in domains if d.strip()}))
        self._cache: dict[str, bool] = {}

    def __bool__(self) -> bool:
        return bool(self.domains)

    def is_local(self, domain: str) -> bool:
        known = self._cache.get(domain)
        if known is None:
            known = any(domain == d or domain.endswith("." + d) for d in self.domains)
            if len(self._cache) < 100_000:  # domains come from senders: bound the cache
                self._cache[domain] = known
        return known
