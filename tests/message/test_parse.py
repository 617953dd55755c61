"""Reading message files: the header block as a milter would see it, the body spooled."""

from __future__ import annotations

import io
import tempfile

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailspy.message import parse
from mailspy.message.model import Envelope, Message
from mailspy.message.parse import message_from_bytes, read_message, rebuild_envelope


def body_of(raw: bytes) -> bytes:
    message = message_from_bytes(raw)
    assert message.body is not None
    message.body.seek(0)
    return message.body.read()


class TestHeaderBlock:
    def test_fields_in_order_with_values(self) -> None:
        raw = b"From: a@example.org\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nbody\r\n"
        assert message_from_bytes(raw).headers == [
            ("From", "a@example.org"),
            ("To", "b@example.org"),
            ("Subject", "hi"),
        ]

    def test_repeated_fields_are_all_kept(self) -> None:
        raw = b"Received: one\nReceived: two\n\n"
        assert message_from_bytes(raw).header_values("received") == ["one", "two"]

    def test_leading_whitespace_of_value_is_dropped_trailing_kept(self) -> None:
        assert message_from_bytes(b"Subject:\t  x  \n\n").headers == [("Subject", "x  ")]

    def test_empty_value(self) -> None:
        assert message_from_bytes(b"Subject:\n\n").headers == [("Subject", "")]

    @pytest.mark.parametrize("eol", [b"\r\n", b"\n"])
    def test_fold_is_kept_as_lf_plus_continuation(self, eol: bytes) -> None:
        raw = b"Subject: first" + eol + b"\tsecond" + eol + b"  third" + eol + eol
        assert message_from_bytes(raw).headers == [("Subject", "first\n\tsecond\n  third")]

    def test_folded_subject_decodes_to_one_line(self) -> None:
        raw = b"Subject: =?utf-8?q?caf=C3=A9?=\r\n =?utf-8?q?_cr=C3=A8me?=\r\n\r\n"
        assert message_from_bytes(raw).subject == "café crème"

    def test_mbox_from_line_is_skipped(self) -> None:
        raw = b"From a@example.org Thu Nov 26 12:00:00 2026\nSubject: s\n\nbody\n"
        message = message_from_bytes(raw)
        assert message.headers == [("Subject", "s")]
        assert body_of(raw) == b"body\n"

    def test_line_without_colon_starts_the_body(self) -> None:
        raw = b"Subject: s\r\nthis is no header\r\nX-Later: not a header\r\n\r\nrest\r\n"
        message = message_from_bytes(raw)
        assert message.headers == [("Subject", "s")]
        assert body_of(raw) == b"this is no header\r\nX-Later: not a header\r\n\r\nrest\r\n"
        assert message.body_size == len(
            b"this is no header\r\nX-Later: not a header\r\n\r\nrest\r\n"
        )

    def test_space_in_field_name_is_not_a_field(self) -> None:
        raw = b"Subject: s\nBad Name: v\n\n"
        assert message_from_bytes(raw).headers == [("Subject", "s")]

    def test_space_before_colon_is_obsolete_syntax_but_a_field(self) -> None:
        assert message_from_bytes(b"Subject : old style\n\n").headers == [("Subject", "old style")]

    def test_continuation_before_any_field_is_dropped(self) -> None:
        raw = b"  orphan continuation\nSubject: s\n\nbody"
        assert message_from_bytes(raw).headers == [("Subject", "s")]
        assert body_of(raw) == b"body"

    def test_8bit_value_is_surrogate_escaped_like_pymilter(self) -> None:
        raw = "Subject: Grüße\r\n\r\n".encode()
        value = message_from_bytes(raw).headers[0][1]
        assert value.encode("utf-8", "surrogateescape") == "Grüße".encode()
        assert message_from_bytes(raw).subject == "Grüße"

    def test_invalid_utf8_value_round_trips_to_the_same_bytes(self) -> None:
        raw = b"Subject: caf\xe9 \xff\r\n\r\n"
        value = message_from_bytes(raw).headers[0][1]
        assert value.encode("utf-8", "surrogateescape") == b"caf\xe9 \xff"
        assert message_from_bytes(raw).subject == "café ÿ"

    def test_nul_bytes_are_kept_in_values_and_body(self) -> None:
        raw = b"Subject: a\x00b\r\nTo: c\r\n\r\n\x00body\x00"
        assert message_from_bytes(raw).headers == [("Subject", "a\x00b"), ("To", "c")]
        assert body_of(raw) == b"\x00body\x00"

    def test_nul_in_a_field_name_starts_the_body(self) -> None:
        raw = b"Subject: s\r\nX-\x00: v\r\n\r\nbody"
        assert message_from_bytes(raw).headers == [("Subject", "s")]
        assert body_of(raw) == b"X-\x00: v\r\n\r\nbody"

    def test_no_blank_line_means_no_body(self) -> None:
        message = message_from_bytes(b"Subject: only headers\r\n")
        assert message.headers == [("Subject", "only headers")]
        assert message.body_size == 0

    def test_empty_file(self) -> None:
        message = message_from_bytes(b"")
        assert (message.headers, message.body_size, message.subject) == ([], 0, "")

    def test_last_header_without_newline(self) -> None:
        assert message_from_bytes(b"Subject: x").headers == [("Subject", "x")]

    def test_raw_header_block_round_trip(self) -> None:
        raw = b"Subject: a\r\n b\r\nTo: c\r\n\r\n"
        assert message_from_bytes(raw).raw_header_block() == b"Subject: a\n b\nTo: c\n\n"


