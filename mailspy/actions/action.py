"""What an action is: the declaration each action module makes of itself.

An action module (`summary.py`, `maildir.py`...) holds the action's code and,
beside it, one `ACTION = ActionType(...)` saying everything the rest of
mailspy needs: its name and argument as the rules language sees them, what
kind of action it is, where it writes when the rule names no target, and
how it runs. The registry finds these declarations; the language, the
checks, the dispatcher, the daemon and the spool read them and name no
action themselves.

Three kinds:
- LOG: a record written while the MTA waits for its answer, through a sink
  (a log file) that the daemon opens once per target and reopens on SIGUSR1;
- COPY: a copy of the message owed to a target, spooled (fsync'd) before the
  answer and delivered later by the spool's workers, retried when it fails
  for a while;
- CONTROL: changes evaluation itself (`stop`), writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mailspy.message.model import Message

LOG, COPY, CONTROL = "log", "copy", "control"
PATH, COMMAND = "path", "command"  # target kinds the language checks itself

Options = Mapping[str, str]  # option name -> value, as written in the rule (a list: joined by ",")

WORD, TEXT, NAMES = "word", "text", "names"  # what an option's value is
BARE_OPTION = "format"  # the one option the language lets stand without `with`: `format json`


class Sink(Protocol):
    """Where a LOG action's records go; one per target, shared by every connection."""

    path: str
    lost: int  # records not written, ever

    def write(self, record: str | bytes) -> int: ...
    def reopen(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Option:
    """An option of an action (`format json`, `with subject drop`).

    A WORD option takes one of `values`, the first its default; a TEXT option
    a quoted string (`key "/etc/mailspy/privacy.key"`), checked by `check`; a
    NAMES option a list of quoted names (`keep-headers ["From", "Date"]`),
    each checked by `check`, and held joined by commas. `doc` says what it
    does, for the documentation's table of options."""

    name: str
    values: tuple[str, ...] = ()
    kind: str = WORD
    doc: str = ""
    check: Callable[[str], str | None] | None = None  # a problem with a (listed) value
    excludes: tuple[str, ...] = ()  # options the same action cannot take beside it

    @property
    def default(self) -> str:
        return self.values[0] if self.values else ""

    @property
    def usage(self) -> str:
        """How it is written: `subject keep|hash|drop`, `key "/path"`, `keep-headers [...]`."""
        shown = {WORD: "|".join(self.values), TEXT: '"/path"', NAMES: '["Name", ...]'}
        return f"{self.name} {shown[self.kind]}"


@dataclass(frozen=True)
class CopyContext:
    """What the spool tells a COPY action about this attempt."""

    key: str  # the same on every attempt of the same copy: for idempotent delivery
    may_exist: bool  # False when no earlier attempt of this copy can have run
    timeout: float  # how long a command may run
    options: Options = field(default_factory=dict)


@dataclass(frozen=True)
class CopyResult:
    """How an attempt went: `temporary` failures are retried, others given up."""

    ok: bool
    temporary: bool = False
    reason: str = ""


def _no_steps(options: Options) -> frozenset[str]:
    return frozenset()


@dataclass(frozen=True)
class ActionType:
    name: str
    doc: str  # what it does, as docs/rules.md's table of actions says it (Markdown)
    kind: str  # LOG, COPY or CONTROL
    target: str | None = None  # PATH, COMMAND, another word for what it names, or None
    target_required: bool = False
    example: str = ""  # a target to show when a required one is missing
    default: str | None = None  # the `Defaults` field that gives a missing target
    options: tuple[Option, ...] = ()
    check_target: Callable[[str], str | None] | None = None  # a problem with a target
    probe: Callable[[str], str | None] | None = None  # why this host's user cannot use it
    steps: Callable[[Options], frozenset[str]] = _no_steps  # SMTP steps it needs sent
    open: Callable[[str], Sink] | None = None  # LOG: the sink for a target
    record: Callable[[Message, Sequence[str], Options], str | bytes] | None = None  # LOG
    deliver: Callable[[str, Message, CopyContext], CopyResult] | None = None  # COPY
    rank: int = 50  # its place in the documentation's table, then by name

    def option(self, name: str) -> Option | None:
        return next((o for o in self.options if o.name == name), None)

    @property
    def usage(self) -> str:
        """How it is written in a rule: `log-summary ["/path"] [format json]`."""
        words = [self.name]
        if self.target is not None:
            shown = {PATH: '"/path"', COMMAND: '"command args"'}.get(self.target,
                                                                   f'"{self.target}"')
            words.append(shown if self.target_required else f"[{shown}]")
        bare = self.option(BARE_OPTION)
        if bare is not None:
            words.append(f"[{bare.name} {'|'.join(bare.values[1:])}]")
        if any(o is not bare for o in self.options):
            words.append("[with OPTION VALUE, ...]")
        return " ".join(words)
