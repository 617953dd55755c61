"""Rule regexes: Python's syntax and meaning, searches that give up, and what giving up costs.

The searches that must give up use `^(a|aa)+$` against a long run of a's ending in "!":
it tries every split of the a's into ones and twos, about 1.6 ** 60 of them, before it
can fail, in Python's `re` and in mailspy's engine alike.
"""

from __future__ import annotations

import logging
import re
import warnings

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mailspy.evaluate import evaluate
from mailspy.message.model import Attachment, Envelope, Message
from mailspy.rules.compile import Defaults
from mailspy.rules.load import load_rules
from mailspy.rules.regexes import (
    MAX_COPIES,
    MAX_NESTING,
    PER_MESSAGE,
    PatternError,
    RegexClock,
    RegexLimits,
    RegexTimeout,
    compile_pattern,
)

HOSTILE = "^(a|aa)+$"
HOSTILE_VALUE = "a" * 60 + "!"


def message(subject: str = "", recipients=("b@example.org",), queue_id="4XyZ1") -> Message:
    msg = Message(Envelope("<a@example.org>", [f"<{r}>" for r in recipients],
                           queue_id=queue_id))
    msg.__dict__["subject"] = subject
    msg.__dict__["attachments"] = [Attachment("q3.pdf")]
    return msg


@pytest.fixture
def ruleset(tmp_path):
    """ruleset("rules text", timeout) -> the RuleSet, loaded as the daemon loads it."""

    def _ruleset(text: str, timeout: float = 0.02):
        (tmp_path / "a.rules").write_text(text)
        result = load_rules(tmp_path, defaults=Defaults(regex_timeout=timeout))
        assert result.ok, [str(d) for d in result.diagnostics]
        return result.rules

    return _ruleset


def fired(rules, msg: Message) -> list[str]:
    return [r.name for r in evaluate(rules, msg).rules]


# -- giving up ------------------------------------------------------------------------

def test_a_search_that_runs_out_of_time_raises_and_names_its_pattern():
    pattern = compile_pattern(HOSTILE, 0)
    clock = RegexClock(RegexLimits(timeout=0.01))
    with pytest.raises(RegexTimeout) as raised:
        pattern.search(HOSTILE_VALUE, clock)
    assert raised.value.pattern is pattern
    assert raised.value.seconds == 0.01
    assert not raised.value.budget_spent
    assert pattern.search("aaaa", clock)  # the next search starts afresh


def test_a_timed_out_rule_is_not_matched_logged_by_name_and_the_others_still_run(
        ruleset, caplog):
    rules = ruleset('rule "hostile" { when subject matches /^(a|aa)+$/ log-summary }\n'
                    'rule "pdf" { when attachment matches "*.pdf" log-summary }')
    with caplog.at_level(logging.WARNING, logger="mailspy"):
        verdict = evaluate(rules, message(HOSTILE_VALUE, queue_id="7QZ3"))
    assert [r.name for r in verdict.rules] == ["pdf"]
    assert [r.name for r in verdict.timed_out] == ["hostile"]
    [record] = [r for r in caplog.records if r.name == "mailspy"]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert text.startswith("7QZ3: rule 'hostile' (")
    assert "a.rules:1:1) not matched: its regex /^(a|aa)+$/ gave up on subject after 0.02 s" \
        in text


def test_the_same_rule_matches_a_harmless_value(ruleset, caplog):
    rules = ruleset('rule "hostile" { when subject matches /^(a|aa)+$/ log-summary }')
    with caplog.at_level(logging.WARNING, logger="mailspy"):
        assert fired(rules, message("a" * 60)) == ["hostile"]
    assert caplog.records == []


def test_a_timeout_under_not_does_not_make_the_rule_match(ruleset):
    rules = ruleset('rule "negated" { when not subject matches /^(a|aa)+$/ log-summary }')
    assert fired(rules, message(HOSTILE_VALUE)) == []
    assert fired(rules, message("hello")) == ["negated"]


def test_a_rule_stops_at_its_first_timeout_so_the_next_rules_keep_their_time(ruleset):
    """Fifty hostile recipients cost one timeout, not fifty: the message's time (ten
    timeouts) is still there for the rule after it."""
    hostile = [f"{HOSTILE_VALUE}{n}" for n in range(50)]  # never match: "!" then a digit
    rules = ruleset('rule "hostile" { when recipient matches /^(a|aa)+!$/ log-summary }\n'
                    'rule "later" { when subject matches /^re:/i log-summary }')
    verdict = evaluate(rules, message("Re: figures", recipients=hostile))
    assert [r.name for r in verdict.timed_out] == ["hostile"]
    assert [r.name for r in verdict.rules] == ["later"]


