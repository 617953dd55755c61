"""Spools in tmp_path and messages to put in them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mailspy.message.model import Envelope, Message
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.entry import Job
from mailspy.spool.store import Spool


def make_message(subject: str = "hello", body: bytes = b"line one\r\nline two\r\n") -> Message:
    envelope = Envelope("<ann@example.org>", ["<bob@example.net>", "<cc@example.net>"],
                        queue_id="Q1")
    headers = [("From", "ann@example.org"), ("Subject", subject),
               ("X-Folded", "first\n\tsecond"), ("X-Raw", b"caf\xe9".decode("utf-8",
                                                                           "surrogateescape"))]
    return Message(envelope, headers, io.BytesIO(body), len(body), received_at=1795701780.0)


def maildir(target: Path) -> Job:
    return Job("archive-to-maildir", str(target))


def pipe(command: str) -> Job:
    return Job("pipe-to-command", command)


@pytest.fixture
def spool(tmp_path: Path) -> Spool:
    store = Spool(tmp_path / "spool")
    store.create()
    return store


@pytest.fixture
def deliverers(spool: Spool):
    """deliverers(**settings) -> a started Deliverer with fast retries; all stopped after."""
    started: list[Deliverer] = []

    def start(**settings) -> Deliverer:
        fast = {"retry_base": 0.2, "retry_max": 0.4, "scan_interval": 0.2, **settings}
        deliverer = Deliverer(spool, DeliverySettings(**fast))
        deliverer.start()
        started.append(deliverer)
        return deliverer

    yield start
    for deliverer in started:
        deliverer.stop()
