"""The lines of a header block: what each line is, and the fields they make.

Shared by the message reader (the top header block) and the MIME walker
(each part's header block), which must agree on where a block ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")


# A run of lines that line_kind reads as a field and its continuations, then fields
# and continuations, up to a blank line (not included): the usual header block, read
# at once. Possessive: linear whatever the lines hold.
_PLAIN_BLOCK = re.compile(
    rb"[\x21-\x39\x3b-\x7e]++[ \t]*+:[^\n]*+\n"
    rb"(?:(?:[\x21-\x39\x3b-\x7e]++[ \t]*+:|[ \t])[^\n]*+\n)*+(?=\r?\n)"
)


def plain_block_end(data: bytes, start: int, limit: int) -> int:
    """Where the header block at `start` ends (the start of its blank line) when every
    line of it, before `limit`, is a field or the continuation of one; -1 otherwise."""
    found = _PLAIN_BLOCK.match(data, start, limit)
    return -1 if found is None else found.end()


def line_kind(line: bytes) -> str:
    """Where a line at line start puts us: "field", "continuation", "end" or "body"."""
    if line in (b"\r\n", b"\n"):
        return "end"
    if line[:1] in (b" ", b"\t"):
        return "continuation"
    if _FIELD.match(line):
        return "field"
    return "body"


def header_fields(lines: Iterable[bytes]) -> list[tuple[str, str]]:
    """(name, value) pairs from the physical lines of a header block."""
    fields: list[tuple[str, list[bytes]]] = []
    for line in lines:
        line = _strip_eol(line)
        if line[:1] in (b" ", b"\t"):
            if fields:
                fields[-1][1].append(line)  # joined once below: no quadratic copying
            continue
        match = _FIELD.match(line)
        if match:
            fields.append((match.group(1).decode("ascii"), [line[match.end() :].lstrip(b" \t")]))
    return [(name, b"\n".join(value).decode("utf-8", "surrogateescape")) for name, value in fields]


def _strip_eol(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    return line[:-1] if line.endswith(b"\r") else line
