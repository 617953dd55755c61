"""Text of a rules file -> parse trees, and syntax errors a postmaster can act on.

The LALR parser is built once from grammar/mailspy.lark. A syntax error is
turned into `FILE:LINE:COL: error: ...` saying what was expected (lark's
`match_examples` recognises the usual mistakes). After an error the parser
resumes at the next line that starts a rule, so one run reports every
broken rule in a file, not only the first.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import cast

from lark import Lark, Token
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
)

from mailspy.diagnostics import Diagnostic, Position, error
from mailspy.rules.ast import Action, Rule
from mailspy.rules.transform import Collector, RulesTransformer, collecting


def grammar_text() -> str:
    """The grammar as shipped in the wheel, or from the source tree."""
    packaged = resources.files("mailspy") / "grammar" / "mailspy.lark"
    if packaged.is_file():
        return packaged.read_text(encoding="utf-8")
    source = Path(__file__).resolve().parents[2] / "grammar" / "mailspy.lark"
    return source.read_text(encoding="utf-8")


@cache
def parser() -> Lark:
    """One LALR parser that builds Rule objects as it reduces (no tree in between).

    The basic lexer makes every keyword a keyword everywhere: with lark's
    contextual lexer `rule` or `when` in an action's place would lex as a name.
    The transformer keeps no state: each parse reports to its own Collector.
    """
    return Lark(grammar_text(), parser="lalr", lexer="basic", transformer=RulesTransformer())


def parse_rules(text: str, file: str) -> tuple[list[Rule], list[Diagnostic]]:
    """The rules of one file, with every syntax and semantic problem found in it."""
    with collecting(file) as found:
        rules, syntax = parse_text(text, file, found)
        return rules, syntax + found.diagnostics


def parse_options(text: str, action: str,
                  where: str) -> tuple[Action | None, list[Diagnostic]]:
    """Options written outside a rules file (`--shadow-log-privacy "subject drop"`), as
    they would follow `with` after the action: checked by the same grammar and
    transformer, problems placed at their column in `where` (an option's name)."""
    if not text.strip():
        return Action(action, None, Position(where, 1, 1)), []
    if any(c in text for c in "{}\n#"):
        return None, [error(Position(where, 1, 1), "write options only, separated by commas: "
                            "NAME VALUE, NAME VALUE (e.g. addresses hash, subject drop)")]
    head = f'rule "-" {{ {action} with '

    def moved(position: Position) -> Position:
        return replace(position, column=max(1, position.column - len(head)))

    rules, found = parse_rules(head + text + " }", where)
    if found or len(rules) != 1 or len(rules[0].actions) != 1:
        return None, [replace(d, position=moved(d.position)) for d in found] or [
            error(Position(where, 1, 1), "write options only")]
    parsed = rules[0].actions[0]
    return replace(parsed, position=Position(where, 1, 1),
                   option_positions=tuple(moved(p) for p in parsed.option_positions)), []


# Typical mistakes, recognised by the parser state they leave behind.
_EXAMPLES: dict[str, list[str]] = {
    "a rule starts with: rule \"NAME\" {": [
        "log-summary",
        '"x"',
        "}",
        'rule "a" { log-summary } }',
    ],
    'rule names are written in double quotes: rule "NAME" {': [
        "rule finance {",
        "rule {",
    ],
    "missing '{' after the rule name": ['rule "a" log-summary }', 'rule "a" when'],
    "'when' comes first in a rule, before the actions": [
        'rule "a" { log-summary when sender is "x" }',
        'rule "a" { log-summary "/x" when sender is "x" }',
    ],
    "a rule has one 'when'; combine tests with 'and' and 'or'": [
        'rule "a" { when sender is "x" when subject is "y" }',
    ],
    "expected a test after the field: is, contains, matches, in, or a comparison": [
        'rule "a" { when sender log-summary }',
        'rule "a" { when sender equals "x" }',
        'rule "a" { when sender }',
        'rule "a" { when header "X" log-summary }',
        'rule "a" { when sender ( }',
    ],
    "expected a quoted string after 'is' or 'contains'": [
        'rule "a" { when sender is x }',
        'rule "a" { when sender contains x }',
        'rule "a" { when sender is /x/ }',
        'rule "a" { when sender contains [ }',
        'rule "a" { when sender is }',
    ],
    'expected a quoted "glob" or a /regex/ after \'matches\'': [
        'rule "a" { when sender matches x }',
        'rule "a" { when sender matches [ }',
        'rule "a" { when sender matches }',
    ],
    'expected a list after \'in\': ["a", "b"], or file "/path"': [
        'rule "a" { when sender in "x" }',
        'rule "a" { when sender in x }',
        'rule "a" { when sender in }',
    ],
    'a list holds quoted strings separated by commas: ["a", "b"]': [
        'rule "a" { when sender in [x] }',
        'rule "a" { when sender in [] }',
        'rule "a" { when sender in ["a" "b"] }',
        'rule "a" { when sender in ["a", x] }',
        'rule "a" { when sender in ["a"',
    ],
    "expected a field name (sender, recipient, subject, attachment, ...)": [
        'rule "a" { when "x" }',
        'rule "a" { when and }',
        'rule "a" { when }',
        'rule "a" { when sender is "x" and }',
        'rule "a" { when sender is "x" or "y" }',
        'rule "a" { when not }',
        'rule "a" { when ( }',
    ],
    "missing ')'": ['rule "a" { when (sender is "x" log-summary }'],
    "missing '}' at the end of the rule": [
        'rule "a" { log-summary',
        'rule "a" { log-summary rule',
        'rule "a" { when sender is "x"',
        'rule "a" { log-summary shadow rule',
        'rule "a" { when sender is "x" shadow rule',
    ],
    # after the others: a state they share keeps its label for other tokens
    "'shadow' comes before 'rule': shadow rule \"NAME\" {": [
        'rule shadow "a" { log-summary }',
        'rule "a" shadow { log-summary }',
        'rule "a" { shadow log-summary }',
    ],
    "'shadow' is followed by 'rule': shadow rule \"NAME\" {": [
        'shadow "a" { log-summary }',
        "shadow {",
        "shadow log-summary",
        "shadow",
    ],
    "an option follows 'with': with NAME VALUE, NAME VALUE (e.g. with subject drop)": [
        'rule "a" { log-summary with }',
        'rule "a" { log-summary with "x" }',
        'rule "a" { log-summary with a b, }',
        'rule "a" { log-summary with a b,, }',
        'rule "a" { log-summary with [ }',
    ],
    "an option needs a value: a word, a quoted string or a list (e.g. subject drop, "
    'key "/path", keep-headers ["From"])': [
        'rule "a" { log-summary with a }',
        'rule "a" { log-summary with a, b c }',
        'rule "a" { log-summary with a ( }',
    ],
    "options follow 'with', separated by commas: log-headers with keep-headers "
    '["From", "Date"]': [
        'rule "a" { log-headers keep-headers ["x"] }',
        'rule "a" { log-summary with a ["x"] b ["y"] }',
    ],
}

_CHARACTER_HINTS = {
    '"': "unterminated string: a quoted string ends with '\"' on the same line",
    "'": "strings are written in double quotes, not single quotes",
    "/": "unterminated regular expression: write /regex/ on one line",
    "&": "combine tests with 'and'",
    "|": "combine tests with 'or'",
    "!": "negate a test with 'not'",
    "=": "compare text with 'is'",
}

_TERMINAL_NAMES = {
    "STRING": "a quoted string",
    "REGEX": "a /regex/",
    "NAME": "a name",
    "COMPARISON": "a comparison",
    "QUANTITY": "a number",
    "$END": "end of file",
}

_RULE_HEAD = re.compile(r"^[ \t]*((?:shadow[ \t]+)?rule)\b", re.MULTILINE)


def parse_text(text: str, file: str,
               found: Collector) -> tuple[list[Rule], list[Diagnostic]]:
    """Parse a whole file, recovering at rule boundaries after each syntax error.

    Semantic diagnostics of a parse that then failed are dropped: the rules
    they were about are parsed again (quietly) by the recovery."""
    rules: list[Rule] = []
    diagnostics: list[Diagnostic] = []
    semantic = found.diagnostics
    start: int | None = 0
    while start is not None:
        mark = len(semantic)
        try:
            rules += _parse(_from(text, start))
            break
        except UnexpectedInput as exc:
            del semantic[mark:]
            diagnostics.append(_syntax_error(exc, text, file))
            where = _offset(exc, text)
            heads = [m.start(1) for m in _RULE_HEAD.finditer(text, start)]
            earlier = [h for h in heads if start < h < where]
            if earlier:
                rules += _quietly(text, start, earlier[-1], semantic)
            if where in heads and where > start:
                start = where  # a rule began before the previous one was closed
            else:
                start = next((h for h in heads if h > where), None)
    return rules, diagnostics


def _parse(text: str) -> list[Rule]:
    """The parser builds Rule objects as it reduces (the transformer's `start`)."""
    return cast(list[Rule], parser().parse(text))


def _from(text: str, start: int, end: int | None = None) -> str:
    """The text from `start` to `end`, blanked before so positions stay true."""
    prefix = re.sub(r"[^\n]", " ", text[:start])
    return prefix + text[start:end]


def _quietly(text: str, start: int, end: int, semantic: list[Diagnostic]) -> list[Rule]:
    """The complete rules before a broken one; nothing if the cut went wrong."""
    mark = len(semantic)
    try:
        return _parse(_from(text, start, end))
    except UnexpectedInput:
        del semantic[mark:]
        return []


def _offset(exc: UnexpectedInput, text: str) -> int:
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        return exc.token.start_pos or 0
    if isinstance(exc, UnexpectedCharacters):
        return exc.pos_in_stream or 0
    return len(text)


def _end_position(text: str, file: str) -> Position:
    lines = text.split("\n")
    return Position(file, len(lines), len(lines[-1]) + 1)


def _syntax_error(exc: UnexpectedInput, text: str, file: str) -> Diagnostic:
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream or 0]
        hint = _CHARACTER_HINTS.get(char) or f"unexpected character {char!r}"
        return error(Position(file, exc.line, exc.column), hint)
    token: Token = getattr(exc, "token", Token("$END", ""))
    at_end = isinstance(exc, UnexpectedEOF) or token.type == "$END"
    where = _end_position(text, file) if at_end else Position(file, exc.line, exc.column)
    found = "end of file" if at_end else _describe_token(token)
    labels = _example_labels()
    label = labels.get((exc.state.position, token.type)) or labels.get(exc.state.position)
    label = label or "expected " + _describe_expected(exc)
    return error(where, f"{label}; found {found}{_keyword_hint(exc, token)}")


