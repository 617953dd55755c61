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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Protocol

from mailspy import defaults, safefs
from mailspy.actions import privacy
from mailspy.actions.action import PATH
from mailspy.actions.registry import ACTIONS
from mailspy.diagnostics import Diagnostic, Position, error, warning
from mailspy.fields import ADDRESS, FIELDS
from mailspy.rules.ast import Action, All, Condition, Not, Regex, Rule, Test
from mailspy.rules.ast import Any as AnyOf
from mailspy.rules.index import (
    EXACT,
    PREFIX,
    REGEX,
    SCAN,
    SUBSTRING,
    SUFFIX,
    Anchor,
    RuleIndex,
    glob_shape,
    substring_anchor,
)
from mailspy.rules.parse import parse_options
from mailspy.rules.regexes import (
    DEFAULT_LIMITS,
    DEFAULT_TIMEOUT,
    PatternError,
    RegexClock,
    RegexLimits,
    RegexTimeout,
    RulePattern,
    compile_pattern,
    regex_flags,
)
from mailspy.rules.transform import network_problem

MAX_LIST_FILE = 16 * 1024 * 1024

FieldKey = tuple[str, str | None]  # ("header", "X-Spam") or ("sender", None)

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(text: str) -> str:
    """ASCII case folding: only A-Z change, as `is`, `contains`, globs and `in` promise."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


class Values(Protocol):
    clock: RegexClock  # the time this message's regex searches have left

    def raw(self, key: FieldKey) -> tuple[Any, ...]: ...
    def folded(self, key: FieldKey) -> tuple[str, ...]: ...


Matcher = Callable[[Values], bool]
One = Callable[[Any], bool]  # does one value (text, or a size) pass the test?
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Anchors = list[Anchor] | None  # None: the rule must always be evaluated

# a regex's literal is looked for only when the index is built, and it may have none
_RANK = {EXACT: 0, SUFFIX: 1, PREFIX: 1, SUBSTRING: 2, REGEX: 2.5, SCAN: 3}


def _best(choices: list[list[Anchor]]) -> Anchors:
    """Of the operands of an `and`, the one whose anchors are cheapest and fewest."""
    if not choices:
        return None
    return min(choices, key=lambda a: (max((_RANK[x.kind] for x in a), default=3), len(a)))


@dataclass(frozen=True)
class Defaults:
    """Where an action with no target writes (mailspy.defaults, or `-f`/`-h`), and the
    settings of `mailspy run` that shape the compiled rules."""

    summary_log: str = defaults.SUMMARY_LOG
    header_log: str = defaults.HEADER_LOG
    shadow_log: str = defaults.SHADOW_LOG  # `mailspy run --shadow-log`: what shadow rules hit
    shadow_privacy: str = ""  # `--shadow-log-privacy`: its records' privacy options
    root: str = ""  # `mailspy run --root DIR`: every path target is written under DIR
    regex_timeout: float = DEFAULT_TIMEOUT  # `mailspy run --regex-timeout SECONDS`


DEFAULTS = Defaults()


@dataclass(frozen=True)
class PlannedAction:
    """An action with its target filled in; `key` is what makes it run once."""

    name: str
    target: str
    options: tuple[tuple[str, str], ...] = ()
    position: Position | None = field(default=None, compare=False)  # where it is written

    @property
    def key(self) -> tuple[str, str, tuple[tuple[str, str], ...]]:
        return (self.name, self.target, self.options)

    @cached_property
    def settings(self) -> Mapping[str, str]:
        """The options by name, as actions read them: made once, not per message."""
        return dict(self.options)


@dataclass(frozen=True)
class CompiledRule:
    name: str
    position: Position
    matcher: Matcher | None  # None: matches every message
    actions: tuple[PlannedAction, ...]
    stops: bool
    anchors: Anchors = None
    fields: frozenset[str] = frozenset()  # the field names its condition reads
    shadow: bool = False  # its hits are recorded in the shadow log; its actions never run


class GlobPattern:
    """A glob that needs a regex (`a*b?`), compiled on first use: `check-rules` never
    matches, and compiling 4,000 globs was a tenth of its time. The daemon compiles
    every rule's when it loads them (`RuleSet.prepare`)."""

    __slots__ = ("_match", "glob")

    def __init__(self, glob: str) -> None:
        self.glob = glob
        self._match: Callable[[str], object] | None = None

    def build(self) -> Callable[[str], object]:
        if self._match is None:
            self._match = re.compile(fnmatch.translate(self.glob)).match
        return self._match

    def __call__(self, value: Any) -> bool:
        return (self._match or self.build())(value) is not None


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[CompiledRule, ...]
    files: tuple[str, ...] = ()
    regex_limits: RegexLimits = DEFAULT_LIMITS
    shadow_log: str | None = None  # where shadow hits are written; None: no shadow rule
    shadow_options: tuple[tuple[str, str], ...] = ()  # the privacy options of its records
    # the key of each key file the privacy options name, read when the rules were loaded
    keys: Mapping[str, bytes] = field(default_factory=dict, compare=False, repr=False)
    patterns: tuple[RulePattern, ...] = ()  # the rules' regexes, for prepare()
    globs: tuple[GlobPattern, ...] = field(default=(), compare=False, repr=False)  # the same

    def __len__(self) -> int:
        return len(self.rules)

    @cached_property
    def unused_steps(self) -> frozenset[str]:
        """SMTP steps no rule and no action needs, which the MTA need not send:
        the client's connection and HELO feed only some fields and records (the
        shadow log's among them)."""
        needed = frozenset().union(*(FIELDS[f].steps for r in self.rules for f in r.fields
                                     if f in FIELDS),
                                   *(ACTIONS[a.name].steps(a.settings)
                                     for r in self.rules for a in r.actions if a.name in ACTIONS))
        if self.shadow_log is not None:
            needed |= {"connect", "helo"}
        return frozenset({"connect", "helo"} - needed)

    def prepare(self) -> None:
        """Build now what evaluation needs, not on the first message: the index and the
        regex engine's compiled patterns and the globs' (commands that only check rules
        never need them). PatternError if the engine cannot build a pattern its checks passed."""
        _ = self.index
        for pattern in self.patterns:
            _ = pattern.engine
        for glob in self.globs:
            glob.build()

    @cached_property
    def index(self) -> RuleIndex:
        """Built once per rule set, on first use (the daemon builds it at load)."""
        return RuleIndex([r.anchors if r.matcher is not None else None for r in self.rules])


