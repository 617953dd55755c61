"""`mailspy report`: options -> a static HTML report of the summary logs."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfoNotFoundError

from mailspy.report.addresses import LocalDomains, read_list
from mailspy.report.clock import Clock, local_zone, zone
from mailspy.report.periods import FORMS, parse_when
from mailspy.report.pseudonym import KeyFileError, Pseudonymizer, read_key
from mailspy.report.select import OnlyList, Selection
from mailspy.report.settings import Settings
from mailspy.report.site import SiteError
from mailspy.report.sources import STDIN
from mailspy.report.text import visible

USAGE_ERROR = 2
SWITCH_INTERVAL = 0.0005  # seconds


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a number of 1 or more")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = Settings()
    parser.add_argument("logs", nargs="*", metavar="LOG",
                        help="summary logs, text or JSON Lines, plain or gzip-compressed, "
                        "rotated ones too (read oldest first); '-' or none: standard input")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", metavar="DIR", help="write the report to DIR "
                       "(replaced whole; DIR must be new, empty or an earlier report)")
    where.add_argument("--history", metavar="DIR", help="keep one report per ISO week "
                       "under DIR and an index of the weeks")
    parser.add_argument("--keep-weeks", type=int, default=52, metavar="N",
                        help="with --history, remove weeks older than N weeks (default: "
                        "52; 0 keeps every week)")
    parser.add_argument("--local-domain", action="append", default=[], metavar="DOMAIN",
                        help="one of the site's own domains (subdomains included); repeat "
                        "for each")
    parser.add_argument("--local-domains", metavar="FILE",
                        help="the site's own domains, one per line, # comments")
    parser.add_argument("--exclude-local", action="store_true",
                        help="leave out mail that never left the site (from a local address "
                        "to local addresses)")
    parser.add_argument("--only", metavar="FILE", help="only mail from or to the addresses "
                        "in FILE (one per line, first word; @domain for a whole domain; "
                        "# comments)")
    parser.add_argument("--pseudonymize", metavar="KEYFILE", help="replace every local "
                        "part, subject and file name by a pseudonym keyed by KEYFILE")
    parser.add_argument("--since", metavar="WHEN", help=f"only mail from WHEN on ({FORMS})")
    parser.add_argument("--until", metavar="WHEN", help="only mail before WHEN")
    parser.add_argument("--tz", metavar="ZONE", help="time zone of the report, e.g. "
                        "Europe/Paris or UTC (default: the machine's)")
    parser.add_argument("--title", default=d.title, help=f"the report's title ({d.title!r})")
    parser.add_argument("--top", type=_positive, default=d.top, metavar="N",
                        help=f"rows in each table of addresses or domains ({d.top})")
    parser.add_argument("--top-local", type=_positive, default=d.top_local, metavar="N",
                        help=f"rows in each table of local addresses or domains "
                        f"({d.top_local})")
    parser.add_argument("--max-messages", type=_positive, default=d.keep, metavar="N",
                        help=f"newest messages on the page of an address or a domain "
                        f"({d.keep})")
    parser.add_argument("--page-size", type=_positive, default=d.page_size, metavar="N",
                        help=f"messages per page of the message log ({d.page_size})")


def _fail(text: str) -> int:
    print(f"mailspy report: error: {text}", file=sys.stderr)
    return USAGE_ERROR


def main(args: argparse.Namespace) -> int:
    from mailspy.report.history import write_history
    from mailspy.report.run import Job, warn, write_report

    try:
        clock = Clock(zone(args.tz) if args.tz else local_zone())
    except (ZoneInfoNotFoundError, ValueError):
        return _fail(f"--tz {args.tz}: unknown time zone; give an IANA name such as "
                     "Europe/Paris, or UTC (see /usr/share/zoneinfo)")
    now = time.time()
    selection = Selection()
    for option in ("since", "until"):
        text = getattr(args, option)
        if text is not None:
            try:
                setattr(selection, option, parse_when(text, clock, now))
            except ValueError as exc:
                return _fail(f"--{option}: {exc}")
    domains = list(args.local_domain)
    try:
        if args.local_domains:
            domains += read_list(args.local_domains)
        if args.only:
            selection.only = OnlyList(read_list(args.only))
    except OSError as exc:
        return _fail(f"{exc.filename}: {exc.strerror}")
    selection.local = LocalDomains(domains)
    if args.exclude_local and not selection.local:
        return _fail("--exclude-local needs the site's domains: --local-domain DOMAIN or "
                     "--local-domains FILE")
    selection.exclude_local = args.exclude_local
    pseudonymizer = None
    if args.pseudonymize:
        try:
            key, warning = read_key(args.pseudonymize)
        except KeyFileError as exc:
            return _fail(str(exc))
        if warning:
            warn(f"warning: {warning}")
        pseudonymizer = Pseudonymizer(key)
    logs = args.logs or [STDIN]
    if STDIN in logs and sys.stdin.isatty():
        return _fail("no LOG given and standard input is a terminal: name the logs "
                     "(e.g. /var/log/mailspy /var/log/mailspy.1) or pipe one in")
    settings = Settings(title=visible(args.title), page_size=args.page_size, keep=args.max_messages,
                        top=args.top, top_local=args.top_local, local=selection.local,
                        pseudonymized=pseudonymizer is not None)
    job = Job(logs, settings, selection, clock, pseudonymizer, now)
    # The thread that writes the files waits for the interpreter after each system call;
    # a short switch interval hands it over sooner (Python's 5 ms leaves it idle).
    interval = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        if args.history:
            outcome = write_history(job, Path(args.history), args.keep_weeks)
        else:
            outcome = write_report(job, Path(args.output))
    except SiteError as exc:
        return _fail(str(exc))
    except OSError as exc:
        warn(f"error: writing the report failed: {exc}")
        return 1
    finally:
        sys.setswitchinterval(interval)
    return _summary(outcome, warn)


def _count(number: int, noun: str) -> str:
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def _summary(outcome, warn) -> int:  # type: ignore[no-untyped-def]
    reading = outcome.reading
    for week in outcome.kept:
        warn(f"kept the existing report of week {week}")
    where = ", ".join(outcome.written) if outcome.written else "nothing new"
    warn(f"wrote {where}: {_count(outcome.messages, 'message')} from "
         f"{_count(reading.lines, 'line')}")
    if reading.problems:
        first = reading.listed[0]
        what = "line or input" if reading.problems == 1 else "lines or inputs"
        warn(f"{reading.problems:,} {what} could not be used (listed in the report); "
             f"the first: {first}")
    return 1 if reading.unreadable else 0
