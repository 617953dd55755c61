"""The `mailspy` command line: argument parsing and dispatch, nothing more."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from mailspy import defaults, version
from mailspy.commands import run
from mailspy.commands.config import ConfigError, config_path, read_config

ORIGINAL_FLAGS = ("-p", "-f", "-h", "-P", "-u")


def build_parser(config: dict[str, Any] | None = None) -> argparse.ArgumentParser:
    """Every command and option; `config` holds the configuration file's values,
    which take the place of the built-in defaults of `mailspy run`."""
    parser = argparse.ArgumentParser(
        prog="mailspy",
        description="Record mail by rules: summary lines, header dumps, pipes, Maildir copies.",
        epilog="The original usage `mailspy -p SOCKET [-f LOG] [-h LOG] [-P CMD] [-u USER]` "
        "is the same as `mailspy run ...`.",
    )
    parser.add_argument("--version", action="version", version=f"mailspy {version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    daemon = commands.add_parser("run", help="run the milter daemon", add_help=False)
    run.add_arguments(daemon)
    daemon.set_defaults(**(config or {}))

    check = commands.add_parser("check-rules", help="check rules files; exit 1 on any error")
    _rules_arguments(check)
    check.add_argument("--test", metavar="DIR", help="also run the fixtures in DIR: message "
                       "files (NAME.eml) with what the rules must do to them (NAME.toml)")
    check.add_argument("--user", metavar="USER", help="check as USER, whom the daemon runs "
                       "as: what it cannot read, create or open is an error (default: the "
                       "configuration file's user)")
    check.add_argument("--config", metavar="FILE", help="the daemon's configuration file "
                       f"(default: {defaults.CONFIG_FILE} when it exists)")
    check.add_argument("--list-logs", action="store_true", help="print every log file the "
                       "rules write, one per line (for logrotate), and check nothing else")
    check.add_argument("--offline", action="store_true", help="check the rules only, not "
                       "whether this host's user can use their logs and Maildirs (for rules "
                       "checked before they are installed)")
    check.add_argument("--root", metavar="DIR", help="as `mailspy run --root DIR`: every "
                       "log and Maildir under DIR, which the daemon makes")

    for name, what in (("reload", "make the running daemon re-read its rules; exit 0 only "
                        "when the new rules are live"),
                       ("status", "what the running daemon is doing")):
        control = commands.add_parser(name, help=what)
        control.add_argument("--runtime-dir", metavar="DIR", help="the daemon's "
                             f"--runtime-dir (default: {defaults.RUNTIME_DIR}, or the "
                             "configuration file's)")
        control.add_argument("--config", metavar="FILE", help="the daemon's configuration "
                             f"file (default: {defaults.CONFIG_FILE} when it exists)")
        if name == "status":
            control.add_argument("--json", action="store_true", help="print JSON")

    test = commands.add_parser("test-rules", help="show what the rules would do with a message")
    _rules_arguments(test, files=False)
    test.add_argument("--from", dest="sender", metavar="ADDR",
                      help="envelope sender (default: the From: header)")
    test.add_argument("--to", dest="recipients", metavar="ADDR", action="append", default=[],
                      help="envelope recipient, once per recipient (default: To: and Cc:)")
    test.add_argument("--json", action="store_true", help="print one JSON object")
    test.add_argument("message", metavar="MESSAGE_FILE")
    replaying = commands.add_parser("replay", help="evaluate the rules over a Maildir, an mbox "
                                 "or a directory of messages; run no action")
    _rules_arguments(replaying, files=False)
    replaying.add_argument("--json", action="store_true", help="print one JSON object")
    replaying.add_argument("source", metavar="SOURCE")

    from mailspy.commands import report

    report.add_arguments(commands.add_parser("report", help="write HTML reports of the "
                                             "summary logs"))

    spool = commands.add_parser("spool", help="list, retry or drop spooled copies")
    spool.add_argument("--spool-dir", default=defaults.SPOOL_DIR, metavar="DIR",
                       help=f"the daemon's --spool-dir (default: {defaults.SPOOL_DIR})")
    verbs = spool.add_subparsers(dest="verb", metavar="VERB")
    listing = verbs.add_parser("list", help="every queued and dead entry (the default)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    again = verbs.add_parser("retry", help="deliver dead or waiting entries again")
    again.add_argument("ids", nargs="*", metavar="ID")
    again.add_argument("--all", action="store_true", help="every entry")
    gone = verbs.add_parser("drop", help="delete entries")
    gone.add_argument("ids", nargs="*", metavar="ID")
    gone.add_argument("--all-dead", action="store_true", help="every dead entry")
    return parser


def _rules_arguments(parser: argparse.ArgumentParser, files: bool = True) -> None:
    parser.add_argument("-d", dest="rules_dir", metavar="RULES_DIR",
                        help=f"rules directory (default: {defaults.RULES_DIR})")
    if files:
        parser.add_argument("files", nargs="*", metavar="FILE",
                            help="rules files to check instead of (or besides) -d")


def normalise_argv(argv: list[str]) -> list[str]:
    """The original usage (`mailspy -p SOCKET ...`) means `mailspy run`; a bare `-h`
    is a request for help, as everywhere else."""
    if argv == ["-h"]:
        return ["--help"]
    if argv and argv[0] in ORIGINAL_FLAGS:
        return ["run", *argv]
    return argv


def daemon_config(argv: list[str]) -> dict[str, Any]:
    """The configuration file's values for `mailspy run`'s options (by destination)."""
    path, named = config_path(argv)
    daemon = argparse.ArgumentParser(add_help=False)
    run.add_arguments(daemon)
    return read_config(path, daemon, named)


def main(argv: list[str] | None = None) -> int:
    argv = normalise_argv(sys.argv[1:] if argv is None else argv)
    try:
        config = daemon_config(argv) if argv[:1] in (["run"], ["check-rules"], ["reload"],
                                                     ["status"]) else {}
    except ConfigError as exc:
        print(f"mailspy: error: {exc}", file=sys.stderr)
        return 1
    args = build_parser(config).parse_args(argv)
    if args.command == "check-rules":
        from mailspy.commands import check_rules

        return check_rules.main(args.rules_dir, args.files, args.test,
                                user=args.user or config.get("user"),
                                list_logs=args.list_logs, offline=args.offline,
                                config={**config, **({"root": args.root} if args.root else {})})
    if args.command in ("reload", "status"):
        from mailspy.commands import control

        runtime = args.runtime_dir or config.get("runtime_dir") or defaults.RUNTIME_DIR
        if args.command == "reload":
            return control.reload(runtime)
        return control.status(runtime, args.json)
    if args.command == "test-rules":
        from mailspy.commands import test_rules

        return test_rules.main(args.rules_dir, [], args.message, args.sender,
                               args.recipients, args.json)
    if args.command == "replay":
        from mailspy.commands import replay
        from mailspy.commands.check_rules import rules_for_dry_run

        result = rules_for_dry_run(args.rules_dir, [])
        if result is None or not result.ok:
            return 1
        return replay.main(result.rules, args.source, args.json)
    if args.command == "spool":
        from mailspy.commands import spool
        from mailspy.spool.store import Spool

        store = Spool(args.spool_dir)
        if args.verb == "retry":
            return spool.retry(store, args.ids, args.all)
        if args.verb == "drop":
            return spool.drop(store, args.ids, args.all_dead)
        return spool.list_entries(store, getattr(args, "json", False))
    if args.command == "run":
        from mailspy.commands import run

        return run.main(args)
    if args.command == "report":
        from mailspy.commands import report

        return report.main(args)
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
