"""Server-rendered SVG charts: one code path for the dashboard and the PDF reports.

Each function returns a complete, self-contained `<svg>` string: no JavaScript, no
CSS (colours are SVG presentation attributes, which a strict CSP allows and
WeasyPrint renders), every text escaped, and `role="img"` with `<title>` and
`<desc>` so screen readers announce the chart and its figures. Missing values
(`None`, e.g. a rate with an empty denominator) are drawn as "no data", never as 0.

In a Django template, mark the string safe: `{{ chart|safe }}` (the functions
escape everything they put in it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

# Colour-blind-safe palette (Okabe–Ito), dark enough on white for 3:1 contrast.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
TEXT = "#222222"
GRID = "#BBBBBB"
FONT = "DejaVu Sans, Arial, sans-serif"

Formatter = Callable[[float], str]


def percent(value: float) -> str:
    return f"{value * 100:.0f}%"


def one_decimal(value: float) -> str:
    return f"{value:.1f}"


def whole(value: float) -> str:
    return f"{value:.0f}"


def _text(x: float, y: float, content: str, *, anchor: str = "start", size: int = 12, weight: str = "normal") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-family={quoteattr(FONT)} font-size="{size}" fill="{TEXT}" '
        f'text-anchor="{anchor}" font-weight="{weight}">{escape(content)}</text>'
    )


def _open(width: int, height: int, title: str, description: str) -> tuple[str, str]:
    # The same chart gets the same id in every render (same figures → same document, byte for
    # byte); distinct charts of one page differ in title or description.
    n = hashlib.sha256(f"{width}x{height}\n{title}\n{description}".encode()).hexdigest()[:10]
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="chart{n}-title chart{n}-desc">'
        f'<title id="chart{n}-title">{escape(title)}</title><desc id="chart{n}-desc">{escape(description)}</desc>'
        f'<rect width="{width}" height="{height}" fill="#FFFFFF"/>'
    )
    return head, "</svg>"


def _truncate(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    value_format: Formatter = one_decimal,
    max_value: float | None = None,
    width: int = 640,
    bar_height: int = 22,
    color: str = PALETTE[0],
    value_labels: Sequence[str] | None = None,
) -> str:
    """Horizontal bars, one per label (labels can be long: supporter ids, months).
    `max_value` fixes the scale (e.g. 1.0 for rates); otherwise the largest value.
    `value_labels` (optional) replaces each bar's printed figure, e.g. "<11" for a
    suppressed count drawn as None: the text is printed, no bar is drawn."""
    if len(labels) != len(values):
        raise ValueError("labels and values must have the same length")
    if value_labels is not None and len(value_labels) != len(labels):
        raise ValueError("value_labels must have one entry per label")
    label_width, pad, top = 150, 10, 34
    height = top + max(len(labels), 1) * (bar_height + 6) + pad
    scale_max = max_value if max_value is not None else max([v for v in values if v is not None] or [1.0])
    scale_max = scale_max or 1.0
    plot = width - label_width - 70
    shown = [
        value_labels[i] if value_labels is not None else ("no data" if value is None else value_format(value))
        for i, value in enumerate(values)
    ]
    description = "; ".join(f"{label}: {text}" for label, text in zip(labels, shown, strict=True))
    head, tail = _open(width, height, title, description or "no data")
    parts = [head, _text(pad, 20, title, size=14, weight="bold")]
    if not labels:
        parts.append(_text(pad, top + 14, "No data for this period."))
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = top + i * (bar_height + 6)
        parts.append(_text(label_width - 8, y + bar_height * 0.7, _truncate(label, 20), anchor="end"))
        if value is None:
            parts.append(_text(label_width + 4, y + bar_height * 0.7, shown[i]))
            continue
        length = max(plot * min(value / scale_max, 1.0), 0.0)
        parts.append(f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="{color}"/>')
        parts.append(_text(label_width + length + 4, y + bar_height * 0.7, shown[i]))
    parts.append(f'<line x1="{label_width}" y1="{top - 4}" x2="{label_width}" y2="{height - pad}" stroke="{GRID}"/>')
    parts.append(tail)
    return "".join(parts)


def stacked_bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    segments: Mapping[str, Sequence[float]],
    value_format: Formatter = whole,
    width: int = 640,
    bar_height: int = 22,
) -> str:
    """Horizontal stacked bars: for each label, one segment per series in `segments`
    (e.g. {"kept": [...], "missed": [...]}), with a legend."""
    names = list(segments)
    for name in names:
        if len(segments[name]) != len(labels):
            raise ValueError(f"series {name!r} does not have one value per label")
    label_width, pad, top = 150, 10, 54
    height = top + max(len(labels), 1) * (bar_height + 6) + pad
    totals = [sum(segments[name][i] for name in names) for i in range(len(labels))]
    scale_max = max(totals or [1.0]) or 1.0
    plot = width - label_width - 70
    description = "; ".join(
        f"{label}: " + ", ".join(f"{name} {value_format(segments[name][i])}" for name in names)
        for i, label in enumerate(labels)
    )
    head, tail = _open(width, height, title, description or "no data")
    parts = [head, _text(pad, 20, title, size=14, weight="bold")]
    x: float = label_width
    for k, name in enumerate(names):
        color = PALETTE[k % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="30" width="12" height="12" fill="{color}"/>')
        parts.append(_text(x + 16, 40, name))
        x += 30 + 8 * len(name)
    if not labels:
        parts.append(_text(pad, top + 14, "No data for this period."))
    for i, label in enumerate(labels):
        y = top + i * (bar_height + 6)
        parts.append(_text(label_width - 8, y + bar_height * 0.7, _truncate(label, 20), anchor="end"))
        x = float(label_width)
        for k, name in enumerate(names):
            length = plot * segments[name][i] / scale_max
            if length > 0:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{bar_height}" '
                    f'fill="{PALETTE[k % len(PALETTE)]}"/>'
                )
            x += length
        parts.append(_text(x + 4, y + bar_height * 0.7, value_format(totals[i])))
    parts.append(tail)
    return "".join(parts)


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    value_format: Formatter = one_decimal,
    y_max: float | None = None,
    width: int = 640,
    height: int = 260,
    point_labels: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """A trend: x = labels (periods, in order), one line per series. A None breaks the
    line (no point is invented for a period without data).
    `point_labels` (optional, per series) prints a text at every point, and at the
    foot of the plot where the value is None (e.g. "<11" for a suppressed figure),
    so a withheld value is named rather than silently missing."""
    names = list(series)
    for name in names:
        if len(series[name]) != len(labels):
            raise ValueError(f"series {name!r} does not have one value per label")
        if point_labels is not None and len(point_labels.get(name, labels)) != len(labels):
            raise ValueError(f"point labels of {name!r} do not have one entry per label")
    left, right, top, bottom = 56, 40, 54, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    present = [v for name in names for v in series[name] if v is not None]
    scale_max = y_max if y_max is not None else max(present or [1.0])
    scale_max = scale_max or 1.0

    def shown(name: str, i: int, v: float | None) -> str:
        if point_labels is not None and name in point_labels:
            return point_labels[name][i]
        return "no data" if v is None else value_format(v)

    description = "; ".join(
        f"{name}: "
        + ", ".join(
            f"{label} {shown(name, i, v)}" for i, (label, v) in enumerate(zip(labels, series[name], strict=True))
        )
        for name in names
    )
    head, tail = _open(width, height, title, description or "no data")
    parts = [head, _text(10, 20, title, size=14, weight="bold")]
    for tick in range(5):  # horizontal grid with values
        tick_value = scale_max * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, y + 4, value_format(tick_value), anchor="end", size=11))
    step = plot_w / max(len(labels) - 1, 1)
    every = max(1, len(labels) // 8)  # keep axis labels from overlapping
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            parts.append(_text(left + i * step, height - bottom + 18, _truncate(label, 10), anchor="middle", size=11))
    x = left
    for k, name in enumerate(names):
        color = PALETTE[k % len(PALETTE)]
        parts.append(f'<rect x="{x}" y="30" width="12" height="12" fill="{color}"/>')
        parts.append(_text(x + 16, 40, name))
        x += 30 + 7 * len(name)
        runs: list[list[tuple[float, float]]] = [[]]
        labelled = point_labels is not None and name in point_labels
        for i, value in enumerate(series[name]):
            if value is None:
                runs.append([])
                if labelled:
                    foot = top + plot_h - 6 - 12 * k
                    parts.append(_text(left + i * step, foot, shown(name, i, None), anchor="middle", size=10))
                continue
            point = (left + i * step, top + plot_h - plot_h * min(value / scale_max, 1.0))
            runs[-1].append(point)
            if labelled:
                parts.append(_text(point[0], point[1] - 7, shown(name, i, value), anchor="middle", size=10))
        for run in runs:
            if len(run) > 1:
                points = " ".join(f"{px:.1f},{py:.1f}" for px, py in run)
                parts.append(f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="2"/>')
            for px, py in run:
                parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{color}"/>')
    if not labels:
        parts.append(_text(left + 8, top + 20, "No data for this period."))
    parts.append(tail)
    return "".join(parts)


def grouped_bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Mapping[str, Sequence[float | None]],
    value_format: Formatter = whole,
    y_max: float | None = None,
    width: int = 640,
    height: int = 250,
    point_labels: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Vertical bars grouped by label (periods, categories), one bar per series, each
    with its figure printed above it. A None draws no bar; its `point_labels` text
    (e.g. "<11") or "no data" is printed at the baseline instead, so a withheld
    value is never implied by a drawing."""
    names = list(series)
    for name in names:
        if len(series[name]) != len(labels):
            raise ValueError(f"series {name!r} does not have one value per label")
        if point_labels is not None and len(point_labels.get(name, labels)) != len(labels):
            raise ValueError(f"point labels of {name!r} do not have one entry per label")

    def shown(name: str, i: int, v: float | None) -> str:
        if point_labels is not None and name in point_labels:
            return point_labels[name][i]
        return "no data" if v is None else value_format(v)

    left, right, top, bottom = 56, 12, 54 if len(names) > 1 else 34, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    present = [v for name in names for v in series[name] if v is not None]
    scale_max = y_max if y_max is not None else max(present or [1.0])
    scale_max = scale_max or 1.0
    description = "; ".join(
        f"{name}: "
        + ", ".join(
            f"{label} {shown(name, i, v)}" for i, (label, v) in enumerate(zip(labels, series[name], strict=True))
        )
        for name in names
    )
    head, tail = _open(width, height, title, description or "no data")
    parts = [head, _text(10, 20, title, size=14, weight="bold")]
    for tick in range(5):
        tick_value = scale_max * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(_text(left - 6, y + 4, value_format(tick_value), anchor="end", size=11))
    if len(names) > 1:
        x: float = left
        for k, name in enumerate(names):
            parts.append(f'<rect x="{x}" y="30" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>')
            parts.append(_text(x + 16, 40, name))
            x += 30 + 7 * len(name)
    group_w = plot_w / max(len(labels), 1)
    bar_w = min(42.0, group_w * 0.7 / max(len(names), 1))
    baseline = top + plot_h
    for i, label in enumerate(labels):
        group_x = left + group_w * i + (group_w - bar_w * len(names)) / 2
        for k, name in enumerate(names):
            value = series[name][i]
            x = group_x + bar_w * k
            if value is None:
                parts.append(_text(x + bar_w / 2, baseline - 5, shown(name, i, None), anchor="middle", size=10))
                continue
            bar_h = plot_h * min(max(value, 0.0) / scale_max, 1.0)
            parts.append(
                f'<rect x="{x + 1:.1f}" y="{baseline - bar_h:.1f}" width="{bar_w - 2:.1f}" height="{bar_h:.1f}" '
                f'fill="{PALETTE[k % len(PALETTE)]}"/>'
            )
            parts.append(_text(x + bar_w / 2, baseline - bar_h - 4, shown(name, i, value), anchor="middle", size=10))
        parts.append(_text(left + group_w * (i + 0.5), height - 10, _truncate(label, 14), anchor="middle", size=11))
    if not labels:
        parts.append(_text(left + 8, top + 20, "No data for this period."))
    parts.append(tail)
    return "".join(parts)
