"""Rules -> matchers, once, when the rules are loaded.

Every glob and regex is compiled here and every literal case-folded here,
so evaluating a message only calls prepared functions. Matchers read field
values through a `Values` object that computes each field once per message.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import operator
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from mailspy.diagnostics import Diagnostic, Position, error
from mailspy.rules.ast import Action, All, Any, Condition, Not, Regex, Rule, Test
from mailspy.rules.transform import REGEX_FLAGS, network_problem
from mailspy.rules.vocabulary import FIELDS

FieldKey = tuple[str, str | None]  # ("header", "X-Spam") or ("sender", None)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """ASCII case folding: only A-Z change, as SPEC says for is/contains/glob/in."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


class Values(Protocol):
    def raw(self, key: FieldKey) -> tuple: ...
    def folded(self, key: FieldKey) -> tuple[str, ...]: ...


Matcher = Callable[[Values], bool]


@dataclass(frozen=True)
class Defaults:
    """Where an action with no target writes: SPEC's defaults, or `-f`/`-h`."""

    summary_log: str = "/var/log/mailspy"
    header_log: str = "/var/log/mailspy-headers"
    root: str = ""  # `mailspy run --root DIR`: every path target is written under DIR


DEFAULTS = Defaults()


@dataclass(frozen=True)
class PlannedAction:
    """An action with its target filled in; `key` is what makes it run once."""

    name: str
    target: str
    options: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> tuple:
        return (self.name, self.target, self.options)


@dataclass(frozen=True)
class CompiledRule:
    name: str
    position: Position
    matcher: Matcher | None  # None: matches every message
    actions: tuple[PlannedAction, ...]
    stops: bool
    fields: frozenset[FieldKey]


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[CompiledRule, ...]
    files: tuple[str, ...] = ()

    @property
    def fields(self) -> frozenset[FieldKey]:
        """Every field some rule reads: what a message must provide."""
        return frozenset().union(*(r.fields for r in self.rules))

    def __len__(self) -> int:
        return len(self.rules)


def compile_rules(
    rules: Iterable[Rule], defaults: Defaults = DEFAULTS, files: Iterable[str] = ()
) -> tuple[RuleSet, list[Diagnostic]]:
    compiler = _Compiler()
    compiled = tuple(compiler.rule(r, defaults) for r in rules)
    return RuleSet(compiled, tuple(files)), compiler.diagnostics


PATH_ACTIONS = ("log-summary", "log-headers", "archive-to-maildir")


def plan_action(action: Action, defaults: Defaults) -> PlannedAction:
    target = action.target
    if target is None:
        target = {"log-summary": defaults.summary_log, "log-headers": defaults.header_log}.get(
            action.name, ""
        )
    if defaults.root and action.name in PATH_ACTIONS:
        # normpath of an absolute path never climbs above "/", so no `..` leaves the root
        target = defaults.root.rstrip("/") + os.path.normpath("/" + target)
    return PlannedAction(action.name, target, action.options)


_COMPARE = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le,
            "==": operator.eq}


class _Compiler:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._lists: dict[str, tuple[str, ...]] = {}

    def rule(self, rule: Rule, defaults: Defaults) -> CompiledRule:
        fields: set[FieldKey] = set()
        matcher = None if rule.condition is None else self.condition(rule.condition, fields)
        actions = tuple(plan_action(a, defaults) for a in rule.actions)
        return CompiledRule(rule.name, rule.position, matcher, actions, rule.stops,
                            frozenset(fields))

    def condition(self, node: Condition, fields: set[FieldKey]) -> Matcher:
        if isinstance(node, Not):
            inner = self.condition(node.operand, fields)
            return lambda values: not inner(values)
        if isinstance(node, All):
            parts = tuple(self.condition(n, fields) for n in node.operands)
            return lambda values: all(p(values) for p in parts)
        if isinstance(node, Any):
            parts = tuple(self.condition(n, fields) for n in node.operands)
            return lambda values: any(p(values) for p in parts)
        key = (node.field.name, node.field.argument)
        fields.add(key)
        return self.test(node, key)

    def test(self, test: Test, key: FieldKey) -> Matcher:
        op, value = test.op, test.value
        if op == "is":
            text = fold(value)
            return lambda values: text in values.folded(key)
        if op == "contains":
            text = fold(value)
            return lambda values: any(text in v for v in values.folded(key))
        if op == "glob":
            glob = re.compile(fnmatch.translate(fold(value)))
            return lambda values: any(glob.match(v) for v in values.folded(key))
        if op == "regex":
            regex = _regex(value)
            if regex is None:
                return lambda values: False  # reported by the transformer
            return lambda values: any(regex.search(v) for v in values.raw(key))
        if op in ("in", "in-file"):
            entries = self._read_list(value, test.position) if op == "in-file" else value
            spec = FIELDS.get(key[0])
            if spec is not None and spec.kind == "address":
                # an inline list was checked by the transformer; a file is checked here
                where = test.position if op == "in-file" else None
                networks = self._networks(entries, where)
                return lambda values: any(in_networks(v, networks) for v in values.raw(key))
            texts = frozenset(fold(v) for v in entries)
            return lambda values: not texts.isdisjoint(values.folded(key))
        compare = _COMPARE[op]
        return lambda values: any(compare(v, value) for v in values.raw(key))

    def _read_list(self, path: str, where: Position) -> tuple[str, ...]:
        """A list file's entries, read once per load (so SIGHUP re-reads it)."""
        if not path.startswith("/"):
            return ()  # reported by the transformer
        if path not in self._lists:
            self._lists[path] = tuple(self._list_lines(path, where))
        return self._lists[path]

    def _networks(self, entries, where: Position | None) -> tuple:
        networks = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                if where is not None:
                    self.diagnostics.append(error(where, network_problem(entry) or entry))
        return tuple(networks)

    def _list_lines(self, path: str, where: Position) -> list[str]:
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                lines = [line.split("#", 1)[0].strip() for line in f]
        except OSError as exc:
            self.diagnostics.append(error(where, f"cannot read list file '{path}': "
                                          f"{exc.strerror or exc}"))
            return []
        return [line for line in lines if line]


def in_networks(value: str, networks: tuple) -> bool:
    """Whether an address (`192.0.2.7`, `[2001:db8::1]`, `IPv6:...`) lies in a network."""
    try:
        address = ipaddress.ip_address(value.strip("[]").removeprefix("IPv6:"))
    except ValueError:
        return False
    return any(address in network for network in networks)


def _regex(value: Regex) -> re.Pattern[str] | None:
    flags = 0
    for letter in value.flags:
        flags |= REGEX_FLAGS.get(letter, 0)
    try:
        return re.compile(value.pattern, flags)
    except re.error:
        return None