def compile_rules(
    rules: Iterable[Rule], defaults: Defaults = DEFAULTS, files: Iterable[str] = ()
) -> tuple[RuleSet, list[Diagnostic]]:
    compiler = _Compiler()
    compiled = tuple(compiler.rule(r, defaults) for r in rules)
    limits = RegexLimits(defaults.regex_timeout)
    shadow_log = plan_path(defaults.shadow_log, defaults) \
        if any(r.shadow for r in compiled) else None
    shadow_options = compiler.shadow_options(defaults.shadow_privacy)
    return (RuleSet(compiled, tuple(files), limits, shadow_log, shadow_options, compiler.keys,
                    tuple(compiler.patterns), tuple(compiler.globs)),
            compiler.diagnostics)


def plan_path(path: str, defaults: Defaults) -> str:
    """One spelling per file, so `/var/log//x` and `/var/log/x` are one target; under
    `--root`, the path below it (normpath of an absolute path never climbs above "/",
    so no `..` leaves the root)."""
    path = os.path.normpath("/" + path.lstrip("/"))
    return defaults.root.rstrip("/") + path if defaults.root else path


def plan_action(action: Action, defaults: Defaults) -> PlannedAction:
    """The action with its target filled in from the defaults and spelled one way, and
    only the options that differ from their defaults."""
    spec = ACTIONS.get(action.name)
    if spec is None:  # reported by the transformer; these rules never run
        return PlannedAction(action.name, action.target or "", action.options, action.position)
    target = action.target
    if target is None:
        target = getattr(defaults, spec.default) if spec.default else ""
    if spec.target == PATH:
        target = plan_path(target, defaults)
    options = tuple((name, value) for name, value in action.options
                    if (option := spec.option(name)) is None or value != option.default)
    return PlannedAction(action.name, target, options, action.position)


