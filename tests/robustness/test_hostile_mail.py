"""Every hostile message through the milter adapter: accepted, recorded once, nothing logged.

The message stage's own tests (tests/message) check what is *found* in such
mail; these check the promises around it (mail always flows, hostile mail is harmless): end of
message is answered ACCEPT, the summary log gains exactly one well-formed
line, the header log exactly one mbox block with the header names sent,
the Maildir exactly one copy, and mailspy logs no error.
"""

from __future__ import annotations

import mailbox
import sysconfig
from pathlib import Path

import pytest

from tests.robustness.harness import Harness, Mail, split_message
from tests.robustness.hostile import HOSTILE

CORPUS_DIR = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
CORPUS = sorted(CORPUS_DIR.glob("msg_*.txt"))
ENVELOPES = [
    ("<ann@example.org>", ["<bob@example.net>"]),
    ("<a\x00\r\n\tb@x>", ["<\udcff@y>", "<c\r\nd@z>"]),
]


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_message(harness: Harness, name: str) -> None:
    harness.send(HOSTILE[name]())


@pytest.mark.skipif(not CORPUS, reason="CPython's email test corpus not installed "
                    "(Debian: libpython3.11-testsuite, which `make apt` installs)")
@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_cpython_email_corpus(harness: Harness, path: Path) -> None:
    headers, body = split_message(path.read_bytes())
    for sender, recipients in ENVELOPES:
        harness.send(Mail(sender, recipients, headers, body))
    assert len(mailbox.mbox(harness.header_log)) == len(ENVELOPES)

