"""Milter socket specifications, as libmilter and the original mailspy took them.

`unix:/path`, `local:/path`, a bare `/path`, `inet:PORT@HOST` and
`inet6:PORT@HOST` all work. Postfix writes TCP sockets the other way round
(`inet:HOST:PORT`); `postfix_form` gives that spelling for main.cf.
"""

from __future__ import annotations

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


def parse_socket(text: str) -> SocketSpec:
    if text.startswith("/"):
        return SocketSpec("unix", path=text)
    scheme, _, rest = text.partition(":")
    if scheme in ("unix", "local"):
        if not rest.startswith("/"):
            raise SocketSpecError(f"'{text}': a unix socket needs an absolute path, "
                                  "e.g. unix:/var/run/mailspy/milter")
        return SocketSpec("unix", path=rest)
    if scheme in ("inet", "inet6"):
        match = re.fullmatch(r"(\d+)@\[?([^\[\]@]+)\]?", rest)
        if not match or not 0 < int(match.group(1)) < 65536:
            example = "[::1]" if scheme == "inet6" else "127.0.0.1"
            raise SocketSpecError(f"'{text}': write {scheme}:PORT@HOST, "
                                  f"e.g. {scheme}:8890@{example}")
        return SocketSpec(scheme, host=match.group(2), port=int(match.group(1)))
    raise SocketSpecError(f"'{text}': unknown socket; use unix:/path, inet:PORT@HOST "
                          "or inet6:PORT@HOST")
