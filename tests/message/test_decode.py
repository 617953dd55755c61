"""Header and parameter decoding: what a rule sees of hostile header text."""

from __future__ import annotations

import base64
import binascii
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mailspy.message.decode import (
    Base64Decoder,
    MimeFields,
    _plain_params,
    decode_charset,
    decode_header_value,
    decode_param,
    mime_fields,
    mime_header,
    part_filename,
    read_mime_fields,
    recover_text,
)


def b_word(text: str, charset: str = "utf-8") -> str:
    encoded = base64.b64encode(text.encode(charset)).decode("ascii")
    return f"=?{charset}?B?{encoded}?="


def escaped(raw: bytes) -> str:
    """A header value as pymilter hands over raw 8-bit bytes."""
    return raw.decode("utf-8", "surrogateescape")


def has_surrogate(text: str) -> bool:
    return any("\ud800" <= c <= "\udfff" for c in text)


class TestEncodedWords:
    def test_plain_ascii_is_unchanged(self) -> None:
        assert decode_header_value("Invoice 7 for March") == "Invoice 7 for March"

    def test_q_word_with_underscore_and_escapes(self) -> None:
        assert decode_header_value("=?UTF-8?Q?caf=C3=A9_cr=C3=A8me?=") == "café crème"

    def test_b_word(self) -> None:
        assert decode_header_value(b_word("Счёт №7")) == "Счёт №7"

    def test_words_in_different_charsets_in_one_subject(self) -> None:
        raw = " ".join(
            [
                "=?ISO-8859-1?Q?Caf=E9?=",
                b_word("Привет", "koi8-r"),
                b_word("日本語", "iso-2022-jp"),
                "=?utf-8?q?=E2=82=AC?=",
            ]
        )
        assert decode_header_value(raw) == "CaféПривет日本語€"

    def test_space_between_encoded_words_is_dropped(self) -> None:
        assert decode_header_value("=?utf-8?q?a?= \t =?utf-8?q?b?=") == "ab"

    def test_space_between_word_and_text_is_kept(self) -> None:
        assert decode_header_value("Re: =?utf-8?q?caf=C3=A9?= now") == "Re: café now"

    def test_text_between_words_is_kept(self) -> None:
        assert decode_header_value("=?utf-8?q?a?= and =?utf-8?q?b?=") == "a and b"

    def test_character_split_across_two_words_is_joined(self) -> None:
        euro = "€".encode()
        first = base64.b64encode(euro[:1]).decode()
        second = base64.b64encode(euro[1:]).decode()
        assert decode_header_value(f"=?utf-8?b?{first}?= =?utf-8?b?{second}?=") == "€"

    def test_word_glued_to_text_is_decoded(self) -> None:
        assert decode_header_value("Fwd:=?utf-8?q?x?=") == "Fwd:x"

    def test_charset_with_rfc2231_language(self) -> None:
        assert decode_header_value("=?utf-8*en?q?hello?=") == "hello"

    def test_spaces_inside_a_broken_q_word(self) -> None:
        assert decode_header_value("=?utf-8?q?two words?=") == "two words"


class TestHostileEncodedWords:
    def test_unknown_charset_guesses_utf8(self) -> None:
        assert decode_header_value("=?x-unknown?q?caf=C3=A9?=") == "café"

    def test_unknown_charset_with_8bit_falls_back_to_windows_1252(self) -> None:
        assert decode_header_value("=?x-unknown?q?caf=E9_=80?=") == "café €"

    @pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "hex", "undefined", "idna"])
    def test_non_text_or_failing_codecs_fall_back(self, charset: str) -> None:
        assert decode_header_value(f"=?{charset}?q?abc=C3=A9?=") == "abcé"

    def test_utf7_lone_surrogate_is_replaced(self) -> None:
        assert decode_header_value("=?utf-7?q?+2AA-x?=") == "\ufffdx"

    def test_invalid_utf8_in_a_utf8_word(self) -> None:
        assert decode_header_value("=?utf-8?q?caf=E9?=") == "café"

    def test_base64_without_padding(self) -> None:
        assert decode_header_value("=?utf-8?b?w6k?=") == "é"

    def test_base64_with_one_stray_character(self) -> None:
        assert decode_header_value("=?utf-8?b?QUJDR?=") == "ABC"

    def test_base64_with_junk_characters(self) -> None:
        assert decode_header_value("=?utf-8?b?QU*JD!?=") == "ABC"

    def test_bad_q_escape_is_kept(self) -> None:
        assert decode_header_value("=?utf-8?q?100=ZZ?=") == "100=ZZ"

    def test_unterminated_word_stays_raw(self) -> None:
        assert decode_header_value("=?utf-8?q?never-ends") == "=?utf-8?q?never-ends"

    def test_word_without_encoding_stays_raw(self) -> None:
        assert decode_header_value("=?utf-8?x?abc?=") == "=?utf-8?x?abc?="

    def test_latin1_label_decodes_as_windows_1252(self) -> None:
        assert decode_header_value("=?iso-8859-1?q?=80_=93x=94?=") == "€ “x”"

    def test_crafted_subject_decodes_in_linear_time(self) -> None:
        # email.header.decode_header needs about a minute for this one.
        hostile = "=?a?q? " * 40_000
        started = time.perf_counter()
        assert decode_header_value(hostile) == hostile.strip()
        assert time.perf_counter() - started < 1.0


