"""Shadow rules: `shadow rule "NAME" { ... }` is evaluated like any rule, acts on nothing."""

from __future__ import annotations

import pytest

from mailspy.evaluate import evaluate
from mailspy.rules.compile import Defaults
from mailspy.rules.load import load_rules

from .test_semantics import message

F = "00-file.rules"

QUARANTINE = """
rule "bounces" { when sender is "" stop }
shadow rule "quarantine" {
    when attachment matches "*.iso"
    archive-to-maildir "/srv/quarantine"
    log-summary "/var/log/mailspy/quarantine.log"
    stop
}
rule "everything" { log-summary }
"""


def test_a_shadow_rule_is_parsed_and_marked(load):
    result = load(QUARANTINE)
    assert result.ok, result.diagnostics
    shadow = [r for r in result.rules.rules if r.shadow]
    assert [r.name for r in shadow] == ["quarantine"]
    assert [(a.name, a.target) for a in shadow[0].actions] == [
        ("archive-to-maildir", "/srv/quarantine"),
        ("log-summary", "/var/log/mailspy/quarantine.log")]
    assert shadow[0].stops and str(shadow[0].position) == f"{result.files[0]}:3:1"


def test_its_hit_is_recorded_apart_and_it_runs_nothing_and_stops_nothing(load):
    result = load(QUARANTINE)
    verdict = evaluate(result.rules, message(attachments=("cd.iso",)))
    assert [r.name for r in verdict.shadow] == ["quarantine"]
    assert [r.name for r in verdict.rules] == ["everything"]  # its stop stopped nothing
    assert [(a.name, a.target) for a in verdict.actions] == [
        ("log-summary", "/var/log/mailspy/mailspy")]  # none of its own actions
    assert verdict.stopped_by is None


def test_it_is_evaluated_like_any_rule_in_its_place(load):
    """A real rule's stop before it ends evaluation: it sees what a rule there would."""
    result = load(QUARANTINE)
    bounce = message(sender="", attachments=("cd.iso",))
    verdict = evaluate(result.rules, bounce)
    assert verdict.shadow == [] and verdict.stopped_by is not None
    assert evaluate(result.rules, message(attachments=("a.pdf",))).shadow == []


def test_it_does_not_make_the_rules_after_it_unreachable(problems):
    assert problems('shadow rule "all" { stop }\nrule "b" { log-summary }') == []
    assert problems('rule "all" { stop }\nrule "b" { log-summary }') == [
        f"{F}:2:1: warning: rule 'b' can never run: rule 'all' at {F}:1:1 stops every message"]


def test_the_rule_set_knows_its_shadow_log_only_when_it_has_shadow_rules(tmp_path):
    (tmp_path / "a.rules").write_text(QUARANTINE)
    rules = load_rules(tmp_path, defaults=Defaults(shadow_log="/var/log//x/shadow.jsonl",
                                                   root="/tmp/try")).rules
    assert rules.shadow_log == "/tmp/try/var/log/x/shadow.jsonl"
    assert rules.unused_steps == frozenset()  # the shadow record names the client
    (tmp_path / "a.rules").write_text('rule "a" { log-summary }')
    rules = load_rules(tmp_path).rules
    assert rules.shadow_log is None and rules.unused_steps == {"connect", "helo"}


def test_shadow_rules_keep_their_names_unique_with_the_others(problems):
    assert problems('rule "a" { log-summary }', 'shadow rule "a" { stop }') == [
        f"01-file.rules:1:1: error: duplicate rule name 'a'; first defined at {F}:1:1"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('rule shadow "a" { log-summary }',
         f"{F}:1:6: error: 'shadow' comes before 'rule': shadow rule \"NAME\" {{; "
         "found 'shadow'"),
        ('rule "a" shadow { log-summary }',
         f"{F}:1:10: error: 'shadow' comes before 'rule': shadow rule \"NAME\" {{; "
         "found 'shadow'"),
        ('rule "a" {\n  shadow\n  log-summary\n}',
         f"{F}:2:3: error: 'shadow' comes before 'rule': shadow rule \"NAME\" {{; "
         "found 'shadow'"),
        ('shadow "a" { log-summary }',
         f"{F}:1:8: error: 'shadow' is followed by 'rule': shadow rule \"NAME\" {{; "
         'found a quoted string "a"'),
        ('shadwo rule "a" { log-summary }',
         f"{F}:1:1: error: a rule starts with: rule \"NAME\" {{; found 'shadwo'; "
         "did you mean 'shadow'?"),
        ('shadow rule "" { log-summary }',
         f"{F}:1:13: error: a rule needs a name: rule \"NAME\" {{"),
        ('shadow rule "a" { }', f"{F}:1:1: error: rule 'a' has no action; add one, e.g. "
         "log-summary"),
    ],
)
def test_mistakes_with_shadow_are_diagnosed_at_their_place(problems, text, expected):
    assert problems(text) == [expected]


def test_a_broken_shadow_rule_does_not_hide_the_next_one(problems):
    text = "\n".join([
        'shadow rule "one" { log-sumary }',
        'shadow rule "two" { when sendr is "x" log-summary',
        'shadow rule "three" { when subject is x log-summary }',
    ])
    assert problems(text) == [
        f"{F}:1:21: error: unknown action 'log-sumary'; did you mean 'log-summary'?",
        f"{F}:3:1: error: missing '}}' at the end of the rule; found 'shadow'",
        f"{F}:3:39: error: expected a quoted string after 'is' or 'contains'; found 'x'",
    ]


def test_a_misspelt_keyword_gets_a_did_you_mean(problems):
    assert problems('rul "a" { log-summary }') == [
        f"{F}:1:1: error: a rule starts with: rule \"NAME\" {{; found 'rul'; "
        "did you mean 'rule'?"]