def test_a_message_spends_at_most_ten_timeouts_then_one_line_names_the_rest(ruleset, caplog):
    count = 3 * PER_MESSAGE
    rules = ruleset("\n".join(
        f'rule "hostile-{n:02d}" {{ when subject matches /^(a|aa)+$|{n}x/ log-summary }}'
        for n in range(count)))
    with caplog.at_level(logging.WARNING, logger="mailspy"):
        verdict = evaluate(rules, message(HOSTILE_VALUE))
    assert len(verdict.timed_out) == count and verdict.rules == []
    texts = [r.getMessage() for r in caplog.records if r.name == "mailspy"]
    each, summary = texts[:-1], texts[-1]
    # every search that ran gave up after its full timeout (or what the message had
    # left): ten timeouts' worth of time is spent after at most ten of them
    assert 1 <= len(each) <= PER_MESSAGE
    assert all("not matched: its regex" in t for t in each)
    rest = count - len(each)
    assert summary.startswith(f"4XyZ1: {rest} rules not matched: the message's regexes ran "
                              "out of time (0.2 s, ten times --regex-timeout): 'hostile-")


def test_the_timeout_reaches_the_rules_from_the_command_line(ruleset):
    assert ruleset('rule "r" { log-summary }', timeout=2.5).regex_limits == RegexLimits(2.5)
    assert RegexLimits(2.5).per_message == 25


# -- what check-rules says ------------------------------------------------------------

def test_python_syntax_is_the_judge_even_where_the_engine_accepts_more(problems):
    # \p{L} and possessive forms of other engines are not Python's
    assert problems(r'rule "a" { when subject matches /x\p{L}/ log-summary }') == [
        "00-file.rules:1:35: error: invalid regular expression: bad escape \\p"]


def test_repeat_counts_the_engine_would_write_out_are_refused(problems):
    assert problems('rule "a" { when subject matches /ab{1000000}/ log-summary }') == [
        "00-file.rules:1:36: error: repeat counts too large: this regex requires 1,000,001 "
        f"copies of its parts, more than mailspy's regex engine builds ({MAX_COPIES:,}); "
        "lower the minimum counts (x{5,}, not x{100000,})"]
    assert problems('rule "a" { when subject matches /(?:ab){0,1000000}c{50}/ log-summary }'
                    ) == []


def test_a_bracket_python_reads_as_text_draws_a_warning_at_it(problems):
    assert problems('rule "a" { when subject matches /x[[:alpha:]]/ log-summary }') == [
        "00-file.rules:1:36: warning: possible nested set: this '[' is read as a plain "
        "character; write \\[ to say so, as a later Python may read it otherwise"]


def test_dotless_and_dotted_i_ignoring_case_draw_a_warning(problems):
    [found] = problems('rule "a" { when subject matches /fatura b\u0131lg/i log-summary }')
    assert found.startswith("00-file.rules:1:42: warning: ignoring case, \u0131 matches only")
    assert problems('rule "a" { when subject matches /b\u0131lg/ log-summary }') == []


def test_groups_nested_too_deeply_for_the_engine_are_an_error_not_a_crash(problems):
    nested = "(?:" * 300 + "a" + ")" * 300
    [found] = problems(f'rule "a" {{ when subject matches /{nested}/ log-summary }}')
    assert found.startswith("00-file.rules:1:34: error: groups nested too deeply")


def test_the_engines_errors_point_into_the_pattern_as_written():
    with pytest.raises(PatternError) as raised:
        compile_pattern("a{2}(b", 0)
    assert raised.value.pos == 4


# -- same meaning as Python's re ------------------------------------------------------

PIECES = st.sampled_from([
    "a", "b", "k", "s", "\u017f", "K", "\u00e9", "x", " ", "-", ".", r"\.", "^", "$", r"\A",
    r"\Z", r"\b", r"\B", r"\w", r"\W", r"\d", r"\s", "[a-c]", "[^a]", r"[\w-]", "(a|bb)",
    "(?:ab|a)", r"\1", "(?=a)", "(?!b)", "(?<=a)", "(?<!b)", "(?>a+)", "a++", "(?i)", "(?s)",
    "(?i:a)", "(?x)", " # c\n",
    # what the engine would read differently, were they not escaped for it
    "{e}", "{e<=1}", "{1, 2}", "{2i}", "{error}", "[[:alpha:]]", "[[]", "[a&&b]", "{",
])
QUANTIFIERS = st.sampled_from(["", "", "*", "+", "?", "{2}", "{1,3}", "*?", "{,2}", "{2,}"])
PATTERNS = st.lists(st.tuples(PIECES, QUANTIFIERS).map("".join), min_size=1, max_size=5
                    ).map("".join)
