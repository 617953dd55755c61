"""The rule index only ever skips rules that cannot match: same verdicts as asking all."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailspy.evaluate import MessageValues, evaluate
from mailspy.message.model import Attachment, Envelope, Message
from mailspy.rules.index import EXACT, PREFIX, SCAN, SUBSTRING, SUFFIX, glob_shape
from mailspy.rules.load import load_rules

WORDS = ["abc", "ABC", "Abc", ".exe", "x", "inv", "invoice", "@bank", "é", "[", "]", "*", "?",
         "{e}"]
TEXT = st.lists(st.sampled_from(WORDS), max_size=3).map("".join)
FIELD = st.sampled_from(["subject", "attachment"])  # few fields: more collisions
GLOB = st.lists(st.sampled_from(["*", "?", "abc", "inv", ".exe", "[a-c]", "[!x]", "@bank"]),
                min_size=1, max_size=4).map("".join)
REGEX = st.sampled_from(["abc", "^inv", "exe$", "A.c", "(ab|xy)c", "b+c", "[a-z]nv", "\\.exe",
                         "(?i)ABC", "ba?c", "x{e}", "[[]abc", "(a|aa)+$", "\\B"])


def quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


TESTS = st.one_of(
    st.builds(lambda f, t: f"{f} is {quoted(t)}", FIELD, TEXT),
    st.builds(lambda f, t: f"{f} contains {quoted(t)}", FIELD, TEXT),
    st.builds(lambda f, g: f"{f} matches {quoted(g)}", FIELD, GLOB),
    st.builds(lambda f, r, i: f"{f} matches /{r}/{i}", FIELD, REGEX, st.sampled_from(["", "i"])),
    st.builds(lambda f, ts: f"{f} in [{', '.join(quoted(t) for t in ts)}]", FIELD,
              st.lists(TEXT, min_size=1, max_size=3)),
)
CONDITIONS = st.recursive(
    TESTS,
    lambda inner: st.one_of(
        inner.map(lambda c: f"not ({c})"),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: " and ".join(f"({c})" for c in cs)),
        st.lists(inner, min_size=2, max_size=3).map(lambda cs: " or ".join(f"({c})" for c in cs)),
    ),
    max_leaves=5,
)
RULES = st.lists(st.tuples(st.one_of(st.none(), CONDITIONS), st.booleans()), min_size=1,
                 max_size=8)


def message(sender: str, recipients: list[str], subject: str, names: list[str]) -> Message:
    msg = Message(Envelope(f"<{sender}>", [f"<{r}>" for r in recipients]))
    msg.__dict__["subject"] = subject
    msg.__dict__["attachments"] = [Attachment(n) for n in names]
    return msg


MESSAGES = st.builds(message, TEXT, st.lists(TEXT, max_size=3), TEXT, st.lists(TEXT, max_size=3))


def naive(ruleset, msg):
    """Every rule asked in turn, as docs/rules.md describes evaluation."""
    values = MessageValues(msg)
    fired = []
    for rule in ruleset.rules:
        if rule.matcher is None or rule.matcher(values):
            fired.append(rule.name)
            if rule.stops:
                break
    return fired


@pytest.mark.slow
@settings(max_examples=600, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rules=RULES, messages=st.lists(MESSAGES, min_size=1, max_size=4))
def test_the_index_agrees_with_asking_every_rule(load, rules, messages):
    text = "\n".join(
        f'rule "r{i}" {{ {"when " + cond if cond else ""} log-summary {"stop" if stop else ""} }}'
        for i, (cond, stop) in enumerate(rules))
    result = load(text)
    assert result.ok, [str(d) for d in result.diagnostics]
    for msg in messages:
        assert [r.name for r in evaluate(result.rules, msg).rules] == naive(result.rules, msg)


def test_edges_of_the_literal_tables(load):
    rules = load('rule "suffix" { when attachment matches "*.exe" log-summary }\n'
                 'rule "prefix" { when attachment matches "inv*" log-summary }\n'
                 'rule "nocase" { when attachment matches /(?i)SETUP/ log-summary }\n'
                 'rule "upper" { when attachment matches /SETUP/ log-summary }\n'
                 'rule "grams" { when attachment contains "voice" log-summary }\n'
                 'rule "kelvin" { when attachment matches /(?i)pass/ log-summary }').rules

    def fired(*names: str) -> list[str]:
        return [r.name for r in evaluate(rules, message("a@x", [], "", list(names))).rules]

    assert fired(".exe") == ["suffix"]  # the whole value is the suffix
    assert fired("inv") == ["prefix"]
    assert fired("setup.bin") == ["nocase"]
    assert fired("SETUP.bin") == ["nocase", "upper"]  # the index folds, the regex does not
    assert fired("INVOICE") == ["prefix", "grams"]
    assert fired("voice") == ["grams"]
    assert fired("PAſſ") == ["kelvin"]  # ſ matches s when case is ignored
    assert fired("\u212a") == []


def test_brackets_holding_wildcards_are_one_character(load):
    rules = load('rule "set" { when subject matches "[*abc*]" log-summary }\n'
                 'rule "x" { when subject matches "x[?_a-z0-9*]" log-summary }').rules

    def fired(subject: str) -> list[str]:
        return [r.name for r in evaluate(rules, message("a@x", [], subject, [])).rules]

    assert fired("a") == ["set"]
    assert fired("xq") == ["x"]
    assert fired("abc") == []


def test_glob_shapes():
    assert glob_shape("a@b.example") == (EXACT, "a@b.example")
    assert glob_shape("*@bank.example") == (SUFFIX, "@bank.example")
    assert glob_shape("invoice*") == (PREFIX, "invoice")
    assert glob_shape("*report*.pdf") == (SUBSTRING, "report")
    assert glob_shape("[!]]abc*") == (SUBSTRING, "abc")  # brackets are never taken for text
    assert glob_shape("[*abc*]") == (SCAN, "")
    assert glob_shape("[abc") == (EXACT, "[abc")  # an unclosed bracket stands for itself
    assert glob_shape("a?c") == (SCAN, "")


@pytest.mark.slow
def test_ten_thousand_rules_touch_only_a_few_per_message(tmp_path):
    lines = [f'rule "r{i}" {{ when sender is "user{i}@example.org" or attachment matches '
             f'"*.ext{i}" or subject contains "token{i}x" log-summary }}' for i in range(10_000)]
    lines.append('rule "neg" { when not sender is "x" log-summary }')
    (tmp_path / "a.rules").write_text("\n".join(lines))
    ruleset = load_rules(tmp_path).rules
    msg = message("user42@example.org", ["b@y"], "about token7x", ["a.ext9", "b.pdf"])
    candidates = ruleset.index.candidates(MessageValues(msg))
    assert candidates == [7, 9, 42, 10_000]
    assert [r.name for r in evaluate(ruleset, msg).rules] == ["r7", "r9", "r42", "neg"]
