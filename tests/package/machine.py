"""The machine's state as far as the mailspy package touches it, and the package's
own install and purge, for the package test.

The test installs the package for real, so it must leave the machine as it
found it: `snapshot()` before and after tells what changed, `Installation` puts
aside what an earlier install by hand left at a path the package takes over,
and purges the package with exactly the packages its install brought in.
"""

from __future__ import annotations

import fcntl
import grp
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar

PACKAGE = "mailspy"
USER = "mailspy"
# Every path the package, its scripts or its daemon create.
PATHS = [
    "/etc/mailspy", "/var/log/mailspy", "/var/spool/mailspy", "/run/mailspy",
    "/lib/systemd/system/mailspy.service", "/etc/systemd/system/mailspy.service.d",
    "/etc/systemd/system/multi-user.target.wants/mailspy.service",
    "/var/lib/systemd/deb-systemd-helper-enabled/mailspy.service.dsh-also",
    "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/mailspy.service",
    "/var/lib/systemd/deb-systemd-helper-masked/mailspy.service",
    "/etc/logrotate.d/mailspy", "/usr/bin/mailspy", "/usr/share/doc/mailspy",
    "/usr/share/man/man8/mailspy.8.gz", "/usr/share/man/man5/mailspy.rules.5.gz",
    "/usr/lib/python3/dist-packages/mailspy",
]
APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
LOCK = "/run/lock/mailspy-package-test.lock"


@contextmanager
def exclusive() -> Iterator[None]:
    """One package test at a time on a machine: two would install over each other."""
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def package_status() -> str:
    done = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", PACKAGE],
                          capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else "absent"


def snapshot() -> dict[str, object]:
    """What the package may change: its files, its user and group, its status."""
    state: dict[str, object] = {"package": package_status()}
    for path in PATHS:
        try:
            info = os.lstat(path)
            state[path] = (oct(info.st_mode), info.st_uid, info.st_gid)
        except FileNotFoundError:
            state[path] = None
    try:
        state["user"] = tuple(pwd.getpwnam(USER))
    except KeyError:
        state["user"] = None
    try:
        state["group"] = tuple(grp.getgrnam(USER))
    except KeyError:
        state["group"] = None
    state["groups with member mailspy"] = sorted(
        g.gr_name for g in grp.getgrall() if USER in g.gr_mem)
    state["groups of postfix"] = sorted(
        g.gr_name for g in grp.getgrall() if "postfix" in g.gr_mem)
    return state


def foreign_installation() -> str | None:
    """Why installing and purging the package here would destroy somebody's mailspy."""
    if package_status() != "absent":
        return f"the {PACKAGE} package is installed ({package_status()})"
    for what, lookup in (("user", pwd.getpwnam), ("group", grp.getgrnam)):
        try:
            lookup(USER)
            return f"a {what} {USER} exists"
        except KeyError:
            pass
    for path in ("/etc/mailspy", "/var/spool/mailspy"):
        if os.path.lexists(path):
            return f"{path} exists"
    if live := _listening_below(("/run/mailspy/", "/var/run/mailspy/")):
        return f"a mailspy daemon is running here ({live} listens)"
    if os.path.isdir("/var/log/mailspy"):
        return "/var/log/mailspy is a directory"
    for kept, path in Installation.KEEP.items():
        if os.path.lexists(kept):
            return f"{kept} is there, put aside by an interrupted package test: move it " \
                f"back to {path}"
    return None


def _listening_below(prefixes: tuple[str, ...]) -> str | None:
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        if len(fields) == 8 and fields[7].startswith(prefixes):
            return fields[7]
    return None


class Installation:
    """apt-get install ./DEB as root, and the purge that undoes it exactly."""

    # Where what is found at a path the package takes over waits for the purge:
    # beside it, where nothing cleans up (other pytest runs prune
    # /tmp/pytest-of-*), and where a postmaster looking for it would look. The
    # summary log of an install by hand, and a runtime directory a daemon run by
    # hand left behind.
    KEEP: ClassVar[dict[Path, Path]] = {
        Path("/var/log/mailspy.kept-by-package-test"): Path("/var/log/mailspy"),
        Path("/run/mailspy.kept-by-package-test"): Path("/run/mailspy")}

    def __init__(self, deb: Path) -> None:
        self.deb = deb
        self.brought_in: list[str] = []
        self.put_aside: dict[Path, Path] = {}
        self.output = ""

    def install(self, old_log: str) -> None:
        """Install the package over an install by hand whose summary log is the
        file /var/log/mailspy holding `old_log`."""
        for kept, path in self.KEEP.items():
            if os.path.lexists(path):
                shutil.move(path, kept)
                self.put_aside[kept] = path
        Path("/var/log/mailspy").write_text(old_log)
        os.chmod("/var/log/mailspy", 0o640)
        plan = self._apt("-s", "install", f"./{self.deb.name}")
        self.brought_in = [name for name in re.findall(r"^Inst (\S+)", plan, re.M)
                           if name != PACKAGE]
        self.output = self._apt("-y", "install", f"./{self.deb.name}")

    def purge(self) -> str:
        """Purge the package and what its install brought in; put back what was
        put aside. Safe to call twice."""
        output = ""
        try:
            if package_status() != "absent":
                output = self._apt("-y", "purge", PACKAGE, *self.brought_in)
        finally:
            for kept, path in list(self.put_aside.items()):
                if not os.path.lexists(path):
                    shutil.move(kept, path)
                    del self.put_aside[kept]
        return output

    def _apt(self, *args: str) -> str:
        done = subprocess.run(["apt-get", "-q", *args], cwd=self.deb.parent, env=APT_ENV,
                              capture_output=True, text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get {' '.join(args)} exited {done.returncode}:\n"
                               f"{done.stdout}\n{done.stderr}")
        return done.stdout + done.stderr
