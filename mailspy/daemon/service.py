"""`mailspy run`: start-up in a safe order, serve, reload, stop.

Order matters: rules are checked first (broken rules stop the start with
exit 1), the umask and the file descriptor limit are set, signals are
blocked before any thread exists, the spool and the socket are made while
still root (handed to the `-u` user by descriptor, never through a link),
then privileges are dropped, the logs are opened as that user — so root
never appends to a file a user could have replaced, and the user can
reopen what it created after logrotate — and only then does libmilter
start accepting connections.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import logging.handlers
import os
import resource
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mailspy import defaults, privileges, safefs, version
from mailspy.actions.action import LOG, PATH
from mailspy.actions.logfile import LogFile
from mailspy.actions.registry import ACTIONS
from mailspy.actions.sinks import Sinks
from mailspy.daemon import signals
from mailspy.daemon.control import ControlServer
from mailspy.daemon.metrics import MetricsServer, RuleLoads
from mailspy.daemon.notify import notify
from mailspy.daemon.socketspec import SocketSpec
from mailspy.diagnostics import Diagnostic, counted
from mailspy.dispatch import TEMPFAIL, Recorder
from mailspy.milter import loop
from mailspy.milter.adapter import (
    UNANSWERED_TCP,
    UNANSWERED_UNIX,
    Connections,
    MailspyMilter,
)
from mailspy.rules.check import target_problems
from mailspy.rules.compile import RuleSet
from mailspy.rules.regexes import PatternError
from mailspy.rules.running import RulesConfig, load_running_rules
from mailspy.spool.deliver import Deliverer, DeliverySettings
from mailspy.spool.store import Spool, SpoolBusyError

log = logging.getLogger("mailspy")



@dataclass(frozen=True)
class SocketAccess:
    """Who may connect to a unix socket: its mode, and its owner and group when not
    the -u user's."""

    mode: int = 0o660
    owner: int | None = None
    group: int | None = None


@dataclass(frozen=True)
class Options:
    socket: SocketSpec
    rules: RulesConfig
    spool_dir: str = defaults.SPOOL_DIR
    user: str | None = None
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    syslog: str | None = None  # the syslog socket, when logging there
    milter_timeout: int = 600
    max_connections: int = 1000
    on_spool_failure: str = TEMPFAIL
    runtime_dir: str = defaults.RUNTIME_DIR
    pidfile: str | None = None
    socket_access: SocketAccess = field(default_factory=SocketAccess)
    metrics_listen: tuple[str, int] | None = None  # where Prometheus scrapes, when set


UMASK = 0o077
FD_RESERVE = 64  # descriptors kept for logs, the spool and pipes, beyond one per connection


class StartError(Exception):
    """A reason not to start, already worded for the postmaster."""


def run(options: Options) -> int:
    setup_logging(options.syslog)
    try:
        daemon = Daemon(options)
        daemon.start()
    except StartError as exc:
        log.error("%s", exc)
        return 1
    return daemon.serve()


