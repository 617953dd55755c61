"""Socket specifications as libmilter, the original mailspy and Postfix write them."""

from __future__ import annotations

import pytest

from mailspy.daemon.socketspec import SocketSpecError, parse_socket


@pytest.mark.parametrize(
    ("text", "libmilter", "postfix"),
    [
        ("unix:/var/run/mailspy/milter", "unix:/var/run/mailspy/milter",
         "unix:/var/run/mailspy/milter"),
        ("local:/run/m.sock", "unix:/run/m.sock", "unix:/run/m.sock"),
        ("/run/m.sock", "unix:/run/m.sock", "unix:/run/m.sock"),
        ("inet:8890@127.0.0.1", "inet:8890@127.0.0.1", "inet:127.0.0.1:8890"),
        ("inet:8890@localhost", "inet:8890@localhost", "inet:localhost:8890"),
        ("inet6:8890@::1", "inet6:8890@[::1]", "inet:[::1]:8890"),
        ("inet6:8890@[::1]", "inet6:8890@[::1]", "inet:[::1]:8890"),
    ],
)
def test_every_form(text, libmilter, postfix):
    spec = parse_socket(text)
    assert (spec.libmilter_form, spec.postfix_form) == (libmilter, postfix)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("unix:relative/path", "needs an absolute path"),
        ("inet:8890", "write inet:PORT@HOST"),
        ("inet:0@127.0.0.1", "write inet:PORT@HOST"),
        ("inet:70000@127.0.0.1", "write inet:PORT@HOST"),
        ("inet6:x@::1", "write inet6:PORT@HOST, e.g. inet6:8890@[::1]"),
        ("tcp:8890@127.0.0.1", "unknown socket; use unix:/path"),
    ],
)
def test_mistakes_say_what_to_write(text, says):
    with pytest.raises(SocketSpecError, match=says.replace("[", r"\[").replace("]", r"\]")):
        parse_socket(text)
