"""log-syslog: the summary record as a syslog message, to the local syslog or a collector.

    log-syslog                                   the local syslog socket, /dev/log
    log-syslog "/run/systemd/journal/dev-log"    another local socket
    log-syslog "udp://192.0.2.1:514" format json RFC 5424 over UDP (RFC 5426)
    log-syslog "tcp://[2001:db8::1]:514"         RFC 5424 over TCP, octet-counted (RFC 6587)

The record is the summary line (`log-summary`), or with `format json` the
JSON record (`log-summary ... format json`), one per syslog message. To a
collector it travels as RFC 5424: `<22>1 TIMESTAMP HOSTNAME mailspy PID
QUEUEID - RECORD` — facility mail, severity info, app-name mailspy, the
MTA's queue id as MSGID, no structured data, and the record as MSG without
a BOM (JSON is UTF-8 by definition, and a BOM would stop a collector's JSON
parser). Over TCP each message is framed by octet counting, so that no
byte of a record can end it early. The local socket gets the form every
local syslog daemon parses there, syslog(3)'s: `<22>Mmm dd hh:mm:ss
mailspy[PID]: RECORD` (journald and rsyslog's imuxsock read an RFC 5424
header on that socket as part of the text); the queue id is in the record.

A message is at most MAX_MESSAGE bytes, what a collector takes by default
(rsyslog's maxMessageSize is 8 KB, and a UDP datagram must fit): a longer
JSON record has its longest values cut (`"…"` at the end) and gains
`"truncated": true`, so it stays one valid JSON object; a longer summary
line is cut and ends in `…`. A record never holds a raw control character
(JSON escapes them, the summary line shows them as `\\xNN`), so it cannot
split or forge a message at any collector.

The MTA never waits for the network: a record is put in a bounded queue
(MAX_QUEUED bytes) and a sender thread, restarted if it ever fails
(`supervise.py`), sends it. While the collector is down or slow, records
wait there and the sender retries, backing off up to half a minute; when
the queue is full, new records are dropped and counted (`mailspy status`,
the metrics), like records a full disk keeps out of a log file. Python's
own syslog support does not fit: the `syslog` module writes only to
/dev/log, through a call that blocks; logging's SysLogHandler writes
neither RFC 5424 nor octet-counted frames, and blocks its caller too. So
the header and the frame, a few lines each, are written here.
"""

from __future__ import annotations

import collections
import datetime
import errno
import json
import logging
import os
import re
import select
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mailspy.actions.action import LOG, ActionType, Option, Options
from mailspy.actions.logfile import RecordLostError
from mailspy.actions.privacy import RECORD_OPTIONS, privacy
from mailspy.actions.summary import format_summary
from mailspy.actions.summary_json import json_line, json_record
from mailspy.supervise import supervised

if TYPE_CHECKING:
    from mailspy.message.model import Message

__all__ = ["ACTION", "SyslogSink", "destination_problem", "parse_destination",
           "syslog_message"]

log = logging.getLogger("mailspy")

LOCAL_SOCKET = "/dev/log"
DEFAULT_PORT = 514
FACILITY_MAIL, SEVERITY_INFO = 2, 6
# the facilities a mail program may log under (RFC 5424's codes), the default first
FACILITIES = {"mail": FACILITY_MAIL, "user": 1, "daemon": 3,
              **{f"local{n}": 16 + n for n in range(8)}}
APP_NAME = "mailspy"
MAX_MESSAGE = 8000  # bytes of a whole message, header included
MAX_QUEUED = 8 * 1024 * 1024  # bytes of records waiting for the sender
CONNECT_TIMEOUT = 5.0
SEND_TIMEOUT = 10.0
LONGEST_PAUSE = 30.0
CLOSE_WAIT = 5.0  # at shutdown, how long the sender may go on sending what waits
CUT = "…"
_LINE_BREAKERS = re.compile("[\x7f-\x9f\u2028\u2029]")  # as summary_json escapes them
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# -- the destination ---------------------------------------------------------

