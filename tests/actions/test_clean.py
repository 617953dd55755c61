"""clean(): every log value becomes one line of printable, unambiguous text."""

import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailspy.actions.clean import clean, clean_each, header_bytes, header_name_bytes

C0_ESCAPED = [c for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)]
C1 = list(range(0x80, 0xA0))


@pytest.mark.parametrize("char", ["\t", "\r", "\n"])
def test_tab_cr_lf_become_a_space(char):
    assert clean(f"a{char}b") == "a b"


def test_crlf_becomes_two_spaces_not_cut():
    assert clean("Hi\r\nX\tto=<evil@x>") == "Hi  X to=<evil@x>"


@pytest.mark.parametrize("code", C0_ESCAPED)
def test_other_c0_controls_become_hex_escapes(code):
    assert clean(f"a{chr(code)}b") == f"a\\x{code:02x}b"


def test_nul_escape_and_esc_sequence():
    assert clean("\x00\x1b[31mred") == "\\x00\\x1b[31mred"


def test_del_is_escaped():
    assert clean("a\x7fb") == "a\\x7fb"


@pytest.mark.parametrize("code", C1)
def test_c1_controls_become_hex_escapes(code):
    assert clean(chr(code)) == f"\\x{code:02x}"


def test_undecodable_bytes_show_as_the_original_byte():
    value = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")
    assert clean(value) == "caf\\xe9 \\xff"


def test_other_lone_surrogates_show_as_code_points():
    assert clean("a\ud800b\udc00") == "a\\ud800b\\udc00"


def test_unicode_line_and_paragraph_separators_are_escaped():
    assert clean("one\u2028two\u2029three") == "one\\u2028two\\u2029three"


def test_backslash_is_doubled_so_escapes_are_unambiguous():
    assert clean("\\x41 C:\\tmp") == "\\\\x41 C:\\\\tmp"
    assert clean("\\x41") != clean("A")
    assert clean("\\x00") != clean("\x00")


def test_printable_unicode_is_untouched_and_nothing_is_cut():
    value = "Grüße – ☃ 日本語 " * 2000
    assert clean(value) == value
    assert len(clean(value)) == len(value)


def _unclean(text: str) -> str:
    """Undo clean() (test oracle): \\\\, \\xNN (a byte), \\uXXXX, \\UXXXXXXXX."""

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            byte = int(m.group(1), 16)
            return chr(byte) if byte < 0x80 else chr(0xDC00 + byte)
        if m.group(2) or m.group(3):
            return chr(int(m.group(2) or m.group(3), 16))
        return "\\"

    return re.sub(r"\\(?:x([0-9a-f]{2})|u([0-9a-f]{4})|U([0-9a-f]{8})|\\)", one, text)


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=())))
def test_clean_output_is_one_line_of_printable_text(value):
    out = clean(value)
    assert not set(out) & {"\t", "\r", "\n", "\u2028", "\u2029", "\x85"}
    assert all(unicodedata.category(c) not in ("Cc", "Cs") for c in out)
    assert out.splitlines() in ([out], [])


_NO_WS_OR_C1 = st.text(
    alphabet=st.characters(
        exclude_characters="\t\r\n" + "".join(map(chr, C1)), exclude_categories=()
    )
)


@given(_NO_WS_OR_C1)
def test_clean_can_be_undone_when_no_whitespace_was_folded(value):
    # Undecodable bytes come back as their surrogateescape form.
    assert _unclean(clean(value)) == value


@given(_NO_WS_OR_C1, _NO_WS_OR_C1)
def test_distinct_values_stay_distinct(a, b):
    if a != b:
        assert clean(a) != clean(b)


def test_header_bytes_restores_8bit_and_keeps_folds():
    value = b"Gr\xfc\xdfe\n\tzweite Zeile".decode("utf-8", "surrogateescape")
    assert header_bytes(value) == b"Gr\xfc\xdfe\n\tzweite Zeile"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\nFrom evil", b"a\n From evil"),
        ("a\r\nBcc: x", b"a\n Bcc: x"),
        ("a\rBcc: x", b"aBcc: x"),
        ("a\r\n\tfolded", b"a\n\tfolded"),
        ("a\n\nBody: now", b"a\n Body: now"),
        ("a\n \t\nX: y", b"a\n X: y"),
        ("trailing\n", b"trailing"),
        ("\nlead", b"\n lead"),
    ],
)
def test_header_bytes_cannot_start_a_header_or_blank_line(value, expected):
    assert header_bytes(value) == expected


@given(st.text())
def test_header_bytes_every_continuation_starts_with_whitespace(value):
    lines = header_bytes(value).split(b"\n")
    assert b"\r" not in header_bytes(value)
    assert all(line[:1] in (b" ", b"\t") and line.strip() for line in lines[1:])


def test_header_name_bytes_escapes_space_colon_and_controls():
    assert header_name_bytes("Subject") == b"Subject"
    assert header_name_bytes("From ") == b"From\\x20"
    assert header_name_bytes("X:\nY") == b"X\\x3a\\x0aY"


def test_bidi_overrides_and_other_invisible_characters_are_shown_escaped():
    """A terminal showing `invoice\\u202efdp.exe` raw displays `invoiceexe.pdf`."""
    assert clean("invoice\u202efdp.exe") == "invoice\\u202efdp.exe"
    assert clean("pay\u200bpal\ufeff") == "pay\\u200bpal\\ufeff"
    assert clean("tag\U000e0041ged") == "tag\\U000e0041ged"
    assert _unclean(clean("a\U0001d173b")) == "a\U0001d173b"  # escapes above U+FFFF undo too
    assert clean("r\u00e9sum\u00e9 \u2013 \u00fcber") == "r\u00e9sum\u00e9 \u2013 \u00fcber"


def test_every_unicode_format_character_is_escaped():
    import unicodedata

    from mailspy.actions.clean import FORMAT_CHARACTERS

    escaped = {c for first, last in FORMAT_CHARACTERS for c in range(first, last + 1)}
    missing = [hex(c) for c in range(0x110000)
               if unicodedata.category(chr(c)) == "Cf" and c not in escaped]
    assert missing == []
    assert all("\\u" in clean(chr(c)) or "\\U" in clean(chr(c)) for c in escaped)


@given(st.lists(st.text(), max_size=6))
def test_clean_each_is_clean_of_every_value(values: list[str]) -> None:
    assert clean_each(list(values)) == [clean(value) for value in values]
