"""Rule regexes: Python's syntax and Python's reading, searched by an engine that stops.

Why not the standard library's `re` for matching: it keeps the interpreter lock for the
whole of a search, and every milter connection is a thread of one Python process, so one
pattern that backtracks for minutes (`^(a|aa)+$` against a crafted subject) would stop
every connection at once. The `regex` package searches with `concurrent=True` (the lock is
let go, other connections carry on) and `timeout=` (the search gives up). A message's
searches share a clock: each may take `RegexLimits.timeout`, all of them together
`RegexLimits.per_message`, and a search that runs out raises `RegexTimeout`, which costs
its rule the match (mailspy.evaluate logs it).

`re` stays the judge of what a pattern means. A pattern `re` refuses is refused, though
`regex` would accept more; a `{` or a `[` that `re` reads as a plain character is escaped
before `regex` sees it, so that `x{e}` cannot become approximate matching nor `[[:alpha:]]`
a POSIX class; on an empty value the answer is `re`'s (`regex` lets `\\B` match there).
What is left differs only in Unicode data, listed in docs/rules.md.
"""

from __future__ import annotations

import importlib
import re
import time
import warnings
from _sre import MAXREPEAT  # the regex parser's "no upper bound"
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

import regex

from mailspy import defaults

REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
_ENGINE_FLAGS = {re.IGNORECASE: regex.IGNORECASE, re.MULTILINE: regex.MULTILINE,
                 re.DOTALL: regex.DOTALL}
DEFAULT_TIMEOUT = defaults.REGEX_TIMEOUT  # seconds: a hundred times what a sane pattern needs
PER_MESSAGE = 10  # a message's searches may take this many timeouts in all
# The engine writes out a repeat's required copies (x{1000000} costs it 260 MB and a
# second to compile; re keeps a count): more than this many in one pattern is refused.
MAX_COPIES = 10_000
# The engine's parser recurses once per level of parentheses and gives up between 150 and
# 200 levels, depending on the kind of group: mailspy refuses more than this many, so
# that every pattern it accepts the engine builds, without building it to find out.
MAX_NESTING = 100
_TOO_DEEP = (f"groups nested too deeply for mailspy's regex engine (more than {MAX_NESTING} "
             "levels of parentheses); write the regex with fewer levels")


def regex_flags(letters: str) -> int:
    flags = 0
    for letter in letters:
        flags |= REGEX_FLAGS.get(letter, 0)
    return flags


@dataclass(frozen=True)
class RegexLimits:
    """How long searching may take: one value against one pattern, and one message."""

    timeout: float = DEFAULT_TIMEOUT

    @property
    def per_message(self) -> float:
        return self.timeout * PER_MESSAGE


DEFAULT_LIMITS = RegexLimits()


class RegexTimeout(Exception):
    """A search ran out of time, or found the message's time already spent."""

    def __init__(self, pattern: RulePattern, seconds: float, budget_spent: bool) -> None:
        super().__init__(pattern.source)
        self.pattern = pattern
        self.seconds = seconds
        self.budget_spent = budget_spent
        self.field = ""  # the field searched, filled in by the rule's matcher


class RegexClock:
    """The time one message's searches have left; one per message, one thread at a time."""

    def __init__(self, limits: RegexLimits) -> None:
        self.timeout = limits.timeout
        self.left = limits.per_message

    def search(self, pattern: RulePattern, value: str) -> bool:
        if self.left <= 0:
            raise RegexTimeout(pattern, 0.0, budget_spent=True)
        limit = min(self.timeout, self.left)
        began = time.perf_counter()
        try:
            return pattern.engine.search(value, timeout=limit, concurrent=True) is not None
        except TimeoutError:
            raise RegexTimeout(pattern, limit, budget_spent=limit < self.timeout) from None
        finally:
            self.left -= time.perf_counter() - began


class PatternError(ValueError):
    """A pattern that cannot be used; `pos` is the offset in the pattern as written."""

    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True, eq=False)
class RulePattern:
    source: str  # as written between the slashes
    flags: int  # re's flags from the letters after the closing slash
    on_empty: bool  # what re.search gives on the empty value
    warnings: tuple[tuple[int, str], ...] = field(default=())  # (offset, what re warns)
    nested_repeat: bool = False  # a repeat of repeats, like (a+)+: see nested_repeat()

    @cached_property
    def engine(self) -> regex.Pattern[str]:
        """The engine's compiled pattern, built on first use (310 µs a pattern: most of
        what `check-rules` spent on 10,000 rules, which never search). The daemon builds
        every rule's when it loads them (`RuleSet.prepare`)."""
        return _engine(self.source, self.flags)

    def search(self, value: str, clock: RegexClock) -> bool:
        if not value:
            return self.on_empty
        return clock.search(self, value)


