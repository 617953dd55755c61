"""File names for the pages of addresses and domains.

A name comes from the sender, so it is never used as it is: the page of
`../../etc/passwd@x` or of `"<script>"@evil.example` must land inside the
site, and `Ann@x` must not overwrite `ann@x` on a filesystem that ignores
case. A name is a readable slug (lower-case letters, digits, `.`, `_`, `-`,
starting and ending with a letter or digit) followed by 12 hex digits of the
SHA-256 of the exact value: different values get different names whatever
their case, and the slug only helps a person reading a URL.
"""

from __future__ import annotations

import hashlib
import re

__all__ = ["page_name"]

_UNSAFE = re.compile(r"[^a-z0-9._-]+")
_SLUG_LENGTH = 48


def page_name(value: str) -> str:
    slug = _UNSAFE.sub("-", value.lower())[:_SLUG_LENGTH].strip("._-") or "none"
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return f"{slug}-{digest}.html"
