"""The spool keeps every acknowledged copy until it is delivered or given up."""

from __future__ import annotations

import mailbox
import os
from pathlib import Path

import pytest

from mailspy.spool.entry import DEAD, DONE, PENDING
from mailspy.spool.store import DEAD_DIR, Spool, SpoolBusyError
from tests.waiting import eventually

from .conftest import maildir, make_message, pipe


def script(path: Path, text: str) -> Path:
    path.write_text("#!/bin/sh\n" + text)
    path.chmod(0o755)
    return path


def test_an_entry_holds_body_headers_and_envelope_byte_for_byte(spool: Spool, tmp_path):
    message = make_message(body=b"\x00\xff binary\r\n" * 3)
    entry_id = spool.enqueue(message, [maildir(tmp_path / "md")])
    assert spool.ids() == [entry_id]
    with spool.hold(entry_id) as meta:
        copy = spool.open_message(meta)
    assert copy.headers == message.headers
    assert copy.body.read() == b"\x00\xff binary\r\n" * 3
    assert (copy.envelope, copy.body_size, copy.received_at) == \
        (message.envelope, message.body_size, message.received_at)
    assert [(j.action, j.target, j.state) for j in meta.jobs] == \
        [("archive-to-maildir", str(tmp_path / "md"), PENDING)]
    copy.body.close()


def test_entries_are_listed_oldest_first(spool: Spool, tmp_path):
    ids = [spool.enqueue(make_message(str(i)), [maildir(tmp_path / "md")]) for i in range(5)]
    assert spool.ids() == ids


