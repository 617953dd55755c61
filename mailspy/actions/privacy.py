"""Privacy in records: options that keep personal data out of what a log action writes.

A record names people: the envelope's addresses, the subject, the names of
attachments, the client's address and AUTH login. Each log action that
writes such a record declares the options below (`RECORD_OPTIONS`,
`HEADER_OPTIONS`) and hands its options to `privacy()` (or
`header_privacy()`), which says what to write instead of each value:

- `keep`: the value as it came (the default);
- `hash`: a token, HMAC-SHA256 of the value under a key file's key, cut to
  80 bits and written in base32: the same value gives the same token in
  every record of every host that shares the key, so traffic can still be
  counted and joined, but nobody without the key can tell whose it is by
  hashing guesses;
- `hash-local` (addresses): the same token followed by `@domain`, so
  reports per domain still work;
- `domain` (addresses): only `@domain`;
- `drop`: nothing (an empty value).

The record builders call the `Privacy` methods on every personal value
(`KEEP` when nothing is asked for, which changes nothing), so the text
summary, the JSON record and every action that builds the JSON record
through summary_json.py apply the same options the same way.

Keys are read when the rules are loaded (rules/compile.py, like a list
file) and put to use with the rules (`use_keys`): a reload that is refused
keeps the key the running rules were loaded with.
"""

from __future__ import annotations

import base64
import grp
import hashlib
import hmac
import os
import re
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from mailspy import defaults, safefs
from mailspy.actions.action import NAMES, TEXT, Option, Options
from mailspy.privileges import user_name

__all__ = ["HEADER_OPTIONS", "KEEP", "RECORD_OPTIONS", "HeaderPrivacy", "KeyFileError",
           "Privacy", "header_privacy", "key_path", "key_warning", "privacy",
           "private_headers", "read_key", "use_keys"]

KEEP_VALUE, HASH, HASH_LOCAL, DOMAIN, DROP = "keep", "hash", "hash-local", "domain", "drop"
MIN_KEY_BYTES = 16
MAX_KEY_BYTES = 4096
TOKEN_BYTES = 10  # 80 bits: 16 base32 letters
KEY_COMMAND = "head -c 32 /dev/urandom > {path} && chmod 640 {path} && chown root:mailspy {path}"


def _absolute(path: str) -> str | None:
    if not path.startswith("/"):
        return f"relative path '{path}': the key file needs an absolute path"
    return None


_HEADER_NAME = re.compile(r"[!-9;-~]+")


def _header_name(name: str) -> str | None:
    if not _HEADER_NAME.fullmatch(name):
        return (f"'{name}' is not a header name: write it without the colon, e.g. "
                "\"Received\"")
    return None


ADDRESSES = Option("addresses", (KEEP_VALUE, HASH, HASH_LOCAL, DOMAIN), doc=(
    "the envelope sender and recipients (in `log-headers`: the `From ` line and every "
    "address in a header): `hash` writes a token, `hash-local` a token and `@domain`, "
    "`domain` only `@domain`; a bounce's empty sender stays empty"))
SUBJECT = Option("subject", (KEEP_VALUE, HASH, DROP), doc=(
    "the subject (in `log-headers`: the `Subject:` and `Thread-Topic:` headers): a token, "
    "or nothing"))
ATTACHMENT_NAMES = Option("attachment-names", (KEEP_VALUE, HASH, DROP), doc=(
    "the attachments' file names and the names inside zips: a token that keeps a short "
    "extension (`.pdf`), or nothing; types, sizes and SHA-256 stay"))
CLIENT = Option("client", (KEEP_VALUE, HASH, DROP), doc=(
    "the SMTP client's address, host name and HELO name, and the AUTH login"))
KEY = Option("key", kind=TEXT, check=_absolute, doc=(
    f"the key file for `hash` and `hash-local` (default `{defaults.PRIVACY_KEY}`): at least "
    f"{MIN_KEY_BYTES} bytes, the same file on every host whose tokens must agree"))
KEEP_HEADERS = Option("keep-headers", kind=NAMES, check=_header_name,
                      excludes=("drop-headers",), doc=(
    "write only these headers (names in any case); mailspy's own lines stay"))
DROP_HEADERS = Option("drop-headers", kind=NAMES, check=_header_name,
                      excludes=("keep-headers",), doc=(
    "write every header but these"))

