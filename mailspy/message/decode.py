"""Turning hostile header text into plain, printable-safe Unicode.

Nothing here raises, whatever the input, and no text leaves it with a lone
surrogate: a header comes from whoever sent the mail. Bytes that are not
UTF-8 are read as Windows-1252 (what 8-bit headers nearly always are).
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
import email.charset
import email.message
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

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
}


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


def recover_text(raw: str) -> str:
    """Raw 8-bit header bytes (surrogate-escaped, as pymilter gives them) as text."""
    if not _ANY_SURROGATE.search(raw):
        return raw
    data = _FOREIGN_SURROGATE.sub("\ufffd", raw).encode("utf-8", "surrogateescape")
    return bytes_to_text(data)


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
        return scrub(data.decode(codec, "replace"))
    except Exception:  # codecs named by a sender can fail in any way
        return bytes_to_text(data)


def _codec_for(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.split("*", 1)[0].strip().lower()  # RFC 2231 language suffix
    name = email.charset.ALIASES.get(name, name)
    name = _CHARSET_UPGRADES.get(name, name)
    if name in ("utf-8", "utf8"):
        return "utf-8"
    try:
        b"".decode(name)
    except Exception:  # unknown, not a text codec, or a name the codecs reject
        return None
    return name


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
    """A header value as a reader would see it: RFC 2047 decoded, unfolded."""
    text = unfold(recover_text(raw))
    pieces: list[_Piece] = []
    last = 0
    for match in _ENCODED_WORD.finditer(text):
        gap = text[last : match.start()]
        if gap and not (gap.isspace() and pieces and pieces[-1].charset is not None):
            pieces.append(_Piece(None, gap))  # RFC 2047 6.2: space between words goes
        _add_word(pieces, match)
        last = match.end()
    if last < len(text):
        pieces.append(_Piece(None, text[last:]))
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
    key = charset.lower()
    if pieces and pieces[-1].charset == key:
        pieces[-1].data += data
    else:
        pieces.append(_Piece(key, data=bytearray(data)))


def _word_bytes(encoding: str, payload: str) -> bytes:
    raw = payload.encode("utf-8")  # callers pass recovered text: no surrogates
    if encoding in "qQ":
        return binascii.a2b_qp(raw, header=True)
    decoder = Base64Decoder()
    return decoder.feed(raw) + decoder.flush()


ParamValue = str | tuple[str | None, str | None, str] | None


def decode_param(value: ParamValue) -> str:
    """A parameter as `Message.get_param` returns it, decoded to text.

    Tuples are RFC 2231 (charset, language, percent-decoded value); plain
    strings may hold RFC 2047 words, as Outlook and Thunderbird write them.
    """
    if value is None:
        return ""
    if isinstance(value, tuple):
        return _decode_rfc2231(*value)
    return _strip_stray_quotes(decode_header_value(value))


def _decode_rfc2231(charset: str | None, _language: str | None, text: str) -> str:
    text = email.utils.unquote(text)
    try:
        data = text.encode("latin-1")  # the stdlib keeps octets as U+0000..U+00FF
    except UnicodeEncodeError:  # raw 8-bit text beside the percent escapes
        return scrub(unfold(text)).strip(" \t")
    return unfold(decode_charset(data, charset)).strip(" \t")


def _strip_stray_quotes(text: str) -> str:
    """`filename="a.pdf` (no closing quote) is a.pdf to every mail client."""
    if text.startswith('"') and not text.endswith('"'):
        text = text[1:]
    elif text.endswith('"') and not text.startswith('"'):
        text = text[:-1]
    return text.strip(" \t")


def mime_header(
    fields: Iterable[tuple[str, str]], default_type: str = "text/plain"
) -> email.message.Message:
    """The MIME fields of a header block as a compat32 Message, safe to query.

    Values are made real text, unfolded and capped first, so that the
    stdlib's parameter parser sees neither surrogates nor crafted lengths.
    """
    message = email.message.Message()
    message.set_default_type(default_type)
    for name, value in fields:
        if name.strip().lower() in _MIME_FIELDS:
            message[name.strip()] = _param_safe(value)
    return message


def _param_safe(value: str) -> str:
    text = _PARAM_FOLD.sub("", recover_text(value[: MAX_PARAM_VALUE * 4]))
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