def test_a_half_written_entry_never_reaches_the_queue(spool: Spool, tmp_path, monkeypatch):
    def crash(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("mailspy.spool.store.write_entry", crash)
    with pytest.raises(OSError):
        spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    assert spool.ids() == []
    assert list((spool.root / "tmp").iterdir()) == []


def test_leftovers_of_a_crash_during_enqueue_are_cleaned_at_start(spool: Spool):
    (spool.root / "tmp" / "123.4.5").write_bytes(b"MAILSPY-SPOOL 1\npartial")
    assert spool.clean_tmp() == 1
    assert list((spool.root / "tmp").iterdir()) == []


def test_a_crash_mid_move_keeps_the_entry_with_its_own_state(spool: Spool, tmp_path):
    entry_id = spool.enqueue(make_message(), [maildir(tmp_path / "md"), maildir(tmp_path / "b")])
    with spool.hold(entry_id) as meta:
        meta.jobs[0].state, meta.jobs[0].attempts = "done", 1
        spool.save(meta)
    # the state was copied into dead/, then the daemon died before the entry followed
    state = (spool.root / "queue" / f"{entry_id}.state").read_bytes()
    (spool.root / "dead" / f"{entry_id}.state").write_bytes(state)
    spool.clean_tmp()
    assert spool.ids() == [entry_id] and spool.ids(DEAD_DIR) == []
    assert list((spool.root / "dead").iterdir()) == []
    with spool.hold(entry_id) as meta:
        assert [j.state for j in meta.jobs] == ["done", PENDING]  # what was done stays done


def test_a_crash_mid_drop_never_makes_copies_again(spool: Spool, tmp_path):
    entry_id = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    with spool.hold(entry_id) as meta:
        meta.jobs[0].state = "done"
        spool.save(meta)
    spool.path(entry_id).unlink()  # drop removes the entry first; then the daemon died
    spool.clean_tmp()
    assert spool.ids() == [] and list((spool.root / "queue").iterdir()) == []


def test_one_daemon_per_spool(spool: Spool):
    spool.lock()
    with pytest.raises(SpoolBusyError, match="another mailspy is using the spool"):
        Spool(spool.root).lock()


def test_a_copy_is_delivered_and_the_entry_removed(spool: Spool, deliverers, tmp_path):
    deliverer = deliverers()
    entry_id = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    deliverer.submit(entry_id)
    assert deliverer.wait_idle(10)
    [copy] = mailbox.Maildir(tmp_path / "md", create=False)
    assert copy["Subject"] == "hello"
    assert copy.get_all("X-Mailspy-Envelope-To") == ["<bob@example.net>", "<cc@example.net>"]
    assert copy.get_payload() == "line one\nline two\n"
    assert spool.ids() == [] and spool.ids(DEAD_DIR) == []


def test_what_the_spool_holds_at_start_is_delivered(spool: Spool, deliverers, tmp_path):
    for i in range(3):
        spool.enqueue(make_message(f"m{i}"), [maildir(tmp_path / "md")])
    deliverer = deliverers()  # start() rescans the queue, as a restarted daemon does
    assert deliverer.wait_idle(10)
    subjects = sorted(m["Subject"] for m in mailbox.Maildir(tmp_path / "md", create=False))
    assert subjects == ["m0", "m1", "m2"]


def test_a_redelivery_after_a_crash_writes_no_second_copy(spool: Spool, deliverers, tmp_path):
    from mailspy.actions.maildir import deliver

    entry_id = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
    with spool.hold(entry_id) as meta:
        message = spool.open_message(meta)
        deliver(tmp_path / "md", message, key=f"{entry_id}.0")  # delivered, then "kill -9"
        message.body.close()
    deliverer = deliverers()
    assert deliverer.wait_idle(10)
    assert len(list(mailbox.Maildir(tmp_path / "md", create=False))) == 1
    assert spool.ids() == []


def test_a_temporary_failure_is_retried_until_it_succeeds(spool: Spool, deliverers, tmp_path):
    parent = tmp_path / "disk"
    parent.write_text("not mounted yet")  # a file where the directory should be: ENOTDIR
    entry_id = spool.enqueue(make_message(), [maildir(parent / "md")])
    deliverer = deliverers(max_attempts=50)
    deliverer.submit(entry_id)

    def attempts() -> int:
        with spool.hold(entry_id) as meta:
            return meta.jobs[0].attempts if meta else -1

    eventually(lambda: attempts() >= 2)
    with spool.hold(entry_id) as meta:
        assert meta.jobs[0].state == PENDING
        assert "Not a directory" in meta.jobs[0].last_error
    parent.unlink()
    parent.mkdir()  # the disk is back
    eventually(lambda: spool.ids() == [])
    assert len(list(mailbox.Maildir(parent / "md", create=False))) == 1


def test_a_copy_is_given_up_after_max_attempts(spool: Spool, deliverers, tmp_path, caplog):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    entry_id = spool.enqueue(make_message(), [maildir(blocker / "md")])
    deliverer = deliverers(max_attempts=3)
    deliverer.submit(entry_id)
    eventually(lambda: spool.ids(DEAD_DIR) == [entry_id])
    with spool.hold(entry_id, DEAD_DIR) as meta:
        assert (meta.jobs[0].state, meta.jobs[0].attempts) == (DEAD, 3)
    assert "gave up after 3 attempts" in caplog.text


def test_a_copy_older_than_max_age_is_given_up(spool: Spool, deliverers, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    entry_id = spool.enqueue(make_message(), [maildir(blocker / "md")])
    deliverer = deliverers(max_age=0.0)
    deliverer.submit(entry_id)
    eventually(lambda: spool.ids(DEAD_DIR) == [entry_id])


def test_a_pipe_exiting_75_is_retried_other_failures_are_dead_at_once(spool, deliverers,
                                                                       tmp_path):
    count = tmp_path / "count"
    tempfail = script(tmp_path / "tempfail", f"echo x >> {count}\n"
                      f"[ $(wc -l < {count}) -ge 3 ] && exit 0\nexit 75\n")
    failing = script(tmp_path / "failing", "echo broken >&2\nexit 1\n")
    ok_id = spool.enqueue(make_message("t"), [pipe(str(tempfail))])
    dead_id = spool.enqueue(make_message("f"), [pipe(str(failing))])
    deliverer = deliverers()
    deliverer.submit(ok_id)
    deliverer.submit(dead_id)
    eventually(lambda: spool.ids() == [])
    assert count.read_text() == "x\nx\nx\n"
    assert spool.ids(DEAD_DIR) == [dead_id]
    with spool.hold(dead_id, DEAD_DIR) as meta:
        assert (meta.jobs[0].attempts, meta.jobs[0].last_error) == \
            (1, "exit status 1; stderr: broken")


def test_each_copy_of_an_entry_has_its_own_state(spool: Spool, deliverers, tmp_path):
    failing = script(tmp_path / "failing", "exit 2\n")
    entry_id = spool.enqueue(make_message(), [pipe(str(failing)), maildir(tmp_path / "md")])
    deliverer = deliverers()
    deliverer.submit(entry_id)
    eventually(lambda: spool.ids(DEAD_DIR) == [entry_id])
    with spool.hold(entry_id, DEAD_DIR) as meta:
        assert [j.state for j in meta.jobs] == [DEAD, DONE]
    assert len(list(mailbox.Maildir(tmp_path / "md", create=False))) == 1


def test_a_revived_entry_delivers_only_what_was_dead(spool: Spool, deliverers, tmp_path):
    flag = tmp_path / "fixed"
    fixable = script(tmp_path / "fixable", f"[ -e {flag} ] || exit 1\ncat > {tmp_path}/out\n")
    entry_id = spool.enqueue(make_message(), [pipe(str(fixable)), maildir(tmp_path / "md")])
    deliverer = deliverers()
    deliverer.submit(entry_id)
    eventually(lambda: spool.ids(DEAD_DIR) == [entry_id])
    flag.touch()
    with spool.hold(entry_id, DEAD_DIR) as meta:
        spool.revive(meta)
    deliverer.rescan()
    eventually(lambda: spool.ids() == [] and spool.ids(DEAD_DIR) == [])
    assert (tmp_path / "out").read_bytes().endswith(b"line one\nline two\n")
    assert len(list(mailbox.Maildir(tmp_path / "md", create=False))) == 1


def test_pipes_see_the_spool_id_to_deduplicate(spool: Spool, deliverers, tmp_path):
    env = tmp_path / "env"
    dump = script(tmp_path / "dump", f"env > {env}\n")
    entry_id = spool.enqueue(make_message(), [pipe(str(dump))])
    deliverers().submit(entry_id)
    eventually(lambda: env.exists() and "MAILSPY_SPOOL_ID" in env.read_text())
    assert f"MAILSPY_SPOOL_ID={entry_id}.0\n" in env.read_text()
    assert "MAILSPY_QUEUE_ID=Q1\n" in env.read_text()


def test_one_slow_target_runs_at_most_per_target_copies_at_once(spool, deliverers, tmp_path):
    log = tmp_path / "log"
    slow = script(tmp_path / "slow", f"echo start >> {log}\nsleep 0.3\necho end >> {log}\n")
    deliverer = deliverers(workers=4, per_target=1)
    for i in range(4):
        deliverer.submit(spool.enqueue(make_message(str(i)), [pipe(str(slow))]))
    eventually(lambda: spool.ids() == [], timeout=20)
    assert log.read_text() == "start\nend\n" * 4  # never two starts in a row


def blocking(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A pipe command that notes its start and then waits until the test releases it."""
    started, release = tmp_path / "started", tmp_path / "release"
    command = script(tmp_path / "blocking", f"cat >/dev/null\necho $MAILSPY_SPOOL_ID >> {started}\n"
                     f"while [ ! -e {release} ]; do sleep 0.05; done\n")
    return command, started, release


def test_a_slow_target_does_not_hold_up_the_others(spool, deliverers, tmp_path):
    slow, started, release = blocking(tmp_path)
    deliverer = deliverers(workers=2, per_target=1)
    held = spool.enqueue(make_message("slow"), [pipe(str(slow))])
    deliverer.submit(held)
    eventually(started.exists)
    deliverer.submit(spool.enqueue(make_message("fast"), [maildir(tmp_path / "md")]))
    eventually(lambda: (tmp_path / "md" / "new").exists()
               and len(os.listdir(tmp_path / "md" / "new")) == 1)
    assert spool.ids() == [held]  # the slow copy is still being made
    release.touch()
    eventually(lambda: spool.ids() == [])


def test_a_fresh_copy_does_not_search_the_maildir_but_a_resumed_one_does(
        spool: Spool, deliverers, tmp_path, monkeypatch):
    searched = []
    import mailspy.actions.maildir as maildir_module

    real = maildir_module.find_keyed
    monkeypatch.setattr(maildir_module, "find_keyed",
                        lambda root, tag: searched.append(tag) or real(root, tag))
    resumed = spool.enqueue(make_message("resumed"), [maildir(tmp_path / "md")])
    deliverer = deliverers()  # finds `resumed` in the queue, as after a restart
    assert deliverer.wait_idle(10)
    fresh = spool.enqueue(make_message("fresh"), [maildir(tmp_path / "md")])
    deliverer.submit(fresh, fresh=True)
    assert deliverer.wait_idle(10)
    assert [tag.split(".")[0] for tag in searched] == [resumed.split(".")[0]]
    assert len(list(mailbox.Maildir(tmp_path / "md", create=False))) == 2


def test_retry_from_the_cli_makes_a_waiting_copy_due_at_the_next_scan(spool, deliverers,
                                                                        tmp_path):
    from mailspy.commands.spool import retry

    blocker = tmp_path / "disk"
    blocker.write_text("gone")
    entry_id = spool.enqueue(make_message(), [maildir(blocker / "md")])
    deliverer = deliverers(retry_base=60, retry_max=60, scan_interval=0.2, max_attempts=9)
    deliverer.submit(entry_id)

    def attempts() -> int:
        with spool.hold(entry_id) as meta:
            return meta.jobs[0].attempts

    eventually(lambda: attempts() == 1)  # failed once, next try in 60 s
    blocker.unlink()
    blocker.mkdir()
    assert retry(spool, [entry_id], False) == 0
    eventually(lambda: spool.ids() == [], timeout=5)  # not 60 s
    assert len(list(mailbox.Maildir(blocker / "md", create=False))) == 1


def test_copies_waiting_for_a_busy_target_are_not_polled_hot(spool, deliverers, tmp_path,
                                                              monkeypatch):
    """Each copy waiting for a busy command looks again after a doubling pause: by the
    time every one waits 1.6 s between looks, each has looked at most six times (it
    was about 40 looks per second per waiting copy before the backoff)."""
    slow, started, release = blocking(tmp_path)
    holds: list[str] = []
    real_hold = Spool.hold
    monkeypatch.setattr(Spool, "hold", lambda self, entry_id, *a, **k: holds.append(entry_id)
                        or real_hold(self, entry_id, *a, **k))
    deliverer = deliverers(workers=4, per_target=1)
    entries = [spool.enqueue(make_message(str(i)), [pipe(str(slow))]) for i in range(10)]
    for entry in entries:
        deliverer.submit(entry)
    eventually(started.exists)
    running = started.read_text().split()[0].rsplit(".", 1)[0]  # its spool id, less the copy
    waiting = set(entries) - {running}
    eventually(lambda: all(deliverer._busy_wait.get(e, 0) >= 1.6 for e in waiting), 30)
    assert max(holds.count(e) for e in waiting) <= 6
    release.touch()


def test_a_copy_made_before_the_state_could_be_saved_is_not_made_again(
        spool: Spool, deliverers, tmp_path, monkeypatch):
    """The disk fills up between the Maildir copy and the state saying it was made:
    the retry finds the copy by its key instead of writing a second one."""
    real_save, failures = spool.save, []

    def save_once_failing(meta, where="queue"):
        if not failures:
            failures.append(meta.id)
            raise OSError(28, "No space left on device")
        real_save(meta, where)

    monkeypatch.setattr(spool, "save", save_once_failing)
    deliverer = deliverers()
    entry = spool.enqueue(make_message("once"), [maildir(tmp_path / "md")])
    deliverer.submit(entry, fresh=True)
    eventually(lambda: failures and not spool.ids())
    assert deliverer.wait_idle(10)
    assert [m["Subject"] for m in mailbox.Maildir(tmp_path / "md", create=False)] == ["once"]


def test_a_scheduler_that_fails_is_started_again_and_says_so(spool: Spool, deliverers,
                                                             tmp_path, monkeypatch, caplog):
    """Out of file descriptors during a flood: the scheduler is logged at ERROR and
    restarted, and copies spooled afterwards are still delivered."""
    deliverer = deliverers()
    real, raised = deliverer._take_due, []

    def take_due(next_scan):
        if not raised:
            raised.append(True)
            raise OSError(24, "Too many open files")
        return real(next_scan)

    monkeypatch.setattr(deliverer, "_take_due", take_due)
    eventually(lambda: raised)
    deliverer.submit(spool.enqueue(make_message("after"), [maildir(tmp_path / "md")]))
    eventually(lambda: (tmp_path / "md" / "new").exists()
               and len(os.listdir(tmp_path / "md" / "new")) == 1)
    failed = [r for r in caplog.records if "thread mailspy-spool failed" in r.getMessage()]
    assert failed and failed[0].levelname == "ERROR" and "Too many open files" in failed[0].exc_text


def test_entries_and_states_are_0600_whatever_the_umask(spool: Spool, tmp_path):
    previous = os.umask(0)
    try:
        entry = spool.enqueue(make_message(), [maildir(tmp_path / "md")])
        with spool.hold(entry) as meta:
            spool.save(meta)
    finally:
        os.umask(previous)
    modes = {p.name: p.stat().st_mode & 0o777 for p in (spool.root / "queue").iterdir()}
    assert modes == {entry: 0o600, f"{entry}.state": 0o600}


def test_an_entry_that_cannot_be_read_is_given_up_with_its_reason(spool: Spool, deliverers,
                                                                  caplog):
    broken = spool.path("01796000000000000000.1.1")
    broken.write_bytes(b"MAILSPY-SPOOL 1\n{not json\n")
    deliverers()
    eventually(lambda: spool.ids(DEAD_DIR) == [broken.name])
    assert spool.ids() == []
    assert spool.reason(broken.name).startswith("cannot be read: damaged")
    [error] = [r for r in caplog.records if "moved to dead/" in r.getMessage()]
    assert error.levelname == "ERROR"
    from tests.command import mailspy

    listing = mailspy("spool", "--spool-dir", str(spool.root), "list")
    assert f"{broken.name}  DEAD" in listing.stdout and "cannot be read" in listing.stdout
    dropped = mailspy("spool", "--spool-dir", str(spool.root), "drop", "--all-dead")
    assert dropped.returncode == 0 and spool.ids(DEAD_DIR) == []


def test_an_attempt_that_keeps_breaking_down_is_given_up_after_max_attempts(
        spool: Spool, deliverers, tmp_path, monkeypatch):
    """Not a loop forever: a failure outside any copy (the state never saves) is
    retried like a temporary failure, and as boundedly."""
    monkeypatch.setattr(spool, "save", lambda meta, where="queue": (_ for _ in ()).throw(
        OSError(28, "No space left on device")))
    deliverer = deliverers(max_attempts=3)
    entry = spool.enqueue(make_message("stuck"), [maildir(tmp_path / "md")])
    deliverer.submit(entry)
    eventually(lambda: spool.ids(DEAD_DIR) == [entry])
    assert spool.reason(entry) == ("gave up after 3 failed attempts: OSError: "
                                   "[Errno 28] No space left on device")
    assert len(list(mailbox.Maildir(tmp_path / "md", create=False))) == 1  # made once


def test_a_pipe_command_that_cannot_be_split_is_given_up_not_retried(spool: Spool,
                                                                     deliverers):
    deliverer = deliverers()
    entry = spool.enqueue(make_message(), [pipe("/bin/cat 'unbalanced")])
    deliverer.submit(entry)
    eventually(lambda: spool.ids(DEAD_DIR) == [entry])
    with spool.hold(entry, DEAD_DIR) as meta:
        [job] = meta.jobs
    assert (job.state, job.attempts) == (DEAD, 1)
    assert "No closing quotation" in job.last_error
