"""pymilter callbacks: gather envelope, headers and body into a Message.

Nothing here decides or writes anything; at end-of-message the Message is
handed to the Recorder. Every callback answers CONTINUE (ACCEPT at the
end), whatever happens: mailspy observes mail, it never holds it up —
with two exceptions that keep a copy from being lost: TEMPFAIL when a copy
the rules owe could not be made durable (the Recorder decides), and
TEMPFAIL for the messages of a connection beyond `max_connections`, which
mailspy has no resources to record.
"""

from __future__ import annotations

import io
import logging
import tempfile
import threading
import time
from collections.abc import Callable
from typing import BinaryIO, ClassVar, TypeVar, cast

import Milter
import milter

from mailspy.dispatch import Recorder
from mailspy.message.model import Envelope, Message
from mailspy.milter.timing import AnswerTimes

log = logging.getLogger("mailspy")

# pymilter's answers and decorator, typed (pymilter ships no type information)
CONTINUE: int = Milter.CONTINUE
ACCEPT: int = Milter.ACCEPT
TEMPFAIL: int = Milter.TEMPFAIL
# libmilter's own value: pymilter's test harness (Milter.test) rebinds Milter.NOREPLY
NOREPLY: int = milter.NOREPLY
Callback = TypeVar("Callback", bound=Callable[..., int])
noreply: Callable[[Callback], Callback] = Milter.noreply

BODY_IN_MEMORY = 256 * 1024  # larger bodies move to an anonymous file beside the spool

# The macros mailspy reads, asked for by step so that the MTA's own lists (main.cf's
# milter_*_macros, sendmail.mc's confMILTER_MACROS_*) do not matter. sendmail knows the
# queue id from MAIL FROM on and Postfix from DATA on; sendmail ignores a list for
# end-of-message. The client's address and name come with the connect step itself.
MACROS = ((Milter.M_ENVFROM, "i {auth_authen}"), (Milter.M_DATA, "i"))

# The steps mailspy leaves unanswered, where the MTA allows it. Over TCP only the headers:
# an unanswered step whose next command the MTA writes later, on its own (MAIL, RCPT,
# DATA, the body), waits out Nagle and the milter's delayed ACK, 40 ms per message
# (docs/performance.md). A unix socket has neither: there every step but end-of-message
# goes unanswered, and each message costs a round trip per step less.
UNANSWERED_TCP = Milter.P_NR_HDR
UNANSWERED_UNIX = (Milter.P_NR_CONN | Milter.P_NR_HELO | Milter.P_NR_MAIL
                   | Milter.P_NR_RCPT | Milter.P_NR_DATA | Milter.P_NR_HDR
                   | Milter.P_NR_EOH | Milter.P_NR_BODY | Milter.P_NR_UNKN)


