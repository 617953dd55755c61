"""atheris harness: fuzzed bytes through everything a message meets in mailspy.

One input is an envelope line, then a message file:

    <sender> <recipient> <recipient>...\\n
    Header: value\\r\\n
    ...

Each input is parsed (mailspy.message.parse), its subject decoded and its
MIME tree walked, the rules evaluated (a fixed rule set, compiled once, that
reads every field with is, contains, glob, regex and in tests), and the
summary line, the header block and a Maildir/pipe copy rendered. `check()`
asserts the invariants of SPEC ("Hostile mail is harmless"): nothing raises;
the summary is one line of exactly the expected fields; the header block is
one mbox record whose header names are those parsed; no lone surrogate
reaches any output.

Run it with `make fuzz` (FUZZ_TIME seconds, default an hour), or by hand;
libFuzzer flags pass through, and the first directory receives new inputs:

    .venv/bin/python fuzz/fuzz_message.py -max_total_time=3600 -timeout=10 \\
        -artifact_prefix=var/fuzz/ var/fuzz/corpus fuzz/seeds

A crash or timeout is saved as var/fuzz/crash-* or timeout-*; replay one with
`.venv/bin/python fuzz/fuzz_message.py var/fuzz/crash-...`.

Without atheris, `check()` is plain Python: tests/robustness/test_fuzz.py
runs it over the seeds, and runs a short fuzzing session when atheris is
installed.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tempfile
from pathlib import Path


def _instrumented() -> contextlib.AbstractContextManager[object]:
    """Coverage instrumentation of mailspy and email, when fuzzing for real."""
    if __name__ != "__main__":
        return contextlib.nullcontext()
    try:
        import atheris
    except ImportError:
        return contextlib.nullcontext()
    return atheris.instrument_imports(include=["mailspy", "email"])


with _instrumented():  # the stdlib's email package too: mailspy hands it parameters
    import email.parser
    import email.policy

    from mailspy.actions.copy import write_copy
    from mailspy.actions.headers import format_header_block
    from mailspy.actions.maildir import envelope_prefix
    from mailspy.actions.summary import format_summary
    from mailspy.evaluate import evaluate
    from mailspy.message.model import Envelope
    from mailspy.message.parse import message_from_bytes
    from mailspy.rules.compile import RuleSet
    from mailspy.rules.load import load_rules

RULES_TEXT = r"""
rule "finance" {
    when (sender matches "*@bank.example" or recipient matches /^(cfo|ceo)@corp\.example$/i)
         and not subject contains "newsletter"
    archive-to-maildir "/srv/archive/finance"
    log-summary
}
rule "executables" {
    when attachment matches "*.exe" or attachment matches "*.[sS][cC][rR]"
      or attachment matches /\.(js|vbs|bat)$/i
    log-headers "/var/log/mailspy-executables"
    pipe-to-command "/bin/cat -"
    stop
}
rule "names" {
    when attachment in ["invoice.pdf", "résumé.pdf"] or subject is "hello"
      or subject matches /^(re|fwd?): .*invoice/i or recipient contains "@"
    log-summary "/var/log/mailspy-names"
}
rule "everything" { log-summary log-headers }
"""

_DATE = re.compile(r"\d\d-\d\d-\d\d \d\d:\d\d")
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAME_ESCAPED = re.compile(r"[\x00-\x20\x7f:]")
_PARSER = email.parser.BytesParser(policy=email.policy.compat32)
RECEIVED_AT = 1_800_000_000.5


def _compile_rules() -> RuleSet:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz.rules"
        path.write_text(RULES_TEXT)
        result = load_rules(files=[path])
    assert result.ok, [str(d) for d in result.errors]
    return result.rules


RULES = _compile_rules()
RULE_NAMES = {rule.name for rule in RULES.rules}


def text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def check(data: bytes) -> None:
    """One input through parse, walk, rules and rendering; AssertionError on a broken invariant."""
    envelope_line, _, raw = data.partition(b"\n")
    words = envelope_line.split(b" ")
    envelope = Envelope(text(words[0]), [text(w) for w in words[1:]], queue_id="FUZZ")
    message = message_from_bytes(raw, envelope)
    message.received_at = RECEIVED_AT
    try:
        verdict = evaluate(RULES, message)
        assert {rule.name for rule in verdict.rules} <= RULE_NAMES
        message.subject.encode("utf-8")  # strict: decoding never leaks a lone surrogate
        for attachment in message.attachments:
            attachment.name.encode("utf-8")
            assert attachment.size >= 0 and re.fullmatch(r"[0-9a-f]{64}", attachment.sha256)
        _check_summary(format_summary(message), message)
        _check_header_block(format_header_block(message), message)
        _check_copy(message)
    finally:
        assert message.body is not None
        message.body.close()


def _check_summary(line: str, message) -> None:
    assert line.endswith("\n") and line.count("\n") == 1 and len(line.splitlines()) == 1
    line.encode("utf-8")
    fields = line[:-1].split("\t")
    rcpts, files = len(message.envelope.rcpt_to), len(message.attachments)
    assert len(fields) == 6 + rcpts + files, fields
    assert _DATE.fullmatch(fields[0]) and fields[1] == f"time={int(RECEIVED_AT)}"
    prefixes = ["from=<", *["to=<"] * rcpts, f"size={message.body_size}", "subject=",
                *["file="] * files, "queue=FUZZ"]
    for field, prefix in zip(fields[2:], prefixes, strict=True):
        assert field.startswith(prefix) and _UNSAFE.search(field) is None, field


def _names(message) -> list[str]:
    return [_NAME_ESCAPED.sub(lambda m: f"\\x{ord(m.group()):02x}", n) for n, _ in message.headers]


def _check_header_block(block: bytes, message) -> None:
    lines = block.split(b"\n")
    assert lines[0].startswith(b"From ")
    assert not [line for line in lines[1:] if line.startswith(b"From ")]
    assert block.endswith(b"\n\n") and block.find(b"\n\n") == len(block) - 2
    parsed = _PARSER.parsebytes(block.split(b"\n", 1)[1], headersonly=True)
    assert parsed.keys() == ["X-Timestamp", "X-Queue-Id", *_names(message)]
    assert parsed.get_payload() == ""


def _check_copy(message) -> None:
    out = io.BytesIO()
    prefix = envelope_prefix(message)
    written = write_copy(message, out, prefix=prefix)
    copy = out.getvalue()
    assert written == len(copy)
    head, separator, _ = copy.partition(b"\n\n")
    assert separator
    parsed = _PARSER.parsebytes(head + b"\n\n", headersonly=True)
    assert parsed.keys() == [name for name, _ in prefix] + _names(message)


def main(argv: list[str]) -> None:
    import atheris

    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
