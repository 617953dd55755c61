"""Running `mailspy` as a postmaster does: a separate process, its output captured."""

from __future__ import annotations

import subprocess
import sys


def mailspy(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mailspy", *args], capture_output=True,
                          text=True, timeout=120)
