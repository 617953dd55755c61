"""Turning hostile header text into plain, printable-safe Unicode.

Nothing here raises, whatever the input, and no text leaves it with a lone
surrogate: a header comes from whoever sent the mail. Bytes that are not
UTF-8 are read as Windows-1252 (what 8-bit headers nearly always are),
except inside an encoded word or a parameter: there they stay bytes until
the charset the sender declared decodes them (Eudora writes
`=?iso-8859-1?Q?Fr<0xF6>sche?=`). Charset labels are read as the
supersets mailers mean (Windows-1252 for ISO-8859-1, Microsoft's
ISO-2022-JP with NEC's and IBM's extra rows, ...).
Three stdlib hazards shape the code:

- `email.header.decode_header` scans with a non-greedy regex that is
  quadratic on crafted input (a 140 kB subject of `=?a?q? ` repeated takes
  17 s on 3.11), raises on bad base64 and returns plain text re-encoded with
  `raw-unicode-escape`. Encoded words are therefore found here with a
  linear-time pattern; the stdlib still does the decoding proper
  (`binascii.a2b_qp`, `binascii.a2b_base64`, the codecs).
- `Message.get_param` splits parameters in quadratic time and raises on some
  RFC 2231 continuations (`filename*=a; filename*0=b`, a 5000-digit section
  number). Values are capped before they reach it, and a small regex
  fallback takes over when it raises, so a broken parameter cannot hide a
  file name from the rules.
- Codecs named by the sender may be unknown, not text codecs at all
  (`rot13`), or produce lone surrogates (`utf-7`); the output is scrubbed.
"""

from __future__ import annotations

import binascii
import codecs
import email.charset
import email.message
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

# Header values handed to the stdlib's parameter parser are cut to these
# bounds: it is quadratic in the number of `;`. Real values stay far below.
MAX_PARAM_VALUE = 16 * 1024
MAX_PARAMS = 100

_MIME_FIELDS = ("content-type", "content-disposition", "content-transfer-encoding")

_ANY_SURROGATE = re.compile("[\ud800-\udfff]")
# surrogateescape only ever produces U+DC80..U+DCFF; other surrogates in a
# str are not escaped bytes and cannot be encoded back.
_FOREIGN_SURROGATE = re.compile("[\ud800-\udc7f\udd00-\udfff]")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_FOLD = re.compile(r"[ \t]*(?:\r\n|\n|\r)[ \t]*")
_PARAM_FOLD = re.compile(r"(?:\r\n|\n|\r)(?=[ \t])")
# Linear time: no part can run past a `?`, so no start rescans the line.
# Encoded text may hold spaces, as broken mailers emit and the stdlib allows.
_ENCODED_WORD = re.compile(r"=\?([^?\s]*+)\?([bBqQ])\?([^?]*+)\?=")

# Charsets mislabelled so often that decoding by the label loses text.
_CHARSET_UPGRADES = {
    "us-ascii": "utf-8",
    "ascii": "utf-8",
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    # Microsoft's names for its ISO-2022-JP and Shift_JIS, and names Python lacks.
    "cp50220": "iso-2022-jp",
    "cp50221": "iso-2022-jp",
    "cp50222": "iso-2022-jp",
    "iso-2022-jp-ms": "iso-2022-jp",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
}
# The same, by the codec a label resolves to: Japanese mailers mean Microsoft's
# supersets, which add NEC's row 13 (№ ① Ⅰ ㈱) and the IBM extensions.
_CODEC_UPGRADES = {"shift_jis": "cp932"}
_ISO2022_JP = frozenset({"iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_ext"})


def _legacy_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d
        return chr(byte)


# Bytes that are not UTF-8 are most often Windows-1252 (Outlook, old PHP).
_LEGACY = [_legacy_char(b) for b in range(0x80, 0x100)]


def bytes_to_text(data: bytes) -> str:
    """UTF-8 where the bytes are UTF-8, Windows-1252 byte by byte elsewhere."""
    text = data.decode("utf-8", "surrogateescape")
    if not _ESCAPED_BYTE.search(text):
        return text
    return _ESCAPED_BYTE.sub(lambda m: _LEGACY[ord(m.group()) - 0xDC80], text)


