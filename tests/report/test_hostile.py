"""Hostile values in the logs are text in the report, and never choose where a file goes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailspy.report.names import page_name
from tests.report.helpers import MONDAY, json_line, line, read_page, report

IMG = "<img src=x onerror=alert(1)>"
SCRIPT_SENDER = '"<script>"@evil.example'
HOSTILE = [
    (SCRIPT_SENDER, ["victim@corp.example"], IMG, ("<svg onload=alert(2)>.pdf",)),
    ("../../../etc/passwd@x", ["..@..", "a/b@c"], "&lt;not an entity&gt; &amp;", ("..",)),
    ("Ann@Corp.example", ["ann@corp.example"], "\"quoted\" 'single' `back`", ()),
    ("x@evil.example\"><script>alert(3)</script>", ["y@evil.example'onmouseover='x"],
     "</td></tr></table><h1>forged</h1>", ("</textarea><script>",)),
    ("long@" + "d" * 300 + ".example", ["r" * 5000 + "@x.example"], "s" * 20_000, ()),
    ("nul@x.example", ["bidi@x.example"], "pay\u202eFDP.exe\x00\x1b[2J",
     ("invoice\u202efdp.exe",)),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("hostile")
    log = base / "mailspy.json"
    log.write_text("".join(json_line(MONDAY + n * 60, sender, recipients, subject=subject,
                                     attachments=tuple((f, "text/html\"><b>") for f in files),
                                     rules=("<i>rule</i>",), queue_id="<q>")
                           for n, (sender, recipients, subject, files) in enumerate(HOSTILE)))
    text = base / "mailspy"
    text.write_bytes(line(MONDAY, "latin@x.example", ["b@y.example"], subject="Gr\xfc\xdfe")
                     .encode("latin-1") + b"<script>alert(4)</script>\n\x00garbage\xff\n")
    out = base / "report"
    assert report("-o", out, "--local-domain", "corp.example", log, text) == 0
    return out


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def test_no_markup_from_the_logs_survives(site: Path) -> None:
    for path in pages(site):
        page = read_page(path)
        tags = {tag for tag, _ in page.tags}
        assert not tags & {"script", "img", "textarea", "b", "i"}, path
        assert [tag for tag, _ in page.tags].count("h1") == 1, path
        assert all(a.get("class") == "chart" for t, a in page.tags if t == "svg"), path
        for _, attrs in page.tags:
            assert not [n for n in attrs if n.startswith("on")], (path, attrs)


def test_hostile_values_show_as_text(site: Path) -> None:
    log = read_page(site / "log" / "1.html")
    assert IMG in log.text
    assert SCRIPT_SENDER in log.text
    assert "</td></tr></table><h1>forged</h1>" in log.text
    assert "pay\\u202eFDP.exe\\x00\\x1b[2J" in log.text
    assert "invoice\\u202efdp.exe" in log.text
    assert "Gr\\xfc\\xdfe" in log.text
    assert "&lt;not an entity&gt; &amp;" in log.text  # shown as typed, not decoded
    assert 'title="queue id &lt;q&gt;"' in log.source
    sender = log.follow(SCRIPT_SENDER)
    assert sender.rows[0] and SCRIPT_SENDER in sender.text
    types = read_page(site / "lists" / "attachments.html")
    assert 'text/html"><b>' in types.text and "<i>rule</i> (4)" in types.text


def test_bad_lines_are_counted_with_their_numbers(site: Path) -> None:
    problems = read_page(site / "lists" / "problems.html")
    where = [r[0].rsplit("/", 1)[-1] for r in problems.rows[1:]]
    assert where == ["mailspy:2", "mailspy:3"]
    assert "<script>alert(4)</script>" in problems.text
    assert "\\x00garbage\\xff" in problems.text


def test_every_file_stays_inside_the_site_with_a_safe_name(site: Path) -> None:
    root = site.resolve()
    names = [p for p in site.rglob("*") if p.is_file()]
    for path in names:
        assert root in path.resolve().parents
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*\.(html|json)", path.name), path
        assert len(path.name) <= 80
    assert not (site.parent / "etc").exists()
    lowered = [p.name.lower() for p in names if p.parent.name in ("a", "d")]
    assert len(lowered) == len(set(lowered))  # distinct on a case-insensitive filesystem


def test_one_person_whatever_the_case(site: Path) -> None:
    table = read_page(site / "addresses" / "messages.html")
    assert table.row("ann@corp.example")[1] == "1"  # Ann@Corp wrote to ann@corp: one message


@given(st.text(max_size=300))
def test_page_names_are_safe_for_any_value(value: str) -> None:
    name = page_name(value)
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,47}-[0-9a-f]{12}\.html", name)
    assert ".." not in name.split("-")[0] or not name.startswith(".")


@given(st.lists(st.text(max_size=20), min_size=2, max_size=30, unique=True))
def test_page_names_differ_even_ignoring_case(values: list[str]) -> None:
    names = {page_name(v).lower() for v in values}
    assert len(names) == len(values)


def test_names_of_values_that_differ_only_in_case_or_punctuation() -> None:
    names = [page_name(v) for v in ("A@x", "a@x", "a/x", "a\\x", "a x", "a?x", "")]
    assert len({n.lower() for n in names}) == len(names)
    assert page_name("") .startswith("none-")


def test_names_that_collide_get_the_whole_digest(tmp_path: Path, monkeypatch) -> None:
    """A sender can make two addresses whose short names agree: each still gets a page
    of its own, and every link leads to the right one."""
    from mailspy.report import names

    monkeypatch.setattr(names, "SHORT", 1)  # 16 short names for 40 addresses
    log = tmp_path / "mailspy"
    marks = "!#$%&*+=?^{|}~"
    people = [f"p{a}{b}@x.example" for a in marks for b in marks][:40]  # one slug: p-x.example
    log.write_text("".join(line(MONDAY + n * 60, person, ["boss@x.example"],
                                subject=f"from {person}") for n, person in enumerate(people)))
    out = tmp_path / "r"
    assert report("-o", out, log) == 0
    assert len(list((out / "a").iterdir())) == 41
    table = read_page(out / "addresses" / "sent.html")
    for person in people:
        assert f"from {person}" in table.follow(person).text
