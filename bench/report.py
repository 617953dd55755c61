"""Rows of the results table and their Markdown rendering.

Why ratios: the machine is shared and its speed varies from run to run, so each figure
is mailspy divided by a baseline measured in the same run, on the same machine, with the
same client and mail; a few figures are absolute by nature (a latency, a memory growth,
a wall time) and say so. Every row keeps its raw numbers beside the figure, so a reader
can redo the division.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_OPS: dict[str, Callable[[float, float], bool]] = {
    "≥": operator.ge, "≤": operator.le, "<": operator.lt, ">": operator.gt,
}
COLUMNS = ("id", "measure", "mailspy", "baseline", "figure", "target", "result")


@dataclass(frozen=True)
class Target:
    op: str  # one of ≥ ≤ < >
    bound: float
    unit: str = ""  # "" for a ratio, " ms", " MiB", " s" for absolute figures

    def met(self, figure: float) -> bool:
        return _OPS[self.op](figure, self.bound)

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}{self.unit}"


@dataclass(frozen=True)
class Row:
    """One line of the table. `target` None makes it a context row (no PASS/FAIL);
    `note` replaces the result of a context row (e.g. a warning)."""

    id: str
    measure: str
    value: str
    baseline: str
    figure: float
    target: Target | None = None
    note: str = ""

    @property
    def result(self) -> str:
        if self.target is None:
            return self.note or "context"
        return "PASS" if self.target.met(self.figure) else "FAIL"

    def cells(self) -> tuple[str, ...]:
        unit = self.target.unit if self.target else ""
        return (self.id, self.measure, self.value, self.baseline, number(self.figure) + unit,
                str(self.target) if self.target else "—", self.result)


def number(value: float) -> str:
    """Three significant digits, without the exponent form .3g gives from 1,000 up."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def rate(value: float) -> str:
    return f"{value:,.0f} msg/s"


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def table(rows: Sequence[Row]) -> str:
    """A Markdown table, `|`-escaped, one row per line."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in row.cells()) + " |")
    return "\n".join(lines)


def parse_table(text: str) -> list[dict[str, str]]:
    """The rows of the first results table in `text`, as column -> cell (for tests)."""
    rows: list[dict[str, str]] = []
    for line in text.splitlines():
        if not line.startswith("| ") or line.startswith("| id |"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if len(cells) == len(COLUMNS):
            rows.append(dict(zip(COLUMNS, cells, strict=True)))
    return rows


def figure_value(cell: str) -> float:
    """The number at the start of a figure cell ("0.27", "3.1 ms", "12.5 MiB")."""
    return float(cell.split()[0])