class TestRawHeaderText:
    def test_8bit_utf8_is_recovered(self) -> None:
        assert decode_header_value(escaped("Grüße aus Köln".encode())) == "Grüße aus Köln"

    def test_8bit_latin1_is_read_as_windows_1252(self) -> None:
        assert decode_header_value(escaped("Café €5".encode("cp1252"))) == "Café €5"

    def test_undefined_windows_1252_byte_keeps_its_code_point(self) -> None:
        assert decode_header_value(escaped(b"a\x81b")) == "a\x81b"

    def test_mixed_valid_and_invalid_utf8(self) -> None:
        assert decode_header_value(escaped("é".encode() + b" \xe9")) == "é é"

    def test_surrogates_not_from_surrogateescape_are_replaced(self) -> None:
        assert decode_header_value("a\ud800b\udfffc") == "a\ufffdb\ufffdc"

    def test_8bit_next_to_encoded_word(self) -> None:
        raw = escaped("Grüße ".encode()) + "=?utf-8?q?caf=C3=A9?="
        assert decode_header_value(raw) == "Grüße café"

    def test_nul_bytes_survive(self) -> None:
        assert decode_header_value("a\x00b") == "a\x00b"

    def test_recover_text_leaves_plain_text_alone(self) -> None:
        assert recover_text("plain ✓") == "plain ✓"


class TestFolding:
    @pytest.mark.parametrize("fold", ["\r\n ", "\r\n\t", "\n ", "\n\t\t", "  \r\n   "])
    def test_fold_becomes_one_space(self, fold: str) -> None:
        assert decode_header_value(f"first{fold}second") == "first second"

    def test_encoded_words_on_folded_lines_join(self) -> None:
        assert decode_header_value("=?utf-8?q?caf?=\r\n =?utf-8?q?=C3=A9?=") == "café"

    def test_stray_line_breaks_become_spaces(self) -> None:
        assert decode_header_value("a\rb\nc") == "a b c"

    def test_outer_whitespace_is_stripped(self) -> None:
        assert decode_header_value("  \t padded \t ") == "padded"


class TestCharsets:
    def test_known_charset(self) -> None:
        assert decode_charset("Привет".encode("koi8-r"), "KOI8-R") == "Привет"

    def test_no_charset_guesses(self) -> None:
        assert decode_charset("€".encode(), None) == "€"

    def test_gb2312_label_reads_gb18030(self) -> None:
        assert decode_charset("𠀀".encode("gb18030"), "gb2312") == "𠀀"

    def test_broken_bytes_in_a_known_charset_are_replaced(self) -> None:
        assert decode_charset(b"\xff\xfe\x00", "utf-16-le") == "\ufeff\ufffd"


class TestBase64Decoder:
    def test_any_split_decodes_like_one_piece(self) -> None:
        data = bytes(range(256)) * 3
        encoded = base64.encodebytes(data)
        for step in (1, 3, 5, 77):
            decoder = Base64Decoder()
            pieces = [decoder.feed(encoded[i : i + step]) for i in range(0, len(encoded), step)]
            assert b"".join(pieces) + decoder.flush() == data

    def test_concatenated_encodings(self) -> None:
        decoder = Base64Decoder()
        assert decoder.feed(b"QQ==QUJD") + decoder.flush() == b"AABC"

    def test_stray_character_before_padding_is_dropped_not_the_quantum(self) -> None:
        decoder = Base64Decoder()
        assert decoder.feed(b"QUJDR=QUJD") + decoder.flush() == b"ABCABC"

    def test_garbage_never_raises(self) -> None:
        decoder = Base64Decoder()
        assert decoder.feed(b"\x00\xff====Q===") + decoder.flush() == b""

    def test_stdlib_strict_decoder_would_raise_on_the_same_input(self) -> None:
        with pytest.raises(binascii.Error):
            binascii.a2b_base64(b"QUJDR")
        decoder = Base64Decoder()
        assert decoder.feed(b"QUJDR") + decoder.flush() == b"ABC"


