"""What a rule means: its fields, tests and actions, one behaviour each."""

from __future__ import annotations

import pytest

from mailspy.evaluate import evaluate
from mailspy.message.model import Attachment, Envelope, Message


def message(sender="a@example.org", recipients=("b@example.org",), subject="",
            attachments=()) -> Message:
    msg = Message(Envelope(f"<{sender}>", [f"<{r}>" for r in recipients]))
    msg.__dict__["subject"] = subject  # the decoded subject, as the message stage gives it
    msg.__dict__["attachments"] = [Attachment(name) for name in attachments]
    return msg


@pytest.fixture
def fires(load):
    """fires('when ...', message) -> True when a rule with that condition matches."""

    def _fires(condition: str, msg: Message) -> bool:
        result = load(f'rule "r" {{ {condition} log-summary }}')
        assert result.ok, result.diagnostics
        return bool(evaluate(result.rules, msg).rules)

    return _fires


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('when subject is "Invoice 7"', True),
        ('when subject is "INVOICE 7"', True),
        ('when subject is "Invoice"', False),
        ('when subject contains "VOICE"', True),
        ('when subject contains "voice 8"', False),
        ('when subject matches "inv*"', True),
        ('when subject matches "Invoice ?"', True),
        ('when subject matches "voice*"', False),  # a glob matches the whole value
        ('when subject matches "*[0-9]"', True),
        ('when subject matches /voice/', True),  # a regex searches
        ('when subject matches /^voice/', False),
        ('when subject matches /INVOICE/', False),  # regexes are case sensitive...
        ('when subject matches /INVOICE/i', True),  # ...unless flagged i
        ('when subject in ["Receipt", "invoice 7"]', True),
        ('when subject in ["Receipt", "invoice"]', False),
    ],
)
def test_tests_on_a_one_valued_field(fires, condition, expected):
    assert fires(condition, message(subject="Invoice 7")) is expected


def test_case_folding_is_ascii_only(fires):
    msg = message(subject="ÉTÉ Offer")
    assert fires('when subject is "ÉTÉ offer"', msg)
    assert not fires('when subject is "été offer"', msg)
    assert fires('when subject contains "offer"', msg)
    assert not fires('when subject matches "été*"', msg)


def test_regex_flags_m_and_s(fires):
    msg = message(subject="first\nsecond")
    assert not fires("when subject matches /^second/", msg)
    assert fires("when subject matches /^second/m", msg)
    assert not fires("when subject matches /first.second/", msg)
    assert fires("when subject matches /first.second/s", msg)
    assert fires("when subject matches /FIRST.SECOND/si", msg)


def test_glob_matches_across_slashes_and_newlines(fires):
    assert fires('when attachment matches "*.exe"', message(attachments=["dir/x.exe"]))
    assert fires('when subject matches "a*b"', message(subject="a\nb"))


def test_a_many_valued_field_passes_when_any_value_passes(fires):
    msg = message(recipients=["x@corp.example", "cfo@corp.example"])
    assert fires('when recipient is "cfo@corp.example"', msg)
    assert fires('when recipient matches "x@*"', msg)
    assert not fires('when recipient is "ceo@corp.example"', msg)


def test_not_on_a_many_valued_field_negates_the_any(fires):
    msg = message(recipients=["x@corp.example", "cfo@corp.example"])
    assert not fires('when not recipient is "cfo@corp.example"', msg)
    assert fires('when not recipient is "ceo@corp.example"', msg)


def test_a_field_with_no_values_passes_no_test(fires):
    msg = message(attachments=[], recipients=[])
    assert not fires('when attachment matches "*"', msg)
    assert not fires("when attachment matches /.*/", msg)
    assert not fires('when attachment contains ""', msg)
    assert not fires('when recipient in ["a"]', msg)
    assert fires('when not attachment matches "*"', msg)


def test_sender_of_a_bounce_is_the_empty_string(fires):
    bounce = Message(Envelope("<>", ["<b@x>"]))
    assert fires('when sender is ""', bounce)
    assert not fires('when sender is ""', message())


def test_sender_and_recipients_lose_their_angle_brackets(fires):
    msg = message(sender="Ann@Example.org", recipients=["Bob@Example.org"])
    assert fires('when sender is "ann@example.org"', msg)
    assert fires("when recipient matches /^Bob@/", msg)


def test_precedence_not_then_and_then_or(fires):
    msg = message(sender="a@x", subject="s")
    # not a and b or c == ((not a) and b) or c
    assert not fires('when not sender is "a@x" and subject is "s" or subject is "zz"', msg)
    assert fires('when not sender is "a@x" and subject is "zz" or subject is "s"', msg)
    assert not fires('when not (sender is "a@x" or subject is "s")', msg)
    assert fires('when not not sender is "a@x"', msg)


