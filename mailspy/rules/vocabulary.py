"""The words of the rules language that are not keywords: fields and actions.

The grammar accepts any name in these places so that a typo is reported as
"unknown field 'sendr'; did you mean 'sender'?" rather than as a syntax
error; this table is what the names are checked against.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldSpec:
    name: str
    kind: str = "text"  # "text" or "size"
    many: bool = False  # many values per message (any-of semantics)
    argument: str | None = None  # what the quoted argument names, if one is required
    summary: str = ""


@dataclass(frozen=True)
class ActionSpec:
    name: str
    target: str | None  # "path", "command" or None (takes no target)
    target_required: bool = False
    options: tuple[str, ...] = ()
    summary: str = ""


FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        FieldSpec("sender", summary="envelope MAIL FROM address, without <>"),
        FieldSpec("recipient", many=True, summary="each envelope RCPT TO address"),
        FieldSpec("subject", summary="the Subject header, RFC 2047 decoded"),
        FieldSpec("attachment", many=True, summary="each attachment file name"),
    )
}

ACTIONS: dict[str, ActionSpec] = {
    a.name: a
    for a in (
        ActionSpec("log-summary", "path", summary="append a summary line"),
        ActionSpec("log-headers", "path", summary="append the header block"),
        ActionSpec("pipe-to-command", "command", True, summary="pipe a copy to a command"),
        ActionSpec("archive-to-maildir", "path", True, summary="deliver a copy to a Maildir"),
        ActionSpec("stop", None, summary="evaluate no further rules"),
    )
}
