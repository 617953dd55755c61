"""Big logs are read by two processes, each rendering every other page of the message
log: the site is the same, byte for byte, as one process makes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bench.summary_logs import write_text_log
from mailspy.report import parts
from mailspy.report.tally import Tally
from tests.report.helpers import report

MADE = re.compile(r"Made \d{4}-\d\d-\d\d \d\d:\d\d")


def site(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): MADE.sub("Made", p.read_text())
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_text_log(tmp_path_factory.mktemp("log") / "mailspy", 2_345, addresses=120,
                          domains=7)


@pytest.mark.parametrize("options", [
    [],  # the second process skips reading the other's lines whole
    ["--since", "2026-11-18 12:00", "--until", "2026-11-18 15:00"],  # so does a period
    ["--exclude-local"],  # who is local needs every line read whole
])
def test_two_processes_make_the_same_site_as_one(log: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 options: list[str]) -> None:
    monkeypatch.setattr(parts.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(parts, "SPLIT_BYTES", 10**12)
    common = ["--page-size", "50", "--max-messages", "30", "--local-domain", "dom1.example",
              *options, log]
    assert report("-o", tmp_path / "one", *common) == 0
    monkeypatch.setattr(parts, "SPLIT_BYTES", 1)
    assert parts.parts_for([str(log)]) == 2
    assert report("-o", tmp_path / "two", *common) == 0
    one, two = site(tmp_path / "one"), site(tmp_path / "two")
    assert len(one) > 30 and one.keys() == two.keys()
    assert [name for name in one if one[name] != two[name]] == []


def test_standard_input_is_read_by_one_process() -> None:
    assert parts.parts_for(["-"]) == 1


def test_a_failing_helper_fails_the_report_and_leaves_nothing(
        log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(parts.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(parts, "SPLIT_BYTES", 1)

    def broken(self: Tally) -> dict:
        raise RuntimeError("helper broke")

    monkeypatch.setattr(Tally, "export", broken)
    assert report("-o", tmp_path / "r", log) == 1
    assert "the second process reading the logs failed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
