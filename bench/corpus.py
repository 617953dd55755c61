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


# -- mail as a mail server sees it ---------------------------------------------------
# What an MX receives: a few Received lines and a DKIM signature above the author's
# headers, several recipients, and mostly multipart bodies, text beside HTML, often a
# base64 file. The small generated mail above stays for the rows measured on it before.
RELAYS = ("mail-{n}.ext{d}.example", "smtp{n}.out.ext{d}.example", "relay{n}.ext{d}.example")
DOCUMENTS = (("report-{n}.pdf", "application/pdf"), ("figures-{n}.xlsx",
             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
             ("photo{n}.jpg", "image/jpeg"), ("contract-{n}.docx",
             "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
             ("=?UTF-8?Q?r=C3=A9sum=C3=A9_{n}.pdf?=", "application/pdf"))


def _received(rng: random.Random, number: int, hop: int, domain: str) -> tuple[str, str]:
    relay = rng.choice(RELAYS).format(n=rng.randint(1, 40), d=domain)
    address = f"198.51.100.{rng.randint(1, 254)}"
    return ("Received", f"from {relay} ({relay} [{address}])\r\n\tby "
            f"{'mx' if hop == 0 else 'relay'}{hop}.corp1.example (Postfix) with ESMTPS id "
            f"4Q{number:06d}{hop}\r\n\tfor <{rng.choice(USERS)}@corp1.example>; "
            "Thu, 26 Nov 2026 12:00:00 +0000 (UTC)")


def _dkim(rng: random.Random, domain: str) -> str:
    signature = base64.b64encode(rng.randbytes(256)).decode()
    lines = [signature[i:i + 70] for i in range(0, len(signature), 70)]
    return (f"v=1; a=rsa-sha256; c=relaxed/relaxed; d={domain}; s=mail;\r\n\t"
            "h=from:to:subject:date:message-id:mime-version:content-type;\r\n\t"
            f"bh={base64.b64encode(rng.randbytes(32)).decode()};\r\n\tb="
            + "\r\n\t ".join(lines))


def _qp_text(rng: random.Random, size: int) -> bytes:
    """Quoted-printable text with a few accented words, as mail clients send."""
    return _text(rng, size).replace(b"budget", b"budg=C3=A9t")


def _html(rng: random.Random, size: int) -> bytes:
    text = _text(rng, size * 2 // 3).replace(b"\r\n", b"</p>\r\n<p>")
    return b"<html><body>\r\n<p>" + text + b"</p>\r\n</body></html>\r\n"


def make_real_mail(rng: random.Random, number: int) -> Mail:
    """One message as an MX receives it: 2-4 Received lines, a DKIM signature, 11-15
    header fields in all, 1-4 recipients; two in ten plain text, two in ten text beside
    HTML, six in ten those with one file (8-40 KiB as sent) or, one time in five, two."""
    domain = rng.choice(SENDER_DOMAINS)
    user = rng.choice(USERS)
    sender = f"{user}@{domain}"
    recipients = tuple(f"{rng.choice(USERS)}@{rng.choice(RECIPIENT_DOMAINS)}"
                       for _ in range(rng.randint(1, 4)))
    headers = [_received(rng, number, hop, domain.split(".")[0].removeprefix("ext"))
               for hop in range(rng.randint(2, 4))]
    headers += [
        ("DKIM-Signature", _dkim(rng, domain)),
        ("From", f"{user.title()} <{sender}>"),
        ("To", ", ".join(recipients[:2])),
        ("Subject", rng.choice(SUBJECTS).format(n=rng.randint(100, 999))),
        ("Date", "Thu, 26 Nov 2026 12:00:00 +0000"),
        ("Message-ID", f"<{number}.{rng.getrandbits(48):012x}@{domain}>"),
        ("MIME-Version", "1.0"),
    ]
    if len(recipients) > 2:
        headers.append(("Cc", ", ".join(recipients[2:])))
    if rng.random() < 0.5:
        headers.append(("X-Mailer", "Bench Mail 4.2"))
    kind = rng.random()
    text = _qp_text(rng, rng.randint(600, 2400))
    if kind < 0.2:
        headers += [("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Transfer-Encoding", "quoted-printable")]
        return Mail(sender, recipients, tuple(headers), text, f"REAL{number:05d}")
    inner = f"=_alt_{number}_{rng.getrandbits(32):08x}"
    alternative = (
        f"--{inner}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode() + text
        + f"--{inner}\r\nContent-Type: text/html; charset=utf-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n".encode() + _html(rng, len(text))
        + f"--{inner}--\r\n".encode())
    if kind < 0.4:
        headers.append(("Content-Type", f'multipart/alternative; boundary="{inner}"'))
        return Mail(sender, recipients, tuple(headers), alternative, f"REAL{number:05d}")
    outer = f"=_mixed_{number}_{rng.getrandbits(32):08x}"
    headers.append(("Content-Type", f'multipart/mixed; boundary="{outer}"'))
    parts = [f"--{outer}\r\nContent-Type: multipart/alternative; boundary=\"{inner}\"\r\n\r\n"
             .encode() + alternative]
    for _ in range(2 if rng.random() < 0.2 else 1):
        name, content_type = rng.choice(DOCUMENTS)
        name = name.format(n=rng.randint(100, 999))
        payload = _base64_lines(rng.randbytes(rng.randint(6 * 1024, 30 * 1024)))
        parts.append(
            f"--{outer}\r\nContent-Type: {content_type}; name=\"{name}\"\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n".encode() + payload)
    body = b"".join(parts) + f"--{outer}--\r\n".encode()
    return Mail(sender, recipients, tuple(headers), body, f"REAL{number:05d}")


def make_real_corpus(count: int, seed: int = 7) -> list[Mail]:
    rng = random.Random(seed)
    return [make_real_mail(rng, n) for n in range(count)]
