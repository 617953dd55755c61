"""Every problem check-rules reports, at its exact line and column."""

from __future__ import annotations

import pytest

F = "00-file.rules"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('rule "a" {\n  when sendr is "x"\n  log-summary\n}',
         f"{F}:2:8: error: unknown field 'sendr'; did you mean 'sender'?"),
        ('rule "a" { when recipients is "x" log-summary }',
         f"{F}:1:17: error: unknown field 'recipients'; did you mean 'recipient'?"),
        ('rule "a" { when colour is "x" log-summary }',
         f"{F}:1:17: error: unknown field 'colour'; valid fields are: archive-member, "
         "attachment, attachment-type, auth-user, client-address, client-name, header, helo, "
         "message-id, recipient, recipient-domain, sender, sender-domain, size, subject"),
        ('rule "a" {\n    log-sumary\n}',
         f"{F}:2:5: error: unknown action 'log-sumary'; did you mean 'log-summary'?"),
        ('rule "a" { archive "/m" }',
         f"{F}:1:12: error: unknown action 'archive'; did you mean 'archive-to-maildir'?"),
        ('rule "a" { when subject matches /(ab/ log-summary }',
         f"{F}:1:34: error: invalid regular expression: missing ), unterminated subpattern"),
        ('rule "a" { when subject matches /a[b/ log-summary }',
         f"{F}:1:35: error: invalid regular expression: unterminated character set"),
        ('rule "a" { when subject matches /ab/ix log-summary }',
         f"{F}:1:38: error: unknown regex flag 'x'; flags are i, m, s"),
        ('rule "a" { log-summary "var/log/x" }',
         f"{F}:1:24: error: relative path 'var/log/x': paths must be absolute, starting with '/'"),
        ('rule "a" { archive-to-maildir "Maildir/" }',
         f"{F}:1:31: error: relative path 'Maildir/': paths must be absolute, starting with '/'"),
        ('rule "a" { log-headers "./h" }',
         f"{F}:1:24: error: relative path './h': paths must be absolute, starting with '/'"),
        ('rule "a" {\n}',
         f"{F}:1:1: error: rule 'a' has no action; add one, e.g. log-summary"),
        ('rule "a" { when sender is "x" }',
         f"{F}:1:1: error: rule 'a' has no action; add one, e.g. log-summary"),
        ('rule "a" { archive-to-maildir }',
         f"{F}:1:12: error: 'archive-to-maildir' needs a path: "
         'archive-to-maildir "/srv/archive"'),
        ('rule "a" { pipe-to-command }',
         f"{F}:1:12: error: 'pipe-to-command' needs a command: pipe-to-command "
         "\"/usr/bin/procmail -p -m /etc/mailspy/procmailrc\""),
        ('rule "a" { stop "now" }', f"{F}:1:17: error: 'stop' takes no argument"),
        ('rule "a" { pipe-to-command "/bin/cat \'x" }',
         f"{F}:1:28: error: cannot split the command into words: No closing quotation"),
        ('rule "a" { pipe-to-command "  " }', f"{F}:1:28: error: the command is empty"),
        ('rule "" { log-summary }', f"{F}:1:6: error: a rule needs a name: rule \"NAME\" {{"),
        ('rule "a" { when subject > 10 log-summary }',
         f"{F}:1:25: error: 'subject' is text; compare it with is, contains, matches or in"),
    ],
)
def test_semantic_errors(problems, text, expected):
    assert problems(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('rule finance { log-summary }',
         f'{F}:1:6: error: rule names are written in double quotes: rule "NAME" {{; '
         "found 'finance'"),
        ('rule "a" log-summary }',
         f"{F}:1:10: error: missing '{{' after the rule name; found 'log-summary'"),
        ('rule "a" {\n  log-summary\n  when sender is "x"\n}',
         f"{F}:3:3: error: 'when' comes first in a rule, before the actions; found 'when'"),
        ('rule "a" { when sender equals "x" log-summary }',
         f"{F}:1:24: error: expected a test after the field: is, contains, matches, in, "
         "or a comparison; found 'equals'"),
        ('rule "a" { when sender is x log-summary }',
         f"{F}:1:27: error: expected a quoted string after 'is' or 'contains'; found 'x'"),
        ('rule "a" { when sender matches *.exe log-summary }',
         f"{F}:1:32: error: unexpected character '*'"),
        ('rule "a" { when sender in "x" log-summary }',
         f'{F}:1:27: error: expected a list after \'in\': ["a", "b"], or file "/path"; '
         'found a quoted string "x"'),
        ('rule "a" { when sender in ["x" "y"] log-summary }',
         f'{F}:1:32: error: a list holds quoted strings separated by commas: ["a", "b"]; '
         'found a quoted string "y"'),
        ('rule "a" { when sender is "x" and }',
         f"{F}:1:35: error: expected a field name (sender, recipient, subject, attachment, ...); "
         "found '}'"),
        ('rule "a" { when (sender is "x" log-summary }',
         f"{F}:1:32: error: missing ')'; found 'log-summary'"),
        ('rule "a" {\n  log-summary\n',
         f"{F}:3:1: error: missing '}}' at the end of the rule; found end of file"),
        ('rule "a" { when sender is "x\n log-summary }',
         f"{F}:1:27: error: unterminated string: a quoted string ends with '\"' "
         "on the same line"),
        ("rule \"a\" { when sender is 'x' log-summary }",
         f"{F}:1:27: error: strings are written in double quotes, not single quotes"),
        ('rule "a" { when sender is "x" && subject is "y" log-summary }',
         f"{F}:1:31: error: combine tests with 'and'"),
        ('rule "a" { when sender is "x" || subject is "y" log-summary }',
         f"{F}:1:31: error: combine tests with 'or'"),
        ('rule "a" { when ! sender is "x" log-summary }',
         f"{F}:1:17: error: negate a test with 'not'"),
        ('rule "a" { when sender == "x" log-summary }',
         f"{F}:1:27: error: expected a number; found a quoted string \"x\""),
        ('rule "a" { when subject matches /abc log-summary }',
         f"{F}:1:33: error: unterminated regular expression: write /regex/ on one line"),
        ('rule "a" { log-summary } }',
         f'{F}:1:26: error: a rule starts with: rule "NAME" {{; found \'}}\''),
    ],
)
def test_syntax_errors_say_what_was_expected(problems, text, expected):
    assert problems(text) == [expected]


