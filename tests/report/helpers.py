"""Writing sample logs and reading the generated site back, as a browser would parse it."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from mailspy.cli import main

# 2026-11-23 is a Monday (ISO week 2026-W48)
MONDAY = 1_795_392_000


def line(epoch: int, sender: str, recipients: list[str], size: int = 100,
         subject: str = "hello", files: tuple[str, ...] = (), extra: tuple[str, ...] = ()) -> str:
    """A summary line in mailspy's text layout (values taken as they are)."""
    stamp = time.strftime("%y-%m-%d %H:%M", time.gmtime(epoch))
    fields = [stamp, f"time={epoch}", f"from=<{sender}>"]
    fields += [f"to=<{r}>" for r in recipients]
    fields += [f"size={size}", f"subject={subject}", *(f"file={f}" for f in files), *extra]
    return "\t".join(fields) + "\n"


def original_line(stamp: str, sender: str, recipients: list[str], body: int = 100,
                  subject: str = "hello", files: tuple[str, ...] = ()) -> str:
    """A line as the original C mailspy wrote it: no time=, body= for the size."""
    fields = [stamp, f"from={sender}", *(f"to={r}" for r in recipients), f"body={body}",
              f"subject={subject}", *(f"file={f}" for f in files)]
    return "\t".join(fields) + "\n"


def json_line(epoch: int, sender: str, recipients: list[str], size: int = 100,
              subject: str = "hello", attachments: tuple[tuple[str, str], ...] = (),
              rules: tuple[str, ...] = (), queue_id: str = "Q1") -> str:
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)), "epoch": epoch,
        "queue_id": queue_id, "sender": sender, "mail_from": f"<{sender}>",
        "recipients": recipients, "subject": subject, "size": size, "rules": list(rules),
        "attachments": [{"path": str(n + 2), "name": name, "type": kind, "size": 10,
                         "sha256": "0" * 64, "members": []}
                        for n, (name, kind) in enumerate(attachments)],
    }
    return json.dumps(record) + "\n"


def report(*args: str | Path) -> int:
    """`mailspy report ...` in this process (times in UTC unless --tz is given)."""
    argv = ["report", *map(str, args)]
    if "--tz" not in argv:
        argv += ["--tz", "UTC"]
    return main(argv)


@dataclass
class Page:
    """A page as an HTML parser sees it: its text, links, elements and table rows."""

    path: Path
    source: str
    text: str = ""
    links: list[tuple[str, str]] = field(default_factory=list)  # (href, text)
    tags: list[tuple[str, dict[str, str | None]]] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)  # every <tr>'s cell texts

    def link(self, text: str) -> str:
        """The href of the first link whose text is `text`."""
        for href, shown in self.links:
            if shown == text:
                return href
        raise AssertionError(f"no link {text!r} in {self.path}: {self.links[:20]}")

    def follow(self, text: str) -> Page:
        return read_page(self.path.parent / self.link(text))

    def row(self, first_cell: str) -> list[str]:
        for cells in self.rows:
            if cells and cells[0] == first_cell:
                return cells
        raise AssertionError(f"no row {first_cell!r} in {self.path}")


class _Reader(HTMLParser):
    def __init__(self, page: Page) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.texts: list[str] = []
        self.href: str | None = None
        self.anchor: list[str] = []
        self.cells: list[str] | None = None
        self.cell: list[str] | None = None
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.tags.append((tag, dict(attrs)))
        if tag in ("style", "script", "title"):
            self.skip += 1
        elif tag == "a":
            self.href, self.anchor = dict(attrs).get("href"), []
        elif tag == "tr":
            self.cells = []
        elif tag in ("td", "th") and self.cells is not None:
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "title"):
            self.skip -= 1
        elif tag == "a" and self.href is not None:
            self.page.links.append((self.href, "".join(self.anchor)))
            self.href = None
        elif tag in ("td", "th") and self.cell is not None and self.cells is not None:
            self.cells.append("".join(self.cell).strip())
            self.cell = None
        elif tag == "tr" and self.cells is not None:
            self.page.rows.append(self.cells)
            self.cells = None

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        self.texts.append(data)
        if self.href is not None:
            self.anchor.append(data)
        if self.cell is not None:
            self.cell.append(data)


def read_page(path: Path) -> Page:
    source = path.read_text(encoding="utf-8")
    page = Page(path, source)
    reader = _Reader(page)
    reader.feed(source)
    reader.close()
    page.text = " ".join(" ".join(reader.texts).split())
    return page
