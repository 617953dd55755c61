"""The fields beyond the first four: headers, domains, client, AUTH, size, types, archives."""

from __future__ import annotations

import pytest

from mailspy.evaluate import evaluate
from mailspy.message.model import Attachment, Envelope, Message

F = "00-file.rules"


def message(**envelope) -> Message:
    defaults = dict(mail_from="<ann@Example.ORG>", rcpt_to=["<b@corp.example>", "<c@x.example>"],
                    client_address="192.0.2.7", client_name="mx.example.org",
                    helo="mx.example.org", auth_user="")
    msg = Message(Envelope(**{**defaults, **envelope}),
                  headers=[("X-Spam-Flag", "YES"), ("Received", "from a"),
                           ("Received", "from b"), ("X-Tag", "=?UTF-8?Q?caf=C3=A9?=")],
                  body_size=12 * 1024 * 1024)
    msg.__dict__["subject"] = "s"
    msg.__dict__["attachments"] = [
        Attachment("invoice.zip", "application/zip", members=("invoice.pdf.exe", "readme.txt")),
        Attachment("photo.jpg", "image/jpeg"),
    ]
    return msg


@pytest.fixture
def fires(load):
    def _fires(condition: str, msg: Message | None = None) -> bool:
        result = load(f'rule "r" {{ when {condition} log-summary }}')
        assert result.ok, [str(d) for d in result.diagnostics]
        return bool(evaluate(result.rules, msg or message()).rules)

    return _fires


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('header "X-Spam-Flag" is "yes"', True),
        ('header "x-spam-flag" is "YES"', True),  # header names are case-insensitive
        ('header "Received" contains "from b"', True),  # each occurrence is a value
        ('header "X-Tag" is "café"', True),  # RFC 2047 decoded
        ('header "X-Missing" matches "*"', False),  # an absent header has no values
        ('sender-domain is "example.org"', True),
        ('recipient-domain in ["x.example"]', True),
        ('recipient-domain is "y.example"', False),
        ('client-address is "192.0.2.7"', True),
        ('client-address in ["192.0.2.0/24"]', True),
        ('client-address in ["10.0.0.0/8", "2001:db8::/32"]', False),
        ('client-name matches "*.example.org"', True),
        ('helo is "MX.EXAMPLE.ORG"', True),
        ('auth-user is ""', True),
        ("size > 10M", True),
        ("size > 12M", False),
        ("size >= 12M", True),
        ("size < 1G", True),
        ("size <= 12582912", True),
        ("size == 12M", True),
        ("size > 1.5K", True),
        ('attachment-type is "application/zip"', True),
        ('attachment-type matches "image/*"', True),
        ('attachment-type is "text/plain"', False),
        ('archive-member matches "*.exe"', True),
        ('archive-member is "invoice.pdf.exe"', True),
        ('archive-member is "invoice.zip"', False),
    ],
)
def test_each_field(fires, condition, expected):
    assert fires(condition) is expected


def test_ipv6_clients_match_ipv6_networks(fires):
    msg = message(client_address="2001:db8::25")
    assert fires('client-address in ["2001:db8::/32"]', msg)
    assert not fires('client-address in ["192.0.2.0/24"]', msg)
    assert fires('client-address in ["2001:DB8::25"]', message(client_address="[2001:db8::25]"))


def test_a_local_submission_has_no_client_address(fires):
    msg = message(client_address="")
    assert not fires('client-address in ["0.0.0.0/0", "::/0"]', msg)
    assert fires('not client-address matches "*"', msg)


def test_a_bounce_has_no_sender_domain(fires):
    assert not fires('sender-domain matches "*"', message(mail_from="<>"))


def test_authenticated_submissions(fires):
    assert fires('auth-user is "ann"', message(auth_user="ann"))
    assert not fires('auth-user is ""', message(auth_user="ann"))


def test_lists_from_a_file_ignore_comments_and_blank_lines(fires, tmp_path):
    vip = tmp_path / "vip.list"
    vip.write_text("# the board\nceo@corp.example  # chief\n\n  B@CORP.EXAMPLE\n")
    assert fires(f'recipient in file "{vip}"')
    nets = tmp_path / "nets.list"
    nets.write_text("10.0.0.0/8\n192.0.2.0/24 # the DMZ\n")
    assert fires(f'client-address in file "{nets}"')


def test_a_list_file_is_read_at_each_load(load, tmp_path):
    vip = tmp_path / "vip.list"
    vip.write_text("nobody@corp.example\n")
    rules = f'rule "r" {{ when recipient in file "{vip}" log-summary }}'
    assert not evaluate(load(rules).rules, message()).rules
    vip.write_text("b@corp.example\n")
    assert evaluate(load(rules).rules, message()).rules  # a reload (SIGHUP) sees the change


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('rule "a" { when header is "x" log-summary }',
         f"{F}:1:17: error: field 'header' needs a header name: header \"...\""),
        ('rule "a" { when sender "X" is "x" log-summary }',
         f"{F}:1:24: error: field 'sender' takes no argument"),
        ('rule "a" { when size is "10M" log-summary }',
         f"{F}:1:25: error: 'size' is a number; compare it with >, <, >=, <="),
        ('rule "a" { when size > 10Q log-summary }',
         f"{F}:1:26: error: unknown size unit 'Q'; use K, M or G (powers of 1024)"),
        ('rule "a" { when client-address in ["10.0.0/33", "::1"] log-summary }',
         f"{F}:1:36: error: '10.0.0/33' is not an IP address or network; write e.g. "
         "192.0.2.7, 10.0.0.0/8 or 2001:db8::/32"),
        ('rule "a" { when recipient in file "vip.list" log-summary }',
         f"{F}:1:35: error: relative path 'vip.list': list files need an absolute path"),
        ('rule "a" { when recipient in file "/nonexistent/vip.list" log-summary }',
         f"{F}:1:35: error: cannot read list file '/nonexistent/vip.list': "
         "No such file or directory"),
    ],
)
def test_field_diagnostics(problems, text, expected):
    assert problems(text) == [expected]


def test_a_bad_network_in_a_list_file_is_an_error_at_the_file_name(problems, tmp_path):
    nets = tmp_path / "nets.list"
    nets.write_text("10.0.0.0/8\nnot-a-network\n")
    assert problems(f'rule "a" {{ when client-address in file "{nets}" log-summary }}') == [
        f"{F}:1:40: error: 'not-a-network' is not an IP address or network; write e.g. "
        "192.0.2.7, 10.0.0.0/8 or 2001:db8::/32"]


def test_message_id_is_the_header_without_its_angle_brackets(fires):
    msg = message()
    msg.headers.append(("Message-ID", " <4711.abc@mail.example> "))
    assert fires('message-id is "4711.abc@mail.example"', msg)
    assert fires('message-id matches "*@MAIL.example"', msg)
    assert not fires('message-id contains "<"', msg)
    assert fires('message-id is ""')  # absent
