"""Benchmark: render the funder PDF of the demo program.

    .venv/bin/python bench/funder_pdf.py [--runs 5]

Builds a throwaway SQLite database (migrate + seed_demo + extra history), computes
the figures of the last complete quarter, renders the PDF `--runs` times, each in
its own child process, and reports pages, charts, render seconds and the child's
peak memory (ru_maxrss). Target: 12 pages and 6 charts in <= 3 s and <= 300 MB.
Also reports the parent's RSS before and after, to show it does not grow.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def current_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", help="write the last PDF here")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="funder-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir}/bench.sqlite3"
    os.environ["MEDIA_ROOT"] = f"{workdir}/media"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    import logging

    import django

    django.setup()
    logging.getLogger("weasyprint").setLevel(logging.WARNING)
    from django.core.management import call_command

    from core.models import Program
    from reports.funder.figures import funder_figures
    from reports.funder.pdf import chart_specs, render_html, render_pdf
    from reports.funder.periods import last_complete

    call_command("migrate", verbosity=0)
    call_command("seed_demo", password=secrets.token_urlsafe(16), stdout=open(os.devnull, "w"))  # noqa: SIM115
    program = Program.objects.get(slug="riverside-peer")
    period = last_complete("quarter", program.local_today())

    started = time.perf_counter()
    figures = funder_figures(program, period)
    figures_seconds = time.perf_counter() - started
    html = render_html(figures, generated_on=program.local_today().isoformat())
    charts = sum(len(v) for v in chart_specs(figures).values())

    parent_before = current_rss_mb()
    runs = []
    for _ in range(args.runs):
        wall = time.perf_counter()
        rendered = render_pdf(html)
        runs.append(
            {
                "wall_seconds": round(time.perf_counter() - wall, 3),
                "render_seconds": round(rendered.seconds, 3),
                "render_cpu_seconds": round(rendered.cpu_seconds, 3),
                "peak_rss_mb": round(rendered.peak_rss_mb, 1),
                "pages": rendered.pages,
            }
        )
    parent_after = current_rss_mb()
    if args.keep:
        Path(args.keep).write_bytes(rendered.pdf)
    result = {
        "period": figures["period"]["label"],
        "sections": [s["key"] for s in figures["sections"]],
        "charts": charts,
        "pages": runs[-1]["pages"],
        "figures_seconds": round(figures_seconds, 3),
        "runs": runs,
        "median_wall_seconds": round(statistics.median(r["wall_seconds"] for r in runs), 3),
        "median_render_cpu_seconds": round(statistics.median(r["render_cpu_seconds"] for r in runs), 3),
        "max_peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
        "parent_rss_mb_before": round(parent_before, 1),
        "parent_rss_mb_after": round(parent_after, 1),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(result, indent=2))
    within = result["median_wall_seconds"] <= 3.0 and result["max_peak_rss_mb"] <= 300
    print(
        f"target (<= 3 s, <= 300 MB): {'met' if within else 'NOT met'}; "
        f"pages {result['pages']} (target 12), charts {charts} (target 6)"
    )


if __name__ == "__main__":
    main()