@dataclass(frozen=True)
class Destination:
    transport: str  # "local", "udp" or "tcp"
    host: str  # the socket's path for "local"
    port: int = 0


def parse_destination(target: str) -> Destination:
    """`""` (the default), `/path`, `udp://HOST[:PORT]`, `tcp://HOST[:PORT]`, an IPv6
    address in brackets; ValueError says what to write instead."""
    if target == "":
        return Destination("local", LOCAL_SOCKET)
    if target.startswith("/"):
        return Destination("local", os.path.normpath(target))
    scheme, sep, rest = target.partition("://")
    usage = ("write udp://HOST:PORT, tcp://HOST:PORT or a local socket's path, like "
             f"{LOCAL_SOCKET}")
    if not sep:
        raise ValueError(f"syslog destination '{target}' is neither a URL nor a path: {usage}")
    if scheme not in ("udp", "tcp"):
        close = "tcp" if set(scheme) == set("tcp") else "udp" if set(scheme) == set("udp") \
            else None
        hint = f"did you mean '{close}://{rest}'? " if close else ""
        raise ValueError(f"unknown syslog transport '{scheme}': {hint}{usage}")
    if rest.startswith("["):
        host, _, after = rest[1:].partition("]")
        port_text = after[1:] if after.startswith(":") else after
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
    else:
        host, port_text = rest, ""
    bare_ipv6 = ":" in host and not rest.startswith("[")
    if not host or bare_ipv6 or any(c.isspace() or c in "/[]@?#" for c in host):
        raise ValueError(f"syslog destination '{target}' names no host: {usage} "
                         "(an IPv6 address in brackets: tcp://[2001:db8::1]:514)")
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise ValueError(f"syslog destination '{target}': port '{port_text}' is not a "
                         "number from 1 to 65535")
    return Destination(scheme, host, int(port_text) if port_text else DEFAULT_PORT)


def destination_problem(target: str) -> str | None:
    try:
        parse_destination(target)
    except ValueError as exc:
        return str(exc)
    return None


# -- the message -------------------------------------------------------------

def _printable(value: str, limit: int) -> str:
    """A header field: printable ASCII without spaces (RFC 5424's PRINTUSASCII), or `-`."""
    kept = "".join(c for c in value if "!" <= c <= "~")[:limit]
    return kept or "-"


HOSTNAME = _printable(socket.gethostname(), 255)


def syslog_message(message: Message, rules: Sequence[str], options: Options) -> bytes:
    """The RFC 5424 message for a record, at most MAX_MESSAGE bytes; the action's
    options choose the facility, the record's form and what it holds of personal data."""
    facility = FACILITIES[options.get("facility") or "mail"]
    stamp = datetime.datetime.fromtimestamp(message.received_at, datetime.UTC)
    header = (f"<{facility * 8 + SEVERITY_INFO}>1 {stamp.strftime('%Y-%m-%dT%H:%M:%S.%fZ')} "
              f"{HOSTNAME} {APP_NAME} {os.getpid()} "
              f"{_printable(message.envelope.queue_id, 32)} - ").encode()
    room = MAX_MESSAGE - len(header)
    if options.get("format") == "json":
        body = _json_body(message, rules, options, room)
    else:
        body = _cut_text(format_summary(message, privacy(options)).rstrip("\n"), room)
    return header + body


def _json_body(message: Message, rules: Sequence[str], options: Options, room: int) -> bytes:
    record = json_record(message, list(rules), options)
    body = json_line(record).rstrip("\n").encode()
    if len(body) <= room:
        return body
    record["truncated"] = True
    # the longest cut of the values that fits (a binary search), else ever fewer
    # list items too: the last try always fits
    low, high, best = 16, room, None
    while low <= high:
        middle = (low + high) // 2
        body = _dumps(_shorten(record, middle, None))
        if len(body) <= room:
            low, best = middle + 1, body
        else:
            high = middle - 1
    if best is not None:
        return best
    for items in (64, 16, 4, 0):
        body = _dumps(_shorten(record, 16 if items else 0, items))
        if len(body) <= room:
            break
    return body


