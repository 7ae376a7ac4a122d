"""Benchmark: the coordinator's continuity page (/reports/continuity/<program>/).

    DATABASE_URL=postgres://... python bench/continuity_page.py [--slug state-network-1] [--runs 5]

Signs in the program's coordinator (`bench-coordinator` of the large network, else the first
coordinator of the program) through Django's test client (the whole middleware stack, the
second factor waived) and times the page: the default period (served from the program's
snapshot when one is stored, reports.snapshots) and a custom period (always computed live).
Prints one JSON object: median and each run's seconds, and the snapshot's age.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slug", default="state-network-1")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--refresh", action="store_true", help="store the program's snapshot first (timed)")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.bench")
    import django

    django.setup()
    from django.test import Client as WebClient
    from django.test.utils import override_settings
    from django.urls import reverse

    from core.models import Membership, Program, Role

    program = Program.objects.get(slug=args.slug)
    coordinator = (
        Membership.objects.filter(program=program, role=Role.COORDINATOR)
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    if coordinator is None:
        raise SystemExit(f"{args.slug} has no coordinator")
    out: dict[str, object] = {"program": args.slug, "coordinator": coordinator.user.username}
    try:
        snapshots = importlib.import_module("reports.snapshots")
    except ImportError:  # a checkout before the snapshots
        snapshots = None
    if args.refresh and snapshots is not None:
        began = time.perf_counter()
        snapshots.continuity_snapshot_refresh(program=program)
        out["refresh_seconds"] = round(time.perf_counter() - began, 3)
    url = reverse("continuity-dashboard", args=[program.pk])
    today = program.local_today()
    from reports.forms import ContinuityForm

    # Every field of the form, the defaults but the period: the last 60 days before today.
    custom = {key: str(value) for key, value in ContinuityForm.defaults(today).items()}
    custom.update(start=str(today - timedelta(days=60)), end=str(today - timedelta(days=1)))
    with override_settings(MFA_REQUIRED=False, ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False):
        web = WebClient()
        web.force_login(coordinator.user)
        for label, query in (("default period", {}), ("custom period (live)", custom)):
            seconds = []
            for _ in range(args.runs):
                began = time.perf_counter()
                response = web.get(url, query)
                seconds.append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise SystemExit(f"{label}: HTTP {response.status_code}")
            out[label] = {"median_s": round(statistics.median(seconds), 3), "runs_s": [round(s, 3) for s in seconds]}
            out[f"{label}: served from snapshot"] = b"data-snapshot-age" in response.content
            if b"summary-heading" not in response.content:
                raise SystemExit(f"{label}: the page shows no report (a form error?)")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
