"""A small server-rendered SVG line chart for a client's outcome scores over time.

Kept deliberately tiny; switch to reports/charts.py once that shared chart module exists."""

from __future__ import annotations

from datetime import date

from django.utils.html import escape


def score_line_svg(
    points: list[tuple[date, int]], *, y_min: int, y_max: int, title: str, width: int = 560, height: int = 220
) -> str:
    """Scores (y) against administration dates (x); no JavaScript, no inline CSS."""
    left, right, top, bottom = 44, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#555"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#555"/>',
    ]
    span = max(y_max - y_min, 1)

    def y_of(value: float) -> float:
        return top + plot_h - (value - y_min) / span * plot_h

    for tick in sorted({y_min, y_min + span // 2, y_max}):
        y = y_of(tick)
        parts.append(f'<line x1="{left - 4}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{tick}</text>')
    if points:
        first, last = points[0][0], points[-1][0]
        days = max((last - first).days, 1)

        def x_of(day: date) -> float:
            return left + (plot_w / 2 if first == last else (day - first).days / days * plot_w)

        coords = [(x_of(d), y_of(v)) for d, v in points]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f5f8b" stroke-width="2"/>')
        for (x, y), (day, value) in zip(coords, points, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1f5f8b">'
                f"<title>{day.isoformat()}: {value}</title></circle>"
            )
        labels = [(coords[0][0], first, "start" if first != last else "middle")]
        if first != last:
            labels.append((coords[-1][0], last, "end"))
        for x, day, anchor in labels:
            parts.append(
                f'<text x="{x:.1f}" y="{height - 12}" text-anchor="{anchor}" font-size="12">{day.isoformat()}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
