"""`mailspy replay SOURCE`: the rules over last month's mail, running no action.

SOURCE is a Maildir, an mbox file or a directory of message files. The
envelope of each message is rebuilt as `test-rules` and the fixtures
rebuild it (`message.parse.rebuild_envelope`): from what delivery left in
it, else from its From:, To: and Cc:. The result is how many messages each
rule would have matched, with examples; a shadow rule is counted like any
other and marked as one.
"""

from __future__ import annotations

import json
import mailbox
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import BinaryIO, TextIO, cast

from mailspy.actions.clean import clean
from mailspy.diagnostics import counted
from mailspy.evaluate import evaluate
from mailspy.message.parse import read_message, rebuild_envelope
from mailspy.rules.compile import RuleSet

EXAMPLES = 3


@dataclass
class RuleTally:
    rule: str
    matched: int = 0
    shadow: bool = False
    examples: list[str] = field(default_factory=list)


@dataclass
class Replay:
    messages: int = 0
    unreadable: int = 0
    seconds: float = 0.0
    tallies: dict[str, RuleTally] = field(default_factory=dict)
    first_unreadable: OSError | None = None  # what the first unreadable message said
    denied: bool = False  # whether any was unreadable for want of permission


class SourceError(Exception):
    """SOURCE itself cannot be read: nothing to replay."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error


Opener = Callable[[], BinaryIO]


def replay(rules: RuleSet, source: Path, progress: Progress | None = None) -> Replay:
    """Raises SourceError when SOURCE cannot be read; a message that cannot be is
    counted in `unreadable` and the replay goes on."""
    result = Replay(tallies={r.name: RuleTally(r.name, shadow=r.shadow) for r in rules.rules})
    started = time.monotonic()
    total, files = messages_in(source)
    if progress:
        progress.total = total
    for name, opener in files:
        try:
            with closing(opener()) as fp:
                message = read_message(fp)
        except OSError as exc:
            _unreadable(result, exc, name)
            if progress:
                progress.update(result.messages + result.unreadable)
            continue
        try:
            message.envelope = rebuild_envelope(message).envelope
            verdict = evaluate(rules, message)
            for rule in [*verdict.rules, *verdict.shadow]:
                tally = result.tallies[rule.name]
                tally.matched += 1
                if len(tally.examples) < EXAMPLES:
                    tally.examples.append(message.subject)
        finally:
            if message.body is not None:
                message.body.close()
        result.messages += 1
        if progress:
            progress.update(result.messages + result.unreadable)
    result.seconds = time.monotonic() - started
    if progress:
        progress.done(result.messages + result.unreadable)  # every message looked at
    return result


def _unreadable(result: Replay, error: OSError, name: str) -> None:
    result.unreadable += 1
    result.denied = result.denied or isinstance(error, PermissionError)
    if result.first_unreadable is None:
        if error.filename is None:
            error.filename = name
        result.first_unreadable = error


def messages_in(source: Path) -> tuple[int, Iterator[tuple[str, Opener]]]:
    """How many messages, and a way to open each (its name, an opener): a Maildir, an
    mbox, or a directory of message files (searched recursively). SourceError when
    SOURCE cannot be read; an unreadable subdirectory yields an opener that raises."""
    try:
        if source.is_dir() and all((source / d).is_dir() for d in ("cur", "new", "tmp")):
            box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(source, factory=None,
                                                                      create=False)
        elif source.is_dir():
            return _files_below(source)
        else:
            box = mailbox.mbox(source, factory=None, create=False)
        keys = sorted(box.iterkeys())
    except OSError as exc:
        raise SourceError(exc) from exc
    return len(keys), ((f"{source}: {key}", partial(_maildir_file, box, key)) for key in keys)


def _maildir_file(box: mailbox.Mailbox[mailbox.Message], key: str) -> BinaryIO:
    return cast(BinaryIO, box.get_file(key))


def _files_below(top: Path) -> tuple[int, Iterator[tuple[str, Opener]]]:
    found: list[tuple[str, Opener]] = []

    def cannot_list(error: OSError) -> None:
        if Path(error.filename or top) == top:
            raise SourceError(error)
        found.append((str(error.filename), partial(_raise, error)))

    for folder, _, names in os.walk(top, onerror=cannot_list):
        found += [(str(path), partial(_open, path))
                  for path in (Path(folder, name) for name in names) if path.is_file()]
    found.sort(key=lambda item: item[0])
    return len(found), iter(found)


def _open(path: Path) -> BinaryIO:
    return open(path, "rb")  # closed by the caller


def _raise(error: OSError) -> BinaryIO:
    raise error


class Progress:
    """`[#######.....]  58%  5,800/10,000 messages  2,310/s` on stderr: redrawn in place
    ten times a second on a terminal, a line every five seconds otherwise."""

    WIDTH = 30

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.started = time.monotonic()
        self.shown = self.started  # a run shorter than a redraw shows its result once
        self.tty = self.stream.isatty()
        self.total = 0

    def update(self, count: int) -> None:
        now = time.monotonic()
        if now - self.shown < (0.1 if self.tty else 5.0):
            return
        self.shown = now
        self._draw(count, now)

    def done(self, count: int) -> None:
        self._draw(count, time.monotonic())
        if self.tty:
            self.stream.write("\n")
        self.stream.flush()

    def _draw(self, count: int, now: float) -> None:
        rate = count / max(now - self.started, 1e-9)
        share = count / self.total if self.total else 1.0
        filled = int(share * self.WIDTH)
        line = (f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {share:>4.0%}  "
                f"{count:,}/{self.total:,} messages  {rate:,.0f}/s")
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()


def _shown(tally: RuleTally) -> str:
    return f"{tally.rule} (shadow)" if tally.shadow else tally.rule


def as_table(result: Replay) -> str:
    width = max([len(_shown(t)) for t in result.tallies.values()] + [4])
    lines = [f"{counted(result.messages, 'message')} in {result.seconds:.1f} s"
             f" ({result.messages / max(result.seconds, 1e-9):,.0f}/s)"
             + (f", {result.unreadable} unreadable" if result.unreadable else ""),
             "", f"{'rule':<{width}}  {'matched':>8}  examples"]
    for tally in result.tallies.values():
        examples = " | ".join(clean(e)[:60] for e in tally.examples)
        lines.append(f"{_shown(tally):<{width}}  {tally.matched:>8,}  {examples}")
    return "\n".join(lines)


def as_json(result: Replay) -> str:
    return json.dumps({
        "messages": result.messages, "unreadable": result.unreadable,
        "seconds": round(result.seconds, 3),
        "rules": [{"rule": t.rule, "shadow": t.shadow, "matched": t.matched,
                   "examples": t.examples} for t in result.tallies.values()],
    })


def main(rules: RuleSet, source: str, as_json_output: bool) -> int:
    path = Path(source)
    try:
        if not path.exists():
            print(f"mailspy: error: '{source}' does not exist; give a Maildir, an mbox or a "
                  "directory of messages", file=sys.stderr)
            return 2
        result = replay(rules, path, Progress())
    except (SourceError, PermissionError) as caught:
        exc = caught if isinstance(caught, SourceError) else SourceError(caught)
        advice = "; run replay as a user who can read it, e.g. root or its owner" \
            if isinstance(exc.error, PermissionError) else ""
        print(f"mailspy: error: cannot read '{source}': {exc}{advice}", file=sys.stderr)
        return 1
    print(as_json(result) if as_json_output else as_table(result))
    if result.first_unreadable is not None:
        print(unreadable_note(result), file=sys.stderr)
    return 0


def unreadable_note(result: Replay) -> str:
    error = result.first_unreadable
    assert error is not None
    count = result.unreadable
    what = f"{count} message{'s' if count != 1 else ''} could not be read"
    first = f"{'first: ' if count > 1 else ''}{error.filename}: {error.strerror or error}"
    advice = "; run replay as a user who can read them, e.g. root or their owner" \
        if result.denied else ""
    return f"mailspy: note: {what} ({first}){advice}"
