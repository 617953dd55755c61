"""A private Postfix instance on 127.0.0.1 for end-to-end tests.

Each instance lives in its own folder under /tmp (config, queue, maillog), is started with
``postfix -c DIR start`` and stopped with ``postfix -c DIR stop``, and never reads or
writes /etc/postfix. Accepted mail is handed to the ``discard`` transport, which logs
``status=sent``, so tests count deliveries in the maillog; ``relayhost`` sends it to an
SMTP sink instead. No pytest in here: benchmarks import it too.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

NULL_MILTER = Path(__file__).with_name("null_milter.py")
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin", "/sbin"])

# Every service the configuration refers to, none chrooted (a chroot needs /etc files
# copied into the queue). Columns: service type private unpriv chroot wakeup maxproc command.
MASTER_SERVICES = """\
pickup    unix  n - n 60   1 pickup
cleanup   unix  n - n -    0 cleanup
qmgr      unix  n - n 300  1 qmgr
rewrite   unix  - - n -    - trivial-rewrite
bounce    unix  - - n -    0 bounce
defer     unix  - - n -    0 bounce
trace     unix  - - n -    0 bounce
verify    unix  - - n -    1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -    - proxymap
showq     unix  n - n -    - showq
error     unix  - - n -    - error
retry     unix  - - n -    - error
discard   unix  - - n -    - discard
smtp      unix  - - n -    - smtp
relay     unix  - - n -    - smtp
anvil     unix  - - n -    1 anvil
scache    unix  - - n -    1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

SENT = re.compile(r"\bstatus=sent\b")
DEFERRED = re.compile(r"\bstatus=deferred\b")
BOUNCED = re.compile(r"\bstatus=bounced\b")
MILTER = re.compile(r"milter", re.I)
TROUBLE = re.compile(r"warning|error|fatal|reject|timeout|refused|reset|\b[45]\d\d\b", re.I)
TEMPFAIL_REPLY = re.compile(r"\b4\d\d 4\.\d{1,3}\.\d{1,3}\b")  # e.g. 451 4.7.1


class PostfixError(RuntimeError):
    """Postfix failed to start, stop or deliver; the message carries its output and log."""


# SMTP AUTH with Cyrus SASL, checking passwords in a sasldb of the instance's own. AUTH
# PLAIN and LOGIN in clear text on loopback: no TLS needed (smtpd_tls_auth_only), no
# anonymous login. broken_sasl_auth_clients stays "no": smtplib speaks standard AUTH.
SASL_MAIN_CF = {
    "smtpd_sasl_auth_enable": "yes",
    "smtpd_sasl_type": "cyrus",
    "smtpd_sasl_path": "smtpd",
    "smtpd_sasl_security_options": "noanonymous",
    "smtpd_tls_auth_only": "no",
}


def make_sasl_files(folder: Path, users: Mapping[str, str], default_realm: str, *,
                    conf_name: str = "smtpd.conf", sasldb_path: str | None = None,
                    owner: str | None = "postfix") -> Path:
    """FOLDER/CONF_NAME (Cyrus SASL's configuration of one server) and FOLDER/sasldb2
    holding `users` (login -> password); returns the sasldb. `sasldb_path` is where the
    server sees that file when it differs (a bind mount), `owner` the user the server
    reads it as. A login without "@" is made in `default_realm`, the realm Cyrus gives a
    login without one (the server's name): the client logs in as "alice" and the server
    reports "alice". "bob@example.org" is user bob in realm example.org."""
    tool = find_tool("saslpasswd2")
    if tool is None:
        raise PostfixError("saslpasswd2 is not installed (apt-get install sasl2-bin, "
                           "or `make deps`)")
    folder.mkdir(mode=0o755, exist_ok=True)
    sasldb = folder / "sasldb2"
    for login, password in users.items():
        user, _, realm = login.partition("@")
        done = subprocess.run([tool, "-f", str(sasldb), "-c", "-p", "-u",
                               realm or default_realm, user],
                              input=password.encode(), capture_output=True, check=False)
        if done.returncode != 0:
            raise PostfixError(f"saslpasswd2 exited {done.returncode} for {login!r}: "
                               f"{done.stderr.decode(errors='replace')}")
    if owner is not None and os.geteuid() == 0:
        shutil.chown(sasldb, user=owner)
    (folder / conf_name).write_text(
        "pwcheck_method: auxprop\n"
        "auxprop_plugin: sasldb\n"
        "mech_list: PLAIN LOGIN\n"
        f"sasldb_path: {sasldb_path or sasldb}\n")
    return sasldb


