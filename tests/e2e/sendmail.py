"""A private, real sendmail on 127.0.0.1 for end-to-end tests, beside the installed Postfix.

Debian's sendmail packages conflict with Postfix, so they are never installed: they are
fetched with ``apt-get download`` and unpacked with ``dpkg -x`` into a cache directory,
once per machine (``python -m tests.e2e.sendmail`` does it ahead of time; the first
instance does it otherwise). Each instance gets its own folder under /tmp holding an
.mc built into a .cf with m4, a queue, and a delivery program that writes every accepted
message into a file the test reads. sendmail runs as ``sendmail -bD`` in its own UTS and
mount namespace, where the host name has a dot (else it sleeps 60 s at start), /etc/hosts
names it, and /dev/log is a datagram socket this module reads into the instance's
``maillog`` file; with SMTP AUTH users, its own Cyrus SASL folder is mounted there on
/usr/lib/sasl2. Stopping signals its whole process group. No pytest in here: benchmarks
import it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from .postfix import (
    SendResult,
    WaitTimeout,
    crlf,
    free_port,
    is_listening,
    make_sasl_files,
    public_tmpdir,
    smtp_send,
    smtp_transaction,
)

PACKAGES = ("sendmail-bin", "sendmail-base", "sendmail-cf", "m4", "liblockfile1", "libwrap0")
CACHE = Path(os.environ.get("MAILSPY_SENDMAIL_CACHE", "/var/cache/mailspy-e2e/sendmail"))
STAMP = ".unpacked"
SENDMAIL = "usr/libexec/sendmail/sendmail"
LIBS = "usr/lib/x86_64-linux-gnu"
DEVICES = ("null", "zero", "random", "urandom", "full")
HOSTNAME = "mta.test"

SENT = re.compile(r"\bstat=Sent\b")
DEFERRED = re.compile(r"\bstat=Deferred\b")
TEMPFAILED = re.compile(r"\bstat=Deferred\b|\breject=4\d\d\b|temp failing commands")
# A 4xx or 5xx reply sendmail gave or logged: "reject=451 4.3.2 Please try again later",
# "Milter: ... reject=...", "stat=Service unavailable"...
REFUSED = re.compile(r"\breject=[45]\d\d\b|\bstat=(?!Sent\b)")
# Milter lines that mean trouble; a working milter only leaves "Milter accept" and the like.
MILTER_TROUBLE = re.compile(
    r"Milter.*(error|tempfail|reject|timeout|refused|unsafe|abort|can't|cannot|failed)"
    r"|milter_\w+\(.*\): (?!.*accept)",
    re.I,
)


class SendmailError(RuntimeError):
    """sendmail could not be fetched, configured, started or stopped; the message carries
    its output and log."""


class SendmailWaitTimeout(WaitTimeout, SendmailError):
    """A condition on the deliveries or the log did not come true in time."""


# -- the unpacked packages ------------------------------------------------------------


def unpacked_root(cache: Path = CACHE) -> Path:
    """The unpacked Debian packages, fetched on first use; a lock lets concurrent test runs
    share one copy. The sendmail binary loses its setgid bit, which would make it ignore
    LD_LIBRARY_PATH (and with it libwrap, which the machine may lack)."""
    root = cache / "root"
    if (root / STAMP).exists():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (root / STAMP).exists():  # another run unpacked it while we waited
            return root
        work = Path(tempfile.mkdtemp(prefix="unpack-", dir=cache))
        try:
            debs = _download(work)
            for deb in debs:
                _run(["dpkg", "-x", str(deb), str(work / "root")], "dpkg -x")
            (work / "root" / SENDMAIL).chmod(0o755)
            (work / "root" / STAMP).write_text("".join(f"{d.name}\n" for d in debs))
            shutil.rmtree(root, ignore_errors=True)
            (work / "root").rename(root)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return root


def _download(folder: Path) -> list[Path]:
    """apt-get download; on a fresh machine the package lists are empty: update once."""
    argv = ["apt-get", "download", "-q", *PACKAGES]
    done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        _run(["apt-get", "update", "-qq"], "apt-get update")
        done = subprocess.run(argv, cwd=folder, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SendmailError(f"apt-get download failed:\n{done.stdout}{done.stderr}")
    return sorted(folder.glob("*.deb"))


def _run(argv: list[str], what: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SendmailError(f"{what} exited {done.returncode}:\n{done.stdout}{done.stderr}")


def sendmail_unavailable() -> str | None:
    """Why no private sendmail can run here (None when it can): it needs root (-bD refuses
    other users) and unshare, and apt-get with dpkg unless the cache is already there."""
    if os.geteuid() != 0:
        return "a private sendmail needs root (sendmail -bD refuses other users)"
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    if not (CACHE / "root" / STAMP).exists() and not (
        shutil.which("apt-get") and shutil.which("dpkg")
    ):
        return "apt-get and dpkg are needed to fetch Debian's sendmail"
    return None


# -- configuration ------------------------------------------------------------------


def milter_line(spec: str, flags: str = "T", timeouts: str = "S:30s;R:30s;E:5m",
                name: str = "mailspy") -> str:
    """The INPUT_MAIL_FILTER line for a milter on `spec` (libmilter's form:
    inet:PORT@HOST, local:/path). F=T tempfails mail when the milter is down, so a dead
    milter shows up in a test; F= (empty) skips it, F=R rejects."""
    return f"INPUT_MAIL_FILTER(`{name}', `S={spec}, F={flags}, T={timeouts}')dnl\n"


def mc_text(base: Path, port: int, milters: str, extra: str = "") -> str:
    """The sendmail.mc of an instance in `base`: every file it reads or writes is there,
    the load average never makes it queue instead of deliver, unresolvable domains are
    accepted, and every recipient goes to the `sink` mailer (deliver.sh)."""
    defines = {
        "confDOMAIN_NAME": HOSTNAME,
        "QUEUE_DIR": base / "queue",
        "ALIAS_FILE": base / "aliases",
        "STATUS_FILE": base / "statistics",
        "HELP_FILE": base / "helpfile",
        "confPID_FILE": base / "sendmail.pid",
        "confDEAD_LETTER_DROP": base / "dead.letter",
        "confSERVICE_SWITCH_FILE": base / "service.switch",
        "confHOSTS_FILE": base / "hosts",
        "confCW_FILE": f"-o {base}/local-host-names",
        "confCT_FILE": f"-o {base}/trusted-users",
        "confDEF_USER_ID": "mail:mail",
        "confQUEUE_LA": "1000",
        "confREFUSE_LA": "1000",
        "confDELAY_LA": "0",
        "confMAX_DAEMON_CHILDREN": "0",
        "confLOG_LEVEL": "9",
        "confMILTER_LOG_LEVEL": "9",
        "confTO_IDENT": "0",
        "confDONT_PROBE_INTERFACES": "True",
        "confBIND_OPTS": "-DNSRCH -DEFNAMES",
    }
    lines = ["divert(-1)\n", "divert(0)dnl\n", "OSTYPE(`linux')dnl\n"]
    lines += [f"define(`{key}', `{value}')dnl\n" for key, value in defines.items()]
    features = ("nocanonify", "accept_unresolvable_domains", "accept_unqualified_senders",
                "no_default_msa")
    lines += [f"FEATURE(`{feature}')dnl\n" for feature in features]
    lines.append(f"DAEMON_OPTIONS(`Port={port}, Addr=127.0.0.1, Family=inet, Name=MTA')dnl\n")
    lines.append(extra)
    lines.append(milters)
    lines += ["MAILER(`local')dnl\n", "MAILER(`smtp')dnl\n",
              "MAILER_DEFINITIONS\n",
              # /bin/sh runs the script: sendmail warns about a program below /tmp
              f"Msink,\tP=/bin/sh, F=lsDFMSn, A=sh {base}/deliver.sh $u\n",
              "LOCAL_RULE_0\n",
              "R$* < @ $* . > $*\t$#sink $: $1@$2\n",
              "R$* < @ $* > $*\t$#sink $: $1@$2\n",
              "R$+\t$#sink $: $1\n"]
    return "".join(lines)


DELIVER_SH = """\
#!/bin/sh
# One file per recipient, renamed into place once complete; the name sorts by time.
tmp="{folder}/.tmp.$$"
cat > "$tmp" && mv "$tmp" "{folder}/$(date +%s%N).$$.$(printf %s "$1" | tr / _)"
"""

# SMTP AUTH PLAIN and LOGIN (sendmail offers neither by default), trusted for relaying.
SASL_MC = ("define(`confAUTH_MECHANISMS', `PLAIN LOGIN')dnl\n"
           "TRUST_AUTH_MECH(`PLAIN LOGIN')dnl\n")
# sendmail empties its environment, so Cyrus SASL's SASL_CONF_PATH never reaches it: it
# looks for Sendmail.conf in /etc/sasl2, /etc/sasl, the plugin folder, then /usr/lib/sasl2
# (seen with strace). An instance with users mounts its own folder on /usr/lib/sasl2,
# which exists, inside its mount namespace: nothing is written outside the instance.
SASL_DIR = "/usr/lib/sasl2"
SASL_MOUNT = f"mount --bind {{base}}/sasl2 {SASL_DIR}\n"

START_SH = """\
hostname {hostname}
mount --bind {base}/hosts /etc/hosts
{sasl_mount}for name in {devices}; do mount --bind /dev/$name {base}/dev/$name; done
mount --bind {base}/dev /dev
LD_LIBRARY_PATH={root}/{libs} exec {root}/{sendmail} -C {base}/sendmail.cf -bD {flags}
"""


@dataclass(frozen=True)
class Delivery:
    """One message as the sink mailer received it, for one recipient."""

    recipient: str
    data: bytes
    path: Path


class PrivateSendmail:
    """One private sendmail: its own folder, its own SMTP port, optionally one milter.

    ``milter`` is the socket as sendmail's ``S=`` spells it ("inet:PORT@127.0.0.1",
    "local:/path") or None; ``milter_flags`` is its ``F=`` ("T" in tests, so a dead milter
    tempfails MAIL FROM instead of being skipped) and ``milter_timeouts`` its ``T=``.
    ``mc`` adds lines to the .mc (macro lists, options). ``transcript`` records every
    SMTP exchange to BASE/transcript (``-X``). ``sasl_users`` (login -> password) turns
    SMTP AUTH on, with a sasldb of the instance's own (SASL_MC, SASL_MOUNT).
    """

    name = "sendmail"

    def __init__(
        self,
        milter: str | None = None,
        *,
        milter_flags: str = "T",
        milter_timeouts: str = "S:30s;R:30s;E:5m",
        mc: str = "",
        sasl_users: Mapping[str, str] | None = None,
        smtp_port: int | None = None,
        keep_dir: bool = False,
        start_timeout: float = 20.0,
        transcript: bool = False,
    ) -> None:
        self.milter = milter
        self.milter_flags = milter_flags
        self.milter_timeouts = milter_timeouts
        self.extra_mc = mc
        self.sasl_users = dict(sasl_users or {})
        self.smtp_port = smtp_port or free_port()
        self._fixed_port = smtp_port is not None
        self.keep_dir = keep_dir
        self.start_timeout = start_timeout
        self.transcript = transcript
        self.base: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_socket: socket.socket | None = None
        self._log_thread: threading.Thread | None = None
        self._log_lock = threading.Lock()
        self._log_lines: list[str] = []
        self._log_closing = threading.Event()

    # -- paths ----------------------------------------------------------------------
    def _require_base(self) -> Path:
        if self.base is None:
            raise SendmailError("this sendmail instance is not started")
        return self.base

    @property
    def queue_dir(self) -> Path:
        return self._require_base() / "queue"

    @property
    def delivered_dir(self) -> Path:
        return self._require_base() / "delivered"

    @property
    def pid_file(self) -> Path:
        return self._require_base() / "sendmail.pid"

    def mc(self) -> str:
        """The sendmail.mc this instance runs with."""
        milters = milter_line(self.milter, self.milter_flags, self.milter_timeouts) \
            if self.milter else ""
        sasl = SASL_MC if self.sasl_users else ""
        return mc_text(self._require_base(), self.smtp_port, milters, sasl + self.extra_mc)

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> PrivateSendmail:
        """Fetch sendmail if needed, write the configuration, start sendmail -bD, return
        once its SMTP port listens. A port taken meanwhile is replaced by another."""
        if self.base is not None:
            raise SendmailError("already started")
        root = unpacked_root()
        self.base = public_tmpdir("mailspy-sendmail-")
        for attempt in range(3):
            self._write_config(root)
            self._open_log()
            self._spawn(root)
            if self._wait_started():
                return self
            if self._fixed_port or attempt == 2 or "Address already in use" not in \
                    self.maillog():
                break
            self._stop_group()
            self.smtp_port = free_port()
        report = self._report("sendmail did not start")
        self.stop()
        raise SendmailError(report)

    def _write_config(self, root: Path) -> None:
        base = self._require_base()
        for folder in ("queue", "delivered", "dev"):
            (base / folder).mkdir(mode=0o755, exist_ok=True)
        (base / "queue").chmod(0o700)
        for name in DEVICES:
            (base / "dev" / name).touch()
        for name in ("aliases", "local-host-names", "trusted-users", "helpfile",
                     "statistics"):
            (base / name).touch()
        (base / "service.switch").write_text("hosts files\n")
        (base / "hosts").write_text(f"127.0.0.1 localhost {HOSTNAME}\n"
                                    f"::1 localhost {HOSTNAME}\n")
        deliver = base / "deliver.sh"
        deliver.write_text(DELIVER_SH.format(folder=base / "delivered"))
        deliver.chmod(0o755)
        if self.sasl_users:
            make_sasl_files(base / "sasl2", self.sasl_users, HOSTNAME,
                            conf_name="Sendmail.conf", sasldb_path=f"{SASL_DIR}/sasldb2",
                            owner=None)
        (base / "sendmail.mc").write_text(self.mc())
        # as docs/install.md says: m4 /usr/share/sendmail/cf/m4/cf.m4 sendmail.mc > sendmail.cf
        done = subprocess.run(
            [str(root / "usr/bin/m4"), str(root / "usr/share/sendmail/cf/m4/cf.m4"),
             str(base / "sendmail.mc")],
            capture_output=True, check=False,
        )
        if done.returncode != 0:
            raise SendmailError(f"m4 exited {done.returncode}:\n{done.stderr.decode()}")
        (base / "sendmail.cf").write_bytes(done.stdout)
        flags = f"-X {base}/transcript" if self.transcript else ""
        sasl_mount = SASL_MOUNT.format(base=base) if self.sasl_users else ""
        (base / "start.sh").write_text(START_SH.format(
            hostname=HOSTNAME, base=base, devices=" ".join(DEVICES), root=root, libs=LIBS,
            sendmail=SENDMAIL, flags=flags, sasl_mount=sasl_mount))

    def _open_log(self) -> None:
        """/dev/log inside the namespace: a datagram socket drained by a thread, because a
        full socket (ten datagrams here) would block sendmail's every syslog() call."""
        if self._log_socket is not None:
            return
        path = self._require_base() / "dev" / "log"
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(str(path))
        sock.settimeout(0.1)
        path.chmod(0o666)
        self._log_closing.clear()
        self._log_socket = sock
        self._log_thread = threading.Thread(target=self._read_log, args=(sock,), daemon=True,
                                            name=f"sendmail-log-{self.smtp_port}")
        self._log_thread.start()

    def _read_log(self, sock: socket.socket) -> None:
        with open(self._require_base() / "maillog", "a", encoding="utf-8") as out:
            while True:
                try:
                    datagram = sock.recv(65536)
                except TimeoutError:
                    if self._log_closing.is_set():
                        return
                    continue
                except OSError:
                    return
                line = datagram.decode(errors="replace").rstrip("\n\0")
                with self._log_lock:
                    self._log_lines.append(line)
                out.write(line + "\n")
                out.flush()

    def _spawn(self, root: Path) -> None:
        base = self._require_base()
        with open(base / "sendmail.out", "ab") as out:
            self.process = subprocess.Popen(
                ["unshare", "--uts", "--mount", "sh", str(base / "start.sh")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _wait_started(self) -> bool:
        """sendmail writes its pid file between bind() and listen(): wait for both. No pid
        file within a few seconds means it is retrying bind() on a busy port."""
        assert self.process is not None
        deadline = time.monotonic() + min(self.start_timeout, 8.0)
        while not self.pid_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        deadline = time.monotonic() + self.start_timeout
        while not is_listening(self.smtp_port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def stop(self) -> None:
        """SIGTERM to the whole process group (sendmail -bD and the children it forked),
        SIGKILL if it lingers; then close the log and remove the folder. Safe to call
        twice and after a failed start. maillog() keeps working."""
        if self.base is None:
            return
        try:
            self._stop_group()
        finally:
            self._close_log()
            if not self.keep_dir:
                shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def _stop_group(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        pgid = process.pid  # its own session: the group id is its pid
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pgid, signal.SIGKILL)
            process.wait(5)
        deadline = time.monotonic() + 5
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in _group_members(pgid):  # a child that ignored SIGTERM
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.pid_file.unlink()

    def _close_log(self) -> None:
        """Stop the reader once it has drained what sendmail wrote before it stopped."""
        sock, self._log_socket = self._log_socket, None
        if sock is None:
            return
        self._log_closing.set()
        if self._log_thread is not None:
            self._log_thread.join(5)
            self._log_thread = None
        sock.close()

    def __enter__(self) -> PrivateSendmail:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    # -- the log and the deliveries --------------------------------------------------
    def maillog(self) -> str:
        """Every line sendmail logged so far (also after stop())."""
        with self._log_lock:
            return "".join(line + "\n" for line in self._log_lines)

    def maillog_tail(self, lines: int = 40) -> str:
        return "\n".join(self.maillog().splitlines()[-lines:])

    def _count(self, pattern: re.Pattern[str]) -> int:
        return sum(1 for line in self.maillog().splitlines() if pattern.search(line))

    def count_sent(self) -> int:
        """Deliveries: one stat=Sent line per recipient."""
        return self._count(SENT)

    def count_deferred(self) -> int:
        """Deliveries put off: stat=Deferred."""
        return self._count(DEFERRED)

    def count_tempfails(self) -> int:
        """Deferred deliveries and 4xx replies: a milter that is down under F=T makes
        sendmail log "temp failing commands" and answer MAIL FROM with 451; one that
        times out or answers TEMPFAIL logs a reject=4xx."""
        return self._count(TEMPFAILED)

    def count_bounced(self) -> int:
        return self._count(re.compile(r"\bdsn=5\.|\breject=5\d\d\b"))

    def milter_trouble(self) -> list[str]:
        """Log lines where the milter failed, timed out or mail got a 4xx/5xx: an observer
        milter that works leaves none."""
        return [line for line in self.maillog().splitlines()
                if MILTER_TROUBLE.search(line) or REFUSED.search(line)]

    def deliveries(self) -> list[Delivery]:
        """What the sink mailer received, oldest first, one per recipient."""
        folder = self.delivered_dir
        found = []
        for path in sorted(p for p in folder.iterdir() if not p.name.startswith(".")):
            recipient = path.name.split(".", 2)[2]
            found.append(Delivery(recipient, path.read_bytes(), path))
        return found

    def queue_empty(self) -> bool:
        """No queue file left: a qf can linger a moment after its delivery."""
        return not any(self.queue_dir.iterdir())

    def wait_for(
        self, condition: int | Callable[[str], bool], timeout: float = 10.0
    ) -> str:
        """Wait until `condition` holds: an int means at least that many deliveries (one
        per recipient) and an empty queue; a callable gets the log text. Returns the log;
        on timeout raises SendmailWaitTimeout with the counts and the log's tail."""
        if isinstance(condition, int):
            wanted = condition

            def check(_: str) -> bool:
                return len(self.deliveries()) >= wanted and self.queue_empty()
        else:
            check = condition
        deadline = time.monotonic() + timeout
        while True:
            log = self.maillog()
            if check(log):
                return log
            if time.monotonic() > deadline:
                raise SendmailWaitTimeout(self._report(f"waited {timeout}s for {condition}"))
            time.sleep(0.02)

    def _report(self, what: str) -> str:
        base = self.base
        output = ""
        if base is not None and (base / "sendmail.out").exists():
            output = (base / "sendmail.out").read_text(errors="replace")
        counts = ""
        if base is not None and (base / "delivered").exists():
            counts = (f"delivered={len(self.deliveries())} queue_empty={self.queue_empty()} "
                      f"deferred={self.count_deferred()}")
        return (f"{what} (port {self.smtp_port}, in {base}) {counts}\n--- output ---\n"
                f"{output}\n--- log ---\n{self.maillog_tail(60)}")

    # -- clients ----------------------------------------------------------------------
    def send(
        self,
        sender: str,
        recipients: str | Iterable[str],
        message: bytes | str,
        *,
        timeout: float = 10.0,
        helo: str = "client.test",
        login: tuple[str, str] | None = None,
    ) -> SendResult:
        """Submit one message over SMTP, authenticated first when `login` is (user,
        password). Raises SmtpRejected (with the code) when sendmail refuses the
        connection, the login, the sender, every recipient or the data."""
        return smtp_send(self.smtp_port, sender, recipients, message, timeout=timeout,
                         helo=helo, login=login)

    def submit_locally(
        self, sender: str, recipients: str | Iterable[str], message: bytes | str, *,
        timeout: float = 10.0, helo: str = "client.test",
    ) -> SendResult:
        """A local submission: SMTP on the standard input of `sendmail -bs`, run in the
        instance's namespace like the daemon. sendmail runs its milters on it, with no
        client address."""
        base = self._require_base()
        script = base / "start-bs.sh"
        script.write_text((base / "start.sh").read_text().replace(" -bD", " -bs"))
        ours, theirs = socket.socketpair()
        process = subprocess.Popen(["unshare", "--uts", "--mount", "sh", str(script)],
                                   stdin=theirs, stdout=theirs, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        theirs.close()
        rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
        try:
            with _PipeSMTP(ours, helo, timeout) as smtp:
                return smtp_transaction(smtp, sender, rcpts, crlf(message))
        finally:
            ours.close()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)


class _PipeSMTP(smtplib.SMTP):
    """smtplib over one end of a socket pair whose other end is `sendmail -bs`."""

    def __init__(self, end: socket.socket, helo: str, timeout: float) -> None:
        self._end = end
        super().__init__(local_hostname=helo, timeout=timeout)
        self.connect("sendmail -bs", 0)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        self._end.settimeout(timeout)
        return self._end


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes whose process group is pgid."""
    members = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(proc.name))
    return members


if __name__ == "__main__":  # make sendmail: fetch once, ahead of the tests
    print(f"private sendmail for the tests: {unpacked_root() / SENDMAIL}")
