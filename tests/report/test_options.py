"""The options that choose what a report shows: period, people, the site's own mail,
pseudonyms, time zone, sizes of tables and pages."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from mailspy.report.clock import Clock, zone
from mailspy.report.periods import parse_when
from tests.report.helpers import MONDAY, Page, line, read_page, report

DAY = 86400


def site_text(site: Path) -> str:
    return "\n".join(p.read_text() for p in site.rglob("*") if p.is_file())


def addresses(site: Path) -> set[str]:
    table = read_page(site / "addresses" / "messages.html")
    return {r[0] for r in table.rows if len(r) == 10 and r[0] != "Address"}


@pytest.fixture
def week(tmp_path: Path) -> Path:
    log = tmp_path / "mailspy"
    log.write_text("".join([
        line(MONDAY, "ann@corp.example", ["bob@corp.example"], subject="internal memo"),
        line(MONDAY + DAY, "ann@corp.example", ["bob@corp.example", "eve@out.example"],
             subject="mixed"),
        line(MONDAY + 2 * DAY, "eve@out.example", ["ann@corp.example"], subject="hello ann",
             files=("Jane Doe CV.pdf",)),
        line(MONDAY + 3 * DAY, "spam@junk.example", ["zed@sales.corp.example"],
             subject="offer"),
        line(MONDAY + 4 * DAY, "bob@corp.example", ["ann@corp.example"], subject="lunch"),
    ]))
    return log


def test_since_and_until(week: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert report("-o", out, "--since", "2026-11-24", "--until", "2026-11-26 00:00", week) == 0
    index = read_page(out / "index.html")
    assert "2 messages" in index.text
    assert "Messages from 2026-11-24 00:00 to 2026-11-25 00:00" in index.text
    assert "3 outside the period" in index.text


def test_ages_and_forms_of_times() -> None:
    clock = Clock(zone("Europe/Paris"))
    now = 1_800_000_000
    assert parse_when("7d", clock, now) == now - 7 * DAY
    assert parse_when("12h", clock, now) == now - 12 * 3600
    assert parse_when("2w", clock, now) == now - 14 * DAY
    assert parse_when("30m", clock, now) == now - 1800
    paris_midnight = parse_when("2026-11-23", clock, now)
    assert paris_midnight == MONDAY - 3600  # UTC+1 in November
    assert parse_when("2026-11-23T01:00", clock, now) == MONDAY
    with pytest.raises(ValueError, match="7d"):
        parse_when("last tuesday", clock, now)


def test_only_a_list_of_people(week: Path, tmp_path: Path) -> None:
    people = tmp_path / "sales.txt"
    people.write_text("# the sales department\n\n  eve@OUT.example   Eve Smith, buyer\n"
                      "@sales.corp.example\n")
    out = tmp_path / "r"
    assert report("-o", out, "--only", people, week) == 0
    assert "3 messages shown" in read_page(out / "index.html").text
    # eve's own mail whole; eve among others: only eve; the listed domain's mail
    assert addresses(out) == {"ann@corp.example", "eve@out.example", "spam@junk.example",
                              "zed@sales.corp.example"}
    mixed = [r for r in read_page(out / "log" / "1.html").rows if "mixed" in r]
    assert mixed[0][2] == "eve@out.example"  # bob, not listed, is left out of the row
    assert "2 involving nobody listed" in read_page(out / "index.html").text


def test_local_domains_apart_and_exclude_local(week: Path, tmp_path: Path) -> None:
    domains = tmp_path / "ours"
    domains.write_text("# our domains\ncorp.example\n")
    out = tmp_path / "r"
    assert report("-o", out, "--local-domains", domains, "--exclude-local", week) == 0
    index = read_page(out / "index.html")
    assert "3 messages" in index.text
    assert "2 that never left the site" in index.text
    assert "the local recipients of 1 messages from the site" in index.text
    assert "internal memo" not in site_text(out) and "lunch" not in site_text(out)
    mixed = [r for r in read_page(out / "log" / "1.html").rows if "mixed" in r]
    assert mixed[0][2] == "eve@out.example"
    table = read_page(out / "addresses" / "messages.html")
    assert [t for t, a in table.tags if t == "h2"] == ["h2", "h2"]
    assert "Local addresses" in table.text and "Other addresses" in table.text
    assert "zed@sales.corp.example" in table.text.split("Other addresses")[0]  # a subdomain


def test_exclude_local_needs_the_local_domains(week: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert report("-o", tmp_path / "r", "--exclude-local", week) == 2
    assert "--local-domain" in capsys.readouterr().err


def test_pseudonyms_hide_people_and_keep_traffic(week: Path, tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o600)
    first, second = tmp_path / "r1", tmp_path / "r2"
    assert report("-o", first, "--pseudonymize", key, week) == 0
    assert report("-o", second, "--pseudonymize", key, week) == 0
    text = site_text(first)
    for secret in ("ann", "bob", "eve", "zed", "internal memo", "hello ann", "Jane Doe",
                   "lunch", "offer"):
        assert secret not in text, secret
    assert "corp.example" in text and "out.example" in text  # domains stay
    assert re.search(r">file-[a-z2-7]{8}\.pdf<", text)  # the extension stays
    names = addresses(first)
    assert len(names) == 5 and all(re.fullmatch(r"[a-z2-7]{8}@[a-z.]+", n) for n in names)
    assert addresses(second) == names  # the same key, the same pseudonyms
    other_key = tmp_path / "other"
    other_key.write_bytes(b"o" * 32)
    other_key.chmod(0o600)
    third = tmp_path / "r3"
    assert report("-o", third, "--pseudonymize", other_key, week) == 0
    assert not addresses(third) & names
    assert "pseudonyms" in read_page(first / "index.html").text


@pytest.mark.parametrize("hiding", ["--pseudonymize", "--only"])
def test_a_report_that_hides_people_lists_no_broken_line(week: Path, tmp_path: Path,
                                                         hiding: str) -> None:
    """A line that cannot be read is counted and placed, never shown, when the report
    hides people: it may hold any address and any subject."""
    with week.open("a") as log:
        log.write("26-11-23 10:00\ttime=soon\tfrom=<hidden.person@corp.example>\t"
                  "subject=secret plans\n")
        log.write('{"epoch": 1795000000, "sender": "jsonleak@corp.example",\n')
    argument = tmp_path / ("key" if hiding == "--pseudonymize" else "list")
    argument.write_bytes(b"k" * 32 if hiding == "--pseudonymize" else b"eve@out.example\n")
    argument.chmod(0o600)
    out = tmp_path / "r"
    assert report("-o", out, hiding, argument, week) == 0
    problems = read_page(out / "lists" / "problems.html").text
    assert f"{week}:6" in problems and f"{week}:7" in problems
    assert "time= is not a number" in problems and "not valid JSON" in problems
    assert "withheld" in problems
    for secret in ("hidden.person", "secret plans", "jsonleak", "soon"):
        assert secret not in site_text(out), secret


@pytest.mark.parametrize(("content", "mode", "message"), [
    (None, 0o600, "No such file"),
    (b"short", 0o600, "shorter than 16 bytes"),
])
def test_pseudonym_key_problems_say_how_to_make_one(week: Path, tmp_path: Path, content,
                                                    mode, message,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "key"
    if content is not None:
        key.write_bytes(content)
        key.chmod(mode)
    assert report("-o", tmp_path / "r", "--pseudonymize", key, week) == 2
    err = capsys.readouterr().err
    assert message in err and f"head -c 32 /dev/urandom > {key}" in err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("kind", ["fifo", "device", "large"])
def test_a_pseudonym_key_must_be_a_small_regular_file(week: Path, tmp_path: Path, kind: str,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    """A FIFO would hang the report, /dev/zero would pass for a key of zeros."""
    key = tmp_path / "key"
    if kind == "fifo":
        os.mkfifo(key, 0o600)
    elif kind == "device":
        key = Path("/dev/zero")
    else:
        key.write_bytes(b"k" * 5000)
    assert report("-o", tmp_path / "r", "--pseudonymize", key, week) == 2
    err = capsys.readouterr().err
    said = "larger than 4,096 bytes" if kind == "large" else "not a regular file"
    assert said in err and f"head -c 32 /dev/urandom > {key}" in err


def test_a_key_others_can_read_is_warned_about(week: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    key = tmp_path / "key"
    key.write_bytes(b"k" * 32)
    key.chmod(0o644)
    assert report("-o", tmp_path / "r", "--pseudonymize", key, week) == 0
    assert f"chmod 600 {key}" in capsys.readouterr().err


def test_time_zone(week: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert report("-o", out, "--tz", "America/New_York", week) == 0
    log = read_page(out / "log" / "1.html")
    assert log.rows[1][0] == "2026-11-22 19:00"  # Monday 00:00 UTC
    assert "America/New_York" in log.text


def test_sizes_of_tables_and_pages(week: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert report("-o", out, "--top", "2", "--page-size", "2", "--max-messages", "1", week) == 0
    assert len(addresses(out)) == 2
    assert "3 more not listed (the top 2 are)" in read_page(out / "addresses" /
                                                           "messages.html").text
    assert len(list((out / "log").glob("[0-9]*.html"))) == 3
    ann = read_page(out / "index.html").follow("ann@corp.example")
    assert "3 older messages not shown: this page keeps the newest 1" in ann.text


def test_a_report_replaces_the_previous_one_whole(week: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    assert report("-o", out, week) == 0
    stale = out / "a" / "someone-gone.html"
    stale.write_text("old")
    assert report("-o", out, "--until", "2026-11-24", week) == 0
    assert not stale.exists()
    assert "1 messages" in read_page(out / "index.html").text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".r.")]  # no leftovers


def test_modes_follow_the_umask(week: Path, tmp_path: Path) -> None:
    import os

    old = os.umask(0o027)
    try:
        assert report("-o", tmp_path / "r", week) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "r").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "r" / "a").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "r" / "index.html").stat().st_mode & 0o777 == 0o640


def test_no_messages_still_makes_a_site(tmp_path: Path) -> None:
    empty = tmp_path / "mailspy"
    empty.write_text("")
    out = tmp_path / "r"
    assert report("-o", out, empty) == 0
    index: Page = read_page(out / "index.html")
    assert "No messages in this period" in index.text
    assert read_page(out / "log" / "index.html").rows[1] == ["no messages"]
