"""libmilter's accept loop, split so the daemon can act between its steps.

pymilter's `runmilter` registers, opens the socket and serves in one call;
mailspy must open the socket as root, fix its mode, drop privileges and
only then serve, so the steps are taken one by one here.
"""

from __future__ import annotations

import Milter
import milter

from mailspy.milter.adapter import MailspyMilter

NAME = "mailspy"


def register(socket: str, timeout: int = 600) -> None:
    """Tell libmilter about our callbacks and socket; creates no socket yet."""
    Milter.factory = MailspyMilter
    Milter.set_flags(0)  # mailspy never modifies a message
    Milter.set_exception_policy(Milter.CONTINUE)  # a bug must never defer mail
    milter.set_connect_callback(Milter.connect_callback)
    milter.set_helo_callback(lambda ctx, host: ctx.getpriv().hello(host))
    # Straight to our methods: values arrive as bytes and are decoded the way
    # pymilter's Base would (UTF-8, surrogateescape), one call layer fewer.
    milter.set_envfrom_callback(lambda ctx, sender, *_: ctx.getpriv().envfrom(_text(sender)))
    milter.set_envrcpt_callback(lambda ctx, rcpt, *_: ctx.getpriv().envrcpt(_text(rcpt)))
    milter.set_header_callback(lambda ctx, name, value:
                               ctx.getpriv().header_received(name, value))
    milter.set_eoh_callback(lambda ctx: ctx.getpriv().eoh())
    milter.set_body_callback(lambda ctx, chunk: ctx.getpriv().body(chunk))
    milter.set_eom_callback(lambda ctx: ctx.getpriv().eom())
    milter.set_abort_callback(lambda ctx: ctx.getpriv().abort())
    milter.set_close_callback(Milter.close_callback)
    milter.setconn(socket)
    milter.settimeout(timeout)
    milter.register(NAME, data=lambda ctx: ctx.getpriv().data(),
                    negotiate=Milter.negotiate_callback)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def open_socket(remove_stale: bool = True) -> None:
    milter.opensocket(remove_stale)


def serve() -> None:
    """Blocks in libmilter until `stop()` is called from another thread."""
    milter.main()


def stop() -> None:
    milter.stop()
