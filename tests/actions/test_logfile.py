"""LogFile: shared, append-only, one write per record, reopenable."""

import os
import random
import threading
from pathlib import Path

import pytest

import mailspy.actions.logfile as logfile_module
from mailspy.actions.logfile import LogFile, LogFileClosedError, RecordLostError
from mailspy.actions.sinks import Sinks
from mailspy.safefs import UnsafePathError

THREADS, LINES = 8, 500


def _record(thread: int, index: int, length: int) -> str:
    letter = "abcdefgh"[thread]
    return f"T{thread} {index} {length} {letter * length}\n"


def _writer(logfile: LogFile, thread: int, barrier: threading.Barrier) -> None:
    rng = random.Random(thread)
    barrier.wait()
    for index in range(LINES):
        length = 100_000 if index % 50 == 7 else rng.randrange(0, 300)
        logfile.write(_record(thread, index, length))


def test_concurrent_threads_never_interleave_lines(tmp_path):
    path = tmp_path / "mailspy"
    logfile = LogFile(path)
    barrier = threading.Barrier(THREADS)
    threads = [threading.Thread(target=_writer, args=(logfile, t, barrier)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logfile.close()

    seen: dict[int, list[int]] = {t: [] for t in range(THREADS)}
    for line in path.read_text().splitlines():
        tag, index, length, payload = line.split(" ")
        thread = int(tag[1:])
        assert payload == "abcdefgh"[thread] * int(length)
        seen[thread].append(int(index))
    assert seen == {t: list(range(LINES)) for t in range(THREADS)}


def test_reopen_after_rename_writes_to_the_new_file(tmp_path):
    path = tmp_path / "mailspy"
    logfile = LogFile(path)
    logfile.write("before\n")
    os.rename(path, tmp_path / "mailspy.1")
    logfile.write("still old\n")
    logfile.reopen()
    logfile.write("after\n")
    logfile.close()
    assert (tmp_path / "mailspy.1").read_text() == "before\nstill old\n"
    assert path.read_text() == "after\n"


def test_failed_reopen_keeps_writing_to_the_old_file(tmp_path):
    logdir = tmp_path / "log"
    logdir.mkdir()
    logfile = LogFile(logdir / "mailspy")
    os.rename(logdir, tmp_path / "moved")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        logfile.reopen()
    logfile.write("kept\n")
    logfile.close()
    assert (tmp_path / "moved" / "mailspy").read_text() == "kept\n"


def test_short_writes_are_completed(tmp_path, monkeypatch):
    real_write = os.write
    calls = []

    def short_write(fd, data):
        calls.append(len(data))
        return real_write(fd, bytes(data[:7]))

    monkeypatch.setattr(logfile_module.os, "write", short_write)
    logfile = LogFile(tmp_path / "log")
    logfile.write("0123456789abcdefghij\n")
    logfile.close()
    assert (tmp_path / "log").read_text() == "0123456789abcdefghij\n"
    assert calls == [21, 14, 7]


def test_write_after_close_raises_and_close_is_idempotent(tmp_path):
    logfile = LogFile(tmp_path / "log")
    logfile.close()
    logfile.close()
    assert logfile.closed
    with pytest.raises(LogFileClosedError):
        logfile.write("late\n")


# File handling that needs no real disk: pyfakefs.


def test_new_file_mode_is_0600_and_existing_content_is_kept(fs):
    fs.create_file("/var/log/mailspy", contents="old\n")
    old_umask = os.umask(0o022)
    try:
        LogFile("/var/log/mailspy").write("new\n")
        LogFile("/var/log/other").write(b"bytes\n")
    finally:
        os.umask(old_umask)
    assert Path("/var/log/mailspy").read_text() == "old\nnew\n"
    assert os.stat("/var/log/other").st_mode & 0o777 == 0o600


def test_missing_directory_is_an_error_and_is_not_created(fs):
    with pytest.raises(FileNotFoundError, match=r"log directory /var/log/mailspy does not exist"):
        LogFile("/var/log/mailspy/summary")
    assert not os.path.exists("/var/log/mailspy")


def test_undecodable_text_is_written_not_raised(fs):
    fs.create_dir("/log")
    logfile = LogFile("/log/x")
    logfile.write("a\ud800b\n")
    assert Path("/log/x").read_bytes() == b"a\\ud800b\n"


def test_registry_shares_one_logfile_per_path(fs):
    fs.create_dir("/var/log")
    files = Sinks()
    first = files.get("/var/log/mailspy")
    assert files.get("/var/log/mailspy") is first
    assert files.get("/var/log/other") is not first
    assert sorted(files.paths()) == ["/var/log/mailspy", "/var/log/other"]


def test_registry_reopen_all_reports_each_failure_and_reopens_the_rest(fs):
    fs.create_dir("/a")
    fs.create_dir("/b")
    files = Sinks()
    files.get("/a/log").write("1\n")
    files.get("/b/log").write("1\n")
    os.rename("/a/log", "/a/log.1")
    os.rename("/b", "/b.gone")
    failures = files.reopen_all()
    assert [(path, type(exc)) for path, exc in failures] == [("/b/log", FileNotFoundError)]
    files.get("/a/log").write("2\n")
    assert Path("/a/log").read_text() == "2\n"


def test_registry_close_all_closes_and_forgets(fs):
    fs.create_dir("/log")
    files = Sinks()
    first = files.get("/log/x")
    files.close_all()
    assert first.closed
    assert files.paths() == []
    second = files.get("/log/x")
    assert second is not first and not second.closed


# A record is whole or absent, whatever the disk does.


def _failing_after(limit: int, monkeypatch) -> list[int]:
    """os.write that lets `limit` more bytes out, then fails as a full disk does."""
    budget = [limit]
    real_write = os.write

    def write(fd, data):
        if budget[0] <= 0:
            raise OSError(28, "No space left on device")
        chunk = bytes(data[: budget[0]])
        budget[0] -= len(chunk)
        return real_write(fd, chunk)

    monkeypatch.setattr(logfile_module.os, "write", write)
    return budget


def test_a_record_cut_short_by_a_full_disk_is_removed(tmp_path, monkeypatch):
    path = tmp_path / "log"
    logfile = LogFile(path)
    logfile.write("first\n")
    budget = _failing_after(4, monkeypatch)
    with pytest.raises(RecordLostError) as lost:
        logfile.write("second record\n")
    assert lost.value.first and lost.value.errno == 28
    assert path.read_text() == "first\n"
    with pytest.raises(RecordLostError) as again:
        logfile.write("third\n")
    assert not again.value.first  # one episode, one report
    budget[0] = 10**6  # space is back
    assert logfile.write("fourth\n") == 2  # the episode ends: two records were lost
    assert logfile.write("fifth\n") == 0
    assert path.read_text() == "first\nfourth\nfifth\n"
    assert logfile.lost == 2


def test_a_partial_record_that_cannot_be_removed_is_ended_before_the_next(
        tmp_path, monkeypatch):
    path = tmp_path / "log"
    logfile = LogFile(path)
    budget = _failing_after(3, monkeypatch)
    monkeypatch.setattr(logfile_module.os, "ftruncate",
                        lambda fd, size: (_ for _ in ()).throw(OSError(5, "I/O error")))
    with pytest.raises(RecordLostError):
        logfile.write("partial record\n")
    budget[0] = 10**6
    logfile.write("next\n")
    assert path.read_text().splitlines() == ["par", "next"]  # never `parnext`


# Nobody less privileged can redirect a log.


def test_a_symlink_in_place_of_the_log_is_refused_not_followed(tmp_path):
    victim = tmp_path / "authorized_keys"
    victim.write_text("ssh-ed25519 AAAA root@host\n")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "finance.log").symlink_to(victim)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        LogFile(tmp_path / "logs" / "finance.log")
    assert victim.read_text() == "ssh-ed25519 AAAA root@host\n"


def test_a_symlinked_log_directory_planted_by_a_user_is_refused(tmp_path):
    (tmp_path / "real").mkdir()
    user_dir = tmp_path / "user"
    user_dir.mkdir()
    os.chown(user_dir, 65534, 65534)
    (user_dir / "logs").symlink_to(tmp_path / "real")
    with pytest.raises(UnsafePathError):
        LogFile(user_dir / "logs" / "x.log")
    assert list((tmp_path / "real").iterdir()) == []


def test_a_log_in_a_directory_other_users_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(UnsafePathError, match="chmod go-w"):
        LogFile(shared / "log")
    shared.chmod(0o1777)  # sticky, like /tmp: others cannot replace what is ours
    LogFile(shared / "log").write("ok\n")
    assert (shared / "log").read_text() == "ok\n"


def test_a_fifo_or_a_hard_link_in_place_of_the_log_is_refused(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafePathError, match="not a regular file"):
        LogFile(tmp_path / "fifo")  # and does not block waiting for a reader
    (tmp_path / "precious").write_text("keep\n")
    os.link(tmp_path / "precious", tmp_path / "linked.log")
    with pytest.raises(UnsafePathError, match="hard links"):
        LogFile(tmp_path / "linked.log")
    assert (tmp_path / "precious").read_text() == "keep\n"


def test_a_log_owned_by_another_user_is_refused(tmp_path):
    (tmp_path / "log").write_text("")
    os.chown(tmp_path / "log", 65534, 65534)
    with pytest.raises(UnsafePathError, match="belongs to user 65534"):
        LogFile(tmp_path / "log")
