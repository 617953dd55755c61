"""The private sendmail, proven against the null milter before mailspy relies on it, and
what its INPUT_MAIL_FILTER flags and timeouts do when the milter is down or stalls."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from .postfix import (
    MilterFactory,
    MilterProcess,
    SmtpRejected,
    free_port,
    null_milter_argv,
)
from .sendmail import SASL_DIR, PrivateSendmail, SendmailError, _group_members

pytestmark = pytest.mark.sendmail

SendmailFactory = Callable[..., PrivateSendmail]
MESSAGE = b"From: a@x.test\nTo: b@y.test\nSubject: harness %d\n\nhello %d\n"


def eom_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.fixture(params=["inet", "local"])
def null_milter(
    request: pytest.FixtureRequest, milter_factory: MilterFactory, tmp_path: Path,
    run_socket_dir: Path,
) -> MilterProcess:
    """The null milter over TCP and over a unix socket (S=local:/path)."""
    eom = tmp_path / "eom.txt"
    if request.param == "inet":
        port = free_port()
        return milter_factory(null_milter_argv(f"inet:{port}@127.0.0.1", eom), port=port)
    path = run_socket_dir / "null.sock"
    return milter_factory(null_milter_argv(f"local:{path}", eom), socket_path=path)


def test_milter_sees_every_message_and_each_is_delivered_to_a_file(
    sendmail_factory: SendmailFactory, null_milter: MilterProcess, tmp_path: Path
) -> None:
    sendmail = sendmail_factory(null_milter.sendmail_spec)
    results = [
        sendmail.send("a@x.test", ["b@y.test", "c@y.test"], MESSAGE % (0, 0)),
        sendmail.send("a@x.test", "b@y.test", MESSAGE % (1, 1)),
    ]
    sendmail.wait_for(3)  # one delivery per recipient
    assert sendmail.count_tempfails() == 0 and sendmail.milter_trouble() == []
    assert sendmail.count_sent() == 3
    assert sorted(eom_lines(tmp_path / "eom.txt")) == sorted(
        [f"{results[0].queue_id} 2", f"{results[1].queue_id} 1"])
    deliveries = sendmail.deliveries()
    assert sorted(d.recipient for d in deliveries) == ["b@y.test", "b@y.test", "c@y.test"]
    first = next(d for d in deliveries if d.recipient == "c@y.test")
    assert first.data.startswith(b"Received: from client.test (localhost [127.0.0.1])\n")
    assert f"with ESMTP id {results[0].queue_id}".encode() in first.data
    assert b"\nSubject: harness 0\n\nhello 0\n" in first.data


def test_a_dead_milter_with_f_t_tempfails_mail_from(sendmail_factory: SendmailFactory) -> None:
    sendmail = sendmail_factory(f"inet:{free_port()}@127.0.0.1", milter_flags="T")
    with pytest.raises(SmtpRejected) as refused:
        sendmail.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
    assert (refused.value.stage, refused.value.code) == ("MAIL", 451)
    assert "4.3.2 Please try again later" in refused.value.reply
    assert sendmail.count_tempfails() == 1
    assert any("error connecting to filter" in line for line in sendmail.milter_trouble())
    assert sendmail.deliveries() == [] and sendmail.queue_empty()


def test_a_dead_milter_with_an_empty_f_is_skipped(sendmail_factory: SendmailFactory) -> None:
    sendmail = sendmail_factory(f"inet:{free_port()}@127.0.0.1", milter_flags="")
    sendmail.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
    sendmail.wait_for(1)
    assert sendmail.count_tempfails() == 0


def test_a_dead_milter_with_f_r_rejects_the_connection(
    sendmail_factory: SendmailFactory,
) -> None:
    sendmail = sendmail_factory(f"inet:{free_port()}@127.0.0.1", milter_flags="R")
    with pytest.raises(SmtpRejected) as refused:
        sendmail.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
    assert (refused.value.stage, refused.value.code) == ("CONNECT", 554)
    assert sendmail.deliveries() == []


@pytest.mark.parametrize(("flags", "timeouts", "accepted"), [
    ("T", "S:5s;R:1s;E:5m", False),  # R bounds the end-of-message answer: down, 451
    ("", "S:5s;R:1s;E:5m", True),  # down, skipped
    ("T", "S:5s;R:5s;E:1s", True),  # E:1s does not cut short a 2 s answer
])
def test_a_milter_slower_than_the_r_timeout_counts_as_down(
    sendmail_factory: SendmailFactory, milter_factory: MilterFactory,
    flags: str, timeouts: str, accepted: bool,
) -> None:
    port = free_port()
    stalling = milter_factory(null_milter_argv(f"inet:{port}@127.0.0.1"), port=port,
                              env={**os.environ, "NULL_MILTER_EOM_DELAY": "2"})
    sendmail = sendmail_factory(stalling.sendmail_spec, milter_flags=flags,
                                milter_timeouts=timeouts)
    if accepted:
        sendmail.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
        sendmail.wait_for(1)
    else:
        with pytest.raises(SmtpRejected) as refused:
            sendmail.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
        assert (refused.value.stage, refused.value.code) == ("DATA", 451)
    timed_out = any("timeout" in line for line in sendmail.milter_trouble())
    assert timed_out == ("R:1s" in timeouts)


def test_a_unix_socket_below_tmp_is_refused_as_unsafe(
    sendmail_factory: SendmailFactory, socket_dir: Path,
) -> None:
    with pytest.raises(SendmailError, match="unsafe: World writable directory"):
        sendmail_factory(f"local:{socket_dir}/milter")


def test_stop_ends_every_process_and_leaves_the_host_alone(
    sendmail_factory: SendmailFactory, null_milter_tcp: MilterProcess,
) -> None:
    hosts = Path("/etc/hosts").read_bytes()
    sendmail = sendmail_factory(null_milter_tcp.sendmail_spec)
    sendmail.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
    sendmail.wait_for(1)
    pgid, base = sendmail.pid, sendmail.base
    assert pgid is not None and base is not None
    assert socket.gethostname() != "mta.test"  # the name was set in sendmail's namespace
    assert Path("/etc/hosts").read_bytes() == hosts
    assert not Path("/dev/log").exists() or Path("/dev/log").resolve() != base / "dev" / "log"
    sendmail.stop()
    assert _group_members(pgid) == [] and not base.exists()
    assert "stat=Sent" in sendmail.maillog()  # the log outlives the instance


def test_smtp_auth_checks_the_instances_own_sasldb_and_leaves_the_host_alone(
    sendmail_factory: SendmailFactory,
) -> None:
    host_sasl = sorted(p.name for p in Path(SASL_DIR).iterdir())
    sendmail = sendmail_factory(sasl_users={"alice": "right"})
    sendmail.send("a@x.test", "b@y.test", MESSAGE % (0, 0), login=("alice", "right"))
    with pytest.raises(SmtpRejected) as refused:
        sendmail.send("a@x.test", "b@y.test", MESSAGE % (1, 1), login=("alice", "wrong"))
    assert (refused.value.stage, refused.value.code) == ("AUTH", 535)
    sendmail.wait_for(1)
    assert "authid=alice, mech=PLAIN" in sendmail.maillog()
    assert sorted(p.name for p in Path(SASL_DIR).iterdir()) == host_sasl  # mounted inside only
    assert "Sendmail.conf" not in host_sasl

