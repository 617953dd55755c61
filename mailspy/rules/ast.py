"""The rules as parsed: plain data that remembers where each piece was written.

Every node keeps its `Position` so that a problem found at any later stage
(checking, compiling, a reload in the daemon) points back into the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mailspy.diagnostics import Position


@dataclass(frozen=True)
class Field:
    name: str  # "sender", "header", ...
    argument: str | None  # the header name for `header "X-Spam"`
    position: Position

    def __str__(self) -> str:
        return self.name if self.argument is None else f'{self.name} "{self.argument}"'


@dataclass(frozen=True)
class Regex:
    pattern: str
    flags: str  # the letters after the closing slash


TestValue = str | Regex | tuple[str, ...] | float  # per op: text, regex, list, number


@dataclass(frozen=True)
class Test:
    """`FIELD OP VALUE`; what OP means is decided by rules/compile.py."""

    field: Field
    op: str  # "is", "contains", "glob", "regex", "in", "in-file", ">", ...
    value: TestValue
    position: Position  # of the value, where most mistakes are


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class All:
    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Any:
    operands: tuple[Condition, ...]


Condition = Test | Not | All | Any


@dataclass(frozen=True)
class Action:
    name: str
    target: str | None  # path or command; None means "the default"
    position: Position
    options: tuple[tuple[str, str], ...] = ()  # ("format", "json"); a list joined by ","
    # where each option is written, in the same order as `options`
    option_positions: tuple[Position, ...] = field(default=(), compare=False)

    def option_position(self, name: str) -> Position:
        """Where the option is written; the action's position when it is not."""
        for (written, _), where in zip(self.options, self.option_positions, strict=False):
            if written == name:
                return where
        return self.position


@dataclass(frozen=True)
class Rule:
    name: str
    position: Position
    condition: Condition | None  # None: matches every message
    actions: tuple[Action, ...]  # `stop` excluded; see `stops`
    stops: bool = False
    shadow: bool = False  # `shadow rule`: evaluated, its actions recorded, none run

    @property
    def unconditional(self) -> bool:
        return self.condition is None
