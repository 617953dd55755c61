"""Zip member names: what is listed, how names are read, and what a hostile zip costs."""

from __future__ import annotations

import functools
import io
import itertools
import os
import random
import struct
import tempfile
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailspy.message import archive
from mailspy.message.archive import MAX_MEMBERS, Budget, ZipSpool, list_members
from mailspy.message.mime import walk
from mailspy.message.model import Attachment
from mailspy.message.parse import read_message
from tests.message.corpus import (
    as_message,
    attachments,
    entity,
    multipart,
    named,
    text_part,
    trickle,
)

MiB = 1024 * 1024

# -- building zips ----------------------------------------------------------


def make_zip(
    members: Iterable[tuple[str, bytes]], compression: int = zipfile.ZIP_DEFLATED
) -> bytes:
    """A zip as the stdlib writes it (non-ASCII names get the UTF-8 flag), dated at a fixed
    time: the same bytes whenever the tests run (a time whose bytes hold a line break
    would change what a quoted-printable test sends)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, data in members:
            zf.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 2, 3, 4, 6)), data,
                        compress_type=compression)
    return buffer.getvalue()


@dataclass
class Raw:
    """A member written byte by byte: for what zipfile will not write."""

    name: bytes
    data: bytes = b""  # as stored: already compressed or "encrypted"
    size: int | None = None  # uncompressed; len(data) when None
    crc: int | None = None  # of data when None
    method: int = zipfile.ZIP_STORED
    flags: int = 0
    version: int = 20
    extra: bytes = b""
    comment: bytes = b""


def handmade_zip(members: Iterable[Raw], comment: bytes = b"") -> bytes:
    """Local headers and data, central directory, end record."""
    out, directory, count = bytearray(), bytearray(), 0
    for m in members:
        crc = zlib.crc32(m.data) if m.crc is None else m.crc
        size = len(m.data) if m.size is None else m.size
        common = (m.flags, m.method, 0, 0x21, crc, len(m.data), size, len(m.name))
        directory += struct.pack(
            "<4s4B4HL2L5H2L",
            *(b"PK\x01\x02", 20, 3, m.version, 0),
            *common,
            *(len(m.extra), len(m.comment), 0, 0, 0, len(out)),
        )
        directory += m.name + m.extra + m.comment
        out += struct.pack("<4s2B4HL2L2H", b"PK\x03\x04", m.version, 0, *common, 0)
        out += m.name + m.data
        count += 1
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, len(directory), len(out), len(comment)
    )
    return bytes(out + directory + end + comment)


def as_zip64(data: bytes) -> bytes:
    """The same zip with zip64 end records, as writers of big archives leave."""
    end = data.rindex(b"PK\x05\x06")
    _, _, _, _, count, size, offset, _ = struct.unpack_from("<4s4H2LH", data, end)
    record = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    plain = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 2**32 - 1, 2**32 - 1, 0)
    return data[:end] + record + locator + plain


@functools.cache
def zeros_deflated(mib: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mib` MiB of zeros (about 1 KB a MiB), and its CRC.

    Each MiB is compressed on its own up to a full flush, so the stream is
    one piece repeated: a gigabyte costs no compression time.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    zeros, crc = bytes(MiB), 0
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    return piece * mib + b"\x03\x00", crc  # b"\x03\x00": an empty final block


def bomb_zip(mib: int = 1024) -> bytes:
    stream, crc = zeros_deflated(mib)
    member = Raw(b"bomb.bin", stream, size=mib * MiB, crc=crc, method=zipfile.ZIP_DEFLATED)
    return handmade_zip([Raw(b"readme.txt", b"hi"), member])


# -- attaching them ---------------------------------------------------------


def mail_with(*parts: bytes) -> bytes:
    return as_message(multipart("B", [text_part("see attached"), *parts]))


def zip_part(data: bytes, name: str = "files.zip", content_type: str = "application/zip") -> bytes:
    return named(name, data, content_type=content_type)


def members_of(data: bytes, **kwargs: str) -> tuple[str, ...]:
    """The members the walker reports for one zip attached to a message."""
    (found,) = attachments(mail_with(zip_part(data, **kwargs)))
    return found.members


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# -- what is listed ---------------------------------------------------------


class TestListing:
    def test_executable_behind_a_double_extension(self) -> None:
        data = make_zip([("invoice.pdf.exe", b"MZ\x90\x00"), ("readme.txt", b"pay now")])
        (found,) = attachments(mail_with(zip_part(data, name="invoice.zip")))
        assert found == Attachment(
            name="invoice.zip",
            content_type="application/zip",
            path="2",
            size=len(data),
            sha256=found.sha256,
            members=("invoice.pdf.exe", "readme.txt"),
        )

    @pytest.mark.parametrize(
        ("name", "content_type"),
        [
            ("files.bin", "application/zip"),
            ("files.bin", "application/x-zip-compressed"),
            ("files.bin", "application/x-zip"),
            ("FILES.ZIP", "application/octet-stream"),
            ("report.docx", "application/octet-stream"),  # by its first bytes
            ("noext", "text/plain"),
        ],
    )
    def test_a_zip_is_known_by_type_name_or_first_bytes(self, name: str, content_type: str) -> None:
        data = make_zip([("word/document.xml", b"<w/>"), ("word/vbaProject.bin", b"VBA")])
        assert members_of(data, name=name, content_type=content_type) == (
            "word/document.xml",
            "word/vbaProject.bin",
        )

    def test_other_attachments_have_no_members(self) -> None:
        raw = mail_with(
            named("a.pdf", b"%PDF-1.4 PK\x03\x04", content_type="application/pdf"),
            zip_part(b"PK not really", name="fake.zip"),
            named("empty.zip", b""),
        )
        assert [(a.name, a.members) for a in attachments(raw)] == [
            ("a.pdf", ()),
            ("fake.zip", ()),
            ("empty.zip", ()),
        ]

    def test_directories_and_order_are_kept(self) -> None:
        data = make_zip([("z.txt", b""), ("dir/", b""), ("dir/a.txt", b"a"), ("b.txt", b"")])
        assert members_of(data) == ("z.txt", "dir/", "dir/a.txt", "b.txt")

    def test_zip_inside_a_forwarded_message(self) -> None:
        data = make_zip([("payload.js", b"evil()")])
        forwarded = as_message(multipart("I", [text_part("fwd"), zip_part(data, name="in.zip")]))
        raw = mail_with(entity([("Content-Type", "message/rfc822")], forwarded))
        assert [(a.path, a.name, a.members) for a in attachments(raw)] == [
            ("2.2", "in.zip", ("payload.js",))
        ]

    def test_several_zips_in_one_message(self) -> None:
        raw = mail_with(
            zip_part(make_zip([("one.txt", b"1")]), name="1.zip"),
            named("x.txt", b"text"),
            zip_part(make_zip([("two.txt", b"2")]), name="2.zip"),
        )
        assert [a.members for a in attachments(raw)] == [("one.txt",), (), ("two.txt",)]

    def test_quoted_printable_zip_arriving_a_byte_at_a_time(self) -> None:
        data = make_zip([("a.exe", b"MZ")])
        part = named("x.docx", data, encoding="quoted-printable")
        raw = mail_with(part)
        body = raw.split(b"\r\n\r\n", 1)[1]
        headers = [("Content-Type", 'multipart/mixed; boundary="B"')]
        found = walk(headers, trickle(body, itertools.repeat(1)))
        assert [a.members for a in found] == [("a.exe",)]

    def test_stored_and_deflated_members_alike(self) -> None:
        for compression in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2):
            assert members_of(make_zip([("a.scr", b"x" * 1000)], compression)) == ("a.scr",)

    def test_self_extractor_declared_as_zip(self) -> None:
        data = b"MZ" + bytes(4094) + make_zip([("setup.exe", b"MZ"), ("inner.zip", _inner())])
        assert members_of(data) == ("setup.exe", "inner.zip", "inner.zip/x.exe")

    def test_zip64_end_records(self) -> None:
        data = as_zip64(make_zip([("a.txt", b"a"), ("b.exe", b"b")]))
        assert zipfile.ZipFile(io.BytesIO(data)).namelist() == ["a.txt", "b.exe"]
        assert members_of(data) == ("a.txt", "b.exe")

    def test_fake_end_record_in_the_archive_comment(self) -> None:
        fake = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, 46, 0, 0)
        data = handmade_zip([Raw(b"hidden.exe", b"MZ")], comment=b"see " + fake + b" here")
        assert members_of(data) == ("hidden.exe",)

    def test_trailing_garbage_after_the_end_record(self) -> None:
        assert members_of(make_zip([("a.exe", b"MZ")]) + b"\r\n--garbage--") == ("a.exe",)

    def test_junk_between_the_directory_and_the_end_record(self) -> None:
        # unzip finds the directory at its recorded offset; zipfile refuses this one.
        data = make_zip([("a.txt", b"a"), ("inner.zip", _inner())])
        end = data.rindex(b"PK\x05\x06")
        shifted = data[:end] + b"J" * 20 + data[end:]
        with pytest.raises(zipfile.BadZipFile):
            zipfile.ZipFile(io.BytesIO(shifted))
        assert members_of(shifted) == ("a.txt", "inner.zip", "inner.zip/x.exe")

    def test_junk_between_the_directory_and_zip64_end_records(self) -> None:
        data = as_zip64(make_zip([("a.txt", b"a"), ("b.exe", b"b")]))
        record = data.rindex(b"PK\x06\x06")
        shifted = data[:record] + b"J" * 20 + data[record:]
        assert members_of(shifted) == ("a.txt", "b.exe")

    def test_a_directory_offset_pointing_past_the_end_is_no_listing(self) -> None:
        data = bytearray(make_zip([("a.txt", b"a")]))
        end = data.rindex(b"PK\x05\x06")
        struct.pack_into("<L", data, end + 16, 2**32 - 1)
        data[end:end] = b"J" * 20
        assert members_of(bytes(data)) == ()

    def test_archive_comment_and_member_comments(self) -> None:
        data = handmade_zip(
            [Raw(b"a.txt", b"a", comment=b"PK\x05\x06 fake end"), Raw(b"b.txt", comment=b"c")],
            comment=b"archive comment",
        )
        assert members_of(data) == ("a.txt", "b.txt")


# -- how names are read -----------------------------------------------------


class TestNames:
    def test_utf8_names(self) -> None:
        names = ["отчёт.pdf.exe", "日本語/ファイル.txt", "naïve café.doc", "emoji-🦠.js"]
        assert members_of(make_zip([(n, b"") for n in names])) == tuple(names)

    def test_names_without_the_utf8_flag_are_cp437(self) -> None:
        data = handmade_zip([Raw(b"r\x82sum\x82.exe"), Raw(b"\x84\x94\x81.txt")])
        assert members_of(data) == ("résumé.exe", "äöü.txt")
        assert members_of(data) == tuple(zipfile.ZipFile(io.BytesIO(data)).namelist())

    def test_a_name_flagged_utf8_that_is_not_reads_as_cp437(self) -> None:
        # zipfile would refuse the whole archive; the other names must not hide.
        data = handmade_zip([Raw(b"ok.txt"), Raw(b"bad\xff.exe", flags=0x800), Raw(b"z.txt")])
        with pytest.raises(UnicodeDecodeError):
            zipfile.ZipFile(io.BytesIO(data))
        assert members_of(data) == ("ok.txt", "bad\u00a0.exe", "z.txt")

    def test_a_name_is_cut_at_nul_as_zipfile_does(self) -> None:
        assert members_of(handmade_zip([Raw(b"evil.exe\x00.txt")])) == ("evil.exe",)

    def test_entries_zipfile_would_refuse_are_still_listed(self) -> None:
        refused = [
            Raw(b"new.exe", version=99),  # "version needed" beyond zipfile's
            Raw(b"broken-extra.exe", extra=b"\x01\x00\xff\x00short"),
            Raw(b"zip64-short.exe", size=0xFFFFFFFF, extra=b"\x01\x00\x04\x00abcd"),
        ]
        for member in refused:
            with pytest.raises((zipfile.BadZipFile, NotImplementedError)):
                zipfile.ZipFile(io.BytesIO(handmade_zip([member])))
        members = [*refused, Raw(b"fine.txt", extra=b"UT\x05\x00\x01\x00\x00\x00\x00")]
        assert members_of(handmade_zip(members)) == (
            "new.exe",
            "broken-extra.exe",
            "zip64-short.exe",
            "fine.txt",
        )

    def test_encrypted_zip_lists_its_names(self) -> None:
        secret = Raw(b"secret.exe", bytes(12) + b"ciphertext", flags=0x1)
        data = handmade_zip([secret, Raw(b"inner.zip", _inner(), flags=0x1)])
        with zipfile.ZipFile(io.BytesIO(data)) as zf, pytest.raises(RuntimeError):
            zf.read("secret.exe")  # zipfile agrees: password required
        assert members_of(data) == ("secret.exe", "inner.zip")  # the inner one stays shut


# -- nested zips ------------------------------------------------------------


def _inner() -> bytes:
    return make_zip([("x.exe", b"MZ")])


class TestNested:
    def test_inner_names_follow_their_zip_as_paths(self) -> None:
        inner = make_zip([("x.exe", b"MZ"), ("docs/y.js", b"y")])
        data = make_zip([("a.txt", b"a"), ("sub/inner.zip", inner), ("b.txt", b"b")])
        assert members_of(data) == (
            "a.txt",
            "sub/inner.zip",
            "sub/inner.zip/x.exe",
            "sub/inner.zip/docs/y.js",
            "b.txt",
        )

    def test_stored_inner_zip(self) -> None:
        data = make_zip([("In.ZIP", _inner())], zipfile.ZIP_STORED)
        assert members_of(data) == ("In.ZIP", "In.ZIP/x.exe")

    def test_two_levels_are_opened_no_more(self) -> None:
        level3 = make_zip([("deep.exe", b"MZ")])
        level2 = make_zip([("l3.zip", level3), ("l2.txt", b"")])
        data = make_zip([("l2.zip", level2)])
        assert archive.MAX_NESTING == 2
        assert members_of(data) == ("l2.zip", "l2.zip/l3.zip", "l2.zip/l2.txt")

    def test_inner_zip_over_the_size_cap_is_named_not_opened(self) -> None:
        big_inner = make_zip([("pad.bin", bytes(archive.MAX_INNER_BYTES))], zipfile.ZIP_STORED)
        data = make_zip([("big.zip", big_inner), ("small.zip", _inner())])
        assert len(data) < MiB  # zeros: the attachment itself is small
        started = time.perf_counter()
        assert members_of(data) == ("big.zip", "small.zip", "small.zip/x.exe")
        assert time.perf_counter() - started < 1.0

    def test_inner_zip_lying_about_its_size_is_named_not_listed(self) -> None:
        inner = make_zip([("x.exe", b"MZ" * 5000)], zipfile.ZIP_STORED)
        stream = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = stream.compress(inner) + stream.flush()
        liar = Raw(b"liar.zip", packed, size=100, crc=zlib.crc32(inner), method=8)
        data = handmade_zip([liar, Raw(b"after.txt")])
        assert members_of(data) == ("liar.zip", "after.txt")

    def test_a_broken_inner_zip_is_named_not_listed(self) -> None:
        data = make_zip([("broken.zip", _inner()[:-30]), ("junk.zip", b"not a zip")])
        assert members_of(data) == ("broken.zip", "junk.zip")

    def test_nested_names_count_towards_the_cap(self) -> None:
        inner = make_zip([(f"in{i}", b"") for i in range(MAX_MEMBERS)])
        data = make_zip([("first.txt", b""), ("inner.zip", inner), ("last.txt", b"")])
        found = members_of(data)
        assert len(found) == MAX_MEMBERS
        assert found[:3] == ("first.txt", "inner.zip", "inner.zip/in0")
        assert found[-1] == f"inner.zip/in{MAX_MEMBERS - 3}"


# -- limits -----------------------------------------------------------------


class TestLimits:
    def test_five_thousand_members_are_cut_at_the_cap(self) -> None:
        data = make_zip([(f"f{i:04}.txt", b"") for i in range(5000)], zipfile.ZIP_STORED)
        assert members_of(data) == tuple(f"f{i:04}.txt" for i in range(MAX_MEMBERS))

    def test_huge_directory_costs_little(self) -> None:
        # 500,000 entries in 24 MB: zipfile alone would build 500,000 ZipInfo
        # objects (hundreds of MB, seconds). All point at one local header.
        one = handmade_zip([Raw(b"x.exe", b"MZ")])
        entry = one[one.index(b"PK\x01\x02") : one.index(b"PK\x05\x06")]
        count, directory = 500_000, entry * 500_000
        end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(directory), 37, 0)
        data = one[:37] + directory + end
        tracemalloc.start()
        try:
            started = time.perf_counter()
            found = list_members(io.BytesIO(data))
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert found == ("x.exe",) * MAX_MEMBERS
        assert count > MAX_MEMBERS
        assert elapsed < 1.0
        assert peak < 4 * MiB

    def test_directory_bytes_are_capped(self) -> None:
        names = [f"{i:04}-" + "n" * 4000 for i in range(400)]  # a 1.6 MB directory
        found = list_members(io.BytesIO(make_zip([(n, b"") for n in names], zipfile.ZIP_STORED)))
        assert 0 < len(found) < len(names)
        assert list(found) == names[: len(found)]
        assert len(found) * 4051 <= archive.MAX_DIRECTORY_BYTES

    def test_gigabyte_bomb_is_listed_not_inflated(self) -> None:
        bomb = bomb_zip(1024)
        with zipfile.ZipFile(io.BytesIO(bomb)) as zf:  # it is real: 1 GiB of zeros
            assert zf.getinfo("bomb.bin").file_size == 1024 * MiB
            with zf.open("bomb.bin") as member:
                assert member.read(MiB) == bytes(MiB)
        nested = make_zip([("bomb.zip", bomb), ("note.txt", b"")])
        raw = mail_with(zip_part(bomb, name="bomb.zip"), zip_part(nested, name="nested.zip"))
        tracemalloc.start()
        try:
            started = time.perf_counter()
            found = attachments(raw)
            elapsed = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert [a.members for a in found] == [
            ("readme.txt", "bomb.bin"),
            ("bomb.zip", "bomb.zip/readme.txt", "bomb.zip/bomb.bin", "note.txt"),
        ]
        assert elapsed < 1.0
        assert peak < 8 * MiB  # the message itself (2 MB of base64) is in memory

    def test_attachment_over_the_spool_cap_lists_nothing(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(archive, "MAX_ARCHIVE_BYTES", 4096)
        small = make_zip([("small.exe", b"x")])
        big = make_zip([("big.exe", random.Random(1).randbytes(8192))], zipfile.ZIP_STORED)
        raw = mail_with(zip_part(small, name="s.zip"), zip_part(big, name="b.zip"))
        assert [a.members for a in attachments(raw)] == [("small.exe",), ()]

    def test_archives_per_message_are_capped(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(archive, "MAX_ARCHIVES", 3)
        zips = [zip_part(make_zip([(f"{i}.txt", b"")]), name=f"{i}.zip") for i in range(5)]
        assert [a.members for a in attachments(mail_with(*zips))] == [
            ("0.txt",),
            ("1.txt",),
            ("2.txt",),
            (),
            (),
        ]

    def test_inflation_budget_is_shared_by_the_message(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        inner = _inner()
        monkeypatch.setattr(archive, "MAX_INFLATED_BYTES", len(inner) * 2)
        nested = make_zip([("a.zip", inner), ("b.zip", inner), ("c.zip", inner)])
        assert members_of(nested) == ("a.zip", "a.zip/x.exe", "b.zip", "b.zip/x.exe", "c.zip")

    def test_large_zip_streams_in_bounded_memory(self, tmp_path: Path) -> None:
        payload = random.Random(7).randbytes(24 * MiB)
        data = make_zip([("big.iso", payload), ("run.exe", b"MZ")], zipfile.ZIP_STORED)
        path = tmp_path / "big.eml"
        path.write_bytes(mail_with(zip_part(data, name="big.zip")))
        del payload, data
        with path.open("rb") as fp:
            message = read_message(fp)
            tracemalloc.start()
            try:
                started = time.perf_counter()
                found = walk(message.headers, message.body)
                elapsed = time.perf_counter() - started
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert [a.members for a in found] == [("big.iso", "run.exe")]
        assert peak < 3 * MiB
        assert elapsed < 5.0


# -- broken zips ------------------------------------------------------------


class TestBroken:
    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"PK\x03\x04",
            b"PK\x05\x06" + bytes(18),  # an empty zip
            b"PK\x05\x06" + b"\xff" * 18,  # an end record pointing before the file
            b"\x00" * 100 + b"PK\x05\x06" + bytes(12) + b"\x10\x00\x00\x00" + bytes(2),
            b"just some text",
        ],
    )
    def test_not_a_zip(self, data: bytes) -> None:
        assert list_members(io.BytesIO(data)) == ()
        assert members_of(data) == ()

    def test_truncated_anywhere(self) -> None:
        data = make_zip([("a.exe", b"MZ" * 100), ("b.txt", b"b")])
        for cut in range(len(data)):
            assert list_members(io.BytesIO(data[:cut])) == ()

    def test_damaged_entry_keeps_the_entries_before_it(self) -> None:
        data = bytearray(make_zip([("a.exe", b"a"), ("b.exe", b"b"), ("c.exe", b"c")]))
        second = data.index(b"PK\x01\x02", data.index(b"PK\x01\x02") + 4)
        data[second : second + 4] = b"XX\x01\x02"
        assert members_of(bytes(data)) == ("a.exe",)

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_mutated_zips_never_raise(self, data: st.DataObject) -> None:
        original = bytearray(
            make_zip([("a.exe", b"MZ" * 50), ("d/", b""), ("in.zip", _inner())], zipfile.ZIP_STORED)
        )
        for _ in range(data.draw(st.integers(1, 8))):
            at = data.draw(st.integers(0, len(original) - 1))
            original[at] = data.draw(st.integers(0, 255))
        found = list_members(io.BytesIO(bytes(original)))
        assert isinstance(found, tuple)
        assert all(isinstance(name, str) for name in found)
        assert len(found) <= MAX_MEMBERS

    @settings(max_examples=200, deadline=None)
    @given(body=st.binary(max_size=600))
    def test_any_bytes_behind_a_zip_header(self, body: bytes) -> None:
        for data in (b"PK\x03\x04" + body, body + b"PK\x05\x06" + body[:18]):
            assert isinstance(list_members(io.BytesIO(data)), tuple)


# -- the temporary file -----------------------------------------------------


class TestSpool:
    def test_no_file_and_no_descriptor_is_left(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
        nested = make_zip([("inner.zip", _inner())])
        raw = mail_with(*(zip_part(nested, name=f"{i}.zip") for i in range(20)))
        before = open_fds()
        assert all(a.members == ("inner.zip", "inner.zip/x.exe") for a in attachments(raw))
        assert open_fds() == before
        assert list(tmp_path.iterdir()) == []

    def test_other_content_never_touches_the_disk(self, monkeypatch: pytest.MonkeyPatch) -> None:
        opened: list[object] = []
        real = tempfile.TemporaryFile

        def counting(*args: object, **kwargs: object) -> object:
            if kwargs.get("prefix") == "mailspy-zip-":
                opened.append(args)
            return real(*args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(tempfile, "TemporaryFile", counting)
        raw = mail_with(
            named("big.bin", random.Random(3).randbytes(MiB)),
            named("PK.txt", b"PK\x03"),
            named("doc.pdf", b"%PDF"),
        )
        assert [a.members for a in attachments(raw)] == [(), (), ()]
        assert opened == []
        assert members_of(make_zip([("a", b"")])) == ("a",)
        assert len(opened) == 1

    def test_sniffing_across_one_byte_feeds(self) -> None:
        data = make_zip([("a.txt", b"a")])
        spool = ZipSpool(declared=False, budget=Budget())
        for byte in data:
            spool.feed(bytes([byte]))
        assert spool.members() == ("a.txt",)
        assert spool.members() == ()  # listed once; the file is gone

    def test_no_temporary_directory_means_no_members(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(tempfile, "tempdir", "/nonexistent/mailspy-test")
        (found,) = attachments(mail_with(zip_part(make_zip([("a.exe", b"")]))))
        assert found.members == ()
        assert found.size > 0