def filename_of(*fields: tuple[str, str]) -> str:
    return part_filename(mime_header(fields))


class TestFileNames:
    def test_disposition_filename_wins_over_type_name(self) -> None:
        assert (
            filename_of(
                ("Content-Type", 'application/pdf; name="type.pdf"'),
                ("Content-Disposition", 'attachment; filename="disposition.pdf"'),
            )
            == "disposition.pdf"
        )

    def test_type_name_when_no_filename(self) -> None:
        assert (
            filename_of(
                ("Content-Type", 'application/pdf; name="type.pdf"'),
                ("Content-Disposition", "attachment"),
            )
            == "type.pdf"
        )

    def test_empty_filename_falls_back_to_name(self) -> None:
        assert (
            filename_of(
                ("Content-Type", "application/pdf; name=type.pdf"),
                ("Content-Disposition", 'attachment; filename=""'),
            )
            == "type.pdf"
        )

    def test_no_name_at_all(self) -> None:
        assert filename_of(("Content-Type", "text/plain"), ("Content-Disposition", "inline")) == ""

    def test_rfc2231_with_charset(self) -> None:
        value = "attachment; filename*=UTF-8''%E2%82%AC%20r%C3%A9sum%C3%A9.pdf"
        assert filename_of(("Content-Disposition", value)) == "€ résumé.pdf"

    def test_rfc2231_continuations_mixed_encoded_and_plain(self) -> None:
        value = (
            "attachment;\r\n filename*0*=UTF-8''%E2%82%AC;\r\n"
            ' filename*1*=%E2%82%AC; filename*2="-plain part";\r\n filename*3=.txt'
        )
        assert filename_of(("Content-Disposition", value)) == "€€-plain part.txt"

    def test_rfc2231_continuations_out_of_order(self) -> None:
        value = 'attachment; filename*1="def.txt"; filename*0="abc"'
        assert filename_of(("Content-Disposition", value)) == "abcdef.txt"

    def test_rfc2231_with_language_and_latin1(self) -> None:
        value = "attachment; filename*=iso-8859-1'fr'caf%E9.txt"
        assert filename_of(("Content-Disposition", value)) == "café.txt"

    def test_rfc2231_without_charset_guesses_utf8(self) -> None:
        value = "attachment; filename*=''%C3%A9t%C3%A9.txt"
        assert filename_of(("Content-Disposition", value)) == "été.txt"

    def test_rfc2231_unknown_charset(self) -> None:
        value = "attachment; filename*=x-bogus''%C3%A9.txt"
        assert filename_of(("Content-Disposition", value)) == "é.txt"

    def test_rfc2047_inside_quoted_filename(self) -> None:
        value = f'attachment; filename="{b_word("Прайс.xls")}"'
        assert filename_of(("Content-Disposition", value)) == "Прайс.xls"

    def test_rfc2047_split_over_folded_lines_in_name(self) -> None:
        value = 'application/octet-stream;\r\n name="=?utf-8?q?long_?=\r\n =?utf-8?q?name.exe?="'
        assert filename_of(("Content-Type", value)) == "long name.exe"

    def test_raw_8bit_utf8_filename(self) -> None:
        value = escaped('attachment; filename="Übersicht.pdf"'.encode())
        assert filename_of(("Content-Disposition", value)) == "Übersicht.pdf"

    def test_unquoted_value_with_spaces(self) -> None:
        assert filename_of(("Content-Disposition", "attachment; filename=my file.pdf")) == (
            "my file.pdf"
        )

    def test_missing_closing_quote(self) -> None:
        assert filename_of(("Content-Disposition", 'attachment; filename="broken.exe')) == (
            "broken.exe"
        )

    def test_semicolon_inside_quotes(self) -> None:
        assert filename_of(("Content-Disposition", 'attachment; filename="a;b.txt"')) == "a;b.txt"

    def test_header_name_case_is_ignored(self) -> None:
        assert filename_of(("content-DISPOSITION", "attachment; FILENAME=x.zip")) == "x.zip"

    def test_numbered_and_unnumbered_sections_do_not_raise(self) -> None:
        # The stdlib's RFC 2231 code raises TypeError sorting None against 0.
        value = "attachment; filename*=evil.exe; filename*0=other"
        assert filename_of(("Content-Disposition", value)) == "evil.exe"

    def test_huge_section_number_does_not_hide_the_plain_name(self) -> None:
        # int() refuses 5000 digits: the stdlib raises ValueError here.
        value = 'attachment; filename="evil.exe"; filename*' + "9" * 5000 + "=x"
        assert filename_of(("Content-Disposition", value)) == "evil.exe"

    def test_many_semicolons_are_cheap(self) -> None:
        value = 'attachment; filename="a.exe"' + ";" * 1_000_000
        started = time.perf_counter()
        assert filename_of(("Content-Disposition", value)) == "a.exe"
        assert time.perf_counter() - started < 0.5