def raw_bytes(raw: str) -> bytes:
    """The bytes a surrogate-escaped str stands for; other surrogates become U+FFFD."""
    if _FOREIGN_SURROGATE.search(raw):
        raw = _FOREIGN_SURROGATE.sub("\ufffd", raw)
    return raw.encode("utf-8", "surrogateescape")


def recover_text(raw: str) -> str:
    """Raw 8-bit header bytes (surrogate-escaped, as pymilter gives them) as text."""
    if not _ANY_SURROGATE.search(raw):
        return raw
    return bytes_to_text(raw_bytes(raw))


def octets(raw: str) -> str:
    """A surrogate-escaped value as one character per byte (U+0000..U+00FF).

    The form the stdlib's parameter parser keeps bytes in: raw 8-bit bytes
    then stay bytes until a declared charset decodes them, like `%XX`.
    """
    if raw.isascii():
        return raw
    return raw_bytes(raw).decode("latin-1")


def from_octets(text: str) -> str:
    """`octets` undone: back to the surrogate-escaped form (text that is not octets stays)."""
    if text.isascii():
        return text
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:  # already text, such as an RFC 2231 value decoded by the stdlib
        return text
    return data.decode("utf-8", "surrogateescape")


def scrub(text: str) -> str:
    """No lone surrogate may leave this module: they break every encoder."""
    return _ANY_SURROGATE.sub("\ufffd", text)


def unfold(text: str) -> str:
    """Folding whitespace, and any stray line break, becomes one space."""
    return _FOLD.sub(" ", text)


def decode_charset(data: bytes, charset: str | None) -> str:
    """Decode by a sender-named charset; unknown or broken ones are guessed."""
    codec = _codec_for(charset)
    if codec is None or codec == "utf-8":
        return bytes_to_text(data)
    try:
        if codec in _ISO2022_JP:
            return scrub(_decode_iso2022_jp(data))
        return scrub(data.decode(codec, "replace"))
    except Exception:  # codecs named by a sender can fail in any way
        return bytes_to_text(data)


def _codec_for(charset: str | None) -> str | None:
    """The codec's canonical name, upgraded to the superset senders mean; None if unknown."""
    if not charset or len(charset) > _MAX_CHARSET_NAME:
        return None
    return _lookup_codec(charset)


_MAX_CHARSET_NAME = 64  # IANA's longest names are some 45 characters, with RFC 2231 "*lang"


@lru_cache(maxsize=256)
def _lookup_codec(charset: str) -> str | None:
    name = charset.split("*", 1)[0].strip().lower()  # RFC 2231 language suffix
    name = email.charset.ALIASES.get(name, name)
    name = _CHARSET_UPGRADES.get(name, name)
    if name in ("utf-8", "utf8"):
        return "utf-8"
    try:
        b"".decode(name)
        codec = codecs.lookup(name).name
    except Exception:  # unknown, not a text codec, or a name the codecs reject
        return None
    return _CODEC_UPGRADES.get(codec, codec)


# -- ISO-2022-JP as Japanese mailers write it (Microsoft's CP50221) ----------

# An ISO 2022 escape: ESC, intermediate bytes, a final byte.
_ISO2022_ESCAPE = re.compile(rb"\x1b[\x20-\x2f]+[\x30-\x7e]")
_JIS_X_0208 = frozenset({b"$B", b"$@", b"$(B"})


def _decode_iso2022_jp(data: bytes) -> str:
    """Strictly by the standard when it can; else segment by segment, JIS X 0208
    through Windows-31J (cp932), whose table has NEC's and IBM's extra rows."""
    try:
        return data.decode("iso2022_jp_2")  # a superset of the plain and -1 variants
    except UnicodeDecodeError:
        pass
    out: list[str] = []
    mode, pos = b"(B", 0
    for escape in _ISO2022_ESCAPE.finditer(data):
        out.append(_jis_segment(mode, data[pos : escape.start()]))
        mode, pos = escape.group()[1:], escape.end()
    out.append(_jis_segment(mode, data[pos:]))
    return "".join(out)


