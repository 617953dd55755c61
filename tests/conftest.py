"""Fixtures every test directory shares."""

from __future__ import annotations

import os
import subprocess

import pytest


@pytest.fixture
def fs(fs):
    """pyfakefs's root directory is world-writable; a real one is not, and mailspy
    refuses to write below a directory other users can change."""
    os.chmod("/", 0o755)
    return fs


@pytest.fixture
def small_disk(tmp_path_factory):
    """small_disk(size) -> a fresh directory on a tmpfs of that size ("64k", "1m").

    Mounted for the test and unmounted after it, also when it fails: how mailspy
    behaves when a disk fills up is tested on a disk that really fills up.
    """
    mounts: list[str] = []

    def mount(size: str = "64k"):
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        where = tmp_path_factory.mktemp("disk")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755",
                               "mailspy-test", str(where)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(str(where))
        return where

    yield mount
    for where in reversed(mounts):
        subprocess.run(["umount", "-l", where], check=False)



HOST_LOG_DIR = "/var/log/mailspy"


@pytest.fixture(autouse=True)
def _host_log_dir_untouched(request):
    """Every test but the package's (which installs and purges mailspy) leaves the
    host's log directory as it found it. A daemon started with a default log path
    would make it; the package test then refuses to run on that machine, so a stray
    default would quietly switch off the package test for every later run."""
    existed = os.path.lexists(HOST_LOG_DIR)
    yield
    if not existed and not request.node.nodeid.startswith("tests/package/") \
            and os.path.lexists(HOST_LOG_DIR):
        os.rmdir(HOST_LOG_DIR)  # empty when a start only made it; not left for the next
        pytest.fail(f"this test made {HOST_LOG_DIR}: give its daemon explicit log paths")