class TestDecodeParam:
    def test_none(self) -> None:
        assert decode_param(None) == ""

    def test_rfc2231_tuple(self) -> None:
        assert decode_param(("utf-8", "en", "\xe2\x82\xac.txt")) == "€.txt"

    def test_rfc2231_tuple_with_unknown_charset(self) -> None:
        assert decode_param(("no-such-charset", "", "\xe9.txt")) == "é.txt"

    def test_plain_string_with_encoded_word(self) -> None:
        assert decode_param("=?utf-8?q?r=C3=A9sum=C3=A9.doc?=") == "résumé.doc"


headers_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200)
word_pieces = st.lists(
    st.sampled_from(
        [
            "=?",
            "?=",
            "?q?",
            "?B?",
            "utf-8",
            "x-bogus",
            "utf-7",
            "=C3",
            "=A9",
            "+2AA-",
            " ",
            "\r\n ",
            "QUJD",
            "=",
            "_",
            "\udce9",
            "\ud800",
            "é",
            "*",
        ]
    )
    | headers_text,
    max_size=30,
).map("".join)


@given(st.one_of(headers_text, word_pieces))
def test_decode_never_raises_nor_leaks_surrogates(raw: str) -> None:
    decoded = decode_header_value(raw)
    assert isinstance(decoded, str)
    assert not has_surrogate(decoded)


@given(
    st.one_of(headers_text, word_pieces), st.sampled_from(["Content-Type", "Content-Disposition"])
)
def test_filename_never_raises_nor_leaks_surrogates(value: str, header: str) -> None:
    name = filename_of((header, "attachment; filename" + value))
    assert isinstance(name, str)
    assert not has_surrogate(name)


# Raw 8-bit bytes inside encoded words, as Eudora writes them: whatever the
# text and the charset, the word's own charset decodes the bytes.
RAW_WORD_CHARSETS = {
    "iso-8859-1": "".join(map(chr, [*range(0x20, 0x7F), *range(0xA0, 0x100)])),
    "windows-1251": "абвгдеёжзийклмнопрстуфхцчшщъыьэюяЉЊЋЂЄІЇЎ№€ ",
    "koi8-r": "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯабвгд ",
    "iso-8859-7": "αβγδεζηθικλμνξοπρστυφχψωΑΒΓΔΆΈ ",
    "utf-8": "aé€日本𝄞 ",
}


def raw_q_word(text: str, charset: str) -> str:
    """A Q word whose 8-bit bytes are left raw, as pymilter hands it over."""
    out = bytearray(b"=?" + charset.encode() + b"?Q?")
    for byte in text.encode(charset):
        if byte == 0x20:
            out += b"_"
        elif byte < 0x20 or byte in b'?=_"\\\x7f':
            out += b"=%02X" % byte
        else:
            out.append(byte)  # 8-bit bytes too: the point of the test
    return escaped(bytes(out + b"?="))


raw_words = st.sampled_from(sorted(RAW_WORD_CHARSETS)).flatmap(
    lambda charset: st.tuples(
        st.just(charset), st.text(alphabet=RAW_WORD_CHARSETS[charset], max_size=40)
    )
)


@given(raw_words)
def test_raw_8bit_bytes_in_an_encoded_word_decode_by_its_charset(word: tuple[str, str]) -> None:
    charset, text = word
    assert decode_header_value(raw_q_word(text, charset)) == text.strip(" \t")


@given(raw_words, headers_text)
def test_raw_8bit_bytes_in_a_filename_word_decode_by_its_charset(
    word: tuple[str, str], noise: str
) -> None:
    charset, text = word
    value = f'attachment; filename="{raw_q_word(text, charset)}"'
    assert filename_of(("Content-Disposition", value)) == text.strip(" \t")
    assert not has_surrogate(filename_of(("Content-Disposition", value + noise)))