def _dumps(record: dict[str, Any]) -> bytes:
    """As summary_json writes a record: UTF-8, with what could break a line escaped."""
    text = json.dumps(record, ensure_ascii=False)
    return _LINE_BREAKERS.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode()


def _shorten(value: Any, longest: int, items: int | None) -> Any:
    if isinstance(value, str):
        return value if len(value) <= longest else value[:longest] + CUT
    if isinstance(value, list):
        return [_shorten(v, longest, items) for v in value[:items]]
    if isinstance(value, dict):
        return {k: _shorten(v, longest, items) for k, v in value.items()}
    return value


def _cut_text(text: str, room: int) -> bytes:
    data = text.encode("utf-8", "backslashreplace")
    if len(data) <= room:
        return data
    cut = CUT.encode()
    return data[:room - len(cut)].decode("utf-8", "ignore").encode() + cut


def local_form(message: bytes) -> bytes:
    """An RFC 5424 message of `syslog_message` as syslog(3) writes to the local socket:
    `<PRI>Mmm dd hh:mm:ss APP[PID]: MSG`, in local time."""
    pri_version, stamp, _host, app, pid, _msgid, _sd, body = message.split(b" ", 7)
    when = datetime.datetime.fromisoformat(stamp.decode().replace("Z", "+00:00")).astimezone()
    local = f"{_MONTHS[when.month - 1]} {when.day:2d} {when:%H:%M:%S}".encode()
    return b"%s%s %s[%s]: %s" % (pri_version[:-1], local, app, pid, body)


def record(message: Message, rules: Sequence[str], options: Options) -> bytes:
    return syslog_message(message, rules, options)


def steps(options: Options) -> frozenset[str]:
    """The JSON record holds the client's address, name and HELO (unless dropped)."""
    if options.get("format") == "json" and options.get("client") != "drop":
        return frozenset({"connect", "helo"})
    return frozenset()


# -- the sink ------------------------------------------------------------------

