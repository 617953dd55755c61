"""LogFile: shared, append-only, one write per record, reopenable."""

import os
import random
import threading
from pathlib import Path

import pytest

import mailspy.actions.logfile as logfile_module
from mailspy.actions.logfile import LogFile, LogFileClosedError, LogFiles

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


def test_new_file_mode_is_0640_and_existing_content_is_kept(fs):
    fs.create_file("/var/log/mailspy", contents="old\n")
    old_umask = os.umask(0o022)
    try:
        LogFile("/var/log/mailspy").write("new\n")
        LogFile("/var/log/other").write(b"bytes\n")
    finally:
        os.umask(old_umask)
    assert Path("/var/log/mailspy").read_text() == "old\nnew\n"
    assert os.stat("/var/log/other").st_mode & 0o777 == 0o640


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
    files = LogFiles()
    first = files.get("/var/log/mailspy")
    assert files.get("/var/log/../log/mailspy") is first
    assert files.get("/var/log/other") is not first
    assert sorted(map(str, files.paths())) == ["/var/log/mailspy", "/var/log/other"]


def test_registry_reopen_all_reports_each_failure_and_reopens_the_rest(fs):
    fs.create_dir("/a")
    fs.create_dir("/b")
    files = LogFiles()
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
    files = LogFiles()
    first = files.get("/log/x")
    files.close_all()
    assert first.closed
    assert files.paths() == []
    second = files.get("/log/x")
    assert second is not first and not second.closed
