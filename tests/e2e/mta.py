"""What an end-to-end scenario needs from an MTA, whichever it is: Postfix or sendmail.

Both private harnesses (postfix.PrivatePostfix, sendmail.PrivateSendmail) answer to this
interface, so a scenario is written once and run behind each (conftest's `mta_name` and
`mta_factory` fixtures). `hook_kwargs` puts a running milter in front of the named MTA;
both harnesses make the milter's failures visible: Postfix with milter_default_action =
tempfail, sendmail with F=T.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import pytest

from .postfix import MilterProcess, SendResult

MTA_NAMES = ("postfix", "sendmail")

# Parameters for fixtures and tests that run behind each MTA; the marks let a machine
# without one of them skip its half.
MTA_PARAMS = [pytest.param(name, marks=getattr(pytest.mark, name), id=name)
              for name in MTA_NAMES]


class MTA(Protocol):
    name: str
    smtp_port: int

    def send(self, sender: str, recipients: str | Iterable[str], message: bytes | str, *,
             timeout: float = 10.0, helo: str = "client.test",
             login: tuple[str, str] | None = None) -> SendResult:
        """One SMTP transaction, after SMTP AUTH when `login` is (user, password: the MTA
        must have been started with sasl_users); raises SmtpRejected on a refusal (4xx:
        a tempfail)."""
        ...

    def submit_locally(self, sender: str, recipients: str | Iterable[str],
                       message: bytes | str) -> object:
        """A local submission, not over TCP: Postfix's sendmail command (milters in
        non_smtpd_milters see it), sendmail -bs."""
        ...

    def wait_for(self, condition: int | Callable[[str], bool], timeout: float = 10.0) -> str:
        """At least `condition` deliveries (one per recipient), or a test on the log."""
        ...

    def count_deferred(self) -> int:
        """Deliveries the MTA put off (its own log's notion of "deferred")."""
        ...

    def count_tempfails(self) -> int:
        """Deferred deliveries plus every 4xx the MTA gave or logged (a milter that was
        down or timed out): zero when mailspy never held mail up."""
        ...

    def count_bounced(self) -> int: ...

    def milter_trouble(self) -> list[str]:
        """Log lines where the milter failed or mail was refused: none for a good one."""
        ...

    def maillog(self) -> str: ...

    def maillog_tail(self, lines: int = 40) -> str: ...

    def stop(self) -> None: ...


# Starts an MTA in front of a milter: mta_factory(milter, **options).
MTAFactory = Callable[..., MTA]


def hook_kwargs(name: str, milter: MilterProcess, options: dict[str, Any]) -> dict[str, Any]:
    """The constructor arguments that put `milter` in front of the named MTA."""
    if name == "postfix":
        return {"milter": milter.postfix_spec, **options}
    if name == "sendmail":
        return {"milter": milter.sendmail_spec, **options}
    raise ValueError(f"unknown MTA {name!r}; known: {', '.join(MTA_NAMES)}")
