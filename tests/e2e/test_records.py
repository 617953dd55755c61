"""Records that join the MTA's log: the queue id on the summary line and in the header
block, and addresses written one way, over SMTP and for a local submission alike."""

from __future__ import annotations

import json
import mailbox
import re
from pathlib import Path

from tests.actions.test_summary_original_reports import run_htmlspy

from .mta import MTAFactory
from .postfix import MilterFactory
from .test_daemon import ATTACHED, ENCODED, Setup, lines


def record_rules(setup: Setup, records: Path) -> None:
    setup.rules(f'rule "all" {{ log-summary log-headers log-summary "{records}" format json }}')


def test_every_record_carries_the_queue_id_the_mta_logs(
    mta_name: str, mta_factory: MTAFactory, milter_factory: MilterFactory, tmp_path: Path,
) -> None:
    setup = Setup(tmp_path, milter_factory, mta_factory, mta_name)
    records = tmp_path / "records.jsonl"
    record_rules(setup, records)
    mta = setup.start()
    sent = [mta.send("ann@example.org", ["bob@example.net", "cfo@example.net"], ATTACHED),
            mta.send("<>", ["postmaster@example.net"], ENCODED)]
    log = mta.wait_for(3)
    queue_ids = [s.queue_id for s in sent]
    assert all(queue_ids) and all(re.search(rf"\b{q}\b", log) for q in queue_ids)

    summary = lines(setup.summary)
    assert [f[-1] for f in summary] == [f"queue={q}" for q in queue_ids]
    assert [f[2:4] for f in summary] == [["from=<ann@example.org>", "to=<bob@example.net>"],
                                         ["from=<>", "to=<postmaster@example.net>"]]
    blocks = list(mailbox.mbox(setup.headers, create=False))
    assert [b["X-Queue-Id"] for b in blocks] == queue_ids
    assert [b.keys()[:2] for b in blocks] == [["X-Timestamp", "X-Queue-Id"]] * 2
    jsons = [json.loads(line) for line in records.read_text().splitlines()]
    assert [(j["queue_id"], j["mail_from"]) for j in jsons] == \
        [(queue_ids[0], "<ann@example.org>"), (queue_ids[1], "<>")]

    pages = run_htmlspy(setup.summary, tmp_path / "htmlspy")  # the original's reports
    assert {"mail/ann-example.org.html", "mail/bounce-returned.html"} <= set(pages)


def test_a_local_submission_is_recorded_as_smtp_mail_is(
    mta_name: str, mta_factory: MTAFactory, milter_factory: MilterFactory, tmp_path: Path,
) -> None:
    setup = Setup(tmp_path, milter_factory, mta_factory, mta_name)
    records = tmp_path / "records.jsonl"
    record_rules(setup, records)
    milter = setup.start_milter()
    options = {"main_cf": {"non_smtpd_milters": milter.postfix_spec}} \
        if mta_name == "postfix" else {}
    mta = mta_factory(milter, **options)
    mta.submit_locally("ann@example.org", ["bob@example.net"], ENCODED)
    log = mta.wait_for(1)

    [fields] = lines(setup.summary)
    assert fields[2:4] == ["from=<ann@example.org>", "to=<bob@example.net>"]
    queue_id = fields[-1].removeprefix("queue=")
    assert queue_id and re.search(rf"\b{queue_id}\b", log)
    [block] = list(mailbox.mbox(setup.headers, create=False))
    assert block["X-Queue-Id"] == queue_id
    [record] = [json.loads(line) for line in records.read_text().splitlines()]
    assert (record["queue_id"], record["mail_from"], record["sender"]) == \
        (queue_id, "<ann@example.org>", "ann@example.org")
