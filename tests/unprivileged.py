"""Running `mailspy` as a user who may not read everything, as a postmaster's own
login would: root reads every file, so a "Permission denied" needs another user."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

NOBODY = "nobody"


def mailspy_as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
    """`mailspy ARGS` run as nobody (the test runs as root), output captured."""
    if os.geteuid() != 0:
        pytest.skip("running mailspy as another user needs root")
    return subprocess.run([sys.executable, "-m", "mailspy", *args], capture_output=True,
                          text=True, timeout=120, cwd="/", user=NOBODY, group="nogroup",
                          extra_groups=[])


@contextlib.contextmanager
def public_dir() -> Iterator[Path]:
    """A 0755 folder in /tmp that nobody can enter (pytest's tmp_path is root's, 0700)."""
    path = Path(tempfile.mkdtemp(prefix="mailspy-test-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def readable_by_all(*paths: Path) -> None:
    for path in paths:
        path.chmod(0o755 if path.is_dir() else 0o644)
