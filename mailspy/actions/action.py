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

Options = Mapping[str, str]  # option name -> value, as written in the rule


class Sink(Protocol):
    """Where a LOG action's records go; one per target, shared by every connection."""

    path: str
    lost: int  # records not written, ever

    def write(self, record: str | bytes) -> int: ...
    def reopen(self) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Option:
    """An option of an action (`format json`): its name and values, the first the default."""

    name: str
    values: tuple[str, ...]

    @property
    def default(self) -> str:
        return self.values[0]


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
        words += [f"[{o.name} {'|'.join(o.values[1:])}]" for o in self.options]
        return " ".join(words)
