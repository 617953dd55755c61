"""A real Recorder behind pymilter's TestCtx, and the checks every message must pass.

`Harness` installs rules that read every field (so evaluation, the subject
decoder and the MIME walk all run) and record each message three ways: a
summary line, a header block, a Maildir copy. `Harness.send` drives one SMTP
transaction through the adapter's callbacks the way libmilter does and then
checks, against what was sent (not against mailspy's own parse):

- every callback answered CONTINUE and end-of-message ACCEPT;
- the summary log grew by exactly one line, of the right fields in order;
- the header log grew by exactly one mbox block, whose header names are the
  names sent, in order, and nothing leaked past its blank line;
- the Maildir got exactly one copy, with the envelope headers, the header
  names sent and the body, once the spool's deliverer is idle; the spool is
  empty again;
- nothing was logged at WARNING or above on the "mailspy" logger.
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import io
import logging
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email import errors
from pathlib import Path

import Milter
import Milter.test
from Milter.testctx import TestCtx

from mailspy.actions.sinks import Sinks
from mailspy.dispatch import Recorder
from mailspy.message.mime import walk
from mailspy.milter.adapter import MailspyMilter
from mailspy.rules.compile import Defaults
from mailspy.rules.load import load_rules
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.store import DEAD_DIR, Spool

RawHeaders = list[tuple[bytes, bytes]]

# A condition that is always true but only after reading every field: each
# `or` branch is false for any real message, so all of them are evaluated.
EVERY_FIELD = (
    'subject is "never-subject-7f3a" or subject matches /^never(a|b)*c$/'
    ' or sender contains "never-sender-7f3a" or recipient in ["never-rcpt-7f3a"]'
    ' or attachment matches "never-file-7f3a*" or attachment matches /^never.*x$/i'
    ' or not subject is "never-subject-7f3a"'
)

_DATE = re.compile(r"\d\d-\d\d-\d\d \d\d:\d\d")
_TIME = re.compile(r"time=\d+")
# Anything a reader could take as a line or field end, or a terminal control.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAME_ESCAPED = re.compile(r"[\x00-\x20\x7f:]")
_HEADER_PARSER = email.parser.BytesParser(policy=email.policy.compat32)


@dataclass
class Mail:
    """One SMTP transaction as the MTA hands it to the milter."""

    sender: str = "<ann@example.org>"
    recipients: list[str] = field(default_factory=lambda: ["<bob@example.net>"])
    headers: RawHeaders = field(default_factory=lambda: [(b"Subject", b"hello")])
    body: bytes = b"hello\r\n"


def neutralised_name(name: str) -> str:
    """A header name as the header log writes it: controls, space and colon as \\xNN."""
    return _NAME_ESCAPED.sub(lambda m: f"\\x{ord(m.group()):02x}", name)


def text(raw: bytes) -> str:
    """Bytes as pymilter hands them to Python: UTF-8 with surrogateescape."""
    return raw.decode("utf-8", "surrogateescape")


def split_message(raw: bytes) -> tuple[RawHeaders, bytes]:
    """A message file -> (header fields, body with CRLF line ends), as an MTA splits it.

    A leading mbox `From ` line is dropped; the header block ends at a blank
    line or at the first line that is neither a field nor a continuation;
    folded values keep their folds as LF plus the leading whitespace.
    """
    lines = raw.split(b"\n")
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    headers: list[tuple[bytes, list[bytes]]] = []
    body_start = len(lines)
    for index, line in enumerate(lines):
        line = line.removesuffix(b"\r")
        if not line:  # the blank line ends the header block and is not body
            body_start = index + 1
            break
        if line[:1] in (b" ", b"\t") and headers:
            headers[-1][1].append(line)
            continue
        match = re.match(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:[ \t]*", line)
        if match is None:  # neither field nor continuation: the body starts here
            body_start = index
            break
        headers.append((match.group(1), [line[match.end():]]))
    body = b"\n".join(lines[body_start:])
    body = re.sub(rb"\r?\n", b"\r\n", body)
    return [(name, b"\n".join(value)) for name, value in headers], body


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class Connection:
    """One SMTP connection: TestCtx driving MailspyMilter's callbacks."""

    def __init__(self, queue_id: str = "4XyZ1") -> None:
        Milter.factory = MailspyMilter
        self.ctx = TestCtx()
        self.ctx._setsymval("i", queue_id)
        self.ctx._connect(host="client.example", helo="helo.example", ip="192.0.2.7")

    def send(self, mail: Mail, body_chunks: Iterable[bytes] | None = None) -> int:
        """The callbacks in libmilter's order; returns end-of-message's answer."""
        priv = self.ctx.getpriv()
        assert self.ctx._envfrom(mail.sender) == Milter.CONTINUE
        for rcpt in mail.recipients:
            assert self.ctx._envrcpt(rcpt) == Milter.CONTINUE
        assert self.ctx._data() == Milter.CONTINUE
        for name, value in mail.headers:
            assert priv.header_bytes(text(name), value) == Milter.CONTINUE
        assert self.ctx._eoh() == Milter.CONTINUE
        if body_chunks is None:
            assert self.ctx._feed_body(io.BytesIO(mail.body)) == Milter.CONTINUE
        else:
            for chunk in body_chunks:
                assert priv.body(chunk) == Milter.CONTINUE
        return self.ctx._eom()

    def close(self) -> None:
        self.ctx._close()


