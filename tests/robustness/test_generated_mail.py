"""Generated hostile mail through the milter adapter (hypothesis).

Three generators, each with the full set of checks of `Harness.send`:
random header lists (hostile names and values, raw bytes, encoded words
holding raw 8-bit bytes), random MIME trees (random boundaries, transfer
encodings, file names, broken closings, nesting, message/rfc822 wrappers,
plain and base64-encoded) and hostile envelopes. The example counts
are bounded so that the module runs in a few seconds; one Recorder serves
every example, and every check is of what *that* example added.
"""

from __future__ import annotations

import base64
import quopri
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.robustness.harness import Harness, Mail, RawHeaders

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# What breaks parsers and logs: line ends, NUL, 8-bit, encoded-word and MIME
# syntax, mbox separators, terminal escapes, Unicode line separators.
PIECES = [b"\r\n", b"\n", b"\r", b"\t", b" ", b"\x00", b"\xff", b"\xc3\xa9", b"\xe2\x80\xa8",
          b"\xc2\x85", b"\x1b[2J", b"=?", b"?=", b"=?utf-8?q?", b"=?utf-8?b?", b"=0D=0A", b"=09",
          b"From ", b"\n\n", b":", b";", b'"', b"'", b"\\", b"--", b"boundary=", b"filename=",
          b"*0*=", b"%0A", b"$(touch x)", b"`id`",
          # raw 8-bit bytes inside encoded words, as Eudora writes them
          b"=?iso-8859-1?q?Fr\xf6sche?=", b"=?koi8-r?Q?\xf0\xd2=C9\xd7?=",
          b"=?iso-2022-jp?q?\x1b$B-b", b"\r\nbegin 644 a.exe\r\n#86)C\r\n"]

raw_bytes = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=16)),
                     max_size=10).map(b"".join)
header_names = st.one_of(
    st.sampled_from([b"Subject", b"From", b"To", b"Content-Type", b"Content-Disposition",
                     b"Content-Transfer-Encoding", b"MIME-Version", b"Received"]),
    st.from_regex(rb"\A[\x21-\x39\x3b-\x7e]{1,40}\Z"),
)
envelope_text = st.lists(
    st.one_of(st.sampled_from([p.decode("utf-8", "surrogateescape") for p in PIECES]),
              st.text(max_size=12)),
    max_size=8,
).map("".join)


# -- MIME trees ----------------------------------------------------------------

Entity = tuple[RawHeaders, bytes]

boundaries = st.one_of(
    st.from_regex(rb"\A[0-9A-Za-z'()+_,./:=? -]{1,70}\Z"),
    st.sampled_from([b"", b" ", b"--", b"B", b"B--", b'a"b', rb".*+?\(", b"\xff\x00"]),
    raw_bytes,
)
types = st.sampled_from([b"text/plain", b"application/octet-stream", b"application/pdf",
                         b"message/rfc822", b"multipart/mixed", b"text/html; charset=\xff",
                         b"", b"\xff/\x00", b"image/png; name=img.png"])
encodings = st.sampled_from([None, b"base64", b"BASE64", b"quoted-printable", b"7bit", b"8bit",
                             b"binary", b"x-uuencode", b"b\x00gus"])
file_names = st.one_of(st.text(max_size=30), raw_bytes.map(lambda b: b.decode("latin-1")))


@st.composite
def dispositions(draw: st.DrawFn) -> bytes | None:
    name = draw(file_names)
    raw = name.encode("utf-8", "surrogateescape")
    form = draw(st.sampled_from(["quoted", "bare", "rfc2231", "word", "rawword", "continued",
                                 "none"]))
    if form == "none":
        return None
    if form == "quoted":
        return b'attachment; filename="' + raw + b'"'
    if form == "bare":
        return b"attachment; filename=" + raw
    if form == "rfc2231":
        return b"attachment; filename*=UTF-8''" + urllib.parse.quote_from_bytes(raw).encode()
    if form == "word":
        return b'inline; filename="=?utf-8?b?' + base64.b64encode(raw) + b'?="'
    if form == "rawword":  # 8-bit bytes left raw inside the word
        charset = draw(st.sampled_from([b"iso-8859-1", b"koi8-r", b"utf-8", b"x-bogus"]))
        return b'attachment; filename="=?' + charset + b"?q?" + raw + b'?="'
    half = len(raw) // 2
    return b'attachment; filename*0="' + raw[:half] + b'"; filename*1="' + raw[half:] + b'"'