def test_a_syntax_error_is_never_a_lark_traceback(problems):
    [problem] = problems('rule "a" { when ( ( ( }')
    assert problem.startswith(f"{F}:1:")
    assert "Traceback" not in problem and "Token(" not in problem


def test_every_broken_rule_in_a_file_is_reported_and_good_rules_still_checked(problems):
    text = "\n".join([
        'rule "one" { log-summary }',
        'rule "two" { when sender equals "x" log-summary }',
        'rule "three" { when sendr is "x" log-summary }',
        'rule "four" { log-summary',
        'rule "five" { when subject is x log-summary }',
        'rule "six" { log-sumary }',
    ])
    assert problems(text) == [
        f"{F}:2:26: error: expected a test after the field: is, contains, matches, in, "
        "or a comparison; found 'equals'",
        f"{F}:3:21: error: unknown field 'sendr'; did you mean 'sender'?",
        f'{F}:5:1: error: missing \'}}\' at the end of the rule; found \'rule\'',
        f"{F}:5:31: error: expected a quoted string after 'is' or 'contains'; found 'x'",
        f"{F}:6:14: error: unknown action 'log-sumary'; did you mean 'log-summary'?",
    ]


def test_problems_in_all_files_are_reported_in_one_run(problems):
    found = problems('rule "a" { log-sumary }', 'rule "b" { when sendr is "" log-summary }')
    assert found == [
        f"{F}:1:12: error: unknown action 'log-sumary'; did you mean 'log-summary'?",
        "01-file.rules:1:17: error: unknown field 'sendr'; did you mean 'sender'?",
    ]


