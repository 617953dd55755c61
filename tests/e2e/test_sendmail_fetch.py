"""Fetching the private sendmail on a fresh machine, with stand-ins for apt-get and dpkg:
empty package lists are updated once, the packages are unpacked once per cache, and the
binary loses its setgid bit (which would make it ignore LD_LIBRARY_PATH)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from .sendmail import PACKAGES, SENDMAIL, STAMP, SendmailError, unpacked_root

APT_GET = """#!/bin/sh
echo "apt-get $*" >> {log}
case "$1" in
update) touch {state}/updated ;;
download)
    [ -e {state}/updated ] || {{ echo "E: Unable to locate package $3" >&2; exit 100; }}
    shift 2
    for p in "$@"; do : > "${{p}}_1.0_amd64.deb"; done ;;
esac
"""
DPKG = """#!/bin/sh
echo "dpkg $*" >> {log}
mkdir -p "$3/usr/libexec/sendmail"
: > "$3/{sendmail}"
chmod 2755 "$3/{sendmail}"
"""


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """apt-get and dpkg stand-ins first on PATH; returns their shared call log."""
    bin_dir, state, log = tmp_path / "bin", tmp_path / "state", tmp_path / "calls.log"
    bin_dir.mkdir()
    state.mkdir()
    for name, text in (("apt-get", APT_GET), ("dpkg", DPKG)):
        script = bin_dir / name
        script.write_text(text.format(log=log, state=state, sendmail=SENDMAIL))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return log


def test_a_fresh_machine_updates_the_lists_then_unpacks_once(tools: Path, tmp_path: Path):
    cache = tmp_path / "cache"
    root = unpacked_root(cache)
    calls = tools.read_text().splitlines()
    assert calls[:3] == [f"apt-get download -q {' '.join(PACKAGES)}", "apt-get update -qq",
                         f"apt-get download -q {' '.join(PACKAGES)}"]
    assert sum(c.startswith("dpkg -x ") for c in calls) == len(PACKAGES)
    assert root == cache / "root"
    assert stat.S_IMODE((root / SENDMAIL).stat().st_mode) == 0o755
    assert sorted((root / STAMP).read_text().split()) == sorted(f"{p}_1.0_amd64.deb"
                                                             for p in PACKAGES)
    assert sorted(p.name for p in cache.iterdir()) == [".lock", "root"]  # no leftovers

    assert unpacked_root(cache) == root  # the second time: nothing fetched
    assert tools.read_text().splitlines() == calls


def test_a_download_that_keeps_failing_says_why(tools: Path, tmp_path: Path) -> None:
    (tmp_path / "bin" / "apt-get").write_text("#!/bin/sh\necho 'E: no network' >&2\nexit 100\n")
    with pytest.raises(SendmailError, match="E: no network"):
        unpacked_root(tmp_path / "cache")
    assert not (tmp_path / "cache" / "root").exists()