class Harness:
    """A Recorder with a summary log, a header log and a Maildir, all in `root`."""

    def __init__(self, root: Path, extra_rules: str = "") -> None:
        self.root = root
        self.summary = root / "summary.log"
        self.header_log = root / "headers.log"
        self.maildir = root / "maildir"
        rules_dir = root / "rules.d"
        rules_dir.mkdir(parents=True)
        (rules_dir / "10-record.rules").write_text(
            f'rule "record" {{ when {EVERY_FIELD}\n'
            f'  log-summary log-headers archive-to-maildir "{self.maildir}" }}\n{extra_rules}'
        )
        result = load_rules(rules_dir, defaults=Defaults(str(self.summary), str(self.header_log)))
        assert result.ok, result.diagnostics
        self.spool = Spool(root / "spool")
        self.spool.create()
        self.deliverer = Deliverer(self.spool, DeliverySettings(retry_base=0.2))
        self.deliverer.start()
        self.recorder = Recorder(result.rules, Sinks(), self.spool, self.deliverer)
        self._previous = MailspyMilter.recorder
        MailspyMilter.recorder = self.recorder
        self.records = _Records()
        logging.getLogger("mailspy").addHandler(self.records)
        self.sent = 0
        self._summary_at = 0
        self._headers_at = 0
        self._copies: set[str] = set()

    def close(self) -> None:
        logging.getLogger("mailspy").removeHandler(self.records)
        self.recorder.close(wait=True)
        self.recorder.sinks.close_all()
        MailspyMilter.recorder = self._previous

    # -- sending -------------------------------------------------------------

    def send(self, mail: Mail, body_chunks: Iterable[bytes] | None = None,
             body_size: int | None = None) -> None:
        """Send one message and check everything it must have left behind."""
        connection = Connection()
        try:
            answer = connection.send(mail, body_chunks)
        finally:
            connection.close()
        assert answer == Milter.ACCEPT
        self.sent += 1
        assert self.deliverer.wait_idle(60), "the Maildir copy was not delivered in time"
        self.check(mail, len(mail.body) if body_size is None else body_size,
                   full_body=body_chunks is None)

    def check(self, mail: Mail, body_size: int, full_body: bool = True) -> None:
        self.check_nothing_logged()
        self.check_summary(mail, body_size)
        self.check_header_block(mail)
        self.check_maildir_copy(mail, full_body)
        assert self.spool.ids() == [] and self.spool.ids(DEAD_DIR) == []

    def check_nothing_logged(self) -> None:
        problems = [f"{r.levelname}: {r.getMessage()}" for r in self.records.records]
        assert problems == []

    # -- the three records ---------------------------------------------------

    def new_summary_line(self) -> str:
        data = self.summary.read_bytes()
        new, self._summary_at = data[self._summary_at:], len(data)
        assert new.count(b"\n") == 1 and new.endswith(b"\n"), f"not one line: {new[:300]!r}"
        line = new.decode("utf-8")  # strict: no lone surrogate reached the log
        assert len(line.splitlines()) == 1, "a character that readers take as a line end"
        return line[:-1]

    def check_summary(self, mail: Mail, body_size: int) -> list[str]:
        fields = self.new_summary_line().split("\t")
        rcpts = len(mail.recipients)
        assert _DATE.fullmatch(fields[0]) and _TIME.fullmatch(fields[1])
        assert fields[2].startswith("from=")
        assert all(f.startswith("to=") for f in fields[3:3 + rcpts])
        assert fields[3 + rcpts] == f"size={body_size}"
        assert fields[4 + rcpts].startswith("subject=")
        files, queue = fields[5 + rcpts:-1], fields[-1]
        assert all(f.startswith("file=") for f in files)
        assert queue == "queue=4XyZ1"
        if len(mail.body) == body_size:  # a tab in a name would add a field
            assert len(files) == len(expected_attachments(mail))
        for value in fields:
            assert _UNSAFE.search(value) is None, f"unsafe character in {value[:200]!r}"
        return fields

    def check_header_block(self, mail: Mail) -> None:
        data = self.header_log.read_bytes()
        block, self._headers_at = data[self._headers_at:], len(data)
        lines = block.split(b"\n")
        assert lines[0].startswith(b"From ")
        assert not [line for line in lines[1:] if line.startswith(b"From ")]
        assert block.endswith(b"\n\n") and block.find(b"\n\n") == len(block) - 2
        parsed = _HEADER_PARSER.parsebytes(block.split(b"\n", 1)[1], headersonly=True)
        names = [neutralised_name(text(name)) for name, _ in mail.headers]
        assert parsed.keys() == ["X-Timestamp", "X-Queue-Id", *names]
        assert parsed.get_payload() == "" and not _structure_defects(parsed)

    def check_maildir_copy(self, mail: Mail, full_body: bool) -> None:
        new = {p.name for p in (self.maildir / "new").iterdir()}
        added = new - self._copies
        assert len(added) == 1 and len(new) == self.sent
        self._copies = new
        copy = (self.maildir / "new" / added.pop()).read_bytes()
        head, _, body = copy.partition(b"\n\n")
        parsed = _HEADER_PARSER.parsebytes(head + b"\n\n", headersonly=True)
        names = [neutralised_name(text(name)) for name, _ in mail.headers]
        envelope = ["X-Mailspy-Envelope-To"] * len(mail.recipients)
        assert parsed.keys() == ["Return-Path", *envelope, *names]
        if full_body:
            assert body == mail.body.replace(b"\r\n", b"\n")


def _structure_defects(parsed: email.message.Message) -> list[errors.MessageDefect]:
    """Defects that mean a line was not read as a header field (multipart ones are fine)."""
    bad = (errors.MissingHeaderBodySeparatorDefect, errors.InvalidHeaderDefect)
    return [d for d in parsed.defects if isinstance(d, bad)]


def expected_attachments(mail: Mail) -> list[str]:
    """How many file= fields the summary owes: the MIME walk over what was sent."""
    headers = [(text(n), text(v)) for n, v in mail.headers]
    return [a.name for a in walk(headers, io.BytesIO(mail.body))]


def harness_in_tempdir(extra_rules: str = "") -> Iterator[Harness]:
    """A Harness in its own temporary directory (for module-scoped fixtures)."""
    with tempfile.TemporaryDirectory(prefix="mailspy-robust-") as directory:
        harness = Harness(Path(directory), extra_rules)
        try:
            yield harness
        finally:
            harness.close()
