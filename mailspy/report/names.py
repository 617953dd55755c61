"""File names for the pages of addresses and domains.

A name comes from the sender, so it is never used as it is: the page of
`../../etc/passwd@x` or of `"<script>"@evil.example` must land inside the
site, and `Ann@x` must not overwrite `ann@x` on a filesystem that ignores
case. A name is a readable slug (lower-case letters, digits, `.`, `_`, `-`,
starting and ending with a letter or digit) followed by 12 hex digits of the
SHA-256 of the exact value: different values get different names whatever
their case, and the slug only helps a person reading a URL.

Twelve hex digits are 48 bits: a sender who wants to can make two addresses
whose names agree (about 2^24 tries). `PageNames` hands out each name once:
a value whose short name is already another's gets the whole SHA-256.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["PageNames", "page_name"]

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_SLUG_LENGTH = 48
SHORT = 12


def _parts(value: str) -> tuple[str, str]:
    slug = _UNSAFE.sub("-", value.lower())[:_SLUG_LENGTH].strip("._-") or "none"
    return slug, hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def page_name(value: str) -> str:
    """The short name of a value's page (what `PageNames` gives unless it is taken)."""
    slug, digest = _parts(value)
    return f"{slug}-{digest[:SHORT]}.html"


class PageNames:
    """One distinct name per value, the same every time it is asked for."""

    def __init__(self) -> None:
        self._names: dict[str, str] = {}
        self._taken: set[str] = set()

    def __call__(self, value: str) -> str:
        name = self._names.get(value)
        if name is None:
            slug, digest = _parts(value)
            name = f"{slug}-{digest[:SHORT]}.html"
            if name in self._taken:
                name = f"{slug}-{digest}.html"
            self._names[value] = name
            self._taken.add(name)
        return name
