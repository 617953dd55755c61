"""`mailspy report` on the logs a real `mailspy run` wrote behind a real Postfix.

Messages go through a private Postfix to mailspy, which writes the summary in both its
layouts (text and JSON Lines); the report of those two logs must show every message,
its attachment and declared type, the rules that fired, the queue id Postfix gave it,
and the hostile subject and sender as text.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.command import mailspy
from tests.report.helpers import read_page

from .postfix import MilterFactory, PostfixFactory, free_port

pytestmark = pytest.mark.postfix

ATTACHED = (
    b"From: Ann <ann@corp.example>\r\nTo: bob@partner.example\r\n"
    b"Subject: Q3 figures\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain\r\n\r\nFigures attached.\r\n"
    b'--b1\r\nContent-Type: application/pdf; name="q3.pdf"\r\n'
    b"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20q3.pdf\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n"
)
IMG = "<img src=x onerror=alert(1)>"
HOSTILE = (f"From: x@evil.example\r\nTo: ann@corp.example\r\nSubject: {IMG}\r\n\r\n"
           "Body.\r\n").encode()
SCRIPT_SENDER = '"<script>"@evil.example'


def test_report_of_what_mailspy_run_wrote(tmp_path: Path, milter_factory: MilterFactory,
                                          postfix_factory: PostfixFactory) -> None:
    text_log, json_log = tmp_path / "mailspy", tmp_path / "mailspy.json"
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "all.rules").write_text(f"""
        rule "pdf" {{ when attachment matches "*.pdf" log-summary "{json_log}" format json }}
        rule "everything" {{ log-summary log-summary "{json_log}" format json }}
    """)
    port = free_port()
    milter = milter_factory(
        [sys.executable, "-m", "mailspy", "run", "-p", f"inet:{port}@127.0.0.1",
         "-d", str(rules), "-f", str(text_log), "--spool-dir", str(tmp_path / "spool")],
        port=port, output=tmp_path / "mailspy.out")
    postfix = postfix_factory(milter.postfix_spec)
    queued = postfix.send("ann@corp.example", ["bob@partner.example"], ATTACHED).queue_id
    postfix.send("x@evil.example", ["ann@corp.example", "cfo@corp.example"], HOSTILE)
    postfix.send(SCRIPT_SENDER, ["ann@corp.example"], HOSTILE)
    postfix.wait_for(4)
    assert postfix.milter_trouble() == []
    assert len(text_log.read_text().splitlines()) == 3
    assert len(json_log.read_text().splitlines()) == 3

    out = tmp_path / "report"
    result = mailspy("report", "-o", str(out), "--tz", "UTC", "--local-domain",
                     "corp.example", str(text_log), str(json_log))
    assert result.returncode == 0, result.stderr
    assert "6 messages from 6 lines" in result.stderr  # both logs, each message twice

    log = read_page(out / "log" / "1.html")
    subjects = [row[4] for row in log.rows[1:]]
    assert subjects.count("Q3 figures") == 2 and subjects.count(IMG) == 4
    assert [row[5] for row in log.rows[1:]].count("résumé q3.pdf") == 2
    assert f'title="queue id {queued}"' in log.source  # from the JSON Lines records
    assert SCRIPT_SENDER in [text for _, text in log.links]
    assert not [tag for tag, _ in log.tags if tag in ("img", "script")]

    ann = read_page(out / "index.html").follow("ann@corp.example")
    assert ann.row("Sent")[1] == "2" and ann.row("Received")[1] == "4"
    kinds = read_page(out / "lists" / "attachments.html")
    assert kinds.row("pdf")[1:] == ["2", "2"]
    assert kinds.row("application/pdf") == ["application/pdf", "1", "1",
                                            "everything (1), pdf (1)"]
    assert kinds.row("everything") == ["everything", "3"]
