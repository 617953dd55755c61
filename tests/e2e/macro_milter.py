"""A milter that writes down what the MTA told it, to measure each MTA's macros.

Usage: python macro_milter.py SOCKETSPEC OUT_FILE

For every protocol step it appends one JSON line to OUT_FILE: the step, the arguments
the step carried (connect: host name and address, helo: the name) and every macro of
MACROS that the MTA had sent by then. It asks for no macros itself, so what it sees is
what the MTA's configuration sends.
"""

from __future__ import annotations

import json
import sys
import threading

import Milter

# The macros mailspy reads, and a few that show which MTA and listener spoke.
MACROS = ("i", "{auth_authen}", "{client_addr}", "{client_name}", "j", "{daemon_name}",
          "_", "v", "{if_addr}", "{daemon_addr}", "{mail_addr}", "{rcpt_addr}", "{msg_id}")

_lock = threading.Lock()
_out = ""


class MacroMilter(Milter.Base):
    def _note(self, step: str, **args: object) -> int:
        macros = {}
        for name in MACROS:
            value = self.getsymval(name)
            if value is not None:
                macros[name] = value
        with _lock, open(_out, "a") as out:
            out.write(json.dumps({"step": step, "args": args, "macros": macros}) + "\n")
        return Milter.CONTINUE

    def connect(self, hostname, family, hostaddr):
        address = hostaddr[0] if isinstance(hostaddr, tuple) else hostaddr
        return self._note("connect", hostname=hostname, address=address)

    def hello(self, hostname):
        return self._note("helo", helo=hostname)

    def envfrom(self, mail_from, *params):
        return self._note("envfrom")

    def envrcpt(self, to, *params):
        return self._note("envrcpt")

    def data(self):
        return self._note("data")

    def eom(self):
        self._note("eom")
        return Milter.ACCEPT


def main(argv: list[str]) -> int:
    global _out
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    _out = argv[2]
    Milter.factory = MacroMilter
    Milter.set_flags(0)
    Milter.set_exception_policy(Milter.CONTINUE)
    Milter.runmilter("macro-milter", argv[1], 60)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
