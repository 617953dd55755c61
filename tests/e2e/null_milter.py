"""A milter that accepts everything, to prove the Postfix harness without mailspy.

Usage: python null_milter.py SOCKETSPEC [EOM_FILE]

SOCKETSPEC is libmilter's form (inet:PORT@127.0.0.1, unix:/path). With EOM_FILE, one line
per message reaching end-of-message is appended (the queue id and the recipient count),
so a test can tell that the milter really saw each message. NULL_MILTER_EOM_DELAY (seconds,
in the environment) holds every end-of-message answer that long: a milter that stalls.
"""

from __future__ import annotations

import os
import sys
import threading
import time

import Milter

_lock = threading.Lock()
_eom_file: str | None = None
_eom_delay = float(os.environ.get("NULL_MILTER_EOM_DELAY", "0"))


class NullMilter(Milter.Base):
    """Answers CONTINUE everywhere. data() is implemented on purpose: without it Postfix's
    DATA macros go unanswered over TCP and each message stalls 40 ms (Nagle)."""

    def __init__(self) -> None:
        self.recipients = 0

    def envfrom(self, mailfrom: str, *params: str) -> int:
        self.recipients = 0
        return Milter.CONTINUE

    def envrcpt(self, to: str, *params: str) -> int:
        self.recipients += 1
        return Milter.CONTINUE

    def data(self) -> int:
        return Milter.CONTINUE

    def eom(self) -> int:
        time.sleep(_eom_delay)
        if _eom_file:
            line = f"{self.getsymval('i')} {self.recipients}\n"
            with _lock, open(_eom_file, "a") as out:
                out.write(line)
        return Milter.CONTINUE


def main(argv: list[str]) -> int:
    global _eom_file
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    spec = argv[1]
    _eom_file = argv[2] if len(argv) == 3 else None
    if spec.startswith(("unix:", "local:", "/")):
        os.umask(0o000)  # Postfix connects as user postfix: the socket must be writable
    Milter.factory = NullMilter
    Milter.set_flags(0)
    Milter.set_exception_policy(Milter.CONTINUE)
    Milter.runmilter("null-milter", spec, 60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
