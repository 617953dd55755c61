"""Generated test mail: ordinary-looking messages, and one huge one streamed in chunks.

Why generated: the benchmark must run on a fresh clone without a mail archive, and it
must be the same mail for mailspy and for its baselines. A seeded generator gives both.
The vocabulary (domains, subjects, file names) is shared with rulegen so that a few
rules match a few messages, as on a real server, and most rules match nothing.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from dataclasses import dataclass

from bench.milterclient import Mail

# Domains mail comes from and goes to; rulegen's matching rules use a few of them.
SENDER_DOMAINS = tuple(f"ext{n}.example" for n in range(40))
RECIPIENT_DOMAINS = tuple(f"corp{n}.example" for n in range(8))
USERS = ("ann", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy")
SUBJECTS = (
    "Meeting notes {n}",
    "Invoice {n} for March",
    "Re: quarterly report",
    "Fwd: travel booking {n}",
    "Your order #{n} has shipped",
    "=?UTF-8?B?w4l0w6kgMjAyNiDigJMgYnVkZ2V0?=",
    "=?ISO-8859-1?Q?R=E9union_{n}?=",
    "Lunch on Friday?",
)
ATTACHMENTS = ("report-{n}.pdf", "photo{n}.jpg", "figures.xlsx", "scan-{n}.tiff",
               "notes.txt", "=?UTF-8?Q?r=C3=A9sum=C3=A9_{n}.pdf?=")
WORDS = ("the", "budget", "meeting", "report", "figures", "please", "find", "attached",
         "regards", "tomorrow", "review", "project", "update", "thanks", "schedule")


def _text(rng: random.Random, size: int) -> bytes:
    """Plain text lines of about 70 characters, CRLF-terminated, `size` bytes or so."""
    lines: list[str] = []
    total = 0
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(11))
        lines.append(line)
        total += len(line) + 2
    return ("\r\n".join(lines) + "\r\n").encode()


def _base64_lines(data: bytes) -> bytes:
    encoded = base64.b64encode(data)
    return b"".join(encoded[i:i + 76] + b"\r\n" for i in range(0, len(encoded), 76))


def make_mail(rng: random.Random, number: int, body_size: int = 4096) -> Mail:
    """One message: 1-3 recipients, a subject from the templates, about `body_size`
    bytes of body; four in ten are multipart with one or two base64 attachments."""
    sender = f"{rng.choice(USERS)}@{rng.choice(SENDER_DOMAINS)}"
    recipients = tuple(f"{rng.choice(USERS)}@{rng.choice(RECIPIENT_DOMAINS)}"
                       for _ in range(rng.randint(1, 3)))
    subject = rng.choice(SUBJECTS).format(n=rng.randint(100, 999))
    headers = [
        ("Received", f"from client.bench.test (client.bench.test [127.0.0.1]) by "
                     f"mx.bench.test with ESMTP id BENCH{number:05d}"),
        ("From", f"{sender.split('@')[0].title()} <{sender}>"),
        ("To", ", ".join(recipients)),
        ("Subject", subject),
        ("Date", "Thu, 26 Nov 2026 12:00:00 +0000"),
        ("Message-ID", f"<{number}.{rng.getrandbits(32):08x}@{sender.split('@')[1]}>"),
        ("MIME-Version", "1.0"),
    ]
    if rng.random() >= 0.4:
        headers.append(("Content-Type", "text/plain; charset=utf-8"))
        return Mail(sender, recipients, tuple(headers), _text(rng, body_size),
                    f"BENCH{number:05d}")
    boundary = f"=_bench_{number}"
    headers.append(("Content-Type", f'multipart/mixed; boundary="{boundary}"'))
    parts = [f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n".encode()
             + _text(rng, body_size // 2)]
    for _ in range(rng.randint(1, 2)):
        name = rng.choice(ATTACHMENTS).format(n=rng.randint(100, 999))
        payload = _base64_lines(rng.randbytes(rng.randint(body_size // 4, body_size)))
        parts.append(
            f"--{boundary}\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n".encode() + payload)
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return Mail(sender, recipients, tuple(headers), body, f"BENCH{number:05d}")


def make_corpus(count: int, seed: int = 5, body_size: int = 4096) -> list[Mail]:
    rng = random.Random(seed)
    return [make_mail(rng, n, body_size) for n in range(count)]


@dataclass(frozen=True)
class HugeBody:
    """A multipart body with one base64 attachment of `size` encoded bytes, produced in
    chunks on every iteration: neither the client nor this generator ever holds it."""

    boundary: str
    size: int
    block: int = 1024 * 1024  # encoded bytes produced per chunk

    def __iter__(self) -> Iterator[bytes]:
        yield (f"--{self.boundary}\r\nContent-Type: text/plain\r\n\r\nThe dump.\r\n"
               f"--{self.boundary}\r\nContent-Type: application/octet-stream; "
               f"name=\"dump.bin\"\r\nContent-Disposition: attachment; filename=\"dump.bin\""
               "\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode()
        # 78-byte lines (76 + CRLF) encode 57 bytes each; one block of lines is repeated.
        lines = self.block // 78
        block = _base64_lines(random.Random(self.size).randbytes(57 * lines))
        left = self.size
        while left > 0:
            piece = block if left >= len(block) else block[:left - left % 78]
            if not piece:
                break
            yield piece
            left -= len(piece)
        yield f"--{self.boundary}--\r\n".encode()


def huge_mail(size: int) -> Mail:
    """One message whose attachment is `size` bytes as sent (base64, CRLF lines)."""
    boundary = "=_bench_huge"
    headers = (
        ("From", "Dump <dump@ext1.example>"),
        ("To", "archive@corp1.example"),
        ("Subject", "database dump"),
        ("MIME-Version", "1.0"),
        ("Content-Type", f'multipart/mixed; boundary="{boundary}"'),
    )
    return Mail("dump@ext1.example", ("archive@corp1.example",), headers,
                HugeBody(boundary, size), "BENCHHUGE")
