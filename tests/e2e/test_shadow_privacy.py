"""Shadow rules and private records behind a real Postfix: the shadow log's "would have"
lines and the counts `mailspy status` shows, and records that hold tokens where the
addresses, subjects and file names were."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import mailbox
import os
from pathlib import Path

import pytest

from tests.command import mailspy_process
from tests.waiting import eventually

from .test_daemon import (
    ATTACHED,
    ENCODED,
    Setup,
    assert_nothing_held_up,
    body_size,
    lines,
    postfix_setup,
)

pytestmark = pytest.mark.postfix


@pytest.fixture
def setup(tmp_path, milter_factory, postfix_factory) -> Setup:
    return postfix_setup(tmp_path, milter_factory, postfix_factory)


def status(setup: Setup) -> dict:
    done = mailspy_process("status", "--runtime-dir", str(setup.spool) + "-run", "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_shadow_rule_records_what_it_would_have_done(setup: Setup, tmp_path: Path) -> None:
    quarantine, shadow_log = tmp_path / "quarantine", tmp_path / "shadow.jsonl"
    setup.rules(f"""
        shadow rule "quarantine" {{
            when attachment matches "*.pdf"
            archive-to-maildir "{quarantine}"
            log-headers "{tmp_path}/quarantine.log"
            stop
        }}
        rule "everything" {{ log-summary }}""")
    postfix = setup.start("--shadow-log", str(shadow_log))
    sent = [postfix.send("ann@example.org", ["bob@example.net", "cfo@example.net"], ATTACHED),
            postfix.send("ann@example.org", ["bob@example.net"], ENCODED),
            postfix.send("dan@example.org", ["bob@example.net"], ATTACHED)]
    postfix.wait_for(4)
    assert_nothing_held_up(postfix)

    summary = lines(setup.summary)  # the shadow rule's stop stopped nothing
    assert [f[-1] for f in summary] == [f"queue={s.queue_id}" for s in sent]
    assert not quarantine.exists() and not (tmp_path / "quarantine.log").exists()

    records = [json.loads(line) for line in shadow_log.read_text().splitlines()]
    assert [(r["queue_id"], r["sender"]) for r in records] == [
        (sent[0].queue_id, "ann@example.org"), (sent[2].queue_id, "dan@example.org")]
    assert records[0]["recipients"] == ["bob@example.net", "cfo@example.net"]
    assert records[0]["rules"] == ["everything"]
    assert records[0]["attachments"][0]["name"] == "résumé q3.pdf"
    assert records[0]["client_address"] == "127.0.0.1"  # the shadow record asks for the client
    assert records[0]["shadow"] == [{
        "rule": "quarantine", "at": f"{setup.rules_dir}/50-test.rules:2:9",
        "would_run": [{"action": "archive-to-maildir", "target": str(quarantine)},
                      {"action": "log-headers", "target": f"{tmp_path}/quarantine.log"}],
        "would_stop": True}]

    found = status(setup)
    assert found["rules"]["hits"] == {"everything": 3}
    assert found["rules"]["shadow_hits"] == {"quarantine": 2}
    assert found["rules"]["shadow_log"] == str(shadow_log)
    human = mailspy_process("status", "--runtime-dir", str(setup.spool) + "-run").stdout
    assert "shadow hits since the rules were loaded (no action run; what they would have " \
        f"done is in {shadow_log}):\n  quarantine  2" in human

    # made a rule: the same mail is now quarantined, and the shadow log stays as it was
    text = (setup.rules_dir / "50-test.rules").read_text()
    setup.rules(text.replace("shadow rule", "rule"))
    reloaded = mailspy_process("reload", "--runtime-dir", str(setup.spool) + "-run")
    assert reloaded.returncode == 0, reloaded.stderr
    postfix.send("eve@example.org", ["bob@example.net"], ATTACHED)
    postfix.wait_for(5)
    # cur/ is the last of tmp/, new/ and cur/ that the action makes
    eventually(lambda: (quarantine / "cur").is_dir()
               and len(mailbox.Maildir(quarantine, create=False)) == 1)
    assert len(lines(setup.summary)) == 3  # stopped now
    assert len(shadow_log.read_text().splitlines()) == 2
    assert status(setup)["rules"]["shadow_hits"] == {}
    assert len(mailbox.Maildir(quarantine, create=False)) == 1  # none owed before


def token(key: bytes, kind: str, value: str) -> str:
    digest = hmac.new(key, kind.encode() + b"\0" + value.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def test_private_records_hold_tokens_not_addresses(setup: Setup, tmp_path: Path) -> None:
    key_file = tmp_path / "privacy.key"
    key = os.urandom(32)
    key_file.write_bytes(key)
    key_file.chmod(0o600)
    records, headers = tmp_path / "records.jsonl", tmp_path / "private-headers"
    setup.rules(f"""
        rule "everything" {{
            log-summary with addresses hash, subject drop, attachment-names drop,
                             key "{key_file}"
            log-summary "{records}" format json
                with addresses hash-local, subject hash, client drop,
                     attachment-names hash, key "{key_file}"
            log-headers "{headers}" with keep-headers ["From", "To", "Subject", "Date"],
                addresses domain, subject drop
        }}""")
    postfix = setup.start()
    sent = postfix.send("ann@example.org", ["bob@example.net", "cfo@example.net"], ATTACHED)
    postfix.wait_for(2)
    assert_nothing_held_up(postfix)

    ann, bob = token(key, "address", "ann@example.org"), token(key, "address", "bob@example.net")
    [summary] = lines(setup.summary)
    assert summary[2:7] == [f"from=<{ann}>", f"to=<{bob}>",
                            f"to=<{token(key, 'address', 'cfo@example.net')}>",
                            f"size={body_size(ATTACHED)}", "subject="]
    assert summary[7:] == ["file=", f"queue={sent.queue_id}"]
    [record] = [json.loads(line) for line in records.read_text().splitlines()]
    assert (record["sender"], record["mail_from"]) == (f"{ann}@example.org",
                                                       f"<{ann}@example.org>")
    assert record["subject"] == token(key, "subject", "Q3 figures")
    assert record["client_address"] == record["helo"] == ""
    assert record["attachments"][0]["type"] == "application/pdf"
    assert record["attachments"][0]["name"] == token(key, "name", "résumé q3.pdf") + ".pdf"
    [block] = list(mailbox.mbox(headers, create=False))
    assert block.get_from().startswith("@example.org ")
    # Postfix adds the Date: the message lacked before mailspy sees the headers
    assert block.keys() == ["X-Timestamp", "X-Queue-Id", "From", "To", "Date"]
    assert (block["From"], block["To"]) == ("@example.org", "@example.net, @example.net")

    written = (setup.summary.read_bytes() + records.read_bytes() + headers.read_bytes())
    for raw in ("ann", "bob@", "cfo@", "Q3 figures", "résumé", "Ann", "client.test"):
        assert raw.encode() not in written, raw
