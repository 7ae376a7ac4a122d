"""Server-rendered SVG charts: one code path for the dashboard and the PDF
(WeasyPrint runs no JavaScript). Each function returns safe markup with a
<title> and <desc> so screen readers and tagged PDFs get a text equivalent.

A value of None draws nothing; its text label (for example "<11" for a
suppressed count) is printed where the bar or point would be, so a hidden
value is never implied by a drawing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

PALETTE = ("#1f4e79", "#e07a1f", "#3a8d5c", "#8e5ea2", "#c0392b", "#5d6d7e")
INK = "#1b2631"
GRID = "#d5d8dc"
MUTED = "#5d6d7e"

Series = Sequence[tuple[str, Sequence[float | None]]]


def _nice_max(value: float) -> float:
    """The top of the axis: four equal, round steps (whole numbers from 4 up)."""
    if value <= 0:
        return 4.0
    raw_step = value / 4
    exponent = 10 ** math.floor(math.log10(raw_step))
    for step in (1, 2, 2.5, 5, 10):
        candidate = step * exponent
        if candidate >= raw_step and (candidate >= 1 and float(candidate).is_integer() or raw_step < 1):
            return candidate * 4
    return 10 * exponent * 4


def _format(value: float, percent: bool) -> str:
    if percent:
        return f"{value * 100:.0f}%"
    if value >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _frame(title: str, desc: str, width: int, height: int, body: list[str]) -> SafeString:
    chart_id = "chart-" + "".join(ch for ch in title.lower() if ch.isalnum())[:24]
    return mark_safe(  # noqa: S308 - every text node below goes through escape()
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="11">'
        f'<title id="{chart_id}-t">{escape(title)}</title><desc id="{chart_id}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _describe(categories: Sequence[str], series: Series, labels: Sequence[Sequence[str]] | None, percent: bool) -> str:
    parts = []
    for index, (name, values) in enumerate(series):
        shown = []
        for position, category in enumerate(categories):
            value = values[position]
            text = labels[index][position] if labels else ("—" if value is None else _format(value, percent))
            shown.append(f"{category}: {text}")
        parts.append(f"{name} — " + "; ".join(shown))
    return ". ".join(parts)


def _axes(width: int, height: int, left: int, top: int, bottom: int, top_value: float, percent: bool) -> list[str]:
    plot_h = height - top - bottom
    body = []
    for i in range(5):
        value = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        body.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 12}" y2="{y:.1f}" stroke="{GRID}" '
                    f'stroke-width="{1 if i else 1.4}"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">'
                    f"{escape(_format(value, percent))}</text>")
    return body


def _legend(series: Series, width: int, y: int) -> list[str]:
    if len(series) < 2:
        return []
    body, x = [], 56
    for index, (name, _values) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        body.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" rx="2" fill="{color}"/>')
        body.append(f'<text x="{x + 14}" y="{y}" fill="{INK}">{escape(name)}</text>')
        x += 24 + int(len(name) * 6.4)
    return body


def bar_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Series,
    labels: Sequence[Sequence[str]] | None = None,
    percent: bool = False,
    width: int = 640,
    height: int = 250,
) -> SafeString:
    """Grouped vertical bars: one group per category, one bar per series."""
    left, top, bottom = 56, 30 if len(series) > 1 else 14, 34
    plot_w, plot_h = width - left - 12, height - top - bottom
    known = [v for _name, values in series for v in values if v is not None]
    top_value = 1.0 if percent else _nice_max(max(known, default=0))
    body = _axes(width, height, left, top, bottom, top_value, percent) + _legend(series, width, 16)
    group_w = plot_w / max(len(categories), 1)
    bar_w = min(42.0, group_w * 0.7 / max(len(series), 1))
    baseline = top + plot_h
    for position, category in enumerate(categories):
        group_x = left + group_w * position + (group_w - bar_w * len(series)) / 2
        for index, (_name, values) in enumerate(series):
            value = values[position]
            x = group_x + bar_w * index
            text = labels[index][position] if labels else None
            if value is None:
                body.append(f'<text x="{x + bar_w / 2:.1f}" y="{baseline - 5:.1f}" text-anchor="middle" '
                            f'fill="{MUTED}" font-size="10">{escape(text or "—")}</text>')
                continue
            bar_h = plot_h * min(value / top_value, 1.0)
            color = PALETTE[index % len(PALETTE)]
            body.append(f'<rect x="{x + 1:.1f}" y="{baseline - bar_h:.1f}" width="{bar_w - 2:.1f}" '
                        f'height="{bar_h:.1f}" fill="{color}" rx="1.5"/>')
            body.append(f'<text x="{x + bar_w / 2:.1f}" y="{baseline - bar_h - 4:.1f}" text-anchor="middle" '
                        f'fill="{INK}" font-size="10">{escape(text or _format(value, percent))}</text>')
        body.append(f'<text x="{left + group_w * (position + 0.5):.1f}" y="{height - 12}" text-anchor="middle" '
                    f'fill="{INK}">{escape(category)}</text>')
    return _frame(title, _describe(categories, series, labels, percent), width, height, body)


def line_chart(
    *,
    title: str,
    categories: Sequence[str],
    series: Series,
    labels: Sequence[Sequence[str]] | None = None,
    percent: bool = False,
    width: int = 640,
    height: int = 250,
) -> SafeString:
    """Lines over periods; a None value breaks the line and prints its label instead."""
    left, top, bottom = 56, 30 if len(series) > 1 else 14, 34
    plot_w, plot_h = width - left - 12, height - top - bottom
    known = [v for _name, values in series for v in values if v is not None]
    top_value = 1.0 if percent else _nice_max(max(known, default=0))
    body = _axes(width, height, left, top, bottom, top_value, percent) + _legend(series, width, 16)
    # Points sit in the middle of equal slots, like the bars, so end labels never clip.
    step = plot_w / max(len(categories), 1)
    left += step / 2 - 12
    baseline = top + plot_h
    for position, category in enumerate(categories):
        body.append(f'<text x="{left + 12 + step * position:.1f}" y="{height - 12}" text-anchor="middle" '
                    f'fill="{INK}">{escape(category)}</text>')
    for index, (_name, values) in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        segment: list[str] = []
        for position, value in enumerate(values):
            x = left + 12 + step * position
            text = labels[index][position] if labels else None
            if value is None:
                if len(segment) > 1:
                    body.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{color}" '
                                f'stroke-width="2.2"/>')
                segment = []
                body.append(f'<text x="{x:.1f}" y="{baseline - 6 - 12 * index:.1f}" text-anchor="middle" '
                            f'fill="{color}" font-size="10">{escape(text or "—")}</text>')
                continue
            y = baseline - plot_h * min(value / top_value, 1.0)
            segment.append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.2" fill="{color}"/>')
            body.append(f'<text x="{x:.1f}" y="{y - 7:.1f}" text-anchor="middle" fill="{color}" '
                        f'font-size="10">{escape(text or _format(value, percent))}</text>')
        if len(segment) > 1:
            body.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="{color}" stroke-width="2.2"/>')
    return _frame(title, _describe(categories, series, labels, percent), width, height, body)