def _keyword_hint(exc: UnexpectedInput, token: Token) -> str:
    """`; did you mean 'shadow'?` for a misspelt keyword where a keyword may stand."""
    if token.type != "NAME":
        return ""
    names = getattr(exc, "accepts", None) or getattr(exc, "expected", None) or set()
    terminals = {t.name: t for t in parser().terminals}
    keywords = [terminals[n].pattern.value for n in names
                if n in terminals and terminals[n].pattern.type == "str"
                and terminals[n].pattern.value.isalpha()]
    close = difflib.get_close_matches(token.value.lower(), keywords, n=1, cutoff=0.75)
    return f"; did you mean '{close[0]}'?" if close else ""


@cache
def _example_labels() -> dict[object, str]:
    """Parser state (and token) -> what the user most likely got wrong there.

    Like lark's `match_examples`, but keyed on the LALR state rather than
    the whole stack, so a mistake is recognised however many rules come
    before it in the file; the token type refines it where one state can
    go wrong in several ways.
    """
    labels: dict[object, str] = {}
    with collecting("<examples>"):
        for label, examples in _EXAMPLES.items():
            for example in examples:
                try:
                    parser().parse(example)
                except UnexpectedToken as exc:
                    labels.setdefault((exc.state.position, exc.token.type), label)
                    labels.setdefault(exc.state.position, label)
                except UnexpectedInput:
                    pass
    return labels


def _describe_token(token: Token) -> str:
    if token.type in ("STRING", "REGEX", "QUANTITY"):
        return f"{_TERMINAL_NAMES[token.type]} {token.value}"
    return f"'{token.value}'"


def _describe_expected(exc: UnexpectedInput) -> str:
    names = getattr(exc, "accepts", None) or getattr(exc, "expected", None) or set()
    terminals = {t.name: t for t in parser().terminals}
    words = []
    for name in sorted(names):
        if name in _TERMINAL_NAMES:
            words.append(_TERMINAL_NAMES[name])
        elif name in terminals and terminals[name].pattern.type == "str":
            words.append(f"'{terminals[name].pattern.value}'")
    words = sorted(set(words))
    if len(words) == 1:
        return words[0]
    return "one of: " + ", ".join(words) if words else "something else"
