"""Every kind of page, read back as a browser parses it: the overview, the sortable tables,
the page of each address and domain, the message log, the lists, and the links between them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.report.helpers import MONDAY, Page, json_line, line, read_page, report

HOUR, DAY = 3600, 86400


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("site")
    text = base / "mailspy.1"
    text.write_text("".join([
        line(MONDAY + 9 * HOUR, "ann@corp.example", ["bob@partner.example"], size=5_000,
             subject="Q3 figures", files=("q3.pdf", "q3.xlsx")),
        line(MONDAY + 10 * HOUR, "bob@partner.example", ["ann@corp.example",
                                                          "cfo@corp.example"], size=2_000,
             subject="Re: Q3 figures"),
        line(MONDAY + DAY + 11 * HOUR, "ann@corp.example", ["cfo@corp.example"], size=300,
             subject="lunch?"),
        line(MONDAY + DAY + 12 * HOUR, "", ["ann@corp.example"], size=900,
             subject="Undelivered Mail Returned to Sender"),
        "this line is not a summary line\n",
        *(line(MONDAY + 2 * DAY + n * 60, "news@spam.example", ["ann@corp.example"],
               size=50_000 + n, subject=f"offer {n}") for n in range(5)),
    ]))
    records = base / "mailspy.json"
    records.write_text(
        json_line(MONDAY + 3 * DAY, "billing@bank.example", ["cfo@corp.example"], size=700,
                  subject="Invoice", attachments=(("invoice.zip", "application/zip"),
                                                  ("readme.txt", "text/plain")),
                  rules=("zip-executables", "finance"))
        + '{"broken json\n')
    out = base / "report"
    assert report("-o", out, "--local-domain", "corp.example", "--max-messages", "3",
                  "--page-size", "4", "--title", "Corp mail", text, records) == 0
    return out


def page(site: Path, relative: str) -> Page:
    return read_page(site / relative)


def test_overview(site: Path) -> None:
    index = page(site, "index.html")
    assert "Corp mail" in index.text
    assert "10 messages" in index.text
    assert "Messages from 2026-11-23 09:00 to 2026-11-26 00:00" in index.text
    assert "2 lines could not be read" in index.text
    top_local = index.source.split("Top local addresses")[1].split("</table>")[0]
    assert re.findall(r">([^<]+@corp\.example)</a>", top_local) == ["ann@corp.example",
                                                                   "cfo@corp.example"]
    assert "news@spam.example" not in top_local
    assert index.link("ann@corp.example") == "a/" + index.link("ann@corp.example")[2:]


def test_charts_are_inline_svg_one_bar_per_day_and_hour(site: Path) -> None:
    index = page(site, "index.html")
    charts = index.source.split("<svg")[1:]
    assert len(charts) == 2
    assert charts[0].count("<rect") == 4  # Monday to Thursday
    assert "Mon 2026-11-23: 2 messages" in charts[0]
    assert "Wed 2026-11-25: 5 messages" in charts[0]
    assert charts[1].count("<rect") == 24
    assert "09:00–09:59: 1 messages" in charts[1]


def amount(cell: str) -> float:
    """ "258 KB" -> 258000.0, "7" -> 7.0"""
    number, _, unit = cell.partition(" ")
    return float(number.replace(",", "")) * {"": 1, "B": 1, "KB": 1e3, "MB": 1e6}[unit]


def test_address_tables_every_sort(site: Path) -> None:
    for sort, column in [("messages", 1), ("size", 2), ("attachments", 3), ("sent", 4),
                         ("sent-size", 5), ("sent-attachments", 6), ("received", 7),
                         ("received-size", 8), ("received-attachments", 9)]:
        table = page(site, f"addresses/{sort}.html")
        assert [t for t, _ in table.tags if t == "h2"] == ["h2", "h2"], sort  # local, others
        body = [r for r in table.rows if len(r) == 10 and r[0] != "Address"]
        local = [r for r in body if r[0].endswith("@corp.example")]
        others = body[len(local):]
        assert body[:len(local)] == local, sort  # the site's own addresses come first
        for group in (local, others):
            figures = [amount(r[column]) for r in group]
            assert figures == sorted(figures, reverse=True) and all(figures), sort
        sorted_by = [a for t, a in table.tags if t == "th" and a.get("aria-sort")]
        assert len(sorted_by) == 2, sort  # one sorted column in each table
    senders = page(site, "addresses/sent.html")
    listed = [r[0] for r in senders.rows if len(r) == 10 and r[0] != "Address"]
    assert "cfo@corp.example" not in listed  # sent nothing: not a top sender
    assert listed == ["ann@corp.example", "news@spam.example", "<> (bounce)",
                      "billing@bank.example", "bob@partner.example"]
    ann = page(site, "addresses/messages.html").row("ann@corp.example")
    assert ann == ["ann@corp.example", "9", "258 KB", "2", "2", "5.3 KB", "2", "7", "253 KB",
                   "0"]


def test_domain_tables(site: Path) -> None:
    domains = page(site, "domains/messages.html")
    assert domains.row("corp.example")[:2] == ["corp.example", "10"]
    assert domains.row("(no domain)")[1] == "1"  # the bounce
    senders = page(site, "domains/sent.html")
    assert [r[0] for r in senders.rows if len(r) == 10][1:2] == ["spam.example"]


def test_address_page(site: Path) -> None:
    ann = page(site, "index.html").follow("ann@corp.example")
    assert ann.path.parent.name == "a"
    assert "local" in ann.text
    assert ann.row("Sent")[1:] == ["2", "5.3 KB", "2"]
    assert ann.row("Received")[1:] == ["7", "253 KB", "0"]
    assert ann.row("All mail")[1:] == ["9", "258 KB", "2"]
    dates = [r[0] for r in ann.rows if re.match(r"\d{4}-\d\d-\d\d", r[0] if r else "")]
    assert dates == ["2026-11-25 00:04", "2026-11-25 00:03", "2026-11-25 00:02"]  # newest 3
    assert "6 older messages not shown: this page keeps the newest 3" in ann.text
    assert ann.follow("corp.example").path.parent.name == "d"


def test_bounce_sender_has_a_page(site: Path) -> None:
    bounce = page(site, "addresses/sent.html").follow("<> (bounce)")
    assert "Undelivered Mail Returned to Sender" in bounce.text


def test_domain_page_lists_its_addresses(site: Path) -> None:
    corp = page(site, "domains/messages.html").follow("corp.example")
    assert "Addresses at corp.example" in corp.text
    assert corp.row("ann@corp.example")[1] == "9"
    assert corp.row("cfo@corp.example")[1] == "3"
    assert "7 older messages not shown" in corp.text
    dates = [r[0] for r in corp.rows if re.match(r"\d{4}-\d\d-\d\d", r[0] if r else "")]
    assert dates == ["2026-11-26 00:00", "2026-11-25 00:04", "2026-11-25 00:03"]


def test_message_log_is_paged_in_log_order(site: Path) -> None:
    log = page(site, "log/index.html")
    assert [r[0] for r in log.rows[1:]] == ["3", "2", "1"]  # 10 messages, 4 a page
    first = log.follow("1")
    assert "Messages 1 to 4" in first.text
    assert "Q3 figures" in first.text and "Undelivered" in first.text
    second = first.follow("page 2 →")
    assert second.link("← page 1") == "1.html"
    last = second.follow("page 3 →")
    assert "Messages 9 to 10" in last.text and "Invoice" in last.text
    assert not any(text.startswith("page 4") for _, text in last.links)


def test_queue_id_is_shown_on_the_date(site: Path) -> None:
    last = page(site, "log/3.html")
    assert 'title="queue id Q1"' in last.source


def test_attachments_rules_and_biggest(site: Path) -> None:
    lists = page(site, "lists/attachments.html")
    assert lists.row("pdf")[1:] == ["1", "1"] and lists.row("zip")[1:] == ["1", "1"]
    assert lists.row("application/zip") == ["application/zip", "1", "1",
                                            "finance (1), zip-executables (1)"]
    assert lists.row("zip-executables") == ["zip-executables", "1"]
    biggest = page(site, "lists/biggest.html")
    sizes = [r[3] for r in biggest.rows if len(r) == 6 and r[0][:2] == "20"]
    assert sizes[:2] == ["50 KB", "50 KB"] and sizes[-1] == "300 B" and len(sizes) == 10


def test_problems_are_listed_with_their_line_numbers(site: Path) -> None:
    problems = page(site, "lists/problems.html")
    rows = {r[0].rsplit("/", 1)[-1]: r[1] for r in problems.rows[1:]}
    assert rows["mailspy.1:5"].startswith("no date")
    assert rows["mailspy.json:2"].startswith("not valid JSON")


def test_every_link_leads_to_a_page_of_the_site(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    kinds = {p.relative_to(site).parts[0] for p in pages}
    assert kinds == {"index.html", "addresses", "domains", "a", "d", "log", "lists"}
    for path in pages:
        for href, _ in read_page(path).links:
            target = (path.parent / href).resolve()
            assert target.is_file() and site.resolve() in target.parents, (path, href)


def test_no_page_reaches_the_network_or_runs_script(site: Path) -> None:
    for path in site.rglob("*.html"):
        parsed = read_page(path)
        assert "Content-Security-Policy" in parsed.source
        assert "default-src 'none'" in parsed.source
        assert not [t for t, _ in parsed.tags if t in ("script", "link", "img", "iframe")]
        for _, attrs in parsed.tags:
            for name, value in attrs.items():
                assert not name.startswith("on"), (path, name)
                assert not re.match(r"(https?:)?//", value or ""), (path, name, value)


def test_marker_says_what_the_site_holds(site: Path) -> None:
    data = json.loads((site / "report.json").read_text())
    assert data["generator"] == "mailspy report"
    assert (data["messages"], data["lines"], data["problems"]) == (10, 12, 2)
