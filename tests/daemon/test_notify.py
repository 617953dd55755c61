"""Notices to the service manager never hold the daemon up."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from mailspy.daemon.notify import notify


def test_a_notice_arrives_and_a_full_queue_drops_it_instead_of_waiting(tmp_path: Path,
                                                                      monkeypatch) -> None:
    address = tmp_path / "notify"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(address))
    monkeypatch.setenv("NOTIFY_SOCKET", str(address))
    assert notify(READY=1, STATUS="two\nlines")
    assert listener.recv(4096) == b"READY=1\nSTATUS=two lines"
    sent: list[bool] = []
    flood = threading.Thread(target=lambda: sent.extend(notify(RELOADING=1)
                                                        for _ in range(10_000)), daemon=True)
    flood.start()
    flood.join(30)
    assert not flood.is_alive(), "a notice waited for a listener that reads nothing"
    assert True in sent and False in sent  # some arrived, the rest were dropped
    listener.close()


def test_without_a_service_manager_nothing_is_sent(monkeypatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify(READY=1) is False
