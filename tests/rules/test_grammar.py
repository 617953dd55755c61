"""Every construct of the language parses into the rule it means."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailspy.rules import ast
from mailspy.rules.ast import All, Any, Not, Regex
from mailspy.rules.load import read_rules_file


def only_rule(load, text):
    result = load(text)
    assert result.diagnostics == []
    [rule] = result.rules.rules
    return rule


def ast_of(load, text):
    """The parsed (uncompiled) rules of one file."""
    result = load(text)
    rules, diagnostics = read_rules_file(Path(result.files[0]))
    assert diagnostics == []
    return rules


def test_a_rule_without_when_matches_every_message(load):
    [rule] = ast_of(load, 'rule "all" { log-summary }')
    assert rule.name == "all"
    assert rule.condition is None
    assert [(a.name, a.target) for a in rule.actions] == [("log-summary", None)]


def test_layout_is_free_and_comments_run_to_end_of_line(load):
    text = '# header\nrule\n"a"{when\nsender is "x"# why\nlog-summary}  # done\n'
    [rule] = ast_of(load, text)
    assert rule.condition == ast.Test(rule.condition.field, "is", "x", rule.condition.position)
    assert rule.condition.field.name == "sender"


def test_an_empty_file_and_a_file_of_comments_hold_no_rules(load):
    assert ast_of(load, "") == []
    assert ast_of(load, "# nothing here\n   \n# still nothing\n") == []


@pytest.mark.parametrize(
    ("test", "op", "value"),
    [
        ('subject is "Invoice"', "is", "Invoice"),
        ('subject contains "voice"', "contains", "voice"),
        ('attachment matches "*.pdf"', "glob", "*.pdf"),
        ("attachment matches /\\.pdf$/i", "regex", Regex("\\.pdf$", "i")),
        ('recipient in ["a@x", "b@x",]', "in", ("a@x", "b@x")),
        ('recipient in ["a@x"]', "in", ("a@x",)),
    ],
)
def test_each_kind_of_test(load, test, op, value):
    [rule] = ast_of(load, f'rule "r" {{ when {test} log-summary }}')
    assert (rule.condition.op, rule.condition.value) == (op, value)


def test_strings_unescape_quote_and_backslash_and_keep_other_backslashes(load):
    [rule] = ast_of(load, r'rule "r" { when subject is "say \"hi\" C:\\dir \d" log-summary }')
    assert rule.condition.value == 'say "hi" C:\\dir \\d'


def test_not_binds_tighter_than_and_which_binds_tighter_than_or(load):
    [rule] = ast_of(load, 'rule "r" { when not sender is "a" and subject is "b" '
                          'or recipient is "c" log-summary }')
    cond = rule.condition
    assert isinstance(cond, Any)
    first, second = cond.operands
    assert isinstance(first, All)
    assert isinstance(first.operands[0], Not)
    assert first.operands[0].operand.value == "a"
    assert first.operands[1].value == "b"
    assert second.value == "c"


def test_parentheses_group(load):
    [rule] = ast_of(load, 'rule "r" { when not (sender is "a" or sender is "b") '
                          'and subject is "c" log-summary }')
    cond = rule.condition
    assert isinstance(cond, All)
    assert isinstance(cond.operands[0], Not)
    assert isinstance(cond.operands[0].operand, Any)


def test_actions_keep_their_order_and_stop_is_a_flag(load):
    [rule] = ast_of(load, 'rule "r" { log-headers "/a" stop archive-to-maildir "/m" '
                          'pipe-to-command "/bin/cat -u" log-summary }')
    assert rule.stops is True
    assert [(a.name, a.target) for a in rule.actions] == [
        ("log-headers", "/a"), ("archive-to-maildir", "/m"),
        ("pipe-to-command", "/bin/cat -u"), ("log-summary", None)]


def test_rules_remember_file_line_and_column(load):
    rules = ast_of(load, '\n\n   rule "a" { log-summary }\nrule "b" {\n  when subject is "x"\n'
                         "  log-summary }")
    assert [(r.position.line, r.position.column) for r in rules] == [(3, 4), (4, 1)]
    assert rules[0].position.file.endswith("00-file.rules")
    assert (rules[1].condition.field.position.line, rules[1].condition.field.position.column) \
        == (5, 8)


def test_many_rules_in_one_file_keep_file_order(load):
    text = "".join(f'rule "r{i}" {{ log-summary }}\n' for i in range(50))
    assert [r.name for r in ast_of(load, text)] == [f"r{i}" for i in range(50)]


def test_keywords_are_case_sensitive_and_names_may_hold_hyphens(load):
    result = load('RULE "a" { log-summary }')
    assert result.errors


def test_compiled_rule_carries_its_planned_actions(load):
    rule = only_rule(load, 'rule "r" { log-summary log-headers archive-to-maildir "/m" }')
    assert [(a.name, a.target) for a in rule.actions] == [
        ("log-summary", "/var/log/mailspy/mailspy"),
        ("log-headers", "/var/log/mailspy/headers"),
        ("archive-to-maildir", "/m"),
    ]
