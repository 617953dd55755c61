"""The streaming walker: attachment names, paths, sizes and hashes, whatever the mail."""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import random
import re
import sysconfig
import time
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailspy.message import mime
from mailspy.message.mime import MAX_DEPTH, walk
from mailspy.message.model import Attachment
from mailspy.message.parse import message_from_bytes, read_message
from tests.message.corpus import (
    CRLF,
    LF,
    as_message,
    attachment,
    attachments,
    encode,
    entity,
    multipart,
    named,
    names,
    nested_messages,
    nested_multiparts,
    paths,
    text_part,
    trickle,
)

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def only(raw: bytes) -> Attachment:
    found = attachments(raw)
    assert len(found) == 1, found
    return found[0]


def walk_bytes(headers: list[tuple[str, str]], body: bytes) -> list[Attachment]:
    return walk(headers, io.BytesIO(body))


MIXED = [("Content-Type", 'multipart/mixed; boundary="B"')]


class TestWhereAttachmentsAre:
    def test_single_part_message_is_part_1(self) -> None:
        raw = as_message(named("report.pdf", b"%PDF-1.4", content_type="application/pdf"))
        assert only(raw) == Attachment(
            name="report.pdf",
            content_type="application/pdf",
            path="1",
            size=8,
            sha256=sha(b"%PDF-1.4"),
        )

    def test_text_only_message_has_none(self) -> None:
        raw = as_message(multipart("B", [text_part("hi"), text_part("<p>hi</p>")], "alternative"))
        assert attachments(raw) == []

    def test_three_levels_of_multipart(self) -> None:
        related = multipart(
            "B2",
            [
                entity([("Content-Type", "text/html")], b"<img src=cid:logo>"),
                attachment(None, b"PNG", content_type='image/png; name="logo.png"'),
            ],
            "related",
        )
        alternative = multipart("B1", [text_part("plain"), related], "alternative")
        deep = multipart("B3", [multipart("B4", [named("deep.zip", b"PK")])])
        raw = as_message(multipart("B0", [alternative, named("report.pdf", b"%PDF"), deep]))
        assert paths(raw) == [("1.2.2", "logo.png"), ("2", "report.pdf"), ("3.1.1", "deep.zip")]

    def test_forwarded_messages(self) -> None:
        inner_single = entity(
            [
                ("Subject", "fwd 1"),
                ("Content-Type", 'application/pdf; name="inner.pdf"'),
                ("Content-Transfer-Encoding", "base64"),
            ],
            encode(b"%PDF inner", "base64"),
        )
        innermost = multipart("I2", [text_part("x"), named("x.txt", b"x")])
        inner_multi = multipart(
            "I1",
            [
                text_part("see attached"),
                named("memo.doc", b"DOC", content_type="application/msword"),
                entity([("Content-Type", "message/rfc822")], b"Subject: deeper\r\n" + innermost),
            ],
            headers=[("Subject", "fwd 2")],
        )
        raw = as_message(
            multipart(
                "B",
                [
                    text_part("two forwards"),
                    entity([("Content-Type", "message/rfc822")], inner_single),
                    entity(
                        [
                            ("Content-Type", "message/rfc822"),
                            ("Content-Disposition", 'attachment; filename="fwd.eml"'),
                        ],
                        inner_multi,
                    ),
                ],
            )
        )
        assert paths(raw) == [
            ("2.1", "inner.pdf"),
            ("3", "fwd.eml"),
            ("3.2", "memo.doc"),
            ("3.3.2", "x.txt"),
        ]
        found = {a.name: a for a in attachments(raw)}
        assert (found["inner.pdf"].size, found["inner.pdf"].sha256) == (10, sha(b"%PDF inner"))
        assert found["fwd.eml"].content_type == "message/rfc822"
        assert (found["fwd.eml"].size, found["fwd.eml"].sha256) == (
            len(inner_multi),
            sha(inner_multi),
        )

    def test_message_whose_body_is_a_message(self) -> None:
        inner = entity([("Content-Type", "text/plain; name=inside.txt")], b"hi")
        raw = as_message(entity([("Content-Type", "message/rfc822")], inner))
        assert paths(raw) == [("1.1", "inside.txt")]

    def test_forwarded_mbox_entry_keeps_its_from_line_out_of_the_headers(self) -> None:
        inner = b"From someone Thu Nov 26 12:00:00 2026\r\n" + named("a.bin", b"A")
        raw = as_message(multipart("B", [entity([("Content-Type", "message/rfc822")], inner)]))
        assert paths(raw) == [("1.1", "a.bin")]

    def test_digest_parts_default_to_messages(self) -> None:
        forwarded = entity([("Content-Type", "text/plain; name=digest-item.txt")], b"item")
        raw = as_message(multipart("D", [b"\r\n" + forwarded], "digest"))
        assert paths(raw) == [("1.1", "digest-item.txt")]

    def test_named_multipart_is_reported_and_descended(self) -> None:
        bundle_body = multipart("I", [named("a.txt", b"a", encoding="7bit")])
        headers_end = bundle_body.index(b"\r\n\r\n") + 4
        bundle = entity(
            [("Content-Type", 'multipart/mixed; boundary="I"; name="bundle"')],
            bundle_body[headers_end:],
        )
        raw = as_message(multipart("B", [bundle]))
        found = attachments(raw)
        assert [(a.path, a.name) for a in found] == [("1", "bundle"), ("1.1", "a.txt")]
        assert found[0].size == len(bundle_body) - headers_end

    def test_message_rfc822_in_base64_is_reported_and_descended(self) -> None:
        inner = as_message(named("hidden.exe", b"MZ"))
        part = attachment('attachment; filename="fwd.eml"', inner, content_type="message/rfc822")
        raw = as_message(multipart("B", [part]))
        assert [(a.path, a.name, a.size) for a in attachments(raw)] == [
            ("1", "fwd.eml", len(inner)),
            ("1.1", "hidden.exe", 2),
        ]

    def test_every_named_part_counts_inline_ones_too(self) -> None:
        raw = as_message(
            multipart(
                "B", [attachment('inline; filename="pic.jpg"', b"JPG", content_type="image/jpeg")]
            )
        )
        assert names(raw) == ["pic.jpg"]