@st.composite
def leaves(draw: st.DrawFn) -> Entity:
    headers: RawHeaders = [(b"Content-Type", draw(types))]
    disposition = draw(dispositions())
    if disposition is not None:
        headers.append((b"Content-Disposition", disposition))
    encoding = draw(encodings)
    payload = draw(st.binary(max_size=400))
    if encoding is not None:
        headers.append((b"Content-Transfer-Encoding", encoding))
        if draw(st.booleans()):  # well encoded, or raw bytes that claim to be
            if encoding.lower() == b"base64":
                payload = base64.encodebytes(payload).replace(b"\n", b"\r\n")
            elif encoding == b"quoted-printable":
                payload = quopri.encodestring(payload).replace(b"\n", b"\r\n")
    return headers, payload


def render(entity: Entity) -> bytes:
    headers, body = entity
    return b"".join(n + b": " + v + b"\r\n" for n, v in headers) + b"\r\n" + body


@st.composite
def multiparts(draw: st.DrawFn, children: st.SearchStrategy[list[Entity]]) -> Entity:
    boundary = draw(boundaries)
    subtype = draw(st.sampled_from([b"mixed", b"alternative", b"digest", b"related", b"x-\xff"]))
    quoted = b'"' + boundary + b'"' if draw(st.booleans()) else boundary
    headers: RawHeaders = [(b"Content-Type", b"multipart/" + subtype + b"; boundary=" + quoted)]
    delimiter = b"--" + (boundary if draw(st.booleans()) else draw(boundaries))
    body = draw(st.binary(max_size=40))  # preamble
    for child in draw(children):
        body += b"\r\n" + delimiter + b"\r\n" + render(child)
    if draw(st.booleans()):
        body += b"\r\n" + delimiter + b"--\r\n"
    body += draw(st.binary(max_size=40))  # epilogue
    return headers, body


def wrapped(child: Entity) -> Entity:
    return [(b"Content-Type", b"message/rfc822")], render(child)


def wrapped_encoded(child: Entity) -> Entity:
    """A forwarded message sent base64-encoded, as some mailers do."""
    headers: RawHeaders = [(b"Content-Type", b"message/rfc822"),
                           (b"Content-Transfer-Encoding", b"base64")]
    return headers, base64.encodebytes(render(child)).replace(b"\n", b"\r\n")


mime_trees = st.recursive(
    leaves(),
    lambda inner: st.one_of(multiparts(st.lists(inner, max_size=4)), inner.map(wrapped),
                            inner.map(wrapped_encoded)),
    max_leaves=12,
)


@st.composite
def mime_mails(draw: st.DrawFn) -> Mail:
    headers, body = draw(mime_trees)
    extra = draw(st.lists(st.tuples(header_names, raw_bytes), max_size=4))
    if draw(st.booleans()):
        body = body.replace(b"\r\n", b"\n")  # bare LF line ends, as some MTAs pass them
    return Mail(headers=[(b"MIME-Version", b"1.0"), *extra, *headers], body=body)


# -- the tests -----------------------------------------------------------------


@SETTINGS
@given(mail=mime_mails())
def test_generated_mime_trees(shared_harness: Harness, mail: Mail) -> None:
    shared_harness.send(mail)


@SETTINGS
@given(headers=st.lists(st.tuples(header_names, raw_bytes), max_size=12),
       body=st.one_of(st.binary(max_size=2000), raw_bytes))
def test_random_header_lists_and_bodies(shared_harness: Harness, headers: RawHeaders,
                                        body: bytes) -> None:
    shared_harness.send(Mail(headers=headers, body=body))


@settings(SETTINGS, max_examples=50)
@given(sender=envelope_text, recipients=st.lists(envelope_text, max_size=5),
       subject=raw_bytes)
def test_hostile_envelopes(shared_harness: Harness, sender: str, recipients: list[str],
                           subject: bytes) -> None:
    shared_harness.send(Mail(sender, recipients, [(b"Subject", subject)], b"body\r\n"))
