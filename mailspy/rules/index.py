"""Which rules can possibly match a message, without asking every rule.

For each rule the compiler names its anchors: tests of which at least one
must pass for the rule to match (one test of an `and`, every branch of an
`or`). Anchors on literal text go into tables: exact values in a dict,
globs like `*@bank.example` and `invoice*` by suffix and prefix, substrings
(`contains`, `*word*`, the literal parts of other globs and regexes) by
their first three characters. A message then touches only the rules whose
anchors it hits, plus the rules with no anchor (`not ...`, no `when`), in
file order. The few anchors with no literal (a short `contains`, a size,
a network) are checked one by one. A regex without a literal run is never
searched here: its rule is simply asked, so that every regex search runs
inside a rule, on the message's clock, where running out of time costs
that rule its match and is logged with its name.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from mailspy.rules.regexes import parse_regex

FieldKey = tuple[str, str | None]

EXACT, SUFFIX, PREFIX, SUBSTRING, SCAN = "exact", "suffix", "prefix", "substring", "scan"
REGEX = "regex"  # a regex whose literal is looked for when the index is built
ASK = "ask"  # nothing to look for ahead: the rule itself must be asked
GRAM = 3


@dataclass(frozen=True)
class Anchor:
    key: FieldKey
    kind: str
    literal: str = ""  # folded text for exact/suffix/prefix/substring
    check: Callable[[object], bool] | None = None  # for scan: one value -> passes?
    on_folded: bool = True  # scan: check folded values (else raw)
    flags: int = 0  # REGEX: the pattern's flags; `literal` holds the pattern


class Values(Protocol):
    """A message's field values, as evaluation computes them."""

    def raw(self, key: FieldKey) -> tuple[Any, ...]: ...
    def folded(self, key: FieldKey) -> tuple[str, ...]: ...