class TestNamesAndTypes:
    def test_filename_over_name(self) -> None:
        part = attachment(
            'attachment; filename="right.pdf"',
            b"x",
            content_type='application/pdf; name="wrong.pdf"',
        )
        assert names(as_message(multipart("B", [part]))) == ["right.pdf"]

    def test_name_alone(self) -> None:
        part = attachment(None, b"x", content_type="application/pdf; name=only-name.pdf")
        assert names(as_message(multipart("B", [part]))) == ["only-name.pdf"]

    def test_rfc2231_continuations(self) -> None:
        disposition = (
            "attachment;\r\n filename*0*=UTF-8''%E2%82%AC%20;\r\n filename*1*=Rechnung;\r\n"
            ' filename*2=".pdf"'
        )
        assert names(as_message(multipart("B", [attachment(disposition, b"x")]))) == [
            "€ Rechnung.pdf"
        ]

    def test_rfc2047_in_filename(self) -> None:
        disposition = 'attachment; filename="=?UTF-8?B?0KHRh9GR0YIuZXhl?="'
        assert names(as_message(multipart("B", [attachment(disposition, b"x")]))) == ["Счёт.exe"]

    def test_raw_8bit_utf8_filename(self) -> None:
        disposition = 'attachment; filename="Präsentation.pptx"'.encode()
        assert names(as_message(multipart("B", [attachment(disposition, b"x")]))) == [
            "Präsentation.pptx"
        ]

    def test_raw_8bit_latin1_filename(self) -> None:
        disposition = 'attachment; filename="résumé.doc"'.encode("latin-1")
        assert names(as_message(multipart("B", [attachment(disposition, b"x")]))) == ["résumé.doc"]

    def test_raw_8bit_name_in_top_level_headers(self) -> None:
        top = entity([("Content-Type", 'application/pdf; name="Größe.pdf"'.encode())], b"x")
        assert names(as_message(top)) == ["Größe.pdf"]

    def test_content_type_is_lower_cased_without_parameters(self) -> None:
        part = attachment("attachment; filename=a", b"x", content_type="Application/PDF; x=y")
        assert only(as_message(multipart("B", [part]))).content_type == "application/pdf"

    def test_missing_content_type_is_text_plain(self) -> None:
        part = entity([("Content-Disposition", "attachment; filename=a.txt")], b"x")
        assert only(as_message(multipart("B", [part]))).content_type == "text/plain"

    def test_invalid_content_type_is_text_plain(self) -> None:
        part = entity([("Content-Type", "garbage; name=a.txt")], b"x")
        assert only(as_message(multipart("B", [part]))).content_type == "text/plain"

    def test_blank_name_is_no_name(self) -> None:
        inline = entity([("Content-Disposition", 'inline; filename="  "')], b"x")
        assert attachments(as_message(multipart("B", [inline]))) == []
        attached = entity([("Content-Disposition", 'attachment; filename="  "')], b"x")
        assert names(as_message(multipart("B", [attached]))) == [""]


