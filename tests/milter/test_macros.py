"""The macros mailspy asks the MTA for when the connection is negotiated.

The queue id (`i`) and the SMTP AUTH user (`{auth_authen}`) come from macros. An MTA
sends the macros its own configuration lists unless the milter asks for a list (protocol
version 6); mailspy asks, so a trimmed list in main.cf or sendmail.mc cannot blank the
queue id. sendmail knows `i` from MAIL FROM on and Postfix from DATA on, and sendmail
ignores a list for end-of-message: mailspy asks at MAIL FROM and at DATA.
"""

from __future__ import annotations

import Milter
from Milter import testctx

from mailspy.milter.adapter import MailspyMilter

from .conftest import FakeMTA

HEADERS = [(b"From", b"ann@example.org"), (b"Subject", b"hi")]


def asked(ctx: testctx.TestCtx) -> dict[int, set[bytes]]:
    return {stage: names for stage, names in enumerate(ctx._symlist) if names is not None}


def test_the_queue_id_and_the_auth_user_are_asked_for(daemon) -> None:
    daemon('rule "all" { log-summary }')
    mta = FakeMTA()
    assert asked(mta.ctx) == {Milter.M_ENVFROM: {b"i", b"{auth_authen}"},
                              Milter.M_DATA: {b"i"}}
    mta.close()


def test_the_asked_macros_reach_the_record(daemon, monkeypatch) -> None:
    recorder, _, _ = daemon('rule "all" { log-summary }')
    seen = []
    original = recorder.record
    monkeypatch.setattr(recorder, "record",
                        lambda m, **kw: (seen.append(m), original(m, **kw))[1])
    mta = FakeMTA(queue_id="QQ9")
    mta.ctx._setsymval("{auth_authen}", "ann")
    mta.send("<a@x>", ["<b@y>"], HEADERS, b"hi\r\n")
    mta.close()
    [message] = seen
    assert (message.envelope.queue_id, message.envelope.auth_user) == ("QQ9", "ann")


def test_an_mta_that_takes_no_macro_list_still_negotiates(daemon, monkeypatch) -> None:
    """An MTA speaking an older protocol offers no SETSYMLIST: nothing is asked, and the
    steps mailspy skips are still skipped."""
    daemon('rule "all" { when sender is "a@x" log-summary }')
    offer = [Milter.CURR_ACTS & ~Milter.SETSYMLIST, 0x1FFFFF, 0, 0]
    monkeypatch.setattr(testctx.TestCtx, "default_opts", offer)
    monkeypatch.setattr(Milter, "factory", MailspyMilter)
    ctx = testctx.TestCtx()
    assert ctx._negotiate() == Milter.CONTINUE
    assert asked(ctx) == {}
    assert ctx._protocol & Milter.P_NOCONNECT and ctx._protocol & Milter.P_NOHELO
