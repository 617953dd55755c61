"""Bar charts as inline SVG, computed when the report is built.

No script and no charting library in the page: the geometry is worked out
here and the template writes `<rect>` and `<text>` elements, so a chart
shows from `file://`, offline, in any current browser, and scales to a
phone's width through its viewBox. Each bar carries a `<title>` with its
exact figure (a tooltip, and what a screen reader reads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["Chart", "bar_chart"]

WIDTH, HEIGHT = 720, 200
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 10, 26
MAX_X_LABELS = 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str


@dataclass(frozen=True)
class Chart:
    caption: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    x_labels: tuple[Label, ...]
    y_labels: tuple[Label, ...]  # one per grid line, at the line's height
    left: int
    right: int


def _step(top: int) -> int:
    """A round grid step giving at most four lines up to `top`."""
    if top <= 4:
        return 1
    raw = top / 4
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return int(factor * power)
    return int(10 * power)


def bar_chart(caption: str, points: Sequence[tuple[str, str, int]], unit: str = "messages"
              ) -> Chart:
    """One bar per (axis label, full name, value), in order; axis labels thinned out
    to fit, the full name in each bar's tooltip."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = max((value for _, _, value in points), default=0)
    step = _step(top)
    scale_top = max(step, math.ceil(top / step) * step)
    band = plot_w / max(len(points), 1)
    width = min(max(band * 0.8, 1.0), 48.0)
    bars = []
    for n, (_, name, value) in enumerate(points):
        height = plot_h * value / scale_top
        bars.append(Bar(round(LEFT + n * band + (band - width) / 2, 2),
                        round(TOP + plot_h - height, 2), round(width, 2), round(height, 2),
                        f"{name}: {value:,} {unit}"))
    every = max(1, math.ceil(len(points) / MAX_X_LABELS))
    x_labels = tuple(Label(round(LEFT + n * band + band / 2, 2), HEIGHT - 8, text)
                     for n, (text, _, _) in enumerate(points) if n % every == 0)
    y_labels = tuple(Label(LEFT - 6, round(TOP + plot_h - plot_h * v / scale_top, 2), f"{v:,}")
                     for v in range(0, scale_top + 1, step))
    return Chart(caption, WIDTH, HEIGHT, tuple(bars), x_labels, y_labels, LEFT, WIDTH - RIGHT)
