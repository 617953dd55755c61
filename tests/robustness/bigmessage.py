"""Send one 100 MB message through the adapter and report peak memory growth.

Run as `python -m tests.robustness.bigmessage DIR VARIANT`; prints one JSON
object. It runs in its own process because the peak resident set size
(VmHWM) is per process: the baseline is taken once everything is imported
and the Recorder is running, the peak once end-of-message has been answered
and the Maildir copy delivered, before any check reads a record back.

Variants:
- `base64`: a multipart body of 100 MB, nearly all of it one base64
  attachment (75 MB decoded), which the rules' attachment test decodes and
  hashes;
- `one-line`: a 100 MB attachment body that is a single line, no line
  break anywhere.
"""

from __future__ import annotations

import base64
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import Milter

from mailspy.milter.adapter import MailspyMilter
from tests.robustness.harness import Connection, Harness, Mail

TARGET = 100 * 1024 * 1024
LINE = base64.b64encode(bytes(range(57))) + b"\r\n"  # 78 bytes, as encoders write
CHUNK = 65535  # libmilter's largest body chunk

HEADERS = [(b"From", b"ann@example.org"), (b"Subject", b"big"), (b"MIME-Version", b"1.0"),
           (b"Content-Type", b'multipart/mixed; boundary="B"')]
OPENINGS = {
    "base64": b"--B\r\nContent-Type: application/octet-stream\r\n"
              b"Content-Disposition: attachment; filename=big.bin\r\n"
              b"Content-Transfer-Encoding: base64\r\n\r\n",
    "one-line": b"--B\r\nContent-Type: text/plain; name=line.txt\r\n\r\n",
}
FILLS = {"base64": LINE * (CHUNK // len(LINE)), "one-line": b"x" * CHUNK}
NAMES = {"base64": "big.bin", "one-line": "line.txt"}
CLOSING = b"\r\n--B--\r\n"


def peak_rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


class Body:
    """The body in libmilter-sized chunks, never whole in memory; counts what it sends."""

    def __init__(self, variant: str) -> None:
        self.variant = variant
        self.size = 0
        self.crlf = 0

    def chunks(self) -> Iterator[bytes]:
        fill = FILLS[self.variant]
        for chunk in (OPENINGS[self.variant], *self._fills(fill), CLOSING):
            self.size += len(chunk)
            self.crlf += chunk.count(b"\r\n")
            yield chunk

    def _fills(self, fill: bytes) -> Iterator[bytes]:
        sent = 0
        while sent < TARGET:
            sent += len(fill)
            yield fill


def main(directory: str, variant: str) -> dict:
    harness = Harness(Path(directory))
    MailspyMilter.spool_dir = directory  # the adapter's own body file lands here too
    mail = Mail(headers=HEADERS, body=b"")
    body = Body(variant)
    try:
        before = peak_rss()
        started = time.monotonic()
        answer = Connection().send(mail, body.chunks())
        answered = time.monotonic() - started
        delivered = harness.deliverer.wait_idle(120)
        after = peak_rss()
        elapsed = time.monotonic() - started
        harness.check_nothing_logged()
        fields = harness.check_summary(mail, body.size)
        harness.check_header_block(mail)
        [copy] = (harness.maildir / "new").iterdir()
        with copy.open("rb") as fp:
            head = fp.read(4096)
        copy_size = copy.stat().st_size
        copy_head = head.partition(b"\n\n")[0]
        return {
            "accepted": answer == Milter.ACCEPT,
            "delivered": delivered,
            "growth": after - before,
            "baseline": before,
            "body_size": body.size,
            "summary_tail": fields[-4:],
            "copy_body_size": copy_size - len(copy_head) - 2,
            "expected_copy_body_size": body.size - body.crlf,
            "attachment": NAMES[variant],
            "spool_empty": harness.spool.ids() == [],
            "eom_seconds": answered,
            "seconds": elapsed,
        }
    finally:
        harness.close()


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
