"""What real mailers send that the standards do not allow, read the way mail clients read it.

Each case is a small message of its own, shaped like what a known mailer
writes; it goes through the same reading as a milter's message (header
values surrogate-escaped where the bytes are not UTF-8).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import zipfile
from pathlib import Path

import pytest

from mailspy.actions.summary_json import format_json_summary
from mailspy.evaluate import evaluate
from mailspy.message import mime
from mailspy.message.decode import decode_charset, decode_header_value
from mailspy.message.model import Message
from mailspy.message.parse import message_from_bytes
from mailspy.rules.load import load_rules
from tests.message.corpus import (
    as_message,
    attachment,
    attachments,
    entity,
    multipart,
    named,
    text_part,
)


def fires(tmp_path: Path, condition: str, message: Message) -> bool:
    (tmp_path / "00-test.rules").write_text(f'rule "r" {{ when {condition} log-summary }}\n')
    result = load_rules(tmp_path)
    assert result.ok, [str(d) for d in result.diagnostics]
    return bool(evaluate(result.rules, message).rules)


def with_header(name: bytes, value: bytes) -> Message:
    return message_from_bytes(b"From: a@example.org\r\n" + name + b": " + value + b"\r\n\r\nhi\r\n")


def named_part(disposition: bytes, content_type: bytes = b"application/octet-stream") -> bytes:
    return attachment(disposition, b"data", content_type=content_type)


def single_name(disposition: bytes, content_type: bytes = b"application/octet-stream") -> str:
    (found,) = attachments(as_message(multipart("B", [named_part(disposition, content_type)])))
    return found.name


class TestRawBytesInEncodedWords:
    """Eudora and others put 8-bit bytes inside `=?charset?Q?...?=` unencoded."""

    def test_subject_with_a_raw_latin1_byte(self) -> None:
        message = with_header(b"Subject", b"=?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=")
        assert message.subject == "Die Hasen und die Frösche"

    def test_raw_bytes_are_decoded_by_the_declared_charset(self) -> None:
        # Windows-1251 "Љубав": Љ is 0x8A, a C1 position no Latin reading gets right.
        raw = "Љубав".encode("cp1251")
        message = with_header(b"Subject", b"=?windows-1251?Q?" + raw + b"?=")
        assert message.subject == "Љубав"

    def test_raw_koi8_bytes_beside_escapes(self) -> None:
        raw = "Привет".encode("koi8-r")
        value = b"=?koi8-r?Q?" + raw[:3] + b"=" + raw[3:4].hex().upper().encode() + raw[4:] + b"?="
        assert with_header(b"Subject", value).subject == "Привет"

    def test_raw_utf8_in_a_utf8_word(self) -> None:
        value = b"=?utf-8?Q?M" + "ü".encode() + b"ller?="
        assert with_header(b"Subject", value).subject == "Müller"

    def test_text_outside_the_word_keeps_its_own_reading(self) -> None:
        value = "Grüße ".encode() + b"=?iso-8859-1?Q?Fr\xf6sche?= \xe9t\xe9"
        assert with_header(b"Subject", value).subject == "Grüße Frösche été"

    def test_subject_rule_matches(self, tmp_path: Path) -> None:
        message = with_header(b"Subject", b"=?iso-8859-1?Q?Die_Hasen_und_die_Fr\xf6sche?=")
        assert fires(tmp_path, 'subject contains "Frösche"', message)

    def test_header_rule_matches(self, tmp_path: Path) -> None:
        message = with_header(b"To", b"=?iso-8859-1?Q?Hans_M\xfcller?= <hm@example.org>")
        assert fires(tmp_path, 'header "To" contains "Müller"', message)

    def test_filename_parameter(self) -> None:
        assert single_name(b'attachment; filename="=?iso-8859-1?Q?Fr\xf6sche.pdf?="') == (
            "Frösche.pdf"
        )

    def test_name_parameter_in_cp1251(self) -> None:
        raw = "Счёт №7.xls".encode("cp1251")
        content_type = b'application/vnd.ms-excel; name="=?windows-1251?Q?' + raw + b'?="'
        assert single_name(b"attachment", content_type) == "Счёт №7.xls"

    def test_rfc2231_value_with_raw_bytes(self) -> None:
        raw = "Љубав.txt".encode("cp1251")
        assert single_name(b"attachment; filename*=windows-1251''" + raw) == "Љубав.txt"

    def test_rfc2231_value_with_raw_bytes_and_escapes(self) -> None:
        value = b"attachment; filename*=utf-8''%E2%82%AC " + "€.txt".encode()
        assert single_name(value) == "€ €.txt"

    def test_raw_name_without_encoded_word_is_still_utf8_or_windows_1252(self) -> None:
        assert single_name('attachment; filename="Übersicht.pdf"'.encode()) == "Übersicht.pdf"
        assert single_name(b'attachment; filename="R\xe9sum\xe9.pdf"') == "Résumé.pdf"

    def test_raw_bytes_in_a_boundary_still_split_the_parts(self) -> None:
        body = (
            b"--b\xe9\r\nContent-Disposition: attachment; filename=a.exe\r\n\r\nMZ\r\n"
            b"--b\xe9\r\nContent-Disposition: attachment; filename=b.exe\r\n\r\nMZ\r\n"
            b"--b\xe9--\r\n"
        )
        raw = b'Content-Type: multipart/mixed; boundary="b\xe9"\r\n\r\n' + body
        assert [a.name for a in attachments(as_message(raw))] == ["a.exe", "b.exe"]


# JIS X 0208 row 13 as NEC filled it (and Microsoft's CP50221 after it):
# "№" 0x2D62, "①" 0x2D21, "Ⅰ" 0x2D35, "㈱" 0x2D6A; "日本" is 0x467C 0x4B5C.
NEC_ROW_13 = b"\x1b$B\x2d\x62\x2d\x21\x2d\x35\x2d\x6a\x46\x7c\x4b\x5c\x1b(B"


class TestJapanese:
    def test_iso_2022_jp_with_nec_row_13(self) -> None:
        assert decode_charset(NEC_ROW_13, "iso-2022-jp") == "№①Ⅰ㈱日本"

    def test_encoded_word_with_nec_row_13(self) -> None:
        word = b"=?ISO-2022-JP?B?" + base64.b64encode(NEC_ROW_13) + b"?="
        assert with_header(b"Subject", word).subject == "№①Ⅰ㈱日本"

    def test_nec_selected_ibm_extensions(self) -> None:
        # "髙" (the ladder-form taka) at 0x7C62 in CP50221's rows 89-92.
        assert decode_charset(b"\x1b$B\x7c\x62\x1b(B", "iso-2022-jp") == "髙"

    def test_plain_iso_2022_jp_and_half_width_katakana(self) -> None:
        assert decode_charset("日本語テスト".encode("iso-2022-jp"), "ISO-2022-JP") == "日本語テスト"
        assert decode_charset(b"\x1b(I\x31\x32\x1b(B", "iso-2022-jp") == "ｱｲ"

    def test_jis_x_0212_still_decodes(self) -> None:
        data = "丂".encode("iso2022_jp_2")
        assert decode_charset(data, "iso-2022-jp") == "丂"

    def test_broken_sequences_become_replacement_characters(self) -> None:
        assert decode_charset(b"a\x1b$B\x2d\x1b(Bb\xff", "iso-2022-jp") == "a\ufffdb\ufffd"

    @pytest.mark.parametrize("label", ["shift_jis", "Shift-JIS", "x-sjis", "cp50221"])
    def test_other_japanese_labels_read_the_microsoft_superset(self, label: str) -> None:
        data = "№①".encode("cp932") if "5022" not in label else NEC_ROW_13[:7] + b"\x1b(B"
        assert decode_charset(data, label) == "№①"


def test_decoded_header_value_of_nec_word_in_a_rule(tmp_path: Path) -> None:
    word = b"=?iso-2022-jp?B?" + base64.b64encode(NEC_ROW_13) + b"?="
    assert decode_header_value(word.decode()) == "№①Ⅰ㈱日本"
    assert fires(tmp_path, 'subject contains "№①"', with_header(b"Subject", word))


PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8


def unnamed_pdf(disposition: bytes = b"attachment") -> bytes:
    return attachment(disposition, PDF, content_type=b"application/pdf")


class TestUnnamedAttachments:
    """`Content-Disposition: attachment` without a file name is still an attachment."""

    def test_listed_with_an_empty_name_type_size_and_hash(self) -> None:
        raw = as_message(multipart("B", [text_part("see attached"), unnamed_pdf()]))
        (found,) = attachments(raw)
        assert (found.name, found.content_type, found.path) == ("", "application/pdf", "2")
        assert found.size == len(PDF)
        assert found.sha256 == hashlib.sha256(PDF).hexdigest()

    @pytest.mark.parametrize("disposition", [b"ATTACHMENT", b'attachment; filename=""',
                                             b"attachment; size=4096", b'attachment; name=""'])
    def test_any_spelling_of_an_unnamed_attachment(self, disposition: bytes) -> None:
        raw = as_message(multipart("B", [text_part("x"), unnamed_pdf(disposition)]))
        assert [(a.name, a.content_type) for a in attachments(raw)] == [("", "application/pdf")]

    @pytest.mark.parametrize("disposition", [None, b"inline", b'inline; filename=""'])
    def test_unnamed_parts_not_declared_attachments_are_not_listed(
        self, disposition: bytes | None
    ) -> None:
        raw = as_message(multipart("B", [text_part("x"), unnamed_pdf(disposition)]))
        assert attachments(raw) == []

    def test_a_single_part_message_that_is_an_unnamed_attachment(self) -> None:
        raw = as_message(unnamed_pdf())
        assert [(a.name, a.path, a.size) for a in attachments(raw)] == [("", "1", len(PDF))]

    def test_an_unnamed_forwarded_message_is_listed_and_descended(self) -> None:
        inner = as_message(multipart("I", [text_part("x"), named("inner.exe", b"MZ")]))
        forwarded = entity(
            [("Content-Type", "message/rfc822"), ("Content-Disposition", "attachment")], inner
        )
        raw = as_message(multipart("B", [text_part("fwd"), forwarded]))
        assert [(a.path, a.name) for a in attachments(raw)] == [("2", ""), ("2.2", "inner.exe")]

    def test_in_the_fields_and_the_json_record(self, tmp_path: Path) -> None:
        message = message_from_bytes(as_message(multipart("B", [text_part("x"), unnamed_pdf()])))
        assert fires(tmp_path, 'attachment-type is "application/pdf"', message)
        assert fires(tmp_path, 'attachment matches "*"', message)
        assert fires(tmp_path, 'attachment is ""', message)
        assert not fires(tmp_path, 'attachment matches "*.pdf"', message)
        record = json.loads(format_json_summary(message, ["r"]))
        assert record["attachments"] == [
            {"path": "2", "name": "", "type": "application/pdf", "size": len(PDF),
             "sha256": hashlib.sha256(PDF).hexdigest(), "members": []}
        ]

    def test_an_unnamed_zip_lists_its_members(self) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("payload.exe", b"MZ")
        part = attachment(b"attachment", buffer.getvalue(), content_type=b"application/zip")
        (found,) = attachments(as_message(multipart("B", [text_part("x"), part])))
        assert (found.name, found.members) == ("", ("payload.exe",))


def encoded_message(inner: bytes, encoding: str, disposition: bytes | None = None) -> bytes:
    return attachment(disposition, inner, content_type=b"message/rfc822", encoding=encoding)


def zip_of(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, b"MZ")
    return buffer.getvalue()


class TestEncodedForwardedMessages:
    """message/rfc822 sent in base64 or quoted-printable: decoded, then walked."""

    INNER = as_message(
        multipart(
            "I",
            [
                text_part("inner"),
                named("hidden.exe", b"MZ"),
                named("inner.zip", zip_of("payload.scr"), content_type="application/zip"),
            ],
        )
    )

    @pytest.mark.parametrize("encoding", ["base64", "quoted-printable"])
    def test_its_attachments_and_members_are_seen(self, encoding: str) -> None:
        part = encoded_message(self.INNER, encoding, b'attachment; filename="fwd.eml"')
        found = attachments(as_message(multipart("B", [text_part("fwd"), part])))
        assert [(a.path, a.name, a.members) for a in found] == [
            ("2", "fwd.eml", ()),
            ("2.2", "hidden.exe", ()),
            ("2.3", "inner.zip", ("payload.scr",)),
        ]
        assert (found[0].size, found[0].sha256) == (
            len(self.INNER),
            hashlib.sha256(self.INNER).hexdigest(),
        )

    def test_an_inline_one_without_a_name(self, tmp_path: Path) -> None:
        part = encoded_message(self.INNER, "base64")
        message = message_from_bytes(as_message(multipart("B", [text_part("fwd"), part])))
        assert [(a.path, a.name) for a in message.attachments] == [
            ("2.2", "hidden.exe"),
            ("2.3", "inner.zip"),
        ]
        assert fires(tmp_path, 'archive-member matches "*.scr"', message)

    def test_a_message_that_is_an_encoded_message(self) -> None:
        raw = as_message(encoded_message(self.INNER, "base64"))
        assert [a.path for a in attachments(raw)] == ["1.2", "1.3"]

    def test_encoded_inside_encoded(self) -> None:
        middle = as_message(multipart("M", [text_part("m"), encoded_message(self.INNER, "base64")]))
        raw = as_message(multipart("B", [encoded_message(middle, "quoted-printable")]))
        assert [(a.path, a.name) for a in attachments(raw)] == [
            ("1.2.2", "hidden.exe"),
            ("1.2.3", "inner.zip"),
        ]

    def test_parts_after_it_keep_their_order(self) -> None:
        parts = [named("before.txt", b"b"), encoded_message(self.INNER, "base64"),
                 named("after.txt", b"a")]
        assert [a.name for a in attachments(as_message(multipart("B", parts)))] == [
            "before.txt", "hidden.exe", "inner.zip", "after.txt"
        ]

    def test_nesting_depth_counts_encoded_levels(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(mime, "MAX_DEPTH", 6)
        raw = as_message(named("deep.exe", b"MZ"))
        for _ in range(10):
            raw = as_message(encoded_message(raw, "base64"))
        assert attachments(raw) == []
        shallow = as_message(named("deep.exe", b"MZ"))
        for _ in range(2):
            shallow = as_message(encoded_message(shallow, "base64"))
        assert [a.path for a in attachments(shallow)] == ["1.1.1"]

    def test_parts_inside_count_towards_the_cap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(mime, "MAX_PARTS", 30)
        inner = as_message(multipart("I", [named(f"in{i}.bin", b"x") for i in range(40)]))
        parts = [encoded_message(inner, "base64"), named("after.bin", b"x")]
        found = [a.name for a in attachments(as_message(multipart("B", parts)))]
        assert found == [f"in{i}.bin" for i in range(len(found))]
        assert 25 <= len(found) <= 30

    def test_decoded_bytes_are_capped_per_message(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(mime, "MAX_ENCODED_MESSAGE_BYTES", 4096)
        first = as_message(multipart("I", [named("early.exe", b"MZ"), named("pad.bin", bytes(8000)),
                                           named("late.exe", b"MZ")]))
        second = as_message(named("second.exe", b"MZ"))
        parts = [encoded_message(first, "base64"), encoded_message(second, "base64")]
        found = [a.name for a in attachments(as_message(multipart("B", parts)))]
        assert "early.exe" in found
        assert "late.exe" not in found and "second.exe" not in found


def uu_block(name: bytes, data: bytes, mode: bytes = b"644", eol: bytes = b"\r\n") -> bytes:
    """A uuencoded file as uuencode(1) writes it: 45 bytes a line, then "`" and "end"."""
    lines = [b"begin " + mode + b" " + name]
    lines += [binascii.b2a_uu(data[i : i + 45]).rstrip(b"\n") for i in range(0, len(data), 45)]
    return eol.join([*lines, b"`", b"end", b""])


PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3


class TestUuencode:
    """`begin 644 name` blocks in a plain body: old mailers and malware still send them."""

    def test_a_plain_message_with_a_uuencoded_file(self, tmp_path: Path) -> None:
        body = b"Here it is:\r\n\r\n" + uu_block(b"invoice.exe", b"MZ" + bytes(200)) + b"bye\r\n"
        message = message_from_bytes(b"From: a@example.org\r\nSubject: s\r\n\r\n" + body)
        (found,) = message.attachments
        assert (found.path, found.name, found.content_type) == (
            "1",
            "invoice.exe",
            "application/octet-stream",
        )
        assert (found.size, found.sha256) == (202, hashlib.sha256(b"MZ" + bytes(200)).hexdigest())
        assert fires(tmp_path, 'attachment matches "*.exe"', message)

    def test_in_a_text_part_beside_mime_attachments(self) -> None:
        text = entity([("Content-Type", "text/plain; charset=us-ascii")],
                      b"see below\n" + uu_block(b"photo 1.png", PNG, b"0755", b"\n"))
        raw = as_message(multipart("B", [text, named("report.pdf", b"%PDF")]))
        found = attachments(raw)
        assert [(a.path, a.name) for a in found] == [("1", "photo 1.png"), ("2", "report.pdf")]
        assert found[0].sha256 == hashlib.sha256(PNG).hexdigest()

    def test_two_blocks_and_one_without_its_end_line(self) -> None:
        second = uu_block(b"b.bin", b"second").replace(b"`\r\nend\r\n", b"")
        body = uu_block(b"a.bin", b"first") + b"text between\r\n" + second
        found = attachments(b"Subject: s\r\n\r\n" + body)
        assert [(a.name, a.size) for a in found] == [("a.bin", 5), ("b.bin", 6)]

    def test_a_uuencoded_zip_lists_its_members(self) -> None:
        body = uu_block(b"files.zip", zip_of("run.scr"))
        (found,) = attachments(b"Subject: s\r\n\r\n" + body)
        assert (found.name, found.members) == ("files.zip", ("run.scr",))

    def test_an_8bit_name_reads_as_utf8_or_windows_1252(self) -> None:
        body = uu_block("Übersicht.txt".encode(), b"x") + uu_block(b"R\xe9sum\xe9.txt", b"y")
        assert [a.name for a in attachments(b"Subject: s\r\n\r\n" + body)] == [
            "Übersicht.txt",
            "Résumé.txt",
        ]

    @pytest.mark.parametrize(
        "text",
        [
            b"We begin 644 meetings a year\r\n",
            b"begin here and go on\r\n",
            b"begin 644\r\n",
            b" begin 644 indented.exe\r\n",
        ],
    )
    def test_prose_is_not_a_block(self, text: bytes) -> None:
        assert attachments(b"Subject: s\r\n\r\n" + text + b"M86)C\r\nend\r\n") == []

    def test_only_plain_text_bodies_are_read_for_blocks(self) -> None:
        block = uu_block(b"x.exe", b"MZ")
        html = b"Content-Type: text/html\r\n\r\n" + block
        encoded = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        encoded += base64.encodebytes(block)
        attached = as_message(multipart("B", [named("notes.txt", block, encoding="7bit")]))
        assert attachments(as_message(html)) == []
        assert attachments(as_message(encoded)) == []
        assert [a.name for a in attachments(attached)] == ["notes.txt"]

    def test_broken_lines_never_raise(self) -> None:
        body = b"begin 644 x.bin\r\nM" + b"!" * 80  # 45 bytes, then junk past the count
        body += b"\r\nnot uu at all\r\n\r\n#86)C\r\n" + b"\xff" * 70  # skipped, 3 bytes, skipped
        (found,) = attachments(b"Subject: s\r\n\r\n" + body)
        assert (found.name, found.size) == ("x.bin", 48)

    def test_blocks_count_towards_the_part_cap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(mime, "MAX_PARTS", 20)
        body = b"".join(uu_block(b"f%d.bin" % i, b"x") for i in range(100))
        assert len(attachments(b"Subject: s\r\n\r\n" + body)) == 20


class TestDocumentedReadings:
    """The readings docs/rules.md promises for names and subjects."""

    def test_blanks_around_a_subject_go_blanks_inside_stay(self) -> None:
        assert with_header(b"Subject", b"  Re:   Invoice \t").subject == "Re:   Invoice"
        assert with_header(b"Subject", b"=?utf-8?q?__Invoice_?=").subject == "Invoice"
        assert with_header(b"Subject", b"Re:\r\n\t  Invoice").subject == "Re: Invoice"

    def test_backslashes_in_quoted_names(self) -> None:
        assert single_name(rb'attachment; filename="C:\\TEMP\\x.png"') == "C:\\TEMP\\x.png"
        assert single_name(rb'attachment; filename="C:\TEMP\x.png"') == "C:\\TEMP\\x.png"
        assert single_name(rb'attachment; filename="say \"hi\".txt"') == 'say "hi".txt'
        assert single_name(rb"attachment; filename=C:\TEMP\x.png") == "C:\\TEMP\\x.png"

    def test_control_characters_in_decoded_names_are_kept(self, tmp_path: Path) -> None:
        part = named_part(b'attachment; filename="=?utf-8?q?a=0Ab=00.exe?="')
        message = message_from_bytes(as_message(multipart("B", [part])))
        assert [a.name for a in message.attachments] == ["a\nb\x00.exe"]
        assert fires(tmp_path, 'attachment matches "a?b?.exe"', message)
        assert fires(tmp_path, 'attachment matches "*.exe"', message)
        assert not fires(tmp_path, 'attachment is "ab.exe"', message)

    def test_empty_filename_uses_the_type_name_else_is_unnamed(self) -> None:
        assert single_name(b'attachment; filename=""', b'application/pdf; name="t.pdf"') == (
            "t.pdf"
        )
        assert single_name(b'attachment; filename=""') == ""


def test_a_crafted_begin_line() -> None:
    # Blanks inside a long name: a pattern that backtracks over them takes minutes here.
    body = b"begin 644 x" + b" " * 60_000 + b"y \r\n"
    (found,) = attachments(b"Subject: s\r\n\r\n" + body * 3)
    assert found.name == "x" + " " * 60_000 + "y"
