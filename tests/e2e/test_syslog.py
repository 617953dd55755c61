"""log-syslog against a real rsyslog: over UDP, over TCP, on a local socket, and
behind a real Postfix, every record arrives as exactly one well-formed message.

The rsyslog is private (tests/e2e/rsyslog.py): its own configuration and
folder, loopback ports, its limits at their defaults, stopped by pid.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mailspy.actions.summary_json import format_json_summary
from mailspy.actions.syslog import HOSTNAME, SyslogSink, syslog_message
from mailspy.message.model import Envelope, Message
from tests.waiting import eventually

from .postfix import MilterFactory, PostfixFactory, free_port
from .rsyslog import ConfiguredRsyslog, PrivateRsyslog, rsyslog_available
from .test_daemon import FORGING, run_argv

CONTRIB = Path(__file__).resolve().parents[2] / "contrib" / "rsyslog"
HOSTILE_SUBJECT = "evil\r\n<13>1 2026-01-01T00:00:00Z forged mailspy 1 X - \x00 " + "z" * 65536


@pytest.fixture
def rsyslog() -> Iterator[PrivateRsyslog]:
    if not rsyslog_available():
        pytest.skip("rsyslog is not installed (apt-get install rsyslog, or `make deps`)")
    server = PrivateRsyslog()
    try:
        yield server.start()
    finally:
        server.remove()


def hostile_message(queue_id: str) -> Message:
    envelope = Envelope(mail_from="<ann@example.org>",
                        rcpt_to=["<bob@example.net>", "<x\r\ny@example.net>"],
                        queue_id=queue_id, client_address="192.0.2.7", helo="evil\x00helo")
    return Message(envelope, headers=[("Subject", HOSTILE_SUBJECT)], body=io.BytesIO(b"hi"),
                   body_size=2, received_at=time.time())


END = "4TheEnd"


def end_record() -> bytes:
    """Sent last: once it is in, whatever came before it is in too (each transport
    keeps the order on loopback), so a record split in two would show."""
    message = Message(Envelope(queue_id=END), headers=[("Subject", "the end")])
    return syslog_message(message, [], {})


def is_end(received: dict[str, str]) -> bool:
    return received["msgid"] == END or received["msg"].endswith(f"queue={END}")


def until_end(server: PrivateRsyslog) -> list[dict[str, str]]:
    """What the server received before the end record, once that arrived."""
    eventually(lambda: any(is_end(r) for r in server.received()), timeout=30)
    received = server.received()
    return received[:[is_end(r) for r in received].index(True)]


def send(target: str, *records: bytes) -> SyslogSink:
    sink = SyslogSink(target)
    try:
        for record in (*records, end_record()):
            assert sink.write(record) == 0
        eventually(lambda: sink.sent == len(records) + 1)
    finally:
        sink.close()
    assert sink.lost == 0
    return sink


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_a_hostile_record_arrives_as_one_well_formed_message(
        rsyslog: PrivateRsyslog, transport: str) -> None:
    message = hostile_message("4HostIle1")
    records = [syslog_message(message, ["r"], {"format": "json"}),
               syslog_message(message, ["r"], {})]
    send(getattr(rsyslog, transport), *records)
    received = until_end(rsyslog)
    assert len(received) == 2, received
    json_one, text_one = received
    for got in received:
        assert (got["input"], got["facility"], got["severity"], got["version"], got["app"],
                got["msgid"], got["sd"]) == (f"im{transport}", "mail", "info", "1", "mailspy",
                                            "4HostIle1", "-")
        assert got["procid"].isdigit() and got["hostname"] not in ("", "-")
    record = json.loads(json_one["msg"])
    whole = json.loads(format_json_summary(message, ["r"]))
    assert record["truncated"] is True
    assert {k: v for k, v in record.items() if k not in ("subject", "truncated")} == \
        {k: v for k, v in whole.items() if k != "subject"}
    assert whole["subject"].startswith(record["subject"][:-1]) and len(record["subject"]) > 4000
    assert "from=<ann@example.org>" in text_one["msg"] and text_one["msg"].endswith("…")


def test_the_local_socket_gets_mailspys_name_and_pid(rsyslog: PrivateRsyslog) -> None:
    message = hostile_message("4LocAl1")
    send(str(rsyslog.socket_path), syslog_message(message, ["r"], {"format": "json"}))
    [got] = until_end(rsyslog)
    assert (got["input"], got["facility"], got["app"]) == ("imuxsock", "mail", "mailspy")
    assert got["procid"].isdigit()
    assert json.loads(got["msg"])["queue_id"] == "4LocAl1"


def test_records_wait_while_the_collector_restarts_and_none_is_lost(tmp_path: Path) -> None:
    if not rsyslog_available():
        pytest.skip("rsyslog is not installed (apt-get install rsyslog, or `make deps`)")
    port = free_port()
    sink = SyslogSink(f"tcp://127.0.0.1:{port}")  # nothing listens yet
    servers = []
    try:
        first = [syslog_message(hostile_message(f"4Wait{n}"), [], {}) for n in range(5)]
        for record in first:
            sink.write(record)
        servers.append(PrivateRsyslog(tcp_port=port).start())
        eventually(lambda: len(servers[0].received()) == 5, timeout=30)
        servers[0].stop()
        second = [syslog_message(hostile_message(f"4Again{n}"), [], {}) for n in range(5)]
        for record in second:
            sink.write(record)
        sink.write(end_record())
        servers.append(PrivateRsyslog(tcp_port=port).start())
        received = [[r["msgid"] for r in servers[0].received()],
                    [r["msgid"] for r in until_end(servers[1])]]
    finally:
        sink.close()
        for server in servers:
            server.remove()
    assert sink.lost == 0
    assert received == [[f"4Wait{n}" for n in range(5)], [f"4Again{n}" for n in range(5)]]


def test_the_shipped_rsyslog_configurations_carry_records_to_a_file_per_host(
        tmp_path: Path) -> None:
    if not rsyslog_available():
        pytest.skip("rsyslog is not installed (apt-get install rsyslog, or `make deps`)")
    central, collector_port, forward_port = tmp_path / "central", free_port(), free_port()
    central.mkdir()
    collector_conf = (CONTRIB / "mailspy-collector.conf").read_text() \
        .replace('port="514"', f'port="{collector_port}"') \
        .replace("/var/log/mailspy-central", str(central))
    forward_conf = (CONTRIB / "mailspy-forward.conf").read_text() \
        .replace('"logs.example.org" port="514"', f'"127.0.0.1" port="{collector_port}"') \
        .replace('port="5514"', f'port="{forward_port}"')
    servers = [ConfiguredRsyslog(collector_conf, collector_port),
               ConfiguredRsyslog(forward_conf, forward_port)]
    message = hostile_message("4FarAway1")
    try:
        for server in servers:
            server.start()
        send(f"tcp://127.0.0.1:{forward_port}", syslog_message(message, ["r"],
                                                                 {"format": "json"}))
        per_host = central / f"{HOSTNAME}.jsonl"
        eventually(lambda: per_host.exists() and "4TheEnd" in per_host.read_text(),
                   timeout=30)
        lines = per_host.read_text().splitlines()
    finally:
        for server in servers:
            server.remove()
    assert len(lines) == 2 and lines[1].endswith("\tqueue=4TheEnd")  # tabs, not #011
    made = subprocess.run([sys.executable, "-m", "mailspy", "report", "-o",
                           str(tmp_path / "site"), str(per_host)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0 and "2 messages from 2 lines" in made.stderr, made.stderr
    record = json.loads(lines[0])
    assert record["host"] == HOSTNAME and record["queue_id"] == "4FarAway1"
    assert record["recipients"] == ["bob@example.net", "x\r\ny@example.net"]


@pytest.mark.postfix
def test_behind_postfix_each_message_reaches_rsyslog_over_tcp_and_udp(
        rsyslog: PrivateRsyslog, tmp_path: Path, milter_factory: MilterFactory,
        postfix_factory: PostfixFactory) -> None:
    log = tmp_path / "summary.jsonl"
    rules = f"""
        rule "all" {{
            log-summary "{log}" format json
            log-syslog "{rsyslog.tcp}" format json
            log-syslog "{rsyslog.udp}"
        }}"""
    port = free_port()
    milter = milter_factory(run_argv(tmp_path, f"inet:{port}@127.0.0.1", rules), port=port)
    postfix = postfix_factory(milter.postfix_spec,
                              main_cf={"milter_connect_macros": "j {client_addr}"})
    folded = b"\r\n ".join([b"=?UTF-8?Q?evil=0D=0A<13>1_forged=00?="] + [b"z" * 500] * 40)
    hostile = b"From: ann@example.org\r\nSubject: " + folded + b"\r\n\r\nBody.\r\n"
    for message in (FORGING, hostile, FORGING):
        postfix.send("ann@example.org", ["bob@example.net"], message)
    postfix.wait_for(3)
    eventually(lambda: len(rsyslog.received()) == 6)
    written = [json.loads(line) for line in log.read_text().splitlines()]
    received = rsyslog.received()
    by_tcp = [json.loads(r["msg"]) for r in received if r["input"] == "imtcp"]
    by_udp = [r for r in received if r["input"] == "imudp"]
    assert [r["queue_id"] for r in by_tcp] == [r["queue_id"] for r in written]
    assert [r["msgid"] for r in by_udp] == [r["queue_id"] for r in written]
    assert by_tcp[0] == written[0] and by_tcp[2] == written[2]
    assert by_tcp[1]["truncated"] is True
    assert {k: v for k, v in by_tcp[1].items() if k not in ("subject", "truncated")} == \
        {k: v for k, v in written[1].items() if k != "subject"}
    assert all("#011from=<ann@example.org>#011" in r["msg"] for r in by_udp)
