"""The milters under test, started as child processes by the e2e harness's MilterProcess.

Why the harness: tests/e2e/postfix.py already knows how to start a milter in its own
session, wait until its socket listens, and stop it by pid; the benchmark reuses it so
that both measure the same way. The baseline is tests/e2e/null_milter.py: a plain
Milter.Base subclass that answers CONTINUE everywhere and implements data() (without it
Postfix stalls 40 ms per message over TCP), on the same kind of socket as mailspy.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.e2e.postfix import MilterProcess, free_port, null_milter_argv


def start_null(workdir: Path) -> MilterProcess:
    """The null pymilter milter on a free TCP port of 127.0.0.1."""
    port = free_port()
    return MilterProcess(null_milter_argv(f"inet:{port}@127.0.0.1"), port=port,
                         output=workdir / f"null-{port}.out").start()


def start_listening(workdir: Path, socket_path: Path | None = None) -> MilterProcess:
    """bench/listening_milter.py: takes every step mailspy takes, does nothing; on a free
    TCP port, or on `socket_path`."""
    script = Path(__file__).with_name("listening_milter.py")
    if socket_path is not None:
        return MilterProcess([sys.executable, str(script), f"unix:{socket_path}"],
                             socket_path=socket_path,
                             output=workdir / "listening-unix.out").start()
    port = free_port()
    return MilterProcess([sys.executable, str(script), f"inet:{port}@127.0.0.1"], port=port,
                         output=workdir / f"listening-{port}.out").start()


def mailspy_argv(port: int, rules_dir: Path, workdir: Path, *extra: str,
                 header_log: bool = True, socket_path: Path | None = None) -> list[str]:
    """`mailspy run` as a postmaster would start it, with its logs and its spool under
    workdir (never /var/spool/mailspy: a killed run would leave copies to deliver there).
    The spool's fsyncs cost what they cost on the file system holding /tmp. Without
    `header_log` and with an empty `rules_dir`, the original usage: `-f` alone."""
    socket = f"unix:{socket_path}" if socket_path is not None else f"inet:{port}@127.0.0.1"
    headers = ["-h", str(workdir / "headers.log")] if header_log else []
    return [sys.executable, "-m", "mailspy", "run", "-p", socket,
            "-d", str(rules_dir), "-f", str(workdir / "summary.log"), *headers,
            "--spool-dir", str(workdir / "spool"),
            "--runtime-dir", str(workdir / "spool") + "-run", *extra]


def start_mailspy(rules_dir: Path, workdir: Path, *extra: str, timeout: float = 60.0,
                  header_log: bool = True, socket_path: Path | None = None) -> MilterProcess:
    """mailspy on a free TCP port, or on `socket_path`; `timeout` covers compiling 10,000
    rules."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = None if socket_path is not None else free_port()
    argv = mailspy_argv(port or 0, rules_dir, workdir, *extra, header_log=header_log,
                        socket_path=socket_path)
    milter = MilterProcess(argv, port=port, socket_path=socket_path,
                           output=workdir / "mailspy.out")
    return milter.start(timeout=timeout)


def start_original(workdir: Path, socket_path: Path | None = None) -> MilterProcess:
    """mailspy as the original was run: no rules files, `-f` alone (every message gets a
    summary line)."""
    empty = workdir / "rules-none"
    empty.mkdir(parents=True, exist_ok=True)
    return start_mailspy(empty, workdir, header_log=False, socket_path=socket_path)


def address(milter: MilterProcess) -> tuple[str, int] | str:
    """Where the milter client connects: ("127.0.0.1", port) or a unix socket's path."""
    if milter.socket_path is not None:
        return str(milter.socket_path)
    assert milter.port is not None
    return ("127.0.0.1", milter.port)


def kill(milter: MilterProcess) -> None:
    """SIGKILL by pid, for a daemon that would otherwise wait for its queued copies
    (mailspy finishes every pipe before it exits on SIGTERM)."""
    process = milter.process
    if process is not None and process.poll() is None:
        process.kill()
        process.wait(10)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS (resident now) and VmHWM (peak resident) from /proc/PID/status, in KiB."""
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def reset_peak(pid: int) -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0, writing 5 to clear_refs), so the
    peak read later is the peak of what happened in between. False when refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True
