"""Every field a rule can test, in one table: its name, its kind of value, its
documentation and where its values come from in a message.

The rules language checks names, arguments and tests against this table;
evaluation calls `extract`; docs/rules.md's table of fields is this table
(`markdown_table`, and a test keeps the two equal). Adding a field is adding
one entry here, with its tests.

An extractor receives the message (envelope, headers, body, attachments)
and the field's argument, and returns the field's values: one for most
fields, any number for the "many" ones. It only reads the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mailspy.message.model import Message

TEXT, SIZE, ADDRESS = "text", "size", "address"  # how values compare
_LINK = "(see [How names and subjects are read](#how-names-and-subjects-are-read))"
_LOCAL = "see [what each MTA tells mailspy](#what-each-mta-tells-mailspy)"

Extract = Callable[["Message", "str | None"], tuple[Any, ...]]


@dataclass(frozen=True)
class Field:
    name: str
    doc: str  # what the value is, as docs/rules.md says it (Markdown)
    extract: Extract
    kind: str = TEXT  # TEXT, SIZE (compared as a number) or ADDRESS (IP, CIDR in `in`)
    many: bool = False  # many values per message: a test passes when any value does
    argument: str | None = None  # what its quoted argument names, when it takes one
    steps: frozenset[str] = frozenset()  # SMTP steps its values come from, beyond the usual

    @property
    def written(self) -> str:
        return f'{self.name} "Name"' if self.argument else self.name


def _domain(address: str) -> tuple[str, ...]:
    return (address.rpartition("@")[2],) if "@" in address else ()


def _message_id(message: Message) -> str:
    ids = message.decoded_header_values("Message-ID")
    return ids[0].strip().removeprefix("<").removesuffix(">") if ids else ""


def _present(value: str) -> tuple[str, ...]:
    return (value,) if value else ()


FIELDS: dict[str, Field] = {f.name: f for f in (
    Field("sender", "the envelope sender (MAIL FROM), without `<>`; `\"\"` for a bounce",
          lambda m, _: (m.envelope.sender,)),
    Field("recipient", "each envelope recipient (RCPT TO), without `<>`",
          lambda m, _: tuple(m.envelope.recipients), many=True),
    Field("subject", "the `Subject:` header, RFC 2047 encoded words decoded, folding "
          "removed; `\"\"` when absent",
          lambda m, _: (m.subject,)),
    Field("attachment", "each attachment's file name, at any MIME depth (inside nested "
          "multiparts and forwarded messages), from Content-Disposition `filename` or "
          "Content-Type `name`, RFC 2231 and RFC 2047 decoded; `\"\"` for an attachment "
          f"without a name {_LINK}",
          lambda m, _: tuple(a.name for a in m.attachment_outline), many=True),
    Field("header", "each occurrence of the named header (name case ignored), RFC 2047 "
          "decoded, folding removed; none when absent",
          lambda m, name: m.decoded_header_values(name or ""), many=True,
          argument="a header name"),
    Field("sender-domain", "the part of `sender` after the last `@`; none for a bounce",
          lambda m, _: _domain(m.envelope.sender)),
    Field("recipient-domain", "the domain of each recipient",
          lambda m, _: tuple(d for r in m.envelope.recipients for d in _domain(r)),
          many=True),
    Field("client-address", f"the SMTP client's IP address; for a local submission {_LOCAL}",
          lambda m, _: _present(m.envelope.client_address), kind=ADDRESS,
          steps=frozenset({"connect"})),
    Field("client-name", "the client's host name as the MTA found it (`[1.2.3.4]` when it "
          "found none)",
          lambda m, _: (m.envelope.client_name,), steps=frozenset({"connect"})),
    Field("helo", "the name the client gave in HELO/EHLO",
          lambda m, _: (m.envelope.helo,), steps=frozenset({"helo"})),
    Field("auth-user", "the SMTP AUTH login name; `\"\"` when the client did not "
          "authenticate",
          lambda m, _: (m.envelope.auth_user,)),
    Field("size", "the body's size in bytes as the MTA handed it over (as on the summary "
          "line), a number; `test-rules`, fixtures and `replay` count the file's body, whose "
          "line ends may be LF where the MTA sends CRLF",
          lambda m, _: (m.body_size,), kind=SIZE),
    Field("attachment-type", "each attachment's declared content type, lower case "
          "(`application/pdf`), named or not; `application/octet-stream` for a uuencoded "
          "file",
          lambda m, _: tuple(a.content_type for a in m.attachment_outline), many=True),
    Field("message-id", "the `Message-ID:` header without its `<>`; `\"\"` when absent",
          lambda m, _: (_message_id(m),)),
    Field("archive-member", "each file name inside an attached zip (also `.docx`, `.jar`...: "
          "any attachment that is a zip)",
          lambda m, _: tuple(n for a in m.attachments for n in a.members), many=True),
)}


def markdown_table() -> str:
    """The table of fields as docs/rules.md shows it."""
    rows = ["| field | value | values per message |", "|---|---|---|"]
    rows += [f"| `{f.written}` | {f.doc} | {'many' if f.many else 'one'} |"
             for f in FIELDS.values()]
    return "\n".join(rows) + "\n"
