"""pipe-to-command: run a program with a copy of the message on its stdin.

The command is split into words as a POSIX shell would, but no shell ever
runs it, and nothing from the message reaches argv: the message is hostile
input, so it only ever arrives as stdin bytes and as cleaned environment
values.

The copy is written to an unlinked temporary file first and handed over
as the child's stdin, so a child that never reads cannot block us and no
feeder thread is needed. stderr is read through a pipe, keeping only its
head in memory. The child runs in its own session; on timeout the whole
process group is killed, grandchildren included.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from mailspy.actions.action import COMMAND, COPY, ActionType, CopyContext, CopyResult
from mailspy.actions.clean import clean
from mailspy.actions.copy import write_copy

if TYPE_CHECKING:
    from mailspy.message.model import Message

__all__ = ["ACTION", "PipeResult", "build_env", "describe", "run_pipe", "split_command",
           "status"]

STDERR_BYTES = 4096
STDERR_LINES = 10
RECIPIENTS_IN_ENV = 32 * 1024  # beyond this, only MAILSPY_RECIPIENTS_FILE has the list
SAFE_ENV_NAMES = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR")
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
NOT_FOUND, NOT_EXECUTABLE = 127, 126  # what a shell reports
EX_TEMPFAIL = 75  # sysexits.h: "try again later", as procmail and MTAs use it


@dataclass
class PipeResult:
    """How one run went; `returncode` is negative for a signal, as in subprocess."""

    argv: list[str]
    returncode: int
    timed_out: bool = False
    stderr_head: str = ""
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def split_command(command: str | Sequence[str]) -> list[str]:
    """argv from a rules-file command string (POSIX shell words) or a list."""
    argv = shlex.split(command) if isinstance(command, str) else list(command)
    if not argv:
        raise ValueError("empty pipe command")
    return argv


def build_env(
    message: Message,
    base: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A small environment: the daemon's PATH and locale, plus the envelope.

    Envelope values are cleaned: no control character (a NUL would make
    exec fail) and no line break reaches the child. The recipients go in
    MAILSPY_RECIPIENTS only while they fit in RECIPIENTS_IN_ENV bytes: the
    kernel refuses to start a program with a 128 KiB variable, and a
    sender must not keep its mail away from procmail with a long envelope.
    MAILSPY_RECIPIENT_COUNT always says how many there are.
    """
    base = os.environ if base is None else base
    env = {name: base[name] for name in SAFE_ENV_NAMES if name in base}
    env.setdefault("PATH", DEFAULT_PATH)
    envelope = message.envelope
    env["MAILSPY_SENDER"] = clean(envelope.sender)
    recipients = ",".join(clean(r) for r in envelope.recipients)
    if len(recipients.encode("utf-8", "surrogateescape")) <= RECIPIENTS_IN_ENV:
        env["MAILSPY_RECIPIENTS"] = recipients
    env["MAILSPY_RECIPIENT_COUNT"] = str(len(envelope.recipients))
    env["MAILSPY_QUEUE_ID"] = clean(envelope.queue_id)
    env.update({name: clean(value) for name, value in (extra or {}).items()})
    return env


def _recipients_file(message: Message, tmpdir: str | None) -> IO[bytes]:
    """Every recipient, one per line, in a file the command may read whatever
    their number; removed when the command has ended."""
    listing = tempfile.NamedTemporaryFile(prefix="mailspy-rcpt-", dir=tmpdir)  # noqa: SIM115
    listing.write("".join(clean(r) + "\n" for r in message.envelope.recipients)
                  .encode("utf-8", "surrogateescape"))
    listing.flush()
    return listing


def run_pipe(
    command: str | Sequence[str],
    message: Message,
    *,
    timeout: float = 30.0,
    env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
    tmpdir: str | None = None,
) -> PipeResult:
    """Run the command with the message's LF copy on stdin; never raises for
    a failing or missing program (see PipeResult), only for our own I/O.

    `env` replaces the daemon's environment as the source of PATH etc.;
    `extra_env` adds variables of our own (MAILSPY_SPOOL_ID); `tmpdir` is
    where the unlinked stdin copy and the recipients file are kept.
    """
    argv = split_command(command)
    started = time.monotonic()
    with tempfile.TemporaryFile(dir=tmpdir) as stdin, \
            _recipients_file(message, tmpdir) as listing:
        write_copy(message, stdin)
        stdin.flush()
        stdin.seek(0)
        variables = build_env(message, env, {**(extra_env or {}),
                                             "MAILSPY_RECIPIENTS_FILE": listing.name})
        try:
            proc = subprocess.Popen(
                argv,
                stdin=stdin,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=variables,
                start_new_session=True,
            )
        except OSError as exc:
            return _spawn_failure(argv, exc, time.monotonic() - started)
        return _finish(proc, argv, started, timeout)