@lru_cache(maxsize=65536)
def compile_pattern(source: str, flags: int) -> RulePattern:
    """A pattern checked as the engine needs it, once whether check-rules asks or the
    daemon loads it: what re refuses, and what the engine cannot build (repeats it would
    write out, MAX_COPIES; nesting, MAX_NESTING). Raises PatternError. The engine's
    own compiled pattern waits for first use (`RulePattern.engine`)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # re's FutureWarnings, kept for check-rules
        try:
            parsed, checked = _parsed_and_compiled(source, flags)
        except re.error as exc:
            raise PatternError(f"invalid regular expression: {exc.msg}", exc.pos or 0) \
                from None
        except RecursionError:
            raise PatternError(_TOO_DEEP, 0) from None
    copies = required_copies(source, flags) if parsed is None else _copies_or_zero(parsed)
    if copies > MAX_COPIES:
        raise PatternError(f"repeat counts too large: this regex requires {copies:,} copies "
                           f"of its parts, more than mailspy's regex engine builds "
                           f"({MAX_COPIES:,}); lower the minimum counts (x{{5,}}, not "
                           "x{100000,})", _largest_count(source))
    if nesting(source) > MAX_NESTING:
        raise PatternError(_TOO_DEEP, 0)
    found = _warned(caught) if "{" in source or "[" in source else ()
    nested = nested_repeat(source, flags) if parsed is None else _nested_or_false(parsed)
    return RulePattern(source, flags, checked.search("") is not None, found, nested)


def _parsed_and_compiled(source: str, flags: int) -> tuple[Any, re.Pattern[str]]:
    """re.compile's two steps taken apart, so that its one parse serves the checks too
    (re's parse, not three); (None, re.compile(...)) where the private API differs."""
    try:
        parse = importlib.import_module("re._parser").parse
        build = importlib.import_module("re._compiler").compile
    except (ImportError, AttributeError):
        return None, re.compile(source, flags)
    parsed = parse(source, flags)
    return parsed, build(parsed, flags)


def _copies_or_zero(parsed: Any) -> int:
    try:
        return _copies(list(parsed))
    except Exception:  # a shape of the private parser's output we did not expect
        return 0


def _engine(source: str, flags: int) -> regex.Pattern[str]:
    """The engine's pattern: `{` and `[` that re reads as text escaped, re's flags."""
    text, inserted = _literal_brackets_escaped(source, flags)
    engine_flags = regex.VERSION0
    for flag, engine_flag in _ENGINE_FLAGS.items():
        if flags & flag:
            engine_flags |= engine_flag
    try:
        return regex.compile(text, engine_flags)
    except RecursionError:
        raise PatternError(_TOO_DEEP, 0) from None
    except (regex.error, OverflowError, ValueError) as exc:
        pos = getattr(exc, "pos", None) or 0
        pos -= sum(1 for at in inserted if at < pos)
        raise PatternError("mailspy's regex engine cannot use this expression: "
                           f"{getattr(exc, 'msg', exc)}", max(pos, 0)) from None


# -- what re reads, through its own parser --------------------------------------------

def parse_regex(pattern: str, flags: int, quiet: bool = True) -> Any:
    """The pattern as the stdlib's own regex parser sees it: (opcode, argument) items and
    `.state.flags`. A private API, used only to look closer (index anchors, warnings,
    brackets to escape): any surprise gives None, and the caller looks no closer.
    `quiet` silences the parser's FutureWarnings (check-rules reports them itself).
    Callers only read the result, so the quiet parses are cached: checking one regex
    looks at it three ways."""
    if quiet:
        return _quiet_parse(pattern, flags)
    return _parse(pattern, flags)


@lru_cache(maxsize=1024)
def _quiet_parse(pattern: str, flags: int) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _parse(pattern, flags)


def _parse(pattern: str, flags: int) -> Any:
    try:
        from re import _parser

        return _parser.parse(pattern, flags)
    except Exception:
        return None


def _reading(pattern: str, flags: int, quiet: bool = True) -> tuple[Any, ...] | None:
    """Everything re's parser makes of a pattern, comparable with ==."""
    parsed = parse_regex(pattern, flags, quiet)
    if parsed is None:
        return None
    try:
        return repr(parsed.data), parsed.state.flags, parsed.state.groups
    except Exception:
        return None


_WARNED_AT = re.compile(r"(.*) at position (\d+)$")


def _warned(caught: list[warnings.WarningMessage]) -> tuple[tuple[int, str], ...]:
    found = []
    for warning in caught:
        match = _WARNED_AT.match(str(warning.message))
        if match:
            found.append((int(match.group(2)), match.group(1)))
    return tuple(found)


def _literal_brackets_escaped(source: str, flags: int) -> tuple[str, tuple[int, ...]]:
    """(the pattern with a backslash before every `{` and `[` that re takes literally,
    offsets where backslashes went in).

    re itself decides: a bracket whose escaping leaves re's parse unchanged is literal
    (`x{e}`, `{1, 2}` in verbose mode, the inner `[` of `[[:alpha:]]`, one in a comment)."""
    if "{" not in source and "[" not in source:
        return source, ()
    reading = _reading(source, flags)
    if reading is None:
        return source, ()
    text, inserted = source, list[int]()
    for at in _unescaped(source, "{["):
        shifted = at + len(inserted)
        candidate = text[:shifted] + "\\" + text[shifted:]
        if _reading(candidate, flags) == reading:
            text = candidate
            inserted.append(at)
    return text, tuple(inserted)


def _unescaped(source: str, chars: str) -> list[int]:
    """Offsets of the characters not preceded by a backslash escape."""
    offsets, i = [], 0
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source[i] in chars:
            offsets.append(i)
        i += 1
    return offsets


def required_copies(pattern: str, flags: int) -> int:
    """How many items the engine writes out for the pattern: a repeat counts its minimum
    times its body (at least once), nested repeats multiply. 0 when re's parser cannot
    say."""
    parsed = parse_regex(pattern, flags)
    try:
        return 0 if parsed is None else _copies(list(parsed))
    except Exception:  # a shape of the private parser's output we did not expect
        return 0


def nesting(pattern: str) -> int:
    """How deep parentheses nest in the pattern as written, escapes and character classes
    skipped (re's own parse flattens `(?:...)`, the engine's parser recurses into it)."""
    if pattern.count("(") <= MAX_NESTING:
        return pattern.count("(")
    depth = deepest = 0
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _class_end(pattern, i)
            continue
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth = max(depth - 1, 0)
        i += 1
    return deepest


def _class_end(pattern: str, start: int) -> int:
    """The offset after the character class opening at `start` (`[^]a]` holds a `]`)."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    while i < len(pattern) and pattern[i] != "]":
        i += 2 if pattern[i] == "\\" else 1
    return i + 1


def _largest_count(source: str) -> int:
    """Offset of the `{` with the largest number after it (the likely culprit), else 0."""
    counts = [(int(m.group(1)), at) for at in _unescaped(source, "{")
              if (m := re.match(r"\{(\d+)", source[at:]))]
    return max(counts)[1] if counts else 0


def _copies(items: list[Any]) -> int:
    total = 0
    for op, argument in items:
        name = str(op)
        if name in (*_REPEATS, "POSSESSIVE_REPEAT"):
            low, _, body = argument
            total += max(low, 1) * _copies(list(body))
        elif name == "SUBPATTERN":
            total += _copies(list(argument[-1]))
        elif name == "ATOMIC_GROUP":
            total += _copies(list(argument))
        elif name in ("ASSERT", "ASSERT_NOT"):
            total += _copies(list(argument[-1]))
        elif name == "BRANCH":
            total += sum(_copies(list(b)) for b in argument[1])
        elif name == "GROUPREF_EXISTS":
            total += sum(_copies(list(b)) for b in argument[1:] if b is not None)
        else:
            total += 1
    return total


# -- shapes worth a warning --------------------------------------------------------------

_REPEATS = ("MAX_REPEAT", "MIN_REPEAT")


def nested_repeat(pattern: str, flags: int) -> bool:
    """Whether an unbounded repeat holds nothing but repeats, one of them repeating
    more than once, like `(a+)+` or `(\\w+\\s?)*`: the shape of catastrophic
    backtracking."""
    items = parse_regex(pattern, flags)
    return items is not None and _nested_or_false(items)


def _nested_or_false(items: Any) -> bool:
    try:
        return _nested(list(items))
    except Exception:  # a shape of the private parser's output we did not expect
        return False


def _nested(items: list[Any]) -> bool:
    for op, argument in items:
        name = str(op)
        if name in _REPEATS:
            _, high, body = argument
            inner = _unwrap(list(body))
            if high == MAXREPEAT and inner and all(str(o) in _REPEATS for o, _ in inner) \
                    and any(a[1] > 1 for _, a in inner):
                return True
            if _nested(list(body)):
                return True
        elif name == "SUBPATTERN":
            if _nested(list(argument[-1])):
                return True
        elif name == "BRANCH" and any(_nested(list(b)) for b in argument[1]):
            return True
    return False


def _unwrap(items: list[Any]) -> list[Any]:
    """A group's items in place of the group: `((a+))` is `a+`."""
    while len(items) == 1 and str(items[0][0]) == "SUBPATTERN":
        items = list(items[0][1][-1])
    return items


_TURKISH_I = re.compile("[\u0130\u0131]")  # İ ı


def turkish_i(pattern: str, flags: int) -> int | None:
    """Offset of a dotted İ or dotless ı in a pattern that ignores case, else None:
    there re matched all of i I ı İ alike, mailspy's engine only a letter's own case
    partner."""
    found = _TURKISH_I.search(pattern)
    if found is None:
        return None
    parsed = parse_regex(pattern, flags)
    nocase = flags & re.IGNORECASE or (parsed is not None
                                       and parsed.state.flags & re.IGNORECASE)
    if nocase or re.search(r"\(\?[a-zA-Z]*i[a-zA-Z-]*[:)]", pattern):
        return found.start()
    return None