class Daemon:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.sinks = Sinks()
        self.recorder: Recorder | None = None
        self.control: ControlServer | None = None
        self.started = time.time()
        self.loaded_at = time.time()
        self.loads = RuleLoads()
        self.metrics: MetricsServer | None = None
        self._reload_lock = threading.Lock()
        self._stopped = threading.Event()

    def start(self) -> None:
        try:
            account = privileges.lookup(self.options.user) if self.options.user else None
        except privileges.UnknownUserError as exc:
            raise StartError(str(exc)) from None
        if account is not None:
            rules_config = replace(self.options.rules, user=(account.uid, account.gid))
            self.options = replace(self.options, rules=rules_config)
        with _collector_paused(start=True):
            rules = self._load_rules()  # before anything else: broken rules stop us here
        self.loads.running()
        os.umask(UMASK)
        MailspyMilter.connections = Connections(self._connection_limit())
        MailspyMilter.unanswered = (UNANSWERED_UNIX if self.options.socket.family == "unix"
                                    else UNANSWERED_TCP)
        signals.block()
        spool = self._open_spool(account)
        self._make_log_dirs(rules, account)
        self._make_runtime_dir(account)
        self._open_socket(account)
        try:
            self._open_metrics()
            self._write_pidfile()
            if account is not None:
                try:
                    privileges.drop_to(account)
                except (OSError, RuntimeError) as exc:
                    raise StartError(f"cannot become user {account.name}: {exc}") from exc
                rules = self._load_rules_as_run_user(account, spool)
            self._check_targets(rules)
            self._open_logs(rules)
            self.control = ControlServer(self.options.runtime_dir,
                                         {"reload": self.reload, "status": self.status})
            try:
                self.control.start()
            except OSError as exc:
                raise StartError(f"cannot make the control socket in "
                                 f"{self.options.runtime_dir}: {_why(exc)}") from exc
        except StartError:
            self._remove_socket()
            raise
        # bodies past the in-memory threshold spill beside the spool, not to a tmpfs
        MailspyMilter.spool_dir = str(spool.root / "tmp")
        deliverer = Deliverer(spool, self.options.delivery)
        self.recorder = Recorder(rules, self.sinks, spool, deliverer,
                                 on_spool_failure=self.options.on_spool_failure)
        MailspyMilter.recorder = self.recorder
        deliverer.start()
        if self.metrics is not None:
            self.metrics.start()
        if waiting := len(spool.ids()):
            log.info("resuming %d spooled messages from %s", waiting, spool.root)
        signals.start({
            signal.SIGHUP: self.reload,
            signal.SIGUSR1: self.reopen_logs,
            signal.SIGTERM: self.stop,
            signal.SIGINT: self.stop,
        })
        listening = (f"mailspy {version()} listening on "
                     f"{self.options.socket.libmilter_form} with {_describe(rules)}")
        log.info("%s", listening)
        notify(READY=1, STATUS=listening, MAINPID=os.getpid())

    def serve(self) -> int:
        try:
            loop.serve()
        finally:
            self._stopped.set()
            notify(STOPPING=1)
            log.info("stopping: finishing the copies in hand")
            if self.control is not None:
                self.control.stop()
            if self.metrics is not None:
                self.metrics.stop()
            if self.recorder is not None:
                self.recorder.close(wait=True)
            self.sinks.close_all()
            self._remove_socket()
            if self.options.pidfile:
                with contextlib.suppress(OSError):
                    os.unlink(self.options.pidfile)
        log.info("%s", MailspyMilter.answer_times.summary())
        log.info("stopped")
        return 0

    # -- rules ---------------------------------------------------------------

    def _load_rules(self, found: list[Diagnostic] | None = None) -> RuleSet:
        """The rules to run; StartError when they may not run. Every diagnostic is
        logged and, when `found` is given, kept there too."""
        began = time.perf_counter()
        result = load_running_rules(self.options.rules)
        for diagnostic in result.diagnostics:
            log.log(logging.ERROR if diagnostic.is_error else logging.WARNING, "%s", diagnostic)
        if found is not None:
            found += result.diagnostics
        if not result.ok:
            as_user = f"--user {self.options.user} " if self.options.user else ""
            raise StartError(f"{counted(len(result.errors), 'error')} in the rules; fix them "
                             f"and check with: mailspy check-rules {as_user}-d "
                             f"{self.options.rules.rules_dir}")
        if not result.files:
            log.info("no rules files in %s: recording every message as the original "
                     "mailspy did", self.options.rules.rules_dir)
        try:
            result.rules.prepare()  # the index and the regexes, now, not on the first message
        except PatternError as exc:
            raise StartError(f"mailspy's regex engine cannot build a regex the checks "
                             f"passed: {exc.message}") from exc
        self.loads.took = time.perf_counter() - began
        return result.rules

    def _load_rules_as_run_user(self, account: privileges.Account, spool: Spool) -> RuleSet:
        """Read the rules again once root is gone, as every reload will: a rules, list
        or key file that only root can read, or a spool its user cannot reach, stops
        the start instead of every later reload (or every copy)."""
        try:
            spool.ids()
        except OSError as exc:
            raise StartError(f"user {account.name} cannot use the spool {spool.root}: "
                             f"{_why(exc)}; every directory above it must let that user "
                             "through (chmod o+x), or give another --spool-dir") from exc
        with _collector_paused(start=True):
            return self._load_rules()

    def reload(self) -> dict[str, Any]:
        """SIGHUP or `mailspy reload`: swap in the new rules only when all of them are
        valid and usable, and never trade rules files for none (an emptied, renamed or
        unmounted directory). Returns the verdict, for `mailspy reload`."""
        if self.recorder is not None:
            self.recorder.deliverer.rescan()  # also picks up `mailspy spool retry`
        notify(RELOADING=1)
        found: list[Diagnostic] = []
        with self._reload_lock, _collector_paused():
            try:
                rules = self._load_rules(found)
                running = self.recorder.rules if self.recorder is not None else None
                if running is not None and running.files and not rules.files:
                    raise StartError(f"no rules files in {self.options.rules.rules_dir} "
                                     "(it is empty, missing or renamed), where "
                                     f"{_describe(running)} are running")
                self._check_targets(rules, found)
                self._open_logs(rules)
            except (StartError, OSError) as exc:
                message = f"reload refused, the running rules stay in place: {exc}"
                log.error("%s", message)
                notify(READY=1)
                self.loads.refused()
                return _verdict(False, message, found)
            assert self.recorder is not None
            self.loads.swap(self.recorder, rules)
            self.loaded_at = time.time()
            message = f"reloaded: {_describe(rules)}"
            log.info("%s", message)
            notify(READY=1, STATUS=message)
            return _verdict(True, message, found)

    def status(self) -> dict[str, Any]:
        """What the daemon is doing, for `mailspy status`."""
        assert self.recorder is not None
        recorder, connections = self.recorder, MailspyMilter.connections
        return {
            "version": version(), "pid": os.getpid(), "started": self.started,
            "uptime": time.time() - self.started,
            "socket": self.options.socket.libmilter_form,
            "rules": {"count": len(recorder.rules), "files": list(recorder.rules.files),
                      "loaded_at": self.loaded_at, "hits": dict(recorder.hits),
                      "shadow_hits": dict(recorder.shadow_hits),
                      "shadow_log": recorder.rules.shadow_log},
            "messages": recorder.counters.messages,
            "end_of_message": MailspyMilter.answer_times.percentiles(),
            "connections": {"open": connections.count, "refused": connections.refused},
            "spool": recorder.spool.summary(),
            "problems": {"spool failures": recorder.counters.spool_failures,
                         "answered TEMPFAIL": recorder.counters.tempfailed,
                         "copies lost": recorder.counters.copies_lost,
                         "records lost": sum(recorder.counters.records_lost.values())},
        }

    def _check_targets(self, rules: RuleSet, found: list[Diagnostic] | None = None) -> None:
        """What the user mailspy runs as cannot use: refused like a broken rule."""
        found_here = target_problems(rules)
        for diagnostic in found_here:
            log.log(logging.ERROR if diagnostic.is_error else logging.WARNING, "%s", diagnostic)
        if found is not None:
            found += found_here
        problems = [d for d in found_here if d.is_error]
        if problems:
            raise StartError(f"{counted(len(problems), 'target')} that user "
                             f"{privileges.user_name()} cannot use; fix them and check with: "
                             f"mailspy check-rules --user {privileges.user_name()}")

    def stop(self) -> None:
        """SIGTERM/SIGINT: libmilter finishes the connections in hand and returns."""
        log.info("stop requested")
        # pymilter's stop() does not return before the accept loop wakes up,
        # so the thread that wakes it must already be running.
        threading.Thread(target=self._wake_until_stopped, name="mailspy-wake", daemon=True).start()
        loop.stop()

    def _wake_until_stopped(self) -> None:
        """libmilter notices a stop only when its accept loop wakes: connect until it does."""
        for _ in range(100):
            if self._stopped.wait(0.2):
                return
            _connect_once(self.options.socket)

    def reopen_logs(self) -> None:
        """SIGUSR1: logrotate has renamed the logs; write to new files."""
        for path, exc in self.sinks.reopen_all():
            log.error("cannot reopen %s: %s; still writing to the old file", path, exc)
        log.info("log files reopened")

    def _open_logs(self, rules: RuleSet) -> None:
        """Open every log now, as the user mailspy runs as, to fail early: the shadow
        log when there are shadow rules, but none of the logs they name."""
        for rule in rules.rules:
            for action in rule.actions:
                spec = ACTIONS[action.name]
                if spec.kind == LOG and spec.open is not None and not rule.shadow:
                    try:
                        self.sinks.get(action.target, spec.open)
                    except OSError as exc:
                        raise StartError(f"{rule.position}: cannot open log {action.target} "
                                         f"for rule '{rule.name}': {_why(exc)}") from exc
        if rules.shadow_log is not None:
            try:
                self.sinks.get(rules.shadow_log, LogFile)
            except OSError as exc:
                raise StartError(f"cannot open the shadow log {rules.shadow_log} "
                                 f"(--shadow-log): {_why(exc)}") from exc

    def _make_log_dirs(self, rules: RuleSet, account: privileges.Account | None) -> None:
        """Directories mailspy may make, owned by the user it runs as: every target's
        under `--root`, else only the default log directory, when a rule logs there.
        Any other missing directory is more likely a typo in a rules file, reported
        when the log is opened."""
        owner = (account.uid, account.gid) if account else None
        targets = {os.path.dirname(a.target) for r in rules.rules for a in r.actions
                   if ACTIONS[a.name].target == PATH and not r.shadow}
        if rules.shadow_log is not None:
            targets.add(os.path.dirname(rules.shadow_log))
        if not self.options.rules.defaults.root:
            targets &= {defaults.LOG_DIR}
        for directory in sorted(targets):
            try:
                safefs.make_dirs(directory, 0o750, owner, user=owner)
            except NotADirectoryError as exc:
                raise StartError(f"cannot make the log directory {directory}: a file is in "
                                 f"its way (the original mailspy's log?); move it: mv "
                                 f"{directory} {directory}.old") from exc
            except OSError as exc:
                raise StartError(f"cannot make the log directory {directory}: "
                                 f"{_why(exc)}") from exc

    def _connection_limit(self) -> int:
        """Raise the descriptor limit as far as allowed; keep connections under it."""
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != hard:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                soft = hard
        wanted = self.options.max_connections
        room = soft - FD_RESERVE - 4 * self.options.delivery.workers
        if soft != resource.RLIM_INFINITY and room < wanted:
            log.warning("only %d file descriptors allowed: at most %d milter connections at "
                        "once instead of %d; raise LimitNOFILE= in the unit", soft,
                        max(room, 1), wanted)
            return max(room, 1)
        return wanted

    def _open_spool(self, account: privileges.Account | None) -> Spool:
        spool = Spool(self.options.spool_dir)
        try:
            spool.create((account.uid, account.gid) if account else None)
            spool.lock()
        except (OSError, SpoolBusyError) as exc:
            why = _why(exc) if isinstance(exc, OSError) else str(exc)
            raise StartError(f"cannot use the spool {spool.root}: {why}; give another "
                             "with --spool-dir") from exc
        if removed := spool.clean_tmp():
            log.info("removed %d half-written spool entries (never acknowledged)", removed)
        return spool

    # -- socket --------------------------------------------------------------

    def _open_metrics(self) -> None:
        """Bind the metrics port now, beside the milter socket: a port that is taken
        stops the start; it is served once the daemon runs."""
        if self.options.metrics_listen is None:
            return
        host, port = self.options.metrics_listen
        try:
            self.metrics = MetricsServer((host, port), self)
        except OSError as exc:
            raise StartError(f"cannot serve metrics on {host}:{port}: {_why(exc)}; give "
                             "another --metrics-listen") from exc

    def _make_runtime_dir(self, account: privileges.Account | None) -> None:
        """Where the control socket lives: the user's (systemd's RuntimeDirectory=)."""
        owner = (account.uid, account.gid) if account else None
        try:
            safefs.make_dirs(self.options.runtime_dir, 0o750, owner, user=owner)
        except OSError as exc:
            raise StartError(f"cannot make the runtime directory {self.options.runtime_dir}: "
                             f"{_why(exc)}; give another with --runtime-dir") from exc

    def _write_pidfile(self) -> None:
        path = self.options.pidfile
        if not path:
            return
        try:
            with safefs.open_dir_path(os.path.dirname(path) or "/") as directory:
                fd = os.open(os.path.basename(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC
                             | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=directory)
            with open(fd, "w") as out:
                out.write(f"{os.getpid()}\n")
        except OSError as exc:
            raise StartError(f"cannot write the pidfile {path}: {_why(exc)}") from exc

    def _open_socket(self, account: privileges.Account | None) -> None:
        """The socket is made 0660 by the umask at bind time and handed over without
        following a link, so a user who can write in its directory cannot make
        root change another file."""
        spec, access = self.options.socket, self.options.socket_access
        if spec.family == "unix":
            _prepare_unix_socket(Path(spec.path))
        loop.register(spec.libmilter_form, self.options.milter_timeout)
        previous = os.umask(0o777 & ~access.mode)
        try:
            loop.open_socket(remove_stale=True)
        except Exception as exc:
            raise StartError(_socket_problem(spec, exc)) from exc
        finally:
            os.umask(previous)
        if spec.family == "unix":
            owner = access.owner if access.owner is not None else \
                (account.uid if account else -1)
            group = access.group if access.group is not None else \
                (account.gid if account else os.getgid())
            os.chown(spec.path, owner, group, follow_symlinks=False)

    def _remove_socket(self) -> None:
        spec = self.options.socket
        if spec.family == "unix":
            with contextlib.suppress(OSError):
                os.unlink(spec.path)


@contextlib.contextmanager
def _collector_paused(start: bool = False) -> Iterator[None]:
    """Load rules without stalling the answers to the MTA, and keep them out of
    every later garbage collection.

    A full collection scans every object and holds the interpreter while it
    does: with 20,000 rules loaded, about a second, during which no
    connection is answered. Loading rules makes no reference cycles (a test
    keeps it so), so the collector is paused while they load, and what is
    alive afterwards — the rules above all — is frozen: later collections
    skip it. Freed rules are still freed, by reference counting. Meanwhile
    the interpreter hands over to a waiting connection thread every
    millisecond instead of every five. At start, before any connection, the
    one-off garbage of building the parser is collected first.
    """
    gc.disable()
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)
        if start:
            gc.collect()
        gc.freeze()
        gc.enable()


