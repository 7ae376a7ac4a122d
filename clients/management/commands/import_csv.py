"""python manage.py import_csv --program SLUG KIND FILE [--dry-run]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from base.importing import KINDS, import_csv_file
from core.models import Program


class Command(BaseCommand):
    help = "Import one CSV file (all or nothing) as docs/spec/import-formats.md describes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--program", required=True, help="program slug")
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("file", type=Path)
        parser.add_argument("--dry-run", action="store_true", help="validate and count, change nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        program = Program.objects.filter(slug=options["program"]).first()
        if program is None:
            raise CommandError(f"No program with slug {options['program']!r}.")
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        result = import_csv_file(
            program=program, kind=options["kind"], data=data, dry_run=options["dry_run"], via="command"
        )
        if not result.ok:
            for error in result.errors:
                self.stderr.write(error.message)
            raise CommandError(f"{len(result.errors)} error(s); nothing was imported.")
        prefix = "dry run, nothing saved: would have " if result.dry_run else ""
        self.stdout.write(
            f"{prefix}created {result.created}, updated {result.updated}, unchanged {result.unchanged} "
            f"({result.rows} rows)"
        )
