"""The `mailspy` command line: argument parsing and dispatch, nothing more."""

from __future__ import annotations

import argparse
import sys

from mailspy.commands.check_rules import DEFAULT_RULES_DIR

ORIGINAL_FLAGS = ("-p", "-f", "-h", "-P", "-u")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mailspy",
        description="Record mail by rules: summary lines, header dumps, pipes, Maildir copies.",
        epilog="The original usage `mailspy -p SOCKET [-f LOG] [-h LOG] [-P CMD] [-u USER]` "
        "is the same as `mailspy run ...`.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    from mailspy.commands import run

    run.add_arguments(commands.add_parser("run", help="run the milter daemon", add_help=False))

    check = commands.add_parser("check-rules", help="check rules files; exit 1 on any error")
    _rules_arguments(check)
    check.add_argument("--test", metavar="DIR", help="also run the fixtures in DIR: message "
                       "files (NAME.eml) with what the rules must do to them (NAME.toml)")

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
    spool.add_argument("--spool-dir", default="/var/spool/mailspy", metavar="DIR",
                       help="the daemon's --spool-dir (default: /var/spool/mailspy)")
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
                        help=f"rules directory (default: {DEFAULT_RULES_DIR})")
    if files:
        parser.add_argument("files", nargs="*", metavar="FILE",
                            help="rules files to check instead of (or besides) -d")


def normalise_argv(argv: list[str]) -> list[str]:
    """The original usage (`mailspy -p SOCKET ...`) means `mailspy run`."""
    if argv and argv[0] in ORIGINAL_FLAGS:
        return ["run", *argv]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(normalise_argv(sys.argv[1:] if argv is None else argv))
    if args.command == "check-rules":
        from mailspy.commands import check_rules

        return check_rules.main(args.rules_dir, args.files, args.test)
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