class WaitTimeout(PostfixError, TimeoutError):
    """A condition on the maillog did not come true in time."""


class SmtpRejected(Exception):
    """The SMTP server refused a command; ``code`` says whether it was temporary (4xx)."""

    def __init__(self, stage: str, code: int, reply: str) -> None:
        super().__init__(f"{stage} rejected: {code} {reply}")
        self.stage = stage
        self.code = code
        self.reply = reply

    @property
    def temporary(self) -> bool:
        return 400 <= self.code < 500


@dataclass(frozen=True)
class SendResult:
    """The final reply to DATA plus the recipients refused on the way."""

    code: int
    reply: str
    refused: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def queue_id(self) -> str | None:
        """The queue id, which the milter sees as macro ``i``: Postfix replies "2.0.0 Ok:
        queued as ID", sendmail "2.0.0 ID Message accepted for delivery"."""
        match = re.search(r"queued as (\w+)", self.reply) or \
            re.match(r"\d\.\d+\.\d+ (\w+) Message accepted", self.reply)
        return match.group(1) if match else None


def find_tool(name: str) -> str | None:
    """Locate a Postfix program; /usr/sbin is often missing from a non-login PATH."""
    return shutil.which(name, path=SBIN_PATH)


def postfix_available() -> bool:
    return find_tool("postfix") is not None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def null_milter_argv(spec: str, eom_file: Path | None = None) -> list[str]:
    """The null milter's command line; spec in libmilter form (inet:PORT@HOST, unix:PATH)."""
    argv = [sys.executable, str(NULL_MILTER), spec]
    return [*argv, str(eom_file)] if eom_file else argv


def public_tmpdir(prefix: str = "mailspy-e2e-") -> Path:
    """A fresh 0755 folder in /tmp: Postfix's unprivileged user must be able to enter it,
    which mkdtemp()'s 0700 and pytest's tmp_path forbid."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    path.chmod(0o755)
    return path


def is_listening(port: int, host: str = "127.0.0.1") -> bool:
    """True when a TCP socket listens on host:port (or on 0.0.0.0:port), read from
    /proc/net/tcp: a probe connection would open an SMTP session that reaches the milter."""
    wanted = {f"{_proc_net_addr(addr)}:{port:04X}" for addr in (host, "0.0.0.0")}
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return _can_connect(host, port)
    return any(f[1] in wanted and f[3] == "0A" for f in (line.split() for line in lines))


def unix_listening(path: Path) -> bool:
    """True when a unix stream socket listens at path: the file appears at bind(), a moment
    before listen(), and a connection in between is refused."""
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return path.is_socket()
    accepting = 0x10000  # __SO_ACCEPTCON in the Flags column
    return any(
        len(f) == 8 and f[7] == str(path) and int(f[3], 16) & accepting
        for f in (line.split() for line in lines)
    )


def _proc_net_addr(host: str) -> str:
    return socket.inet_aton(host)[::-1].hex().upper()


def _can_connect(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True for a running process; a zombie counts as gone (PID 1 here reaps slowly)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_pid_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run_in_pty(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run argv under a pseudo-terminal: `postfix start` prints its fatal errors only to a
    tty (or syslog, absent here), and would otherwise fail with exit 1 and no output."""
    script = shutil.which("script")
    cmd = [script, "-qec", shlex.join(argv), "/dev/null"] if script else argv
    return subprocess.run(
        cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
        check=False,
    )