class TestContent:
    def test_base64_size_and_hash(self) -> None:
        data = bytes(range(256)) * 40
        attached = only(as_message(multipart("B", [named("d.bin", data)])))
        assert (attached.size, attached.sha256) == (len(data), sha(data))

    def test_quoted_printable_size_and_hash(self) -> None:
        data = "Grüße,\r\nline with trailing space \r\n".encode() + b"x" * 200 + b"\r\nend"
        part = named("q.txt", data, encoding="quoted-printable")
        attached = only(as_message(multipart("B", [part])))
        assert (attached.size, attached.sha256) == (len(data), sha(data))

    def test_quoted_printable_trailing_padding_and_soft_breaks(self) -> None:
        body = b"a=3Db  \r\nsoft=\r\nly joined\t\r\n=C3=A9"
        part = entity(
            [
                ("Content-Type", "text/plain; name=qp.txt"),
                ("Content-Transfer-Encoding", "Quoted-Printable"),
            ],
            body,
        )
        expected = "a=b\r\nsoftly joined\r\né".encode()
        attached = only(as_message(multipart("B", [part])))
        assert (attached.size, attached.sha256) == (len(expected), sha(expected))

    def test_line_break_before_a_boundary_is_not_content(self) -> None:
        body = b"--B\r\nContent-Type: text/plain; name=t.txt\r\n\r\nhello\r\n\r\n--B--\r\n"
        found = walk_bytes(MIXED, body)
        assert [(a.size, a.sha256) for a in found] == [(7, sha(b"hello\r\n"))]

    def test_final_line_break_of_a_single_part_body_is_content(self) -> None:
        raw = as_message(entity([("Content-Type", "text/plain; name=t.txt")], b"hello\r\n"))
        assert only(raw).size == 7

    def test_unknown_transfer_encoding_counts_raw_bytes(self) -> None:
        part = entity(
            [
                ("Content-Type", "text/plain; name=u.txt"),
                ("Content-Transfer-Encoding", "x-uuencode"),
            ],
            b"begin 644 u.txt",
        )
        assert only(as_message(multipart("B", [part]))).size == len(b"begin 644 u.txt")

    def test_delimiter_lookalikes_are_content(self) -> None:
        content = b"--Bx\r\n--B-\r\n-- B\r\n--b"
        part = entity([("Content-Type", "text/plain; name=t.txt")], content)
        attached = only(as_message(multipart("B", [part])))
        assert (attached.size, attached.sha256) == (len(content), sha(content))

    def test_delimiter_lookalike_right_after_a_delimiter_starts_the_body(self) -> None:
        body = (
            b"--B\r\n--Bx\r\nrest\r\n--B\r\nContent-Type: text/plain; name=n.txt\r\n\r\nn\r\n--B--"
        )
        assert [(a.path, a.name) for a in walk_bytes(MIXED, body)] == [("2", "n.txt")]

    def test_delimiter_with_transport_padding(self) -> None:
        body = b"--B \t\r\nContent-Type: text/plain; name=p.txt\r\n\r\nabc\r\n--B--  \r\n"
        assert [(a.name, a.size) for a in walk_bytes(MIXED, body)] == [("p.txt", 3)]

    def test_preamble_and_epilogue_are_ignored(self) -> None:
        # After the closing delimiter the boundary is spent: it opens no part.
        ghost = b"--B\r\nContent-Type: text/plain; name=ghost.txt\r\n\r\nboo\r\n"
        raw = as_message(
            multipart(
                "B",
                [named("a.bin", b"A")],
                preamble=b"This is a MIME message.\r\n--not-B\r\n--B-\r\n",
                epilogue=ghost,
            )
        )
        assert names(raw) == ["a.bin"]

    def test_body_none(self) -> None:
        assert walk([("Content-Type", "application/pdf; name=a.pdf")], None) == [
            Attachment("a.pdf", "application/pdf", "1", 0, EMPTY_SHA256)
        ]

    def test_walk_rewinds_the_body(self) -> None:
        body = io.BytesIO(multipart("B", [named("a.bin", b"A")]).split(b"\r\n\r\n", 1)[1])
        first = walk(MIXED, body)
        assert walk(MIXED, body) == first
        assert [a.name for a in first] == ["a.bin"]