RECORD_OPTIONS = (ADDRESSES, SUBJECT, ATTACHMENT_NAMES, CLIENT, KEY)  # summary, JSON, syslog
HEADER_OPTIONS = (KEEP_HEADERS, DROP_HEADERS, ADDRESSES, SUBJECT, KEY)  # log-headers
_HASHING = (ADDRESSES.name, SUBJECT.name, ATTACHMENT_NAMES.name, CLIENT.name)


class KeyFileError(ValueError):
    """The key file cannot serve as a key; the message says what to do."""


def key_path(options: Options) -> str | None:
    """The key file these options need, or None when they hash nothing."""
    if any(options.get(name) in (HASH, HASH_LOCAL) for name in _HASHING):
        return options.get(KEY.name) or defaults.PRIVACY_KEY
    return None


def read_key(path: str) -> bytes:
    """The key in the file: a regular file of 16 to 4096 bytes, read whole."""
    make = KEY_COMMAND.format(path=path)
    try:
        key = safefs.read_regular(path, MAX_KEY_BYTES)
    except PermissionError:
        raise KeyFileError(f"user {user_name()} may not read key file '{path}'; let its "
                           f"group read it: chown root:{_group_name()} {path} && chmod 640 "
                           f"{path}") from None
    except OSError as exc:
        raise KeyFileError(f"cannot read key file '{path}': {exc.strerror or exc}; make one "
                           f"with: {make}") from exc
    if len(key.strip()) < MIN_KEY_BYTES:
        raise KeyFileError(f"key file '{path}' holds fewer than {MIN_KEY_BYTES} bytes; make "
                           f"one with: {make}")
    return key


def _group_name() -> str:
    try:
        return grp.getgrgid(os.getegid()).gr_name
    except KeyError:
        return str(os.getegid())


def key_warning(path: str) -> str | None:
    """Why another user could learn or change the key: whoever knows it can test guessed
    addresses against the tokens, whoever can write it chooses the tokens."""
    if problem := safefs.ownership_problem(path):
        return f"key file '{path}': {problem}"
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    if mode & stat.S_IROTH:
        return (f"key file '{path}' is readable by every user, who can then test guessed "
                f"addresses against the tokens; run: chmod o-r {path}")
    return None


_keys: dict[str, bytes] = {}


def use_keys(keys: Mapping[str, bytes]) -> None:
    """Hash with these keys (by key file) from now on: the running rules' keys."""
    global _keys
    _keys = dict(keys)


def _key(path: str) -> bytes:
    key = _keys.get(path)
    if key is None:  # rules not loaded through rules/compile.py (a test, a tool)
        key = _keys[path] = read_key(path)
    return key


@dataclass(frozen=True)
class Privacy:
    """What to write for each personal value of a record."""

    addresses: str = KEEP_VALUE
    subject: str = KEEP_VALUE
    names: str = KEEP_VALUE
    client: str = KEEP_VALUE
    key: bytes = field(default=b"", repr=False)  # never in a traceback or a log line

    def token(self, kind: str, value: str) -> str:
        digest = hmac.new(self.key, kind.encode() + b"\0" + value.encode("utf-8", "surrogatepass"),
                          hashlib.sha256).digest()
        return base64.b32encode(digest[:TOKEN_BYTES]).decode("ascii").lower()

    def address(self, address: str) -> str:
        """An envelope address (bare, `""` for a bounce) as the record writes it."""
        mode = self.addresses
        if mode == KEEP_VALUE or not address:
            return address
        _, at, domain = address.rpartition("@")
        domain = domain.lower() if at else ""
        if mode == DOMAIN:
            return f"@{domain}"
        token = self.token("address", address.lower())
        return f"{token}@{domain}" if mode == HASH_LOCAL and at else token

    def subject_of(self, subject: str) -> str:
        return _apply(self.subject, subject, lambda: self.token("subject", subject))

    def name(self, name: str) -> str:
        """An attachment's (or zip member's) name; `hash` keeps a short extension."""
        def hashed() -> str:
            stem, dot, extension = name.rpartition(".")
            short = dot and stem and extension.isascii() and extension.isalnum() \
                and len(extension) <= 5
            return self.token("name", name) + (f".{extension.lower()}" if short else "")
        return _apply(self.names, name, hashed)

    def client_value(self, value: str) -> str:
        """The client's address, host name or HELO name, or the AUTH login."""
        return _apply(self.client, value, lambda: self.token("client", value))