def _why(exc: OSError) -> str:
    return str(exc) if isinstance(exc, safefs.UnsafePathError) else exc.strerror or str(exc)


def _socket_problem(spec: SocketSpec, exc: Exception) -> str:
    """Why libmilter could not open the socket, in words a postmaster can act on."""
    where = spec.libmilter_form
    if spec.family == "unix":
        return (f"cannot make the socket {spec.path}: {exc}; check that its directory "
                "exists and is writable, or give another with -p")
    try:
        socket.getaddrinfo(spec.host, spec.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return (f"cannot listen on {where}: the host {spec.host!r} does not resolve; "
                "give an address like 127.0.0.1 or ::1 with -p")
    return (f"cannot listen on {where}: the port is taken by another program, or the "
            f"address is not this host's; see `ss -ltnp 'sport = :{spec.port}'`, or give "
            "another with -p")


def _prepare_unix_socket(path: Path) -> None:
    """Create the socket's directory; refuse to steal a live daemon's socket."""
    try:
        safefs.make_dirs(str(path.parent), 0o755)
    except OSError as exc:
        raise StartError(f"cannot make the socket's directory {path.parent}: "
                         f"{_why(exc)}") from exc
    if not path.exists():
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except OSError:
        return  # stale: nobody listens, libmilter removes it
    finally:
        probe.close()
    raise StartError(f"another milter is listening on {path}; stop it first "
                     "or give another socket with -p")


def _connect_once(spec: SocketSpec) -> None:
    address: str | tuple[str, int]
    if spec.family == "unix":
        family, address = socket.AF_UNIX, spec.path
    else:
        family = socket.AF_INET6 if spec.family == "inet6" else socket.AF_INET
        host = spec.host if spec.host not in ("0.0.0.0", "::") else "localhost"
        address = (host, spec.port)
    with contextlib.suppress(OSError), socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        probe.connect(address)


def setup_logging(syslog_socket: str | None) -> None:
    """mailspy's own messages: to syslog's mail facility, or to stderr."""
    logger = logging.getLogger("mailspy")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    if syslog_socket and os.path.exists(syslog_socket):
        to_syslog = logging.handlers.SysLogHandler(
            syslog_socket, facility=logging.handlers.SysLogHandler.LOG_MAIL)
        to_syslog.setFormatter(logging.Formatter("mailspy[%(process)d]: %(message)s"))
        to_syslog.append_nul = False  # syslog wants a message, not a C string
        logger.addHandler(to_syslog)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s mailspy: %(levelname)s: %(message)s"))
    logger.addHandler(handler)
    if syslog_socket:
        logger.warning("no syslog socket at %s; logging to stderr", syslog_socket)


def _describe(rules: RuleSet) -> str:
    return f"{counted(len(rules), 'rule')} from {counted(len(rules.files), 'file')}"


def _verdict(ok: bool, message: str, found: list[Diagnostic]) -> dict[str, Any]:
    return {"ok": ok, "message": message,
            "errors": [str(d) for d in found if d.is_error],
            "warnings": [str(d) for d in found if not d.is_error]}
