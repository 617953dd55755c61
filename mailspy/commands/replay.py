"""`mailspy replay SOURCE`: the rules over last month's mail, running no action.

SOURCE is a Maildir, an mbox file or a directory of message files. The
envelope of each message is rebuilt as `test-rules` and the fixtures
rebuild it (`message.parse.rebuild_envelope`): from what delivery left in
it, else from its From:, To: and Cc:. The result is how many messages each
rule would have matched, with examples.
"""

from __future__ import annotations

import json
import mailbox
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO, cast

from mailspy.actions.clean import clean
from mailspy.evaluate import evaluate
from mailspy.message.parse import read_message, rebuild_envelope
from mailspy.rules.compile import RuleSet

EXAMPLES = 3


@dataclass
class RuleTally:
    rule: str
    matched: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass
class Replay:
    messages: int = 0
    unreadable: int = 0
    seconds: float = 0.0
    tallies: dict[str, RuleTally] = field(default_factory=dict)


def replay(rules: RuleSet, source: Path, progress: Progress | None = None) -> Replay:
    result = Replay(tallies={r.name: RuleTally(r.name) for r in rules.rules})
    started = time.monotonic()
    total, files = messages_in(source)
    if progress:
        progress.total = total
    for opened in files:
        with closing(opened) as fp:
            try:
                message = read_message(fp)
            except OSError:
                result.unreadable += 1
                continue
        try:
            message.envelope = rebuild_envelope(message).envelope
            for rule in evaluate(rules, message).rules:
                tally = result.tallies[rule.name]
                tally.matched += 1
                if len(tally.examples) < EXAMPLES:
                    tally.examples.append(message.subject)
        finally:
            if message.body is not None:
                message.body.close()
        result.messages += 1
        if progress:
            progress.update(result.messages)
    result.seconds = time.monotonic() - started
    if progress:
        progress.done(result.messages)
    return result


def messages_in(source: Path) -> tuple[int, Iterator[BinaryIO]]:
    """How many messages, and their raw files one at a time: a Maildir, an mbox, or a
    directory of message files (searched recursively)."""
    if source.is_dir() and all((source / d).is_dir() for d in ("cur", "new", "tmp")):
        box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(source, factory=None,
                                                                  create=False)
    elif source.is_dir():
        paths = sorted(p for p in source.rglob("*") if p.is_file())
        return len(paths), (open(p, "rb") for p in paths)  # closed by the caller
    else:
        box = mailbox.mbox(source, factory=None, create=False)
    keys = sorted(box.iterkeys())
    return len(keys), (cast(BinaryIO, box.get_file(key)) for key in keys)


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


def as_table(result: Replay) -> str:
    width = max([len(t.rule) for t in result.tallies.values()] + [4])
    lines = [f"{result.messages:,} messages in {result.seconds:.1f} s"
             f" ({result.messages / max(result.seconds, 1e-9):,.0f}/s)"
             + (f", {result.unreadable} unreadable" if result.unreadable else ""),
             "", f"{'rule':<{width}}  {'matched':>8}  examples"]
    for tally in result.tallies.values():
        examples = " | ".join(clean(e)[:60] for e in tally.examples)
        lines.append(f"{tally.rule:<{width}}  {tally.matched:>8,}  {examples}")
    return "\n".join(lines)


def as_json(result: Replay) -> str:
    return json.dumps({
        "messages": result.messages, "unreadable": result.unreadable,
        "seconds": round(result.seconds, 3),
        "rules": [{"rule": t.rule, "matched": t.matched, "examples": t.examples}
                  for t in result.tallies.values()],
    })


def main(rules: RuleSet, source: str, as_json_output: bool) -> int:
    path = Path(source)
    if not path.exists():
        print(f"mailspy: error: '{source}' does not exist; give a Maildir, an mbox or a "
              "directory of messages", file=sys.stderr)
        return 2
    result = replay(rules, path, Progress())
    print(as_json(result) if as_json_output else as_table(result))
    return 0
