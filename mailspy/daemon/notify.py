"""Telling systemd how the daemon is doing (`Type=notify`), without a library.

systemd passes a datagram socket in NOTIFY_SOCKET; the daemon sends
`READY=1` once it accepts connections (so `systemctl start` returns when
mail can flow), `RELOADING=1` and `READY=1` around a reload, `STOPPING=1`
when it stops, and a STATUS line a postmaster sees in `systemctl status`.
Without NOTIFY_SOCKET (no systemd) nothing is sent, and a notice that
cannot be sent at once is dropped rather than waited for.
"""

from __future__ import annotations

import contextlib
import os
import socket

__all__ = ["notify"]


def notify(**fields: str | int) -> bool:
    """Send `NAME=value` lines (`notify(READY=1, STATUS="...")`); False when nobody listens."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    text = "\n".join(f"{name}={str(value).replace(chr(10), ' ')}" for name, value in
                     fields.items())
    with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.setblocking(False)  # a full queue drops the notice: it never stalls a reload
        s.connect(address)
        s.send(text.encode("utf-8", "replace"))
        return True
    return False
