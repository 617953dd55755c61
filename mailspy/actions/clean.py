"""Neutralising values before they go into a line-oriented log.

Every value in a summary line comes from the sender (subject, file names,
even the envelope addresses), so any of them may try to end the line early,
add a field, or smuggle in terminal escapes. `clean()` makes each value one
harmless run of printable text; `header_bytes()` does the same job for the
header log and message copies, where a value may span lines but must never
start a new header or a new mbox `From ` line.
"""

from __future__ import annotations

import re

__all__ = ["clean", "clean_each", "header_bytes", "header_name_bytes"]


# Unicode's format characters (category Cf): invisible, and some reorder what
# a terminal shows (U+202E makes `invoice\u202efdp.exe` look like
# `invoiceexe.pdf`). tests/actions/test_clean.py checks this against the
# interpreter's Unicode database.
FORMAT_CHARACTERS = (
    (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C), (0x06DD, 0x06DD), (0x070F, 0x070F),
    (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x2064), (0x2066, 0x206F), (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD),
    (0x110CD, 0x110CD), (0x13430, 0x1343F), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001), (0xE0020, 0xE007F),
)


def _escape_table() -> dict[int, str]:
    """Built once: str.translate with a dict is the fastest general mapping."""
    table: dict[int, str] = {}
    for code in [*range(0x20), 0x7F, *range(0x80, 0xA0)]:
        table[code] = f"\\x{code:02x}"
    for code in (0x09, 0x0A, 0x0D):
        table[code] = " "
    # surrogateescape puts an undecodable byte B at U+DC00+B (B >= 0x80):
    # show the byte itself. Other lone surrogates cannot come from bytes.
    for code in range(0xD800, 0xE000):
        table[code] = f"\\u{code:04x}"
    for byte in range(0x80, 0x100):
        table[0xDC00 + byte] = f"\\x{byte:02x}"
    table[0x2028] = "\\u2028"
    table[0x2029] = "\\u2029"
    for first, last in FORMAT_CHARACTERS:
        for code in range(first, last + 1):
            table[code] = f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    table[ord("\\")] = "\\\\"
    return table


_TABLE = _escape_table()
_NEEDS_WORK = re.compile(
    "[\x00-\x1f\x7f-\x9f\\\\\ud800-\udfff\u2028\u2029"
    + "".join(f"{chr(first)}-{chr(last)}" for first, last in FORMAT_CHARACTERS) + "]")


def clean(value: str) -> str:
    """One log value as a single line of printable text; never shortened.

    - tab, CR and LF become a space (the original's rule: readable, and they
      can no longer split fields or lines);
    - other C0 controls, DEL and C1 controls become `\\xNN` (NEL U+0085 too,
      which some readers take as a line end);
    - an undecodable byte (a surrogateescape surrogate) becomes `\\xNN` of
      that byte; any other lone surrogate `\\uXXXX`;
    - U+2028 and U+2029 become `\\u2028` and `\\u2029`;
    - format characters (bidi overrides like U+202E, zero-width spaces, the
      BOM, tag characters) become `\\uXXXX` (`\\UXXXXXXXX` above U+FFFF),
      so what a terminal shows is what was sent;
    - a backslash is doubled, so a literal `\\x41` typed in a subject shows
      as `\\\\x41` and every `\\x`/`\\u` in the log really is an escape.
      Apart from tab/CR/LF (which become spaces by design) and the one
      overlap of a C1 control U+0080-U+009F with the raw byte of the same
      value, the mapping can be undone exactly.
    """
    if _NEEDS_WORK.search(value) is None:
        return value
    return value.translate(_TABLE)


def clean_each(values: list[str]) -> list[str]:
    """`clean()` of each value; one search of them all when none needs it (most
    records), instead of one per value."""
    if _NEEDS_WORK.search("".join(values)) is None:
        return values
    return [clean(value) for value in values]


_CRLF = re.compile(rb"\r\n")
_BARE_CR = re.compile(rb"\r")
_BLANK_LINES = re.compile(rb"\n[ \t]*(?=\n|\Z)")
_UNFOLDED_BREAK = re.compile(rb"\n(?![ \t])")


def header_bytes(value: str) -> bytes:
    """A header value as bytes that cannot end its own header field.

    The bytes the MTA sent are restored (surrogateescape) and folds are kept
    as LF + whitespace. What a real MTA never produces is neutralised, so a
    value can never forge a header, a blank line or an mbox `From ` line:
    CRLF becomes LF, a bare CR is dropped, whitespace-only lines and trailing
    line breaks are dropped, and a line break not followed by space or tab
    gets a space after it (the text is kept, as a continuation line).
    """
    raw = value.encode("utf-8", "surrogateescape")
    if b"\r" not in raw and b"\n" not in raw:
        return raw
    raw = _BARE_CR.sub(b"", _CRLF.sub(b"\n", raw))
    raw = _BLANK_LINES.sub(b"", raw)
    return _UNFOLDED_BREAK.sub(b"\n ", raw)


_NAME_BAD = re.compile(rb"[\x00-\x20\x7f-\xff:]")


def header_name_bytes(name: str) -> bytes:
    """A header name as bytes; controls, space and colon become `\\xNN`.

    Names come from the MTA, which only passes well-formed ones, but a
    message replayed from a file could carry `From ` as a name; escaping
    keeps such a line from being read as an mbox separator.
    """
    raw = name.encode("utf-8", "surrogateescape")
    if _NAME_BAD.search(raw) is None:
        return raw
    return _NAME_BAD.sub(lambda m: b"\\x%02x" % m.group()[0], raw)