class TestBrokenMessages:
    def test_missing_closing_boundary(self) -> None:
        raw = as_message(
            multipart("B", [text_part("hi"), named("last.bin", b"data" * 100)], close=False)
        )
        attached = only(raw)
        assert (attached.name, attached.size, attached.sha256) == (
            "last.bin",
            400,
            sha(b"data" * 100),
        )

    def test_missing_inner_closing_boundary_is_closed_by_the_outer_one(self) -> None:
        inner = multipart("I", [named("in.bin", b"IN")], close=False)
        raw = as_message(multipart("B", [inner, named("after.bin", b"AFTER")]))
        assert [(a.path, a.name, a.size) for a in attachments(raw)] == [
            ("1.1", "in.bin", 2),
            ("2", "after.bin", 5),
        ]

    def test_boundary_never_present(self) -> None:
        body = multipart("OTHER", [named("a.bin", b"A")])
        headers = [("Content-Type", 'multipart/mixed; boundary="NEVER"')]
        assert walk_bytes(headers, body) == []

    def test_multipart_without_boundary_is_a_leaf(self) -> None:
        body = multipart("B", [named("a.bin", b"A")])
        assert walk_bytes([("Content-Type", "multipart/mixed")], body) == []

    def test_reused_boundary_in_nested_multipart(self) -> None:
        # CPython's msg_15.txt pattern: the stdlib loses the attachment.
        body = (
            b"--X\r\nContent-Type: multipart/alternative; boundary=X\r\n\r\n"
            b"--X\r\nContent-Type: text/plain\r\n\r\ntext\r\n--X--\r\n"
            b"--X\r\nContent-Type: image/gif; name=x.gif\r\n\r\nGIF\r\n--X--\r\n"
        )
        headers = [("Content-Type", "multipart/mixed; boundary=X")]
        assert [(a.path, a.name) for a in walk_bytes(headers, body)] == [("2", "x.gif")]

    def test_part_cut_off_in_its_headers(self) -> None:
        body = b"--B\r\nContent-Disposition: attachment; filename=cut.txt\r\n--B--\r\n"
        assert walk_bytes(MIXED, body) == [
            Attachment("cut.txt", "text/plain", "1", 0, EMPTY_SHA256)
        ]

    def test_body_ends_inside_headers(self) -> None:
        body = b"--B\r\nContent-Disposition: attachment; filename=cut.txt"
        assert [a.name for a in walk_bytes(MIXED, body)] == ["cut.txt"]

    def test_bad_base64_counts_what_decodes(self) -> None:
        part = entity(
            [
                ("Content-Disposition", "attachment; filename=bad.bin"),
                ("Content-Transfer-Encoding", "base64"),
            ],
            b"QUJD\r\n!!!*\r\nRE\r\nVG\r\n\x00R",
        )
        attached = only(as_message(multipart("B", [part])))
        assert (attached.size, attached.sha256) == (6, sha(b"ABCDEF"))

    def test_base64_with_padding_in_the_middle(self) -> None:
        part = entity(
            [
                ("Content-Disposition", "attachment; filename=cat.bin"),
                ("Content-Transfer-Encoding", "base64"),
            ],
            b"QQ==\r\nQUJD\r\n",
        )
        assert only(as_message(multipart("B", [part]))).sha256 == sha(b"AABC")

    def test_nul_bytes_everywhere(self) -> None:
        content = b"\x00a\x00\r\nb\x00"
        body = (
            b'\x00preamble\r\n--B\r\nContent-Type: text/plain; name="n\x00.txt"\r\n'
            b"X-Nul: \x00\r\n\r\n" + content + b"\r\n--B\r\n"
            b"Content-Disposition: attachment; filename=b.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\nQU\x00JD\r\n--B--\r\n\x00"
        )
        found = walk_bytes(MIXED, body)
        assert [(a.name, a.size) for a in found] == [("n\x00.txt", len(content)), ("b.bin", 3)]
        assert found[0].sha256 == sha(content)

    def test_header_line_without_colon_starts_the_part_body(self) -> None:
        body = (
            b"--B\r\nContent-Type: text/plain; name=a.txt\r\nno colon here\r\n"
            b"Content-Disposition: attachment; filename=b.txt\r\n\r\nx\r\n--B--\r\n"
        )
        content = b"no colon here\r\nContent-Disposition: attachment; filename=b.txt\r\n\r\nx"
        assert [(a.name, a.size, a.sha256) for a in walk_bytes(MIXED, body)] == [
            ("a.txt", len(content), sha(content))
        ]

    def test_header_without_colon_in_a_forwarded_message(self) -> None:
        inner = b"Subject: inner\r\nbroken header line\r\nContent-Type: text/plain; name=x\r\n\r\n"
        raw = as_message(multipart("B", [entity([("Content-Type", "message/rfc822")], inner)]))
        assert attachments(raw) == []

    def test_one_megabyte_part_header(self) -> None:
        junk = b"".join(b"\r\n\tjunk%07d" % i for i in range(90_000))
        data = b"payload" * 10
        body = (
            b"--B\r\nContent-Disposition: attachment; filename=big-header.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\nX-Junk: start"
            + junk
            + b"\r\n\r\n"
            + encode(data, "base64")
            + b"--B--\r\n"
        )
        assert len(body) > 1_000_000
        assert [(a.name, a.size, a.sha256) for a in walk_bytes(MIXED, body)] == [
            ("big-header.bin", len(data), sha(data))
        ]

    def test_part_header_past_the_cap_is_dropped_but_the_body_found(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(mime, "MAX_HEADER_BYTES", 200)
        encoded = encode(b"payload", "base64")
        body = (
            b"--B\r\nContent-Disposition: attachment; filename=early.bin\r\n"
            b"X-Junk: "
            + b"j" * 300
            + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + encoded
            + b"--B--\r\n"
        )
        # The encoding header came after the cap: the content counts undecoded.
        assert [(a.name, a.size) for a in walk_bytes(MIXED, body)] == [
            ("early.bin", len(encoded) - 2)
        ]


class TestLineEnds:
    def build(self, eol: bytes) -> bytes:
        data = bytes(range(256)) * 10
        inner = multipart("I", [named("inner.bin", data, eol=eol)], eol=eol)
        return multipart(
            "B", [text_part("hi", eol), inner, named("outer.bin", data, eol=eol)], eol=eol
        )

    def summary(self, top: bytes) -> list[tuple[str, str, int, str]]:
        found = attachments(b"Subject: s" + (b"\r\n" if top.startswith(b"Content") else b"") + top)
        return [(a.path, a.name, a.size, a.sha256) for a in found]

    def test_crlf_lf_and_mixed_give_the_same_attachments(self) -> None:
        crlf = self.build(CRLF)
        lf = self.build(LF)
        lines = crlf.split(b"\r\n")
        mixed = b"".join(line + (b"\r\n" if i % 2 else b"\n") for i, line in enumerate(lines))
        expected = [
            ("2.1", "inner.bin", 2560, sha(bytes(range(256)) * 10)),
            ("3", "outer.bin", 2560, sha(bytes(range(256)) * 10)),
        ]
        assert self.summary(crlf) == expected
        assert self.summary(lf) == expected
        assert self.summary(mixed) == expected


class TestLimits:
    def test_ten_thousand_nested_multiparts(self) -> None:
        raw = nested_multiparts(10_000, b"Content-Type: text/plain; name=deep.txt\r\n\r\nhi")
        started = time.perf_counter()
        assert attachments(raw) == []  # beyond MAX_DEPTH: inside an opaque leaf
        assert time.perf_counter() - started < 2.0

    def test_deepest_parsed_multipart_level(self) -> None:
        leaf = b"Content-Type: text/plain; name=deep.txt\r\n\r\nhi"
        found = attachments(nested_multiparts(MAX_DEPTH - 1, leaf))
        assert [(a.path, a.name, a.size) for a in found] == [
            (".".join(["1"] * MAX_DEPTH), "deep.txt", 2)
        ]
        assert attachments(nested_multiparts(MAX_DEPTH, leaf)) == []

    def test_ten_thousand_nested_messages(self) -> None:
        leaf = b"Content-Type: text/plain; name=deep.txt\r\n\r\nhi"
        started = time.perf_counter()
        assert attachments(nested_messages(10_000, leaf)) == []
        assert time.perf_counter() - started < 2.0
        found = attachments(nested_messages(MAX_DEPTH, leaf))
        assert [(a.path, a.name) for a in found] == [
            (".".join(["1"] * (MAX_DEPTH + 1)), "deep.txt")
        ]

    def test_part_count_is_capped(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(mime, "MAX_PARTS", 50)
        raw = as_message(multipart("B", [named(f"f{i}.bin", b"x") for i in range(60)]))
        assert names(raw) == [f"f{i}.bin" for i in range(50)]

    def test_twenty_megabyte_attachment_streams_in_bounded_memory(self, tmp_path: Path) -> None:
        data = random.Random(7).randbytes(20 * 1024 * 1024)
        path = tmp_path / "big.eml"
        path.write_bytes(as_message(multipart("B", [text_part("see"), named("big.bin", data)])))
        expected_sha = sha(data)
        del data
        with path.open("rb") as fp:
            message = read_message(fp)
            tracemalloc.start()
            try:
                found = walk(message.headers, message.body)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert [(a.name, a.size, a.sha256) for a in found] == [
            ("big.bin", 20 * 1024 * 1024, expected_sha)
        ]
        assert peak < 3 * 1024 * 1024

    def test_fifty_megabyte_line_without_newline(self, tmp_path: Path) -> None:
        path = tmp_path / "line.body"
        with path.open("wb") as fp:
            for _ in range(50):
                fp.write(b"x" * (1024 * 1024))
        tracemalloc.start()
        try:
            with path.open("rb") as fp:
                found = walk([("Content-Type", "text/plain; name=line.txt")], fp)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert [(a.name, a.size) for a in found] == [("line.txt", 50 * 1024 * 1024)]
        assert found[0].sha256 == sha(b"x" * (50 * 1024 * 1024))
        assert peak < 3 * 1024 * 1024

    def test_quoted_printable_escape_split_by_a_long_line(self) -> None:
        count = mime.MAX_LINE + 5  # the line is read in pieces that cut escapes
        body = (
            b"--B\r\nContent-Type: text/plain; name=q.txt\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + b"=41" * count + b"\r\n--B--"
        )
        assert [(a.size, a.sha256) for a in walk_bytes(MIXED, body)] == [(count, sha(b"A" * count))]

    def test_base64_in_one_long_line(self) -> None:
        data = bytes(range(256)) * 1000
        body = (
            b"--B\r\nContent-Disposition: attachment; filename=l.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n"
            + encode(data, "base64").replace(b"\r\n", b"")
            + b"\r\n--B--\r\n"
        )
        assert [(a.size, a.sha256) for a in walk_bytes(MIXED, body)] == [(len(data), sha(data))]

    def test_flood_of_dash_lines_is_fast(self) -> None:
        content = b"--x\r\n--Bx\r\n" * 400_000
        body = b"--B\r\nContent-Type: text/plain; name=f.txt\r\n\r\n" + content + b"--B--\r\n"
        started = time.perf_counter()
        assert [a.size for a in walk_bytes(MIXED, body)] == [len(content) - 2]
        assert time.perf_counter() - started < 1.0


def forwarded_sample() -> bytes:
    inner = multipart(
        "I", [text_part("t"), named("memo.doc", b"DOC" * 50, encoding="quoted-printable")]
    )
    return multipart(
        "B",
        [
            text_part("hello\r\n--B is not here"),
            entity([("Content-Type", "message/rfc822")], b"Subject: f\r\n" + inner),
            named("z.bin", bytes(range(256))),
        ],
    )


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=9), max_size=400))
def test_short_reads_give_the_same_result(sizes: list[int]) -> None:
    top = forwarded_sample()
    split = top.index(b"\r\n\r\n")
    headers = message_from_bytes(top[: split + 4]).headers
    body = top[split + 4 :]
    expected = walk_bytes(headers, body)
    assert [(a.path, a.name) for a in expected] == [("2.2", "memo.doc"), ("3", "z.bin")]
    assert walk(headers, trickle(body, sizes)) == expected