def test_duplicate_rule_names_name_both_places(problems):
    found = problems('rule "a" { log-summary }', '\n  rule "a" { log-headers }')
    assert found == [f"01-file.rules:2:3: error: duplicate rule name 'a'; first defined at "
                     f"{F}:1:1"]


def test_rules_after_an_unconditional_stop_are_warned_about(problems):
    found = problems('rule "a" { log-summary }\nrule "b" { stop }\nrule "c" { log-summary }',
                     'rule "d" { log-headers }')
    assert found == [
        f"{F}:3:1: warning: rule 'c' can never run: rule 'b' at {F}:2:1 stops every message",
        f"01-file.rules:1:1: warning: rule 'd' can never run: rule 'b' at {F}:2:1 stops "
        "every message",
    ]


def test_a_conditional_stop_warns_about_nothing(problems):
    assert problems('rule "a" { when sender is "" stop }\nrule "b" { log-summary }') == []


def test_pipe_programs_that_are_missing_or_not_executable_are_warned_about(problems, tmp_path):
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    found = problems(f'rule "a" {{ pipe-to-command "/nonexistent/procmail -m x" }}\n'
                     f'rule "b" {{ pipe-to-command "{script} arg" }}\n'
                     'rule "c" { pipe-to-command "no-such-program-here x" }\n'
                     'rule "d" { pipe-to-command "/bin/cat" }\n'
                     'rule "e" { pipe-to-command "cat -u" }')
    assert found == [
        f"{F}:1:12: warning: program '/nonexistent/procmail' does not exist",
        f"{F}:2:12: warning: program 'not-executable' is not executable",
        f"{F}:3:12: warning: program 'no-such-program-here' is not on PATH; give its "
        "absolute path",
    ]


def test_warnings_alone_leave_the_rules_valid(load):
    result = load('rule "a" { pipe-to-command "/nonexistent/x" }')
    assert result.ok and len(result.diagnostics) == 1


def test_rules_files_writable_by_others_draw_a_warning(load, tmp_path):
    result = load('rule "a" { log-summary }')
    (tmp_path / F).chmod(0o666)
    from mailspy.rules.load import load_rules

    [warning] = load_rules(tmp_path).diagnostics
    assert str(warning) == f"{tmp_path}/{F}:1:1: warning: writable by every user; " \
                           f"run: chmod o-w {tmp_path}/{F}"
    assert result.ok


def test_a_file_that_is_not_utf8_is_an_error_at_the_bad_byte(tmp_path):
    from mailspy.rules.load import load_rules

    (tmp_path / "a.rules").write_bytes(b'rule "a" {\n  when subject is "caf\xe9" log-summary }')
    [problem] = load_rules(tmp_path).diagnostics
    assert str(problem) == f"{tmp_path}/a.rules:2:23: error: not valid UTF-8; save the file " \
                           "as UTF-8"


@pytest.mark.parametrize("regex", ["/(a+)+b/", r"/^(\w+\s?)*$/", "/((a*))*/i"])
def test_a_regex_that_can_backtrack_for_minutes_draws_a_warning(problems, regex):
    assert problems(f'rule "a" {{ when subject matches {regex} log-summary }}') == [
        f"{F}:1:33: warning: a repeat inside a repeat, like (a+)+, can backtrack for "
        "minutes on a crafted value; mailspy stops the search after --regex-timeout "
        "(0.1 s by default) and the rule does not match, so a sender can slip mail past it: "
        "rewrite the regex without the nested repeat"]


@pytest.mark.parametrize("regex", ["/(a|aa)+/", "/a+b+/", "/(?:a*b)*/", "/(a+){2}/",
                                   r"/\d+\.(pdf|tiff?)$/"])
def test_ordinary_repeats_draw_no_warning(problems, regex):
    assert problems(f'rule "a" {{ when subject matches {regex} log-summary }}') == []
