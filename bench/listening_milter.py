"""A pymilter milter that takes every step mailspy takes and does nothing with them.

The null milter of the C rows negotiates recipients, headers and body away, so the
MTA never sends them; mailspy needs them for its fields and logs. This one receives
them all (headers unanswered, as mailspy leaves them) and accepts: the ceiling for
any pymilter milter that reads what mailspy reads.

    python bench/listening_milter.py inet:PORT@127.0.0.1
"""

from __future__ import annotations

import sys

import Milter


class Listening(Milter.Base):
    def connect(self, hostname, family, hostaddr):
        return Milter.CONTINUE

    def hello(self, hostname):
        return Milter.CONTINUE

    def envfrom(self, mail_from, *params):
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        return Milter.CONTINUE

    def data(self):
        return Milter.CONTINUE

    @Milter.noreply
    def header(self, name, value):
        return Milter.CONTINUE

    def body(self, chunk):
        return Milter.CONTINUE

    def eom(self):
        return Milter.ACCEPT


if __name__ == "__main__":
    Milter.factory = Listening
    Milter.set_flags(0)
    Milter.set_exception_policy(Milter.CONTINUE)
    Milter.runmilter("listening", sys.argv[1], 600)
