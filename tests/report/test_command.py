"""`mailspy report` as a postmaster types it: what it says when something is wrong."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from tests.command import mailspy
from tests.report.helpers import MONDAY, line, report


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "mailspy"
    path.write_text(line(MONDAY, "a@x.example", ["b@y.example"]))
    return path


@pytest.mark.parametrize(("options", "message"), [
    (["--tz", "Mars/Olympus"], "--tz Mars/Olympus: unknown time zone"),
    (["--since", "yesterday"], "--since: 'yesterday' is not a time; use YYYY-MM-DD"),
    (["--until", "2026-02-30"], "--until: '2026-02-30' is not a time"),
    (["--local-domains", "/nonexistent/ours"], "/nonexistent/ours: No such file"),
    (["--only", "/nonexistent/list"], "/nonexistent/list: No such file"),
])
def test_bad_options_exit_2_saying_what_to_do(log: Path, tmp_path: Path, options, message,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert report("-o", tmp_path / "r", *options, log) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_output_that_holds_other_things_is_refused(log: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "etc"
    target.mkdir()
    (target / "passwd").write_text("root:x:0:0")
    assert report("-o", target, log) == 2
    assert "is not empty and holds no mailspy report" in capsys.readouterr().err
    assert (target / "passwd").read_text() == "root:x:0:0"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_output_through_a_symbolic_link_is_refused(log: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert report("-o", tmp_path / "link", log) == 2
    assert "is a symbolic link" in capsys.readouterr().err


def test_output_in_a_missing_folder_is_refused(log: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert report("-o", tmp_path / "no" / "such" / "r", log) == 2
    assert "does not exist; create it first" in capsys.readouterr().err


def test_missing_logs_are_skipped_unreadable_ones_fail_the_run(
        log: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert report("-o", tmp_path / "r1", log, tmp_path / "mailspy.1") == 0
    err = capsys.readouterr().err
    assert "1 message from 1 line" in err and "mailspy.1: no such file (skipped)" in err
    assert report("-o", tmp_path / "r2", log, tmp_path) == 1  # a folder given as a log
    err = capsys.readouterr().err
    assert "cannot open" in err
    assert (tmp_path / "r2" / "index.html").is_file()  # the report is written all the same


def test_a_terminal_on_standard_input_is_not_waited_on(tmp_path: Path, monkeypatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert report("-o", tmp_path / "r") == 2
    assert "standard input is a terminal" in capsys.readouterr().err


def test_help_and_exclusive_destinations(log: Path, tmp_path: Path) -> None:
    result = mailspy("report", "--help")
    assert result.returncode == 0
    for option in ("--history", "--local-domain", "--exclude-local", "--only",
                   "--pseudonymize", "--since", "--until", "--tz"):
        assert option in result.stdout
    both = mailspy("report", "-o", str(tmp_path / "a"), "--history", str(tmp_path / "b"),
                   str(log))
    assert both.returncode == 2 and "not allowed with" in both.stderr
    neither = mailspy("report", str(log))
    assert neither.returncode == 2 and "one of the arguments -o/--output --history" \
        in neither.stderr
    assert "report" in mailspy("--help").stdout
