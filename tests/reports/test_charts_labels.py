"""The per-point labels the funder PDF needs ("<11", "*") on the shared SVG charts."""

from __future__ import annotations

import re

from core import charts


def test_a_suppressed_bar_is_named_by_its_label_and_not_drawn():
    svg = charts.bar_chart(
        title="Contacts by modality", labels=["In person", "Video"], values=[63, None], value_labels=["63", "<11"]
    )
    assert svg.count('<rect x="150"') == 1  # only the shown value has a bar
    assert "&lt;11" in svg and "no data" not in svg
    assert "Video: &lt;11" in svg  # the screen-reader description says the same


def test_bar_chart_without_value_labels_is_unchanged():
    plain = charts.bar_chart(title="T", labels=["a", "b"], values=[2.0, None])
    assert "no data" in plain and "2.0" in plain


def test_grouped_bars_draw_shown_values_and_print_labels_for_hidden_ones():
    svg = charts.grouped_bar_chart(
        title="Clients by period",
        labels=["Q1", "Q2"],
        series={"Enrolled": [24, None], "New": [0, 12]},
        point_labels={"Enrolled": ["24", "<11"], "New": ["0", "12"]},
    )
    found = re.findall(r'<rect x="[\d.]+" y="([\d.]+)" width="[\d.]+" height="([\d.]+)" fill="#', svg)
    bars = [height for y, height in found if y != "30"]  # y=30 is the legend's swatches
    assert len(bars) == 3  # Enrolled Q1, New Q1 (height 0), New Q2; the hidden value has none
    assert sorted(float(h) for h in bars)[0] == 0.0
    assert "&lt;11" in svg and "Enrolled: Q1 24, Q2 &lt;11" in svg


def test_line_chart_point_labels_mark_a_hidden_rate_where_the_line_breaks():
    svg = charts.line_chart(
        title="Rates",
        labels=["Q1", "Q2", "Q3"],
        series={"Gap coverage": [0.5, None, 0.75]},
        point_labels={"Gap coverage": ["50%", "*", "75%"]},
        value_format=charts.percent,
        y_max=1.0,
    )
    assert "<polyline" not in svg  # no line is drawn across the hidden period
    assert svg.count("<circle") == 2
    assert ">*</text>" in svg and ">50%</text>" in svg
    unlabelled = charts.line_chart(title="Rates", labels=["Q1", "Q2"], series={"r": [0.5, 0.6]})
    assert ">0.5</text>" not in unlabelled  # without point_labels no per-point text (existing behaviour)