class TestLongHeaders:
    def test_one_megabyte_folded_header_is_kept_whole(self) -> None:
        folds = b"".join(b"\r\n word%06d" % i for i in range(80_000))
        raw = b"Subject: start" + folds + b"\r\nTo: b@example.org\r\n\r\nbody"
        message = message_from_bytes(raw)
        subject = message.header_values("Subject")[0]
        assert len(subject) == len(b"start" + folds) - 80_000  # each CRLF became LF
        assert message.subject.endswith("word079999")
        assert message.header_values("To") == ["b@example.org"]
        assert body_of(raw) == b"body"

    def test_header_line_longer_than_a_read_is_joined(self) -> None:
        long_value = b"x" * (3 * parse.MAX_LINE + 17)
        raw = b"X-Long: " + long_value + b"\nSubject: s\n\nbody"
        message = message_from_bytes(raw)
        assert message.headers == [("X-Long", long_value.decode()), ("Subject", "s")]

    def test_header_block_past_the_cap_is_dropped_and_body_still_found(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(parse, "MAX_HEADER_BLOCK", 100)
        raw = b"Subject: kept\n" + b"X-Junk: " + b"j" * 500 + b"\n continued\nTo: lost\n\nbody\n"
        message = message_from_bytes(raw)
        assert message.headers[0] == ("Subject", "kept")
        assert [name for name, _ in message.headers] == ["Subject", "X-Junk"]
        assert sum(len(n) + len(v) for n, v in message.headers) < 100
        assert body_of(raw) == b"body\n"

    def test_mbox_from_line_longer_than_a_read(self) -> None:
        raw = b"From " + b"f" * (2 * parse.MAX_LINE) + b"\nSubject: s\n\nb"
        assert message_from_bytes(raw).headers == [("Subject", "s")]


class TestBody:
    def test_body_bytes_and_size_are_exact(self) -> None:
        body = b"line one\r\nline two\nno final newline"
        message = message_from_bytes(b"Subject: s\r\n\r\n" + body)
        assert body_of(b"Subject: s\r\n\r\n" + body) == body
        assert message.body_size == len(body)

    def test_body_is_a_spooled_file_rewound(self) -> None:
        message = message_from_bytes(b"Subject: s\n\nabc")
        assert isinstance(message.body, tempfile.SpooledTemporaryFile)
        assert message.body.read() == b"abc"

    def test_large_body_spools_to_disk_and_stays_intact(self) -> None:
        body = bytes(range(256)) * (parse.SPOOL_THRESHOLD // 256 + 10)
        message = message_from_bytes(b"Subject: s\n\n" + body)
        assert message.body_size == len(body)
        assert message.body is not None
        assert message.body.read() == body

    def test_reads_from_a_binary_file(self) -> None:
        with tempfile.TemporaryFile() as fp:
            fp.write(b"Subject: from file\n\nbody")
            fp.seek(0)
            message = read_message(fp)
            assert message.subject == "from file"
            assert message.body is not None
            assert message.body.read() == b"body"

    def test_given_envelope_is_used(self) -> None:
        envelope = Envelope(mail_from="<x@example.org>", rcpt_to=["<y@example.org>"])
        assert read_message(io.BytesIO(b"\n"), envelope).envelope is envelope

    def test_default_envelope_is_a_bounce_with_no_recipients(self) -> None:
        envelope = read_message(io.BytesIO(b"From: a@b\n\n")).envelope
        assert (envelope.mail_from, envelope.rcpt_to) == ("<>", [])


def envelope_of(raw: bytes) -> tuple[str, list[str]]:
    envelope = rebuild_envelope(message_from_bytes(raw)).envelope
    return envelope.mail_from, envelope.rcpt_to


def sources_of(raw: bytes) -> tuple[str, str]:
    rebuilt = rebuild_envelope(message_from_bytes(raw))
    return rebuilt.sender_from, rebuilt.recipients_from


class TestEnvelopeFromHeaders:
    def test_sender_and_recipients_from_to_and_cc(self) -> None:
        raw = (
            b'From: "Bank, Inc." <a@bank.example>\r\n'
            b"To: cfo@corp.example, Someone <ceo@corp.example>\r\n"
            b"Cc: =?utf-8?q?J=C3=B6rg?= <j@corp.example>\r\n"
            b"Bcc: hidden@corp.example\r\n\r\n"
        )
        assert envelope_of(raw) == (
            "<a@bank.example>",
            ["<cfo@corp.example>", "<ceo@corp.example>", "<j@corp.example>"],
        )

    def test_envelope_properties_strip_the_angles(self) -> None:
        envelope = rebuild_envelope(message_from_bytes(b"From: a@b.example\nTo: c@d\n\n")).envelope
        assert (envelope.sender, envelope.recipients) == ("a@b.example", ["c@d"])

    def test_repeated_to_headers_and_duplicates(self) -> None:
        raw = b"To: a@x\nTo: b@x, a@x\nCc: b@x\n\n"
        assert envelope_of(raw) == ("<>", ["<a@x>", "<b@x>"])

    def test_folded_address_list(self) -> None:
        raw = b"To: a@x,\r\n\tb@x\r\n\r\n"
        assert envelope_of(raw)[1] == ["<a@x>", "<b@x>"]

    def test_no_from_is_a_bounce(self) -> None:
        assert envelope_of(b"To: a@x\n\n") == ("<>", ["<a@x>"])

    def test_undisclosed_recipients_group_gives_none(self) -> None:
        assert envelope_of(b"From: a@x\nTo: undisclosed-recipients:;\n\n") == ("<a@x>", [])

    def test_8bit_display_name(self) -> None:
        raw = "From: Jörg Müller <j@x.example>\n\n".encode()
        assert envelope_of(raw) == ("<j@x.example>", [])

    def test_parenthesis_bomb_does_not_raise(self) -> None:
        # getaddresses raises RecursionError on this (3.11.7) or drops the
        # whole field (3.11.2 as Debian patches it).
        raw = b"From: " + b"(" * 5000 + b" a@x.example\nTo: b@y.example, " + b"(" * 5000 + b"\n\n"
        assert envelope_of(raw) == ("<a@x.example>", ["<b@y.example>"])


class TestEnvelopeFromWhatDeliveryLeft:
    """Return-Path: before From:; X-Mailspy-Envelope-To: at the top, then the first
    Delivered-To:, before To:/Cc:; what the caller gives before either."""

    def test_return_path_is_the_sender_before_from(self) -> None:
        raw = b"Return-Path: <bounces+x@lists.example>\nFrom: news@lists.example\nTo: a@x\n\n"
        assert envelope_of(raw) == ("<bounces+x@lists.example>", ["<a@x>"])
        assert sources_of(raw) == ("Return-Path:", "To: and Cc:")

    def test_an_empty_return_path_is_a_bounce_whatever_from_says(self) -> None:
        raw = b"Return-Path: <>\nFrom: MAILER-DAEMON@mx.example\nTo: a@x\n\n"
        assert envelope_of(raw) == ("<>", ["<a@x>"])
        assert sources_of(raw)[0] == "Return-Path:"

    def test_the_first_return_path_counts_and_a_bare_or_folded_one_is_read(self) -> None:
        raw = b"Return-Path: s@x.example\nReturn-Path: <old@y.example>\nFrom: f@z\n\n"
        assert envelope_of(raw)[0] == "<s@x.example>"
        assert envelope_of(b"Return-Path:\n <s@x.example>\n\n")[0] == "<s@x.example>"

    def test_a_return_path_without_an_address_leaves_the_sender_to_from(self) -> None:
        raw = b"Return-Path: (nothing here)\nFrom: f@z.example\n\n"
        assert envelope_of(raw)[0] == "<f@z.example>"
        assert sources_of(raw)[0] == "From:"

    def test_no_header_at_all_is_a_bounce_with_no_recipients(self) -> None:
        assert envelope_of(b"Subject: x\n\n") == ("<>", [])
        assert sources_of(b"Subject: x\n\n") == ("", "")

    def test_mailspys_envelope_headers_give_every_recipient_bcc_included(self) -> None:
        raw = (b"Return-Path: <a@bank.example>\nX-Mailspy-Envelope-To: <cfo@corp.example>\n"
               b"X-Mailspy-Envelope-To: <hidden@corp.example>\nDelivered-To: x@corp.example\n"
               b"From: a@bank.example\nTo: cfo@corp.example\n\n")
        assert envelope_of(raw) == ("<a@bank.example>",
                                    ["<cfo@corp.example>", "<hidden@corp.example>"])
        assert sources_of(raw) == ("Return-Path:", "X-Mailspy-Envelope-To:")

    def test_envelope_headers_a_message_carried_lower_down_are_not_mailspys(self) -> None:
        raw = (b"Return-Path: <a@bank.example>\nReceived: from x by y\n"
               b"X-Mailspy-Envelope-To: <forged@corp.example>\nTo: cfo@corp.example\n\n")
        assert envelope_of(raw)[1] == ["<cfo@corp.example>"]
        assert sources_of(raw)[1] == "To: and Cc:"

    def test_the_first_delivered_to_is_the_mailbox_the_copy_was_left_in(self) -> None:
        raw = (b"Return-Path: <a@x>\nDelivered-To: ann@corp.example\n"
               b"Delivered-To: all-staff@corp.example\nTo: all-staff@corp.example\n\n")
        assert envelope_of(raw) == ("<a@x>", ["<ann@corp.example>"])
        assert sources_of(raw)[1] == "Delivered-To:"

    def test_what_the_caller_gives_wins_with_or_without_brackets(self) -> None:
        message = message_from_bytes(b"Return-Path: <a@x>\nTo: b@x\n\n")
        rebuilt = rebuild_envelope(message, sender="<s@y>", recipients=["r@y", "<t@y>"])
        assert (rebuilt.envelope.mail_from, rebuilt.envelope.rcpt_to) == \
            ("<s@y>", ["<r@y>", "<t@y>"])
        assert (rebuilt.sender_from, rebuilt.recipients_from) == ("given", "given")
        bounce = rebuild_envelope(message, sender="").envelope
        assert (bounce.mail_from, bounce.rcpt_to) == ("<>", ["<b@x>"])
        assert rebuild_envelope(message, recipients=[]).envelope.rcpt_to == []

    def test_a_mailspy_maildir_copy_gives_back_the_envelope_it_was_made_with(
            self, tmp_path) -> None:
        from mailspy.actions.maildir import deliver

        envelope = Envelope(mail_from="root@host.example",  # as Postfix hands a local one
                            rcpt_to=["<cfo@corp.example>", "<bcc@corp.example>"])
        original = Message(envelope, [("From", "x@y"), ("To", "cfo@corp.example"),
                                      ("X-Mailspy-Envelope-To", "<forged@corp.example>")],
                           io.BytesIO(b"hi\n"), 3)
        path = deliver(tmp_path / "md", original)
        with open(path, "rb") as fp:
            rebuilt = rebuild_envelope(read_message(fp)).envelope
        assert (rebuilt.sender, rebuilt.recipients) == \
            ("root@host.example", ["cfo@corp.example", "bcc@corp.example"])


class _Fields:
    """Header lines built from arbitrary text, including broken ones."""

    name = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x17F), max_size=12)
    value = st.binary(max_size=60)


@given(st.lists(st.tuples(_Fields.name, _Fields.value), max_size=8), st.binary(max_size=300))
def test_any_bytes_make_a_message(fields: list[tuple[str, bytes]], tail: bytes) -> None:
    raw = b"".join(n.encode("utf-8") + b":" + v + b"\r\n" for n, v in fields) + tail
    message = message_from_bytes(raw)
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in message.headers)
    assert message.body is not None
    assert message.body_size == len(message.body.read()) <= len(raw)
    envelope = rebuild_envelope(message).envelope
    assert all(isinstance(r, str) for r in envelope.rcpt_to)
    assert isinstance(message.subject, str)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    message = message_from_bytes(raw)
    assert message.body_size <= len(raw)
    assert isinstance(rebuild_envelope(message).envelope.mail_from, str)
