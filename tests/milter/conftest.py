"""An in-process MTA for the adapter: pymilter's TestCtx, driven step by step."""

from __future__ import annotations

import io
from pathlib import Path

import Milter
import Milter.test
import pytest
from Milter.testctx import TestCtx

from mailspy.actions.sinks import Sinks
from mailspy.dispatch import Recorder
from mailspy.milter.adapter import MailspyMilter
from mailspy.rules.compile import Defaults
from mailspy.rules.load import load_rules
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.store import Spool


class FakeMTA:
    """Feeds one connection the way libmilter would, raw bytes and all."""

    def __init__(self, queue_id: str = "4XyZ1") -> None:
        Milter.factory = MailspyMilter
        # TestCtx offers a class-level list that negotiation changes in place: give
        # every connection a fresh offer of all steps, as an MTA would
        TestCtx.default_opts = [Milter.CURR_ACTS, 0x1FFFFF, 0, 0]
        self.ctx = TestCtx()
        self.ctx._setsymval("i", queue_id)
        self.ctx._connect(host="client.example", helo="helo.example", ip="192.0.2.7")

    def send(self, sender: str, recipients: list[str], headers: list[tuple[bytes, bytes]],
             body: bytes) -> int:
        priv = self.ctx.getpriv()
        assert self.ctx._envfrom(sender) == Milter.CONTINUE
        for rcpt in recipients:
            assert self.ctx._envrcpt(rcpt) == Milter.CONTINUE
        assert self.ctx._data() == Milter.CONTINUE
        for name, value in headers:
            assert priv.header_bytes(name.decode(), value) == Milter.CONTINUE
        assert self.ctx._eoh() == Milter.CONTINUE
        assert self.ctx._feed_body(io.BytesIO(body)) == Milter.CONTINUE
        return self.ctx._eom()

    def close(self) -> None:
        self.ctx._close()


@pytest.fixture
def daemon(tmp_path: Path):
    """Install a Recorder for rules text; returns (recorder, summary_path, header_path)."""
    recorders = []

    def _install(rules_text: str, **settings) -> tuple[Recorder, Path, Path]:
        rules_dir = tmp_path / "rules.d"
        rules_dir.mkdir(exist_ok=True)
        (rules_dir / "test.rules").write_text(rules_text)
        summary, headers = tmp_path / "summary.log", tmp_path / "headers.log"
        result = load_rules(rules_dir, defaults=Defaults(str(summary), str(headers)))
        assert result.ok, result.diagnostics
        spool = Spool(tmp_path / "spool")
        spool.create()
        deliverer = Deliverer(spool, DeliverySettings(**{"retry_base": 0.2, **settings}))
        deliverer.start()
        recorder = Recorder(result.rules, Sinks(), spool, deliverer)
        MailspyMilter.recorder = recorder
        recorders.append(recorder)
        return recorder, summary, headers

    yield _install
    for recorder in recorders:
        recorder.close(wait=True)
        recorder.sinks.close_all()
    MailspyMilter.recorder = None
