"""Socket specifications as libmilter, the original mailspy and Postfix write them."""

from __future__ import annotations

import pytest

from mailspy.daemon.socketspec import SocketSpecError, parse_socket
from tests.command import mailspy


@pytest.mark.parametrize(
    ("text", "libmilter", "postfix"),
    [
        ("unix:/var/run/mailspy/milter", "unix:/var/run/mailspy/milter",
         "unix:/var/run/mailspy/milter"),
        ("local:/run/m.sock", "unix:/run/m.sock", "unix:/run/m.sock"),
        ("/run/m.sock", "unix:/run/m.sock", "unix:/run/m.sock"),
        ("inet:8890@127.0.0.1", "inet:8890@127.0.0.1", "inet:127.0.0.1:8890"),
        ("inet:8890@localhost", "inet:8890@localhost", "inet:localhost:8890"),
        ("inet:1@mx-1.example.org.", "inet:1@mx-1.example.org.", "inet:mx-1.example.org.:1"),
        ("inet:65535@[192.0.2.7]", "inet:65535@192.0.2.7", "inet:192.0.2.7:65535"),
        ("inet6:8890@mx.example.org", "inet6:8890@[mx.example.org]",
         "inet:[mx.example.org]:8890"),
        ("inet6:8890@[2001:db8::7]", "inet6:8890@[2001:db8::7]", "inet:[2001:db8::7]:8890"),
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
        ("inet:0@127.0.0.1", "port 0 is out of range; give a port from 1 to 65535"),
        ("inet:70000@127.0.0.1", "port 70000 is out of range; give a port from 1 to 65535"),
        ("inet6:x@::1", "the port must be a number from 1 to 65535, e.g. inet6:8890@[::1]"),
        ("tcp:8890@127.0.0.1", "unknown socket; use unix:/path"),
    ],
)
def test_mistakes_say_what_to_write(text, says):
    with pytest.raises(SocketSpecError, match=says.replace("[", r"\[").replace("]", r"\]")):
        parse_socket(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("inet:99999@localhost", "'inet:99999@localhost': port 99999 is out of range; give a "
         "port from 1 to 65535, e.g. inet:8890@localhost"),
        ("inet6:65536@[::1]", "'inet6:65536@[::1]': port 65536 is out of range; give a port "
         "from 1 to 65535, e.g. inet6:8890@[::1]"),
        ("inet:" + "9" * 5000 + "@h", "port 99999... is out of range; give a port from 1 to "
         "65535, e.g. inet:8890@h"),
        ("inet:smtp@127.0.0.1", "'inet:smtp@127.0.0.1': the port must be a number from 1 to "
         "65535, e.g. inet:8890@127.0.0.1"),
        ("inet:8890@", "'inet:8890@': write inet:PORT@HOST, e.g. inet:8890@127.0.0.1"),
        ("inet:8890@bad host", "'inet:8890@bad host': 'bad host' is not a host name or an "
         "IPv4 address; a name has letters, digits, '-' and '.' (mx.example.org), an address "
         "is like 127.0.0.1"),
        ("inet:8890@a..b", "'a..b' is not a host name or an IPv4 address"),
        ("inet:8890@-x.example", "'-x.example' is not a host name or an IPv4 address"),
        ("inet:8890@" + "a" * 64 + ".example", "is not a host name or an IPv4 address"),
        ("inet:8890@300.1.2.3", "'inet:8890@300.1.2.3': '300.1.2.3' is not an IPv4 address; "
         "each of its four numbers is from 0 to 255, as in 127.0.0.1"),
        ("inet:8890@127.1", "'127.1' is not an IPv4 address"),
        ("inet:8890@::1", "'inet:8890@::1': ::1 is an IPv6 address; write inet6:8890@[::1]"),
        ("inet6:8890@127.0.0.1", "'inet6:8890@127.0.0.1': 127.0.0.1 is an IPv4 address; "
         "write inet:8890@127.0.0.1"),
        ("inet6:8890@[::g]", "'inet6:8890@[::g]': '::g' is not a host name or an IPv6 "
         "address; a name has letters, digits, '-' and '.' (mx.example.org), an address is "
         "like ::1"),
        ("inet:8890@[127.0.0.1", "write inet:PORT@HOST, e.g. inet:8890@127.0.0.1"),
        ("unix:/" + "d" * 120, "a unix socket's path may be at most 107 bytes (this one has "
         "121); choose a shorter one, e.g. unix:/run/mailspy/milter"),
        ("unix:/run/a\x00b", "a unix socket's path cannot hold a NUL byte"),
    ],
)
def test_bad_ports_and_hosts_say_the_valid_range_or_form(text, message):
    with pytest.raises(SocketSpecError) as caught:
        parse_socket(text)
    assert message in str(caught.value)


def test_the_daemon_refuses_a_bad_port_in_one_line_before_starting(tmp_path):
    done = mailspy("run", "-p", "inet:99999@127.0.0.1", "-d", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr == ("mailspy: error: -p 'inet:99999@127.0.0.1': port 99999 is out of "
                           "range; give a port from 1 to 65535, e.g. inet:8890@127.0.0.1\n")
