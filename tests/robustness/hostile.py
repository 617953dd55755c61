"""Hostile messages and envelopes, each built to break one assumption.

Each entry is a name and a function returning the `Mail`; the functions run
only when their test does. The message-stage tests (tests/message) check
what the parser *finds* in such mail; here the same kinds of mail go through
the milter adapter and the whole Recorder, and the question is only whether
the invariants hold: accepted, recorded once, nothing logged.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from tests.message.corpus import nested_messages, nested_multiparts
from tests.robustness.harness import Mail, RawHeaders, split_message

MIXED: RawHeaders = [
    (b"From", b"ann@example.org"),
    (b"Subject", b"hostile"),
    (b"MIME-Version", b"1.0"),
    (b"Content-Type", b'multipart/mixed; boundary="B"'),
]


def mixed(parts: list[bytes], close: bool = True, headers: RawHeaders = MIXED) -> Mail:
    body = b"".join(b"--B\r\n" + part + b"\r\n" for part in parts)
    return Mail(headers=headers, body=body + (b"--B--\r\n" if close else b""))


def part(disposition: bytes, content: bytes, encoding: bytes = b"base64",
         content_type: bytes = b"application/octet-stream") -> bytes:
    return (b"Content-Type: " + content_type + b"\r\nContent-Disposition: " + disposition
            + b"\r\nContent-Transfer-Encoding: " + encoding + b"\r\n\r\n" + content)


def from_file(raw: bytes, **envelope: object) -> Mail:
    headers, body = split_message(raw)
    return Mail(headers=headers, body=body, **envelope)  # type: ignore[arg-type]


def subject(value: bytes) -> Mail:
    return Mail(headers=[(b"From", b"a@example.org"), (b"Subject", value)], body=b"x\r\n")


LEAF = b"Content-Type: text/plain; name=deep.txt\r\n\r\nhi"

# -- huge headers ------------------------------------------------------------


def huge_subject() -> Mail:
    return subject(b"A" * (1024 * 1024))


def quadratic_encoded_words() -> Mail:
    return subject(b"=?a?q? " * 20_000)  # 140 kB: 17 s in email.header on 3.11


def ten_thousand_headers() -> Mail:
    return Mail(headers=[(b"X-H%d" % i, b"v%d" % i) for i in range(10_000)], body=b"x\r\n")


def value_folded_twenty_thousand_times() -> Mail:
    return subject(b"\n ".join([b"fold"] * 20_000))


def ten_kilobyte_header_name() -> Mail:
    return Mail(headers=[(b"X-" + b"N" * 10_240, b"v"), (b"Subject", b"s")], body=b"x\r\n")


def five_thousand_parameters() -> Mail:
    value = b"application/pdf" + b"; a=b" * 5000 + b'; name="p.pdf"'
    return mixed([b"Content-Type: " + value + b"\r\n\r\nx"])


def megabyte_parameter_value() -> Mail:
    return mixed([part(b'attachment; filename="' + b"f" * (1024 * 1024) + b'.bin"', b"eA==")])


# -- deep and broken structure -----------------------------------------------


def ten_thousand_nested_multiparts() -> Mail:
    return from_file(nested_multiparts(10_000, LEAF))


def ten_thousand_nested_messages() -> Mail:
    return from_file(nested_messages(10_000, LEAF))


def ten_thousand_and_one_parts() -> Mail:
    return mixed([part(b"attachment; filename=f%d.bin" % i, b"eA==") for i in range(10_001)])


def multipart_without_boundary_parameter() -> Mail:
    headers = [*MIXED[:3], (b"Content-Type", b"multipart/mixed")]
    return mixed([part(b"attachment; filename=a.bin", b"eA==")], headers=headers)


def boundary_that_never_appears() -> Mail:
    headers = [*MIXED[:3], (b"Content-Type", b'multipart/mixed; boundary="NOPE"')]
    return mixed([part(b"attachment; filename=a.bin", b"eA==")], headers=headers)


def closing_boundary_missing() -> Mail:
    return mixed([part(b"attachment; filename=a.bin", b"eA=="), b"\r\n--inner"], close=False)


def empty_boundary() -> Mail:
    headers = [*MIXED[:3], (b"Content-Type", b'multipart/mixed; boundary=""')]
    body = b"--\r\nContent-Type: text/plain; name=a\r\n\r\nx\r\n----\r\n"
    return Mail(headers=headers, body=body)


def boundary_of_regex_metacharacters() -> Mail:
    boundary = rb".*+?[](){}|\^$"
    headers = [*MIXED[:3], (b"Content-Type", b'multipart/mixed; boundary="' + boundary + b'"')]
    body = (b"--" + boundary + b"\r\n" + part(b"attachment; filename=r.bin", b"eA==")
            + b"\r\n--" + boundary + b"--\r\n")
    return Mail(headers=headers, body=body)


def hundred_kilobyte_boundary() -> Mail:
    boundary = b"b" * 100_000
    headers = [*MIXED[:3], (b"Content-Type", b'multipart/mixed; boundary="' + boundary + b'"')]
    body = b"--" + boundary + b"\r\n" + part(b"attachment; filename=l.bin", b"eA==") + b"\r\n"
    return Mail(headers=headers, body=body)


def part_cut_off_in_its_headers() -> Mail:
    return mixed([b"Content-Type: application/pdf; name=cut.pdf\r\nContent-Dispo"], close=False)


def message_rfc822_in_base64() -> Mail:
    inner = base64.encodebytes(b"Subject: inner\r\n\r\nhi\r\n").replace(b"\n", b"\r\n")
    return mixed([part(b"attachment; filename=fwd.eml", inner, content_type=b"message/rfc822")])


def digest_of_garbage() -> Mail:
    headers = [*MIXED[:3], (b"Content-Type", b'multipart/digest; boundary="B"')]
    return mixed([b"\x00\xff garbage\r\n\r\n", b"", b"--B"], headers=headers)


# -- bad encodings -------------------------------------------------------------


def invalid_base64() -> Mail:
    return mixed([
        part(b"attachment; filename=bang.bin", b"!!!!\r\n"),
        part(b"attachment; filename=pads.bin", b"====\r\nQQ=Q=\r\nQ\r\n"),
        part(b"attachment; filename=8bit.bin", b"\xff\xfe\x00\x80QUJD\r\n"),
        part(b"attachment; filename=long.bin", b"QUJD*" * 200_000),
    ])


def invalid_quoted_printable() -> Mail:
    return mixed([part(b"attachment; filename=q.txt", b"=\r\n=Z=\r\n=4=\xff" * 1000,
                       encoding=b"quoted-printable")])


def unknown_transfer_encoding() -> Mail:
    return mixed([part(b"attachment; filename=u.bin", b"x" * 100, encoding=b"x-\xff\x00")])


def invalid_encoded_words() -> Mail:
    words = [b"=?utf-8?b?!!!?=", b"=?unknown-8bit?q?x?=", b"=?rot13?q?uryyb?=",
             b"=?utf-7?b?K0FJLQ==?=", b"=?utf-8?q?=FF=FE=00=0D=0A=09?=", b"=?" * 1000,
             b"=?utf-8?b?", b"=?utf-8*en?q?a?=", b"=?\xff\xfe?q?x?="]
    return subject(b" ".join(words))


def encoded_word_that_decodes_to_a_log_line() -> Mail:
    forged = b"=?UTF-8?Q?hi=0D=0A26-01-01_00:00=09time=3D1=09from=3D<evil@x>?="
    return subject(forged)


def hostile_file_names() -> Mail:
    return mixed([
        part(b'attachment; filename="a\tb\r\n c.exe"', b"eA=="),
        part(b"attachment; filename*=UTF-8''%00%0A%0D%09%1B%E2%80%A8.exe", b"eA=="),
        part(b'attachment; filename="../../../etc/passwd"', b"eA=="),
        part(b'attachment; filename*0*=x; filename*5000=y; filename*=a', b"eA=="),
        part(b'attachment; filename="caf\xe9 \xff\xfe.pdf"', b"eA=="),
        part(b'attachment; filename="=?utf-8?q?nul=00tab=09.exe?="', b"eA=="),
        part(b'attachment; filename="' + b"x" * 5000, b"eA=="),
    ])


# -- NUL, 8-bit and line breaks in headers -----------------------------------


def nul_and_8bit_in_headers() -> Mail:
    return Mail(headers=[
        (b"Subject", b"nul\x00inside \xff\xfe invalid utf-8 caf\xe9"),
        (b"From", b"\x00\x00\x00"),
        (b"X-Latin1", "Grüße".encode("latin-1")),
        (b"X-Controls", b"\x1b[31mred\x1b[0m \x07\x08\x7f \xc2\x85 \xe2\x80\xa8"),
    ], body=b"x\r\n")


def line_breaks_inside_values() -> Mail:
    return Mail(headers=[
        (b"Subject", b"one\r\ntwo\rthree\nfour"),
        (b"X-Forge", b"x\r\nX-Forged: yes"),
        (b"X-Blank", b"x\n\nFrom evil@example.org Mon Jan  1 00:00:00 2001\nX-Evil: 1"),
        (b"X-Trailing", b"x\n"),
        (b"X-Only-Breaks", b"\r\n\r\n\n"),
        (b"X-Tab", b"a\tb\tc"),
    ], body=b"x\r\n")


def mbox_lookalikes() -> Mail:
    return Mail(headers=[(b"From", b"From evil Mon Jan  1 00:00:00 2001"), (b">From", b"x")],
                body=b"From evil Mon Jan  1 00:00:00 2001\r\nFrom: x\r\n\r\n>From y\r\n")


# -- bodies --------------------------------------------------------------------


def no_headers_no_body() -> Mail:
    return Mail(headers=[], body=b"")


def body_without_final_newline() -> Mail:
    return Mail(body=b"no newline at the end")


def body_of_nul_and_bare_cr() -> Mail:
    return Mail(body=b"\x00" * 1000 + b"\r" * 1000 + b"\n" * 1000 + b"\r\r\n")


def five_megabyte_line() -> Mail:
    headers = [(b"Content-Type", b"text/plain; name=line.txt")]
    return Mail(headers=headers, body=b"x" * (5 * 1024 * 1024))


# -- hostile envelopes ---------------------------------------------------------


def envelope_with_nul() -> Mail:
    return Mail(sender="<a\x00b@example.org>", recipients=["<\x00@x>", "\x00"])


def envelope_8bit() -> Mail:
    escaped = b"<caf\xe9@example.org>".decode("utf-8", "surrogateescape")
    return Mail(sender="<jörg@exämple.org>", recipients=[escaped, "<\udcff\udcfe@x>"])


def envelope_with_line_breaks() -> Mail:
    return Mail(sender="<a\r\n26-01-01 00:00\ttime=1\tfrom=<evil@x>>",
                recipients=["<b\n@x>", "<c\r@x>", "<d\t@x>", "<\u2028\x85@x>"])


def ten_kilobyte_addresses() -> Mail:
    return Mail(sender="<" + "s" * 10_240 + "@example.org>",
                recipients=["<" + "r" * 10_240 + f"{i}@example.net>" for i in range(3)])


def thousand_recipients() -> Mail:
    return Mail(recipients=[f"<r{i}@example.net>" for i in range(1000)])


def no_recipients_and_bounce() -> Mail:
    return Mail(sender="<>", recipients=[])


def addresses_without_brackets_and_shell() -> Mail:
    return Mail(sender="a b; rm -rf / `id` $(id)", recipients=["<", ">", "", " "])


HOSTILE: dict[str, Callable[[], Mail]] = {
    f.__name__: f
    for f in (
        huge_subject, quadratic_encoded_words, ten_thousand_headers,
        value_folded_twenty_thousand_times, ten_kilobyte_header_name, five_thousand_parameters,
        megabyte_parameter_value, ten_thousand_nested_multiparts, ten_thousand_nested_messages,
        ten_thousand_and_one_parts, multipart_without_boundary_parameter,
        boundary_that_never_appears, closing_boundary_missing, empty_boundary,
        boundary_of_regex_metacharacters, hundred_kilobyte_boundary, part_cut_off_in_its_headers,
        message_rfc822_in_base64, digest_of_garbage, invalid_base64, invalid_quoted_printable,
        unknown_transfer_encoding, invalid_encoded_words, encoded_word_that_decodes_to_a_log_line,
        hostile_file_names, nul_and_8bit_in_headers, line_breaks_inside_values, mbox_lookalikes,
        no_headers_no_body, body_without_final_newline, body_of_nul_and_bare_cr,
        five_megabyte_line, envelope_with_nul, envelope_8bit, envelope_with_line_breaks,
        ten_kilobyte_addresses, thousand_recipients, no_recipients_and_bounce,
        addresses_without_brackets_and_shell,
    )
}
