"""python manage.py create_program SLUG --name "..." --timezone America/New_York [--organization SLUG]"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from base.services import program_create
from core.exceptions import messages_by_field
from core.models import Organization, Program


class Command(BaseCommand):
    help = "Create a program (the first step before importing its CSV files)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument("--timezone", required=True, help="IANA zone, e.g. America/New_York")
        parser.add_argument(
            "--organization", help="slug of an existing organization (default: one named after the program)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organization = None
        if options["organization"]:
            organization = Organization.objects.filter(slug=options["organization"]).first()
            if organization is None:
                raise CommandError(f"No organization with slug {options['organization']!r}.")
        if Program.objects.filter(slug=options["slug"]).exists():
            raise CommandError(f"A program with slug {options['slug']!r} already exists.")
        try:
            program = program_create(
                slug=options["slug"], name=options["name"], timezone=options["timezone"], organization=organization
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in messages_by_field(exc).items())) from exc
        self.stdout.write(f"Created program {program.slug} ({program.timezone}).")
