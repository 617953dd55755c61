"""`mailspy run` (and the original `mailspy -p SOCKET ...`): options -> daemon."""

from __future__ import annotations

import argparse
import math
import sys

from mailspy import defaults
from mailspy.daemon.socketspec import SocketSpecError, parse_socket
from mailspy.rules.compile import Defaults
from mailspy.rules.regexes import DEFAULT_TIMEOUT
from mailspy.rules.running import RulesConfig
from mailspy.spool.deliver import DeliverySettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The original's one-letter flags (so -h is not help here: use --help)."""
    parser.add_argument("--help", action="help", help="show this help and exit")
    parser.add_argument("-p", dest="socket", default=defaults.SOCKET, metavar="SOCKET",
                        help="unix:/path, /path, inet:PORT@HOST or inet6:PORT@HOST "
                        f"(default: {defaults.SOCKET})")
    parser.add_argument("-d", dest="rules_dir", metavar="RULES_DIR",
                        help=f"rules directory (default: {defaults.RULES_DIR})")
    parser.add_argument("-f", dest="summary_log", default=defaults.SUMMARY_LOG,
                        metavar="SUMMARY_LOG",
                        help=f"where log-summary writes by default ({defaults.SUMMARY_LOG})")
    parser.add_argument("-h", dest="header_log", metavar="HEADER_LOG",
                        help=f"where log-headers writes by default ({defaults.HEADER_LOG}); "
                        "with no rules files, log every header block there")
    parser.add_argument("-P", dest="pipe_command", metavar="COMMAND",
                        help="pipe every message to COMMAND (a rule placed first)")
    parser.add_argument("-u", dest="user", metavar="USER",
                        help="run as USER once the socket and the logs are open")
    parser.add_argument("--spool-dir", default=defaults.SPOOL_DIR, metavar="DIR",
                        help=f"where copies wait for delivery (default: {defaults.SPOOL_DIR})")
    d = DeliverySettings()
    parser.add_argument("--pipe-timeout", type=float, default=d.pipe_timeout, metavar="SECONDS",
                        help=f"kill a pipe command after this long (default: {d.pipe_timeout:g})")
    parser.add_argument("--workers", type=int, default=d.workers, metavar="N",
                        help=f"copies made at once (default: {d.workers})")
    parser.add_argument("--per-target", type=int, default=d.per_target, metavar="N",
                        help="copies made at once to one command or Maildir "
                        f"(default: {d.per_target})")
    parser.add_argument("--retry-base", type=float, default=d.retry_base, metavar="SECONDS",
                        help="first retry of a temporary failure after this long, doubling "
                        f"each time (default: {d.retry_base:g})")
    parser.add_argument("--retry-max", type=float, default=d.retry_max, metavar="SECONDS",
                        help=f"longest wait between retries (default: {d.retry_max:g})")
    parser.add_argument("--max-attempts", type=int, default=d.max_attempts, metavar="N",
                        help=f"give a copy up after N tries (default: {d.max_attempts})")
    parser.add_argument("--max-age", type=float, default=d.max_age, metavar="SECONDS",
                        help=f"give a copy up after this long (default: {d.max_age:g}, 5 days)")
    parser.add_argument("--scan-interval", type=float, default=d.scan_interval,
                        metavar="SECONDS", help="look for entries revived by `mailspy spool "
                        f"retry` this often (default: {d.scan_interval:g})")
    parser.add_argument("--syslog", nargs="?", const="/dev/log", default=None,
                        metavar="SOCKET", help="send mailspy's own messages to syslog, mail "
                        "facility (the socket defaults to /dev/log)")
    parser.add_argument("--max-connections", type=int, default=1000, metavar="N",
                        help="milter connections served at once; beyond them messages are "
                        "answered TEMPFAIL and the MTA retries (default: 1000)")
    parser.add_argument("--on-spool-failure", choices=("tempfail", "accept"),
                        default="tempfail", help="when a copy a rule owes cannot be spooled "
                        "(a full disk): make the MTA keep the message and retry (tempfail, "
                        "the default), or accept it and lose the copies (accept)")
    parser.add_argument("--regex-timeout", type=_positive, default=DEFAULT_TIMEOUT,
                        metavar="SECONDS", help="give up a rule's regex search of one value "
                        "after this long, and count the rule as not matched; a message's "
                        f"searches get ten times this in all (default: {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--root", default="", metavar="DIR",
                        help="write every log and Maildir under DIR (for trying rules "
                        "without touching the real paths)")


def _positive(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def main(args: argparse.Namespace) -> int:
    from mailspy.daemon.service import Options, run

    try:
        socket = parse_socket(args.socket)
    except SocketSpecError as exc:
        print(f"mailspy: error: -p {exc}", file=sys.stderr)
        return 1
    targets = Defaults(
        summary_log=args.summary_log,
        header_log=args.header_log or defaults.HEADER_LOG,
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
                       on_spool_failure=args.on_spool_failure))
