"""Which logs are read, in which order, compressed or not, from files or standard input."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from mailspy.report.records import Problem
from mailspy.report.sources import lines, rotation_order
from tests.report.helpers import MONDAY, line


def test_rotations_are_read_oldest_first_whatever_the_order_given() -> None:
    given = ["/l/mailspy", "/l/mailspy.1", "/l/mailspy.10.gz", "/l/mailspy.2.gz",
             "/l/other.log", "/l/other.log.1"]
    assert rotation_order(given) == ["/l/mailspy.10.gz", "/l/mailspy.2.gz", "/l/mailspy.1",
                                     "/l/mailspy", "/l/other.log.1", "/l/other.log"]


def test_stdin_stays_where_it_was_named() -> None:
    assert rotation_order(["b", "-", "a.1", "a"]) == ["b", "-", "a.1", "a"]


def test_gzip_is_told_by_its_magic_number_not_its_name(tmp_path: Path) -> None:
    packed = tmp_path / "mailspy.2"  # compressed, without .gz
    packed.write_bytes(gzip.compress(line(MONDAY, "a@x", ["b@y"]).encode()))
    plain = tmp_path / "mailspy.1.gz"  # not compressed, despite its name
    plain.write_text(line(MONDAY + 60, "c@x", ["d@y"]))
    found = list(lines([str(plain), str(packed)], print))
    assert [(Path(source).name, number, text.split("\t")[2]) for source, number, text in found] \
        == [("mailspy.2", 1, "from=<a@x>"), ("mailspy.1.gz", 1, "from=<c@x>")]


def test_missing_and_broken_inputs_are_problems_not_failures(tmp_path: Path) -> None:
    broken = tmp_path / "mailspy.3.gz"
    whole = gzip.compress((line(MONDAY, "a@x", ["b@y"]) * 2000).encode())
    broken.write_bytes(whole[: len(whole) // 2])  # cut short, as while logrotate compresses
    good = tmp_path / "mailspy"
    good.write_text(line(MONDAY, "z@x", ["b@y"]))
    problems: list[Problem] = []
    found = list(lines([str(tmp_path / "mailspy.1"), str(broken), str(good)], problems.append))
    assert found[-1][0] == str(good)  # the good log was still read, after the broken one
    assert [p.reason.split(" ")[0] for p in problems] == ["compressed", "no"]
    assert problems[0].source == str(broken) and problems[0].line == 0
    assert "after line" in problems[0].reason


def test_lines_end_at_lf_only(tmp_path: Path) -> None:
    log = tmp_path / "mailspy"
    log.write_bytes(b"one\rstill one\r\ntwo\n")
    assert [text for _, _, text in lines([str(log)], print)] == ["one\rstill one\r\n", "two\n"]


def test_standard_input_plain_and_compressed(tmp_path: Path) -> None:
    """`mailspy report -o DIR -` and `mailspy report -o DIR < log` read standard input,
    compressed or not (zcat not needed)."""
    text = line(MONDAY, "a@x.example", ["b@y.example"]) + line(MONDAY + 60, "c@x.example", [])
    for n, (argv, data) in enumerate([(["-"], text.encode()), ([], gzip.compress(text.encode()))]):
        out = tmp_path / f"site{n}"
        result = subprocess.run(
            [sys.executable, "-m", "mailspy", "report", "--tz", "UTC", "-o", str(out), *argv],
            input=data, capture_output=True, timeout=60, check=False)
        assert result.returncode == 0, result.stderr
        assert b"2 messages from 2 lines" in result.stderr
        assert "2 messages" in (out / "index.html").read_text()


def test_a_log_named_twice_is_read_once(tmp_path: Path) -> None:
    log = tmp_path / "mailspy"
    log.write_text(line(MONDAY, "a@x", ["b@y"]))
    (tmp_path / "link").symlink_to(log)
    assert rotation_order([str(log), str(tmp_path / "link"), str(log)]) == [str(log)]
