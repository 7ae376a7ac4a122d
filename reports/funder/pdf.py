"""Render de-identified figures to a tagged PDF with WeasyPrint.

The HTML is built from the figures only (never from records), so nothing the
figures do not hold can reach the PDF. Rendering runs in a child process that
exits after one document, so the memory WeasyPrint takes (fonts, layout) is
returned to the system every time: the worker that asks for a PDF does not grow.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import resource
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils.safestring import mark_safe

# Imported here (code only, no rendering) so forked render processes start with
# WeasyPrint already loaded instead of importing it again each time.
from weasyprint import CSS, HTML

from clients.characteristics import CHARACTERISTICS
from core import charts
from reports.equity import RATES, categories, question
from reports.equity import key as equity_key
from reports.funder.suppression import COMPLEMENTARY, NO_DATA_LABEL, SMALL

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

CSS_PATH = Path(settings.BASE_DIR) / "templates" / "reports" / "funder" / "report.css"
NEUTRAL_AUTHOR = "Peer Support Program Manager"


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    pages: int
    peak_rss_mb: float
    seconds: float
    cpu_seconds: float  # the child's user + system time: the work itself, whatever else the machine runs


def before_start(figures: dict[str, Any]) -> list[bool]:
    """Per trend period: whether it ended before the program's first enrolment (its figures are
    zeros that say nothing). Figures made before `program.started_on` was recorded: none."""
    started = figures["program"].get("started_on")
    ranges = figures["trends"].get("ranges") or []
    if not started or len(ranges) != len(figures["trends"]["periods"]):
        return [False] * len(figures["trends"]["periods"])
    return [end < started for _start, end in ranges]


def _series(figures: dict[str, Any], *keys_and_names: tuple[str, str]) -> tuple[dict, dict]:
    """Values and their display labels ("<11", "*") per series name, for core.charts; periods
    before the program started are left blank."""
    series: dict[str, list] = {}
    labels: dict[str, list[str]] = {}
    trends = figures["trends"]
    before = before_start(figures)
    for key, name in keys_and_names:
        if key not in trends["series"]:
            continue
        series[name] = [None if b else v for b, v in zip(before, trends["series"][key], strict=True)]
        labels[name] = ["" if b else d for b, d in zip(before, trends["display"][key], strict=True)]
    return series, labels


def chart_specs(figures: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The charts of each section, built with core.charts from de-identified values."""
    periods = figures["trends"]["periods"]
    out: dict[str, list[dict[str, Any]]] = {}

    before = before_start(figures)
    if any(before):
        first = next(i for i, b in enumerate(before) if not b) if not all(before) else len(before)
        not_started = f" Periods before the program's first enrolment ({', '.join(periods[:first])}) are left blank."
    else:
        not_started = ""

    def add(section: str, title: str, svg: str, caption: str, series: dict | None = None) -> None:
        if series is not None and not drawable(series):
            # A chart with nothing to show says so in a sentence instead.
            sentence = (
                f"{title}: nothing to draw, as every value is zero, hidden or missing; the tables give each figure."
            )
            out.setdefault(section, []).append({"title": title, "svg": None, "sentence": sentence})
            return
        # core.charts escapes every text it writes into the SVG.
        chart = {"title": title, "svg": mark_safe(svg), "caption": caption + not_started}  # noqa: S308
        out.setdefault(section, []).append(chart)

    def drawable(series: dict) -> bool:
        # A chart where every value is hidden or missing says nothing; the tables carry the labels.
        return any(v for values in series.values() for v in values)

    series, labels = _series(figures, ("clients_enrolled", "Enrolled"), ("clients_new", "New"))
    title = "Clients enrolled and new clients, by period"
    add(
        "overview",
        title,
        charts.grouped_bar_chart(title=title, labels=periods, series=series, point_labels=labels),
        "Counts from 1 to 10 are shown as <11 and not drawn.",
        series,
    )

    sections = {s["key"]: s for s in figures["sections"]}
    if "services" in sections:
        modality = next(t for t in sections["services"]["tables"] if t["title"] == "Contacts by modality")
        title = f"Peer contacts by modality, {figures['period']['label']}"
        add(
            "services",
            title,
            charts.bar_chart(
                title=title,
                labels=[r["label"] for r in modality["rows"]],
                values=[r["value"] for r in modality["rows"]],
                value_labels=[r["display"] for r in modality["rows"]],
                value_format=charts.whole,
            ),
            "Completed attendances by how the session was held.",
        )
        series, labels = _series(figures, ("contacts_one_to_one", "One-to-one"), ("contacts_group", "Group"))
        title = "Peer contacts in one-to-one and group sessions, by period"
        add(
            "services",
            title,
            charts.grouped_bar_chart(
                title=title,
                labels=periods,
                series=series,
                point_labels=labels,
            ),
            "* marks a figure hidden to protect a small count elsewhere.",
            series,
        )
        series, labels = _series(figures, ("peer_support_hours", "Hours"))
        title = "Peer support hours, by period"
        add(
            "services",
            title,
            charts.line_chart(
                title=title,
                labels=periods,
                series=series,
                point_labels=labels,
                height=220,
            ),
            "Summed duration of sessions with a contact.",
            series,
        )
    if "continuity" in sections:
        series, labels = _series(
            figures,
            ("gap_coverage_rate", "Gap coverage"),
            ("followup_7d_rate", "7-day follow-up"),
            ("followup_30d_rate", "30-day follow-up"),
        )
        title = "Gap coverage and follow-up rates, by period"
        add(
            "continuity",
            title,
            charts.line_chart(
                title=title,
                labels=periods,
                series=series,
                point_labels=labels,
                value_format=charts.percent,
                y_max=1.0,
            ),
            "Follow-up is the HEDIS-aligned peer follow-up (see the appendix). "
            "Rates are hidden (*) when their numerator or denominator is.",
            series,
        )
        series, labels = _series(
            figures,
            ("adherence_rate_with_recent_peer_contact", "With recent peer contact"),
            ("adherence_rate_without_recent_peer_contact", "Without"),
        )
        title = "Appointment adherence with and without a recent peer contact"
        add(
            "continuity",
            title,
            charts.grouped_bar_chart(
                title=title,
                labels=periods,
                series=series,
                point_labels=labels,
                value_format=charts.percent,
                y_max=1.0,
            ),
            f"Peer contact within {figures['params']['adherence_lookback_days']} days before the appointment.",
            series,
        )

    def counts_by_period(section: str, title: str, keys: tuple[tuple[str, str], ...], caption: str) -> None:
        series, labels = _series(figures, *keys)
        if section in sections:
            add(
                section,
                title,
                charts.grouped_bar_chart(
                    title=title,
                    labels=periods,
                    series=series,
                    point_labels=labels,
                    height=220,
                ),
                caption,
                series,
            )

    counts_by_period(
        "outcomes",
        "BARC-10 re-measures, improvements and recovery goals met, by period",
        (
            ("outcome_clients_followed", "Clients re-measured"),
            ("outcome_improved", "Improved"),
            ("goals_achieved", "Goals met"),
        ),
        "Counts from 1 to 10 are shown as <11 and not drawn.",
    )
    counts_by_period(
        "feedback",
        "Feedback items sent and acknowledged in time, by period",
        (("feedback_sent", "Sent"), ("feedback_ack_on_time", "Acknowledged within the deadline")),
        "Deadlines are set by the program for each urgency.",
    )
    counts_by_period(
        "workforce",
        "Peer supporters active, certified and supervised as required, by period",
        (
            ("supporters_active", "Active"),
            ("supporters_certified", "Certified"),
            ("supporters_supervision_met", "Met supervision requirement"),
        ),
        "Certification current on the period's last day; supervision over the whole period.",
    )
    return out


