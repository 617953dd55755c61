"""The benchmark still works: its milter client speaks the protocol, and a smoke run of
bench/run.py produces every row of the table. No timing is asserted: the machine is
shared, and thresholds belong to `make bench`, which reports them, not to `make test`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import milter
import pytest

from bench.milterclient import (
    MAX_DATA,
    SMFIC_BODY,
    SMFIC_DATA,
    SMFIC_HEADER,
    SMFIC_MAIL,
    SMFIC_RCPT,
    SMFIP_NR_BODY,
    SMFIP_NR_HDR,
    SMFIR_ACCEPT,
    SMFIR_CONTINUE,
    STEPS,
    Mail,
    MilterClient,
    body_chunks,
)
from bench.report import figure_value, parse_table
from bench.run import ROW_IDS
from tests.e2e.postfix import MilterProcess, free_port, null_milter_argv, postfix_available

ROOT = Path(__file__).resolve().parents[1]

MAIL = Mail(
    sender="ann@example.org",
    recipients=("bob@example.net", "cfo@example.net"),
    headers=(("From", "Ann <ann@example.org>"), ("To", "bob@example.net"),
             ("Subject", "Q3 figures"), ("X-Filler", "x" * 200)),
    body=b"Figures attached.\r\n" * 10_000,  # 190,000 bytes: three body packets
    queue_id="4XyZ1",
)


def test_protocol_bits_are_libmilters() -> None:
    """Our constants against pymilter's, which come from libmilter's mfapi.h."""
    from bench import milterclient

    for name in ("NOCONNECT", "NOHELO", "NOMAIL", "NORCPT", "NOBODY", "NOHDRS", "NOEOH",
                 "NR_HDR", "NOUNKNOWN", "NODATA", "SKIP", "NR_CONN", "NR_HELO", "NR_MAIL",
                 "NR_RCPT", "NR_DATA", "NR_UNKN", "NR_EOH", "NR_BODY"):
        assert getattr(milterclient, f"SMFIP_{name}") == getattr(milter, f"P_{name}"), name


def test_body_chunks_fit_libmilter_packets() -> None:
    chunks = list(body_chunks([b"a" * (MAX_DATA + 10), b"b" * 5]))
    assert [len(c) for c in chunks] == [MAX_DATA, 10, 5]
    assert b"".join(chunks) == b"a" * (MAX_DATA + 10) + b"b" * 5


def _session(address: str | tuple[str, int], mail: Mail) -> MilterClient:
    client = MilterClient.open(address, timeout=10)
    client.negotiate()
    client.connect("client.example", "192.0.2.7", 40000)
    client.helo("client.example")
    reply = client.send_message(mail)
    assert reply.code in (SMFIR_ACCEPT, SMFIR_CONTINUE)
    client.quit()
    client.close()
    return client


@pytest.fixture
def null_milter(tmp_path: Path) -> Iterator[tuple[MilterProcess, Path]]:
    port = free_port()
    eom_file = tmp_path / "eom.txt"
    process = MilterProcess(null_milter_argv(f"inet:{port}@127.0.0.1", eom_file), port=port,
                            output=tmp_path / "null.out")
    with process:
        yield process, eom_file


def test_null_milter_round_trip_skips_what_it_skips(null_milter) -> None:
    """The null milter has no header or body callback: the client must not send them,
    and the message must still reach end-of-message with its queue id and recipients."""
    process, eom_file = null_milter
    client = _session(("127.0.0.1", process.port), MAIL)
    assert client.negotiation is not None
    assert client.negotiation.skips(SMFIC_HEADER) and client.negotiation.skips(SMFIC_BODY)
    assert SMFIC_HEADER not in client.counters.sent and SMFIC_BODY not in client.counters.sent
    assert eom_file.read_text() == "4XyZ1 2\n"


def _mailspy_session(tmp_path: Path, socket_kind: str) -> MilterClient:
    """One message through a `mailspy run` listening on TCP or on a unix socket."""
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "all.rules").write_text('rule "everything" { log-summary }\n')
    if socket_kind == "tcp":
        port = free_port()
        spec, where = f"inet:{port}@127.0.0.1", {"port": port}
        address: str | tuple[str, int] = ("127.0.0.1", port)
    else:
        path = tmp_path / "milter.sock"
        spec, where, address = f"unix:{path}", {"socket_path": path}, str(path)
    argv = [sys.executable, "-m", "mailspy", "run", "-p", spec,
            "-d", str(rules), "-f", str(tmp_path / "summary.log"),
            "--spool-dir", str(tmp_path / "spool"),
            "--runtime-dir", str(tmp_path / "spool") + "-run"]
    with MilterProcess(argv, output=tmp_path / "mailspy.out", **where):
        return _session(address, MAIL)


def _answered(client: MilterClient) -> int:
    negotiated = client.negotiation
    assert negotiated is not None
    return sum(count for command, count in client.counters.sent.items()
               if command in STEPS and not negotiated.no_reply(command))


def test_mailspy_no_reply_steps_are_not_waited_for(tmp_path: Path) -> None:
    """Over TCP mailspy leaves headers unanswered (not DATA or body: that brings back
    the Nagle stall): the client reads an answer only for the steps that have one,
    so it neither hangs nor leaves answers unread, and the whole body arrives."""
    client = _mailspy_session(tmp_path, "tcp")
    negotiated = client.negotiation
    assert negotiated is not None
    assert negotiated.protocol & SMFIP_NR_HDR
    assert not negotiated.protocol & SMFIP_NR_BODY
    assert client.counters.replies == 1 + _answered(client) + 1  # OPTNEG, steps, EOM
    assert client.counters.sent[SMFIC_BODY] == 3
    summary = (tmp_path / "summary.log").read_text()
    assert f"\tsize={len(MAIL.body)}\t" in summary
    assert "to=<cfo@example.net>" in summary


def test_over_a_unix_socket_only_end_of_message_is_answered(tmp_path: Path) -> None:
    """No Nagle on a unix socket: mailspy leaves MAIL, RCPT, DATA, headers and body
    unanswered, and libmilter sends no stray answer that would desynchronise the MTA."""
    client = _mailspy_session(tmp_path, "unix")
    negotiated = client.negotiation
    assert negotiated is not None
    for command in (SMFIC_MAIL, SMFIC_RCPT, SMFIC_DATA, SMFIC_HEADER, SMFIC_BODY):
        assert negotiated.no_reply(command), command
    assert _answered(client) == 0
    assert client.counters.replies == 1 + 1  # OPTNEG and end-of-message only
    summary = (tmp_path / "summary.log").read_text()
    assert f"\tsize={len(MAIL.body)}\t" in summary
    assert "to=<bob@example.net>\tto=<cfo@example.net>" in summary


@pytest.mark.slow
@pytest.mark.skipif(not postfix_available(), reason="postfix is not installed (make deps)")
def test_smoke_run_prints_every_row(tmp_path: Path) -> None:
    report = tmp_path / "performance.md"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--smoke", "--write", str(report)],
        capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = parse_table(result.stdout)
    assert [row["id"] for row in rows] == list(ROW_IDS), result.stdout
    for row in rows:
        figure_value(row["figure"])  # a number, whatever it is
        assert row["result"] in ("PASS", "FAIL") or row["target"] == "—"
    written = report.read_text()
    assert parse_table(written) == rows
    assert "| Postfix |" in written and "| pymilter |" in written
    assert "| sendmail | 8.17" in written
    report_row = next(row for row in rows if row["id"] == "RP1")
    assert report_row["baseline"].startswith("htmlspy.pl")


def test_report_rows_alone_without_the_original(tmp_path: Path) -> None:
    """`bench/run.py --only report` measures mailspy report; where the original's
    htmlspy.pl is not beside the repository the row says so and claims no ratio."""
    env = {**os.environ, "MAILSPY_HTMLSPY": str(tmp_path / "absent" / "htmlspy.pl")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--only", "report", "--smoke"],
        capture_output=True, text=True, timeout=120, check=False, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["id"]: row for row in parse_table(result.stdout)}
    assert list(rows) == ["RP1", "RP2", "RP3"]
    assert rows["RP1"]["baseline"] == "htmlspy.pl not found"
    assert rows["RP1"]["result"] == "htmlspy.pl not found" and rows["RP1"]["target"] == "—"
    assert rows["RP2"]["target"] == "< 60 s" and rows["RP3"]["target"] == "< 300 MB"


def test_profile_stages_are_read_from_collapsed_stacks() -> None:
    """bench/profile_daemon.py's split of py-spy's samples: the innermost stage that a
    stack passes through is not what counts, the first of the list is (the MIME walk
    called from the summary line is the MIME walk)."""
    from bench.profile_daemon import UNATTRIBUTED, shares

    raw = "\n".join([
        "eom (mailspy/milter/adapter.py:1);format_summary (mailspy/actions/summary.py:9);"
        "Message.attachment_outline (mailspy/message/model.py:3) 5",
        "eom (mailspy/milter/adapter.py:1);format_summary (mailspy/actions/summary.py:9) 3",
        "eom (mailspy/milter/adapter.py:1);evaluate (mailspy/evaluate.py:7) 2",
        " 4",
        "not a stack line",
    ])
    total, by_stage = shares(raw)
    assert total == 14
    assert by_stage["MIME walk for attachment names"] == 5
    assert by_stage["formatting and writing the records"] == 3
    assert by_stage["rule evaluation (index, matchers, field values)"] == 2
    assert by_stage[UNATTRIBUTED] == 4
