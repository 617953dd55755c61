"""`mailspy reload` and `mailspy status`: asking the running daemon.

They talk to the daemon's control socket in its runtime directory (one line
of JSON each way). `reload` exits 0 only when the new rules are live — what
systemd's `ExecReload=` needs to tell the truth — and prints the daemon's
`FILE:LINE:COL` errors otherwise; `status` prints what the daemon is doing.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from typing import Any

from mailspy import defaults
from mailspy.diagnostics import counted

NOT_RUNNING = 3  # like `systemctl status` for a unit that is not active


def ask(runtime_dir: str, command: str, timeout: float = 600.0) -> dict[str, Any]:
    """One request to the running daemon, its reply; OSError when none listens."""
    path = os.path.join(runtime_dir, defaults.CONTROL_SOCKET)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(timeout)
        try:
            client.connect(path)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, path) from None
        client.sendall(json.dumps({"command": command}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    reply: dict[str, Any] = json.loads(data or b"{}")
    return reply


def _asked(runtime_dir: str, command: str) -> dict[str, Any] | None:
    try:
        return ask(runtime_dir, command)
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        print(f"mailspy: error: no mailspy is running with its control socket at "
              f"{exc.filename}; start it (systemctl start mailspy), or give its "
              "--runtime-dir", file=sys.stderr)
    except PermissionError as exc:
        print(f"mailspy: error: may not talk to the daemon at {exc.filename}; run this "
              "as root or as the user mailspy runs as", file=sys.stderr)
    except (OSError, ValueError) as exc:
        print(f"mailspy: error: the daemon did not answer: {exc}", file=sys.stderr)
    return None


def reload(runtime_dir: str) -> int:
    reply = _asked(runtime_dir, "reload")
    if reply is None:
        return NOT_RUNNING
    for line in reply.get("errors", []) + reply.get("warnings", []):
        print(line, file=sys.stderr)
    print(f"mailspy: {reply.get('message', 'no answer')}", file=sys.stderr if not
          reply.get("ok") else sys.stdout)
    return 0 if reply.get("ok") else 1


def status(runtime_dir: str, as_json: bool) -> int:
    reply = _asked(runtime_dir, "status")
    if reply is None:
        return NOT_RUNNING
    if as_json:
        print(json.dumps(reply, indent=1))
        return 0
    print(describe(reply))
    return 0


def describe(status: dict[str, Any]) -> str:
    """The status for a person: a few lines, then the hits per rule."""
    rules, spool = status.get("rules", {}), status.get("spool", {})
    eom = status.get("end_of_message", {})
    loaded = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rules.get("loaded_at", 0)))
    lines = [
        f"mailspy {status.get('version', '?')}, pid {status.get('pid', '?')}, up "
        f"{_duration(status.get('uptime', 0))}, listening on {status.get('socket', '?')}",
        f"rules: {counted(rules.get('count', 0), 'rule')} from "
        f"{counted(len(rules.get('files', [])), 'file')}, loaded {loaded}",
        *(f"  {name}" for name in rules.get("files", [])),
        f"messages: {status.get('messages', 0)}; end-of-message p50 "
        f"{eom.get('p50', 0):.2f} ms, p99 {eom.get('p99', 0):.2f} ms",
        f"connections: {status.get('connections', {}).get('open', 0)} open, "
        f"{status.get('connections', {}).get('refused', 0)} refused",
        f"spool: {spool.get('queued', 0)} queued (oldest {_duration(spool.get('oldest', 0))}),"
        f" {spool.get('dead', 0)} dead",
    ]
    problems = {k: v for k, v in status.get("problems", {}).items() if v}
    if problems:
        lines.append("problems: " + ", ".join(f"{k} {v}" for k, v in problems.items()))
    hits, shadow = rules.get("hits", {}), rules.get("shadow_hits", {})
    width = max((len(name) for name in [*hits, *shadow]), default=0)
    if hits:
        lines.append("hits since the rules were loaded:")
        lines += [f"  {name:<{width}}  {count}" for name, count in hits.items()]
    if shadow:
        lines.append("shadow hits since the rules were loaded (no action run; what they "
                     f"would have done is in {rules.get('shadow_log') or 'the shadow log'}):")
        lines += [f"  {name:<{width}}  {count}" for name, count in shadow.items()]
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    days, rest = divmod(max(0, int(seconds)), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