_VOCABULARY = [
    b"--B",
    b"--B--",
    b"--C",
    b"--C--",
    b"",
    b" folded",
    b"From x",
    b"no colon",
    b"\x00\xff",
    b"Content-Type: multipart/mixed; boundary=C",
    b"Content-Type: multipart/digest; boundary=B",
    b"Content-Type: message/rfc822",
    b"Content-Type: text/plain; name=a.txt",
    b"Content-Disposition: attachment; filename*0*=utf-8''%E2%82%AC; filename*1=x",
    b'Content-Disposition: attachment; filename="=?utf-8?q?=C3=A9?=\xc3\xa9\xe9',
    b"Content-Transfer-Encoding: base64",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Transfer-Encoding: 7bit",
    b"Content-Type: text/plain",
    b"Content-Type: text/html",
    b"begin 644 v.bin",
    b"begin 644 ",
    b"#86)C",
    b"`",
    b"end",
    b"QUJD",
    b"QQ=",
    b"=41=",
    b"=",
    b"begin 644 u.bin",
    b"#86)C",
    b"end",
]
_LINES = st.lists(
    st.tuples(
        st.sampled_from(_VOCABULARY) | st.binary(max_size=12),
        st.sampled_from([b"\r\n", b"\n", b"", b"\r"]),
    ),
    max_size=60,
).map(lambda lines: b"".join(line + eol for line, eol in lines))
_TOP_HEADERS = st.sampled_from(
    [
        [("Content-Type", "multipart/mixed; boundary=B")],
        [("Content-Type", "message/rfc822")],
        [("Content-Type", "multipart/mixed; boundary=C"), ("Content-Disposition", "x; filename=t")],
        [],
    ]
) | st.lists(st.tuples(st.text(max_size=20), st.text(max_size=60)), max_size=5)
_PATH = re.compile(r"^(\d+|TEXT)(\.(\d+|TEXT))*$")


