"""`mailspy run` (and the original `mailspy -p SOCKET ...`): options -> daemon.

Every option also has a long name, which is its key in the configuration file
(/etc/mailspy/mailspy.conf, see commands/config.py).
"""

from __future__ import annotations

import argparse
import grp
import math
import pwd
import sys

from mailspy import defaults
from mailspy.spool.settings import DeliverySettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The original's one-letter flags (so -h is not help here: use --help), each with
    a long name too, and mailspy's own options."""
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument("--config", metavar="FILE", help="read options from FILE (TOML; "
                        f"default: {defaults.CONFIG_FILE} when it exists)")
    parser.add_argument("-p", "--socket", dest="socket", default=defaults.SOCKET,
                        metavar="SOCKET", help="unix:/path, /path, inet:PORT@HOST or "
                        f"inet6:PORT@HOST (default: {defaults.SOCKET})")
    parser.add_argument("-d", "--rules-dir", dest="rules_dir", metavar="RULES_DIR",
                        help=f"rules directory (default: {defaults.RULES_DIR})")
    parser.add_argument("-f", "--summary-log", dest="summary_log", default=defaults.SUMMARY_LOG,
                        metavar="SUMMARY_LOG",
                        help=f"where log-summary writes by default ({defaults.SUMMARY_LOG})")
    parser.add_argument("-h", "--header-log", dest="header_log", metavar="HEADER_LOG",
                        help=f"where log-headers writes by default ({defaults.HEADER_LOG}); "
                        "with no rules files, log every header block there")
    parser.add_argument("--shadow-log", default=defaults.SHADOW_LOG, metavar="FILE",
                        help="where shadow rules record what they would have done, one "
                        f"JSON object per message they match ({defaults.SHADOW_LOG})")
    parser.add_argument("--shadow-log-privacy", default="", metavar="OPTIONS",
                        help="privacy options of the shadow log's records, as after `with` "
                        "in a rule: \"addresses hash, subject drop\" (none by default)")
    parser.add_argument("-P", "--pipe-command", dest="pipe_command", metavar="COMMAND",
                        help="pipe every message to COMMAND (a rule placed first)")
    parser.add_argument("-u", "--user", dest="user", metavar="USER",
                        help="run as USER once the spool and the socket are made")
    parser.add_argument("--spool-dir", default=defaults.SPOOL_DIR, metavar="DIR",
                        help=f"where copies wait for delivery (default: {defaults.SPOOL_DIR})")
    parser.add_argument("--runtime-dir", default=defaults.RUNTIME_DIR, metavar="DIR",
                        help="where the control socket of `mailspy reload` and `mailspy "
                        f"status` is made (default: {defaults.RUNTIME_DIR})")
    parser.add_argument("--pidfile", metavar="FILE",
                        help="write the daemon's process id to FILE (none by default)")
    parser.add_argument("--socket-mode", type=_mode, default=0o660, metavar="MODE",
                        help="a unix socket's mode, in octal (default: 0660)")
    parser.add_argument("--socket-owner", metavar="USER",
                        help="a unix socket's owner (default: the -u user)")
    parser.add_argument("--socket-group", metavar="GROUP",
                        help="a unix socket's group (default: the -u user's group); the "
                        "MTA's user must be in it")
    d = DeliverySettings()
    parser.add_argument("--pipe-timeout", type=_positive, default=d.pipe_timeout,
                        metavar="SECONDS",
                        help=f"kill a pipe command after this long (default: {d.pipe_timeout:g})")
    parser.add_argument("--workers", type=_count, default=d.workers, metavar="N",
                        help=f"copies made at once (default: {d.workers})")
    parser.add_argument("--per-target", type=_count, default=d.per_target, metavar="N",
                        help="copies made at once to one command or Maildir "
                        f"(default: {d.per_target})")
    parser.add_argument("--retry-base", type=_positive, default=d.retry_base,
                        metavar="SECONDS", help="first retry of a temporary failure after "
                        f"this long, doubling each time (default: {d.retry_base:g})")
    parser.add_argument("--retry-max", type=_positive, default=d.retry_max, metavar="SECONDS",
                        help=f"longest wait between retries (default: {d.retry_max:g})")
    parser.add_argument("--max-attempts", type=_count, default=d.max_attempts, metavar="N",
                        help=f"give a copy up after N tries (default: {d.max_attempts})")
    parser.add_argument("--max-age", type=_positive, default=d.max_age, metavar="SECONDS",
                        help=f"give a copy up after this long (default: {d.max_age:g}, 5 days)")
    parser.add_argument("--scan-interval", type=_positive, default=d.scan_interval,
                        metavar="SECONDS", help="look for entries revived by `mailspy spool "
                        f"retry` this often (default: {d.scan_interval:g})")
    parser.add_argument("--syslog", nargs="?", const="/dev/log", default=None,
                        metavar="SOCKET", help="send mailspy's own messages to syslog, mail "
                        "facility (the socket defaults to /dev/log)")
    parser.add_argument("--max-connections", type=_count, default=1000, metavar="N",
                        help="milter connections served at once; beyond them messages are "
                        "answered TEMPFAIL and the MTA retries (default: 1000)")
    parser.add_argument("--on-spool-failure", choices=("tempfail", "accept"),
                        default="tempfail", help="when a copy a rule owes cannot be spooled "
                        "(a full disk): make the MTA keep the message and retry (tempfail, "
                        "the default), or accept it and lose the copies (accept)")
    parser.add_argument("--regex-timeout", type=_positive, default=defaults.REGEX_TIMEOUT,
                        metavar="SECONDS", help="give up a rule's regex search of one value "
                        "after this long, and count the rule as not matched; a message's "
                        f"searches get ten times this in all (default: {defaults.REGEX_TIMEOUT:g})")
    parser.add_argument("--metrics-listen", metavar="ADDR:PORT",
                        help="serve Prometheus metrics at http://ADDR:PORT/metrics, e.g. "
                        "127.0.0.1:9154 (default: none); a loopback address unless "
                        "--metrics-scope network")
    parser.add_argument("--metrics-scope", choices=("loopback", "network"), default="loopback",
                        help="loopback (the default): --metrics-listen takes only a loopback "
                        "address; network: any address, for a Prometheus on another host "
                        "(the metrics have no password: firewall the port)")
    parser.add_argument("--root", default="", metavar="DIR",
                        help="write every log and Maildir under DIR (for trying rules "
                        "without touching the real paths)")


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a number of seconds, not {text!r}") from None
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {text}")
    return value


