"""Start a service the way its systemd unit says, on a machine without systemd.

The test machines run no systemd, so the package test reads the installed unit
(and its drop-ins) and does what systemd would do for the settings that decide
whether mailspy can work: the runtime directory, User=/Group=, UMask=,
LimitNOFILE=, NoNewPrivileges=, an empty CapabilityBoundingSet=, and the file
system view of ProtectSystem=strict, ReadWritePaths=, ProtectHome= and
PrivateTmp= (a private mount namespace, made read-only but for the paths the
unit lets the service write). The rest of the unit's hardening (system call
filters, address families, kernel protections...) is not reproduced here;
`systemd-analyze security` rates it.
"""

from __future__ import annotations

import grp
import os
import pwd
import resource
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
API_FILE_SYSTEMS = ("/proc", "/sys", "/dev")


@dataclass
class Unit:
    """The [Service] settings of a unit file and its drop-ins, in the order read."""

    path: Path
    settings: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path, drop_in_dirs: Sequence[Path] = ()) -> Unit:
        unit = cls(path)
        files = [path]
        for directory in drop_in_dirs:
            if directory.is_dir():
                files += sorted(directory.glob("*.conf"))
        for file in files:
            unit._parse(file.read_text())
        return unit

    def _parse(self, text: str) -> None:
        section = ""
        for line in _logical_lines(text):
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1]
            elif section == "Service" and "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                if value == "":  # an empty assignment resets a list setting
                    self.settings[key] = []
                else:
                    self.settings.setdefault(key, []).append(value)

    def get(self, key: str, default: str | None = None) -> str | None:
        values = self.settings.get(key)
        return values[-1] if values else default

    def words(self, key: str) -> list[str]:
        """Every space-separated word of a list setting, drop-ins included."""
        return [word for value in self.settings.get(key, []) for word in shlex.split(value)]

    def command(self, key: str) -> list[str]:
        """ExecStart= or ExecReload= as argv, without systemd's prefixes (-, @, +...)."""
        value = self.get(key)
        if value is None:
            raise KeyError(f"{self.path} has no {key}=")
        argv = shlex.split(value)
        argv[0] = argv[0].lstrip("-@:+!")
        return argv

    @property
    def runtime_directory(self) -> Path | None:
        name = self.get("RuntimeDirectory")
        return Path("/run", name) if name else None

    def writable_paths(self) -> list[Path]:
        """ReadWritePaths= that exist (a missing one marked "-" is skipped, as systemd
        does), plus the runtime directory."""
        paths = []
        for word in self.words("ReadWritePaths"):
            optional = word.startswith("-")
            path = Path(word.lstrip("-"))
            if path.exists():
                paths.append(path)
            elif not optional:
                raise FileNotFoundError(f"ReadWritePaths={word}: no such path (systemd "
                                        "would refuse to start the unit)")
        if self.runtime_directory is not None:
            paths.append(self.runtime_directory)
        return paths


def _logical_lines(text: str) -> list[str]:
    lines, pending = [], ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not pending and (not stripped or stripped[0] in "#;"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return lines


def make_runtime_directory(unit: Unit) -> Path | None:
    """RuntimeDirectory=: made fresh at start, owned by User=/Group=."""
    path = unit.runtime_directory
    if path is None:
        return None
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    uid, gid = _ids(unit)
    os.chown(path, uid, gid)
    path.chmod(int(unit.get("RuntimeDirectoryMode", "0755") or "0755", 8))
    return path


def remove_runtime_directory(unit: Unit) -> None:
    """systemd removes the runtime directory when the service stops."""
    if unit.runtime_directory is not None:
        shutil.rmtree(unit.runtime_directory, ignore_errors=True)


def sandboxed(unit: Unit, argv: Sequence[str], env: Mapping[str, str] | None = None
              ) -> list[str]:
    """argv run as the unit runs its commands: in a mount namespace of its own, as
    its user, without privileges. Run it as root."""
    script = [*_mounts(unit), *_limits(unit), "cd /", "exec " + shlex.join(_drop(unit, argv, env))]
    return ["unshare", "--mount", "--propagation", "private", "--",
            "/bin/sh", "-ec", "\n".join(script)]


def _mounts(unit: Unit) -> list[str]:
    steps = []
    writable = unit.writable_paths() if unit.get("ProtectSystem") == "strict" else []
    for path in writable:  # a mount of its own, left writable below
        steps.append(f"mount --bind {shlex.quote(str(path))} {shlex.quote(str(path))}")
    if unit.get("ProtectSystem") == "strict":
        keep = {str(path) for path in writable}
        for point in _mount_points():
            if point in keep or any(point == api or point.startswith(api + "/")
                                    for api in API_FILE_SYSTEMS):
                continue
            steps.append(f"mount -o remount,bind,ro {shlex.quote(point)}")
    if unit.get("PrivateTmp") in ("yes", "true", "1"):
        steps += ["mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp",
                  "mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /var/tmp"]
    if unit.get("ProtectHome") in ("yes", "true", "1"):
        for home in ("/home", "/root", "/run/user"):
            if os.path.isdir(home):
                steps.append(f"mount -t tmpfs -o mode=000,ro tmpfs {home}")
    return steps


def _mount_points() -> list[str]:
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1]
        if "\\" not in point and point not in points:
            points.append(point)
    return points


def _limits(unit: Unit) -> list[str]:
    steps = [f"umask {unit.get('UMask', '0022')}"]
    if (files := unit.get("LimitNOFILE")) is not None:
        # no higher than this machine's own hard limit, which even root may not pass here
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        wanted = int(files) if hard == resource.RLIM_INFINITY else min(int(files), hard)
        steps.append(f"ulimit -n {wanted}")
    return steps


def _drop(unit: Unit, argv: Sequence[str], env: Mapping[str, str] | None) -> list[str]:
    """setpriv: User=, Group= with the user's other groups, NoNewPrivileges=, and an
    empty capability bounding set; then the environment systemd gives a service."""
    uid, gid = _ids(unit)
    account = pwd.getpwuid(uid)
    drop = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--init-groups"]
    if unit.get("NoNewPrivileges") in ("yes", "true", "1"):
        drop.append("--no-new-privs")
    if unit.settings.get("CapabilityBoundingSet") == []:
        drop += ["--bounding-set=-all", "--inh-caps=-all"]
    environment = {"PATH": SERVICE_PATH, "LANG": "C.UTF-8", "USER": account.pw_name,
                   "LOGNAME": account.pw_name, "HOME": account.pw_dir,
                   "SHELL": account.pw_shell, **(env or {})}
    if unit.runtime_directory is not None:
        environment["RUNTIME_DIRECTORY"] = str(unit.runtime_directory)
    return [*drop, "--", "env", "-i", *(f"{k}={v}" for k, v in environment.items()), *argv]


def _ids(unit: Unit) -> tuple[int, int]:
    user = unit.get("User")
    if user is None:
        return 0, 0
    account = pwd.getpwnam(user)
    group = unit.get("Group")
    return account.pw_uid, grp.getgrnam(group).gr_gid if group else account.pw_gid