def verdict_for(load, *texts, msg=None):
    result = load(*texts)
    assert result.ok, result.diagnostics
    return evaluate(result.rules, msg or message())


def test_rules_fire_in_file_order_and_actions_run_once_in_order(load):
    verdict = verdict_for(
        load,
        'rule "a" { log-summary archive-to-maildir "/m" }',
        'rule "b" { log-headers log-summary "/var/log/mailspy/mailspy" archive-to-maildir "/n" }',
    )
    assert [r.name for r in verdict.rules] == ["a", "b"]
    assert [(a.name, a.target) for a in verdict.actions] == [
        ("log-summary", "/var/log/mailspy/mailspy"),
        ("archive-to-maildir", "/m"),
        ("log-headers", "/var/log/mailspy/headers"),
        ("archive-to-maildir", "/n"),
    ]
    assert verdict.stopped_by is None


def test_stop_ends_evaluation_but_all_of_the_rules_actions_run(load):
    verdict = verdict_for(load, 'rule "a" { log-headers stop log-summary }',
                          'rule "b" { archive-to-maildir "/m" }')
    assert [r.name for r in verdict.rules] == ["a"]
    assert [a.name for a in verdict.actions] == ["log-headers", "log-summary"]
    assert verdict.stopped_by.name == "a"


def test_a_stop_that_does_not_match_stops_nothing(load):
    verdict = verdict_for(load, 'rule "a" { when sender is "zz" stop }',
                          'rule "b" { log-summary }')
    assert [r.name for r in verdict.rules] == ["b"]
    assert verdict.stopped_by is None


def test_files_are_read_in_byte_order_of_their_names(tmp_path):
    from mailspy.rules.load import load_rules

    for name in ["b.rules", "B.rules", "a-2.rules", "a_1.rules", "10.rules", "9.rules"]:
        (tmp_path / name).write_text(f'rule "{name}" {{ log-summary }}')
    names = [r.name for r in load_rules(tmp_path).rules.rules]
    assert names == ["10.rules", "9.rules", "B.rules", "a-2.rules", "a_1.rules", "b.rules"]


def test_only_rules_files_are_read(tmp_path):
    from mailspy.rules.load import load_rules

    for name in ["ok.rules", "ok.rules~", "ok.rules.swp", "ok.rules.dpkg-old", "README",
                 ".hidden.rules", "#ok.rules#"]:
        (tmp_path / name).write_text(f'rule "{name}" {{ log-summary }}')
    (tmp_path / "dir.rules").mkdir()
    result = load_rules(tmp_path)
    assert [r.name for r in result.rules.rules] == ["ok.rules"]
    assert result.files == [str(tmp_path / "ok.rules")]


def test_attachment_names_are_tested_one_by_one(fires):
    msg = message(attachments=["report.pdf", "setup.EXE"])
    assert fires('when attachment matches "*.exe"', msg)
    assert fires('when attachment in ["report.pdf"]', msg)
    assert not fires('when attachment is "report.pdf setup.exe"', msg)


def test_field_values_are_computed_once_per_message(load):
    calls = []

    class Counting(Message):
        @property
        def attachment_outline(self):
            calls.append(1)
            return [Attachment("a.exe")]

    msg = Counting(Envelope("<a@x>", ["<b@x>"]))
    verdict_for(load, 'rule "a" { when attachment matches "*.exe" or attachment is "x" '
                      'log-summary }\nrule "b" { when attachment contains "a" log-summary }',
                msg=msg)
    assert calls == [1]


def test_a_message_no_rule_asks_about_is_never_walked(load):
    class Exploding(Message):
        @property
        def attachments(self):
            raise AssertionError("walked")

        @property
        def attachment_outline(self):
            raise AssertionError("walked")

    verdict = verdict_for(load, 'rule "a" { when sender is "a@x" log-summary }',
                          msg=Exploding(Envelope("<a@x>", [])))
    assert [r.name for r in verdict.rules] == ["a"]


def test_one_file_spelled_differently_is_still_one_action(load):
    verdict = verdict_for(load, 'rule "a" { log-summary }',
                          'rule "b" { log-summary "/var/log/mailspy/mailspy" format text }',
                          'rule "c" { log-summary "/var/log//mailspy/mailspy" }',
                          'rule "d" { log-summary "/var/log/../log/mailspy/./mailspy" }')
    assert [(a.name, a.target, a.options) for a in verdict.actions] == [
        ("log-summary", "/var/log/mailspy/mailspy", ())]
