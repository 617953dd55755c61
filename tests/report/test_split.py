"""The pages of addresses and domains written by several processes: all of them, once each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailspy.report import split
from tests.report.helpers import MONDAY, line, read_page, report


@pytest.mark.parametrize(("minimum", "ways"), [(1, 2), (1, 3), (10**9, 4)])
def test_every_page_written_by_one_or_more_processes(tmp_path: Path, monkeypatch,
                                                     minimum: int, ways: int) -> None:
    monkeypatch.setattr(split, "MINIMUM", minimum)
    monkeypatch.setattr(split, "WAYS", ways)
    monkeypatch.setattr(split.os, "cpu_count", lambda: 2)
    log = tmp_path / "mailspy"
    messages = [(f"u{n % 37}@d{n % 5}.example", f"u{(n * 7) % 37}@d{n % 3}.example")
                for n in range(300)]
    log.write_text("".join(line(MONDAY + n * 60, sender, [recipient], subject=f"s{n}")
                           for n, (sender, recipient) in enumerate(messages)))
    out = tmp_path / "r"
    assert report("-o", out, "--top", "1000", log) == 0
    addresses = read_page(out / "addresses" / "messages.html")
    listed = [r[0] for r in addresses.rows if len(r) == 10 and r[0] != "Address"]
    assert sorted(listed) == sorted({a for pair in messages for a in pair})
    for name in listed:
        page = addresses.follow(name)
        assert page.rows and name in page.text
    files = [p for p in out.rglob("*") if p.is_file()]
    assert json.loads((out / "report.json").read_text())["files"] == len(files)
    assert len(list((out / "d").iterdir())) == 5
