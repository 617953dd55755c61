"""The wheel carries the grammar and the report templates: mailspy works installed, far
from the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_installed_wheel_checks_rules_outside_the_repository(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = dist.glob("mailspy-*.whl")
    assert "mailspy/grammar/mailspy.lark" in zipfile.ZipFile(wheel).namelist()
    assert "mailspy/report/templates/base.html" in zipfile.ZipFile(wheel).namelist()

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([venv / "bin" / "pip", "install", "-q", str(wheel)], check=True,
                   capture_output=True, timeout=600)
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.rules").write_text('rule "a" { when sender matches "*@x" log-summary }')
    (rules / "b.rules").write_text('rule "b" { when sendr is "" log-summary }')
    done = subprocess.run([venv / "bin" / "mailspy", "check-rules", "--offline", "-d",
                           str(rules)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"{rules}/b.rules:1:17: error: unknown field 'sendr'; did you mean 'sender'?")
    (rules / "b.rules").unlink()
    done = subprocess.run([venv / "bin" / "mailspy", "check-rules", "--offline", "-d",
                           str(rules)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert (done.returncode, done.stdout) == (0, "1 rule in 1 file, all valid\n")

    log = tmp_path / "mailspy.log"
    log.write_text("26-11-26 14:03\ttime=1795701780\tfrom=<a@x.example>\tto=<b@y.example>\t"
                   "size=1\tsubject=installed\n")
    done = subprocess.run([venv / "bin" / "mailspy", "report", "-o", str(tmp_path / "site"),
                           str(log)], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "installed" in (tmp_path / "site" / "log" / "1.html").read_text()