_COMPARE = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le,
            "==": operator.eq}


class _Compiler:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self._lists: dict[str, tuple[str, ...]] = {}
        self._fields: set[str] = set()
        self.patterns: list[RulePattern] = []
        self.globs: list[GlobPattern] = []
        self.keys: dict[str, bytes] = {}
        self._bad_keys: set[str] = set()

    def rule(self, rule: Rule, defaults: Defaults) -> CompiledRule:
        self._fields = set()
        if rule.condition is None:
            matcher, anchors = None, None
        else:
            matcher, anchors = self.condition(rule.condition)
        for action in rule.actions:
            self._read_key(action)
        actions = tuple(plan_action(a, defaults) for a in rule.actions)
        return CompiledRule(rule.name, rule.position, matcher, actions, rule.stops, anchors,
                            frozenset(self._fields), rule.shadow)

    def shadow_options(self, text: str) -> tuple[tuple[str, str], ...]:
        """`--shadow-log-privacy`: the privacy options of the shadow log's JSON records,
        written as after `with` in a rule, checked as a rule's are."""
        action, found = parse_options(text, "log-summary", "--shadow-log-privacy")
        self.diagnostics += found
        if action is None:
            return ()
        if "format" in dict(action.options):
            self.diagnostics.append(error(action.option_position("format"), (
                "the shadow log is always JSON: give only privacy options")))
            return ()
        self._read_key(action)
        return action.options

    def _read_key(self, action: Action) -> None:
        """The key file of an action's privacy options, read once per load (so SIGHUP
        re-reads it) and checked like a list file."""
        path = privacy.key_path(dict(action.options))
        if path is None or path in self.keys or path in self._bad_keys:
            return
        where = action.option_position("key")
        try:
            self.keys[path] = privacy.read_key(path)
        except privacy.KeyFileError as exc:
            self._bad_keys.add(path)
            self.diagnostics.append(error(where, str(exc)))
            return
        if problem := privacy.key_warning(path):
            self.diagnostics.append(warning(where, problem))

    def condition(self, node: Condition) -> tuple[Matcher, Anchors]:
        """The matcher, and the anchors of which one must pass for it to match."""
        if isinstance(node, Not):
            inner, _ = self.condition(node.operand)
            return (lambda values: not inner(values)), None
        if isinstance(node, All | AnyOf):
            compiled = [self.condition(n) for n in node.operands]
            parts = tuple(m for m, _ in compiled)
            if isinstance(node, All):
                return (lambda values: all(p(values) for p in parts)), _best(
                    [a for _, a in compiled if a is not None])
            branches = [a for _, a in compiled]
            anchors = None if None in branches else [x for a in branches for x in a or ()]
            return (lambda values: any(p(values) for p in parts)), anchors
        key = (node.field.name, node.field.argument)
        self._fields.add(node.field.name)
        if isinstance(node.value, Regex):
            return self._regex(node.value, key)
        one, on_folded, anchors = self.test(node, key)
        if on_folded:
            return (lambda values: any(one(v) for v in values.folded(key))), anchors
        return (lambda values: any(one(v) for v in values.raw(key))), anchors

    def test(self, test: Test, key: FieldKey) -> tuple[One, bool, list[Anchor]]:
        """(does one value pass?, on folded values?, anchors) for a test."""
        op, value = test.op, test.value
        if op == "in":
            assert isinstance(value, tuple)
            return self._in(value, key, None)
        if op == "in-file":
            assert isinstance(value, str)
            return self._in(self._read_list(value, test.position), key, test.position)
        if isinstance(value, float):  # a comparison of sizes
            compare, limit = _COMPARE[op], value
            one: One = lambda v: compare(v, limit)  # noqa: E731
            return one, False, [Anchor(key, SCAN, check=one, on_folded=False)]
        assert isinstance(value, str)
        text = fold(value)
        if op == "is":
            return text.__eq__, True, [Anchor(key, EXACT, text)]
        if op == "contains":
            one = lambda v: text in v  # noqa: E731
            return one, True, [substring_anchor(key, text, one)]
        return self._glob(text, key)

    def _regex(self, value: Regex, key: FieldKey) -> tuple[Matcher, Anchors]:
        """Searched on the message's clock; a search that runs out of time raises
        RegexTimeout, naming the field, which costs the whole rule its match."""
        try:
            pattern = compile_pattern(value.pattern, regex_flags(value.flags))
        except PatternError:
            return (lambda values: False), None  # reported by the transformer
        self.patterns.append(pattern)
        name = key[0] if key[1] is None else f'{key[0]} "{key[1]}"'

        def matches(values: Values) -> bool:
            clock = values.clock
            try:
                return any(pattern.search(v, clock) for v in values.raw(key))
            except RegexTimeout as timeout:
                timeout.field = name
                raise

        # its literal is looked for when the index is built, not by check-rules
        return matches, [Anchor(key, REGEX, pattern.source, on_folded=False,
                                flags=pattern.flags)]

    def _glob(self, glob: str, key: FieldKey) -> tuple[One, bool, list[Anchor]]:
        """Plain shapes (`*.exe`, `invoice*`, no wildcard) need no regex at all."""
        kind, literal = glob_shape(glob)
        one: One
        if kind == EXACT:
            one = literal.__eq__
        elif kind == SUFFIX:
            one = lambda v: v.endswith(literal)  # noqa: E731
        elif kind == PREFIX:
            one = lambda v: v.startswith(literal)  # noqa: E731
        else:
            one = GlobPattern(glob)
            self.globs.append(one)
        anchor = Anchor(key, SCAN, check=one) if kind == SCAN else Anchor(key, kind, literal)
        return one, True, [anchor]

    def _in(self, entries: tuple[str, ...], key: FieldKey,
            where: Position | None) -> tuple[One, bool, list[Anchor]]:
        """`where` is a list file's position: an inline list was checked by the
        transformer, a file's entries are checked here."""
        spec = FIELDS.get(key[0])
        if spec is not None and spec.kind == ADDRESS:
            networks = self._networks(entries, where)
            one: One = lambda v: in_networks(v, networks)  # noqa: E731
            return one, False, [Anchor(key, SCAN, check=one, on_folded=False)]
        texts = frozenset(fold(v) for v in entries)
        return texts.__contains__, True, [Anchor(key, EXACT, t) for t in texts]

    def _read_list(self, path: str, where: Position) -> tuple[str, ...]:
        """A list file's entries, read once per load (so SIGHUP re-reads it)."""
        if not path.startswith("/"):
            return ()  # reported by the transformer
        if path not in self._lists:
            self._lists[path] = tuple(self._list_lines(path, where))
        return self._lists[path]

    def _networks(self, entries: tuple[str, ...], where: Position | None) -> tuple[Network, ...]:
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
            data = safefs.read_regular(path, MAX_LIST_FILE)
        except OSError as exc:
            self.diagnostics.append(error(where, f"cannot read list file '{path}': "
                                          f"{exc.strerror or exc}"))
            return []
        if problem := safefs.ownership_problem(path):
            self.diagnostics.append(warning(where, f"list file '{path}': {problem}"))
        text = data.decode("utf-8", "surrogateescape")
        lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
        return [line for line in lines if line]


def in_networks(value: str, networks: tuple[Network, ...]) -> bool:
    """Whether an address (`192.0.2.7`, `[2001:db8::1]`, `IPv6:...`) lies in a network."""
    try:
        address = ipaddress.ip_address(value.strip("[]").removeprefix("IPv6:"))
    except ValueError:
        return False
    return any(address in network for network in networks)

