"""The lines of a header block: what each line is, and the fields they make.

Shared by the message reader (the top header block) and the MIME walker
(each part's header block), which must agree on where a block ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_FIELD = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")


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