class SyslogSink:
    """A queue and the thread that empties it to one destination; shared by every
    connection, like a log file."""

    def __init__(self, target: str) -> None:
        self.destination = parse_destination(target)
        self.path = target or LOCAL_SOCKET
        self.lost = 0  # records not sent, ever
        self.sent = 0
        self._queue: collections.deque[bytes] = collections.deque()
        self._queued = 0  # bytes in the queue
        self._state = threading.Condition()
        self._full = False  # records are being dropped
        self._lost_in_episode = 0
        self._unreachable = False  # the last attempt to send failed
        self._reconnect = False
        self._closing = False
        self._abandon = False
        self._socket: socket.socket | None = None
        self._thread = supervised(f"mailspy-syslog {self.path}", self._run)
        self._thread.start()

    def write(self, record: str | bytes) -> int:
        """Queue one message; never waits. RecordLostError when the queue is full;
        otherwise how many were dropped before it, when it ends such an episode."""
        data = record.encode("utf-8", "backslashreplace") if isinstance(record, str) else record
        with self._state:
            if self._closing:
                raise RecordLostError(self.path, OSError(errno.ESHUTDOWN, "mailspy is "
                                                         "stopping"), False)
            if self._queued + len(data) > MAX_QUEUED:
                self.lost += 1
                first, self._full = not self._full, True
                raise RecordLostError(self.path, OSError(
                    errno.ENOBUFS, f"{MAX_QUEUED // 1024 // 1024} MB of records wait for the "
                    "syslog collector already (it is down or slow)"), first)
            self._queue.append(data)
            self._queued += len(data)
            self._state.notify()
            if not self._full:
                return 0
            self._full = False
            ended, self._lost_in_episode = self.lost - self._lost_in_episode, self.lost
            return ended

    def reopen(self) -> None:
        """SIGUSR1: connect afresh before the next message (a collector moved)."""
        self._reconnect = True

    def close(self) -> None:
        """Send what waits for up to CLOSE_WAIT seconds, then drop (and count) the rest."""
        with self._state:
            self._closing = True
            self._state.notify_all()
        self._thread.join(CLOSE_WAIT)
        with self._state:
            self._abandon = True
            self._state.notify_all()
            left, self._queue, self._queued = len(self._queue), collections.deque(), 0
        self._thread.join(1.0)
        if left:
            self.lost += left
            log.error("log-syslog: %d records for %s were not sent before mailspy stopped",
                      left, self.path)
        self._disconnect()

    @property
    def queued(self) -> int:
        return len(self._queue)

    # -- the sender thread -------------------------------------------------------

    def _run(self) -> None:
        pause = 0.5
        while True:
            with self._state:
                while not self._queue and not self._closing:
                    self._state.wait()
                if self._abandon or not self._queue:
                    return
                data = self._queue[0]  # taken off once sent
            try:
                self._send(data)
            except OSError as exc:
                self._disconnect()
                if not self._unreachable:
                    self._unreachable = True
                    log.error("log-syslog: cannot send to %s: %s; records wait (up to %d MB), "
                              "then are dropped and counted", self.path, exc.strerror or exc,
                              MAX_QUEUED // 1024 // 1024)
                with self._state:
                    if not self._abandon:
                        self._state.wait(pause)
                pause = min(pause * 2, LONGEST_PAUSE)
                continue
            pause = 0.5
            with self._state:
                self._queue.popleft()
                self._queued -= len(data)
                self.sent += 1
            if self._unreachable:
                self._unreachable = False
                log.info("log-syslog: sending to %s again", self.path)

    def _send(self, data: bytes) -> None:
        if self._reconnect:
            self._reconnect = False
            self._disconnect()
        if self._socket is not None and self.destination.transport == "tcp" \
                and _peer_closed(self._socket):
            self._disconnect()  # the collector closed it: a send would vanish
        if self._socket is None:
            self._socket = self._connect()
        destination = self.destination
        if destination.transport == "tcp":
            self._socket.sendall(b"%d %s" % (len(data), data))
        elif destination.transport == "udp":
            self._socket.send(data)
        else:
            self._socket.send(local_form(data))

    def _connect(self) -> socket.socket:
        destination = self.destination
        if destination.transport == "local":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.settimeout(SEND_TIMEOUT)
            try:
                sock.connect(destination.host)
            except OSError:
                sock.close()
                raise
            return sock
        if destination.transport == "tcp":
            sock = socket.create_connection((destination.host, destination.port),
                                            timeout=CONNECT_TIMEOUT)
            sock.settimeout(SEND_TIMEOUT)
            return sock
        family, kind, proto, _, address = socket.getaddrinfo(
            destination.host, destination.port, type=socket.SOCK_DGRAM)[0]
        sock = socket.socket(family, kind, proto)
        sock.settimeout(SEND_TIMEOUT)
        sock.connect(address)  # so that an ICMP "unreachable" comes back as an error
        return sock

    def _disconnect(self) -> None:
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()

    def __repr__(self) -> str:
        return f"SyslogSink({self.path!r})"


def _peer_closed(sock: socket.socket) -> bool:
    """True when the other end has closed a TCP connection (it is readable, at its end)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


ACTION = ActionType(
    name="log-syslog",
    doc="sends the summary line, or with `format json` the JSON record, as one syslog "
        "message (facility mail, or as `with facility local0` says; app-name `mailspy`, the "
        "queue id as MSGID) to the local syslog socket (default `/dev/log`, or the path "
        "given), or to a collector at `udp://HOST:PORT` or `tcp://HOST:PORT` (RFC 5424; "
        "octet-counted over TCP); privacy options as for `log-summary`",
    kind=LOG,
    target="destination",
    example='"udp://192.0.2.1:514"',
    options=(Option("format", ("text", "json"), doc="the summary line, or a JSON object"),
             Option("facility", tuple(FACILITIES), doc="the syslog facility"),
             *RECORD_OPTIONS),
    check_target=destination_problem,
    steps=steps,
    open=SyslogSink,
    record=record,
    rank=30,
)