HEADLINE_KEYS = (
    ("clients_enrolled", "Clients enrolled"),
    ("peer_contacts", "Peer contacts"),
    ("peer_support_hours", "Peer support hours"),
    ("gap_coverage_rate", "Gap coverage"),
    ("followup_7d_rate", "HEDIS-aligned peer follow-up, 7 days"),
    ("adherence_rate", "Appointment adherence"),
    ("billing_units", "H0038 billing units"),
    ("feedback_on_time_rate", "Feedback acknowledged in time"),
    ("goals_achieved", "Recovery goals met"),
)


TREND_KEYS = (
    "clients_enrolled",
    "clients_new",
    "clients_discharged",
    "peer_contacts",
    "peer_sessions",
    "peer_support_hours",
    "billing_units",
    "gap_coverage_rate",
    "followup_7d_rate",
    "followup_30d_rate",
    "adherence_rate",
    "outcome_improved_rate",
    "goals_achieved",
    "feedback_sent",
    "feedback_on_time_rate",
    "median_hours_to_acknowledgment",
    "supporters_active",
    "supervision_requirement_met",
)


def equity_matrices(cells: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The "Who is served" tables as one compact matrix per characteristic: a row per category,
    a column per measure (the same cells as the figures object's rows, printed once each)."""
    measures = ("clients_enrolled", *(rate for rate, *_ in RATES))
    return [
        {
            "title": question(characteristic),
            "rows": [
                {"label": label, "cells": [cells[equity_key(characteristic, code, m)] for m in measures]}
                for code, label in categories(characteristic)
                if equity_key(characteristic, code, "clients_enrolled") in cells
            ],
        }
        for characteristic in CHARACTERISTICS
    ]


# What a headline tile says under a value it may not print: never a bare symbol.
TILE_NOTES = {
    SMALL: "Fewer than 11: hidden to protect privacy",
    COMPLEMENTARY: "Hidden so that a small count cannot be worked out",
}


def _tile_note(cell: dict[str, Any]) -> str:
    if cell["status"] in TILE_NOTES:
        return TILE_NOTES[cell["status"]]
    return "Nothing to count in this period" if cell["display"] == NO_DATA_LABEL else ""


def report_context(figures: dict[str, Any], *, generated_on: str) -> dict[str, Any]:
    """What the report's pages print, from the figures object alone: the PDF and the funders'
    web page render the same context (templates reports/funder/report.html and page.html)."""
    cells = {row["key"]: row for s in figures["sections"] for t in s["tables"] for row in t["rows"]}
    # Periods before the program's first enrolment are named in a sentence, not printed as zeros.
    before = before_start(figures)
    trend_periods = [p for p, b in zip(figures["trends"]["periods"], before, strict=True) if not b]
    not_started = [p for p, b in zip(figures["trends"]["periods"], before, strict=True) if b]
    trend_rows = [
        {
            "label": cells[key]["label"],
            "cells": [d for d, b in zip(figures["trends"]["display"][key], before, strict=True) if not b],
        }
        for key in TREND_KEYS
        if key in cells and key in figures["trends"]["display"]
    ]
    headlines = [
        {"label": name, "display": cells[key]["display"], "note": _tile_note(cells[key])}
        for key, name in HEADLINE_KEYS
        if key in cells
    ]
    specs = chart_specs(figures)
    sections = [
        {
            **section,
            "charts": specs.get(section["key"], []),
            "matrices": equity_matrices(cells) if section["key"] == "equity" else [],
        }
        for section in figures["sections"]
    ]
    return {
        "figures": figures,
        "sections": sections,
        "headlines": headlines,
        "trend_rows": trend_rows,
        "trend_periods": trend_periods,
        "not_started_periods": not_started,
        "generated_on": generated_on,
        "author": NEUTRAL_AUTHOR,
        "chart_count": sum(1 for v in specs.values() for chart in v if chart["svg"]),
        "equity_columns": ["Clients enrolled", *(title for *_, title in RATES)],
    }


# The program's paper (core.models.Program.paper_size): the CSS page size and the cover's height.
PAPER = {"letter": {"size": "letter", "height": "279.4mm"}, "a4": {"size": "A4", "height": "297mm"}}


def render_html(figures: dict[str, Any], *, generated_on: str) -> str:
    paper = PAPER[figures["program"].get("paper_size", "a4")]  # reports made before the setting: A4
    context = {**report_context(figures, generated_on=generated_on), "paper": paper}
    return render_to_string("reports/funder/report.html", context)


def _die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel kills this child when the worker that forked it dies (a killed worker
    leaves no renderer behind, holding a copy of its database socket)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)


def _render_in_child(html: str, connection: Connection, parent_end: Connection, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    parent_end.close()  # else a dead parent leaves this child the only reader, blocked on send
    started = time.perf_counter()
    at_start = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at_start = at_start.ru_utime + at_start.ru_stime
    document = HTML(string=html, base_url=str(CSS_PATH.parent)).render(stylesheets=[CSS(filename=str(CSS_PATH))])
    pdf = document.write_pdf(pdf_tags=True, pdf_identifier=b"funder-report")
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime - cpu_at_start
    connection.send((pdf, len(document.pages), usage.ru_maxrss / 1024.0, seconds, cpu))
    connection.close()


def render_pdf(html: str) -> Rendered:
    """Render in a fresh child process (recycled after every document)."""
    # fork: the child shares the already-imported code and starts in milliseconds;
    # it touches no database connection, only the HTML string.
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_render_in_child, args=(html, sender, receiver, os.getpid()), daemon=True)
    child.start()
    sender.close()
    try:
        pdf, pages, peak, seconds, cpu = receiver.recv()
    except EOFError as exc:
        child.join()
        raise RuntimeError(f"PDF rendering failed (exit code {child.exitcode}).") from exc
    child.join()
    return Rendered(pdf=pdf, pages=pages, peak_rss_mb=peak, seconds=seconds, cpu_seconds=cpu)
