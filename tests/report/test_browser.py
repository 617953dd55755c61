"""The report in a real browser: headless Chromium opens it from file://, with no network.

Hostile values must render as text and run nothing: the checks look at the live DOM
(no element made from a value, the values readable as text), at the window (no dialog
opened, the title unchanged), and at navigation (the page of a hostile address opens).
The same checks are first run on a page written without escaping, to show that they
catch what they look for. Screenshots of the overview, wide and phone-sized, are saved
under $MAILSPY_SCREENSHOTS (default /tmp/mailspy-screenshots), outside the repository.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.summary_logs import write_text_log
from tests.report.helpers import line, report
from tests.report.webdriver import Browser, available

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not available(), reason="chromium and chromium-driver are "
                                 "not installed (make deps)")]

IMG = "<img src=x onerror=alert(1)>"
TITLE_CHANGER = "<img src=x onerror=\"document.title='pwned'\">"
SCRIPT_SENDER = '"<script>"@evil.example'
SHOTS = Path(os.environ.get("MAILSPY_SCREENSHOTS", "/tmp/mailspy-screenshots"))

INJECTED = """
return {
  images: document.querySelectorAll('img').length,
  scripts: document.querySelectorAll('script').length,
  handlers: [...document.querySelectorAll('*')].filter(
      e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  title: document.title,
  cells: [...document.querySelectorAll('td')].map(td => td.textContent),
  links: [...document.querySelectorAll('a')].map(a => a.textContent),
};
"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(tmp_path_factory.mktemp("chromium")) as opened:
        yield opened


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("browser")
    log = write_text_log(base / "mailspy.1", 3_000, addresses=300, domains=12,
                         step_seconds=120)
    last = int(log.read_text().splitlines()[-1].split("\ttime=")[1].split("\t")[0])
    hostile = base / "mailspy"
    hostile.write_text(line(last + 60, SCRIPT_SENDER, ["victim@dom1.example"],
                            subject=IMG, files=("<svg onload=alert(2)>.pdf",))
                       + line(last + 120, "x@evil.example", ["victim@dom1.example"],
                              subject=TITLE_CHANGER))
    out = base / "report"
    assert report("-o", out, "--local-domain", "dom1.example", "--local-domain",
                  "dom2.example", "--title", "Mail at example.org", log, hostile) == 0
    return out


def last_log_page(site: Path) -> Path:
    return max((site / "log").glob("[0-9]*.html"), key=lambda p: int(p.stem))


def test_the_checks_catch_markup_that_is_not_escaped(browser: Browser, tmp_path: Path) -> None:
    unsafe = tmp_path / "unsafe.html"
    unsafe.write_text(f"<!DOCTYPE html><title>t</title><table><tr><td>{IMG}</td></tr></table>")
    browser.open(unsafe)
    assert browser.alert() == "1"  # the check below would see it run
    browser._session("POST", "/alert/dismiss", {})
    found = browser.run(INJECTED)
    assert found["images"] == 1 and IMG not in found["cells"]


def test_hostile_values_render_as_text_and_run_nothing(browser: Browser, site: Path) -> None:
    browser.open(last_log_page(site))
    assert browser.alert() is None
    found = browser.run(INJECTED)
    assert (found["images"], found["scripts"], found["handlers"]) == (0, 0, 0)
    assert found["title"].startswith("Message log, page")
    assert IMG in found["cells"] and TITLE_CHANGER in found["cells"]
    assert "<svg onload=alert(2)>.pdf" in found["cells"]
    assert SCRIPT_SENDER in found["links"]
    browser.run("document.querySelector('table.log tbody tr:last-child').scrollIntoView()")
    browser.screenshot(SHOTS / "log-hostile.png")


def test_the_page_of_a_hostile_address_opens(browser: Browser, site: Path) -> None:
    browser.open(last_log_page(site))
    browser.click_link(SCRIPT_SENDER)
    assert "/a/" in browser.url()
    assert browser.run("return document.querySelector('h1').textContent") == SCRIPT_SENDER
    assert browser.alert() is None
    found = browser.run(INJECTED)
    assert (found["images"], found["scripts"], found["handlers"]) == (0, 0, 0)
    assert IMG in found["cells"]


def test_overview_wide_and_on_a_phone(browser: Browser, site: Path) -> None:
    browser.resize(1280, 1600)
    browser.open(site / "index.html")
    assert browser.alert() is None
    charts = browser.run("return [...document.querySelectorAll('svg.chart')].map("
                         "s => s.getBoundingClientRect().width)")
    assert len(charts) == 2 and all(width > 200 for width in charts)
    height = browser.run("return document.documentElement.scrollHeight")
    browser.resize(1280, min(int(height) + 120, 8000))  # the whole page in one picture
    wide = browser.screenshot(SHOTS / "index.png")
    browser.resize(390, 844)
    browser.open(site / "index.html")
    overflow = browser.run("return document.documentElement.scrollWidth - "
                           "document.documentElement.clientWidth")
    assert overflow <= 1  # wide tables scroll inside their box, not the page
    phone = browser.screenshot(SHOTS / "index-phone.png")
    browser.resize(1280, 1600)
    assert wide.stat().st_size > 10_000 and phone.stat().st_size > 5_000