def crlf(message: bytes | str) -> bytes:
    """SMTP line endings for a message written with LF or CRLF."""
    data = message.encode() if isinstance(message, str) else message
    return re.sub(rb"\r?\n", b"\r\n", data)


class PrivatePostfix:
    """One private Postfix: its own folder, its own SMTP port, optionally one milter.

    ``milter`` is the socket as main.cf spells it ("inet:127.0.0.1:PORT", "unix:/path")
    or None. ``milter_default_action`` stays "tempfail" so that a dead milter shows as
    451 instead of letting mail through unnoticed. ``main_cf`` adds or overrides main.cf
    settings (milter_connect_macros, non_smtpd_milters...). ``relayhost`` (e.g.
    "[127.0.0.1]:2526") relays accepted mail over SMTP instead of discarding it.
    ``sasl_users`` (login -> password) turns SMTP AUTH on (make_sasl_files()).
    """

    name = "postfix"

    def __init__(
        self,
        milter: str | None = None,
        *,
        milter_default_action: str = "tempfail",
        main_cf: Mapping[str, str] | None = None,
        relayhost: str | None = None,
        sasl_users: Mapping[str, str] | None = None,
        smtp_port: int | None = None,
        keep_dir: bool = False,
        start_timeout: float = 20.0,
    ) -> None:
        self.milter = milter
        self.milter_default_action = milter_default_action
        self.extra_main_cf = dict(main_cf or {})
        self.relayhost = relayhost
        self.sasl_users = dict(sasl_users or {})
        self.smtp_port = smtp_port or free_port()
        self.keep_dir = keep_dir
        self.start_timeout = start_timeout
        self.base: Path | None = None
        self._last_maillog = ""

    # -- paths ----------------------------------------------------------------------
    def _require_base(self) -> Path:
        if self.base is None:
            raise PostfixError("this Postfix instance is not started")
        return self.base

    @property
    def conf_dir(self) -> Path:
        return self._require_base() / "conf"

    @property
    def queue_dir(self) -> Path:
        return self._require_base() / "queue"

    @property
    def maillog_path(self) -> Path:
        return self._require_base() / "maillog"

    @property
    def sasl_dir(self) -> Path:
        return self.conf_dir / "sasl"

    # -- configuration --------------------------------------------------------------
    def main_cf(self) -> dict[str, str]:
        """The main.cf settings this instance runs with."""
        base = self._require_base()
        transport = "smtp" if self.relayhost else "discard:e2e sink"
        settings = {
            "compatibility_level": "3.6",
            "config_directory": str(base / "conf"),
            "queue_directory": str(base / "queue"),
            "data_directory": str(base / "data"),
            "meta_directory": "/etc/postfix",
            "maillog_file_prefixes": "/tmp, /var, /dev/stdout",
            "maillog_file": str(base / "maillog"),
            "myhostname": "localhost",
            "mydomain": "localdomain",
            "myorigin": "localhost",
            "mydestination": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "smtpd_peername_lookup": "no",
            "smtp_dns_support_level": "disabled",
            "smtp_host_lookup": "native",
            "alias_maps": "",
            "alias_database": "",
            "local_recipient_maps": "",
            "biff": "no",
            "default_transport": transport,
            "relay_transport": transport,
            "local_transport": transport,
            "milter_protocol": "6",
            "milter_default_action": self.milter_default_action,
        }
        if self.milter:
            settings["smtpd_milters"] = self.milter
        if self.relayhost:
            settings["relayhost"] = self.relayhost
        if self.sasl_users:
            settings.update(SASL_MAIN_CF, cyrus_sasl_config_path=str(self.sasl_dir))
        settings.update(self.extra_main_cf)
        return settings

    def master_cf(self) -> str:
        smtpd = f"127.0.0.1:{self.smtp_port} inet n - n - - smtpd\n"
        return smtpd + MASTER_SERVICES

    def _write_config(self) -> None:
        self.conf_dir.mkdir(mode=0o755)
        self.queue_dir.mkdir(mode=0o755)  # must exist; data/ is left for Postfix to make
        lines = [f"{key} = {value}\n" for key, value in self.main_cf().items()]
        (self.conf_dir / "main.cf").write_text("".join(lines))
        (self.conf_dir / "master.cf").write_text(self.master_cf())
        if self.sasl_users:
            # Debian's Postfix reads smtpd.conf from $config_directory/sasl/ whatever
            # cyrus_sasl_config_path says (seen with strace); main.cf names it as well
            # for a Postfix built without that change. smtpd reads the sasldb as postfix.
            make_sasl_files(self.sasl_dir, self.sasl_users, self.main_cf()["myhostname"])
        # Postfix re-reads a main.cf modified in the last ~2 s every 300 ms until it is
        # older (a guard against half-written files): that was 1.8 s of every start.
        past = time.time() - 60
        for name in ("main.cf", "master.cf"):
            os.utime(self.conf_dir / name, (past, past))

    # -- life cycle -----------------------------------------------------------------
    def start(self) -> PrivatePostfix:
        """Write the configuration, start Postfix, return once its SMTP port listens."""
        if self.base is not None:
            raise PostfixError("already started")
        self.base = public_tmpdir("mailspy-postfix-")
        self._write_config()
        result = self._postfix("start", timeout=self.start_timeout)
        if result.returncode != 0:
            raise PostfixError(self._report(f"postfix start exited {result.returncode}", result))
        deadline = time.monotonic() + self.start_timeout
        while not is_listening(self.smtp_port):
            if time.monotonic() > deadline:
                raise PostfixError(self._report(f"port {self.smtp_port} never listened", result))
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """`postfix stop`, wait for the master (killed by pid if it hangs), then remove the
        folder. Safe to call twice and after a failed start. maillog() keeps working."""
        if self.base is None:
            return
        try:
            self._stop_master()
        finally:
            self._last_maillog = self.maillog()
            if not self.keep_dir:
                shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def _stop_master(self) -> None:
        pid = self.master_pid()
        if pid is not None and pid in self.processes():
            result = self._postfix("stop", timeout=20)
            if not wait_pid_gone(pid, 10):
                if pid in self.processes():  # still our master, not a recycled pid
                    os.kill(pid, signal.SIGKILL)
                    wait_pid_gone(pid, 5)
                raise PostfixError(self._report(f"master {pid} outlived postfix stop", result))
        self._wait_children_gone(5)

    def _wait_children_gone(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.05)

    def __enter__(self) -> PrivatePostfix:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _postfix(self, command: str, timeout: float) -> subprocess.CompletedProcess[str]:
        postfix = find_tool("postfix")
        if postfix is None:
            raise PostfixError("postfix is not installed")
        return run_in_pty([postfix, "-c", str(self.conf_dir), command], timeout)

    def master_pid(self) -> int | None:
        """The master's pid from queue/pid/master.pid, or None before it wrote one."""
        try:
            return int((self.queue_dir / "pid" / "master.pid").read_text().strip())
        except (OSError, ValueError, PostfixError):
            return None

    def processes(self) -> list[int]:
        """Live pids of this instance: Postfix passes MAIL_CONFIG=conf dir to every daemon."""
        if self.base is None:
            return []
        marker = f"MAIL_CONFIG={self.conf_dir}".encode()
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                env = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if marker in env and pid_alive(int(proc.name)):
                found.append(int(proc.name))
        return found

    # -- the maillog ----------------------------------------------------------------
    def maillog(self) -> str:
        """The whole maillog; after stop(), the log as it was when the instance stopped."""
        if self.base is None:
            return self._last_maillog
        try:
            return self.maillog_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def maillog_tail(self, lines: int = 40) -> str:
        return "\n".join(self.maillog().splitlines()[-lines:])

    def _count(self, pattern: re.Pattern[str]) -> int:
        return sum(1 for line in self.maillog().splitlines() if pattern.search(line))

    def count_sent(self) -> int:
        """Deliveries: one status=sent line per recipient, not per message."""
        return self._count(SENT)

    def count_deferred(self) -> int:
        return self._count(DEFERRED)

    def count_bounced(self) -> int:
        return self._count(BOUNCED)

    def count_tempfails(self) -> int:
        """Deferred deliveries and 4xx replies (a milter-reject with 451 when the milter
        is down under milter_default_action = tempfail)."""
        return sum(1 for line in self.maillog().splitlines()
                   if DEFERRED.search(line) or TEMPFAIL_REPLY.search(line))

    def milter_trouble(self) -> list[str]:
        """Maillog lines where a milter failed or rejected, or mail got a 4xx reply: an
        observer milter that works leaves none (Postfix logs nothing about a good one)."""
        return [line for line in self.maillog().splitlines() if _is_trouble(line)]

    def wait_for(
        self, condition: int | Callable[[str], bool], timeout: float = 10.0
    ) -> str:
        """Poll the maillog until `condition` holds: an int means at least that many
        status=sent lines, a callable gets the log text. Returns the log; on timeout
        raises WaitTimeout with the counts and the log's tail."""
        check = _sent_at_least(condition) if isinstance(condition, int) else condition
        deadline = time.monotonic() + timeout
        while True:
            log = self.maillog()
            if check(log):
                return log
            if time.monotonic() > deadline:
                raise WaitTimeout(self._wait_report(condition, timeout))
            time.sleep(0.05)

    def _wait_report(self, condition: object, timeout: float) -> str:
        wanted = f"{condition} x status=sent" if isinstance(condition, int) else "condition"
        counts = (
            f"sent={self.count_sent()} deferred={self.count_deferred()} "
            f"bounced={self.count_bounced()}"
        )
        return f"waited {timeout}s for {wanted}; {counts}\n--- maillog tail ---\n" + (
            self.maillog_tail()
        )

    def _report(self, what: str, result: subprocess.CompletedProcess[str] | None) -> str:
        output = (result.stdout + result.stderr).strip() if result else ""
        where = f" (in {self.base})" if self.base else ""
        return f"{what}{where}\n--- output ---\n{output}\n--- maillog ---\n{self.maillog()}"

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
        password). Raises SmtpRejected (with the code) when the server refuses the
        connection, the login, the sender, every recipient or the data."""
        return smtp_send(self.smtp_port, sender, recipients, message, timeout=timeout,
                         helo=helo, login=login)

    def submit_locally(
        self, sender: str, recipients: str | Iterable[str], message: bytes | str,
        timeout: float = 10.0,
    ) -> None:
        """A local submission: Postfix's sendmail command, then postdrop and pickup. Only
        milters in non_smtpd_milters see it."""
        rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
        tool = find_tool("sendmail")
        if tool is None:
            raise PostfixError("postfix's sendmail command is not installed")
        data = message.encode() if isinstance(message, str) else message
        done = subprocess.run([tool, "-C", str(self.conf_dir), "-f", sender, "--", *rcpts],
                              input=data, capture_output=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise PostfixError(f"sendmail exited {done.returncode}: {done.stderr.decode()}")

    def smtp_source(
        self,
        messages: int = 100,
        sessions: int = 1,
        size: int = 4096,
        *,
        sender: str = "a@x.test",
        recipient: str = "b@y.test",
        recipients_per_message: int = 1,
        reuse_connection: bool = False,
        timeout: float = 300.0,
    ) -> float:
        """Push `messages` messages with Postfix's smtp-source over `sessions` parallel
        sessions; returns the seconds it took to submit them (delivery may lag: use
        wait_for). Raises PostfixError when smtp-source reports an error."""
        tool = find_tool("smtp-source")
        if tool is None:
            raise PostfixError("smtp-source is not installed")
        argv = [tool, "-4", "-s", str(sessions), "-m", str(messages), "-l", str(size),
                "-r", str(recipients_per_message), "-M", "client.test",
                "-f", sender, "-t", recipient]
        if reuse_connection:
            argv.append("-d")
        argv.append(f"127.0.0.1:{self.smtp_port}")
        began = time.perf_counter()
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL, check=False)
        elapsed = time.perf_counter() - began
        if result.returncode != 0 or result.stderr.strip():
            raise PostfixError(self._report(f"smtp-source exited {result.returncode}", result))
        return elapsed


def smtp_send(
    port: int,
    sender: str,
    recipients: str | Iterable[str],
    message: bytes | str,
    *,
    timeout: float = 10.0,
    helo: str = "client.test",
    login: tuple[str, str] | None = None,
) -> SendResult:
    """One SMTP transaction with the server on 127.0.0.1:port (Postfix or sendmail),
    after SMTP AUTH when `login` is (user, password). Raises SmtpRejected (with the code)
    when the server refuses the connection, the login, the sender, every recipient or
    the data."""
    rcpts = [recipients] if isinstance(recipients, str) else list(recipients)
    try:
        with smtplib.SMTP("127.0.0.1", port, helo, timeout) as smtp:
            smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if login is not None:
                _expect(smtp.ehlo(), "EHLO", 250)
                smtp.login(*login)
            return smtp_transaction(smtp, sender, rcpts, crlf(message))
    except smtplib.SMTPNotSupportedError as err:
        raise SmtpRejected("AUTH", 502, f"the server offers no AUTH: {err}") from err
    except smtplib.SMTPResponseException as err:
        stage = {smtplib.SMTPConnectError: "CONNECT", smtplib.SMTPDataError: "DATA",
                 smtplib.SMTPAuthenticationError: "AUTH"}
        raise SmtpRejected(stage.get(type(err), "SMTP"), err.smtp_code,
                           _text(err.smtp_error)) from err


def _is_trouble(line: str) -> bool:
    return bool(MILTER.search(line) and TROUBLE.search(line)) or bool(TEMPFAIL_REPLY.search(line))


def _sent_at_least(count: int) -> Callable[[str], bool]:
    return lambda log: sum(1 for line in log.splitlines() if SENT.search(line)) >= count


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply


def smtp_transaction(
    smtp: smtplib.SMTP, sender: str, rcpts: list[str], data: bytes
) -> SendResult:
    """EHLO (unless the session greeted already, as AUTH needs), MAIL, RCPT..., DATA;
    smtplib.sendmail() would hide the final reply."""
    if smtp.ehlo_resp is None:
        _expect(smtp.ehlo(), "EHLO", 250)
    _expect(smtp.mail(sender), "MAIL", 250)
    refused: dict[str, tuple[int, str]] = {}
    for rcpt in rcpts:
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            refused[rcpt] = (code, _text(reply))
    if len(refused) == len(rcpts):
        code, reply = next(iter(refused.values()))
        raise SmtpRejected("RCPT", code, reply)
    code, reply = smtp.data(data)
    _expect((code, reply), "DATA", 250)
    return SendResult(code, _text(reply), refused)


_transaction = smtp_transaction  # its former name


def _expect(response: tuple[int, bytes | str], stage: str, wanted: int) -> None:
    code, reply = response
    if code != wanted:
        raise SmtpRejected(stage, code, _text(reply))


class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1, for tests that relay mail out instead of
    discarding it; with `dump`, each message lands in its own file under dump_dir."""

    def __init__(self, port: int | None = None, *, dump: bool = True) -> None:
        self.port = port or free_port()
        self.dump = dump
        self.dump_dir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def relayhost(self) -> str:
        return f"[127.0.0.1]:{self.port}"

    def start(self, timeout: float = 10.0) -> SmtpSink:
        tool = find_tool("smtp-sink")
        if tool is None:
            raise PostfixError("smtp-sink is not installed")
        argv = [tool, "-4", "-u", "nobody"]
        if self.dump:
            self.dump_dir = public_tmpdir("mailspy-sink-")
            self.dump_dir.chmod(0o777)  # smtp-sink writes as nobody
            argv += ["-d", f"{self.dump_dir}/%H%M%S."]
        argv += [f"127.0.0.1:{self.port}", "64"]
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        start_new_session=True)
        self._wait_listening(timeout)
        return self

    def _wait_listening(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while not is_listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise PostfixError(f"smtp-sink did not listen on {self.port}")
            time.sleep(0.05)

    def messages(self) -> list[bytes]:
        """The dumped transactions, oldest name first."""
        if self.dump_dir is None:
            return []
        return [path.read_bytes() for path in sorted(self.dump_dir.iterdir())]

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        if self.dump_dir is not None:
            shutil.rmtree(self.dump_dir, ignore_errors=True)
            self.dump_dir = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def stop_process(process: subprocess.Popen[bytes], timeout: float = 8.0) -> int:
    """SIGTERM by pid, SIGKILL if still there after `timeout`; returns the exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    return process.returncode


class MilterError(RuntimeError):
    """A milter process did not come up; the message carries its output."""


class MilterProcess:
    """A milter run as a child in its own session, listening on a TCP port of 127.0.0.1 or
    on a unix socket, and stopped by its pid (never by name)."""

    def __init__(
        self,
        argv: list[str],
        *,
        port: int | None = None,
        socket_path: Path | None = None,
        output: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if (port is None) == (socket_path is None):
            raise ValueError("give exactly one of port and socket_path")
        self.argv = argv
        self.port = port
        self.socket_path = socket_path
        self.output_path = output
        self.env = dict(env) if env is not None else None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def postfix_spec(self) -> str:
        """The socket as Postfix's smtpd_milters spells it."""
        return f"inet:127.0.0.1:{self.port}" if self.port else f"unix:{self.socket_path}"

    @property
    def sendmail_spec(self) -> str:
        """The socket as sendmail's INPUT_MAIL_FILTER S= spells it."""
        return f"inet:{self.port}@127.0.0.1" if self.port else f"local:{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def ready(self) -> bool:
        if self.port is not None:
            return is_listening(self.port)
        return self.socket_path is not None and unix_listening(self.socket_path)

    def start(self, timeout: float = 15.0) -> MilterProcess:
        """Launch, then return once the socket listens; raise MilterError with the
        milter's output if it exits or stays deaf."""
        target = self.output_path or Path(os.devnull)
        with open(target, "ab") as out:
            self.process = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, env=self.env,
            )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                status = self.stop()
                raise MilterError(f"milter {self.argv} not ready (exit {status}):\n"
                                  + self.output())
            time.sleep(0.05)
        return self

    def output(self) -> str:
        if self.output_path is None or not self.output_path.exists():
            return ""
        return self.output_path.read_text(errors="replace")

    def stop(self, timeout: float = 8.0) -> int | None:
        """SIGTERM, then SIGKILL after `timeout`; returns the exit status. libmilter notices
        SIGTERM only when its accept loop wakes (up to 5 s), so connecting to the socket
        wakes it: exit then takes milliseconds."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            self._wait_poking(process, timeout)
        if process.poll() is None:
            process.kill()
            process.wait(5)
        return process.returncode

    def _wait_poking(self, process: subprocess.Popen[bytes], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                process.wait(0.1)
                return
            except subprocess.TimeoutExpired:
                self._poke()

    def _poke(self) -> None:
        family, address = (
            (socket.AF_INET, ("127.0.0.1", self.port)) if self.port
            else (socket.AF_UNIX, str(self.socket_path))
        )
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            with contextlib.suppress(OSError):
                sock.connect(address)

    def __enter__(self) -> MilterProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# What the conftest fixtures postfix_factory and milter_factory hand to tests.
PostfixFactory = Callable[..., PrivatePostfix]
MilterFactory = Callable[..., MilterProcess]
