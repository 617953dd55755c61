"""A private rsyslog on 127.0.0.1 for tests of log-syslog.

Its own configuration, work directory and pid file in a folder of its own;
it listens on a free UDP port (imudp), a free TCP port (imtcp) and a unix
datagram socket in that folder (imuxsock, never /dev/log), and writes every
message it receives as one JSON object per line — the fields it parsed and
the raw message — to a file the test reads. rsyslog's own limits are left
at their defaults (maxMessageSize 8 KB among them): what arrives intact
here arrives intact at a collector nobody tuned. Started in the foreground
(`rsyslogd -n`), stopped by its pid. No pytest in here.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .postfix import free_port, is_listening, stop_process

RSYSLOGD = shutil.which("rsyslogd", path="/usr/sbin:/usr/bin:/sbin") or ""

FIELDS = (("input", "inputname"), ("facility", "syslogfacility-text"),
          ("severity", "syslogseverity-text"), ("version", "protocol-version"),
          ("hostname", "hostname"), ("app", "app-name"), ("procid", "procid"),
          ("msgid", "msgid"), ("sd", "structured-data"), ("msg", "msg"), ("raw", "rawmsg"))


def rsyslog_available() -> bool:
    return bool(RSYSLOGD)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def udp_listening(port: int) -> bool:
    wanted = f"0100007F:{port:04X}"
    lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    return any(line.split()[1] == wanted for line in lines)


def _template() -> str:
    parts = []
    for n, (key, prop) in enumerate(FIELDS):
        lead = "{" if n == 0 else ","
        parts.append(f'constant(value="{lead}\\"{key}\\":\\"") '
                     f'property(name="{prop}" format="json")\n'
                     f'constant(value="\\"")')
    return "\n".join(parts) + '\nconstant(value="}\\n")'


class PrivateRsyslog:
    def __init__(self, tcp_port: int | None = None) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="mailspy-rsyslog-"))
        self.udp_port = free_udp_port()
        self.tcp_port = tcp_port or free_port()
        self.socket_path = self.base / "log"
        self.output = self.base / "received.jsonl"
        self.pidfile = self.base / "rsyslogd.pid"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def udp(self) -> str:
        return f"udp://127.0.0.1:{self.udp_port}"

    @property
    def tcp(self) -> str:
        return f"tcp://127.0.0.1:{self.tcp_port}"

    def config(self) -> str:
        work = self.base / "work"
        work.mkdir(exist_ok=True)
        return f"""
global(workDirectory="{work}")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" sysSock.use="off")
input(type="imudp" address="127.0.0.1" port="{self.udp_port}")
input(type="imtcp" address="127.0.0.1" port="{self.tcp_port}")
input(type="imuxsock" socket="{self.socket_path}" ratelimit.interval="0")
template(name="fields" type="list") {{
{_template()}
}}
action(type="omfile" file="{self.output}" template="fields")
"""

    def start(self, timeout: float = 15.0) -> PrivateRsyslog:
        conf = self.base / "rsyslog.conf"
        conf.write_text(self.config())
        with open(self.base / "rsyslogd.out", "ab") as out:
            self.process = subprocess.Popen(
                [RSYSLOGD, "-n", "-f", str(conf), "-i", str(self.pidfile)],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"rsyslogd did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    def ready(self) -> bool:
        return (is_listening(self.tcp_port) and udp_listening(self.udp_port)
                and self.socket_path.is_socket())

    def received(self) -> list[dict[str, Any]]:
        """Every message received so far, as rsyslog parsed it (`raw` as it came); a
        line rsyslog is still writing (no newline yet) is not one yet."""
        if not self.output.exists():
            return []
        written = self.output.read_text()
        complete = written[:written.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines()]

    def log(self) -> str:
        path = self.base / "rsyslogd.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """SIGTERM by pid, then wait; the folder stays until `remove()`."""
        process, self.process = self.process, None
        if process is not None:
            stop_process(process, 10)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)


class ConfiguredRsyslog(PrivateRsyslog):
    """An rsyslog run with a configuration of the test's (a shipped one, adapted),
    ready once `ready_port` listens over TCP."""

    def __init__(self, text: str, ready_port: int) -> None:
        super().__init__(tcp_port=ready_port)
        self.text = text

    def config(self) -> str:
        work = self.base / "work"
        work.mkdir(exist_ok=True)
        return f'global(workDirectory="{work}")\n{self.text}'

    def ready(self) -> bool:
        return is_listening(self.tcp_port)