def check_attachment(found: Attachment) -> None:
    assert isinstance(found, Attachment)
    assert found.name and isinstance(found.name, str)
    assert not any("\ud800" <= c <= "\udfff" for c in found.name)
    assert _PATH.match(found.path), found.path
    assert "/" in found.content_type and found.content_type == found.content_type.lower()
    assert found.size >= 0 and re.fullmatch(r"[0-9a-f]{64}", found.sha256)
    assert found.members == ()


@settings(max_examples=300)
@given(_TOP_HEADERS, _LINES | st.binary(max_size=500))
def test_walk_never_raises_on_anything(headers: list[tuple[str, str]], body: bytes) -> None:
    found = walk(headers, io.BytesIO(body))
    assert isinstance(found, list)
    for one in found:
        check_attachment(one)
    assert walk(headers, trickle(body, [3, 1, 2])) == found


def line_by_line(headers: list[tuple[str, str]], body: bytes) -> list[Attachment]:
    """The walk with every header block read one line at a time."""
    original = mime._Reader.header_block
    mime._Reader.header_block = lambda self, limit: None  # type: ignore[method-assign]
    try:
        return walk(headers, io.BytesIO(body))
    finally:
        mime._Reader.header_block = original  # type: ignore[method-assign]


def outlined(found: list[Attachment]) -> list[tuple[str, str, str]]:
    return [(a.name, a.content_type, a.path) for a in found]