class MailspyMilter(Milter.Base):  # type: ignore[misc]  # pymilter is untyped
    """One instance per SMTP connection (libmilter runs each in its own thread)."""

    recorder: ClassVar[Recorder | None] = None
    spool_dir: ClassVar[str | None] = None
    answer_times: ClassVar[AnswerTimes] = AnswerTimes()
    connections: ClassVar[Connections]  # set below the class
    unanswered: ClassVar[int] = UNANSWERED_TCP  # the daemon sets it by its socket's kind
    # What each step answers: CONTINUE, or NOREPLY where the step was negotiated unanswered
    # (libmilter would turn a CONTINUE there into NOREPLY, and log an error each time).
    _on_connect = _on_helo = _on_mail = _on_rcpt = _on_data = _on_body = CONTINUE
    _on_header = CONTINUE

    def negotiate(self, opts: list[int]) -> int:
        """As pymilter negotiates; skip the connection and HELO steps when no loaded
        rule or action needs them, and leave unanswered the steps `unanswered` names.
        A connection beyond the limit keeps MAIL FROM answered: its TEMPFAIL goes there."""
        offered = opts[1]
        answer: int = super().negotiate(opts)
        if answer == CONTINUE:
            self._ask_for_macros(opts[0])
        if answer == CONTINUE and self.recorder is not None:
            unused = self.recorder.rules.unused_steps
            skip = (Milter.P_NOCONNECT if "connect" in unused else 0) | \
                (Milter.P_NOHELO if "helo" in unused else 0)
            unanswered = self.unanswered & ~(Milter.P_NR_MAIL if self._over_limit else 0)
            opts[1] |= offered & (skip | unanswered)
            self._protocol = protocol = opts[1]
            self._on_connect = NOREPLY if protocol & Milter.P_NR_CONN else CONTINUE
            self._on_helo = NOREPLY if protocol & Milter.P_NR_HELO else CONTINUE
            self._on_mail = NOREPLY if protocol & Milter.P_NR_MAIL else CONTINUE
            self._on_rcpt = NOREPLY if protocol & Milter.P_NR_RCPT else CONTINUE
            self._on_data = NOREPLY if protocol & Milter.P_NR_DATA else CONTINUE
            self._on_body = NOREPLY if protocol & Milter.P_NR_BODY else CONTINUE
        if answer == CONTINUE:
            negotiated: int = opts[1]
            self._on_header = NOREPLY if negotiated & Milter.P_NR_HDR else CONTINUE
        return answer

    def _ask_for_macros(self, actions: int) -> None:
        """Ask for MACROS where the MTA takes a list (protocol 6); an MTA that does not
        sends its own lists. Base.setsymlist hands pymilter bytes, which it refuses."""
        if not actions & Milter.SETSYMLIST:
            return
        for step, names in MACROS:
            try:
                self._ctx.setsymlist(step, names)
            except Exception as err:  # the MTA's own list then applies
                log.debug("cannot ask for macros %s: %s", names, err)

    def __init__(self) -> None:
        self._client_name = ""
        self._client_address = ""
        self._helo = ""
        self._message: Message | None = None
        self._body_error: OSError | None = None
        self._over_limit = not self.connections.open()
        self._counted = True

    def connect(self, hostname: str | None, family: int, hostaddr: object) -> int:
        self._client_name = hostname or ""
        if isinstance(hostaddr, tuple) and hostaddr:
            self._client_address = str(hostaddr[0])
        elif isinstance(hostaddr, str):
            self._client_address = hostaddr
        return self._on_connect

    def hello(self, hostname: str | None) -> int:
        self._helo = hostname or ""
        return self._on_helo

    def envfrom(self, mail_from: str, *params: str) -> int:
        self._discard()
        if self._over_limit:
            return TEMPFAIL
        envelope = Envelope(mail_from=mail_from, client_address=self._client_address,
                            client_name=self._client_name, helo=self._helo)
        self._message = Message(envelope, body=io.BytesIO())  # until it must spill
        return self._on_mail

    def envrcpt(self, to: str, *params: str) -> int:
        if self._message is not None:
            self._message.envelope.rcpt_to.append(to)
        return self._on_rcpt

    def data(self) -> int:
        # Over TCP DATA is answered: without an answer the MTA waits out a delayed
        # ACK (40 ms) per message (UNANSWERED_TCP).
        return self._on_data

    # Headers go unanswered over any socket: the MTA writes them all at once.
    @noreply
    def header(self, name: str, value: str) -> int:
        if self._message is not None:
            self._message.headers.append((name, value))
        return CONTINUE

    def header_received(self, name: str, value: bytes | str) -> int:
        """`header` as libmilter calls it (milter/loop.py), a dozen times a message:
        the value decoded as pymilter's Base decodes it (UTF-8, surrogateescape), and
        the answer negotiated, without pymilter's @noreply wrapper around it."""
        message = self._message
        if message is not None:
            message.headers.append((name, value.decode("utf-8", "surrogateescape")
                                    if isinstance(value, bytes) else value))
        return self._on_header

    def body(self, chunk: bytes) -> int:
        message = self._message
        if message is None:
            return self._on_body
        message.body_size += len(chunk)  # counted, whatever happens to the bytes
        if message.body is not None and self._body_error is None:
            try:
                if message.body_size > BODY_IN_MEMORY and isinstance(message.body, io.BytesIO):
                    message.body = self._spill(message.body)
                message.body.write(chunk)
            except OSError as exc:  # the spill file's disk is full: keep counting
                self._body_error = exc
                log.error("%s: cannot store the body: %s", self._macro("i") or "NOQUEUE", exc)
        return self._on_body

    def _spill(self, memory: io.BytesIO) -> BinaryIO:
        """The body so far, moved to an anonymous file in the spool's tmp/ (not a tmpfs):
        a plain BytesIO costs half of tempfile's SpooledTemporaryFile per message."""
        spilled = tempfile.TemporaryFile(dir=self.spool_dir)  # noqa: SIM115
        try:
            with memory.getbuffer() as held:
                spilled.write(held)
        except BaseException:
            spilled.close()
            raise
        memory.close()
        return cast(BinaryIO, spilled)

    def eom(self) -> int:
        started = time.perf_counter()
        try:
            return self._end_of_message()
        finally:
            self.answer_times.add(time.perf_counter() - started)

    def _end_of_message(self) -> int:
        message, self._message = self._message, None
        if message is None:
            return ACCEPT
        if self.recorder is None:  # not started yet: nothing to record with
            if message.body is not None:
                message.body.close()
            return ACCEPT
        try:
            self._fill_macros(message.envelope)
            message.received_at = time.time()
            outcome = self.recorder.record(message, body_kept=self._body_error is None)
            if outcome.tempfail:
                return TEMPFAIL
        except Exception:
            log.exception("%s: recording failed; the message was accepted",
                          message.envelope.queue_id or "NOQUEUE")
        finally:
            if message.body is not None:
                message.body.close()
        return ACCEPT

    def abort(self) -> int:
        self._discard()
        return CONTINUE

    def close(self) -> int:
        self._discard()
        if self._counted:
            self._counted = False
            self.connections.close()
        return CONTINUE

    def _fill_macros(self, envelope: Envelope) -> None:
        """Macros are read at end-of-message: Postfix sends `i` only from DATA on."""
        envelope.queue_id = self._macro("i")
        envelope.auth_user = self._macro("{auth_authen}")
        envelope.client_address = envelope.client_address or self._macro("{client_addr}")
        envelope.client_name = envelope.client_name or self._macro("{client_name}")

    def _macro(self, name: str) -> str:
        try:
            return self._ctx.getsymval(name) or ""  # pymilter's context, no layer between
        except Exception:  # TestCtx and MTAs without the macro
            return ""

    def _discard(self) -> None:
        if self._message is not None and self._message.body is not None:
            self._message.body.close()
        self._message = None
        self._body_error = None


class Connections:
    """How many milter connections are open, against a limit.

    Each one costs a thread and file descriptors. Beyond the limit a
    connection's messages are answered TEMPFAIL, so the MTA delivers them
    later, when mailspy can record them; the first refusal of an episode is
    logged at ERROR and every one is counted.
    """

    def __init__(self, limit: int = 1000) -> None:
        self.limit = limit
        self.count = 0
        self.refused = 0
        self._lock = threading.Lock()
        self._refusing = False

    def open(self) -> bool:
        """Count a new connection; False when it is beyond the limit."""
        with self._lock:
            self.count += 1
            if self.count <= self.limit:
                if self._refusing and self.count < self.limit:
                    self._refusing = False
                    log.info("milter connections back under the limit of %d", self.limit)
                return True
            self.refused += 1
            first, self._refusing = not self._refusing, True
        if first:
            log.error("more than %d milter connections at once: answering TEMPFAIL to the "
                      "newest until some close (raise --max-connections if the host can take "
                      "more)", self.limit)
        return False

    def close(self) -> None:
        with self._lock:
            self.count -= 1


MailspyMilter.connections = Connections()
