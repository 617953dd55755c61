"""Parse tree -> Rule objects: the one place where the language gets its meaning.

The grammar accepts any name as a field or an action; here each name is
checked against the table of fields (mailspy/fields.py) and the actions'
own declarations (mailspy/actions/), strings are unescaped, regexes are
tried, paths must be absolute, and every problem becomes a diagnostic that
points at the exact spot. The transformer never stops at the first problem:
it keeps going so that one `check-rules` run shows them all.

One transformer serves every parse, in any thread; what a parse finds goes
to that parse's own `Collector` (`collecting`), never to shared state.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import re
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from lark import Token, Transformer, v_args

from mailspy.actions.action import NAMES, PATH, TEXT, WORD, ActionType, Option
from mailspy.actions.registry import ACTIONS
from mailspy.diagnostics import Diagnostic, Position, error, suggest, warning
from mailspy.fields import ADDRESS, FIELDS, SIZE
from mailspy.rules.ast import Action, All, Condition, Field, Not, Regex, Rule, Test, TestValue
from mailspy.rules.ast import Any as AnyOf
from mailspy.rules.regexes import (
    DEFAULT_TIMEOUT,
    REGEX_FLAGS,
    PatternError,
    compile_pattern,
    regex_flags,
    turkish_i,
)

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2,
          "g": 1024**3, "gb": 1024**3}


def network_problem(text: str) -> str | None:
    """Why the text is not an IP address or CIDR network, or None when it is one."""
    try:
        ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return (f"'{text}' is not an IP address or network; write e.g. 192.0.2.7, "
                "10.0.0.0/8 or 2001:db8::/32")
    return None


def unquote(token: Token) -> str:
    r"""`"a \"b\" c:\\x"` -> `a "b" c:\x`; any other backslash stays as written."""
    return re.sub(r"\\([\"\\])", r"\1", token.value[1:-1])


@dataclass(frozen=True)
class WrittenOption:
    """An option as written: its name, its value (a list as a tuple) and what kind of
    value that is (WORD, TEXT or NAMES), with the tokens to point at."""

    name: Token
    value: str | tuple[str, ...]
    kind: str
    tokens: tuple[Token, ...]  # the value's: one, or one per name of a list


@dataclass
class Collector:
    """The file one parse reads, and the problems it finds."""

    file: str
    diagnostics: list[Diagnostic] = field(default_factory=list)


_collector: ContextVar[Collector] = ContextVar("mailspy_rules_collector")


@contextlib.contextmanager
def collecting(file: str) -> Iterator[Collector]:
    """Diagnostics of the parses within, for this thread only."""
    collector = Collector(file)
    token = _collector.set(collector)
    try:
        yield collector
    finally:
        _collector.reset(token)


class RulesTransformer(Transformer[Token, Any]):
    """Builds `Rule`s as the parser reduces, reporting to the current Collector."""

    @property
    def diagnostics(self) -> list[Diagnostic]:
        return _collector.get().diagnostics

    def _at(self, token: Token, offset: int = 0) -> Position:
        return Position(_collector.get().file, token.line or 1, (token.column or 1) + offset)

    def _error(self, where: Position, message: str) -> None:
        self.diagnostics.append(error(where, message))

    def start(self, rules: list[Rule]) -> list[Rule]:
        return rules

    def rule(self, children: list[Any]) -> Rule:
        shadow = children[0].type == "SHADOW"
        _, name_token, *body = children[1:] if shadow else children
        position = self._at(children[0])
        condition = body.pop(0) if body and not isinstance(body[0], Action) else None
        name = unquote(name_token)
        if not name.strip():
            self._error(self._at(name_token), "a rule needs a name: rule \"NAME\" {")
        if not body:
            self._error(position, f"rule '{name}' has no action; add one, e.g. log-summary")
        self._unknown_actions(body)
        actions = tuple(a for a in body if a.name != "stop")
        stops = any(a.name == "stop" for a in body)
        return Rule(name, position, condition, actions, stops, shadow)

    def _unknown_actions(self, body: list[Action]) -> None:
        """An unknown action is often an option written without `with` (`log-summary
        subject drop`): said so, and its value, read as one more action, is not
        reported again."""
        owner: ActionType | None = None  # the last known action
        value_follows = False
        for action in body:
            spec = ACTIONS.get(action.name)
            if spec is not None:
                owner, value_follows = spec, False
                continue
            if value_follows and action.target is None:
                value_follows = False  # the value of the option before: reported with it
                continue
            option = owner.option(action.name) if owner is not None else None
            if owner is not None and option is not None:
                self._error(action.position, (
                    f"'{action.name}' is an option of '{owner.name}', not an action: "
                    f"write options after 'with', separated by commas: {owner.name} "
                    f"with {action.name} {_example(option)}"))
                value_follows = action.target is None
            else:
                self._error(action.position, suggest(action.name, ACTIONS, "action"))
                value_follows = False

    @v_args(inline=True)
    def condition(self, expr: Condition) -> Condition:
        return expr

    def or_expr(self, operands: list[Condition]) -> AnyOf:
        return AnyOf(tuple(operands))

    def and_expr(self, operands: list[Condition]) -> All:
        return All(tuple(operands))

    @v_args(inline=True)
    def negation(self, operand: Condition) -> Not:
        return Not(operand)

    # -- fields and tests -------------------------------------------------

    def field(self, children: list[Token]) -> Field:
        name_token, *rest = children
        name = name_token.value
        argument = unquote(rest[0]) if rest else None
        spec = FIELDS.get(name)
        where = self._at(name_token)
        if spec is None:
            self._error(where, suggest(name, FIELDS, "field"))
        elif spec.argument and argument is None:
            self._error(where, f'field \'{name}\' needs {spec.argument}: {name} "..."')
        elif argument is not None and not spec.argument:
            self._error(self._at(rest[0]), f"field '{name}' takes no argument")
        return Field(name, argument, where)

    def _text_test(self, field: Field, op: str, value: TestValue, token: Token) -> Test:
        spec = FIELDS.get(field.name)
        if spec is not None and spec.kind == SIZE:
            self._error(self._at(token),
                        f"'{field.name}' is a number; compare it with >, <, >=, <=")
        return Test(field, op, value, self._at(token))

    @v_args(inline=True)
    def is_test(self, field: Field, text: Token) -> Test:
        return self._text_test(field, "is", unquote(text), text)

    @v_args(inline=True)
    def contains_test(self, field: Field, text: Token) -> Test:
        return self._text_test(field, "contains", unquote(text), text)

    @v_args(inline=True)
    def glob_test(self, field: Field, glob: Token) -> Test:
        return self._text_test(field, "glob", unquote(glob), glob)

    @v_args(inline=True)
    def regex_test(self, field: Field, token: Token) -> Test:
        body, _, flags = token.value[1:].rpartition("/")
        self._check_regex(token, body, flags)
        return self._text_test(field, "regex", Regex(body, flags), token)

    def _check_regex(self, token: Token, body: str, flags: str) -> None:
        for i, letter in enumerate(flags):
            if letter not in REGEX_FLAGS:
                where = self._at(token, len(body) + 2 + i)
                self._error(where, f"unknown regex flag '{letter}'; flags are i, m, s")
        try:
            pattern = compile_pattern(body, regex_flags(flags))
        except PatternError as exc:
            self._error(self._at(token, 1 + exc.pos), exc.message)
            return
        for offset, what in pattern.warnings:
            char = body[offset] if offset < len(body) else "?"
            self.diagnostics.append(warning(self._at(token, 1 + offset), (
                f"{what.lower()}: this '{char}' is read as a plain character; write "
                f"\\{char} to say so, as a later Python may read it otherwise")))
        if pattern.nested_repeat:
            self.diagnostics.append(warning(self._at(token), (
                "a repeat inside a repeat, like (a+)+, can backtrack for minutes on a "
                "crafted value; mailspy stops the search after --regex-timeout "
                f"({DEFAULT_TIMEOUT:g} s by default) and the rule does not match, so a sender "
                "can slip mail past it: rewrite the regex without the nested repeat")))
        dotless = turkish_i(body, regex_flags(flags))
        if dotless is not None:
            self.diagnostics.append(warning(self._at(token, 1 + dotless), (
                "ignoring case, ı matches only ı and I, and İ only İ and i, "
                "where Python's re matched all of i I ı İ alike; write the letters "
                "you mean, e.g. [iIıİ]")))

    def in_test(self, children: list[Any]) -> Test:
        field, *texts = children
        spec = FIELDS.get(field.name)
        if spec is not None and spec.kind == ADDRESS:
            for token in texts:
                problem = network_problem(unquote(token))
                if problem:
                    self._error(self._at(token), problem)
        return self._text_test(field, "in", tuple(unquote(t) for t in texts), texts[0])

    @v_args(inline=True)
    def in_file_test(self, field: Field, path: Token) -> Test:
        value = unquote(path)
        if not value.startswith("/"):
            self._error(self._at(path),
                        f"relative path '{value}': list files need an absolute path")
        return self._text_test(field, "in-file", value, path)

    @v_args(inline=True)
    def compare_test(self, field: Field, comparison: Token, quantity: Token) -> Test:
        spec = FIELDS.get(field.name)
        if spec is not None and spec.kind != SIZE:
            self._error(self._at(comparison), f"'{field.name}' is text; compare it with is, "
                        "contains, matches or in")
        return Test(field, comparison.value, self._quantity(quantity), self._at(quantity))

    def _quantity(self, token: Token) -> float:
        shape = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", token.value)
        assert shape is not None  # the grammar's QUANTITY
        number, unit = shape.groups()
        factor: float | None = _UNITS.get(unit.lower())
        if factor is None:
            where = self._at(token, len(number))
            self._error(where, f"unknown size unit '{unit}'; use K, M or G (powers of 1024)")
            factor = 1
        return float(number) * factor

    # -- actions -----------------------------------------------------------

    def action(self, children: list[Any]) -> Action:
        name_token, *rest = children
        target_token = next((c.children[0] for c in rest
                             if not isinstance(c, list | WrittenOption)), None)
        target = unquote(target_token) if target_token is not None else None
        written = [o for c in rest if isinstance(c, list | WrittenOption)
                   for o in (c if isinstance(c, list) else [c])]
        spec = ACTIONS.get(name_token.value)
        options = self._options(name_token.value, spec, written)
        action = Action(name_token.value, target, self._at(name_token),
                        tuple((o.name.value, _joined(o.value)) for o in options),
                        tuple(self._at(o.name) for o in options))
        if spec is not None:  # an unknown action is reported by its rule
            self._check_action(spec, action, target_token)
        return action

    @v_args(inline=True)
    def action_option(self, name: Token, value: Token) -> WrittenOption:
        return WrittenOption(name, value.value, WORD, (value,))

    def action_options(self, options: list[WrittenOption]) -> list[WrittenOption]:
        return options

    @v_args(inline=True)
    def option(self, name: Token, value: Token | list[Token]) -> WrittenOption:
        if isinstance(value, list):
            return WrittenOption(name, tuple(unquote(t) for t in value), NAMES, tuple(value))
        if value.type == "STRING":
            return WrittenOption(name, unquote(value), TEXT, (value,))
        return WrittenOption(name, value.value, WORD, (value,))

    def option_list(self, strings: list[Token]) -> list[Token]:
        return strings

    def _options(self, action: str, spec: ActionType | None,
                 written: list[WrittenOption]) -> list[WrittenOption]:
        """The options that are valid for the action; every other one reported (those
        of an unknown action are not: the action is)."""
        valid: list[WrittenOption] = []
        seen: dict[str, WrittenOption] = {}
        if spec is None:
            return valid
        for option in written:
            name = option.name.value
            declared = spec.option(name)
            if declared is None:
                names = [o.name for o in spec.options]
                self._error(self._at(option.name), (
                    suggest(name, names, "option") if names
                    else f"'{action}' takes no options"))
            elif name in seen:
                self._error(self._at(option.name), f"option '{name}' is given twice; the "
                            f"first is at {self._at(seen[name].name)}")
            elif problem := self._option_problem(declared, option):
                token, message = problem
                self._error(self._at(token), message)
            elif (other := next((o for o in declared.excludes if o in seen), None)):
                self._error(self._at(option.name), f"'{name}' and '{other}' exclude each "
                            f"other: give one of them")
            else:
                seen[name] = option
                valid.append(_as_list(declared, option))
        return valid

    def _option_problem(self, option: Option,
                        written: WrittenOption) -> tuple[Token, str] | None:
        """What is wrong with the value, and the token to point at."""
        name, value, first = option.name, written.value, written.tokens[0]
        if option.kind == WORD:
            if not isinstance(value, str) or written.kind != WORD:
                return first, f"'{name}' takes one of the words {_listed(option.values)}, unquoted"
            if value not in option.values:
                close = difflib.get_close_matches(value, option.values, n=1, cutoff=0.5)
                hint = f"did you mean '{close[0]}'?" if close else \
                    f"'{name}' takes {_listed(option.values)}"
                return first, f"unknown value '{value}' for '{name}'; {hint}"
            return None
        if written.kind == WORD:
            return first, f"'{name}' takes {_example(option)}, in quotes"
        if option.kind == TEXT and written.kind == NAMES:
            return first, (f"'{name}' takes one quoted value, not a list: "
                           f"{name} {_example(option)}")
        values = value if isinstance(value, tuple) else (value,)
        for one, token in zip(values, written.tokens, strict=True):
            if option.check is not None and (problem := option.check(one)):
                return token, problem
        return None

    def _check_action(self, spec: ActionType, action: Action,
                      target_token: Token | None) -> None:
        if spec.target is None and target_token is not None:
            self._error(self._at(target_token), f"'{action.name}' takes no argument")
        elif spec.target_required and target_token is None:
            self._error(action.position, f"'{action.name}' needs a {spec.target}: "
                        f"{action.name} {spec.example}")
        elif target_token is not None:
            self._check_target(spec.target, spec.check_target, action.target or "",
                               target_token)

    def _check_target(self, kind: str | None, check: Callable[[str], str | None] | None,
                      target: str, token: Token) -> None:
        where = self._at(token)
        if kind == PATH and not target.startswith("/"):
            self._error(where, f"relative path '{target}': paths must be absolute, "
                        "starting with '/'")
        elif check is not None and (problem := check(target)):
            self._error(where, problem)


def _joined(value: str | tuple[str, ...]) -> str:
    """Options are held as text: a list of names joined by commas."""
    return ",".join(value) if isinstance(value, tuple) else value


def _as_list(option: Option, written: WrittenOption) -> WrittenOption:
    """A NAMES option written as one quoted name is a list of one."""
    if option.kind == NAMES and isinstance(written.value, str):
        return WrittenOption(written.name, (written.value,), NAMES, written.tokens)
    return written


def _example(option: Option) -> str:
    if option.kind == WORD:
        return option.values[1] if len(option.values) > 1 else option.default
    return '["Name", ...]' if option.kind == NAMES else '"/path"'


def _listed(words: list[str] | tuple[str, ...]) -> str:
    words = list(words)
    return ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else "".join(words)
