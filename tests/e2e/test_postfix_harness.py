"""The Postfix harness, proven against the null milter before mailspy relies on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from .postfix import (
    MilterFactory,
    MilterProcess,
    PostfixError,
    PostfixFactory,
    SmtpRejected,
    SmtpSink,
    WaitTimeout,
    free_port,
    is_listening,
    null_milter_argv,
    pid_alive,
)

pytestmark = pytest.mark.postfix

MESSAGE = b"From: a@x.test\nTo: b@y.test\nSubject: harness %d\n\nhello %d\n"


def eom_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def etc_postfix_snapshot() -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every file under /etc/postfix, main.cf's absence included."""
    root = Path("/etc/postfix")
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
    snapshot = {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in files}
    snapshot["main.cf exists"] = (int((root / "main.cf").exists()), 0)
    return snapshot


@pytest.fixture(params=["inet", "unix"])
def null_milter(
    request: pytest.FixtureRequest, milter_factory: MilterFactory, tmp_path: Path,
    socket_dir: Path,
) -> MilterProcess:
    """The null milter over TCP and over a unix socket the `postfix` user must reach."""
    eom = tmp_path / "eom.txt"
    if request.param == "inet":
        port = free_port()
        return milter_factory(null_milter_argv(f"inet:{port}@127.0.0.1", eom), port=port)
    path = socket_dir / "null.sock"
    return milter_factory(null_milter_argv(f"unix:{path}", eom), socket_path=path)


def test_milter_sees_every_message(
    postfix_factory: PostfixFactory, null_milter: MilterProcess, tmp_path: Path
) -> None:
    postfix = postfix_factory(null_milter.postfix_spec)
    results = [
        postfix.send("a@x.test", ["b@y.test", "c@y.test"], MESSAGE % (0, 0)),
        postfix.send("a@x.test", "b@y.test", MESSAGE % (1, 1)),
        postfix.send("a@x.test", "b@y.test", MESSAGE % (2, 2)),
    ]
    postfix.wait_for(4)  # one status=sent per recipient
    assert postfix.count_deferred() == 0
    assert postfix.count_bounced() == 0
    assert postfix.milter_trouble() == []
    seen = eom_lines(tmp_path / "eom.txt")
    assert sorted(seen) == sorted([f"{results[0].queue_id} 2"] + [
        f"{result.queue_id} 1" for result in results[1:]
    ])


def test_dead_milter_shows_as_4xx(postfix_factory: PostfixFactory) -> None:
    postfix = postfix_factory(f"inet:127.0.0.1:{free_port()}")
    with pytest.raises(SmtpRejected) as refused:
        postfix.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
    assert refused.value.temporary, refused.value
    assert refused.value.code == 451
    postfix.wait_for(lambda log: "milter-reject" in log, timeout=5)
    assert any("milter" in line for line in postfix.milter_trouble())
    with pytest.raises(WaitTimeout, match="milter-reject"):
        postfix.wait_for(1, timeout=0.3)  # nothing is delivered; the tail shows why
    assert postfix.count_sent() == 0


def test_dead_milter_with_accept_still_shows_in_log(postfix_factory: PostfixFactory) -> None:
    """milter_default_action=accept lets mail through a dead milter; the log still tells."""
    postfix = postfix_factory(f"inet:127.0.0.1:{free_port()}", milter_default_action="accept")
    postfix.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
    postfix.wait_for(1)
    assert any("Connection refused" in line for line in postfix.milter_trouble())


def test_smtp_source_delivers_all(
    postfix_factory: PostfixFactory, null_milter_tcp: MilterProcess, tmp_path: Path
) -> None:
    postfix = postfix_factory(null_milter_tcp.postfix_spec)
    elapsed = postfix.smtp_source(messages=40, sessions=4, size=2048)
    postfix.wait_for(40)
    assert 0 < elapsed < 30
    assert postfix.count_deferred() == 0
    assert len(eom_lines(tmp_path / "eom.txt")) == 40


def test_stop_leaves_nothing_behind(postfix_factory: PostfixFactory) -> None:
    before = etc_postfix_snapshot()
    postfix = postfix_factory()
    postfix.send("a@x.test", "b@y.test", MESSAGE % (0, 0))
    postfix.wait_for(1)
    base, master, pids = postfix.base, postfix.master_pid(), postfix.processes()
    assert master in pids
    postfix.stop()
    assert not [pid for pid in pids if pid_alive(pid)]
    assert not is_listening(postfix.smtp_port)
    assert base is not None and not base.exists()
    assert postfix.count_sent() == 1  # the log outlives the folder
    assert etc_postfix_snapshot() == before


def test_start_failure_shows_postfix_output(postfix_factory: PostfixFactory) -> None:
    with pytest.raises(PostfixError, match="maillog_file"):
        postfix_factory(main_cf={"maillog_file": "/nonexistent/maillog"})


def test_relay_to_smtp_sink(postfix_factory: PostfixFactory) -> None:
    with SmtpSink() as sink:
        postfix = postfix_factory(relayhost=sink.relayhost)
        postfix.send("a@x.test", "b@y.test", MESSAGE % (7, 7))
        postfix.wait_for(1)
        assert f"relay=127.0.0.1[127.0.0.1]:{sink.port}" in postfix.maillog()
        assert any(b"Subject: harness 7" in dump for dump in sink.messages())


def test_smtp_auth_checks_the_instances_own_sasldb(postfix_factory: PostfixFactory) -> None:
    before = etc_postfix_snapshot()
    postfix = postfix_factory(sasl_users={"alice": "right"})
    postfix.send("a@x.test", "b@y.test", MESSAGE % (0, 0), login=("alice", "right"))
    with pytest.raises(SmtpRejected) as refused:
        postfix.send("a@x.test", "b@y.test", MESSAGE % (1, 1), login=("alice", "wrong"))
    assert (refused.value.stage, refused.value.code) == ("AUTH", 535)
    postfix.wait_for(1)
    assert "sasl_method=PLAIN, sasl_username=alice" in postfix.maillog()
    assert (postfix.sasl_dir / "sasldb2").exists()
    assert etc_postfix_snapshot() == before


def test_an_instance_without_users_offers_no_auth(postfix_factory: PostfixFactory) -> None:
    postfix = postfix_factory()
    with pytest.raises(SmtpRejected, match="offers no AUTH"):
        postfix.send("a@x.test", "b@y.test", MESSAGE % (0, 0), login=("alice", "right"))
