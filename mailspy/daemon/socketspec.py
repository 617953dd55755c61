"""Milter socket specifications, as libmilter and the original mailspy took them.

`unix:/path`, `local:/path`, a bare `/path`, `inet:PORT@HOST` and
`inet6:PORT@HOST` all work. Postfix writes TCP sockets the other way round
(`inet:HOST:PORT`); `postfix_form` gives that spelling for main.cf.

What libmilter would only refuse at start, with `cannot opensocket` and no
reason, is refused here with the valid form: a port outside 1-65535, a host
that is neither a name nor an address of the socket's family, a unix path
longer than the kernel takes.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass


class SocketSpecError(ValueError):
    pass


@dataclass(frozen=True)
class SocketSpec:
    family: str  # "unix", "inet" or "inet6"
    path: str = ""  # unix
    host: str = ""  # inet, inet6 (without brackets)
    port: int = 0

    @property
    def libmilter_form(self) -> str:
        if self.family == "unix":
            return f"unix:{self.path}"
        if self.family == "inet6":
            return f"inet6:{self.port}@[{self.host}]"
        return f"inet:{self.port}@{self.host}"

    @property
    def postfix_form(self) -> str:
        if self.family == "unix":
            return f"unix:{self.path}"
        if self.family == "inet6":
            return f"inet:[{self.host}]:{self.port}"
        return f"inet:{self.host}:{self.port}"


MAX_UNIX_PATH = 107  # bytes: sockaddr_un's sun_path holds 108, the last a NUL
_HOST_NAME = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_NAME_FORM = "a name has letters, digits, '-' and '.' (mx.example.org)"


def parse_socket(text: str) -> SocketSpec:
    """The socket a `-p` argument names; SocketSpecError saying the valid form when it
    names none (a port outside 1-65535, a host that is neither a name nor an address
    of the family, a unix path the kernel would refuse)."""
    if text.startswith("/"):
        return _unix(text, text)
    scheme, _, rest = text.partition(":")
    if scheme in ("unix", "local"):
        if not rest.startswith("/"):
            raise SocketSpecError(f"'{text}': a unix socket needs an absolute path, "
                                  "e.g. unix:/var/run/mailspy/milter")
        return _unix(text, rest)
    if scheme in ("inet", "inet6"):
        return _inet(text, scheme, rest)
    raise SocketSpecError(f"'{_shown(text)}': unknown socket; use unix:/path, inet:PORT@HOST "
                          "or inet6:PORT@HOST")


def _unix(text: str, path: str) -> SocketSpec:
    if "\x00" in path:
        raise SocketSpecError(f"'{_shown(text)}': a unix socket's path cannot hold a NUL "
                              "byte")
    size = len(path.encode("utf-8", "surrogateescape"))
    if size > MAX_UNIX_PATH:
        raise SocketSpecError(f"'{_shown(text)}': a unix socket's path may be at most "
                              f"{MAX_UNIX_PATH} bytes (this one has {size}); choose a shorter "
                              "one, e.g. unix:/run/mailspy/milter")
    return SocketSpec("unix", path=path)


def _inet(text: str, scheme: str, rest: str) -> SocketSpec:
    example = "[::1]" if scheme == "inet6" else "127.0.0.1"
    match = re.fullmatch(r"([^@]*)@(\[[^\[\]@]+\]|[^\[\]@]+)", rest)
    if not match:
        raise SocketSpecError(f"'{_shown(text)}': write {scheme}:PORT@HOST, "
                              f"e.g. {scheme}:8890@{example}")
    port_text, host = match.group(1), match.group(2).removeprefix("[").removesuffix("]")
    shown_host = f"[{host}]" if scheme == "inet6" else host
    if not port_text.isascii() or not port_text.isdigit():
        raise SocketSpecError(f"'{_shown(text)}': the port must be a number from 1 to 65535, "
                              f"e.g. {scheme}:8890@{_shown(shown_host)}")
    digits = port_text.lstrip("0")
    port = int(digits or "0") if len(digits) <= 5 else 0  # int() of 5000 digits raises
    if not 0 < port < 65536:
        raise SocketSpecError(f"'{_shown(text)}': port {_shown(port_text, 5)} is out of range; "
                              f"give a port from 1 to 65535, e.g. "
                              f"{scheme}:8890@{_shown(shown_host)}")
    _check_host(text, scheme, port, host)
    return SocketSpec(scheme, host=host, port=port)


def _check_host(text: str, scheme: str, port: int, host: str) -> None:
    """A name, or an address of the socket's family: libmilter would look anything else
    up as a name and fail at start with `cannot opensocket`."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if address.version == 6 and scheme == "inet":
            raise SocketSpecError(f"'{text}': {host} is an IPv6 address; write "
                                  f"inet6:{port}@[{host}]")
        if address.version == 4 and scheme == "inet6":
            raise SocketSpecError(f"'{text}': {host} is an IPv4 address; write "
                                  f"inet:{port}@{host}")
        return
    family = "IPv6" if scheme == "inet6" else "IPv4"
    if re.fullmatch(r"[0-9.]+", host) and scheme == "inet":
        raise SocketSpecError(f"'{text}': '{host}' is not an IPv4 address; each of its four "
                              "numbers is from 0 to 255, as in 127.0.0.1")
    labels = host.removesuffix(".").split(".")
    if len(host) > 253 or not all(_HOST_NAME.fullmatch(label) for label in labels):
        example = "::1" if scheme == "inet6" else "127.0.0.1"
        raise SocketSpecError(f"'{_shown(text)}': '{_shown(host)}' is not a host name or an "
                              f"{family} address; {_NAME_FORM}, an address is like {example}")


def _shown(text: str, limit: int = 80) -> str:
    """A value as an error message repeats it: a long one cut short."""
    return text if len(text) <= limit else text[:limit] + "..."
