"""Problems found in rules files, reported the way gcc does.

`FILE:LINE:COLUMN: error: MESSAGE` lets a postmaster's editor jump to the
spot; every stage that finds a problem in the rules speaks this form.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Position:
    """Where something stands in a rules file; line and column count from 1."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, order=True)
class Diagnostic:
    position: Position
    severity: str  # "error" or "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.position}: {self.severity}: {self.message}"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def error(position: Position, message: str) -> Diagnostic:
    return Diagnostic(position, "error", message)


def warning(position: Position, message: str) -> Diagnostic:
    return Diagnostic(position, "warning", message)


def suggest(word: str, choices: Iterable[str], kind: str) -> str:
    """`unknown field 'sendr'; did you mean 'sender'?`, or the valid names."""
    choices = sorted(choices)
    lowered = word.lower()
    close = difflib.get_close_matches(lowered, choices, n=1, cutoff=0.6)
    close += [c for c in choices if lowered and (c.startswith(lowered) or lowered in c)]
    if close:
        return f"unknown {kind} '{word}'; did you mean '{close[0]}'?"
    return f"unknown {kind} '{word}'; valid {kind}s are: {', '.join(choices)}"


def counted(n: int, word: str) -> str:
    """`1 error`, `2 errors`: a count with its noun."""
    return f"{n} {word}{'' if n == 1 else 's'}"
