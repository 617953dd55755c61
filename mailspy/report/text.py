"""Values as a report shows them: visible, decoded, sized for people.

Every value in a log came from a sender. Escaping for HTML is the templates'
job (autoescape); what is left here is what escaping cannot fix: control
characters, bidirectional overrides that make `invoice\u202efdp.exe` read as
`invoiceexe.pdf`, and lone surrogates that no UTF-8 encoder accepts.
"""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.header import decode_header, make_header

__all__ = ["decode_words", "human_size", "visible"]

# C0 and C1 controls, DEL, line and paragraph separators, the bidirectional
# embeddings, overrides, isolates and marks, zero-width characters and BOM,
# and lone surrogates (a JSON log may hold them as \udXXX escapes).
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff"
    "\ud800-\udfff]"
)


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: str) -> str:
    """The value with every invisible or reordering character written as an escape.

    A tab becomes `\\x09` too: reports show values on one line, as the log did.
    """
    if _INVISIBLE.search(value) is None:
        return value
    return _INVISIBLE.sub(_shown, value)


def decode_words(value: str) -> str:
    """RFC 2047 encoded words decoded, as the original mailspy logged them raw.

    A value that does not decode stays as it was: a report shows what it
    cannot read rather than failing.
    """
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return value


_UNITS = ("KB", "MB", "GB", "TB")


def human_size(size: int) -> str:
    """Bytes as people read them: `512 B`, `12 KB`, `3.4 MB` (powers of 1,000)."""
    if size < 1000:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1000
        if value < 999.5 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}" if value < 9.95 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")