def _jis_segment(mode: bytes, data: bytes) -> str:
    if not data:
        return ""
    if mode in _JIS_X_0208:
        return _jis_x_0208(data)
    if mode == b"(I":  # half-width katakana: 0x21..0x5f stand for 0xa1..0xdf
        return bytes(b | 0x80 if 0x21 <= b <= 0x5F else b for b in data).decode("cp932", "replace")
    if mode == b"(B":
        return data.decode("ascii", "replace")
    return (b"\x1b" + mode + data).decode("iso2022_jp_2", "replace")  # JIS-Roman, 0212, ...


def _jis_x_0208(data: bytes) -> str:
    """Two-byte JIS codes as Shift_JIS bytes, decoded by cp932; controls pass through."""
    out: list[str] = []
    sjis = bytearray()
    pos = 0
    while pos < len(data):
        first = data[pos]
        if first < 0x21:  # a line break or space where a sender forgot to switch back
            sjis.append(first)
            pos += 1
            continue
        second = data[pos + 1] if pos + 1 < len(data) else 0
        pos += 2
        if not (0x21 <= first <= 0x7E and 0x21 <= second <= 0x7E):
            out.append(sjis.decode("cp932", "replace") + "\ufffd")
            sjis.clear()
            continue
        lead = (first - 0x21) // 2 + 0x81
        sjis.append(lead + 0x40 if lead > 0x9F else lead)
        if first % 2:  # odd rows: the trail byte is in the lower half
            sjis.append(second + 0x1F + (second >= 0x60))
        else:
            sjis.append(second + 0x7E)
    out.append(sjis.decode("cp932", "replace"))
    return "".join(out)


@dataclass
class Base64Decoder:
    """Lenient incremental base64: decodes what it can, never raises.

    Characters outside the alphabet are skipped; `=` closes the current
    quantum, so concatenated encodings decode too; a single stray character
    left before a `=` or at the end is dropped.
    """

    _pending: bytes = b""

    def feed(self, data: bytes) -> bytes:
        data = data.translate(None, _B64_JUNK)
        if b"=" not in data:
            data = self._pending + data
            whole = len(data) - len(data) % 4
            self._pending = data[whole:]
            return binascii.a2b_base64(data[:whole])
        *closed, last = data.split(b"=")
        out = [self._close(segment) for segment in closed]
        out.append(self.feed(last))
        return b"".join(out)

    def flush(self) -> bytes:
        return self._close(b"")

    def _close(self, segment: bytes) -> bytes:
        data = self._pending + segment
        self._pending = b""
        if len(data) % 4 == 1:
            data = data[:-1]
        data += b"=" * (-len(data) % 4)
        try:
            return binascii.a2b_base64(data)
        except binascii.Error:  # not reachable with alphabet-only input; belt and braces
            return b""


_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_B64_JUNK = bytes(b for b in range(256) if b not in _B64_ALPHABET)


def decode_header_value(raw: str) -> str:
    """A header value as a reader would see it: RFC 2047 decoded, unfolded.

    Raw 8-bit bytes inside an encoded word (Eudora writes them) stay bytes
    until the word's charset decodes them; outside words they are read as
    UTF-8, else Windows-1252.
    """
    text = unfold(raw)
    if "=?" not in text:
        return scrub(recover_text(text)).strip(" \t")
    pieces: list[_Piece] = []
    last = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[last : match.start()]
        if gap and not (gap.isspace() and pieces and pieces[-1].charset is not None):
            pieces.append(_Piece(None, recover_text(gap)))  # RFC 2047 6.2: space between words goes
        _add_word(pieces, match)
        last = match.end()
    if last < len(text):
        pieces.append(_Piece(None, recover_text(text[last:])))
    return scrub("".join(piece.decoded() for piece in pieces)).strip(" \t")


@dataclass
class _Piece:
    """A run of plain text (charset None) or of same-charset encoded words."""

    charset: str | None
    text: str = ""
    data: bytearray = field(default_factory=bytearray)

    def decoded(self) -> str:
        if self.charset is None:
            return self.text
        return decode_charset(bytes(self.data), self.charset)