# characters on which the engine and re agree (docs/rules.md lists the others)
VALUES = st.text(alphabet="abkKs\u017f\u00e9\u00c9x1_ -.!{}[]:e<=\n", max_size=10)
FLAGS = st.sampled_from([0, re.IGNORECASE, re.MULTILINE, re.DOTALL,
                         re.IGNORECASE | re.MULTILINE | re.DOTALL])


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=PATTERNS, flags=FLAGS, values=st.lists(VALUES, min_size=1, max_size=6))
def test_every_pattern_python_accepts_means_what_it_means_to_python(source, flags, values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            python = re.compile(source, flags)
        except re.error:
            assume(False)
    pattern = compile_pattern(source, flags)  # accepted by the engine too
    clock = RegexClock(RegexLimits(timeout=5.0))
    for value in values:
        assert pattern.search(value, clock) == (python.search(value) is not None), value


@pytest.mark.parametrize(("source", "value", "python", "mailspy"), [
    (r"\w$", "e\u0301", False, True),  # a combining accent is part of a word
    (r"\w", "\u00b2", True, False),  # superscript two is not
    (r"\s", "\x1c", True, False),  # nor are the separators 0x1C-0x1F spaces
    ("(?i)kapali", "kapal\u0131", True, False),  # i is not dotless \u0131 ignoring case
])
def test_what_differs_from_python_is_unicode_data_only(source, value, python, mailspy):
    """The differences docs/rules.md lists, so that a new engine version changing them
    is noticed."""
    assert (re.search(source, value) is not None) is python
    assert compile_pattern(source, 0).search(value, RegexClock(RegexLimits())) is mailspy


# -- checked without the engine, built by the engine when the daemon loads -----------

GROUPS = st.sampled_from(["(", "(?:", "(?=", "(?!", "(?<=a", "(?<!a", "(?>", "(?i:",
                          "(?P<g{n}>", "(?:a|"])
CLOSES = st.sampled_from([")", ")*", ")+", "){2}", ")?", ")*?", "|b)"])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(GROUPS, CLOSES), min_size=1, max_size=MAX_NESTING + 20),
       st.sampled_from(["a", "x|y", "[)(]", r"\(", "b{2}"]), FLAGS)
def test_every_pattern_the_checks_pass_the_engine_builds(levels, middle, flags):
    opens = "".join(g.format(n=n) for n, (g, _) in enumerate(levels))
    source = opens + middle + "".join(c for _, c in reversed(levels))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            re.compile(source, flags)
        except (re.error, RecursionError):
            assume(False)
    try:
        pattern = compile_pattern(source, flags)
    except PatternError as refused:
        assert len(levels) > MAX_NESTING and refused.message.startswith("groups nested")
        return
    assert len(levels) <= MAX_NESTING
    pattern.engine.search("xab")  # built, and it searches


def test_the_deepest_nesting_allowed_builds_and_one_more_is_refused():
    for group in ("(", "(?:", "(?=", "(?<=a", "(?>", "(?i:"):
        deepest = group * MAX_NESTING + "a" + ")" * MAX_NESTING
        compile_pattern(deepest, 0).engine.search("a")  # built, and it searches
        with pytest.raises(PatternError):
            compile_pattern(group * (MAX_NESTING + 1) + "a" + ")" * (MAX_NESTING + 1), 0)


def test_checking_rules_builds_no_regex_and_preparing_them_builds_each(tmp_path):
    (tmp_path / "a.rules").write_text(
        'rule "a" { when subject matches /^inv(oice)? [0-9]+$/ log-summary }\n'
        'rule "b" { when sender matches /@bank\\.example$/i log-summary }\n')
    result = load_rules(tmp_path)
    assert result.ok
    assert [p.source for p in result.rules.patterns] == [r"^inv(oice)? [0-9]+$",
                                                         r"@bank\.example$"]
    assert not any("engine" in vars(p) for p in result.rules.patterns)
    result.rules.prepare()
    assert all("engine" in vars(p) for p in result.rules.patterns)


def test_checking_rules_compiles_no_glob_and_preparing_them_compiles_each(tmp_path):
    (tmp_path / "a.rules").write_text(
        'rule "a" { when attachment matches "scan-*-[0-9].pdf" log-summary }\n'
        'rule "b" { when sender matches "*@vendor?.example" log-summary }\n'
        'rule "c" { when subject matches "*invoice" log-summary }\n')  # a suffix: no regex
    result = load_rules(tmp_path)
    assert result.ok
    globs = result.rules.globs
    assert [g.glob for g in globs] == ["scan-*-[0-9].pdf", "*@vendor?.example"]
    assert all(g._match is None for g in globs)
    result.rules.prepare()
    assert all(g._match is not None for g in globs)
    assert globs[0]("scan-7-3.pdf") and not globs[0]("scan-7-x.pdf")
