"""An action's options: `format json`, and `with NAME VALUE, ...` for any option an action
declares, each checked where it is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mailspy.rules.compile import Defaults
from mailspy.rules.load import load_rules

F = "00-file.rules"


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "privacy.key"
    path.write_bytes(os.urandom(32))
    path.chmod(0o600)
    return path


def planned(load, text: str) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    result = load(text)
    assert result.ok, result.diagnostics
    return [(a.name, a.target, a.options) for r in result.rules.rules for a in r.actions]


def test_options_follow_with_separated_by_commas(load, key):
    text = (f'rule "a" {{\n  log-summary "/var/log/x.jsonl" format json\n'
            f'    with addresses hash-local, subject drop, key "{key}"\n'
            '  log-headers with keep-headers ["From", "Date"], addresses domain\n'
            '  log-summary with format json\n'
            '  stop\n}')
    assert planned(load, text) == [
        ("log-summary", "/var/log/x.jsonl",
         (("format", "json"), ("addresses", "hash-local"), ("subject", "drop"),
          ("key", str(key)))),
        ("log-headers", "/var/log/mailspy/headers",
         (("keep-headers", "From,Date"), ("addresses", "domain"))),
        ("log-summary", "/var/log/mailspy/mailspy", (("format", "json"),)),
    ]


def test_an_option_at_its_default_is_the_same_action_as_none(load):
    """`with subject keep` writes what `log-summary` writes: it runs once."""
    assert planned(load, 'rule "a" { log-summary with subject keep, addresses keep }') == [
        ("log-summary", "/var/log/mailspy/mailspy", ())]


def test_a_name_list_may_be_one_quoted_name(load):
    assert planned(load, 'rule "a" { log-headers with drop-headers "Received" }') == [
        ("log-headers", "/var/log/mailspy/headers", (("drop-headers", "Received"),))]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('rule "a" { log-summary with adresses hash }',
         f"{F}:1:29: error: unknown option 'adresses'; did you mean 'addresses'?"),
        ('rule "a" { log-summary with colour red }',
         f"{F}:1:29: error: unknown option 'colour'; valid options are: addresses, "
         "attachment-names, client, format, key, subject"),
        ('rule "a" { log-summary with subject hsah }',
         f"{F}:1:37: error: unknown value 'hsah' for 'subject'; did you mean 'hash'?"),
        ('rule "a" { log-summary with subject "drop" }',
         f"{F}:1:37: error: 'subject' takes one of the words keep, hash or drop, unquoted"),
        ('rule "a" { log-summary with subject [ "drop" ] }',
         f"{F}:1:39: error: 'subject' takes one of the words keep, hash or drop, unquoted"),
        ('rule "a" { log-summary format xml }',
         f"{F}:1:31: error: unknown value 'xml' for 'format'; 'format' takes text or json"),
        ('rule "a" { log-summary with key /etc/k }',
         f"{F}:1:33: error: an option needs a value: a word, a quoted string or a list "
         "(e.g. subject drop, key \"/path\", keep-headers [\"From\"]); found a /regex/ /etc/k"),
        ('rule "a" { log-summary with key etc }',
         f"{F}:1:33: error: 'key' takes \"/path\", in quotes"),
        ('rule "a" { log-summary with key "etc/k" }',
         f"{F}:1:33: error: relative path 'etc/k': the key file needs an absolute path"),
        ('rule "a" { log-summary with key ["/a", "/b"] }',
         f"{F}:1:34: error: 'key' takes one quoted value, not a list: key \"/path\""),
        ('rule "a" { log-headers with keep-headers ["From", "To:"] }',
         f"{F}:1:51: error: 'To:' is not a header name: write it without the colon, "
         'e.g. "Received"'),
        ('rule "a" { log-headers with keep-headers ["From"], drop-headers ["To"] }',
         f"{F}:1:52: error: 'drop-headers' and 'keep-headers' exclude each other: give one "
         "of them"),
        ('rule "a" { log-summary with subject drop, subject hash }',
         f"{F}:1:43: error: option 'subject' is given twice; the first is at {F}:1:29"),
        ('rule "a" { log-summary format json with format text }',
         f"{F}:1:41: error: option 'format' is given twice; the first is at {F}:1:24"),
        ('rule "a" { log-headers format json }',
         f"{F}:1:24: error: unknown option 'format'; valid options are: addresses, "
         "drop-headers, keep-headers, key, subject"),
        ('rule "a" { log-headers with client drop }',
         f"{F}:1:29: error: unknown option 'client'; valid options are: addresses, "
         "drop-headers, keep-headers, key, subject"),
        ('rule "a" { archive-to-maildir "/m" with subject drop }',
         f"{F}:1:41: error: 'archive-to-maildir' takes no options"),
        ('rule "a" { stop with subject drop }', f"{F}:1:22: error: 'stop' takes no options"),
        ('rule "a" { log-sumary with subject drop }',
         f"{F}:1:12: error: unknown action 'log-sumary'; did you mean 'log-summary'?"),
    ],
)
def test_each_option_is_checked_where_it_is_written(problems, text, expected):
    assert problems(text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('rule "a" {\n  log-summary subject drop\n  log-headers\n}',
         [f"{F}:2:15: error: 'subject' is an option of 'log-summary', not an action: write "
          "options after 'with', separated by commas: log-summary with subject hash"]),
        ('rule "a" { log-summary with subject drop addresses hash }',
         [f"{F}:1:42: error: 'addresses' is an option of 'log-summary', not an action: write "
          "options after 'with', separated by commas: log-summary with addresses hash"]),
        ('rule "a" { log-summary key "/k" log-sumary }',
         [f"{F}:1:24: error: 'key' is an option of 'log-summary', not an action: write "
          "options after 'with', separated by commas: log-summary with key \"/path\"",
          f"{F}:1:33: error: unknown action 'log-sumary'; did you mean 'log-summary'?"]),
        ('rule "a" { log-headers keep-headers ["From"] }',
         [f"{F}:1:37: error: options follow 'with', separated by commas: log-headers with "
          "keep-headers [\"From\", \"Date\"]; found '['"]),
        ('rule "a" { log-summary with }',
         [f"{F}:1:29: error: an option follows 'with': with NAME VALUE, NAME VALUE (e.g. "
          "with subject drop); found '}'"]),
        ('rule "a" { log-summary with subject drop, }',
         [f"{F}:1:43: error: an option follows 'with': with NAME VALUE, NAME VALUE (e.g. "
          "with subject drop); found '}'"]),
        ('rule "a" { log-summary with subject }',
         [f"{F}:1:37: error: an option needs a value: a word, a quoted string or a list "
          "(e.g. subject drop, key \"/path\", keep-headers [\"From\"]); found '}'"]),
        ('rule "a" { log-summary with subject, addresses hash }',
         [f"{F}:1:36: error: an option needs a value: a word, a quoted string or a list "
          "(e.g. subject drop, key \"/path\", keep-headers [\"From\"]); found ','"]),
    ],
)
def test_an_option_written_out_of_place_says_how_to_write_it(problems, text, expected):
    """A name after an action may be the next action's: options follow `with`, so an
    option written without it reads as an action, and is reported as the option."""
    assert problems(text) == expected


def test_hashing_needs_a_key_file_checked_like_a_list_file(tmp_path, load):
    missing = tmp_path / "none.key"
    [problem] = load(f'rule "a" {{ log-summary with subject hash, key "{missing}" }}'
                     ).diagnostics
    assert str(problem) == (
        f"{tmp_path}/00-file.rules:1:43: error: cannot read key file '{missing}': No such "
        f"file or directory; make one with: head -c 32 /dev/urandom > {missing} && chmod "
        f"640 {missing} && chown root:mailspy {missing}")
    short = tmp_path / "short.key"
    short.write_bytes(b"abc\n")
    [problem] = load(f'rule "a" {{ log-summary with addresses hash, key "{short}" }}'
                     ).diagnostics
    assert problem.is_error and "holds fewer than 16 bytes" in problem.message
    fifo = tmp_path / "fifo.key"
    os.mkfifo(fifo)
    [problem] = load(f'rule "a" {{ log-summary with addresses hash, key "{fifo}" }}'
                     ).diagnostics
    assert problem.is_error and "not a regular file" in problem.message


def test_a_key_others_may_read_or_write_is_a_warning(tmp_path, load, key):
    key.chmod(0o604)
    [problem] = load(f'rule "a" {{ log-summary with client hash, key "{key}" }}').diagnostics
    assert not problem.is_error
    assert problem.message == (f"key file '{key}' is readable by every user, who can then "
                               f"test guessed addresses against the tokens; run: chmod o-r {key}")
    key.chmod(0o602)
    [problem] = load(f'rule "a" {{ log-summary with client hash, key "{key}" }}').diagnostics
    assert problem.message == f"key file '{key}': writable by every user; run: chmod o-w {key}"


def test_without_key_option_the_default_key_file_is_read(tmp_path, load):
    [problem] = load('rule "a" { log-summary with addresses hash }').diagnostics
    assert "cannot read key file '/etc/mailspy/privacy.key'" in problem.message \
        or not os.path.exists("/etc/mailspy/privacy.key")
    assert str(problem.position).endswith(":1:12")  # at the action: no key option written


def test_options_that_hash_nothing_need_no_key(load):
    assert load('rule "a" { log-summary with subject drop, addresses domain }').ok


def test_the_keys_are_read_once_per_load_and_kept_with_the_rules(tmp_path, key):
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.rules").write_text(
        f'rule "a" {{ log-summary with subject hash, key "{key}" '
        f'log-headers with addresses hash, key "{key}" }}')
    loaded = load_rules(rules, defaults=Defaults())
    assert loaded.ok and dict(loaded.rules.keys) == {str(key): key.read_bytes()}
