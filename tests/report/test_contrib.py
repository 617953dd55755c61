"""The systemd units shipped for reports: valid for systemd, and their command line is
one `mailspy report` accepts."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mailspy.cli import build_parser

CONTRIB = Path(__file__).resolve().parents[2] / "contrib"
INSTALLED = "/opt/mailspy/bin/mailspy"


def exec_start() -> list[str]:
    text = (CONTRIB / "mailspy-report.service").read_text().replace("\\\n", " ")
    line = next(li for li in text.splitlines() if li.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


def test_the_service_runs_a_report_mailspy_accepts() -> None:
    argv = exec_start()
    assert argv[0] == INSTALLED
    args = build_parser().parse_args(argv[1:])
    assert args.command == "report" and args.history == "/var/www/mailspy"
    assert args.logs == ["/var/log/mailspy/mailspy", "/var/log/mailspy/mailspy.1"]
    service = (CONTRIB / "mailspy-report.service").read_text()
    assert "ReadWritePaths=/var/www/mailspy" in service and "User=mailspy" in service


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_finds_nothing_wrong_with_the_units(tmp_path: Path) -> None:
    mailspy = Path(sys.executable).parent / "mailspy"
    for name in ("mailspy-report.service", "mailspy-report.timer"):
        text = (CONTRIB / name).read_text().replace(INSTALLED, str(mailspy))
        (tmp_path / name).write_text(text)
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "mailspy-report.service"),
                             str(tmp_path / "mailspy-report.timer")],
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr
