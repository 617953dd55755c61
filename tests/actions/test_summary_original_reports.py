"""The summary log still feeds the original mailspy's report script, htmlspy.pl.

htmlspy.pl (GPL, the original distribution) is not part of mailspy: it is run
where it lies, $MAILSPY_HTMLSPY or ../shared/original/htmlspy.pl beside the
repository, and the tests skip when it or perl is not there. The check: the
pages it builds from a log mailspy wrote are the pages it builds from the
same log without mailspy's own `queue=` field, and they show every sender,
recipient, subject and file.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mailspy.actions.logfile import LogFile
from mailspy.actions.summary import log_summary
from mailspy.message.model import Attachment, Envelope, Message

REPO = Path(__file__).resolve().parents[2]
NOV_26_2026_NOON = 1795694400
# Ties sort in Perl's hash order, random unless the seed is fixed.
ENV = {"PERL_HASH_SEED": "0", "PERL_PERTURB_KEYS": "0", "HOSTNAME": "test", "TZ": "UTC"}


def htmlspy() -> Path:
    given = os.environ.get("MAILSPY_HTMLSPY")
    return Path(given) if given else REPO.parent / "shared" / "original" / "htmlspy.pl"


def run_htmlspy(log: Path, workdir: Path) -> dict[str, str]:
    """htmlspy.pl OUTPUT_DIR < log, from a folder of its own (it reads ./mailspy.conf);
    every page it wrote, by path, with its footer's clock and timing taken out."""
    script = htmlspy()
    if shutil.which("perl") is None:
        pytest.skip("perl is not installed")
    if not script.is_file():
        pytest.skip(f"the original's htmlspy.pl is not at {script} (set MAILSPY_HTMLSPY)")
    out = workdir / "out"
    out.mkdir(parents=True)
    with open(log, "rb") as stdin:
        done = subprocess.run(["perl", str(script), str(out)], stdin=stdin, cwd=workdir,
                              capture_output=True, env={"PATH": os.environ["PATH"], **ENV},
                              timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    pages = {}
    for path in sorted(out.rglob("*")):
        if path.is_file():
            text = path.read_text(errors="replace")
            text = re.sub(r"Generated at .*? by test", "Generated at TIME by test", text)
            pages[str(path.relative_to(out))] = re.sub(r"records in \d+:\d\d", "records in T",
                                                       text)
    return pages


def message(mail_from: str, rcpt_to: list[str], subject: str, files: list[str],
            queue_id: str, minute: int) -> Message:
    msg = Message(Envelope(mail_from=mail_from, rcpt_to=rcpt_to, queue_id=queue_id),
                  headers=[("Subject", subject)], body=io.BytesIO(b"x" * 2000), body_size=2000,
                  received_at=NOV_26_2026_NOON + 60 * minute)
    msg.__dict__["attachments"] = [Attachment(name=name) for name in files]
    return msg


MESSAGES = [
    message("<ann@example.org>", ["<bob@example.net>", "<cfo@corp.example>"], "Q3 figures",
            ["q3.pdf", "notes.txt"], "4XyZ1", 0),
    # a local submission, as Postfix hands its addresses over: without brackets
    message("root@host.example", ["ann@example.org"], "cron output", [], "5ABCD", 1),
    message("<>", ["<postmaster@example.org>"], "Undelivered Mail", ["details.txt"], "", 2),
]


def test_htmlspy_reads_the_line_as_it_read_the_originals(tmp_path: Path) -> None:
    log = tmp_path / "mailspy"
    logfile = LogFile(log)
    for msg in MESSAGES:
        log_summary(logfile, msg)
    logfile.close()
    written = log.read_text()
    assert [line.split("\t")[-1] for line in written.splitlines()] == \
        ["queue=4XyZ1", "queue=5ABCD", "queue="]
    without = tmp_path / "without-queue"
    without.write_text(re.sub(r"\tqueue=[^\t\n]*", "", written))

    ours = run_htmlspy(log, tmp_path / "ours")
    assert ours == run_htmlspy(without, tmp_path / "without")

    for address in ("ann-example.org", "bob-example.net", "cfo-corp.example",
                    "root-host.example", "postmaster-example.org", "bounce-returned"):
        assert f"mail/{address}.html" in ours
    messages = ours["log/log1.html"]
    for shown in ("Q3 figures", "q3.pdf", "notes.txt", "cron output", "details.txt"):
        assert shown in messages
    assert "[ 3 of 3 records" in ours["index.html"]
    assert not [page for page, text in ours.items() if "4XyZ1" in text or "queue" in text]
