"""Charts drawn on the server as SVG (pure): bars for a series, lines for comparisons. No
JavaScript and no CDN: the page works offline and on a phone, and every bar carries its value
as a tooltip (``<title>``) for screen readers and touch."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 52, 8, 10, 26
STYLES = {
    "bars": "fill:#4aa3df",
    "line": "fill:none;stroke:#5b6b78;stroke-width:2",
    "dashed": "fill:none;stroke:#b26a00;stroke-width:2;stroke-dasharray:6 4",
}


@dataclass(frozen=True)
class Series:
    """One series of a chart: its name, a value per label (None: no value), how it is drawn."""

    name: str
    values: Sequence[float | None]
    style: str = "bars"  # bars | line | dashed


def nice_ceiling(value: float) -> float:
    """A round number at or above ``value`` for the top of the axis (1, 2, 2.5, 5 × 10ⁿ)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def number(value: float) -> str:
    """A compact number for axis labels and tooltips (12 345,6 → 12.3k)."""
    size = abs(value)
    if size >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if size >= 10_000:
        return f"{value / 1000:.0f}k"
    if size >= 1000:
        return f"{value / 1000:.1f}k"
    if size >= 100 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def chart_svg(labels: Sequence[str], series: Sequence[Series], unit: str, title: str) -> str:
    """An SVG chart of ``series`` over ``labels``; bars first, then lines on top."""
    count = max(len(labels), 1)
    values = [v for s in series for v in s.values if v is not None]
    bottom = min(0.0, min(values, default=0.0))
    top = nice_ceiling(max(values, default=0.0))
    span = (top - bottom) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / count

    def y(value: float) -> float:
        return TOP + plot_h * (top - value) / span

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for step in range(5):
        level = bottom + span * step / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(level):.1f}" y2="{y(level):.1f}" '
            'style="stroke:#d6dee5;stroke-width:1"/>'
            f'<text x="{LEFT - 4}" y="{y(level) + 4:.1f}" text-anchor="end" '
            f'class="axis">{escape(number(level))}</text>'
        )
    every = max(1, math.ceil(count / 8))
    for index, label in enumerate(labels):
        if index % every == 0:
            x = LEFT + slot * (index + 0.5)
            parts.append(
                f'<text x="{x:.1f}" y="{HEIGHT - 8}" text-anchor="middle" class="axis">'
                f"{escape(label)}</text>"
            )
    for item in sorted(series, key=lambda s: s.style != "bars"):
        parts.append(_draw(item, labels, slot, y, unit))
    parts.append("</svg>")
    return "".join(parts)


def _draw(
    item: Series, labels: Sequence[str], slot: float, scale: Callable[[float], float], unit: str
) -> str:
    style = STYLES.get(item.style, STYLES["bars"])
    if item.style == "bars":
        bars = []
        width = max(slot * 0.7, 1.0)
        for index, value in enumerate(item.values):
            if value is None:
                continue
            x = LEFT + slot * index + (slot - width) / 2
            top, base = scale(max(value, 0.0)), scale(min(value, 0.0))
            tip = f"{labels[index]}: {number(value)} {unit}".strip()
            bars.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{width:.1f}" '
                f'height="{max(base - top, 0.5):.1f}" style="{style}" data-value="{value:g}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        return f'<g class="series" data-series="{escape(item.name)}">{"".join(bars)}</g>'
    points = [
        f"{LEFT + slot * (index + 0.5):.1f},{scale(value):.1f}"
        for index, value in enumerate(item.values)
        if value is not None
    ]
    if not points:
        return ""
    return (
        f'<polyline class="series" data-series="{escape(item.name)}" '
        f'points="{" ".join(points)}" style="{style}"><title>{escape(item.name)}</title></polyline>'
    )