_PART_HEADERS = st.sampled_from([
    b"Content-Type: text/plain",
    b"Content-Type: text/html",
    b"Content-Transfer-Encoding: quoted-printable",
    b"Content-Transfer-Encoding: 8bit",
    b"Content-Type: multipart/mixed; boundary=C",
    b"Content-Type: message/rfc822",
    b"Content-Disposition: attachment; filename=p.pdf",
    b"Content-Transfer-Encoding: base64",
    b" continued",
    b"\tname=q.pdf",
    b"X-Note: a:b",
    b"--B",
    b"--C: x",
    b"--x:y",
    b"From x",
    b"From : x",
    b"no colon",
    b"",
])
_PART_TOP_HEADERS = st.sampled_from([
    [("Content-Type", "multipart/mixed; boundary=B")],
    [("Content-Type", 'multipart/mixed; boundary="x:y"')],
])
_PARTS = st.lists(
    st.tuples(st.lists(st.tuples(_PART_HEADERS, st.sampled_from([b"\r\n", b"\n"])), max_size=5),
              st.sampled_from([b"\r\n", b"\n", b""]), _LINES),
    max_size=5,
).map(lambda parts: b"".join(
    b"--B\r\n--x:y\r\n" + b"".join(h + e for h, e in headers) + blank + content
    for headers, blank, content in parts) + b"--B--\r\n")


@settings(max_examples=300)
@given(_TOP_HEADERS | _PART_TOP_HEADERS, _PARTS | _LINES | st.binary(max_size=300))
def test_header_blocks_read_at_once_as_line_by_line(headers: list[tuple[str, str]],
                                                    body: bytes) -> None:
    assert walk_bytes(headers, body) == line_by_line(headers, body)


@settings(max_examples=300)
@given(_TOP_HEADERS | _PART_TOP_HEADERS, _PARTS | _LINES | st.binary(max_size=300))
def test_outline_names_what_the_walk_finds(headers: list[tuple[str, str]],
                                           body: bytes) -> None:
    found = mime.outline(headers, io.BytesIO(body))
    assert outlined(found) == outlined(walk_bytes(headers, body))
    assert all(a.size == 0 and a.sha256 == "" and a.members == () for a in found)


def test_outline_finds_a_uuencoded_file_in_a_text_part_of_a_multipart() -> None:
    body = (b"--B\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
            b"begin 644 notes.bin\r\n#86)C\r\n`\r\nend\r\n"
            b"--B\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\nJVBE\r\n--B--\r\n")
    found = mime.outline(MIXED, io.BytesIO(body))
    assert outlined(found) == outlined(walk_bytes(MIXED, body)) == [
        ("notes.bin", "application/octet-stream", "1"), ("a.pdf", "application/pdf", "2")]


UU_FILE = b"begin 644 notes.bin\r\n#86)C\r\n`\r\nend\r\n"


@pytest.mark.parametrize("body", [
    # in a quoted-printable or base64 text part, or an attachment: no uuencoded file
    b"--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    + UU_FILE + b"--B--\r\n",
    b"--B\r\nContent-Type: application/pdf; name=a.pdf\r\n\r\n" + UU_FILE + b"--B--\r\n",
    b"--B\r\nContent-Type: text/html\r\n\r\n" + UU_FILE + b"--B--\r\n",
    # in the preamble and the epilogue: no part's content
    UU_FILE + b"--B\r\nContent-Type: text/plain\r\n\r\nhi\r\n--B--\r\n" + UU_FILE,
    # in plain text parts, nested, or cut off without a closing delimiter: one each
    b"--B\r\nContent-Type: multipart/alternative; boundary=C\r\n\r\n--C\r\n\r\n"
    + UU_FILE + b"--C--\r\n--B--\r\n",
    b"--B\r\nContent-Transfer-Encoding: 8bit\r\n\r\nsee\r\n" + UU_FILE,
])
def test_outline_finds_uuencoded_files_only_where_the_walk_reads_for_them(body: bytes) -> None:
    assert outlined(mime.outline(MIXED, io.BytesIO(body))) == outlined(walk_bytes(MIXED, body))


