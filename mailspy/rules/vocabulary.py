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
    kind: str = "text"  # "text", "size" (compared as a number) or "address" (IP, CIDR in `in`)
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
        FieldSpec("header", many=True, argument="a header name",
                  summary="each occurrence of the named header, RFC 2047 decoded"),
        FieldSpec("sender-domain", summary="the envelope sender's domain"),
        FieldSpec("recipient-domain", many=True, summary="each envelope recipient's domain"),
        FieldSpec("client-address", kind="address", summary="the SMTP client's IP address"),
        FieldSpec("client-name", summary="the SMTP client's host name, as the MTA found it"),
        FieldSpec("helo", summary="the HELO/EHLO name the client gave"),
        FieldSpec("auth-user", summary="the SMTP AUTH user name; empty when not authenticated"),
        FieldSpec("size", kind="size", summary="the body's size in bytes"),
        FieldSpec("attachment-type", many=True,
                  summary="each attachment's declared content type, e.g. application/pdf"),
        FieldSpec("archive-member", many=True,
                  summary="each file name inside an attached zip archive"),
    )
}

ACTIONS: dict[str, ActionSpec] = {
    a.name: a
    for a in (
        ActionSpec("log-summary", "path", options=("format",),
                   summary="append a summary line (format text) or JSON record (format json)"),
        ActionSpec("log-headers", "path", summary="append the header block"),
        ActionSpec("pipe-to-command", "command", True, summary="pipe a copy to a command"),
        ActionSpec("archive-to-maildir", "path", True, summary="deliver a copy to a Maildir"),
        ActionSpec("stop", None, summary="evaluate no further rules"),
    )
}