def _mode(text: str) -> int:
    try:
        value = int(text, 8)
    except ValueError:
        raise argparse.ArgumentTypeError(f"an octal mode like 0660, not {text!r}") from None
    if not 0 <= value <= 0o777:
        raise argparse.ArgumentTypeError(f"an octal mode from 0000 to 0777, not {text}")
    return value


def _id(name: str | None, database: str) -> int | None:
    """A user's or group's number from its name (or number); None when not given."""
    if name is None:
        return None
    if name.isdigit():
        return int(name)
    try:
        if database == "user":
            return pwd.getpwnam(name).pw_uid
        return grp.getgrnam(name).gr_gid
    except KeyError:
        listing = "passwd" if database == "user" else "group"
        raise ValueError(f"no such {database} '{name}'; give an existing {database}'s name "
                         f"or number (getent {listing} lists them)") from None


def main(args: argparse.Namespace) -> int:
    # the daemon's modules only for the daemon: every other command starts without them
    from mailspy.daemon.metrics import ListenError, parse_listen
    from mailspy.daemon.service import Options, SocketAccess, run
    from mailspy.daemon.socketspec import SocketSpecError, parse_socket
    from mailspy.rules.compile import Defaults
    from mailspy.rules.running import RulesConfig

    try:
        socket = parse_socket(args.socket)
    except SocketSpecError as exc:
        print(f"mailspy: error: -p {exc}", file=sys.stderr)
        return 1
    try:
        owner = _id(args.socket_owner, "user")
    except ValueError as exc:
        print(f"mailspy: error: --socket-owner: {exc}", file=sys.stderr)
        return 1
    try:
        group = _id(args.socket_group, "group")
    except ValueError as exc:
        print(f"mailspy: error: --socket-group: {exc}", file=sys.stderr)
        return 1
    access = SocketAccess(args.socket_mode, owner, group)
    try:
        metrics = parse_listen(args.metrics_listen, args.metrics_scope) \
            if args.metrics_listen else None
    except ListenError as exc:
        print(f"mailspy: error: --metrics-listen {exc}", file=sys.stderr)
        return 1
    targets = Defaults(
        summary_log=args.summary_log,
        header_log=args.header_log or defaults.HEADER_LOG,
        shadow_log=args.shadow_log,
        shadow_privacy=args.shadow_log_privacy,
        root=args.root,
        regex_timeout=args.regex_timeout,
    )
    rules = RulesConfig(args.rules_dir or defaults.RULES_DIR, targets,
                        header_log_given=args.header_log is not None,
                        pipe_command=args.pipe_command, explicit=args.rules_dir is not None)
    delivery = DeliverySettings(
        workers=args.workers, per_target=args.per_target, pipe_timeout=args.pipe_timeout,
        retry_base=args.retry_base, retry_max=args.retry_max, max_attempts=args.max_attempts,
        max_age=args.max_age, scan_interval=args.scan_interval,
    )
    return run(Options(socket, rules, spool_dir=args.spool_dir, user=args.user,
                       delivery=delivery, syslog=args.syslog,
                       max_connections=args.max_connections,
                       on_spool_failure=args.on_spool_failure,
                       runtime_dir=args.runtime_dir, pidfile=args.pidfile,
                       socket_access=access, metrics_listen=metrics))
