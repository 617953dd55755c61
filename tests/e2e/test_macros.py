"""What Postfix and sendmail tell a milter, measured, and what mailspy makes of it.

docs/rules.md's macro table is this module's EXPECTED: the step at which each MTA, with
its default macro lists, first sends each macro mailspy reads (None: never), and what
the connect and HELO steps carry. The second test trims every macro list of both MTAs to
`j` and shows that mailspy still records the queue id, which it asks for itself. The
SMTP AUTH tests log in to each MTA (Cyrus SASL, a sasldb of the instance's own) and
measure `{auth_authen}`, then mailspy's `auth-user`, with the lists trimmed again.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .mta import MTAFactory
from .postfix import MilterFactory, MilterProcess, PostfixFactory, free_port
from .test_daemon import ENCODED, Setup, assert_client_and_queue_id

MACRO_MILTER = Path(__file__).with_name("macro_milter.py")
STEPS = ("connect", "helo", "envfrom", "envrcpt", "data", "eom")

# The first step at which each MTA sends each macro, with its default lists.
EXPECTED_FIRST_STEP = {
    "postfix": {"i": "data", "{auth_authen}": None, "{client_addr}": None,
                "{client_name}": None, "j": "connect", "{daemon_name}": "connect"},
    "sendmail": {"i": "envfrom", "{auth_authen}": None, "{client_addr}": None,
                 "{client_name}": None, "j": "connect", "{daemon_name}": "connect"},
}
# What the connect step itself carries: the client's host name and address.
EXPECTED_CONNECT = {
    "postfix": {"hostname": "[127.0.0.1]", "address": "127.0.0.1"},  # no reverse lookup
    "sendmail": {"hostname": "localhost", "address": "127.0.0.1"},  # from its hosts file
}


def macro_probe(milter_factory: MilterFactory,
                tmp_path: Path) -> tuple[MilterProcess, Callable[[], list[dict[str, Any]]]]:
    """The macro-noting milter on a free port, and what it has noted so far: one
    record per SMTP step, with the macros the MTA sent at it."""
    out = tmp_path / "notes.jsonl"
    port = free_port()
    probe = milter_factory([sys.executable, str(MACRO_MILTER), f"inet:{port}@127.0.0.1",
                            str(out)], port=port)
    return probe, lambda: [json.loads(line) for line in out.read_text().splitlines()]


def first_steps(notes: list[dict], names: list[str]) -> dict[str, str | None]:
    found: dict[str, str | None] = dict.fromkeys(names)
    for note in notes:
        for name in names:
            if found[name] is None and name in note["macros"]:
                found[name] = note["step"]
    return found


def test_what_each_mta_sends_by_default(
    mta_name: str, mta_factory: MTAFactory, milter_factory: MilterFactory, tmp_path: Path,
) -> None:
    probe, notes_of = macro_probe(milter_factory, tmp_path)
    mta = mta_factory(probe)
    sent = mta.send("ann@example.org", ["bob@example.net"], ENCODED, helo="client.test")
    mta.wait_for(1)
    notes = notes_of()

    assert [n["step"] for n in notes] == list(STEPS)
    expected = EXPECTED_FIRST_STEP[mta_name]
    assert first_steps(notes, list(expected)) == expected
    assert notes[-1]["macros"]["i"] == sent.queue_id
    assert notes[0]["args"] == EXPECTED_CONNECT[mta_name]
    assert notes[1]["args"] == {"helo": "client.test"}


# Every macro list of the MTA trimmed to `j`, as a site may have them for another milter.
TRIMMED = {
    "postfix": {"main_cf": {f"milter_{step}_macros": "j" for step in (
        "connect", "helo", "mail", "rcpt", "data", "end_of_header", "end_of_data")}},
    "sendmail": {"mc": "".join(f"define(`confMILTER_MACROS_{step}', `j')dnl\n" for step in (
        "CONNECT", "HELO", "ENVFROM", "ENVRCPT", "DATA", "EOH", "EOM"))},
}


def test_mailspy_asks_for_the_queue_id_whatever_the_mta_sends_unasked(
    mta_name: str, mta_factory: MTAFactory, milter_factory: MilterFactory, tmp_path: Path,
) -> None:
    setup = Setup(tmp_path, milter_factory, mta_factory, mta_name)
    records = tmp_path / "records.jsonl"
    setup.rules(f'rule "all" {{ log-summary "{records}" format json }}')
    mta = setup.start(**TRIMMED[mta_name])
    sent = mta.send("ann@example.org", ["bob@example.net"], ENCODED)
    mta.wait_for(1)
    [record] = [json.loads(line) for line in records.read_text().splitlines()]
    assert_client_and_queue_id(record, sent, mta_name)



# A local submission as each MTA shows it: Postfix's sendmail command reaches the milters
# of non_smtpd_milters as a connection from localhost, 127.0.0.1, HELO localhost;
# `sendmail -bs` reaches sendmail's milters with no address and the HELO it was given.
EXPECTED_LOCAL = {
    "postfix": {"client_address": "127.0.0.1", "client_name": "localhost", "helo": "localhost"},
    "sendmail": {"client_address": "", "client_name": "localhost", "helo": "client.test"},
}


def test_a_local_submission(
    mta_name: str, mta_factory: MTAFactory, milter_factory: MilterFactory, tmp_path: Path,
) -> None:
    setup = Setup(tmp_path, milter_factory, mta_factory, mta_name)
    records = tmp_path / "records.jsonl"
    setup.rules(f'rule "all" {{ log-summary "{records}" format json }}')
    milter = setup.start_milter()
    options = {"main_cf": {"non_smtpd_milters": milter.postfix_spec}} \
        if mta_name == "postfix" else {}
    mta = mta_factory(milter, **options)
    mta.submit_locally("ann@example.org", ["bob@example.net"], ENCODED)
    mta.wait_for(1)
    [record] = [json.loads(line) for line in records.read_text().splitlines()]
    assert {key: record[key] for key in EXPECTED_LOCAL[mta_name]} == EXPECTED_LOCAL[mta_name]
    assert record["queue_id"] and record["sender"] == "ann@example.org"


# SMTP AUTH: the MTAs started with these users (login -> password). A login without a
# realm is made in the server's own realm; "bob@example.org" names the realm himself.
SASL_USERS = {"alice": "alice's secret", "bob@example.org": "bob's secret"}
LOGINS = [("alice", SASL_USERS["alice"]), ("bob@example.org", SASL_USERS["bob@example.org"]),
          None]
# {auth_authen} with the default lists: from MAIL FROM on, the login as the client gave
# it, realm and all; never sent for a client that did not authenticate.
EXPECTED_AUTH_FIRST_STEP = {"postfix": "envfrom", "sendmail": "envfrom"}


def test_what_each_mta_sends_for_an_authenticated_client(
    mta_name: str, mta_factory: MTAFactory, milter_factory: MilterFactory, tmp_path: Path,
) -> None:
    probe, notes_of = macro_probe(milter_factory, tmp_path)
    mta = mta_factory(probe, sasl_users=SASL_USERS)
    for login in LOGINS:
        mta.send("ann@example.org", ["bob@example.net"], ENCODED, login=login)
    mta.wait_for(len(LOGINS))
    notes = notes_of()
    sessions = [notes[at:at + len(STEPS)] for at in range(0, len(notes), len(STEPS))]

    assert [[n["step"] for n in session] for session in sessions] == [list(STEPS)] * 3
    for session, login in zip(sessions, LOGINS, strict=True):
        found = first_steps(session, ["{auth_authen}"])["{auth_authen}"]
        assert found == (EXPECTED_AUTH_FIRST_STEP[mta_name] if login else None)
        assert session[-1]["macros"].get("{auth_authen}") == (login[0] if login else None)


def test_auth_user_is_the_login_whatever_the_mta_sends_unasked(
    mta_name: str, mta_factory: MTAFactory, milter_factory: MilterFactory, tmp_path: Path,
) -> None:
    setup = Setup(tmp_path, milter_factory, mta_factory, mta_name)
    records = tmp_path / "records.jsonl"
    authed = tmp_path / "authed.jsonl"
    setup.rules(f'rule "all" {{ log-summary "{records}" format json }}\n'
                f'rule "alice" {{ when auth-user is "alice"\n'
                f'                log-summary "{authed}" format json }}\n')
    mta = setup.start(sasl_users=SASL_USERS, **TRIMMED[mta_name])
    sent = [mta.send("ann@example.org", ["bob@example.net"], ENCODED, login=login)
            for login in LOGINS]
    mta.wait_for(len(LOGINS))
    by_queue_id = {r["queue_id"]: r for r in map(json.loads, records.read_text().splitlines())}
    assert len(by_queue_id) == len(LOGINS)
    for result, login in zip(sent, LOGINS, strict=True):
        assert result.queue_id is not None
        assert_client_and_queue_id(by_queue_id[result.queue_id], result, mta_name,
                                   auth_user=login[0] if login else "")
    [hit] = [json.loads(line) for line in authed.read_text().splitlines()]
    assert hit["queue_id"] == sent[0].queue_id and hit["rules"] == ["all", "alice"]


@pytest.mark.postfix
def test_postfix_adds_smtpd_sasl_local_domain_to_a_login_without_a_realm(
    postfix_factory: PostfixFactory, milter_factory: MilterFactory, tmp_path: Path,
) -> None:
    probe, notes_of = macro_probe(milter_factory, tmp_path)
    postfix = postfix_factory(probe.postfix_spec, sasl_users={"carol@example.org": "pw"},
                              main_cf={"smtpd_sasl_local_domain": "example.org"})
    postfix.send("ann@example.org", ["bob@example.net"], ENCODED, login=("carol", "pw"))
    postfix.wait_for(1)
    notes = notes_of()
    assert notes[-1]["macros"]["{auth_authen}"] == "carol@example.org"
