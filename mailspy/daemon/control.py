"""The daemon's control socket: what `mailspy reload` and `mailspy status` talk to.

A unix socket in the runtime directory (`--runtime-dir`, /run/mailspy by
default), made by the user mailspy runs as with mode 0600: root and that
user may ask. Each connection carries one request line of JSON
(`{"command": "reload"}`) and gets one reply line of JSON back. A reload
asked this way runs like SIGHUP's, but its verdict travels back: the
command exits 0 only when the new rules are live, and prints the daemon's
`FILE:LINE:COL` errors otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import threading
from collections.abc import Callable
from typing import Any

from mailspy import defaults
from mailspy.supervise import supervised

log = logging.getLogger("mailspy")

MAX_REQUEST = 4096

Handler = Callable[[], dict[str, Any]]


class ControlServer:
    """Answers requests from `mailspy reload` and `mailspy status`, one at a time."""

    def __init__(self, runtime_dir: str, handlers: dict[str, Handler]) -> None:
        self.path = os.path.join(runtime_dir, defaults.CONTROL_SOCKET)
        self.handlers = handlers
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()

    def start(self) -> None:
        """Bind (replacing a stale socket of an earlier run, never a live one of another
        daemon) and start answering."""
        if os.path.exists(self.path):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
                try:
                    probe.connect(self.path)
                except OSError:
                    os.unlink(self.path)  # stale: nobody answers there
                else:
                    raise FileExistsError(errno.EADDRINUSE, "another mailspy is running with "
                                          "this runtime directory; give another with "
                                          "--runtime-dir", self.path)
        listening = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        previous = os.umask(0o177)
        try:
            listening.bind(self.path)
        finally:
            os.umask(previous)
        listening.listen(8)
        self._socket = listening
        self._thread = supervised("mailspy-control", self._serve)
        self._thread.start()

    def stop(self) -> None:
        self._closed.set()
        listening, self._socket = self._socket, None
        if listening is not None:
            with contextlib.suppress(OSError):
                listening.shutdown(socket.SHUT_RDWR)
            listening.close()
            with contextlib.suppress(OSError):
                os.unlink(self.path)

    def _serve(self) -> None:
        while not self._closed.is_set():
            listening = self._socket
            if listening is None:
                return
            try:
                connection, _ = listening.accept()
            except OSError:
                if self._closed.is_set():
                    return  # stopped
                raise
            with connection:
                connection.settimeout(10)
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        try:
            request = json.loads(_read_line(connection))
            handler = self.handlers.get(request.get("command", ""))
            reply = handler() if handler else {"ok": False, "error": "unknown command"}
        except (OSError, ValueError, AttributeError) as exc:
            reply = {"ok": False, "error": f"bad request: {exc}"}
        with contextlib.suppress(OSError):
            connection.sendall(json.dumps(reply).encode() + b"\n")


def _read_line(connection: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data and len(data) < MAX_REQUEST:
        chunk = connection.recv(MAX_REQUEST)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0]