# -- MIME fields read without the stdlib where they are plain -------------------------

def stdlib_reading(fields: list[tuple[str, str]], default_type: str) -> MimeFields:
    """The same questions put to the stdlib's Message, as the walker once asked them."""
    part = mime_header(fields, default_type)
    content_type = part.get_content_type()
    return MimeFields(
        content_type=content_type,
        boundary=part.get_boundary() if content_type.startswith("multipart/") else None,
        encoding=str(part.get("content-transfer-encoding", "")).strip().lower(),
        name=part_filename(part),
        attachment=part.get_content_disposition() == "attachment",
    )


_FIELD_NAMES = st.sampled_from(["Content-Type", "content-type", " CONTENT-TYPE",
                                "Content-Disposition", "content-disposition ",
                                "Content-Transfer-Encoding", "X-Other"])
_HEADS = st.sampled_from(["text/plain", "multipart/mixed", "Multipart/Alternative",
                         "application/pdf", "attachment", "INLINE", "base64", "a/b/c", "",
                         "x=y", '"q;r"', "name"])
_PARAM_NAMES = st.sampled_from(["name", "NAME", " filename ", "FileName", "boundary",
                                "charset", "filename*", "name*0*", "name*1", "", "x y"])
_PARAM_VALUES = st.sampled_from([
    "a.pdf", '"a b.pdf"', '"<b>"', "<b>", '"x;y.pdf"', '"a', 'a"b"c', '""', '"\\"q\\""',
    "utf-8''%E2%82%AC.pdf", "=?utf-8?q?=C3=A9?=.pdf", " b ", '"=_b 1 "', "\udce9.pdf", "é",
    "\r\n a",
]) | st.text(alphabet='ab;="\\*<> \t', max_size=6)
_PARAMS = st.tuples(_PARAM_NAMES, st.none() | _PARAM_VALUES).map(
    lambda p: p[0] if p[1] is None else f"{p[0]}={p[1]}")
_VALUES = st.tuples(_HEADS, st.lists(_PARAMS, max_size=4),
                    st.sampled_from([";", "; ", " ;\t", ";\r\n "])).map(
    lambda t: t[2].join([t[0], *t[1]])) | st.text(alphabet='ab/;="\\*<> \t', max_size=20)


@settings(max_examples=500)
@example([("Content-Type", 'multipart/mixed; boundary="<b>"')], "text/plain")
@example([("Content-Type", 'text/plain; x"=1; name=a.pdf; y"=2')], "text/plain")
@example([("Content-Disposition", r'attachment; filename="a\";b.pdf\""')], "text/plain")
@example([("Content-Type", "a/b; name=x.pdf; NAME=y.pdf")], "text/plain")
@example([("Content-Type", "a/b; name; name=y.pdf")], "text/plain")
@given(st.lists(st.tuples(_FIELD_NAMES, _VALUES), max_size=4),
       st.sampled_from(["text/plain", "message/rfc822"]))
def test_mime_fields_read_as_the_stdlib_reads_them(fields: list[tuple[str, str]],
                                                   default_type: str) -> None:
    try:
        expected = stdlib_reading(fields, default_type)
    except Exception:  # crafted values the stdlib cannot read: the walker catches it
        return
    assert read_mime_fields(mime_fields(fields), default_type) == expected


@pytest.mark.parametrize("value", [
    'application/pdf; name="report 7.pdf"',
    "attachment; filename=report.pdf",
    'multipart/mixed; boundary="=_mixed_5_f0e05807"',
    "text/plain; charset=utf-8; format=flowed",
    'attachment; filename="=?UTF-8?Q?r=C3=A9sum=C3=A9.pdf?="',
    "inline",
])
def test_common_fields_are_read_without_the_stdlib(value: str) -> None:
    assert _plain_params(value) is not None


@pytest.mark.parametrize("value", [
    'attachment; filename="a\\"b.pdf"',  # an escaped quote
    "attachment; filename*=utf-8''%E2%82%AC.pdf",  # RFC 2231
    'attachment; filename="x;y.pdf',  # a quote that hides the rest
    "name=a.pdf; charset=x",  # a parameter where the type belongs
])
def test_fields_the_stdlib_must_read(value: str) -> None:
    assert _plain_params(value) is None
    fields = [("Content-Disposition", value), ("Content-Type", value)]
    assert read_mime_fields(mime_fields(fields)) == stdlib_reading(fields, "text/plain")
