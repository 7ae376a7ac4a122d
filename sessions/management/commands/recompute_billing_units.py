"""Recompute H0038 units for every attendance of a program (or all programs), e.g. after a
bulk import that wrote sessions without sessions.services, or after changing a program's rule."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from core.models import Program
from sessions.billing import billing_recompute
from sessions.models import Attendance


class Command(BaseCommand):
    help = "Recompute billing units of all attendances, per program and local day."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--program", help="Program slug (default: every program)")

    def handle(self, *args: Any, **options: Any) -> None:
        programs = Program.objects.all()
        if options["program"]:
            programs = programs.filter(slug=options["program"])
        for program in programs:
            rows = Attendance.objects.filter(session__program=program).values_list("client_id", "session__start")
            client_ids, days = set(), set()
            for client_id, start in rows.iterator():
                client_ids.add(client_id)
                days.add(start.astimezone(program.tzinfo).date())
            with transaction.atomic():
                billing_recompute(program=program, client_ids=client_ids, days=days)
            self.stdout.write(f"{program.slug}: recomputed {len(days)} day(s) for {len(client_ids)} client(s).")