class RuleIndex:
    def __init__(self, anchors: list[list[Anchor] | None]) -> None:
        self.always: list[int] = []
        self.exact: dict[FieldKey, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        self.suffix: dict[FieldKey, dict[int, dict[str, list[int]]]] = _nested()
        self.prefix: dict[FieldKey, dict[int, dict[str, list[int]]]] = _nested()
        self.grams: dict[FieldKey, dict[str, dict[tuple[str, int], list[int]]]] = _nested()
        self.scan: dict[FieldKey, list[tuple[Anchor, list[int]]]] = defaultdict(list)
        substrings: list[tuple[Anchor, int]] = []
        for number, rule_anchors in enumerate(anchors):
            resolved = None if rule_anchors is None else [_resolve(a) for a in rule_anchors]
            if resolved is None or all(a.kind == SCAN for a in resolved) \
                    or any(a.kind == ASK for a in resolved):
                self.always.append(number)  # its matcher alone costs no more than a scan
                continue
            for anchor in resolved:
                if anchor.kind == SUBSTRING:
                    substrings.append((anchor, number))
                else:
                    self._add(anchor, number)
        self._add_substrings(substrings)
        self.literal_keys = tuple(set(self.exact) | set(self.suffix) | set(self.prefix)
                                  | set(self.grams))

    def _add(self, anchor: Anchor, number: int) -> None:
        key, text = anchor.key, anchor.literal
        if anchor.kind == EXACT:
            self.exact[key][text].append(number)
        elif anchor.kind == SUFFIX:
            self.suffix[key][len(text)][text].append(number)
        elif anchor.kind == PREFIX:
            self.prefix[key][len(text)][text].append(number)
        else:
            self.scan[key].append((anchor, [number]))

    def _add_substrings(self, substrings: list[tuple[Anchor, int]]) -> None:
        """File each literal under its rarest three characters: a common start
        ("tic" of a thousand "ticket v123" rules) would make one huge bucket."""
        counts: Counter[str] = Counter()
        for anchor, _ in substrings:
            counts.update({anchor.literal[i:i + GRAM] for i in _starts(anchor.literal)})
        for anchor, number in substrings:
            text = anchor.literal
            offset = min(_starts(text), key=lambda i: counts[text[i:i + GRAM]])
            self.grams[anchor.key][text[offset:offset + GRAM]][(text, offset)].append(number)

    def candidates(self, values: Values) -> list[int]:
        """Numbers of the rules that may match, in file order."""
        if not self.literal_keys and not self.scan:
            return self.always  # rules without a test only: the original usage
        hits = set(self.always)
        for key in self.literal_keys:
            for value in values.folded(key):
                self._literal_hits(key, value, hits)
        for key, anchors in self.scan.items():
            for anchor, numbers in anchors:
                checked = values.folded(key) if anchor.on_folded else values.raw(key)
                check = anchor.check
                if check is not None and any(check(v) for v in checked):
                    hits.update(numbers)
        return sorted(hits)

    def _literal_hits(self, key: FieldKey, value: str, hits: set[int]) -> None:
        exact = self.exact.get(key)
        if exact and value in exact:
            hits.update(exact[value])
        for length, table in self.suffix.get(key, {}).items():
            if len(value) >= length and (found := table.get(value[-length:])):
                hits.update(found)
        for length, table in self.prefix.get(key, {}).items():
            if (found := table.get(value[:length])) and len(value) >= length:
                hits.update(found)
        grams = self.grams.get(key)
        if grams:
            for start in range(len(value) - GRAM + 1):
                bucket = grams.get(value[start:start + GRAM])
                if bucket:
                    for (text, offset), numbers in bucket.items():
                        if start >= offset and value.startswith(text, start - offset):
                            hits.update(numbers)


def _resolve(anchor: Anchor) -> Anchor:
    if anchor.kind == REGEX:
        return regex_anchor(anchor.key, anchor.literal, anchor.flags)
    return anchor


def _starts(text: str) -> range:
    return range(len(text) - GRAM + 1)


def _nested() -> Any:
    return defaultdict(lambda: defaultdict(lambda: defaultdict(list)))


# -- literals that a glob or a regex cannot match without -----------------------

def glob_shape(glob: str) -> tuple[str, str]:
    """(kind, literal) for a folded glob: EXACT, SUFFIX (`*.exe`), PREFIX
    (`invoice*`), SUBSTRING (a literal run every match contains) or SCAN.

    Brackets are found the way fnmatch finds them (`[!...]`, a `]` first in
    the set, an unclosed `[` standing for itself): a bracket is one wildcard
    character, never text, whatever it holds (`[*abc]` is not "abc").
    """
    tokens = _glob_tokens(glob)
    runs, current = [], []
    for token in tokens:
        if len(token) == 1 and token not in "*?":
            current.append(token)
        else:
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    wildcards = [t for t in tokens if len(t) > 1 or t in "*?"]
    if not wildcards:
        return EXACT, runs[0]
    if wildcards == ["*"] and len(runs) == 2:
        head, tail = runs
        if not head and tail:
            return SUFFIX, tail
        if head and not tail:
            return PREFIX, head
    longest = max(runs, key=len)
    if len(longest) >= GRAM:
        return SUBSTRING, longest
    return SCAN, ""


def _glob_tokens(glob: str) -> list[str]:
    """Characters, `*`, `?` and whole bracket expressions (as multi-character tokens)."""
    tokens, i, n = [], 0, len(glob)
    while i < n:
        char = glob[i]
        if char == "[":
            j = i + 1
            if j < n and glob[j] == "!":
                j += 1
            if j < n and glob[j] == "]":
                j += 1
            while j < n and glob[j] != "]":
                j += 1
            if j < n:
                tokens.append(glob[i:j + 1])  # a bracket: at least three characters
                i = j + 1
                continue
        tokens.append(char)
        i += 1
    return tokens


def substring_anchor(key: FieldKey, text: str, check: Callable[[object], bool]) -> Anchor:
    if len(text) >= GRAM:
        return Anchor(key, SUBSTRING, text)
    return Anchor(key, SCAN, check=check)


def regex_anchor(key: FieldKey, pattern: str, flags: int) -> Anchor:
    """A run of literal characters every match must contain, else ASK.

    The run is taken from the top level of the pattern as Python's own
    parser reads it (every item there is required; mailspy's regex engine
    reads every pattern it accepts the same way) and folded like the values
    it is looked for in.
    """
    literal = _required_literal(pattern, flags)
    if len(literal) >= GRAM:
        return Anchor(key, SUBSTRING, literal)
    return Anchor(key, ASK)


# ASCII letters that an ignore-case regex also matches with a non-ASCII
# character (İ, K for Kelvin, ſ): folding the value would miss those.
_WIDER_UNDER_IGNORECASE = frozenset("iksIKS")


def _required_literal(pattern: str, flags: int) -> str:
    parsed = parse_regex(pattern, flags)
    if parsed is None:
        return ""
    nocase = (flags | parsed.state.flags) & re.IGNORECASE
    runs: list[str] = []
    current: list[str] = []
    for op, argument in parsed:
        char = chr(argument) if str(op) == "LITERAL" else None
        if char is not None and (not nocase or (
                char.isascii() and char not in _WIDER_UNDER_IGNORECASE)):
            current.append(char.lower() if char.isascii() else char)
        else:
            runs.append("".join(current))
            current = []
    runs.append("".join(current))
    return max(runs, key=len)

