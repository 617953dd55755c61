"""The machine a run happened on, for the header of docs/performance.md.

Ratios travel better than rates between machines, but not perfectly (core count decides
how much the client, Postfix and the milter get in each other's way), so the report
says where it was measured.
"""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tests.e2e.postfix import find_tool


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _package(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def _postfix() -> str:
    postconf = find_tool("postconf")
    if postconf is None:
        return "not installed"
    result = subprocess.run([postconf, "-d", "-h", "mail_version"], capture_output=True,
                            text=True, check=False)
    return result.stdout.strip() or "unknown"


def _sendmail() -> str:
    """The private sendmail's Debian package, as the e2e harness unpacked it."""
    from tests.e2e.sendmail import CACHE, STAMP

    stamp = CACHE / "root" / STAMP
    if not stamp.exists():
        return "not unpacked"
    debs = [line for line in stamp.read_text().splitlines() if line.startswith("sendmail-bin_")]
    return debs[0].split("_")[1] + " (Debian, private)" if debs else "unknown"


def _commit() -> str:
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False)
    return result.stdout.strip() or "unknown"


def describe() -> dict[str, str]:
    """Label -> value, in the order the report lists them. The load average says how
    busy the (shared) machine was: other work on it widens the spread of the figures."""
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "CPU": _cpu_model(),
        "cores": str(os.cpu_count()),
        "RAM": _memory(),
        "kernel": platform.release(),
        "Python": platform.python_version(),
        "pymilter": _package("pymilter"),
        "Postfix": _postfix(),
        "sendmail": _sendmail(),
        "mailspy": f"{_package('mailspy')} (commit {_commit()})",
        "load average at the end (1, 5, 15 min)": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