def _add_word(pieces: list[_Piece], match: re.Match[str]) -> None:
    """Same-charset neighbours share bytes: senders split characters across words."""
    charset, encoding, payload = match.groups()
    data = _word_bytes(encoding, payload)
    key = recover_text(charset).lower()
    if pieces and pieces[-1].charset == key:
        pieces[-1].data += data
    else:
        pieces.append(_Piece(key, data=bytearray(data)))


def _word_bytes(encoding: str, payload: str) -> bytes:
    raw = raw_bytes(payload)
    if encoding in "qQ":
        return binascii.a2b_qp(raw, header=True)
    decoder = Base64Decoder()
    return decoder.feed(raw) + decoder.flush()


ParamValue = str | tuple[str | None, str | None, str] | None


def decode_param(value: ParamValue) -> str:
    """A parameter as `Message.get_param` returns it, decoded to text.

    Values are `octets` (one character per byte), as `mime_header` stores
    them. Tuples are RFC 2231 (charset, language, percent-decoded value);
    plain strings may hold RFC 2047 words, as Outlook and Thunderbird write
    them.
    """
    if value is None:
        return ""
    if isinstance(value, tuple):
        return _decode_rfc2231(*value)
    return decode_header_value(from_octets(_strip_stray_quotes(value)))


def _decode_rfc2231(charset: str | None, _language: str | None, text: str) -> str:
    text = email.utils.unquote(text)
    try:
        data = text.encode("latin-1")  # octets, escaped (%E9) and raw alike
    except UnicodeEncodeError:  # text from a caller that did not pass octets
        return scrub(unfold(text)).strip(" \t")
    return unfold(decode_charset(data, charset)).strip(" \t")


def _strip_stray_quotes(text: str) -> str:
    """`filename="a.pdf` (no closing quote) is a.pdf to every mail client.

    Applied before decoding: a quote inside an encoded word is part of the name.
    """
    text = text.strip(" \t")
    if text.startswith('"') and not text.endswith('"'):
        text = text[1:]
    elif text.endswith('"') and not text.startswith('"'):
        text = text[:-1]
    return text.strip(" \t")


def mime_header(
    fields: Iterable[tuple[str, str]], default_type: str = "text/plain"
) -> email.message.Message:
    """The MIME fields of a header block as a compat32 Message, safe to query.

    Values are made `octets`, unfolded and capped first, so that the
    stdlib's parameter parser sees neither surrogates (it would replace the
    bytes) nor crafted lengths. Decode what it returns with `decode_param`
    (parameters) or `from_octets` (anything else).
    """
    message = email.message.Message()
    message.set_default_type(default_type)
    for name, value in fields:
        if name.strip().lower() in _MIME_FIELDS:
            message[name.strip()] = _param_safe(value)
    return message