def _apply(mode: str, value: str, hashed: Callable[[], str]) -> str:
    if mode == KEEP_VALUE or not value:
        return value
    return "" if mode == DROP else hashed()


KEEP = Privacy()


def privacy(options: Options) -> Privacy:
    """What a record written with these options holds; KEEP when they ask for nothing."""
    if not any(name in options for name in _HASHING):
        return KEEP
    path = key_path(options)
    return _privacy(options.get(ADDRESSES.name, KEEP_VALUE),
                    options.get(SUBJECT.name, KEEP_VALUE),
                    options.get(ATTACHMENT_NAMES.name, KEEP_VALUE),
                    options.get(CLIENT.name, KEEP_VALUE), _key(path) if path else b"")


@lru_cache(maxsize=256)
def _privacy(addresses: str, subject: str, names: str, client: str, key: bytes) -> Privacy:
    return Privacy(addresses, subject, names, client, key)


# -- the header log -------------------------------------------------------------

# headers whose value is a list of addresses: with `addresses` other than keep,
# only the addresses are written, display names and comments dropped
ADDRESS_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "reply-to", "sender", "return-path", "delivered-to",
    "x-original-to", "envelope-to", "errors-to", "disposition-notification-to",
    "mail-followup-to", "mail-reply-to", "resent-from", "resent-to", "resent-cc",
    "resent-bcc", "resent-sender", "resent-reply-to", "x-envelope-to", "x-envelope-from",
    "x-mailspy-envelope-to"})
SUBJECT_HEADERS = frozenset({"subject", "thread-topic"})

# anything shaped like local@domain, the local part possibly quoted
_ADDRESS = re.compile(r'(?:"(?:[^"\\\r\n]|\\.)*"|[^\s<>()\[\],;:"@\\]+)'
                      r'@(?:\[[^\]\s]*\]|[^\s<>()\[\],;:"@\\]+)')


@dataclass(frozen=True)
class HeaderPrivacy:
    """Which headers the header log writes, and what it writes in them."""

    values: Privacy = KEEP
    keep: frozenset[str] | None = None  # lower-case names; None: every header
    drop: frozenset[str] = frozenset()

    def wanted(self, name: str) -> bool:
        lowered = name.lower()
        return lowered not in self.drop and (self.keep is None or lowered in self.keep)


def header_privacy(options: Options) -> HeaderPrivacy | None:
    """None when the options leave the header block as it came."""
    keep, drop = options.get(KEEP_HEADERS.name), options.get(DROP_HEADERS.name)
    values = privacy(options)
    if keep is None and drop is None and values is KEEP:
        return None
    return HeaderPrivacy(values, _names(keep) if keep is not None else None,
                         _names(drop or ""))


def _names(joined: str) -> frozenset[str]:
    return frozenset(n.strip().lower() for n in joined.split(",") if n.strip())


def private_headers(headers: Iterable[tuple[str, str]], subject: str,
                    rules: HeaderPrivacy) -> list[tuple[str, str]]:
    """The headers to write: unwanted ones left out, addresses and subjects replaced.

    `subject` is the message's decoded subject, whose token the first `Subject:`
    gets, so that it matches the token of the summary records."""
    values = rules.values
    out: list[tuple[str, str]] = []
    first_subject = True
    for name, value in headers:
        if not rules.wanted(name):
            continue
        lowered = name.lower()
        if lowered in SUBJECT_HEADERS and values.subject != KEEP_VALUE:
            if values.subject == DROP:
                continue
            if lowered == "subject" and first_subject:
                value, first_subject = values.subject_of(subject), False
            else:
                value = values.subject_of(value)
        elif values.addresses != KEEP_VALUE:
            if lowered in ADDRESS_HEADERS:
                value = ", ".join(values.address(_unquoted(a)) for a in _ADDRESS.findall(value))
            else:
                value = _ADDRESS.sub(lambda m: values.address(_unquoted(m.group())), value)
        out.append((name, value))
    return out


def _unquoted(address: str) -> str:
    """`"a b"@x` and `a b@x` are one address: hashed alike."""
    local, _, domain = address.rpartition("@")
    if len(local) >= 2 and local.startswith('"') and local.endswith('"'):
        local = re.sub(r"\\(.)", r"\1", local[1:-1])
    return f"{local}@{domain}"