def _finish(proc: subprocess.Popen[bytes], argv: list[str], started: float,
            timeout: float) -> PipeResult:
    """Wait for the command, reading its stderr's head; kill it at the deadline."""
    with proc:
        assert proc.stderr is not None
        try:
            head, timed_out = _wait(proc, proc.stderr, time.monotonic() + timeout)
        except BaseException:
            _kill_group(proc)  # never leave a child behind, nor block in Popen.__exit__
            raise
        if timed_out:
            _kill_group(proc)
    return PipeResult(
        argv=argv,
        returncode=proc.returncode,
        timed_out=timed_out,
        stderr_head=_head_text(head),
        duration=time.monotonic() - started,
    )


def _spawn_failure(argv: list[str], exc: OSError, duration: float) -> PipeResult:
    """A program that cannot be started is a result, reported as a shell would."""
    code = NOT_FOUND if isinstance(exc, FileNotFoundError) else NOT_EXECUTABLE
    reason = "command not found" if code == NOT_FOUND else exc.strerror or str(exc)
    return PipeResult(argv, code, stderr_head=f"{argv[0]}: {reason}", duration=duration)


def _wait(proc: subprocess.Popen[bytes], stderr: IO[bytes], deadline: float) -> tuple[bytes, bool]:
    """Read stderr's head until the child exits or the deadline passes.

    Returns (head, timed_out). A pidfd wakes us when the child exits even
    if a grandchild still holds stderr open; without one we poll.
    """
    fd = stderr.fileno()
    os.set_blocking(fd, False)
    head = bytearray()
    pidfd = _pidfd(proc.pid)
    with selectors.DefaultSelector() as selector, _closing_fd(pidfd):
        selector.register(fd, selectors.EVENT_READ)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ)
        while proc.poll() is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(head), True
            wait = remaining if pidfd is not None else min(remaining, 0.05)
            for key, _ in selector.select(wait):
                if key.fd == fd and not _drain(fd, head):
                    selector.unregister(fd)
        _drain(fd, head)
    return bytes(head), False


def _drain(fd: int, head: bytearray) -> bool:
    """Read what is there without blocking, keeping the head; False at EOF."""
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            return False
        head += data[: max(0, STDERR_BYTES - len(head))]


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


@contextlib.contextmanager
def _closing_fd(fd: int | None) -> Iterator[int | None]:
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group, then reap the child."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _head_text(head: bytes) -> str:
    text = head.decode("utf-8", "replace")
    return "\n".join(text.splitlines()[:STDERR_LINES])


def describe(result: PipeResult) -> str:
    """One log line saying how the command failed (or that it succeeded)."""
    command = " ".join(shlex.quote(word) for word in result.argv)
    return f"{clean(command)}: {status(result)}"


def status(result: PipeResult) -> str:
    """How the run ended, with the first lines of stderr: `exit status 3; stderr: ...`."""
    if result.timed_out:
        ended = f"timed out after {result.duration:.1f}s, killed"
    elif result.returncode < 0:
        ended = f"killed by signal {_signal_name(-result.returncode)}"
    else:
        ended = f"exit status {result.returncode}"
    lines = [clean(line) for line in result.stderr_head.splitlines() if line.strip()]
    stderr = f"; stderr: {' | '.join(lines)}" if lines else ""
    return f"{ended}{stderr}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def deliver(command: str, message: Message, context: CopyContext) -> CopyResult:
    """One attempt of a spooled copy. Exit 75 (EX_TEMPFAIL), a timeout and a
    signal are temporary; any other failure gives the copy up."""
    try:
        result = run_pipe(command, message, timeout=context.timeout,
                          extra_env={"MAILSPY_SPOOL_ID": context.key})
    except ValueError as exc:  # a command that cannot be split into words
        return CopyResult(False, False, f"cannot run {command!r}: {exc}")
    if result.ok:
        return CopyResult(True)
    temporary = result.timed_out or result.returncode in (EX_TEMPFAIL,) or result.returncode < 0
    return CopyResult(False, temporary, status(result))


def command_problem(command: str) -> str | None:
    """Why a rules file's command cannot be run as words, or None."""
    try:
        words = shlex.split(command)
    except ValueError as exc:
        return f"cannot split the command into words: {exc}"
    return None if words else "the command is empty"


ACTION = ActionType(
    name="pipe-to-command",
    doc="runs the command with a copy of the message on its standard input",
    kind=COPY,
    target=COMMAND,
    target_required=True,
    example='"/usr/bin/procmail -p -m /etc/mailspy/procmailrc"',
    check_target=command_problem,
    deliver=deliver,
    rank=30,
)