def mime_fields(fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The first Content-Type, Content-Disposition and Content-Transfer-Encoding of a
    header block, by lower-case name, made safe for the stdlib's parameter parser as
    `mime_header` makes them. Only the first of each counts, for the stdlib's getters as
    for `read_mime_fields`."""
    found: dict[str, str] = {}
    for name, value in fields:
        key = name.strip().lower()
        if key in _MIME_FIELDS and key not in found:
            found[key] = _param_safe(value)
    return found


class MimeFields(NamedTuple):
    """What a part's MIME fields say. `content_type` and `boundary` are octets (see
    `octets`); `name` is decoded text. A tuple: one is made for every part."""

    content_type: str
    boundary: str | None  # multipart types only
    encoding: str  # Content-Transfer-Encoding, lower case, "" when absent
    name: str  # Content-Disposition `filename`, else Content-Type `name`; "" for none
    attachment: bool  # `Content-Disposition: attachment`


def read_mime_fields(found: dict[str, str], default_type: str = "text/plain") -> MimeFields:
    """`mime_fields` read as the stdlib's `Message` getters read them: directly when
    every parameter is plain (`_plain_params`), which is most mail and takes a tenth of
    the time, else through the stdlib itself. The stdlib may raise on crafted values."""
    plain = _read_plain(found, default_type)
    if plain is not None:
        return plain
    part = email.message.Message()
    part.set_default_type(default_type)
    for name, value in found.items():
        part[name] = value
    content_type = part.get_content_type()
    return MimeFields(
        content_type=content_type,
        boundary=part.get_boundary() if content_type.startswith("multipart/") else None,
        encoding=str(part.get("content-transfer-encoding", "")).strip().lower(),
        name=part_filename(part),
        attachment=part.get_content_disposition() == "attachment",
    )


def _read_plain(found: dict[str, str], default_type: str) -> MimeFields | None:
    """`read_mime_fields` without the stdlib, or None when a value is not plain."""
    content_type = found.get("content-type")
    disposition = found.get("content-disposition")
    type_params = {} if content_type is None else _plain_params(content_type)
    disposition_params = {} if disposition is None else _plain_params(disposition)
    if type_params is None or disposition_params is None:
        return None
    if content_type is None:
        kind = default_type
    else:  # Message.get_content_type
        kind = content_type.partition(";")[0].strip().lower()
        if kind.count("/") != 1:
            kind = "text/plain"
    boundary = None
    if kind.startswith("multipart/") and "boundary" in type_params:  # Message.get_boundary
        boundary = email.utils.unquote(type_params["boundary"]).rstrip()
    return MimeFields(
        content_type=kind,
        boundary=boundary,
        encoding=found.get("content-transfer-encoding", "").strip().lower(),
        name=decode_param(disposition_params.get("filename"))
        or decode_param(type_params.get("name")),
        attachment=disposition is not None
        and disposition.partition(";")[0].strip().lower() == "attachment",
    )


def _plain_params(text: str) -> dict[str, str] | None:
    """A field's parameters as `Message.get_param` returns them (lower-case name -> value
    unquoted; the first of a name wins; the value before the first `;` is a parameter
    too, with the value ""), when the field is plain: no backslash, no RFC 2231 `*` in a
    name, no `=` before the first `;`, no quote that hides a `;` or stays in a value.
    None otherwise, for the stdlib to read. (The stdlib splits at each `;` outside
    quotes, lower-cases and strips names, strips and unquotes values, and quotes them
    again, which plain values survive unchanged.)"""
    if "\\" in text:
        return None
    head, *segments = text.split(";")
    if "=" in head or head.count('"') % 2:
        return None
    params = {head.strip().lower(): ""}
    for segment in segments:
        if segment.count('"') % 2:
            return None
        name, equals, value = segment.partition("=")
        if equals:
            name, value = name.strip().lower(), email.utils.unquote(value.strip())
        else:
            name, value = segment.strip().lower(), ""
        if "*" in name or '"' in value:
            return None
        params.setdefault(name, value)
    return params


def _param_safe(value: str) -> str:
    text = _PARAM_FOLD.sub("", octets(value[: MAX_PARAM_VALUE * 4]))
    text = text.replace("\r", " ").replace("\n", " ")[:MAX_PARAM_VALUE]
    if text.count(";") > MAX_PARAMS:
        text = ";".join(text.split(";", MAX_PARAMS + 1)[: MAX_PARAMS + 1])
    return text


def part_filename(part: email.message.Message) -> str:
    """The part's file name: Content-Disposition `filename`, else Content-Type `name`."""
    for param, header in (("filename", "content-disposition"), ("name", "content-type")):
        name = _param(part, param, header)
        if name:
            return name
    return ""


def _param(part: email.message.Message, param: str, header: str) -> str:
    try:
        return decode_param(part.get_param(param, header=header))
    except Exception:  # the stdlib's RFC 2231 code raises on crafted sections
        return _fallback_param(part.get(header, ""), param)


def _fallback_param(value: object, param: str) -> str:
    """Plain `param=` (quoted or not), else a single `param*=`: enough for rules."""
    text = str(value)
    plain = re.search(rf'(?:^|;)\s*{param}\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)', text, re.IGNORECASE)
    if plain:
        return decode_param(email.utils.unquote(plain.group(1).strip()))
    extended = re.search(rf"(?:^|;)\s*{param}\*\s*=\s*([^;]*)", text, re.IGNORECASE)
    if extended:
        charset, language, encoded = email.utils.decode_rfc2231(extended.group(1).strip())
        octets = re.sub(r"%([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), encoded)
        return _decode_rfc2231(charset, language, octets)
    return ""