def test_outline_of_a_forwarded_sample_reads_no_content() -> None:
    top = forwarded_sample()
    split = top.index(b"\r\n\r\n")
    headers = message_from_bytes(top[: split + 4]).headers
    body = top[split + 4 :]
    found = mime.outline(headers, io.BytesIO(body))
    assert [(a.path, a.name) for a in found] == [("2.2", "memo.doc"), ("3", "z.bin")]
    assert [a.size for a in found] == [0, 0]


_DELIMITER_LINES = st.lists(st.sampled_from([
    b"--B", b"--B--", b"--Bx", b"--B --", b"--B\t", b"--B\r", b"--B2", b"--B2--", b"--", b"-B",
    b"x--B", b"--b", b"text", b"",
]), max_size=12)


@settings(max_examples=300)
@given(_DELIMITER_LINES, st.sampled_from([b"\r\n", b"\n"]), st.booleans(),
       st.sampled_from([(b"--B",), (b"--B2",), (b"--B", b"--B2"), (b"--B2", b"--B")]),
       st.integers(min_value=0, max_value=3))
def test_delimiters_found_as_the_regex_finds_them(lines: list[bytes], eol: bytes,
                                                  cut: bool, delimiters: tuple[bytes, ...],
                                                  skip: int) -> None:
    data = eol.join(lines) + (b"" if cut else eol)
    reader = mime._Reader(io.BytesIO(data))
    reader._fill()
    reader._pos = data.find(b"\n", 0) + 1 if skip and b"\n" in data else 0
    assert reader._next_delimiter(delimiters) == reader._delimiter_by_regex(delimiters)


def test_lookalike_delimiters_hand_over_to_the_regex() -> None:
    body = b"--Bx\r\n" * (mime.MAX_LOOKALIKES + 5) + b"--B\r\nrest\r\n"
    reader = mime._Reader(io.BytesIO(body))
    reader._fill()
    assert reader._next_delimiter((b"--B",)) == len(body) - len(b"--B\r\nrest\r\n")
    assert reader._lookalikes > mime.MAX_LOOKALIKES


def _cpython_email_corpus() -> list[Path]:
    directory = Path(sysconfig.get_path("stdlib")) / "test" / "test_email" / "data"
    return sorted(directory.glob("msg_*.txt"))


CORPUS = _cpython_email_corpus()
corpus_only = pytest.mark.skipif(not CORPUS, reason="CPython's email test corpus not installed")


@corpus_only
def test_cpython_corpus_outline_and_line_by_line_agree_with_the_walk() -> None:
    for path in CORPUS:
        message = message_from_bytes(path.read_bytes())
        body = b""
        if message.body is not None:
            message.body.seek(0)
            body = message.body.read()
        found = walk_bytes(message.headers, body)
        assert line_by_line(message.headers, body) == found, path.name
        assert outlined(mime.outline(message.headers, io.BytesIO(body))) == outlined(found), \
            path.name


@corpus_only
def test_cpython_corpus_never_raises() -> None:
    for path in CORPUS:
        with path.open("rb") as fp:
            message = read_message(fp)
        for one in message.attachments:
            check_attachment(one)
        assert isinstance(message.subject, str)


@corpus_only
@pytest.mark.parametrize(
    "name",
    [
        "msg_04.txt",
        "msg_07.txt",
        "msg_13.txt",
        "msg_22.txt",
        "msg_26.txt",
        "msg_36.txt",
        "msg_45.txt",
    ],
)
def test_cpython_corpus_names_match_the_stdlib(name: str) -> None:
    path = CORPUS[0].parent / name
    with path.open("rb") as fp:
        ours = [a.name for a in read_message(fp).attachments]
    with path.open("rb") as fp:
        stdlib = email.message_from_binary_file(fp, policy=email.policy.compat32)
    theirs = [part.get_filename() for part in stdlib.walk() if part.get_filename()]
    assert ours == theirs
    assert ours  # each of these has at least one


@corpus_only
def test_cpython_corpus_reused_boundary_finds_what_the_stdlib_loses() -> None:
    with (CORPUS[0].parent / "msg_15.txt").open("rb") as fp:
        assert [(a.path, a.name) for a in read_message(fp).attachments] == [("2", "xx.gif")]
